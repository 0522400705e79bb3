/*
 * tests/test_kill.c -- worker processes killed with SIGKILL at random
 * instants while they allocate, free, reallocate and name objects.
 *
 * The promise under test (API.md, "Process death"): a process killed at any
 * instant never blocks the others, and afterwards the heap is sound, no
 * live object is lost or handed out twice, and what the dead held comes
 * back.
 *
 * Rounds.  Before a round the test process owns canary objects, whose
 * contents are a checksum of their offset.  It starts 2 to 4 workers; each
 * does random work and records what it owns in a shared table (a named
 * object): an offset is written there after the allocation returned and
 * the object was filled, and cleared before the object is freed or
 * reallocated, so the table holds only objects that are live and whole.
 * The workers are killed one by one, each after a random 0-5 ms; after
 * each kill the test process reclaims the dead one's slot (sma_stats)
 * while the others work, and every worker still running must make
 * progress within a bounded time (else it counts as a hang).  Workers
 * change their private memory as they go (a process whose memory size
 * changed is still the same process).  After the round the test process
 * repairs (sma_recover, or just its next calls), and checks: sma_check,
 * the canaries, every object in the table (live, whole, no two
 * overlapping), and the statistics against the walk; then it frees what
 * the killed workers had in flight (live objects nobody owns).  A new
 * worker of a table row adopts what the dead one owned, so objects of dead
 * processes get freed by others too.
 *
 * At the end, freeing what the table holds, the named objects and the
 * canaries gives back the fresh arena.
 *
 * SMA_KILLS sets the number of SIGKILLs (1000 by default), SMA_SEED the
 * seed of the random choices.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define ARENA T_MIB(16)	    /* bytes of the arena of the random kills */
#define ROWS 4		    /* workers at once, at most */
#define ENTRIES 64	    /* objects one worker owns at most */
#define NAMES 8		    /* names one worker uses */
#define CANARIES 24	    /* objects of the test process */
#define TABLE "kill-test-owners"
#define WORKER_ALARM 60	    /* seconds a worker may live */
#define PROGRESS_S 10	    /* seconds a survivor may take for a few steps */
#define WAIT_S 10	    /* seconds a killed worker may take to be reaped */

/* What the workers own: written by them, read by the test process once
 * they are dead. */
struct entry {
	_Atomic uint64_t off; /* a live object, 0 = none */
	uint64_t size;	      /* bytes asked and filled */
	uint64_t seed;	      /* of the pattern it holds */
};
struct table {
	struct entry e[ROWS][ENTRIES];
};

/* Outside the arena: how far each worker got. */
struct progress {
	_Atomic uint64_t steps[ROWS];
};

struct canary {
	sma_off_t off;
	size_t size;
};

static struct {
	sma_t *a;
	struct table *t;
	struct progress *p;
	struct canary can[CANARIES];
	uint64_t rng;
	long kills, hangs, lost, in_flight;
	char why[512];
} g;

/* ---- the workers ------------------------------------------------------------ */

struct worker_arg {
	int row;
	uint64_t seed;
	struct t_gate *gate;
};

static size_t random_size(uint64_t *rng)
{
	uint64_t r = t_rand(rng) % 100;

	if (r < 65)
		return 1 + t_rand(rng) % 256;
	if (r < 95)
		return 257 + t_rand(rng) % 16128;
	return T_KIB(65) + t_rand(rng) % T_KIB(100);
}

/* Exits with a status saying what went wrong (the test process reports it). */
static void worker_fail(int status, const char *what, sma_off_t off)
{
	fprintf(stderr, "worker %d: %s (object %#llx): %s\n", (int)getpid(), what,
		(unsigned long long)off, strerror(errno));
	_exit(status);
}

static void own(struct entry *e, sma_t *a, sma_off_t off, size_t size, uint64_t *rng)
{
	e->size = size;
	e->seed = t_rand(rng);
	t_fill(sma_ptr(a, off), size, e->seed);
	atomic_store_explicit(&e->off, off, memory_order_release);
}

