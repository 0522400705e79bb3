/*
 * workloads.c -- the measured loops of the benchmark.
 *
 * Every loop is written once over a "heap" (bench.h) and compiled once per
 * kind of heap: the loop bodies are always_inline and take the kind as a
 * constant, so the call to malloc, sma_alloc or Boost is a direct call and
 * no allocator pays for an indirect one.
 *
 * Every object gets a tag in its first and last byte when it is allocated,
 * and the tag is checked before the object is freed and once more for every
 * live object at the end: an allocator that handed out overlapping or
 * unusable memory shows up as "bad", and no allocator can be measured doing
 * nothing.  Only the loop between the two clock readings is timed; filling
 * the live set and the final check are not.
 *
 * Bookkeeping (the slot arrays, the ring) lives in mmap'ed memory of its
 * own, so that it never shares a heap with the objects being measured.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define INLINE static inline __attribute__((always_inline))

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Random numbers: splitmix64, the same sequence for every heap ------- */

INLINE uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), by multiplying instead of dividing. */
INLINE uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* A request size in bytes, drawn from distribution d. */
INLINE uint32_t draw_size(uint64_t *s, enum dist d)
{
	switch (d) {
	case DIST_SMALL:
		return 16 + rng_below(s, 256 - 16 + 1);
	case DIST_PAGE:
		return 16 + rng_below(s, 4096 - 16 + 1);
	case DIST_MIXED: {
		/* 16 * 4096^u for u uniform in [0, 1): log-uniform 16..64 KiB */
		double u = (double)(rng_next(s) >> 11) * 0x1p-53;
		return (uint32_t)(16.0 * exp2(12.0 * u));
	}
	}
	return 16;
}

/* ---- The heap operations, one switch folded away per kind -------------- */

INLINE uint64_t heap_alloc(const struct heap *h, enum heap_kind k, size_t n)
{
	switch (k) {
	case HEAP_MALLOC:
		return (uint64_t)(uintptr_t)malloc(n);
	case HEAP_SMA:
		return sma_alloc(h->sma, n);
	case HEAP_BOOST:
		return bb_alloc(h->bb, n);
	}
	return 0;
}

/* Returns 0, or -1 when the allocator refused the free. */
INLINE int heap_free(const struct heap *h, enum heap_kind k, uint64_t o)
{
	switch (k) {
	case HEAP_MALLOC:
		free((void *)(uintptr_t)o);
		return 0;
	case HEAP_SMA:
		return sma_free(h->sma, o);
	case HEAP_BOOST:
		bb_free(h->bb, o);
		return 0;
	}
	return -1;
}

INLINE unsigned char *heap_ptr(const struct heap *h, enum heap_kind k,
			       uint64_t o)
{
	switch (k) {
	case HEAP_MALLOC:
		return (unsigned char *)(uintptr_t)o;
	case HEAP_SMA:
		return sma_ptr(h->sma, o);
	case HEAP_BOOST:
		return (unsigned char *)h->bbase + o;
	}
	return NULL;
}

/* Calls fn with the heap's kind as a constant, so fn is specialised. */
#define BY_KIND(h, fn, ...)                                                   \
	do {                                                                  \
		switch ((h)->kind) {                                          \
		case HEAP_MALLOC:                                             \
			fn(h, HEAP_MALLOC, __VA_ARGS__);                      \
			break;                                                \
		case HEAP_SMA:                                                \
			fn(h, HEAP_SMA, __VA_ARGS__);                         \
			break;                                                \
		case HEAP_BOOST:                                              \
			fn(h, HEAP_BOOST, __VA_ARGS__);                       \
			break;                                                \
		}                                                             \
	} while (0)

/* ---- Object contents ------------------------------------------------------ */

/* The tag of an object: its handle and size folded into a byte. */
INLINE uint8_t tag_of(uint64_t o, uint32_t n)
{
	return (uint8_t)((o >> 4) ^ (o >> 12) ^ n);
}

INLINE void obj_mark(unsigned char *p, uint32_t n, uint8_t t)
{
	p[0] = t;
	p[n - 1] = (uint8_t)~t;
}

INLINE int obj_intact(const unsigned char *p, uint32_t n, uint8_t t)
{
	uint8_t last = (uint8_t)~t;

	return p[0] == t && p[n - 1] == last;
}

/* ---- Bookkeeping memory, away from the measured heaps --------------------- */

