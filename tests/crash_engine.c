/*
 * tests/crash_engine.c -- the engine of the crash-point tests (see
 * crash_engine.h): the child that runs a scenario, the processes that hold
 * every slot, the checks after a crash, and the runs of a scenario.
 */
#define _GNU_SOURCE
#include "crash_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <sys/wait.h>

/* How the test process goes on after the crash. */
enum repair { BY_RECOVER, BY_NEXT_CALLS };

/* What the child saw just before the operation. */
struct liveset {
	size_t n;
	sma_off_t off[MAX_LIVE];
	size_t size[MAX_LIVE];
};

long crash_points;
long crash_repairs;

/* ---- helpers usable in children ------------------------------------------ */

sma_off_t must_alloc(sma_t *a, size_t size)
{
	sma_off_t off = sma_alloc(a, size);

	T_REQUIRE(off != SMA_NULL);
	return off;
}

static uint64_t pattern_seed(sma_off_t off)
{
	return off * 0x9e3779b97f4a7c15ull ^ 0x5ca1ab1e;
}

static int collect(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct liveset *ls = arg;

	if (!in_use)
		return 0;
	if (ls->n == MAX_LIVE)
		return 1;
	ls->off[ls->n] = off;
	ls->size[ls->n] = size;
	ls->n++;
	return 0;
}

/* The live objects of a, in offset order; 0, or -1 if sma_walk failed. */
static int live_objects(sma_t *a, struct liveset *ls)
{
	ls->n = 0;
	return sma_walk(a, collect, ls) == 0 ? 0 : -1;
}