static void verify_owned(struct entry *e, sma_t *a)
{
	sma_off_t off = atomic_load(&e->off);

	if (!t_verify(sma_ptr(a, off), e->size, e->seed))
		worker_fail(3, "an owned object was overwritten", off);
}

static int worker_main(void *arg)
{
	struct worker_arg *w = arg;
	sma_t *a = g.a;
	struct entry *row = g.t->e[w->row];
	uint64_t rng = w->seed;
	char name[32];
	char *priv = NULL;
	long step = 0;

	alarm(WORKER_ALARM);
	t_gate_wait(w->gate);
	for (;; step++) {
		uint64_t r = t_rand(&rng) % 100;
		struct entry *e = &row[t_rand(&rng) % ENTRIES];
		sma_off_t off = atomic_load(&e->off), n;
		size_t size = random_size(&rng);

		if (step % 128 == 1) {
			/* Private memory comes and goes, as in any program: the
			 * process stays the same process. */
			char *p = realloc(priv, (1 + t_rand(&rng) % 8) << 20);
			if (p) {
				priv = p;
				priv[0] = 1;
			}
		}
		if (r < 45) {
			if (!off) {
				off = sma_alloc(a, size);
				if (off == SMA_NULL && errno != ENOMEM)
					worker_fail(2, "sma_alloc failed", 0);
				if (off)
					own(e, a, off, size, &rng);
			} else {
				verify_owned(e, a);
				atomic_store_explicit(&e->off, 0, memory_order_release);
				if (sma_free(a, off) != 0)
					worker_fail(4, "sma_free of an owned object failed", off);
			}
		} else if (r < 65) {
			if (off) {
				verify_owned(e, a);
				atomic_store_explicit(&e->off, 0, memory_order_release);
				n = sma_realloc(a, off, size);
				if (n == SMA_NULL) {
					if (errno != ENOMEM)
						worker_fail(5, "sma_realloc failed", off);
					atomic_store(&e->off, off); /* untouched */
				} else {
					own(e, a, n, size, &rng);
				}
			}
		} else if (r < 80) {
			snprintf(name, sizeof(name), "kill-%d-%d", w->row,
				 (int)(t_rand(&rng) % NAMES));
			if (t_rand(&rng) & 1) {
				n = sma_named_alloc(a, name, 64 + t_rand(&rng) % 2000, NULL);
				if (n == SMA_NULL && errno != ENOMEM && errno != EEXIST)
					worker_fail(6, "sma_named_alloc failed", 0);
			} else if (sma_named_free(a, name) != 0 && errno != ENOENT) {
				worker_fail(7, "sma_named_free failed", 0);
			}
		} else {
			/* A short-lived object. */
			off = sma_alloc(a, size);
			if (off == SMA_NULL && errno != ENOMEM)
				worker_fail(2, "sma_alloc failed", 0);
			if (off) {
				t_fill(sma_ptr(a, off), size, off);
				if (!t_verify(sma_ptr(a, off), size, off))
					worker_fail(3, "a new object was overwritten", off);
				if (sma_free(a, off) != 0)
					worker_fail(4, "sma_free of a new object failed", off);
			}
		}
		atomic_fetch_add(&g.p->steps[w->row], 1);
	}
	return 0;
}

/* ---- the test process's checks --------------------------------------------------- */

static void canary_make(struct canary *c)
{
	c->size = random_size(&g.rng);
	c->off = sma_alloc(g.a, c->size);
	if (c->off == SMA_NULL)
		fail_msg("sma_alloc(%zu) of a canary: %s", c->size, strerror(errno));
	t_fill(sma_ptr(g.a, c->off), c->size, c->off * 7 + 1);
}

static int canary_ok(const struct canary *c)
{
	return sma_usable_size(g.a, c->off) >= c->size &&
	       t_verify(sma_ptr(g.a, c->off), c->size, c->off * 7 + 1);
}

struct span {
	sma_off_t off;
	size_t size;
};

static int cmp_span(const void *x, const void *y)
{
	const struct span *a = x, *b = y;
	return a->off < b->off ? -1 : a->off > b->off;
}

/*
 * Every owned object and canary is live and whole, and no two of them
 * overlap.  Returns the number of objects that are not (lost).
 */