static void *side_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void *shared_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* What an sma arena counted since its creation; -1s for other heaps. */
static struct sma_counts counts_now(const struct heap *h)
{
	struct sma_info info;

	if (h->kind != HEAP_SMA || sma_info(h->sma, &info) != 0)
		return (struct sma_counts){-1, -1, -1};
	return (struct sma_counts){(int64_t)info.lock_ops,
				   (int64_t)info.lock_waits,
				   (int64_t)info.sem_ops};
}

/* What was counted from c0 to c1. */
static struct sma_counts counts_since(struct sma_counts c0,
				      struct sma_counts c1)
{
	if (c0.lock_ops < 0 || c1.lock_ops < 0)
		return (struct sma_counts){-1, -1, -1};
	return (struct sma_counts){c1.lock_ops - c0.lock_ops,
				   c1.lock_waits - c0.lock_waits,
				   c1.sem_ops - c0.sem_ops};
}

static void fail(struct run_result *r, const char *fmt, const char *what)
{
	r->ok = 0;
	snprintf(r->err, sizeof r->err, fmt, what);
}

/* ---- The churn loop: W1, W2, W6, and each process of W3 ----------------- */

struct slot {
	uint64_t o; /* handle of the object in this slot, 0 = empty */
	uint32_t n; /* its requested size, bytes */
};

struct churn {
	struct slot *slots; /* live slots, in side memory */
	uint32_t live;	    /* how many */
	enum dist dist;
	uint64_t rng;	    /* the random state, carried between phases */
	uint64_t allocs;    /* allocations attempted while timed */
	uint64_t fails;	    /* of which returned 0 */
	uint64_t bad;	    /* tags found wrong, frees refused */
};

INLINE void churn_fill(const struct heap *h, enum heap_kind k,
		       struct churn *c)
{
	for (uint32_t i = 0; i < c->live; i++) {
		uint32_t n = draw_size(&c->rng, c->dist);
		uint64_t o = heap_alloc(h, k, n);

		if (o)
			obj_mark(heap_ptr(h, k, o), n, tag_of(o, n));
		else
			c->fails++;
		c->slots[i].o = o;
		c->slots[i].n = n;
	}
}

/* The measured loop: free a random slot, allocate its replacement. */
INLINE void churn_steps(const struct heap *h, enum heap_kind k,
			struct churn *c, uint64_t steps)
{
	for (uint64_t s = 0; s < steps; s++) {
		struct slot *sl = &c->slots[rng_below(&c->rng, c->live)];
		uint32_t n;
		uint64_t o;

		if (sl->o) {
			if (!obj_intact(heap_ptr(h, k, sl->o), sl->n,
					tag_of(sl->o, sl->n)))
				c->bad++;
			if (heap_free(h, k, sl->o) != 0)
				c->bad++;
		}
		n = draw_size(&c->rng, c->dist);
		o = heap_alloc(h, k, n);
		if (o)
			obj_mark(heap_ptr(h, k, o), n, tag_of(o, n));
		else
			c->fails++;
		sl->o = o;
		sl->n = n;
	}
	c->allocs += steps;
}

INLINE void churn_verify(const struct heap *h, enum heap_kind k,
			 struct churn *c)
{
	for (uint32_t i = 0; i < c->live; i++) {
		struct slot *sl = &c->slots[i];

		if (sl->o && !obj_intact(heap_ptr(h, k, sl->o), sl->n,
					 tag_of(sl->o, sl->n)))
			c->bad++;
	}
}

static void do_fill(const struct heap *h, struct churn *c)
{
	BY_KIND(h, churn_fill, c);
}

static void do_steps(const struct heap *h, struct churn *c, uint64_t steps)
{
	BY_KIND(h, churn_steps, c, steps);
}

static void do_verify(const struct heap *h, struct churn *c)
{
	BY_KIND(h, churn_verify, c);
}

static int churn_init(struct churn *c, const struct workload *w,
		      uint64_t seed)
{
	memset(c, 0, sizeof *c);
	c->live = w->live;
	c->dist = w->dist;
	c->rng = seed;
	c->slots = side_alloc((size_t)w->live * sizeof *c->slots);
	return c->slots ? 0 : -1;
}

static void churn_done(struct churn *c)
{
	munmap(c->slots, (size_t)c->live * sizeof *c->slots);
}