static int in_set(const struct liveset *ls, sma_off_t off)
{
	size_t lo = 0, hi = ls->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ls->off[mid] == off)
			return 1;
		if (ls->off[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

unsigned n_classes(sma_t *a)
{
	struct sma_info in;

	T_REQUIRE(sma_info(a, &in) == 0);
	T_REQUIRE(in.nclasses > 0 && in.nclasses <= 256);
	return in.nclasses;
}

uint64_t cached_in_class(sma_t *a, int cls)
{
	struct sma_class_stats cs;

	T_REQUIRE(sma_class_stats(a, (unsigned)cls, &cs) == 0);
	return cs.cached;
}

int free_and_find_its_class(sma_t *a, sma_off_t off)
{
	uint64_t was[256];
	unsigned n = n_classes(a);

	for (unsigned i = 0; i < n; i++)
		was[i] = cached_in_class(a, (int)i);
	T_REQUIRE(sma_free(a, off) == 0);
	for (unsigned i = 0; i < n; i++)
		if (cached_in_class(a, (int)i) == was[i] + 1)
			return (int)i;
	return -1;
}

/* ---- what scenarios of both programs use ---------------------------------------- */

void child_target_1000(struct ctx *c)
{
	c->target = must_alloc(c->a, 1000);
}

void v_released_the_slab(struct ctx *c)
{
	T_REQUIRE_EQ(c->slabs, 1);
	T_REQUIRE_EQ(slabs_of_48(c->a), 0);
}

/* ---- what the verifications read ------------------------------------------------- */

uint64_t lock_ops(sma_t *a)
{
	struct sma_info in;

	T_REQUIRE(sma_info(a, &in) == 0);
	return in.lock_ops;
}

uint64_t slabs_of_48(sma_t *a)
{
	struct sma_class_stats cs;
	unsigned n = n_classes(a);

	for (unsigned i = 0; i < n; i++) {
		T_REQUIRE(sma_class_stats(a, i, &cs) == 0);
		if (cs.slab && cs.size >= 48)
			return cs.slabs;
	}
	T_REQUIRE(!"a slab class serves 48 bytes");
	return 0;
}

struct slot_of_pid {
	pid_t pid;
	int found;
};

static int find_slot(const struct sma_slot_info *s, void *arg)
{
	struct slot_of_pid *w = arg;

	if (s->pid == w->pid)
		w->found = 1;
	return 0;
}

int holds_a_slot(sma_t *a)
{
	struct slot_of_pid w = {getpid(), 0};

	T_REQUIRE(sma_slots_each(a, find_slot, &w) == 0);
	return w.found;
}

/* ---- the child ------------------------------------------------------------ */

static int child_main(void *arg)
{
	struct ctx *c = arg;
	static struct liveset ls;
	uint64_t hdr[2];
	long steps;
	sma_t *ro;

	alarm(WAIT_S);
	if (c->sc->child_setup)
		c->sc->child_setup(c);
	/* A read-only handle walks without touching this thread's cache. */
	ro = sma_open_id(sma_shmid(c->a), SMA_RDONLY);
	T_REQUIRE(ro != NULL);
	T_REQUIRE(live_objects(ro, &ls) == 0);
	T_REQUIRE(sma_close(ro) == 0);
	for (size_t i = 0; i < ls.n; i++)
		t_fill(sma_ptr(c->a, ls.off[i]), ls.size[i], pattern_seed(ls.off[i]));
	hdr[0] = c->target;
	hdr[1] = ls.n;
	T_REQUIRE(t_write_all(c->fd, hdr, sizeof(hdr)) == 0);
	T_REQUIRE(t_write_all(c->fd, ls.off, ls.n * sizeof(ls.off[0])) == 0);
	T_REQUIRE(t_write_all(c->fd, ls.size, ls.n * sizeof(ls.size[0])) == 0);

	if (c->sc->slotless)
		T_REQUIRE(!holds_a_slot(c->a));
	c->lock_ops = lock_ops(c->a);
	c->slabs = slabs_of_48(c->a);
	if (c->sc->fill_size)
		c->cached = cached_in_class(c->a, c->cls);
	sma__crash_after(c->k);
	c->sc->op(c);
	steps = sma__crash_steps();
	if (c->k == 0 && c->sc->verify)
		c->sc->verify(c);

	T_REQUIRE(t_write_all(c->fd, &steps, sizeof(steps)) == 0);
	return c->k ? 3 : 0; /* 3: armed, yet the operation finished */
}

/* ---- processes that hold every slot ------------------------------------------ */

struct holders {
	pid_t pid[64];
	int n;
	int go[2];	/* they wait for the end of file on go[0] */
};

struct holder_arg {
	sma_t *a;
	int ready;	/* write end: one byte once the slot is held */
	int go;		/* read end */
	int go_w;	/* the write end, which only the test process keeps */
};

static int holder_main(void *arg)
{
	struct holder_arg *h = arg;
	char ch = 'h';

	alarm(WAIT_S);
	close(h->go_w);
	must_alloc(h->a, 16); /* takes a slot and keeps one object live */
	T_REQUIRE(t_write_all(h->ready, &ch, 1) == 0);
	while (read(h->go, &ch, 1) < 0 && errno == EINTR)
		;
	return 0; /* dies holding its slot, as a killed process would */
}

/* Reads one byte within seconds; 1 if read. */
static int read_within(int fd, char *ch, int seconds)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	while ((r = poll(&p, 1, seconds * 1000)) < 0 && errno == EINTR)
		;
	return r == 1 && read(fd, ch, 1) == 1;
}

static void hold_every_slot(sma_t *a, struct holders *hs)
{
	struct sma_info in;
	int ready[2];

	t_pipe(ready);
	t_pipe(hs->go);
	hs->n = 0;
	for (;;) {
		struct holder_arg h = {a, ready[1], hs->go[0], hs->go[1]};
		char ch;

		assert_int_equal(sma_info(a, &in), 0);
		if (in.slots_used >= in.nslots)
			break;
		assert_true(hs->n < 64);
		hs->pid[hs->n++] = t_fork(holder_main, &h);
		if (!read_within(ready[0], &ch, WAIT_S))
			fail_msg("a process taking a slot did not say it holds one");
	}
	close(ready[0]);
	close(ready[1]);
	close(hs->go[0]);
}

static void release_holders(struct holders *hs)
{
	close(hs->go[1]);
	for (int i = 0; i < hs->n; i++)
		t_wait_ok_within(hs->pid[i], WAIT_S);
}

/* ---- checks in the test process ------------------------------------------------- *
 *
 * They do not stop at the first problem: each returns -1 with why[] saying
 * what is wrong, so that a scenario reports every step whose repair failed.
 */

static char why[1024];

#define BAD(...)                                              \
	do {                                                  \
		snprintf(why, sizeof(why), __VA_ARGS__);      \
		return -1;                                    \
	} while (0)

static int note_problem(const char *problem, void *arg)
{
	size_t *n = arg;
	size_t len = strlen(why);

	if (*n < 3 && len + 4 < sizeof(why))
		snprintf(why + len, sizeof(why) - len, "%s%s", *n ? "; " : "", problem);
	(*n)++;
	return 0;
}

static int check_clean(sma_t *a, const char *when)
{
	size_t n = 0;
	int len;

	if (sma_check(a) == 0)
		return 0;
	len = snprintf(why, sizeof(why), "sma_check fails %s: ", when);
	(void)len;
	sma_check_report(a, note_problem, &n);
	return -1;
}

static char names[64][SMA_NAME_MAX + 1];
static int n_names;

static int collect_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	(void)off;
	(void)size;
	(void)arg;
	if (n_names < 64)
		snprintf(names[n_names++], sizeof(names[0]), "%s", name);
	return 0;
}

