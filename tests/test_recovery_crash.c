/*
 * tests/test_recovery_crash.c -- a death during the repair of a death.
 *
 * Linked against libsma_crash.la (see tests/test_crash.c): in a child,
 * sma__crash_after(n) makes the nth STEP() from then on _exit(77), as a
 * SIGKILL would stop the process there.
 *
 * Each case has three processes on a fresh arena.  D, the first to die,
 * sets up what it holds (objects it records in a table outside the arena,
 * a full cache) and is stopped at step j of an operation (or simply exits
 * holding its slot).  R then runs what repairs D's death -- a reclaim of
 * D's slot (sma_stats), sma_recover, or the next lock holder's repair that
 * a locked call starts -- and is stopped at step k of it, for every k.
 * Then the test process looks, before anything repairs again, on a
 * read-only handle (sma_check must pass: what the two deaths left is
 * consistent), allocates objects of the sizes D cached (through its own
 * cache, without waiting for any reclaim), repairs (by sma_recover, and
 * on another run by just going on) and checks:
 *   - sma_check passes;
 *   - every object D recorded, every canary of the test process and every
 *     object it allocated after the deaths is live and whole; at most one object D was making, and one R was, is
 *     live besides;
 *   - everything the arena can still hand out (allocated until ENOMEM, of
 *     small and medium sizes) overlaps no live object: nothing is handed
 *     out twice;
 *   - freeing everything gives back the fresh arena.
 * j takes the first, middle and last step of D's operation.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

void sma__crash_after(long n);
long sma__crash_steps(void);

#define ARENA T_MIB(1)
#define CRASH_STATUS 77
#define MAX_OWNED 512
#define CANARIES 8
#define WAIT_S 30
#define NAME "recovery-crash"

/* What D holds, recorded outside the arena (a shared mapping): an entry
 * is written after the object was allocated and filled, and cleared
 * before it is freed. */
struct table {
	long steps;		    /* steps the counted operation took */
	size_t n;
	sma_off_t off[MAX_OWNED];
	size_t size[MAX_OWNED];
	sma_off_t target;	    /* the object D's operation frees, 0 = none */
	size_t target_size;
};

struct plan;
struct run {
	const struct plan *p;
	sma_t *a;
	struct table *t;
	long j, k;		    /* crash steps of D and R; 0 = count */
};

struct plan {
	const char *what;
	void (*d_setup)(struct run *r);	 /* in D, before its operation */
	void (*d_op)(struct run *r);	 /* D's operation, crashed at j; NULL:
					    D exits holding what it holds */
	void (*r_op)(struct run *r);	 /* R's operation, crashed at k */
};

static char why[1024];

#define BAD(...)                                         \
	do {                                             \
		snprintf(why, sizeof(why), __VA_ARGS__); \
		return -1;                               \
	} while (0)

/* ---- D ---------------------------------------------------------------------- */

static sma_off_t d_alloc(struct run *r, size_t size)
{
	sma_off_t off = sma_alloc(r->a, size);

	T_REQUIRE(off != SMA_NULL);
	T_REQUIRE(r->t->n < MAX_OWNED);
	t_fill(sma_ptr(r->a, off), size, off);
	r->t->off[r->t->n] = off;
	r->t->size[r->t->n] = size;
	r->t->n++;
	return off;
}

/* Frees the last object D recorded (its entry cleared first). */
static void d_free_last(struct run *r)
{
	sma_off_t off = r->t->off[--r->t->n];

	T_REQUIRE(sma_free(r->a, off) == 0);
}

/* A cache with objects of four small classes and one medium one, and
 * recorded objects in the same slabs. */
static void d_full_cache(struct run *r)
{
	static const size_t sizes[] = {16, 48, 96, 256, 1000};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int i = 0; i < 40; i++)
			d_alloc(r, sizes[s]);
		for (int i = 0; i < 24; i++)
			d_free_last(r);
	}
}

