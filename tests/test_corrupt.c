/*
 * test_corrupt.c -- arenas scribbled on: the checker names what is broken,
 * and nothing that reads an arena crashes or hangs on it.
 *
 * Each round makes a fresh private arena, fills it from a child with a
 * seeded mix of small and large objects (some named, some freed), checks
 * that it is sound, records sma_walk, closes it, and then writes garbage
 * into the raw segment (shmat on its id) in one of several patterns.  Then,
 * each in a child with a deadline of 10 seconds:
 *
 *   - sma_open_id(shmid, SMA_RDONLY), sma_check_report, sma_walk and
 *     sma_stats: the open may refuse (EPROTO), the check may report
 *     (EBADMSG, with at least one line), but when the check passes the
 *     arena must be what the contract says: the walk in offset order,
 *     inside the segment, without overlap, its used sizes adding up to
 *     used, its free ones to free, its in-use extents counting live;
 *   - the sma command: check --id SHMID, whose exit status must agree
 *     with the library (0 sound, 1 problems, 2 refused), and one of dump,
 *     stats and info in turn, which must succeed on a sound arena;
 *   - when the check passed: a read-write handle allocates and frees, no
 *     new object overlaps a live one, and the arena still checks clean.
 *
 * Where the test knows it broke the arena (the header wiped or the whole
 * segment overwritten) the open must refuse or the check must report.
 * Where it wrote only inside live objects (the user's bytes) the check
 * must pass and the walk must be unchanged.
 *
 * The seed of every round is printed when it fails, so a failure can be
 * replayed.  SMA_CORRUPT_ROUNDS sets the rounds per pattern (default 25:
 * 200 rounds in all, and 4 for the known-broken patterns);
 * SMA_CORRUPT_VERBOSE=1 prints what the library said in each round.  Each
 * round ends by removing its arena.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARENA_SIZE T_MIB(1)
#define HEAD_ZONE T_KIB(64) /* where the header, slots and page map live */
#define DEADLINE_S 10	    /* seconds a probe may take */
#define MAX_EXT 8192	    /* extents recorded from a walk */

/* Exit codes of the library probe (a child). */
enum {
	P_SOUND = 0,	     /* check passed, and the arena is consistent */
	P_REPORTED = 1,	     /* check failed with EBADMSG and said why */
	P_MISSED = 2,	     /* check passed but the arena is inconsistent */
	P_CHECK_ERRNO = 3,   /* check failed with another errno */
	P_SILENT = 4,	     /* check failed with EBADMSG, no line */
	P_CHANGED = 5,	     /* check passed but the walk changed */
	P_UNSAFE = 6,	     /* check passed, then allocation went wrong */
	P_REFUSED = 10,	     /* the open refused the segment (EPROTO) */
	P_BUSY = 11,	     /* the open said EAGAIN (a live pid's init) */
	P_OPEN_ERRNO = 12,   /* the open failed otherwise */
};

/* A walked extent. */
struct ext {
	uint64_t off, size;
	int used;
};

/* The arena of the round, and what was recorded of it before. */
static struct {
	int shmid, semid;
	size_t size;	     /* bytes of the segment */
	unsigned char *raw;  /* the test's own read-write mapping */
	sma_t *a;	     /* the handle the fill child inherits */
	uint64_t seed;	     /* of this round */
	const char *pattern; /* what was written */
	struct ext ext[MAX_EXT];
	size_t next;	     /* extents recorded */
	int expect_sound;    /* only live objects' bytes were written */
} R;

/*
 * The sma command of the build tree.  When libtool has put the real program
 * in tools/.libs (a shared build), that one is run with the library's
 * directory on LD_LIBRARY_PATH, as libtool's wrapper script would: the
 * wrapper costs a shell per run, and the test runs the command 400 times.
 */
