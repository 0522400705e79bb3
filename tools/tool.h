/*
 * tool.h -- what the files of the sma command share.
 *
 * The command is a thin client of the public library: it uses include/sma.h
 * and libc, nothing of src/.  sma.c parses the command line and names the
 * arena; format.c turns numbers into text (sizes, keys, JSON); the cmd_*.c
 * files hold the commands, one group of related commands per file.
 */
#ifndef SMA_TOOL_H
#define SMA_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sma.h"

/* Exit statuses of the command. */
enum {
	EXIT_OK = 0,	  /* success */
	EXIT_PROBLEMS = 1, /* check found an inconsistency */
	EXIT_FAIL = 2,	  /* a usage error or a failure */
};

/* Options a command may accept (a bit mask per command). */
enum {
	OPT_KEY = 1 << 0,      /* --key KEY */
	OPT_ID = 1 << 1,       /* --id SHMID */
	OPT_JSON = 1 << 2,     /* -j, --json */
	OPT_SIZE = 1 << 3,     /* --size SIZE */
	OPT_MODE = 1 << 4,     /* --mode MODE */
	OPT_ALL = 1 << 5,      /* --all */
	OPT_ASCII = 1 << 6,    /* --ascii */
	OPT_SVG = 1 << 7,      /* --svg FILE */
	OPT_ORPHANS = 1 << 8,  /* --orphans */
	OPT_FORCE = 1 << 9,    /* --force */
	OPT_PATH = 1 << 10,    /* a PATH operand */
	OPT_IMAGE = 1 << 11,   /* --image FILE, instead of an arena */
	OPT_INTERVAL = 1 << 12, /* --interval SECONDS */
	OPT_COUNT = 1 << 13,   /* --count N */
	OPT_FILE = 1 << 14,    /* a FILE operand after the arena */
	OPT_LIMIT = 1 << 15,   /* --limit SIZE */
	OPT_ARG = 1 << 16,     /* an optional operand after the arena (SIZE) */
	OPT_TARGET = OPT_PATH | OPT_KEY | OPT_ID,
};

/* The command line, parsed. */
struct opts {
	const char *path;  /* PATH operand, NULL if none */
	int has_key;	   /* --key given */
	key_t key;	   /* its value */
	int has_id;	   /* --id given */
	int id;		   /* its value */
	int json, all, ascii, orphans, force;
	int has_size;	   /* --size given */
	size_t size;	   /* bytes */
	int has_mode;	   /* --mode given */
	mode_t mode;	   /* permission bits */
	const char *svg;   /* --svg FILE, "-" for standard output */
	const char *image; /* --image FILE: a saved image, not an arena */
	const char *file;  /* the FILE operand (sma save) */
	int has_interval;  /* --interval given */
	double interval;   /* seconds between two lines, > 0 */
	int has_limit;	   /* --limit given */
	size_t limit;	   /* its bytes */
	int has_count;	   /* --count given */
	unsigned long count; /* lines to print, > 0 */
};

/* One command of the table in sma.c. */
struct cmd {
	const char *name;
	int (*run)(const struct cmd *c, const struct opts *o);
	unsigned allowed;    /* OPT_* it accepts */
	const char *synopsis; /* operands and options, for the usage line */
	const char *summary;  /* one line, for sma --help */
	const char *help;     /* the rest of sma CMD --help */
};

/* ---- sma.c: naming and opening the arena ---- */