static void run_churn(const struct heap *h, const struct workload *w,
		      uint64_t seed, struct run_result *r)
{
	struct churn c;
	struct sma_counts c0, c1;
	int64_t t0, t1;

	if (churn_init(&c, w, seed) != 0) {
		fail(r, "%s", "no memory for the slot array");
		return;
	}
	do_fill(h, &c);
	c.fails = 0; /* count the measured part only */
	c0 = counts_now(h);
	t0 = now_ns();
	do_steps(h, &c, w->steps);
	t1 = now_ns();
	c1 = counts_now(h);
	do_verify(h, &c);

	r->value = (double)(t1 - t0) / (double)w->steps;
	r->allocs = c.allocs;
	r->fails = c.fails;
	r->bad = c.bad;
	r->counts = counts_since(c0, c1);
	churn_done(&c);
}

/* ---- Workers: processes on one arena, or threads of one process -------- */

#define RING_SIZE 4096 /* entries of the W4 ring, a power of two */
#define RING_BATCH 32  /* each side publishes its index every so many */

struct ring_entry {
	uint64_t o; /* handle, 0 = the producer is done */
	uint32_t n; /* requested size, bytes */
	uint32_t pad;
};

/* Shared between the measuring process and its workers (MAP_SHARED). */
struct ctl {
	int64_t t_end[MAX_PROCS];   /* when each worker finished its timed part */
	uint64_t allocs[MAX_PROCS]; /* allocations each attempted while timed */
	uint64_t fails[MAX_PROCS];  /* of which failed */
	uint64_t bad[MAX_PROCS];    /* tags found wrong, frees refused */
	char err[MAX_PROCS][96];    /* what went wrong in a worker, "" if nothing */
	_Alignas(64) _Atomic uint64_t head; /* ring entries published */
	_Alignas(64) _Atomic uint64_t tail; /* ring entries consumed */
	_Alignas(64) struct ring_entry ring[RING_SIZE];
};

struct job {
	const struct heap *h;
	const struct workload *w;
	struct ctl *ctl;
	uint64_t seed;
	int idx;     /* 0 to procs - 1 (W4: 0 produces, 1 consumes) */
	int ready_w; /* write a byte here when ready to start */
	int go_r;    /* the start is EOF on this descriptor */
};

/* Tells the coordinator this worker is ready; waits for the start. */
static void job_barrier(struct job *j)
{
	char b = 1, x;

	if (write(j->ready_w, &b, 1) != 1)
		snprintf(j->ctl->err[j->idx], sizeof j->ctl->err[0],
			 "write to the ready pipe failed");
	while (read(j->go_r, &x, 1) < 0 && errno == EINTR)
		;
}

static void *churn_worker(void *arg)
{
	struct job *j = arg;
	struct churn c;

	if (churn_init(&c, j->w, j->seed) != 0) {
		snprintf(j->ctl->err[j->idx], sizeof j->ctl->err[0],
			 "no memory for the slot array");
		job_barrier(j);
		return NULL;
	}
	do_fill(j->h, &c);
	c.fails = 0;
	job_barrier(j);
	do_steps(j->h, &c, j->w->steps);
	j->ctl->t_end[j->idx] = now_ns();
	do_verify(j->h, &c);
	j->ctl->allocs[j->idx] = c.allocs;
	j->ctl->fails[j->idx] = c.fails;
	j->ctl->bad[j->idx] = c.bad;
	churn_done(&c);
	return NULL;
}

/* Waits politely: spin a little, then give the core away. */
static void relax(unsigned *spins)
{
	if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		sched_yield();
	}
}

INLINE void produce(const struct heap *h, enum heap_kind k, struct job *j)
{
	struct ctl *c = j->ctl;
	uint64_t rng = j->seed, head = 0, tail_seen = 0, fails = 0;
	unsigned spins = 0;

	for (uint64_t i = 0; i <= j->w->steps; i++) {
		struct ring_entry e = {0, 0, 0};

		if (i < j->w->steps) {
			e.n = draw_size(&rng, j->w->dist);
			e.o = heap_alloc(h, k, e.n);
			if (!e.o) {
				fails++;
				continue;
			}
			obj_mark(heap_ptr(h, k, e.o), e.n, tag_of(e.o, e.n));
		}
		while (head - tail_seen >= RING_SIZE) {
			tail_seen = atomic_load_explicit(&c->tail,
							 memory_order_acquire);
			if (head - tail_seen >= RING_SIZE)
				relax(&spins);
		}
		spins = 0;
		c->ring[head & (RING_SIZE - 1)] = e;
		head++;
		if (head % RING_BATCH == 0 || i == j->w->steps)
			atomic_store_explicit(&c->head, head,
					      memory_order_release);
	}
	c->allocs[j->idx] = j->w->steps;
	c->fails[j->idx] = fails;
}