static long check_objects(int round)
{
	static struct span sp[ROWS * ENTRIES + CANARIES];
	size_t n = 0;
	long lost = 0;

	for (int i = 0; i < CANARIES; i++) {
		if (!canary_ok(&g.can[i])) {
			print_error("round %d: the canary %#llx (%zu bytes) is not live and whole\n",
				    round, (unsigned long long)g.can[i].off, g.can[i].size);
			lost++;
		}
		sp[n++] = (struct span){g.can[i].off, g.can[i].size};
	}
	for (int r = 0; r < ROWS; r++)
		for (int i = 0; i < ENTRIES; i++) {
			struct entry *e = &g.t->e[r][i];
			sma_off_t off = atomic_load(&e->off);
			if (!off)
				continue;
			if (sma_usable_size(g.a, off) < e->size ||
			    !t_verify(sma_ptr(g.a, off), e->size, e->seed)) {
				print_error("round %d: the object %#llx (%llu bytes) of worker row %d "
					    "is not live and whole\n",
					    round, (unsigned long long)off,
					    (unsigned long long)e->size, r);
				lost++;
			}
			sp[n++] = (struct span){off, e->size};
		}
	qsort(sp, n, sizeof(sp[0]), cmp_span);
	for (size_t i = 1; i < n; i++)
		if (sp[i - 1].off + sp[i - 1].size > sp[i].off) {
			print_error("round %d: objects %#llx and %#llx overlap: one was handed out "
				    "twice\n",
				    round, (unsigned long long)sp[i - 1].off,
				    (unsigned long long)sp[i].off);
			lost++;
		}
	return lost;
}

static void assert_stats_agree(sma_t *a)
{
	struct t_walk w;
	struct sma_stats st;

	memset(&w, 0, sizeof(w));
	t_walk(a, &w); /* used, free and live agree with the walk */
	st = t_stats(a);
	assert_int_equal(st.live, st.allocs - st.frees);
	assert_true(st.largest_free <= st.free);
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Worker row (process pid) must take a few more steps within PROGRESS_S
 * seconds: 0 if it did, 1 if it hung, 2 if it ended by itself (*status).
 */
static int survivor_check(int row, pid_t pid, int *status)
{
	uint64_t from = atomic_load(&g.p->steps[row]);
	double deadline = now_s() + PROGRESS_S;

	while (atomic_load(&g.p->steps[row]) < from + 3) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 2;
		if (now_s() > deadline)
			return 1;
		sleep_us(50);
	}
	return 0;
}

static const char *status_text(int st)
{
	static char buf[96];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited with status %d (see its message)",
			 WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "died of signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof(buf), "ended with status %#x", st);
	return buf;
}

/* One round: n workers, each killed after a random delay. */
static void one_round(int round, int n)
{
	struct worker_arg wa[ROWS];
	pid_t pid[ROWS];
	int alive[ROWS];
	struct t_gate gate;

	t_gate_init(&gate);
	for (int i = 0; i < n; i++) {
		wa[i] = (struct worker_arg){i, t_rand(&g.rng), &gate};
		pid[i] = t_fork(worker_main, &wa[i]);
		alive[i] = 1;
	}
	if (t_gate_release(&gate, n) != n)
		fail_msg("round %d: a worker died before it started", round);
	for (int left = n; left > 0; left--) {
		int pick = (int)(t_rand(&g.rng) % (uint64_t)left), i, st;

		for (i = 0; i < n; i++)
			if (alive[i] && pick-- == 0)
				break;
		sleep_us((long)(t_rand(&g.rng) % 5001));
		kill(pid[i], SIGKILL);
		st = t_wait(pid[i], WAIT_S);
		alive[i] = 0;
		if (st == -1)
			fail_msg("round %d: a killed worker was not reaped within %d s", round, WAIT_S);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
			g.hangs++;
			fail_msg("round %d: worker %d hung until its watchdog", round, (int)pid[i]);
		}
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail_msg("round %d: worker %d %s before it was killed", round, (int)pid[i],
				 status_text(st));
		g.kills++;
		/* A reclaim of the dead one's slot while the others work. */
		if (left > 1 && sma_stats(g.a, &(struct sma_stats){0}) != 0)
			fail_msg("round %d: sma_stats while workers run: %s", round, strerror(errno));
		for (int j = 0; j < n; j++) {
			int how, wst = 0;
			if (!alive[j])
				continue;
			how = survivor_check(j, pid[j], &wst);
			if (how == 2) {
				alive[j] = 0;
				t_wait(pid[j], 1); /* forgets it; reaped already */
				fail_msg("round %d: worker %d %s, after worker %d was killed", round,
					 (int)pid[j], status_text(wst), (int)pid[i]);
			}
			if (how == 1) {
				g.hangs++;
				fail_msg("round %d: worker %d made no progress within %d s after worker "
					 "%d was killed", round, (int)pid[j], PROGRESS_S, (int)pid[i]);
			}
		}
	}
}

