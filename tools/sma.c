/*
 * sma.c -- the sma command: the table of commands, the command line, and
 * naming and opening the arena a command works on.
 *
 *   sma COMMAND [PATH | --key KEY | --id SHMID | --image FILE] [OPTIONS]
 *
 * The command line is read by getopt_long: options may come before or after
 * the operands, as "--opt VALUE" or "--opt=VALUE" (or a unique prefix of
 * the name), and "--" ends the options.  -j is --json, -h --help and -V
 * --version.  Every failure is one line on standard error, "sma: COMMAND:
 * what and why", and exit status 2.
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "tool.h"

#define TARGET_HELP                                                          \
	"The arena is named by its PATH (the System V key is ftok(PATH, "   \
	"0x53)),\n"                                                          \
	"by --key KEY (0x-hex as ipcs prints it, or decimal, signed or "     \
	"unsigned)\n"                                                        \
	"or by --id SHMID.\n"

#define IMAGE_HELP                                                           \
	"--image FILE reads an image that sma save wrote instead of an "     \
	"arena.\n"

static const struct cmd cmds[] = {
	{ "create", cmd_create, OPT_PATH | OPT_KEY | OPT_SIZE | OPT_MODE | OPT_LIMIT,
	  "PATH|--key KEY --size SIZE [--mode MODE] [--limit SIZE]",
	  "create an arena",
	  "Creates a new arena of SIZE bytes (K, M, G suffixes: powers of "
	  "1024) with\n"
	  "permission MODE (octal, default 0600).  PATH is created as an "
	  "empty file if\n"
	  "it does not exist.  Fails if a segment with that key exists.  "
	  "--key 0 makes\n"
	  "a private arena and prints its shmid.  --limit SIZE lets it grow "
	  "to SIZE bytes\n"
	  "by adding segments when it is full.\n" },
	{ "limit", cmd_limit, OPT_TARGET | OPT_ARG,
	  "PATH|--key KEY|--id SHMID [SIZE]",
	  "print or set the growth limit",
	  "Prints the limit up to which the arena may grow by adding "
	  "segments (0: it\n"
	  "never grows), or sets it to SIZE.  A limit at or below the size "
	  "stops growth\n"
	  "and gives nothing back.\n" },
	{ "info", cmd_info, OPT_TARGET | OPT_IMAGE | OPT_JSON,
	  "PATH|--key KEY|--id SHMID|--image FILE [--json]",
	  "identity, permissions, times, figures, lock and processes",
	  "Prints what ipcs -m -i shows of the segment, and what only the "
	  "arena knows:\n"
	  "semaphore id, layout version, size, used and free space, the "
	  "lock's holder,\n"
	  "the process slots and the processes attached.  The times and the "
	  "last pid\n"
	  "are read before the tool attaches, read-only.\n" },
	{ "stats", cmd_stats,
	  OPT_TARGET | OPT_IMAGE | OPT_JSON | OPT_ALL | OPT_INTERVAL | OPT_COUNT,
	  "PATH|--key KEY|--id SHMID|--image FILE [--json] [--all]\n"
	  "       sma stats PATH|--key KEY|--id SHMID --interval SECONDS "
	  "[--count N] [--json]",
	  "figures, size classes and free extents by size",
	  "Prints the figures of sma_stats, a table of the size classes "
	  "(classes with\n"
	  "no slab and no request are left out unless --all is given), and "
	  "a histogram\n"
	  "of the free extents by size, to tell \"out of memory while memory "
	  "is free\"\n"
	  "(fragmentation) at a glance.  Attaches read-only.\n\n"
	  "With --interval, prints a header and then one line every SECONDS "
	  "(0.5 is\n"
	  "fine), like vmstat: used, free, largest free, live objects, "
	  "allocations,\n"
	  "frees and lock operations per second, and repairs.  The first "
	  "line's rates\n"
	  "are averages since the arena was created.  --count N stops after "
	  "N lines;\n"
	  "with --json each line is one JSON object.\n" },
	{ "dump", cmd_dump, OPT_TARGET | OPT_IMAGE | OPT_JSON,
	  "PATH|--key KEY|--id SHMID|--image FILE [--json]",
	  "every object and free extent, in offset order",
	  "Lists every live object and every free extent in offset order: "
	  "offset,\n"
	  "size, state (used or free) and the name of named objects.  "
	  "Attaches read-only.\n" },
	{ "map", cmd_map, OPT_TARGET | OPT_IMAGE | OPT_ASCII | OPT_SVG,
	  "PATH|--key KEY|--id SHMID|--image FILE [--ascii] [--svg FILE]",
	  "a picture of the arena, shaded by how full each part is",
	  "Draws the segment as rows of 64 cells, each cell a block of the "
	  "segment\n"
	  "shaded by the share of its memory in live objects, with block "
	  "characters\n"
	  "when the locale's character set is UTF-8 and ASCII otherwise.  "
	  "--ascii\n"
	  "draws with ASCII characters only; --svg FILE writes the picture as "
	  "an SVG\n"
	  "image instead (FILE - for standard output).  Attaches "
	  "read-only.\n" },
	{ "check", cmd_check, OPT_TARGET | OPT_IMAGE | OPT_JSON,
	  "PATH|--key KEY|--id SHMID|--image FILE [--json]",
	  "verify every invariant; exit 1 on a problem",
	  "Runs the library's checker and prints each problem found on a "
	  "line of its\n"
	  "own.  Exit status 0 when the arena is consistent, 1 when a problem "
	  "was found,\n"
	  "2 when the check could not run.  --json prints {\"ok\": BOOL, "
	  "\"problems\":\n"
	  "[STRING, ...]}.  Attaches read-only.\n" },
	{ "recover", cmd_recover, OPT_TARGET, "PATH|--key KEY|--id SHMID",
	  "return what dead processes held, repair what they left",
	  "Runs sma_recover: returns to the arena whatever processes that no "
	  "longer\n"
	  "exist held in their caches, and repairs an operation a killed "
	  "process left\n"
	  "half done.  Never frees a live object.  Exit status 1 when the "
	  "arena is\n"
	  "still inconsistent afterwards (sma check lists what is wrong).  "
	  "Attaches\n"
	  "read-write.\n" },
	{ "save", cmd_save, OPT_TARGET | OPT_FILE, "PATH|--key KEY|--id SHMID FILE",
	  "write an image of the segment to a file",
	  "Writes the bytes of the segment to FILE (- for standard output), "
	  "as\n"
	  "sma_open_image reads them: a copy that info, stats, dump, map and "
	  "check read\n"
	  "with --image FILE.  Attaches read-only and takes no lock; a copy "
	  "that an\n"
	  "arena in use changed while it was made is taken again until it "
	  "checks\n"
	  "clean.  The copy of an inconsistent arena is written as it is, "
	  "with exit\n"
	  "status 1.\n" },
	{ "ls", cmd_ls, OPT_JSON, "[--json]",
	  "list the arenas and orphaned semaphore sets on this machine",
	  "Lists every sma arena on this machine the caller may read, and "
	  "every\n"
	  "semaphore set an arena left behind (an orphan, which rm --orphans "
	  "removes).\n" },
	{ "rm", cmd_rm, OPT_TARGET | OPT_ORPHANS | OPT_FORCE,
	  "PATH|--key KEY|--id SHMID [--force] | --orphans",
	  "destroy an arena, or clean up",
	  "Destroys the arena: nobody can open it any more, and it is gone "
	  "once the\n"
	  "last attached process detaches.  --force removes whatever "
	  "segment and\n"
	  "semaphore set hold that key (or that shmid), arena or not.  "
	  "--orphans\n"
	  "removes every orphaned semaphore set the caller may remove.\n" },
};

#define NCMDS (sizeof cmds / sizeof cmds[0])

static struct opts g_opts; /* the parsed command line, for target_name */