static const char *tool_path(void)
{
	static char path[4096], real[4096], libs[4096];
	const char *b = getenv("SMA_BUILDDIR");

	if (!b || !*b)
		b = ".";
	snprintf(path, sizeof path, "%s/tools/sma", b);
	snprintf(real, sizeof real, "%s/tools/.libs/sma", b);
	snprintf(libs, sizeof libs, "%s/.libs", b);
	if (access(real, X_OK) == 0 && access(libs, R_OK) == 0) {
		const char *old = getenv("LD_LIBRARY_PATH");
		char env[8192];

		if (old && *old && !strstr(old, libs)) {
			snprintf(env, sizeof env, "%s:%s", libs, old);
			setenv("LD_LIBRARY_PATH", env, 1);
		} else if (!old || !*old) {
			setenv("LD_LIBRARY_PATH", libs, 1);
		}
		return real;
	}
	return path;
}

static int rounds(void)
{
	const char *s = getenv("SMA_CORRUPT_ROUNDS");

	return s && atoi(s) > 0 ? atoi(s) : 25;
}

/* ---- children with a deadline ---- */

/* In a child: a failed condition ends it with status 99. */
#define REQUIRE(cond)                                                     \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "# %s:%d: %s failed (errno %d)\n",  \
				__FILE__, __LINE__, #cond, errno);        \
			_exit(99);                                        \
		}                                                         \
	} while (0)

/*
 * Runs fn(arg) in a child that the alarm kills after DEADLINE_S seconds
 * (the alarm outlives an exec), waits for it, and returns its wait status.
 */
static int spawn_wait(int (*fn)(void *arg), void *arg)
{
	static const int sigs[] = { SIGALRM, SIGBUS, SIGFPE, SIGILL, SIGSEGV,
				    SIGABRT, SIGSYS };
	int st;
	pid_t pid;
	size_t i;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			signal(sigs[i], SIG_DFL);
		alarm(DEADLINE_S);
		_exit(fn(arg) & 0xff);
	}
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return st;
}

/* ---- making and filling an arena ---- */

static int fill_child(void *arg)
{
	uint64_t rng = *(uint64_t *)arg;
	sma_off_t offs[300];
	size_t n = 0, i;
	char name[16];

	for (i = 0; i < 200; i++) {
		size_t size = 1 + t_rand(&rng) % 256;

		offs[n] = sma_alloc(R.a, size);
		REQUIRE(offs[n] != SMA_NULL);
		memset(sma_ptr(R.a, offs[n]), 0x5a, size);
		n++;
	}
	for (i = 0; i < 12; i++) {
		offs[n] = sma_alloc(R.a, 1024 + t_rand(&rng) % (24 * 1024));
		REQUIRE(offs[n] != SMA_NULL);
		n++;
	}
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "object-%zu", i);
		REQUIRE(sma_named_alloc(R.a, name,
					  16 + t_rand(&rng) % 4000,
					  NULL) != SMA_NULL);
	}
	for (i = 0; i < n; i++)
		if (t_rand(&rng) % 5 < 2)
			REQUIRE(sma_free(R.a, offs[i]) == 0);
	REQUIRE(sma_flush(R.a) == 0);
	return 0;
}

static int record_ext(sma_off_t off, size_t size, int in_use, void *arg)
{
	(void)arg;
	if (R.next < MAX_EXT)
		R.ext[R.next++] = (struct ext){ off, size, in_use };
	return 0;
}