INLINE void consume(const struct heap *h, enum heap_kind k, struct job *j)
{
	struct ctl *c = j->ctl;
	uint64_t tail = 0, head_seen = 0, bad = 0;
	unsigned spins = 0;

	for (;;) {
		struct ring_entry e;

		while (tail == head_seen) {
			head_seen = atomic_load_explicit(&c->head,
							 memory_order_acquire);
			if (tail == head_seen)
				relax(&spins);
		}
		spins = 0;
		e = c->ring[tail & (RING_SIZE - 1)];
		tail++;
		if (tail % RING_BATCH == 0 || !e.o)
			atomic_store_explicit(&c->tail, tail,
					      memory_order_release);
		if (!e.o)
			break;
		if (!obj_intact(heap_ptr(h, k, e.o), e.n, tag_of(e.o, e.n)))
			bad++;
		if (heap_free(h, k, e.o) != 0)
			bad++;
	}
	c->t_end[j->idx] = now_ns();
	c->bad[j->idx] = bad;
}

static void *ring_worker(void *arg)
{
	struct job *j = arg;

	job_barrier(j);
	if (j->idx == 0)
		BY_KIND(j->h, produce, j);
	else
		BY_KIND(j->h, consume, j);
	return NULL;
}

struct worker {
	pid_t pid;     /* a process, or */
	pthread_t th;  /* a thread */
	int is_thread;
	int started;
};

/*
 * Starts fn(j) in a thread (heaps private to a process) or in a forked
 * process (shared heaps), which dies with the measuring process.
 */
static int spawn(struct worker *wk, int threads, void *(*fn)(void *),
		 struct job *j, int go_w)
{
	wk->is_thread = threads;
	if (threads) {
		if (pthread_create(&wk->th, NULL, fn, j) != 0)
			return -1;
		wk->started = 1;
		return 0;
	}
	wk->pid = fork();
	if (wk->pid < 0)
		return -1;
	if (wk->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go_w);
		fn(j);
		if (j->h->kind == HEAP_SMA)
			sma_close(j->h->sma); /* gives its cache back */
		_exit(0);
	}
	wk->started = 1;
	return 0;
}