static int count_live(sma_off_t off, size_t size, int in_use, void *arg)
{
	sma_off_t *list = arg;

	(void)size;
	if (in_use && list[0] < 4095)
		list[++list[0]] = off;
	return 0;
}

static char names[ROWS * NAMES + 8][SMA_NAME_MAX + 1];
static int n_names;

static int collect_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	(void)off;
	(void)size;
	(void)arg;
	if (n_names < (int)(sizeof(names) / sizeof(names[0])))
		snprintf(names[n_names++], sizeof(names[0]), "%s", name);
	return 0;
}


static int cmp_off(const void *x, const void *y)
{
	sma_off_t a = *(const sma_off_t *)x, b = *(const sma_off_t *)y;
	return a < b ? -1 : a > b;
}

static int collect_named_off(const char *name, sma_off_t off, size_t size, void *arg)
{
	sma_off_t *list = arg;

	(void)name;
	(void)size;
	if (list[0] < 4095)
		list[++list[0]] = off;
	return 0;
}

/*
 * Frees what the killed workers had in flight: objects live, yet owned by
 * nobody (not in the table, not a canary, not named).  They come back to
 * the arena, so that the rounds do not fill it up.
 */
static void free_in_flight(int round)
{
	static sma_off_t keep[4096], live[4096];
	size_t nk;

	keep[0] = 0;
	assert_int_equal(sma_named_each(g.a, collect_named_off, keep), 0);
	for (int i = 0; i < CANARIES; i++)
		keep[++keep[0]] = g.can[i].off;
	for (int r = 0; r < ROWS; r++)
		for (int i = 0; i < ENTRIES; i++) {
			sma_off_t off = atomic_load(&g.t->e[r][i].off);
			if (off)
				keep[++keep[0]] = off;
		}
	nk = (size_t)keep[0];
	qsort(keep + 1, nk, sizeof(keep[0]), cmp_off);
	live[0] = 0;
	assert_int_equal(sma_walk(g.a, count_live, live), 0);
	for (sma_off_t i = 1; i <= live[0]; i++) {
		if (bsearch(&live[i], keep + 1, nk, sizeof(keep[0]), cmp_off))
			continue;
		if (sma_free(g.a, live[i]) != 0)
			fail_msg("round %d: sma_free(%#llx) of an object a killed worker had in "
				 "flight: %s", round, (unsigned long long)live[i], strerror(errno));
		g.in_flight++;
	}
}

/* After a round: the repair, then every check. */
static void after_round(int round)
{
	long lost;

	if (round % 2 == 0) {
		if (sma_recover(g.a) != 0)
			fail_msg("round %d: sma_recover: %s", round, strerror(errno));
	}
	/* The test process's next calls (the canaries it replaces) repair
	 * what the last lock holder left; sma_stats gives back dead caches. */
	for (int k = 0; k < 2; k++) {
		struct canary *c = &g.can[t_rand(&g.rng) % CANARIES];
		if (!canary_ok(c))
			break; /* reported by check_objects */
		if (sma_free(g.a, c->off) != 0)
			fail_msg("round %d: sma_free of a canary: %s", round, strerror(errno));
		canary_make(c);
	}
	t_stats(g.a);
	if (sma_check(g.a) != 0)
		print_error("round %d, repaired by %s:\n", round,
			    round % 2 == 0 ? "sma_recover" : "the next calls");
	t_assert_check(g.a);
	lost = check_objects(round);
	g.lost += lost;
	if (lost)
		fail_msg("round %d: %ld objects lost or damaged", round, lost);
	assert_stats_agree(g.a);
	free_in_flight(round);
}