/* A fresh arena, filled, checked, recorded, closed and mapped raw. */
static void arena_make(uint64_t seed)
{
	struct shmid_ds ds;
	uint64_t s = seed;

	memset(&R, 0, offsetof(__typeof__(R), ext));
	R.next = 0;
	R.seed = seed;
	R.a = t_open_private(ARENA_SIZE);
	R.shmid = sma_shmid(R.a);
	R.semid = sma_semid(R.a);
	{
		int st = spawn_wait(fill_child, &s);

		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	t_assert_check(R.a);
	assert_int_equal(sma_walk(R.a, record_ext, NULL), 0);
	assert_true(R.next < MAX_EXT);
	t_close(R.a);
	R.a = NULL;
	assert_int_equal(shmctl(R.shmid, IPC_STAT, &ds), 0);
	R.size = ds.shm_segsz;
	R.raw = shmat(R.shmid, NULL, 0);
	assert_true(R.raw != (void *)-1);
}

/* Removes the arena of the round, whatever state it is in. */
static void arena_remove(void)
{
	if (R.raw && R.raw != (void *)-1)
		shmdt(R.raw);
	R.raw = NULL;
	shmctl(R.shmid, IPC_RMID, NULL);
	semctl(R.semid, 0, IPC_RMID);
	/* Another test's sma ls may have it attached for an instant. */
	for (int i = 0; i < 50 && t_shm_exists(R.shmid); i++)
		usleep(20 * 1000);
	assert_false(t_shm_exists(R.shmid));
}

/* ---- garbage ---- */

/* A word worth writing: random, small, all ones, or an offset that looks
 * real (a live object's, the segment's size, a page boundary). */
static uint64_t garbage_word(uint64_t *rng)
{
	uint64_t r = t_rand(rng);

	switch (r % 8) {
	case 0: return t_rand(rng);
	case 1: return t_rand(rng) % 4096;
	case 2: return ~(uint64_t)0;
	case 3: return 0;
	case 4: return R.next ? R.ext[t_rand(rng) % R.next].off : 16;
	case 5: return R.size + (t_rand(rng) % 3) * 4096 - 4096;
	case 6: return (t_rand(rng) % (R.size / 4096)) * 4096;
	default: return (uint64_t)(uint32_t)t_rand(rng);
	}
}

static void put_word(size_t at, uint64_t v)
{
	if (at + 8 > R.size)
		at = R.size - 8;
	at &= ~(size_t)7;
	memcpy(R.raw + at, &v, 8);
}

/* Picks an extent at random with used == want; NULL if there is none. */
static const struct ext *pick_ext(uint64_t *rng, int want)
{
	size_t i, n = 0, k;

	for (i = 0; i < R.next; i++)
		n += R.ext[i].used == want;
	if (!n)
		return NULL;
	k = t_rand(rng) % n;
	for (i = 0; i < R.next; i++)
		if (R.ext[i].used == want && k-- == 0)
			return &R.ext[i];
	return NULL;
}

enum pattern {
	PAT_WORDS_ANYWHERE,
	PAT_RUNS_IN_HEAD,
	PAT_WORDS_IN_FREE,
	PAT_WORDS_BEFORE_LIVE,
	PAT_PAGE,
	PAT_BITS_IN_HEAD,
	PAT_DELTAS_IN_HEAD,
	PAT_INSIDE_LIVE,
	PAT_HEAD_WIPED,
	PAT_ALL_ONES,
};

static void scribble(enum pattern p, uint64_t *rng)
{
	size_t i, n = 1 + t_rand(rng) % 8, at, len;
	const struct ext *e;
	uint64_t v;
	int fill;

	R.expect_sound = 0;
	switch (p) {
	case PAT_WORDS_ANYWHERE:
		R.pattern = "random words anywhere";
		for (i = 0; i < n; i++)
			put_word(t_rand(rng) % R.size, garbage_word(rng));
		break;
	case PAT_RUNS_IN_HEAD:
		R.pattern = "runs of 0x00, 0xff or random bytes in the first "
			    "64 KiB";
		for (i = 0; i < 1 + n / 3; i++) {
			at = t_rand(rng) % HEAD_ZONE;
			len = 1 + t_rand(rng) % 512;
			if (at + len > R.size)
				len = R.size - at;
			fill = (int)(t_rand(rng) % 3);
			if (fill == 2) {
				size_t k;

				for (k = 0; k < len; k++)
					R.raw[at + k] = (unsigned char)t_rand(rng);
			} else {
				memset(R.raw + at, fill ? 0xff : 0x00, len);
			}
		}
		break;
	case PAT_WORDS_IN_FREE:
		R.pattern = "random words inside freed memory";
		for (i = 0; i < n; i++) {
			e = pick_ext(rng, 0);
			if (!e)
				break;
			put_word(e->off + (t_rand(rng) % (e->size / 8 + 1)) * 8,
				 garbage_word(rng));
		}
		break;
	case PAT_WORDS_BEFORE_LIVE:
		R.pattern = "random words just before live objects";
		for (i = 0; i < n; i++) {
			e = pick_ext(rng, 1);
			if (!e || e->off < 16)
				break;
			put_word(e->off - 8 * (1 + t_rand(rng) % 2),
				 garbage_word(rng));
		}
		break;
	case PAT_PAGE:
		R.pattern = "a whole page of garbage";
		at = (t_rand(rng) % (R.size / 4096)) * 4096;
		fill = (int)(t_rand(rng) % 3);
		if (fill == 2)
			for (i = 0; i < 4096; i += 8)
				put_word(at + i, garbage_word(rng));
		else
			memset(R.raw + at, fill ? 0xff : 0x00, 4096);
		break;
	case PAT_BITS_IN_HEAD:
		R.pattern = "single bits flipped in the first 64 KiB";
		for (i = 0; i < 1 + n / 2; i++) {
			at = t_rand(rng) % HEAD_ZONE;
			R.raw[at] ^= (unsigned char)(1u << (t_rand(rng) % 8));
		}
		break;
	case PAT_DELTAS_IN_HEAD:
		R.pattern = "small changes to words in the first 64 KiB";
		for (i = 0; i < 1 + n / 2; i++) {
			static const int64_t d[] = { 1, -1, 16, -16, 4096,
						     -4096, 65536 };

			at = (t_rand(rng) % (HEAD_ZONE / 8)) * 8;
			memcpy(&v, R.raw + at, 8);
			v += (uint64_t)d[t_rand(rng) % 7];
			memcpy(R.raw + at, &v, 8);
		}
		break;
	case PAT_INSIDE_LIVE:
		R.pattern = "random bytes inside live objects only";
		R.expect_sound = 1;
		for (i = 0; i < n; i++) {
			size_t k;

			e = pick_ext(rng, 1);
			if (!e)
				break;
			for (k = 0; k < e->size; k++)
				R.raw[e->off + k] = (unsigned char)t_rand(rng);
		}
		break;
	case PAT_HEAD_WIPED:
		R.pattern = "the first page wiped with zeros";
		memset(R.raw, 0, 4096);
		break;
	case PAT_ALL_ONES:
		R.pattern = "the whole segment overwritten with 0xff";
		memset(R.raw, 0xff, R.size);
		break;
	}
}

/* ---- the library probe (runs in a child) ---- */

struct walk_state {
	uint64_t end;	 /* the end of the previous extent */
	uint64_t used, nused, free;
	size_t n;	 /* extents seen */
	int bad;	 /* out of order, overlapping or out of bounds */
	int changed;	 /* differs from the recorded walk */
};

static int probe_walk(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct walk_state *w = arg;

	if (off < w->end || off >= R.size || size > R.size - off) {
		if (!w->bad)
			fprintf(stderr, "# walk: extent [%" PRIu64 ", +%zu) out "
					"of order or bounds\n", off, size);
		w->bad = 1;
	}
	w->end = off + size;
	if (in_use) {
		w->used += size;
		w->nused++;
	} else {
		w->free += size;
	}
	if (w->n >= R.next || R.ext[w->n].off != off ||
	    R.ext[w->n].size != size || R.ext[w->n].used != in_use)
		w->changed = 1;
	w->n++;
	return 0;
}

static int count_problem(const char *problem, void *arg)
{
	(void)problem;
	(*(unsigned *)arg)++;
	return 0;
}

static int slot_nop(const struct sma_slot_info *s, void *arg)
{
	(void)s;
	(void)arg;
	return 0;
}

static int named_nop(const char *name, sma_off_t off, size_t size, void *arg)
{
	(void)off;
	(void)size;
	(void)arg;
	return name && strlen(name) > SMA_NAME_MAX; /* never: names end */
}

/* The other read calls the command makes: they must come back. */
static void probe_readers(sma_t *b)
{
	struct sma_class_stats cs;
	struct sma_info in;
	unsigned cls;

	if (sma_info(b, &in) == 0)
		for (cls = 0; cls <= in.nclasses && cls < 1024; cls++)
			(void)sma_class_stats(b, cls, &cs);
	(void)sma_slots_each(b, slot_nop, NULL);
	(void)sma_named_each(b, named_nop, NULL);
}

static int probe_library(void *arg)
{
	struct walk_state w = { 0 };
	struct sma_stats st;
	unsigned problems = 0;
	sma_t *b;
	int r, e;

	(void)arg;
	b = sma_open_id(R.shmid, SMA_RDONLY);
	if (!b)
		return errno == EPROTO ? P_REFUSED
		       : errno == EAGAIN ? P_BUSY : P_OPEN_ERRNO;
	r = sma_check_report(b, count_problem, &problems);
	e = errno;
	/* Whatever the check said, the walk and the figures must come back. */
	(void)sma_walk(b, probe_walk, &w);
	(void)sma_stats(b, &st);
	probe_readers(b);
	if (r != 0)
		return e != EBADMSG ? P_CHECK_ERRNO
		       : problems ? P_REPORTED : P_SILENT;
	/* The check passed: the arena must be what the contract says. */
	memset(&w, 0, sizeof w);
	if (sma_walk(b, probe_walk, &w) != 0 || w.bad) {
		fprintf(stderr, "# check passed, walk failed or is out of "
				"order\n");
		return P_MISSED;
	}
	if (sma_stats(b, &st) != 0 || st.used != w.used ||
	    st.free != w.free || st.live != w.nused ||
	    st.largest_free > st.free || st.size != R.size) {
		fprintf(stderr, "# check passed, but stats (used %zu free %zu "
				"live %" PRIu64 " largest %zu size %zu) and the "
				"walk (used %" PRIu64 " free %" PRIu64
				" live %" PRIu64 ") disagree\n",
			st.used, st.free, st.live, st.largest_free, st.size,
			w.used, w.free, w.nused);
		return P_MISSED;
	}
	if (R.expect_sound && (w.changed || w.n != R.next)) {
		fprintf(stderr, "# only live objects were written, but the "
				"walk changed\n");
		return P_CHANGED;
	}
	return P_SOUND;
}

/* When the check passed: allocation must hand out memory that overlaps no
 * live object, and the arena must check clean afterwards. */
static int probe_alloc(void *arg)
{
	static struct ext live[MAX_EXT];
	size_t nlive = 0, i, k;
	sma_off_t got[16];
	sma_t *b;

	(void)arg;
	b = sma_open_id(R.shmid, 0);
	REQUIRE(b != NULL);
	for (i = 0; i < R.next; i++)
		if (R.ext[i].used)
			live[nlive++] = R.ext[i];
	for (i = 0; i < 16; i++) {
		uint64_t us;

		got[i] = sma_alloc(b, i % 2 ? 16 * (i + 1) : 1024 * (i + 1));
		if (got[i] == SMA_NULL) {
			REQUIRE(errno == ENOMEM);
			continue;
		}
		us = sma_usable_size(b, got[i]);
		REQUIRE(us > 0 && got[i] < R.size && us <= R.size - got[i]);
		for (k = 0; k < nlive; k++)
			if (got[i] < live[k].off + live[k].size &&
			    live[k].off < got[i] + us) {
				fprintf(stderr, "# new object [%" PRIu64 ", +%"
						PRIu64 ") overlaps a live one "
						"at %" PRIu64 "\n",
					got[i], us, live[k].off);
				_exit(P_UNSAFE);
			}
		memset(sma_ptr(b, got[i]), 0xa5, us);
	}
	for (i = 0; i < 16; i++)
		REQUIRE(sma_free(b, got[i]) == 0);
	REQUIRE(sma_flush(b) == 0);
	if (sma_check(b) != 0) {
		fprintf(stderr, "# the arena checked clean, and no longer does "
				"after allocating and freeing\n");
		return P_UNSAFE;
	}
	return 0;
}

/* ---- the command (runs in a child) ---- */

static const char *tool_cmd; /* the command the child runs */
static char tool_out[4096];  /* where the child writes its output */

static int run_tool_child(void *arg)
{
	char id[16];
	int fd;

	(void)arg;
	snprintf(id, sizeof id, "%d", R.shmid);
	fd = open(tool_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 127;
	dup2(fd, 1);
	close(fd);
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
	execl(tool_path(), "sma", tool_cmd, "--id", id, (char *)NULL);
	return 127;
}

/* Lines of output the last command wrote. */
static int tool_out_lines(void)
{
	FILE *f = fopen(tool_out, "r");
	int c, n = 0;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static const char *status_text(int st)
{
	static char buf[64];

	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		return "hung (killed by the alarm after the deadline)";
	if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "killed by signal %d (%s)",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
	return buf;
}

#define ROUND_FAIL(...)                                                   \
	do {                                                              \
		print_error("# round seed %" PRIu64 ", %s: ", R.seed,       \
			    R.pattern);                                   \
		print_error(__VA_ARGS__);                                 \
		print_error("\n");                                        \
		bad = 1;                                                  \
	} while (0)

/* One round: make, scribble, probe, remove.  Returns 0 when it went as it
 * must. */
static int one_round(enum pattern p, uint64_t seed)
{
	static const char *const cmds[] = { "check", "dump", "stats", "info" };
	uint64_t rng = seed * 0x9e3779b97f4a7c15ull + p;
	int st, lib, bad = 0;
	size_t i;

	arena_make(seed);
	scribble(p, &rng);

	st = spawn_wait(probe_library, NULL);
	if (!WIFEXITED(st)) {
		ROUND_FAIL("the library probe %s", status_text(st));
		arena_remove();
		return -1;
	}
	lib = WEXITSTATUS(st);
	if (getenv("SMA_CORRUPT_VERBOSE"))
		print_message("# seed %" PRIu64 " (%s): library probe %d\n",
			      seed, R.pattern, lib);
	switch (lib) {
	case P_SOUND:
	case P_REPORTED:
	case P_REFUSED:
	case P_BUSY:
		break;
	default:
		ROUND_FAIL("the library probe ended with %d (see enum)", lib);
	}
	if ((p == PAT_HEAD_WIPED || p == PAT_ALL_ONES) &&
	    lib != P_REPORTED && lib != P_REFUSED)
		ROUND_FAIL("a broken arena was neither refused nor reported "
			   "(%d)", lib);
	if (p == PAT_INSIDE_LIVE && lib != P_SOUND)
		ROUND_FAIL("writes inside live objects made the check fail "
			   "(%d)", lib);

	/* check every round; dump, stats and info in turn (the library
	 * probe has made the calls they make already). */
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		int code;

		if (i > 0 && i != 1 + seed % 3)
			continue;
		tool_cmd = cmds[i];
		st = spawn_wait(run_tool_child, NULL);
		if (!WIFEXITED(st)) {
			ROUND_FAIL("sma %s %s", cmds[i], status_text(st));
			continue;
		}
		code = WEXITSTATUS(st);
		if (code == 127) {
			ROUND_FAIL("sma could not be run from %s", tool_path());
			continue;
		}
		if (code > 2)
			ROUND_FAIL("sma %s exited %d", cmds[i], code);
		if (i == 0) {
			int want = lib == P_SOUND ? 0
				   : lib == P_REPORTED ? 1 : 2;

			if (code != want)
				ROUND_FAIL("sma check exited %d where the "
					   "library says %d", code, want);
			if (code == 1 && tool_out_lines() < 2)
				ROUND_FAIL("sma check exited 1 without naming "
					   "a problem");
		} else if (lib == P_SOUND && code != 0) {
			ROUND_FAIL("sma %s exited %d on an arena that checks "
				   "clean", cmds[i], code);
		}
	}

	if (lib == P_SOUND) {
		st = spawn_wait(probe_alloc, NULL);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ROUND_FAIL("allocating in an arena that checked clean "
				   "went wrong: %s", status_text(st));
	}
	arena_remove();
	return bad ? -1 : 0;
}

static void run_rounds(enum pattern p, int n, uint64_t base)
{
	int i, failures = 0;

	snprintf(tool_out, sizeof tool_out, "%s/tool.out", t_tmpdir());
	assert_int_equal(access(tool_path(), X_OK), 0);
	for (i = 0; i < n; i++)
		if (one_round(p, base + (uint64_t)i) != 0)
			failures++;
	if (failures)
		fail_msg("%d of %d rounds went wrong (%s)", failures, n,
			 R.pattern);
}

/* ---- the tests ---- */

static void test_random_words_anywhere_never_crash_or_hang_a_reader(void **state)
{
	(void)state;
	run_rounds(PAT_WORDS_ANYWHERE, rounds(), 1000);
}

static void test_garbage_runs_in_the_header_and_tables_are_reported_or_harmless(void **state)
{
	(void)state;
	run_rounds(PAT_RUNS_IN_HEAD, rounds(), 2000);
}

static void test_garbage_in_freed_memory_is_reported_or_harmless(void **state)
{
	(void)state;
	run_rounds(PAT_WORDS_IN_FREE, rounds(), 3000);
}

static void test_garbage_just_before_live_objects_is_reported_or_harmless(void **state)
{
	(void)state;
	run_rounds(PAT_WORDS_BEFORE_LIVE, rounds(), 4000);
}

static void test_a_page_of_garbage_is_reported_or_harmless(void **state)
{
	(void)state;
	run_rounds(PAT_PAGE, rounds(), 5000);
}

static void test_flipped_bits_in_the_header_are_reported_or_harmless(void **state)
{
	(void)state;
	run_rounds(PAT_BITS_IN_HEAD, rounds(), 6000);
}

static void test_small_changes_to_header_words_are_reported_or_harmless(void **state)
{
	(void)state;
	run_rounds(PAT_DELTAS_IN_HEAD, rounds(), 7000);
}

static void test_writes_inside_live_objects_leave_the_arena_sound(void **state)
{
	(void)state;
	run_rounds(PAT_INSIDE_LIVE, rounds(), 8000);
}

static void test_a_wiped_header_is_refused_or_reported(void **state)
{
	(void)state;
	run_rounds(PAT_HEAD_WIPED, 2, 9000);
}

static void test_a_segment_of_all_ones_is_refused_or_reported(void **state)
{
	(void)state;
	run_rounds(PAT_ALL_ONES, 2, 9100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_random_words_anywhere_never_crash_or_hang_a_reader),
		T_TEST(test_garbage_runs_in_the_header_and_tables_are_reported_or_harmless),
		T_TEST(test_garbage_in_freed_memory_is_reported_or_harmless),
		T_TEST(test_garbage_just_before_live_objects_is_reported_or_harmless),
		T_TEST(test_a_page_of_garbage_is_reported_or_harmless),
		T_TEST(test_flipped_bits_in_the_header_are_reported_or_harmless),
		T_TEST(test_small_changes_to_header_words_are_reported_or_harmless),
		T_TEST(test_writes_inside_live_objects_leave_the_arena_sound),
		T_TEST(test_a_wiped_header_is_refused_or_reported),
		T_TEST(test_a_segment_of_all_ones_is_refused_or_reported),
	};

	return T_RUN_GROUP(tests);
}