/* As d_full_cache, with the object the operation frees set apart. */
static void d_full_cache_and_target(struct run *r)
{
	d_full_cache(r);
	r->t->target = d_alloc(r, 48);
	r->t->target_size = 48;
	r->t->n--; /* not recorded: the operation frees it */
}

static void d_large_target(struct run *r)
{
	d_full_cache(r);
	r->t->target = d_alloc(r, T_KIB(100));
	r->t->target_size = T_KIB(100);
	r->t->n--;
}

static void d_op_pop(struct run *r) { sma_alloc(r->a, 48); }
static void d_op_push(struct run *r) { sma_free(r->a, r->t->target); }
static void d_op_large_free(struct run *r) { sma_free(r->a, r->t->target); }
static void d_op_named(struct run *r) { sma_named_alloc(r->a, NAME, 500, NULL); }

/* A refill under the lock: the class of 32 bytes is empty in D's cache. */
static void d_op_refill(struct run *r) { sma_alloc(r->a, 32); }

static uint64_t cached_96(sma_t *a)
{
	struct sma_class_stats cs;

	T_REQUIRE(sma_class_stats(a, 5, &cs) == 0 && cs.size == 96);
	return cs.cached;
}

/* A flush under the lock: D's cache of 96 bytes is full, so that freeing
 * one more flushes it.  (The capacity is learnt from the first flush.) */
static void d_full_96(struct run *r)
{
	uint64_t cap = 0;

	d_full_cache(r);
	for (int i = 0; i < 120; i++)
		d_alloc(r, 96);
	r->t->target = r->t->off[--r->t->n];
	r->t->target_size = 96;
	for (;;) {
		uint64_t before = cached_96(r->a);
		T_REQUIRE(r->t->n > 0);
		if (cap && before == cap)
			break;
		d_free_last(r);
		if (cached_96(r->a) < before)
			cap = before;
	}
}

static int d_main(void *arg)
{
	struct run *r = arg;

	alarm(WAIT_S);
	r->p->d_setup(r);
	if (r->p->d_op) {
		sma__crash_after(r->j);
		r->p->d_op(r);
		if (r->j == 0)
			r->t->steps = sma__crash_steps();
		else
			return 3; /* armed, yet the operation finished */
	}
	return 0; /* dies holding its slot and cache */
}

/* ---- R ---------------------------------------------------------------------- */

static void r_stats(struct run *r)
{
	struct sma_stats st;

	sma_stats(r->a, &st);
}

static void r_recover(struct run *r) { sma_recover(r->a); }
static void r_large_alloc(struct run *r) { sma_alloc(r->a, T_KIB(70)); }
static void r_small_alloc(struct run *r) { sma_alloc(r->a, 64); }
static void r_named(struct run *r) { sma_named_alloc(r->a, NAME "-r", 100, NULL); }

static int r_main(void *arg)
{
	struct run *r = arg;

	alarm(WAIT_S);
	sma__crash_after(r->k);
	r->p->r_op(r);
	if (r->k == 0)
		r->t->steps = sma__crash_steps();
	return r->k ? 3 : 0;
}

/* ---- the test process's checks ----------------------------------------------- */

static int note(const char *problem, void *arg)
{
	size_t len = strlen(why);

	(void)arg;
	if (len + 4 < sizeof(why))
		snprintf(why + len, sizeof(why) - len, "; %s", problem);
	return 0;
}

static int check_clean(sma_t *a, const char *when)
{
	if (sma_check(a) == 0)
		return 0;
	snprintf(why, sizeof(why), "sma_check fails %s", when);
	sma_check_report(a, note, NULL);
	return -1;
}

struct canary {
	sma_off_t off;
	size_t size;
};

#define AFTER 60 /* objects the test process allocates after the deaths */
static struct canary after[AFTER];

struct span {
	sma_off_t off;
	size_t size;
};

struct spans {
	struct span v[4096];
	size_t n;
};

static int collect(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct spans *s = arg;

	if (in_use && s->n < 4096)
		s->v[s->n++] = (struct span){off, size};
	return 0;
}