/* Frees everything; the arena is as fresh. */
static void free_everything(const struct sma_stats *fresh)
{
	static sma_off_t rest[4096];
	struct sma_stats st;

	for (int r = 0; r < ROWS; r++)
		for (int i = 0; i < ENTRIES; i++) {
			sma_off_t off = atomic_load(&g.t->e[r][i].off);
			if (off && sma_free(g.a, off) != 0)
				fail_msg("sma_free(%#llx) of an owned object: %s",
					 (unsigned long long)off, strerror(errno));
		}
	for (int i = 0; i < CANARIES; i++)
		assert_int_equal(sma_free(g.a, g.can[i].off), 0);
	n_names = 0;
	assert_int_equal(sma_named_each(g.a, collect_name, NULL), 0);
	for (int i = 0; i < n_names; i++)
		if (sma_named_free(g.a, names[i]) != 0)
			fail_msg("sma_named_free(%s): %s", names[i], strerror(errno));
	g.t = NULL;
	/* What was in flight when a worker was killed: live, owned by nobody. */
	rest[0] = 0;
	assert_int_equal(sma_walk(g.a, count_live, rest), 0);
	g.in_flight += (long)rest[0];
	for (sma_off_t i = 1; i <= rest[0]; i++)
		if (sma_free(g.a, rest[i]) != 0)
			fail_msg("sma_free(%#llx) of an object left in flight: %s",
				 (unsigned long long)rest[i], strerror(errno));
	assert_int_equal(sma_flush(g.a), 0);
	st = t_stats(g.a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.free, fresh->free);
	assert_int_equal(st.largest_free, fresh->heap_size);
	t_assert_check(g.a);
}

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : dflt;
}