/* Prints "sma: CMD: message" and a newline on standard error. */
void fail(const struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Describes the arena o names, as "PATH", "key 0x..." or "shmid N". */
const char *target_name(const struct opts *o);

/* "arena PATH", "private arena" or "arena", to head an output; "image
 * FILE" for --image. */
const char *arena_label(const struct opts *o, key_t key);
/* The first line of an output: "arena PATH  key 0x...  shmid N", or
 * "image FILE" (an image has neither key nor shmid). */
const char *arena_heading(const struct opts *o, sma_t *a);

/* The key of the arena o names by PATH or --key; -1 with errno if the
 * path cannot be turned into a key (for --id: the key from IPC_STAT). */
int target_key(const struct opts *o, key_t *key);

/* The segment id of the arena o names, without attaching; -1 with errno. */
int target_shmid(const struct opts *o);

/* Opens the arena o names with flags (SMA_RDONLY, ...), or the image of
 * --image (read-only whatever flags say); on failure prints why and returns
 * NULL. */
sma_t *open_target(const struct cmd *c, const struct opts *o, int flags);
/* Opens the target read-only and reads its figures (in may be NULL);
 * NULL, with the message given, when either fails. */
sma_t *open_figures(const struct cmd *c, const struct opts *o, struct sma_stats *st,
		    struct sma_info *in);

/* ---- format.c: numbers as text ---- */

/* "512 B", "12.5 MiB": powers of 1024, one decimal unless it is whole. */
const char *fmt_size(char buf[32], uint64_t bytes);
/* "0x53001234", as ipcs prints keys. */
const char *fmt_key(char buf[16], key_t key);
/* "2024-11-22 13:49:01 +0100", or "never" for 0. */
const char *fmt_time(char buf[40], int64_t t);
/* "rw-r----- (0640)" */
const char *fmt_mode(char buf[24], mode_t mode);
/* "name (1000)" or "1000" when the id has no name. */
const char *fmt_user(char buf[64], uid_t uid);
const char *fmt_group(char buf[64], gid_t gid);
/* strerror(err) with a lower-case first letter, as every message of the
 * tool is written ("no such file or directory"). */
const char *errstr(int err);
/* Why a walk or check failed, for a person: EBADMSG is "the arena is
 * inconsistent". */
const char *why(int err);
/* Percentage of part in whole, 0 when whole is 0. */
double percent(uint64_t part, uint64_t whole);
/* one when n is 1, many otherwise: "1 live object", "2 live objects". */
const char *plural(uint64_t n, const char *one, const char *many);

/* The columns the output may use: 80, or more when standard output is a
 * terminal that wide (TIOCGWINSZ) or COLUMNS says so. */
int out_width(void);
/* 1 when the locale's character set is UTF-8 (nl_langinfo(CODESET)). */
int utf8_locale(void);

/* "64M" -> 67108864 (K, M, G, T: powers of 1024; an optional B or iB). */
int parse_size(const char *s, size_t *out);
/* Seconds, a decimal number such as 1 or 0.5, above 0 and at most a day. */
int parse_seconds(const char *s, double *out);
/* A decimal number from 1 to ULONG_MAX. */
int parse_count(const char *s, unsigned long *out);
/* 0x-hex, or decimal signed or unsigned, within 32 bits. */
int parse_key(const char *s, key_t *out);
/* A non-negative decimal int. */
int parse_int(const char *s, int *out);
/* Octal permission bits, at most 0777. */
int parse_mode(const char *s, mode_t *out);

/* Writes name to f as a person reads it: bytes that are not printable
 * are written as \xHH. */
void put_name(FILE *f, const char *name);

/* A small JSON writer: one value at a time, indentation by nesting, and
 * containers opened "inline" written on one line. */
#define JSON_MAX_DEPTH 8
struct json {
	FILE *f;
	int depth;			     /* open containers */
	unsigned char count[JSON_MAX_DEPTH]; /* a member written at this level */
	unsigned char inl[JSON_MAX_DEPTH];   /* this level is inline */
	char close[JSON_MAX_DEPTH];	     /* '}' or ']' */
};
void json_init(struct json *j, FILE *f);
void json_obj(struct json *j, const char *key, int inl);  /* { */
void json_arr(struct json *j, const char *key, int inl);  /* [ */
void json_end(struct json *j);				  /* } or ] */
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, int v);
void json_str(struct json *j, const char *key, const char *s);
void json_dbl(struct json *j, const char *key, double v);
void json_finish(struct json *j); /* the final newline */

/* ---- the commands ---- */

int cmd_create(const struct cmd *c, const struct opts *o);
int cmd_info(const struct cmd *c, const struct opts *o);
int cmd_stats(const struct cmd *c, const struct opts *o);
int cmd_save(const struct cmd *c, const struct opts *o);
int cmd_dump(const struct cmd *c, const struct opts *o);
int cmd_map(const struct cmd *c, const struct opts *o);
int cmd_check(const struct cmd *c, const struct opts *o);
int cmd_recover(const struct cmd *c, const struct opts *o);
int cmd_ls(const struct cmd *c, const struct opts *o);
int cmd_rm(const struct cmd *c, const struct opts *o);
int cmd_limit(const struct cmd *c, const struct opts *o);

/* The segment of an offset: its top bits (the library's layout). */
#define SEG_SHIFT 40

/* ---- cmd_watch.c: sma stats --interval ---- */

/* One line per interval, like vmstat; the arena a is open read-only. */
int stats_watch(const struct cmd *c, const struct opts *o, sma_t *a);

/* ---- cmd_save.c: images of a segment ---- */

/* Opens the image in file (sma_open_image); NULL with errno. */
sma_t *image_open(const char *file);

/* ---- walk.c: what sma_walk and sma_named_each give, gathered ---- */

/* The names of the named objects, sorted by offset. */
struct names {
	struct name_ent {
		sma_off_t off;
		char name[SMA_NAME_MAX + 1];
	} *v;
	size_t n, cap;
};
/* Fills n from sma_named_each; -1 with errno on failure. */
int names_load(sma_t *a, struct names *n);
/* The name of the object at off, NULL if it has none. */
const char *names_find(const struct names *n, sma_off_t off);
void names_free(struct names *n);

/* Free extents by size: bucket k holds sizes in [2^k, 2^(k+1)). */
#define HIST_BUCKETS 64
struct hist {
	uint64_t count[HIST_BUCKETS]; /* extents */
	uint64_t bytes[HIST_BUCKETS]; /* their bytes */
	uint64_t extents;	      /* free extents seen */
	uint64_t free;		      /* their bytes */
	uint64_t largest;	      /* the largest one, bytes */
	uint64_t objects;	      /* live objects seen */
	uint64_t used;		      /* their bytes */
};
/* Walks the arena into h; the sma_walk result (0, or -1 with errno). */
int hist_load(sma_t *a, struct hist *h);

/* ---- procs.c: processes attached to a segment ---- */

struct proc_ent {
	pid_t pid;
	char comm[32]; /* /proc/PID/comm */
};
/* Fills *out (malloc'd) with the processes, other than this one, that map
 * segment shmid and whose maps the caller may read; returns how many, or -1
 * with errno. */
int procs_attached(int shmid, struct proc_ent **out);
/* 1 if pid exists (even if another user's), 0 if not. */
int pid_alive(pid_t pid);

#endif /* SMA_TOOL_H */