struct sums {
	size_t used, free;
	uint64_t n_used;
};

static int sum_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct sums *s = arg;

	(void)off;
	if (in_use) {
		s->used += size;
		s->n_used++;
	} else {
		s->free += size;
	}
	return 0;
}

/* The statistics agree with the walk, and live == allocs - frees. */
static int stats_agree(sma_t *a, struct sma_stats *st)
{
	struct sums s = {0, 0, 0};

	if (sma_stats(a, st) != 0)
		BAD("sma_stats: %s", strerror(errno));
	if (sma_walk(a, sum_visit, &s) != 0)
		BAD("sma_walk: %s", strerror(errno));
	if (st->live != st->allocs - st->frees)
		BAD("stats: live %llu, allocs %llu - frees %llu", (unsigned long long)st->live,
		    (unsigned long long)st->allocs, (unsigned long long)st->frees);
	if (s.n_used != st->live || s.used != st->used || s.free != st->free)
		BAD("stats say %llu live, %zu used, %zu free; the walk %llu, %zu, %zu",
		    (unsigned long long)st->live, st->used, st->free, (unsigned long long)s.n_used,
		    s.used, s.free);
	return 0;
}

/* Frees every live object, named ones by name, and checks that the arena
 * is as fresh. */
static int free_everything(sma_t *a, const struct sma_stats *fresh)
{
	static struct liveset ls;
	struct sma_stats st;

	n_names = 0;
	if (sma_named_each(a, collect_name, NULL) != 0)
		BAD("sma_named_each: %s", strerror(errno));
	for (int i = 0; i < n_names; i++)
		if (sma_named_free(a, names[i]) != 0)
			BAD("sma_named_free(%s): %s", names[i], strerror(errno));
	if (live_objects(a, &ls) != 0)
		BAD("sma_walk: %s", strerror(errno));
	for (size_t i = 0; i < ls.n; i++)
		if (sma_free(a, ls.off[i]) != 0)
			BAD("sma_free(%#llx) of a live object: %s", (unsigned long long)ls.off[i],
			    strerror(errno));
	if (sma_flush(a) != 0)
		BAD("sma_flush: %s", strerror(errno));
	if (stats_agree(a, &st) != 0)
		return -1;
	/* (an arena that grew has more free than when fresh) */
	if (st.live != 0 || st.used != 0 || (st.size == fresh->size ? st.free != fresh->free : st.free != st.heap_size) ||
	    st.largest_free < fresh->heap_size)
		BAD("after freeing everything: live %llu, used %zu, free %zu (fresh: %zu), "
		    "largest_free %zu (heap_size: %zu)",
		    (unsigned long long)st.live, st.used, st.free, fresh->free, st.largest_free,
		    fresh->heap_size);
	return check_clean(a, "after freeing everything");
}

/* The live objects are those before, plus at most max_new, less at most
 * the target; the others keep their contents; new objects do not overlap
 * live ones. */