static void test_a_thousand_sigkills_at_random_instants_lose_nothing_and_hang_nobody(void **state)
{
	long want = env_long("SMA_KILLS", 1000);
	uint64_t seed = (uint64_t)env_long("SMA_SEED", (long)time(NULL));
	struct sma_stats fresh;
	int created = 0, round = 0;
	double t0 = now_s();

	(void)state;
	if (want < 1)
		want = 1;
	memset(&g, 0, sizeof(g));
	g.rng = seed;
	g.p = mmap(NULL, sizeof(*g.p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(g.p != MAP_FAILED);
	g.a = t_open_private(ARENA);
	fresh = t_stats(g.a);
	g.t = sma_ptr(g.a, sma_named_alloc(g.a, TABLE, sizeof(struct table), &created));
	assert_non_null(g.t);
	assert_int_equal(created, 1);
	for (int i = 0; i < CANARIES; i++)
		canary_make(&g.can[i]);

	while (g.kills < want) {
		long n = 2 + (long)(t_rand(&g.rng) % 3);
		if (n > want - g.kills)
			n = want - g.kills;
		one_round(round, (int)n);
		after_round(round);
		round++;
	}
	free_everything(&fresh);
	t_destroy(g.a);
	munmap(g.p, sizeof(*g.p));
	printf("# kills survived: %ld, hangs: %ld, objects lost: %ld (%d rounds, seed %llu, "
	       "%.1f s; %ld objects the kills left in flight were live, owned by nobody, and freed)\n",
	       g.kills, g.hangs, g.lost, round, (unsigned long long)seed, now_s() - t0,
	       g.in_flight);
	fflush(stdout);
}

/* ---- slots of the dead, reclaimed when needed ---------------------------------- */

struct slot_seen {
	pid_t pid;  /* the process looked for */
	int found;  /* it holds a slot */
	int dead;   /* slots held by processes that are gone */
	int held;   /* slots held */
};

static int see_slot(const struct sma_slot_info *s, void *arg)
{
	struct slot_seen *ss = arg;

	ss->held++;
	if (!s->alive)
		ss->dead++;
	if (s->pid == ss->pid && s->alive)
		ss->found = 1;
	return 0;
}

static int slot_worker(void *arg)
{
	int *ready = arg;
	uint64_t rng = (uint64_t)getpid();
	sma_off_t ring[16] = {0};
	char ch = 'r';

	alarm(WORKER_ALARM);
	for (int i = 0;; i++) {
		sma_off_t *o = &ring[i % 16];
		if (*o && sma_free(g.a, *o) != 0)
			worker_fail(4, "sma_free failed", *o);
		*o = sma_alloc(g.a, 1 + t_rand(&rng) % 256);
		if (*o == SMA_NULL)
			worker_fail(2, "sma_alloc failed", 0);
		if (i == 64) {
			/* Private memory after the slot was taken, as any
			 * program allocates: still the same process. */
			char *priv = malloc((size_t)4 << 20);
			if (priv)
				priv[0] = 1;
			if (t_write_all(*ready, &ch, 1) != 0)
				worker_fail(8, "cannot report", 0);
		}
	}
	return 0;
}

/*
 * A small arena has few slots.  Processes that take one and are killed,
 * many more than there are slots, with nobody calling sma_recover: each
 * new process still gets a slot (a dead one's, reclaimed), and at the end
 * sma_recover gives back everything but what they left live.
 */
static void test_slots_of_killed_processes_are_reclaimed_when_a_new_process_needs_one(void **state)
{
	struct sma_info in;
	struct sma_stats fresh;
	struct slot_seen ss;
	int ready[2];

	(void)state;
	memset(&g, 0, sizeof(g));
	g.a = t_open_private(T_MIB(1));
	fresh = t_stats(g.a);
	assert_int_equal(sma_info(g.a, &in), 0);
	t_pipe(ready);
	for (unsigned i = 0; i < 4 * in.nslots + 4; i++) {
		pid_t pid = t_fork(slot_worker, &ready[1]);
		char ch;
		int st;

		if (t_read_all(ready[0], &ch, 1) != 0)
			fail_msg("worker %u did not start working", i);
		/* A reclaim of dead slots (sma_stats does one) while it runs
		 * must leave its slot alone. */
		t_stats(g.a);
		memset(&ss, 0, sizeof(ss));
		ss.pid = pid;
		assert_int_equal(sma_slots_each(g.a, see_slot, &ss), 0);
		if (!ss.found)
			fail_msg("worker %u (pid %d), alive and working, holds no slot: %d held, "
				 "%d of them by dead processes", i, (int)pid, ss.held, ss.dead);
		assert_true(ss.held <= (int)in.nslots);
		sleep_us((long)(t_rand(&g.rng) % 2000));
		kill(pid, SIGKILL);
		st = t_wait(pid, WAIT_S);
		assert_int_not_equal(st, -1);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		g.kills++;
	}
	close(ready[0]);
	close(ready[1]);
	assert_int_equal(sma_recover(g.a), 0);
	t_assert_check(g.a);
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(sma_slots_each(g.a, see_slot, &ss), 0);
	assert_int_equal(ss.dead, 0);
	{
		static sma_off_t rest[4096];
		struct sma_stats st;

		rest[0] = 0;
		assert_int_equal(sma_walk(g.a, count_live, rest), 0);
		for (sma_off_t i = 1; i <= rest[0]; i++)
			assert_int_equal(sma_free(g.a, rest[i]), 0);
		assert_int_equal(sma_flush(g.a), 0);
		st = t_stats(g.a);
		assert_int_equal(st.live, 0);
		assert_int_equal(st.free, fresh.free);
		assert_int_equal(st.largest_free, fresh.heap_size);
	}
	printf("# %ld processes killed holding slots of an arena of %u slots, none left without one\n",
	       g.kills, in.nslots);
	fflush(stdout);
	t_destroy(g.a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_thousand_sigkills_at_random_instants_lose_nothing_and_hang_nobody),
		T_TEST(test_slots_of_killed_processes_are_reclaimed_when_a_new_process_needs_one),
	};

	return T_RUN_GROUP(tests);
}