static int known(const struct run *r, const struct canary *can, sma_off_t off)
{
	for (size_t i = 0; i < r->t->n; i++)
		if (r->t->off[i] == off)
			return 1;
	for (int i = 0; i < CANARIES; i++)
		if (can[i].off == off)
			return 1;
	for (int i = 0; i < AFTER; i++)
		if (after[i].off == off)
			return 1;
	return 0;
}

static int overlaps(const struct spans *live, sma_off_t off, size_t size)
{
	for (size_t i = 0; i < live->n; i++)
		if (off < live->v[i].off + live->v[i].size && live->v[i].off < off + size)
			return 1;
	return 0;
}

/* Every object recorded is live and whole, at most two others are live;
 * nothing new overlaps them; freeing all gives the fresh arena back. */
static int check_after(struct run *r, const struct canary *can, const struct sma_stats *fresh)
{
	sma_t *a = r->a;
	static struct spans live;
	static sma_off_t news[20000];
	static size_t nsize[20000];
	size_t nnew = 0, extra = 0;
	struct sma_stats st;

	if (check_clean(a, "after the repair") < 0)
		return -1;
	for (int i = 0; i < CANARIES; i++)
		if (sma_usable_size(a, can[i].off) < can[i].size ||
		    !t_verify(sma_ptr(a, can[i].off), can[i].size, can[i].off))
			BAD("canary %#llx is not live and whole", (unsigned long long)can[i].off);
	for (int i = 0; i < AFTER; i++)
		if (after[i].off && (sma_usable_size(a, after[i].off) < after[i].size ||
				     !t_verify(sma_ptr(a, after[i].off), after[i].size, after[i].off)))
			BAD("an object allocated after the deaths (%#llx) is not live and whole",
			    (unsigned long long)after[i].off);
	for (size_t i = 0; i < r->t->n; i++)
		if (sma_usable_size(a, r->t->off[i]) < r->t->size[i] ||
		    !t_verify(sma_ptr(a, r->t->off[i]), r->t->size[i], r->t->off[i]))
			BAD("an object the dead process held (%#llx) is not live and whole",
			    (unsigned long long)r->t->off[i]);
	live.n = 0;
	if (sma_walk(a, collect, &live) != 0)
		BAD("sma_walk: %s", strerror(errno));
	for (size_t i = 0; i < live.n; i++)
		if (!known(r, can, live.v[i].off) && live.v[i].off != r->t->target)
			extra++;
	if (extra > 2)
		BAD("%zu live objects nobody made", extra);

	/* Everything that can be had, of mixed sizes: none overlaps a live
	 * object, and each keeps what was written into it. */
	for (size_t size = 16; nnew < 20000;) {
		sma_off_t off = sma_alloc(a, size);
		if (!off) {
			if (size == 16)
				break;
			size = 16;
			continue;
		}
		if (overlaps(&live, off, size))
			BAD("%#llx (%zu bytes) handed out while live", (unsigned long long)off, size);
		t_fill(sma_ptr(a, off), size, off);
		nsize[nnew] = size;
		news[nnew++] = off;
		size = size < 2000 ? size * 3 : 16;
	}
	for (size_t i = 0; i < nnew; i++)
		if (!t_verify(sma_ptr(a, news[i]), nsize[i], news[i]))
			BAD("a new object %#llx was overwritten: handed out twice", (unsigned long long)news[i]);
	for (size_t i = 0; i < nnew; i++)
		sma_free(a, news[i]);
	for (size_t i = 0; i < live.n; i++)
		sma_free(a, live.v[i].off); /* named ones: EBUSY, freed by name below */
	sma_named_free(a, NAME);
	sma_named_free(a, NAME "-r");
	sma_flush(a);
	st = t_stats(a);
	if (st.live != 0 || st.free != fresh->free || st.largest_free != fresh->heap_size)
		BAD("after freeing everything: %llu live, free %zu (fresh %zu), largest %zu (heap %zu)",
		    (unsigned long long)st.live, st.free, fresh->free, st.largest_free, fresh->heap_size);
	return check_clean(a, "after freeing everything");
}