static int check_after(sma_t *a, const struct ctx *c, const struct liveset *before)
{
	static struct liveset after;
	static const size_t probe[] = {16, 64, 256, 1000, 5000, 70000};
	sma_off_t got[6] = {0};
	struct sma_stats st;
	size_t added = 0;
	int rc = -1;

	if (check_clean(a, "after the repair") != 0)
		return -1;
	if (live_objects(a, &after) != 0)
		BAD("sma_walk: %s", strerror(errno));
	for (size_t i = 0; i < before->n; i++) {
		sma_off_t off = before->off[i];
		if (in_set(&after, off)) {
			if (off != c->target &&
			    !t_verify(sma_ptr(a, off), before->size[i], pattern_seed(off)))
				BAD("the live object %#llx (%zu bytes) was overwritten",
				    (unsigned long long)off, before->size[i]);
		} else if (!(c->sc->frees_target && off == c->target)) {
			BAD("the live object %#llx (%zu bytes) is gone", (unsigned long long)off,
			    before->size[i]);
		}
	}
	for (size_t i = 0; i < after.n; i++)
		if (!in_set(before, after.off[i]))
			added++;
	if ((int)added > c->sc->max_new)
		BAD("%zu objects appeared; at most %d may", added, c->sc->max_new);
	if (stats_agree(a, &st) != 0)
		return -1;
	if (st.live != after.n)
		BAD("stats count %llu live objects, the walk %zu", (unsigned long long)st.live,
		    after.n);

	for (int i = 0; i < 6; i++) {
		got[i] = sma_alloc(a, probe[i]);
		if (got[i] == SMA_NULL) {
			snprintf(why, sizeof(why), "sma_alloc(%zu) after the repair: %s", probe[i],
				 strerror(errno));
			goto out;
		}
		for (size_t j = 0; j < after.n; j++)
			if (got[i] + probe[i] > after.off[j] &&
			    got[i] < after.off[j] + after.size[j]) {
				snprintf(why, sizeof(why),
					 "sma_alloc(%zu) gave %#llx, over the live object %#llx",
					 probe[i], (unsigned long long)got[i],
					 (unsigned long long)after.off[j]);
				goto out;
			}
	}
	rc = 0;
out:
	for (int i = 0; i < 6; i++)
		if (got[i] && sma_free(a, got[i]) != 0 && rc == 0) {
			snprintf(why, sizeof(why), "sma_free(%#llx) of a new object: %s",
				 (unsigned long long)got[i], strerror(errno));
			rc = -1;
		}
	if (rc == 0)
		rc = check_clean(a, "after new objects came and went");
	return rc;
}

/* The test process goes on after the crash, as how says. */
static int repair(sma_t *a, enum repair how)
{
	struct sma_info in;
	struct sma_stats st;
	sma_off_t off;

	if (how == BY_RECOVER) {
		if (sma_recover(a) != 0)
			BAD("sma_recover: %s", strerror(errno));
		return 0;
	}
	/* The next lock holder repairs by itself; sma_stats on a writable
	 * handle reclaims the slots of dead processes. */
	off = sma_alloc(a, 1000);
	if (off == SMA_NULL)
		BAD("the next sma_alloc after the crash: %s", strerror(errno));
	if (sma_free(a, off) != 0)
		BAD("the next sma_free after the crash: %s", strerror(errno));
	if (sma_info(a, &in) != 0)
		BAD("sma_info: %s", strerror(errno));
	if (in.lock_holder != 0)
		BAD("the lock is still held, by pid %d", (int)in.lock_holder);
	if (sma_stats(a, &st) != 0)
		BAD("sma_stats: %s", strerror(errno));
	return 0;
}

/* The most objects of size cached by one thread: freeing more flushes. */
static size_t measure_capacity(size_t size)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[300];
	uint64_t best = 0, now;
	int cls;

	for (int i = 0; i < 300; i++) {
		offs[i] = sma_alloc(a, size);
		assert_int_not_equal(offs[i], SMA_NULL);
	}
	cls = free_and_find_its_class(a, offs[0]);
	assert_true(cls >= 0);
	for (int i = 1; i < 300; i++) {
		assert_int_equal(sma_free(a, offs[i]), 0);
		now = cached_in_class(a, cls);
		if (now > best)
			best = now;
	}
	assert_int_equal(sma_flush(a), 0);
	t_destroy(a);
	if (best == 0 || best >= 250)
		fail_msg("objects of %zu bytes: a cache holds %llu at most; expected 1 to 249",
			 size, (unsigned long long)best);
	return (size_t)best;
}

static size_t cache_capacity(size_t size)
{
	static size_t sizes[4], caps[4];

	for (int i = 0; i < 4; i++)
		if (sizes[i] == size)
			return caps[i];
	for (int i = 0; i < 4; i++)
		if (!sizes[i]) {
			caps[i] = measure_capacity(size);
			sizes[i] = size;
			return caps[i];
		}
	return measure_capacity(size);
}

/*
 * One run of a scenario: count its steps (k == 0) or crash it at step k
 * and check the repair done as how says.  Returns the steps the child
 * counted (k == 0) or 0, or -1 with why[] set.
 */
/* Every segment the child made is one of the arena's (S3): none leaked. */
static int no_segment_unknown(sma_t *a, pid_t child)
{
	int ids[64], n = t_shm_created_by(child, ids, 64);
	for (int i = 0; i < n; i++) {
		int known = 0, id;
		for (unsigned k = 0; sma_segment(a, k, &id, NULL) == 0; k++)
			if (id == ids[i])
				known = 1;
		if (!known)
			BAD("segment %d, made by the dead process, is not the arena's", ids[i]);
	}
	return 0;
}

