/*
 * sma.c -- the sma command: the table of commands, the command line, and
 * naming and opening the arena a command works on.
 *
 *   sma COMMAND [PATH | --key KEY | --id SHMID] [OPTIONS]
 *
 * Options may come before or after the operand, as "--opt VALUE" or
 * "--opt=VALUE"; "--" ends the options.  Every failure is one line on
 * standard error, "sma: COMMAND: what and why", and exit status 2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "tool.h"

#define TARGET_HELP                                                          \
	"The arena is named by its PATH (the System V key is ftok(PATH, "   \
	"0x53)),\n"                                                          \
	"by --key KEY (0x-hex as ipcs prints it, or decimal, signed or "     \
	"unsigned)\n"                                                        \
	"or by --id SHMID.\n"

static const struct cmd cmds[] = {
	{ "create", cmd_create, OPT_PATH | OPT_KEY | OPT_SIZE | OPT_MODE,
	  "PATH|--key KEY --size SIZE [--mode MODE]",
	  "create an arena",
	  "Creates a new arena of SIZE bytes (K, M, G suffixes: powers of "
	  "1024) with\n"
	  "permission MODE (octal, default 0600).  PATH is created as an "
	  "empty file if\n"
	  "it does not exist.  Fails if a segment with that key exists.  "
	  "--key 0 makes\n"
	  "a private arena and prints its shmid.\n" },
	{ "info", cmd_info, OPT_TARGET | OPT_JSON, "PATH|--key KEY|--id SHMID [--json]",
	  "identity, permissions, times, figures, lock and processes",
	  "Prints what ipcs -m -i shows of the segment, and what only the "
	  "arena knows:\n"
	  "semaphore id, layout version, size, used and free space, the "
	  "lock's holder,\n"
	  "the process slots and the processes attached.  Attaches "
	  "read-only.\n" },
	{ "stats", cmd_stats, OPT_TARGET | OPT_JSON | OPT_ALL,
	  "PATH|--key KEY|--id SHMID [--json] [--all]",
	  "figures, size classes and free extents by size",
	  "Prints the figures of sma_stats, a table of the size classes "
	  "(classes with\n"
	  "no slab and no request are left out unless --all is given), and "
	  "a histogram\n"
	  "of the free extents by size, to tell \"out of memory while memory "
	  "is free\"\n"
	  "(fragmentation) at a glance.  Attaches read-only.\n" },
	{ "dump", cmd_dump, OPT_TARGET | OPT_JSON, "PATH|--key KEY|--id SHMID [--json]",
	  "every object and free extent, in offset order",
	  "Lists every live object and every free extent in offset order: "
	  "offset,\n"
	  "size, state (used or free) and the name of named objects.  "
	  "Attaches read-only.\n" },
	{ "map", cmd_map, OPT_TARGET | OPT_ASCII | OPT_SVG,
	  "PATH|--key KEY|--id SHMID [--ascii] [--svg FILE]",
	  "a picture of the arena, shaded by how full each part is",
	  "Draws the segment as rows of 64 cells, each cell a block of the "
	  "segment\n"
	  "shaded by the share of its memory in live objects.  --ascii draws "
	  "with\n"
	  "ASCII characters only; --svg FILE writes the picture as an SVG "
	  "image instead\n"
	  "(FILE - for standard output).  Attaches read-only.\n" },
	{ "check", cmd_check, OPT_TARGET, "PATH|--key KEY|--id SHMID",
	  "verify every invariant; exit 1 on a problem",
	  "Runs the library's checker and prints each problem found on a "
	  "line of its\n"
	  "own.  Exit status 0 when the arena is consistent, 1 when a problem "
	  "was found,\n"
	  "2 when the check could not run.  Attaches read-only.\n" },
	{ "recover", cmd_recover, OPT_TARGET, "PATH|--key KEY|--id SHMID",
	  "return what dead processes held, repair what they left",
	  "Runs sma_recover: returns to the arena whatever processes that no "
	  "longer\n"
	  "exist held in their caches, and repairs an operation a killed "
	  "process left\n"
	  "half done.  Never frees a live object.  Attaches read-write.\n" },
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
		   "       sma COMMAND --help\n"
		   "       sma --version\n\n"
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
	if (c->allowed & OPT_JSON)
		printf("--json prints the same as one JSON value.\n");
}

const char *target_name(const struct opts *o)
{
	static char buf[4200];
	char k[16];

	if (o->path)
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

	if (o->path)
		snprintf(buf, sizeof buf, "arena %s", o->path);
	else
		snprintf(buf, sizeof buf, "%s", key == IPC_PRIVATE
						? "private arena" : "arena");
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

/* Why an open failed, for a person. */
static const char *open_why(int err, const struct opts *o)
{
	switch (err) {
	case ENOENT:
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
		return o->has_id ? "no segment with that id" : strerror(err);
	default:
		return strerror(err);
	}
}

sma_t *open_figures(const struct cmd *c, const struct opts *o, struct sma_stats *st,
		    struct sma_info *in)
{
	sma_t *a = open_target(c, o, SMA_RDONLY);