/* Returns 0 when the worker ended normally. */
static int join(struct worker *wk)
{
	int st;

	if (!wk->started)
		return -1;
	if (wk->is_thread)
		return pthread_join(wk->th, NULL) == 0 ? 0 : -1;
	while (waitpid(wk->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/*
 * W3, W3-8 and W4: w->procs workers started together.  W3's and W3-8's
 * workers each run the churn loop (processes; on a private heap each has
 * its own, which is the fair reference for an arena shared by all).  W4's
 * worker 0 produces and worker 1 consumes: processes on shared heaps,
 * threads on malloc.
 */
static void run_workers(const struct heap *h, const struct workload *w,
			uint64_t seed, struct run_result *r)
{
	int ring = w->shape == SHAPE_RING;
	int threads = ring && h->kind == HEAP_MALLOC;
	int n = ring ? 2 : w->procs;
	struct ctl *c = shared_alloc(sizeof *c);
	struct worker wk[MAX_PROCS] = {0};
	struct job job[MAX_PROCS];
	int ready[2] = {-1, -1}, go[2] = {-1, -1};
	struct sma_counts c0, c1;
	int64_t t0, t_end;
	char b;

	if (n < 1 || n > MAX_PROCS) {
		fail(r, "%s", "a workload needs 1 to MAX_PROCS processes");
		goto out;
	}
	if (!c || pipe(ready) != 0 || pipe(go) != 0) {
		fail(r, "%s", "no memory or descriptors for the workers");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		job[i] = (struct job){h, w, c, seed + 1 + (uint64_t)i, i,
				      ready[1], go[0]};
		if (spawn(&wk[i], threads, ring ? ring_worker : churn_worker,
			  &job[i], go[1]) != 0) {
			fail(r, "%s", "could not start a worker");
			goto out;
		}
	}
	for (int i = 0; i < n; i++)
		if (read(ready[0], &b, 1) != 1) {
			fail(r, "%s", "a worker died before the start");
			goto out;
		}
	c0 = counts_now(h);
	t0 = now_ns();
	close(go[1]); /* EOF: every worker starts */
	go[1] = -1;
	for (int i = 0; i < n; i++) {
		if (join(&wk[i]) != 0)
			fail(r, "%s", "a worker died");
		wk[i].started = 0;
	}
	c1 = counts_now(h);
	if (!r->ok)
		goto out;
	t_end = c->t_end[0];
	for (int i = 0; i < n; i++) {
		if (c->err[i][0]) {
			fail(r, "%s", c->err[i]);
			goto out;
		}
		if (c->t_end[i] > t_end)
			t_end = c->t_end[i];
		r->allocs += c->allocs[i];
		r->fails += c->fails[i];
		r->bad += c->bad[i];
	}
	r->counts = counts_since(c0, c1);
	if (ring)
		r->value = (double)(t_end - t0) / (double)w->steps;
	else /* millions of steps per second, all processes together */
		r->value = (double)r->allocs * 1e3 / (double)(t_end - t0);
out:
	if (go[1] >= 0)
		close(go[1]); /* releases workers still waiting */
	for (int i = 0; i < n && i < MAX_PROCS; i++)
		if (wk[i].started)
			join(&wk[i]);
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0)
			close(ready[i]);
	if (go[0] >= 0)
		close(go[0]);
	if (c)
		munmap(c, sizeof *c);
}

/* ---- W5: fill an arena until the first failure ----------------------------- */

INLINE void fill_until_full(const struct heap *h, enum heap_kind k,
			    struct churn *c, uint64_t max, uint64_t *count,
			    uint64_t *bytes, int *err)
{
	uint64_t i;

	for (i = 0; i < max; i++) {
		uint32_t n = draw_size(&c->rng, c->dist);
		uint64_t o;

		errno = 0;
		o = heap_alloc(h, k, n);
		if (!o) {
			*err = errno;
			break;
		}
		obj_mark(heap_ptr(h, k, o), n, tag_of(o, n));
		c->slots[i].o = o;
		c->slots[i].n = n;
		*bytes += n;
	}
	*count = i;
}

static void run_fill(const struct heap *h, const struct workload *w,
		     uint64_t seed, struct run_result *r)
{
	struct churn c;
	struct workload big = *w;
	uint64_t count = 0, bytes = 0;
	size_t segment;
	int err = 0;
	struct sma_info info;

	if (h->kind == HEAP_SMA) {
		if (sma_info(h->sma, &info) != 0) {
			fail(r, "sma_info: %s", strerror(errno));
			return;
		}
		segment = info.size;
	} else if (h->kind == HEAP_BOOST) {
		segment = bb_size(h->bb);
	} else {
		fail(r, "%s", "W5 needs a fixed segment");
		return;
	}
	big.live = (uint32_t)(segment / 16); /* no more objects can fit */
	if (churn_init(&c, &big, seed) != 0) {
		fail(r, "%s", "no memory for the slot array");
		return;
	}
	BY_KIND(h, fill_until_full, &c, big.live, &count, &bytes, &err);
	c.live = (uint32_t)count;
	do_verify(h, &c);
	c.live = big.live;
	churn_done(&c);

	r->value = (double)bytes / (double)segment;
	r->allocs = count + (count < big.live);
	r->fails = count < big.live;
	r->bad = c.bad;
	if (h->kind == HEAP_SMA && count < big.live && err != ENOMEM)
		fail(r, "the first failure was not ENOMEM but %s",
		     strerror(err));
}

/* ---- The entry point ------------------------------------------------------ */

void run_workload(const struct heap *h, const struct workload *w,
		  uint64_t seed, struct run_result *r)
{
	r->ok = 1;
	r->err[0] = '\0';
	r->counts = (struct sma_counts){-1, -1, -1};
	switch (w->shape) {
	case SHAPE_CHURN:
		run_churn(h, w, seed, r);
		break;
	case SHAPE_PROCS:
	case SHAPE_RING:
		run_workers(h, w, seed, r);
		break;
	case SHAPE_FILL:
		run_fill(h, w, seed, r);
		break;
	}
	if (r->ok && r->bad) {
		r->ok = 0;
		snprintf(r->err, sizeof r->err,
			 "%llu objects with a wrong pattern or a refused free",
			 (unsigned long long)r->bad);
	}
}