static long run_once(const struct scenario *sc, long k, enum repair how)
{
	static struct liveset before;
	struct ctx c = {.sc = sc, .k = k};
	struct holders hs = {.n = 0};
	struct sma_stats fresh;
	uint64_t hdr[2];
	long steps = -1;
	int fd[2], st, rc = -1;
	pid_t pid;

	why[0] = '\0';
	c.a = t_open_private(ARENA);
	fresh = t_stats(c.a);
	if (sc->fill_size)
		c.cap = cache_capacity(sc->fill_size);
	if (sc->limit && sma_set_limit(c.a, sc->limit) != 0) {
		snprintf(why, sizeof(why), "sma_set_limit: %s", strerror(errno));
		goto out;
	}
	if (sc->parent_setup)
		sc->parent_setup(&c);
	if (sc->slotless)
		hold_every_slot(c.a, &hs);

	t_pipe(fd);
	c.fd = fd[1];
	pid = t_fork(child_main, &c);
	close(fd[1]);
	if (t_read_all(fd[0], hdr, sizeof(hdr)) != 0 || hdr[1] > MAX_LIVE ||
	    t_read_all(fd[0], before.off, hdr[1] * sizeof(before.off[0])) != 0 ||
	    t_read_all(fd[0], before.size, hdr[1] * sizeof(before.size[0])) != 0) {
		snprintf(why, sizeof(why), "the child did not report its live objects");
		hdr[1] = 0;
	}
	c.target = hdr[0];
	before.n = hdr[1];
	if (t_read_all(fd[0], &steps, sizeof(steps)) != 0)
		steps = -1;
	close(fd[0]);
	st = t_wait(pid, WAIT_S);
	if (sc->slotless)
		release_holders(&hs);
	if (why[0])
		goto out;
	if (st == -1) {
		snprintf(why, sizeof(why), "the child did not finish within %d s", WAIT_S);
		goto out;
	}
	if (k == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || steps < 0)) {
		snprintf(why, sizeof(why), "the counting child failed (status %#x)", st);
		goto out;
	}
	if (k > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		snprintf(why, sizeof(why),
			 "the operation finished in %ld steps without crashing: the step count was off",
			 steps);
		goto out;
	}
	if (k > 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != CRASH_STATUS)) {
		snprintf(why, sizeof(why), "the child ended with status %#x, not the crash status %d",
			 st, CRASH_STATUS);
		goto out;
	}
	if (repair(c.a, how) != 0 || check_after(c.a, &c, &before) != 0 ||
	    (sc->limit && no_segment_unknown(c.a, pid) != 0) || free_everything(c.a, &fresh) != 0)
		goto out;
	rc = 0;
out:
	t_untrack(c.a);
	if (sma_destroy(c.a) != 0 && rc == 0) {
		snprintf(why, sizeof(why), "sma_destroy: %s", strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		return -1;
	return k ? 0 : steps;
}

void run_scenario(const struct scenario *sc)
{
	char first[1200] = "";
	int failed = 0;
	long n = run_once(sc, 0, BY_RECOVER);

	if (n < 0)
		fail_msg("%s, run without a crash: %s", sc->what, why);
	if (n == 0)
		fail_msg("%s: the operation took no step; expected some", sc->what);
	for (long k = 1; k <= n; k++) {
		for (int how = BY_RECOVER; how <= BY_NEXT_CALLS; how++) {
			const char *by = how == BY_RECOVER ? "sma_recover" : "the next calls";
			if (run_once(sc, k, (enum repair)how) == 0)
				continue;
			if (!failed++)
				snprintf(first, sizeof(first), "crash at step %ld of %ld, repaired by %s: %s",
					 k, n, by, why);
			printf("# %s: crash at step %ld of %ld, repaired by %s: %s\n", sc->what, k, n, by,
			       why);
		}
		crash_points++;
		crash_repairs += 2;
	}
	printf("# %s: %ld steps, each crashed and repaired both ways: %d failed\n", sc->what, n,
	       failed);
	fflush(stdout);
	if (failed)
		fail_msg("%s: %d of %ld repairs failed; the first: %s", sc->what, failed, 2 * n, first);
}

void crash_summary(size_t operations)
{
	printf("# crash points covered: %ld (every step of %zu operations; %ld repairs checked, "
	       "by sma_recover and by the next calls)\n",
	       crash_points, operations, crash_repairs);
}