void fail(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (c)
		fprintf(stderr, "sma: %s: ", c->name);
	else
		fputs("sma: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage_global(FILE *f)
{
	size_t i;

	fprintf(f, "usage: sma COMMAND [PATH | --key KEY | --id SHMID] "
		   "[OPTIONS]\n"
		   "       sma COMMAND -h|--help\n"
		   "       sma -V|--version\n\n"
		   "Inspects and manages sma arenas: shared heaps in System V "
		   "shared memory.\n\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n" TARGET_HELP
		   "Sizes take K, M, G suffixes (powers of 1024).  Exit "
		   "status: 0 success,\n"
		   "1 an inconsistency found by check, 2 a usage error or a "
		   "failure.\n");
}

static void usage_cmd(const struct cmd *c)
{
	printf("usage: sma %s %s\n\n%s", c->name, c->synopsis, c->help);
	if (c->allowed & OPT_PATH)
		printf("\n" TARGET_HELP);
	if (c->allowed & OPT_IMAGE)
		printf(IMAGE_HELP);
	if (c->allowed & OPT_JSON)
		printf("-j, --json prints the same as JSON.\n");
}

static void version(void)
{
	printf("sma %s (library %s)\n", SMA_VERSION, sma_version());
}

const char *target_name(const struct opts *o)
{
	static char buf[4200];
	char k[16];

	if (o->image)
		snprintf(buf, sizeof buf, "image %s", o->image);
	else if (o->path)
		snprintf(buf, sizeof buf, "%s", o->path);
	else if (o->has_key)
		snprintf(buf, sizeof buf, "key %s", fmt_key(k, o->key));
	else if (o->has_id)
		snprintf(buf, sizeof buf, "shmid %d", o->id);
	else
		snprintf(buf, sizeof buf, "(no arena)");
	return buf;
}

const char *arena_label(const struct opts *o, key_t key)
{
	static char buf[4200];

	if (o->image)
		snprintf(buf, sizeof buf, "image %s", o->image);
	else if (o->path)
		snprintf(buf, sizeof buf, "arena %s", o->path);
	else
		snprintf(buf, sizeof buf, "%s", key == IPC_PRIVATE
						? "private arena" : "arena");
	return buf;
}

const char *arena_heading(const struct opts *o, sma_t *a)
{
	static char buf[4300];
	char k[16];

	if (o->image)
		snprintf(buf, sizeof buf, "image %s", o->image);
	else
		snprintf(buf, sizeof buf, "%s  key %s  shmid %d",
			 arena_label(o, sma_key(a)), fmt_key(k, sma_key(a)),
			 sma_shmid(a));
	return buf;
}

int target_key(const struct opts *o, key_t *key)
{
	struct shmid_ds ds;
	key_t k;

	if (o->path) {
		k = ftok(o->path, SMA_PROJ_ID);
		if (k == (key_t)-1)
			return -1;
		*key = k;
		return 0;
	}
	if (o->has_key) {
		*key = o->key;
		return 0;
	}
	if (o->has_id && shmctl(o->id, IPC_STAT, &ds) == 0) {
		*key = ds.shm_perm.__key;
		return 0;
	}
	if (!o->has_id)
		errno = EINVAL;
	return -1;
}

int target_shmid(const struct opts *o)
{
	key_t key;

	if (o->image) {
		errno = EINVAL;
		return -1;
	}
	if (o->has_id)
		return o->id;
	if (target_key(o, &key) < 0)
		return -1;
	if (key == IPC_PRIVATE) {
		errno = EINVAL;
		return -1;
	}
	return shmget(key, 0, 0);
}

/* 1 if path names a directory. */
static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Why an open failed, for a person. */
static const char *open_why(int err, const struct opts *o)
{
	switch (err) {
	case ENOENT:
		if (o->path && is_dir(o->path))
			return "a directory, and no arena has its key (an arena "
			       "is named by the file it was made for)";
		return o->has_id ? "no segment with that id"
				 : "no arena with that key";
	case EACCES:
		return "permission denied";
	case EPROTO:
		return "not a usable sma arena (a foreign segment, one made "
		       "for another file, one left half-initialised, or "
		       "another layout version)";
	case EAGAIN:
		return "still being initialised by another process; try again";
	case EIDRM:
		return "the segment has been removed";
	case EINVAL:
		return o->has_id ? "no segment with that id" : errstr(err);
	default:
		return errstr(err);
	}
}

sma_t *open_figures(const struct cmd *c, const struct opts *o, struct sma_stats *st,
		    struct sma_info *in)
{
	sma_t *a = open_target(c, o, SMA_RDONLY);

	if (!a)
		return NULL;
	if ((in && sma_info(a, in) < 0) || sma_stats(a, st) < 0) {
		fail(c, "%s: reading the figures: %s", target_name(o), errstr(errno));
		sma_close(a);
		return NULL;
	}
	return a;
}

sma_t *open_target(const struct cmd *c, const struct opts *o, int flags)
{
	sma_t *a;
	char k[16];
	key_t key = 0;
	int err;

	if (o->image) {
		a = image_open(o->image);
		if (a)
			return a;
		err = errno;
		if (err == EPROTO)
			fail(c, "%s: not an image of an sma arena this build "
				"can read", o->image);
		else if (err == EISDIR)
			fail(c, "%s: a directory, not an image", o->image);
		else
			fail(c, "%s: %s", o->image, errstr(err));
		return NULL;
	}
	if (o->path) {
		if (target_key(o, &key) < 0) {
			fail(c, "%s: %s", o->path, errstr(errno));
			return NULL;
		}
		a = sma_open(o->path, flags, 0, 0);
	} else if (o->has_key) {
		if (o->key == IPC_PRIVATE) {
			fail(c, "key 0 is IPC_PRIVATE, which names no arena: "
				"use --id SHMID");
			return NULL;
		}
		a = sma_open_key(o->key, flags, 0, 0);
	} else {
		a = sma_open_id(o->id, flags);
	}
	if (a)
		return a;
	err = errno;
	if (o->path)
		fail(c, "%s (key %s): %s", o->path, fmt_key(k, key),
		     open_why(err, o));
	else
		fail(c, "%s: %s", target_name(o), open_why(err, o));
	return NULL;
}

/* ---- the command line ---- */

/* getopt_long's codes of the options without a short form. */
enum {
	LO_KEY = 256, LO_ID, LO_SIZE, LO_MODE, LO_ALL, LO_ASCII, LO_SVG,
	LO_ORPHANS, LO_FORCE, LO_IMAGE, LO_INTERVAL, LO_COUNT, LO_LIMIT,
};

static const struct option longopts[] = {
	{ "key", required_argument, NULL, LO_KEY },
	{ "id", required_argument, NULL, LO_ID },
	{ "json", no_argument, NULL, 'j' },
	{ "size", required_argument, NULL, LO_SIZE },
	{ "mode", required_argument, NULL, LO_MODE },
	{ "limit", required_argument, NULL, LO_LIMIT },
	{ "all", no_argument, NULL, LO_ALL },
	{ "ascii", no_argument, NULL, LO_ASCII },
	{ "svg", required_argument, NULL, LO_SVG },
	{ "orphans", no_argument, NULL, LO_ORPHANS },
	{ "force", no_argument, NULL, LO_FORCE },
	{ "image", required_argument, NULL, LO_IMAGE },
	{ "interval", required_argument, NULL, LO_INTERVAL },
	{ "count", required_argument, NULL, LO_COUNT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* "-": operands come back in order (code 1), even under POSIXLY_CORRECT;
 * ":": a missing value is told apart from an unknown option. */
static const char shortopts[] = "-:jhV";

/* The OPT_* bit of a getopt code; 0 for --help and --version, which every
 * command takes. */
static unsigned opt_bit(int code)
{
	switch (code) {
	case LO_KEY: return OPT_KEY;
	case LO_ID: return OPT_ID;
	case 'j': return OPT_JSON;
	case LO_SIZE: return OPT_SIZE;
	case LO_MODE: return OPT_MODE;
	case LO_ALL: return OPT_ALL;
	case LO_ASCII: return OPT_ASCII;
	case LO_SVG: return OPT_SVG;
	case LO_ORPHANS: return OPT_ORPHANS;
	case LO_FORCE: return OPT_FORCE;
	case LO_IMAGE: return OPT_IMAGE;
	case LO_INTERVAL: return OPT_INTERVAL;
	case LO_COUNT: return OPT_COUNT;
	case LO_LIMIT: return OPT_LIMIT;
	default: return 0;
	}
}

/* "--name" of a getopt code, as the user may have written it. */
static const char *opt_name(int code)
{
	static char buf[32];
	size_t i;

	for (i = 0; longopts[i].name; i++)
		if (longopts[i].val == code) {
			snprintf(buf, sizeof buf, "--%s", longopts[i].name);
			return buf;
		}
	snprintf(buf, sizeof buf, "-%c", code);
	return buf;
}

/* How many long options begin with the len bytes of s. */
static int prefix_of(const char *s, size_t len)
{
	int i, n = 0;

	for (i = 0; longopts[i].name; i++)
		n += len > 0 && strncmp(longopts[i].name, s, len) == 0;
	return n;
}

/* Sets one option; EXIT_OK, or EXIT_FAIL after saying why. */
static int set_opt(const struct cmd *c, struct opts *o, int code, const char *v)
{
	switch (code) {
	case LO_KEY:
		if (o->has_key) {
			fail(c, "--key given twice");
			return EXIT_FAIL;
		}
		if (parse_key(v, &o->key) < 0) {
			fail(c, "bad key '%s': expected 0x-hex or a decimal "
				"number within 32 bits", v);
			return EXIT_FAIL;
		}
		o->has_key = 1;
		break;
	case LO_ID:
		if (o->has_id) {
			fail(c, "--id given twice");
			return EXIT_FAIL;
		}
		if (parse_int(v, &o->id) < 0) {
			fail(c, "bad shmid '%s': expected a non-negative "
				"decimal number", v);
			return EXIT_FAIL;
		}
		o->has_id = 1;
		break;
	case LO_SIZE:
		if (parse_size(v, &o->size) < 0) {
			fail(c, "bad size '%s': expected a number with an "
				"optional K, M, G or T suffix", v);
			return EXIT_FAIL;
		}
		o->has_size = 1;
		break;
	case LO_LIMIT:
		if (parse_size(v, &o->limit) < 0) {
			fail(c, "bad limit '%s': expected a number with an "
				"optional K, M, G or T suffix", v);
			return EXIT_FAIL;
		}
		o->has_limit = 1;
		break;
	case LO_MODE:
		if (parse_mode(v, &o->mode) < 0) {
			fail(c, "bad mode '%s': expected octal permission bits "
				"such as 0640", v);
			return EXIT_FAIL;
		}
		o->has_mode = 1;
		break;
	case LO_SVG:
		if (!*v) {
			fail(c, "--svg needs a file name");
			return EXIT_FAIL;
		}
		o->svg = v;
		break;
	case LO_IMAGE:
		if (o->image) {
			fail(c, "--image given twice");
			return EXIT_FAIL;
		}
		if (!*v) {
			fail(c, "--image needs a file name");
			return EXIT_FAIL;
		}
		o->image = v;
		break;
	case LO_INTERVAL:
		if (parse_seconds(v, &o->interval) < 0) {
			fail(c, "bad interval '%s': expected seconds above 0 "
				"and at most 86400, such as 1 or 0.5", v);
			return EXIT_FAIL;
		}
		o->has_interval = 1;
		break;
	case LO_COUNT:
		if (parse_count(v, &o->count) < 0) {
			fail(c, "bad count '%s': expected a number of lines "
				"from 1", v);
			return EXIT_FAIL;
		}
		o->has_count = 1;
		break;
	case 'j': o->json = 1; break;
	case LO_ALL: o->all = 1; break;
	case LO_ASCII: o->ascii = 1; break;
	case LO_ORPHANS: o->orphans = 1; break;
	case LO_FORCE: o->force = 1; break;
	}
	return EXIT_OK;
}

/* Takes one operand: the arena's PATH, then (sma save) the FILE. */
static int set_operand(const struct cmd *c, struct opts *o, const char *s)
{
	if (!(c->allowed & OPT_PATH)) {
		fail(c, "unexpected operand '%s'", s);
		return EXIT_FAIL;
	}
	if (!*s) {
		fail(c, o->path || !(c->allowed & OPT_FILE) ? "empty path"
							    : "empty path or file name");
		return EXIT_FAIL;
	}
	if (!o->path) {
		o->path = s;
		return EXIT_OK;
	}
	if ((c->allowed & (OPT_FILE | OPT_ARG)) && !o->file) {
		o->file = s;
		return EXIT_OK;
	}
	fail(c, "unexpected operand '%s' (one arena at a time)", s);
	return EXIT_FAIL;
}

/* What to do after the command line: run the command, or not. */
enum { PARSE_RUN, PARSE_HELP, PARSE_VERSION };

/*
 * Parses argv (argv[0] the command's name) into o.  Returns PARSE_RUN,
 * PARSE_HELP, PARSE_VERSION, or -EXIT_FAIL after saying why.
 */
static int parse_args(const struct cmd *c, int argc, char **argv,
		      struct opts *o)
{
	int code, idx, help = 0, ver = 0;

	opterr = 0;
	optind = 0; /* glibc: start afresh */
	for (;;) {
		idx = -1;
		code = getopt_long(argc, argv, shortopts, longopts, &idx);
		if (code == -1)
			break;
		if (code == 1) {
			if (set_operand(c, o, optarg) != EXIT_OK)
				return -EXIT_FAIL;
			continue;
		}
		if (code == ':') {
			fail(c, "%s needs a value", opt_name(optopt));
			return -EXIT_FAIL;
		}
		if (code == '?') {
			/* An unknown or ambiguous option, or a value given to
			 * one that takes none (optopt its code). */
			const char *s = argv[optind - 1];
			unsigned bit = opt_bit(optopt);

			if (strncmp(s, "--", 2) != 0)
				fail(c, "unknown option '-%c' (try sma %s --help)",
				     optopt, c->name);
			else if (optopt && (bit ? (c->allowed & bit) != 0
						: optopt == 'h' || optopt == 'V'))
				fail(c, "%s takes no value", opt_name(optopt));
			else if (prefix_of(s + 2, strcspn(s + 2, "=")) > 1)
				fail(c, "ambiguous option '%.*s' (try sma %s --help)",
				     (int)strcspn(s, "="), s, c->name);
			else
				fail(c, "unknown option '%.*s' (try sma %s --help)",
				     (int)strcspn(s, "="), s, c->name);
			return -EXIT_FAIL;
		}
		if (code == 'h') {
			help = 1;
			continue;
		}
		if (code == 'V') {
			ver = 1;
			continue;
		}
		if (!(c->allowed & opt_bit(code))) {
			if (idx >= 0)
				fail(c, "unknown option '--%s' (try sma %s --help)",
				     longopts[idx].name, c->name);
			else
				fail(c, "unknown option '-%c' (try sma %s --help)",
				     code, c->name);
			return -EXIT_FAIL;
		}
		if (set_opt(c, o, code, optarg) != EXIT_OK)
			return -EXIT_FAIL;
	}
	/* After "--": operands only. */
	for (; optind < argc; optind++)
		if (set_operand(c, o, argv[optind]) != EXIT_OK)
			return -EXIT_FAIL;
	if (help)
		return PARSE_HELP;
	return ver ? PARSE_VERSION : PARSE_RUN;
}

/* Checks that the command was told which arena, exactly once, and that
 * the options go together. */
static int check_target(const struct cmd *c, struct opts *o)
{
	int n;

	/* sma save --key KEY FILE, --id SHMID FILE: the one operand is the
	 * file. */
	if ((c->allowed & (OPT_FILE | OPT_ARG)) && o->path && !o->file &&
	    (o->has_key || o->has_id)) {
		o->file = o->path;
		o->path = NULL;
	}
	n = !!o->path + o->has_key + o->has_id + !!o->image;
	if (!(c->allowed & OPT_PATH))
		return EXIT_OK;
	if (c->allowed & OPT_ORPHANS && o->orphans) {
		if (n || o->force) {
			fail(c, "--orphans takes no arena and no --force");
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	if (n == 0) {
		fail(c, "which arena? give PATH, --key KEY or --id SHMID%s "
			"(try sma %s --help)",
		     c->allowed & OPT_IMAGE ? " (or --image FILE)" : "", c->name);
		return EXIT_FAIL;
	}
	if (n > 1) {
		fail(c, "give only one of PATH, --key%s",
		     c->allowed & OPT_IMAGE ? ", --id and --image" : " and --id");
		return EXIT_FAIL;
	}
	if ((c->allowed & OPT_FILE) && !o->file) {
		fail(c, "which file? give it after the arena: sma %s %s",
		     c->name, c->synopsis);
		return EXIT_FAIL;
	}
	if (o->has_count && !o->has_interval) {
		fail(c, "--count goes with --interval");
		return EXIT_FAIL;
	}
	if (o->has_interval && o->image) {
		fail(c, "an image does not change: --interval needs an arena");
		return EXIT_FAIL;
	}
	if (o->has_interval && o->all) {
		fail(c, "--all shows the size classes, which --interval does "
			"not print");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* sma -h, sma --version...: the options that come before a command. */
static int global_opts(int argc, char **argv)
{
	const char *s = argv[1];

	if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 ||
	    (strcmp(s, "help") == 0 && argc == 2)) {
		usage_global(stdout);
		return EXIT_OK;
	}
	if (strcmp(s, "--version") == 0 || strcmp(s, "-V") == 0) {
		version();
		return EXIT_OK;
	}
	fail(NULL, "unknown option '%s' (sma --help lists the commands)", s);
	return EXIT_FAIL;
}

int main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	size_t i;
	int r;

	/* The character set of the locale decides how map draws; numbers
	 * stay as C writes them, so that JSON and figures read the same
	 * everywhere. */
	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");

	if (argc < 2) {
		fail(NULL, "which command? (sma --help lists them)");
		return EXIT_FAIL;
	}
	if (argv[1][0] == '-' || (strcmp(argv[1], "help") == 0 && argc == 2))
		return global_opts(argc, argv);
	if (strcmp(argv[1], "help") == 0 && argc == 3) {
		argv[1] = argv[2];
		argv[2] = (char *)"--help";
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			c = &cmds[i];
	if (!c) {
		fail(NULL, "unknown command '%s' (try sma --help)", argv[1]);
		return EXIT_FAIL;
	}
	r = parse_args(c, argc - 1, argv + 1, &g_opts);
	if (r < 0)
		return -r;
	if (r == PARSE_HELP) {
		usage_cmd(c);
		return EXIT_OK;
	}
	if (r == PARSE_VERSION) {
		version();
		return EXIT_OK;
	}
	r = check_target(c, &g_opts);
	if (r != EXIT_OK)
		return r;
	r = c->run(c, &g_opts);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail(c, "writing the output: %s", errstr(errno));
		return EXIT_FAIL;
	}
	return r;
}