	if (!a)
		return NULL;
	if ((in && sma_info(a, in) < 0) || sma_stats(a, st) < 0) {
		fail(c, "%s: reading the figures: %s", target_name(o), strerror(errno));
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

	if (o->path) {
		if (target_key(o, &key) < 0) {
			fail(c, "%s: %s", o->path, strerror(errno));
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

struct optdef {
	const char *name; /* without the leading "--" */
	unsigned bit;	  /* OPT_*, 0 for --help */
	int arg;	  /* takes a value */
};

static const struct optdef optdefs[] = {
	{ "key", OPT_KEY, 1 },	   { "id", OPT_ID, 1 },
	{ "json", OPT_JSON, 0 },   { "size", OPT_SIZE, 1 },
	{ "mode", OPT_MODE, 1 },   { "all", OPT_ALL, 0 },
	{ "ascii", OPT_ASCII, 0 }, { "svg", OPT_SVG, 1 },
	{ "orphans", OPT_ORPHANS, 0 }, { "force", OPT_FORCE, 0 },
	{ "help", 0, 0 },
};

/* Sets one option; EXIT_OK, or EXIT_FAIL after saying why. */
static int set_opt(const struct cmd *c, struct opts *o,
		   const struct optdef *d, const char *v)
{
	switch (d->bit) {
	case OPT_KEY:
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
	case OPT_ID:
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
	case OPT_SIZE:
		if (parse_size(v, &o->size) < 0) {
			fail(c, "bad size '%s': expected a number with an "
				"optional K, M, G or T suffix", v);
			return EXIT_FAIL;
		}
		o->has_size = 1;
		break;
	case OPT_MODE:
		if (parse_mode(v, &o->mode) < 0) {
			fail(c, "bad mode '%s': expected octal permission bits "
				"such as 0640", v);
			return EXIT_FAIL;
		}
		o->has_mode = 1;
		break;
	case OPT_SVG:
		if (!*v) {
			fail(c, "--svg needs a file name");
			return EXIT_FAIL;
		}
		o->svg = v;
		break;
	case OPT_JSON: o->json = 1; break;
	case OPT_ALL: o->all = 1; break;
	case OPT_ASCII: o->ascii = 1; break;
	case OPT_ORPHANS: o->orphans = 1; break;
	case OPT_FORCE: o->force = 1; break;
	}
	return EXIT_OK;
}

/*
 * Parses argv (after the command name) into o.  Returns EXIT_OK, EXIT_FAIL
 * after saying why, or -1 when --help was asked for.
 */
static int parse_args(const struct cmd *c, int argc, char **argv,
		      struct opts *o)
{
	int i, no_more = 0, help = 0, r;

	for (i = 0; i < argc; i++) {
		const char *s = argv[i], *eq, *v = NULL;
		const struct optdef *d = NULL;
		size_t k, len;

		if (no_more || s[0] != '-' || s[1] == '\0') {
			if (o->path) {
				fail(c, "unexpected operand '%s' (one arena at "
					"a time)", s);
				return EXIT_FAIL;
			}
			if (!(c->allowed & OPT_PATH)) {
				fail(c, "unexpected operand '%s'", s);
				return EXIT_FAIL;
			}
			if (!*s) {
				fail(c, "empty path");
				return EXIT_FAIL;
			}
			o->path = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			no_more = 1;
			continue;
		}
		if (strcmp(s, "-h") == 0) {
			help = 1;
			continue;
		}
		if (s[1] != '-') {
			fail(c, "unknown option '%s' (try sma %s --help)", s,
			     c->name);
			return EXIT_FAIL;
		}
		s += 2;
		eq = strchr(s, '=');
		len = eq ? (size_t)(eq - s) : strlen(s);
		for (k = 0; k < sizeof optdefs / sizeof optdefs[0]; k++)
			if (strlen(optdefs[k].name) == len &&
			    strncmp(optdefs[k].name, s, len) == 0)
				d = &optdefs[k];
		if (!d || (d->bit && !(c->allowed & d->bit))) {
			fail(c, "unknown option '--%.*s' (try sma %s --help)",
			     (int)len, s, c->name);
			return EXIT_FAIL;
		}
		if (!d->bit) {
			help = 1;
			continue;
		}
		if (d->arg) {
			if (eq) {
				v = eq + 1;
			} else if (i + 1 < argc) {
				v = argv[++i];
			} else {
				fail(c, "--%s needs a value", d->name);
				return EXIT_FAIL;
			}
		} else if (eq) {
			fail(c, "--%s takes no value", d->name);
			return EXIT_FAIL;
		}
		r = set_opt(c, o, d, v);
		if (r != EXIT_OK)
			return r;
	}
	return help ? -1 : EXIT_OK;
}

/* Checks that the command was told which arena, exactly once. */
static int check_target(const struct cmd *c, const struct opts *o)
{
	int n = !!o->path + o->has_key + o->has_id;

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
		fail(c, "which arena? give PATH, --key KEY or --id SHMID "
			"(try sma %s --help)", c->name);
		return EXIT_FAIL;
	}
	if (n > 1) {
		fail(c, "give only one of PATH, --key and --id");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	size_t i;
	int r;

	if (argc < 2) {
		fail(NULL, "which command? (sma --help lists them)");
		return EXIT_FAIL;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_global(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sma %s (library %s)\n", SMA_VERSION, sma_version());
		return EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0 && argc <= 3) {
		if (argc == 2) {
			usage_global(stdout);
			return EXIT_OK;
		}
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
	r = parse_args(c, argc - 2, argv + 2, &g_opts);
	if (r < 0) {
		usage_cmd(c);
		return EXIT_OK;
	}
	if (r != EXIT_OK)
		return r;
	r = check_target(c, &g_opts);
	if (r != EXIT_OK)
		return r;
	r = c->run(c, &g_opts);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fail(c, "writing the output: %s", strerror(errno));
		return EXIT_FAIL;
	}
	return r;
}