/* One run: D dies at step j, R at step k (k == 0: R is counted and not
 * crashed), the test process repairs (by sma_recover, or by its next
 * calls) and checks.  With j == 0 and R not run (k < 0), D's steps are
 * counted.  Returns the steps counted, 0, or -1 with why[]. */
static long run_once(const struct plan *p, long j, long k, int by_recover)
{
	struct run r = {.p = p, .j = j, .k = k};
	struct canary can[CANARIES];
	struct sma_stats fresh;
	sma_t *ro;
	long rc = -1;
	int st;

	why[0] = '\0';
	memset(after, 0, sizeof after);
	r.t = mmap(NULL, sizeof *r.t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(r.t != MAP_FAILED);
	memset(r.t, 0, sizeof *r.t);
	r.a = t_open_private(ARENA);
	fresh = t_stats(r.a);
	for (int i = 0; i < CANARIES; i++) {
		can[i].size = 24 + (size_t)i * 300;
		can[i].off = t_alloc_ok(r.a, can[i].size);
		t_fill(sma_ptr(r.a, can[i].off), can[i].size, can[i].off);
	}
	sma_flush(r.a); /* the test process holds no cache while others die */

	st = t_wait(t_fork(d_main, &r), WAIT_S);
	if (j == 0 && k < 0) {
		if (st != 0)
			BAD("D's counting run failed (status %#x)", st);
		rc = r.t->steps;
		goto out;
	}
	if (p->d_op && (!WIFEXITED(st) || WEXITSTATUS(st) != CRASH_STATUS))
		BAD("D ended with status %#x, not the crash status", st);
	if (!p->d_op && st != 0)
		BAD("D ended with status %#x", st);
	r.t->steps = 0;
	st = t_wait(t_fork(r_main, &r), WAIT_S);
	if (k == 0) {
		if (st != 0)
			BAD("R's counting run failed (status %#x)", st);
		rc = r.t->steps;
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != CRASH_STATUS) {
		BAD("R ended with status %#x, not the crash status (step %ld of its repair)", st, k);
	}

	/* Before anything repairs again: what two deaths left checks clean. */
	ro = sma_open_id(sma_shmid(r.a), SMA_RDONLY);
	if (!ro)
		BAD("sma_open_id read-only: %s", strerror(errno));
	if (check_clean(ro, "on a read-only handle before any repair") < 0) {
		sma_close(ro);
		goto out;
	}
	sma_close(ro);
	/* Objects of the sizes D cached, before anyone reclaims what it
	 * held: whatever the repairs give back later must not be these. */
	for (int i = 0; i < AFTER; i++) {
		static const size_t sizes[] = {16, 48, 96, 256, 1000};
		after[i].size = sizes[i % 5];
		after[i].off = sma_alloc(r.a, after[i].size);
		if (after[i].off)
			t_fill(sma_ptr(r.a, after[i].off), after[i].size, after[i].off);
	}
	if (by_recover) {
		if (sma_recover(r.a) != 0)
			BAD("sma_recover: %s", strerror(errno));
	} else {
		sma_off_t o = sma_alloc(r.a, T_KIB(70)); /* the lock: a repair */
		sma_free(r.a, o);
		t_stats(r.a); /* reclaims dead slots */
	}
	if (check_after(&r, can, &fresh) < 0)
		goto out;
	if (k != 0)
		rc = 0;
out:
	t_untrack(r.a);
	sma_destroy(r.a);
	munmap(r.t, sizeof *r.t);
	return why[0] ? -1 : rc;
}

static long points, repairs;

static void run_plan(const struct plan *p)
{
	long dsteps = p->d_op ? run_once(p, 0, -1, 1) : 1;
	int failed = 0;
	char first[1200] = "";

	if (dsteps < 0)
		fail_msg("%s: %s", p->what, why);
	long js[3] = {1, (dsteps + 1) / 2, dsteps};
	for (int ji = 0; ji < (p->d_op ? 3 : 1); ji++) {
		long j = p->d_op ? js[ji] : 0;
		if (ji > 0 && js[ji] == js[ji - 1])
			continue;
		long n = run_once(p, j, 0, 1);
		if (n < 0)
			fail_msg("%s, D at step %ld, R uncrashed: %s", p->what, j, why);
		for (long k = 1; k <= n; k++) {
			for (int by = 1; by >= 0; by--) {
				if (run_once(p, j, k, by) == 0) {
					repairs++;
					continue;
				}
				if (!failed++)
					snprintf(first, sizeof(first), "D at step %ld, R at step %ld of %ld, repaired by %s: %s",
						 j, k, n, by ? "sma_recover" : "the next calls", why);
			}
			points++;
		}
		print_message("# %s, D stopped at step %ld of %ld: R crashed at each of %ld steps\n", p->what, j,
			      dsteps, n);
	}
	if (failed)
		fail_msg("%s: %d repairs failed; the first: %s", p->what, failed, first);
}

#define PLAN_TEST(name, ...)                          \
	static void name(void **state)                \
	{                                             \
		static const struct plan p = {__VA_ARGS__}; \
		(void)state;                          \
		run_plan(&p);                         \
	}

PLAN_TEST(test_a_death_while_reclaiming_the_slot_of_a_process_killed_in_a_pop_loses_nothing,
	  .what = "pop, then a reclaim (sma_stats)", .d_setup = d_full_cache, .d_op = d_op_pop,
	  .r_op = r_stats)
PLAN_TEST(test_a_death_in_sma_recover_after_a_process_killed_in_a_push_loses_nothing,
	  .what = "push, then sma_recover", .d_setup = d_full_cache_and_target, .d_op = d_op_push,
	  .r_op = r_recover)
PLAN_TEST(test_a_death_while_reclaiming_the_slot_of_a_dead_process_loses_nothing,
	  .what = "exit holding a full cache, then sma_recover", .d_setup = d_full_cache, .d_op = NULL,
	  .r_op = r_recover)
PLAN_TEST(test_a_death_in_the_repair_of_a_refill_loses_nothing,
	  .what = "refill under the lock, then the next holder's repair", .d_setup = d_full_cache,
	  .d_op = d_op_refill, .r_op = r_large_alloc)
PLAN_TEST(test_a_death_in_the_repair_of_a_flush_loses_nothing,
	  .what = "flush under the lock, then the next holder's repair", .d_setup = d_full_96,
	  .d_op = d_op_push, .r_op = r_small_alloc)
PLAN_TEST(test_a_death_in_the_repair_of_a_large_free_loses_nothing,
	  .what = "large free under the lock, then the next holder's repair", .d_setup = d_large_target,
	  .d_op = d_op_large_free, .r_op = r_large_alloc)
PLAN_TEST(test_a_death_in_the_repair_of_a_named_allocation_loses_nothing,
	  .what = "named allocation, then the next holder's repair", .d_setup = d_full_cache,
	  .d_op = d_op_named, .r_op = r_named)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_death_while_reclaiming_the_slot_of_a_process_killed_in_a_pop_loses_nothing),
		T_TEST(test_a_death_in_sma_recover_after_a_process_killed_in_a_push_loses_nothing),
		T_TEST(test_a_death_while_reclaiming_the_slot_of_a_dead_process_loses_nothing),
		T_TEST(test_a_death_in_the_repair_of_a_refill_loses_nothing),
		T_TEST(test_a_death_in_the_repair_of_a_flush_loses_nothing),
		T_TEST(test_a_death_in_the_repair_of_a_large_free_loses_nothing),
		T_TEST(test_a_death_in_the_repair_of_a_named_allocation_loses_nothing),
	};
	int rc = T_RUN_GROUP(tests);
	printf("# recovery crash points covered: %ld (each a second death during the repair of a first; "
	       "%ld repairs checked)\n",
	       points, repairs);
	return rc;
}
