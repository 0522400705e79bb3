/*
 * tests/test_procs.c -- many processes and many threads on one arena:
 * frees across processes, random work with every object's contents checked,
 * one arena attached twice by one process, and thread caches given back
 * when a thread exits and when a handle is closed.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* The arena is as fresh: everything free in one extent, caches included. */
static void assert_all_free(sma_t *a, const struct sma_stats *fresh)
{
	struct sma_stats st = t_stats(a);

	assert_int_equal(st.live, 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.allocs, st.frees);
	assert_int_equal(st.free, fresh->free);
	assert_int_equal(st.largest_free, st.heap_size);
}

/*
 * Random work: ops steps, each freeing the object in a random slot (after
 * checking its contents) or allocating 1 to max_size bytes into it and
 * filling it with a pattern derived from its offset and the seed.  Frees
 * what is left at the end.  Usable from threads and children: on failure
 * it returns -1 with err saying what went wrong.
 */
struct churn {
	sma_t *a;	  /* the handle to use */
	uint64_t seed;	  /* of the random choices and of the patterns */
	int ops;	  /* steps */
	int slots;	  /* objects live at most */
	size_t max_size;  /* bytes of the largest object */
	uint64_t allocs;  /* out: objects allocated */
	char err[256];	  /* out: "" on success */
};

static int churn(struct churn *c)
{
	sma_off_t *offs = calloc((size_t)c->slots, sizeof(*offs));
	size_t *sizes = calloc((size_t)c->slots, sizeof(*sizes));
	uint64_t rng = c->seed;
	int rc = -1;

	c->allocs = 0;
	c->err[0] = '\0';
	if (!offs || !sizes) {
		snprintf(c->err, sizeof(c->err), "out of private memory");
		goto fail;
	}
	for (int op = 0; op < c->ops + c->slots; op++) {
		/* the last c->slots steps free what is left, in order */
		size_t i = op < c->ops ? t_rand(&rng) % (uint64_t)c->slots : (size_t)(op - c->ops);
		if (offs[i]) {
			if (!t_verify(sma_ptr(c->a, offs[i]), sizes[i], offs[i] ^ c->seed)) {
				snprintf(c->err, sizeof(c->err),
					 "step %d: the object at %#llx (%zu bytes) was overwritten", op,
					 (unsigned long long)offs[i], sizes[i]);
				goto fail;
			}
			if (sma_free(c->a, offs[i]) != 0) {
				snprintf(c->err, sizeof(c->err), "step %d: sma_free(%#llx): %s", op,
					 (unsigned long long)offs[i], strerror(errno));
				goto fail;
			}
			offs[i] = SMA_NULL;
		} else if (op < c->ops) {
			size_t size = 1 + t_rand(&rng) % c->max_size;
			sma_off_t off = sma_alloc(c->a, size);
			if (off == SMA_NULL || off % 16) {
				snprintf(c->err, sizeof(c->err), "step %d: sma_alloc(%zu) gave %#llx: %s",
					 op, size, (unsigned long long)off, strerror(errno));
				goto fail;
			}
			t_fill(sma_ptr(c->a, off), size, off ^ c->seed);
			offs[i] = off;
			sizes[i] = size;
			c->allocs++;
		}
	}
	rc = 0;
fail:
	free(offs);
	free(sizes);
	return rc;
}

static void *churn_thread(void *arg)
{
	churn(arg);
	return NULL;
}

/* Runs n churns in n threads of this process; returns the number failed
 * (their err says why). */
static int churn_in_threads(struct churn *c, int n)
{
	pthread_t th[16];
	int failed = 0;

	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, churn_thread, &c[i]) != 0) {
			snprintf(c[i].err, sizeof(c[i].err), "pthread_create failed");
			n = i;
			failed++;
			break;
		}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (c[i].err[0])
			failed++;
	}
	return failed;
}

/* ---- frees across processes -------------------------------------------------- */

#define NOBJ 500

struct exchange {
	sma_t *a;		/* the parent's handle */
	int by_id;		/* the child attaches by id instead of using a */
	sma_off_t offs[NOBJ];	/* the parent's objects */
	int out;		/* write end of the pipe for the child's objects */
};

static size_t obj_size(int i)
{
	return (size_t)(i * 37) % 5000 + 1;
}

static int free_the_parents_and_make_mine(void *arg)
{
	struct exchange *x = arg;
	sma_t *a = x->by_id ? sma_open_id(sma_shmid(x->a), 0) : x->a;
	sma_off_t mine[NOBJ];

	T_REQUIRE(a != NULL);
	for (int i = 0; i < NOBJ; i++) {
		T_REQUIRE(t_verify(sma_ptr(a, x->offs[i]), obj_size(i), x->offs[i]));
		T_REQUIRE(sma_free(a, x->offs[i]) == 0);
	}
	for (int i = 0; i < NOBJ; i++) {
		mine[i] = sma_alloc(a, obj_size(NOBJ - i));
		T_REQUIRE(mine[i] != SMA_NULL);
		t_fill(sma_ptr(a, mine[i]), obj_size(NOBJ - i), ~mine[i]);
	}
	T_REQUIRE(t_check_report(a) == 0);
	T_REQUIRE(t_write_all(x->out, mine, sizeof(mine)) == 0);
	T_REQUIRE(sma_close(a) == 0);
	return 0;
}

static void exchange_objects(int by_id)
{
	struct exchange x = {.a = t_open_private(T_MIB(8)), .by_id = by_id};
	struct sma_stats fresh = t_stats(x.a);
	sma_off_t theirs[NOBJ];
	int fd[2];
	pid_t pid;

	for (int i = 0; i < NOBJ; i++) {
		x.offs[i] = sma_alloc(x.a, obj_size(i));
		assert_int_not_equal(x.offs[i], SMA_NULL);
		t_fill(sma_ptr(x.a, x.offs[i]), obj_size(i), x.offs[i]);
	}
	t_pipe(fd);
	x.out = fd[1];
	pid = t_fork(free_the_parents_and_make_mine, &x);
	close(fd[1]);
	assert_int_equal(t_read_all(fd[0], theirs, sizeof(theirs)), 0);
	close(fd[0]);
	t_wait_ok(pid);
	assert_int_equal(t_stats(x.a).live, NOBJ);
	for (int i = 0; i < NOBJ; i++) {
		assert_true(t_verify(sma_ptr(x.a, theirs[i]), obj_size(NOBJ - i), ~theirs[i]));
		assert_int_equal(sma_free(x.a, theirs[i]), 0);
	}
	assert_int_equal(t_stats(x.a).allocs, 2 * NOBJ);
	assert_all_free(x.a, &fresh);
	t_destroy(x.a);
}

static void test_a_child_frees_the_parents_objects_and_the_parent_frees_the_childs(void **state)
{
	exchange_objects(0);
}

static void test_a_process_attached_by_id_frees_objects_another_process_made(void **state)
{
	exchange_objects(1);
}

/* ---- four processes of random work ------------------------------------------ */

#define PROCS 4
#define PROC_OPS 200000

struct worker {
	sma_t *a;	     /* the parent's handle (the child attaches by id) */
	struct t_gate gate;  /* starts the workers together */
	int out;	     /* write end of the pipe for the alloc counts */
	uint64_t seed;	     /* this worker's */
};

static int random_work(void *arg)
{
	struct worker *w = arg;
	struct churn c = {.seed = w->seed, .ops = PROC_OPS, .slots = 1024, .max_size = 4096};

	c.a = sma_open_id(sma_shmid(w->a), 0);
	T_REQUIRE(c.a != NULL);
	t_gate_wait(&w->gate);
	if (churn(&c) != 0) {
		fprintf(stderr, "worker %d: %s\n", (int)getpid(), c.err);
		return 1;
	}
	T_REQUIRE(t_check_report(c.a) == 0);
	T_REQUIRE(t_write_all(w->out, &c.allocs, sizeof(c.allocs)) == 0);
	T_REQUIRE(sma_close(c.a) == 0);
	return 0;
}

static void test_four_processes_of_random_work_with_checked_contents_leave_a_clean_arena(
	void **state)
{
	struct worker w = {.a = t_open_private(T_MIB(64))};
	struct sma_stats fresh = t_stats(w.a), st;
	pid_t pid[PROCS];
	uint64_t allocs = 0;
	int fd[2];

	t_gate_init(&w.gate);
	t_pipe(fd);
	w.out = fd[1];
	for (int i = 0; i < PROCS; i++) {
		w.seed = 0x1234567ull * (uint64_t)(i + 1);
		pid[i] = t_fork(random_work, &w);
	}
	close(fd[1]);
	assert_int_equal(t_gate_release(&w.gate, PROCS), PROCS);
	for (int i = 0; i < PROCS; i++)
		t_wait_ok_within(pid[i], 600);
	for (int i = 0; i < PROCS; i++) {
		uint64_t n;
		assert_int_equal(t_read_all(fd[0], &n, sizeof(n)), 0);
		allocs += n;
	}
	close(fd[0]);
	t_assert_check(w.a);
	st = t_stats(w.a);
	assert_int_equal(st.allocs, allocs);
	assert_int_equal(st.frees, allocs);
	assert_int_equal(t_nattch(w.a, 1), 1);
	assert_all_free(w.a, &fresh);
	t_destroy(w.a);
}

/* ---- one arena attached twice ------------------------------------------------- */

struct node {
	sma_off_t next;	 /* the next node, SMA_NULL at the end */
	uint64_t value;	 /* its position from the end */
	char pad[40];	 /* holds a pattern of the value */
};

/* Builds a list of n nodes through h; returns the offset of its head. */
static sma_off_t build_list(sma_t *h, int n)
{
	sma_off_t head = SMA_NULL;

	for (int i = 0; i < n; i++) {
		sma_off_t off = sma_alloc(h, sizeof(struct node));
		struct node *nd;
		assert_int_not_equal(off, SMA_NULL);
		nd = sma_ptr(h, off);
		nd->next = head;
		nd->value = (uint64_t)i;
		t_fill(nd->pad, sizeof(nd->pad), (uint64_t)i);
		head = off;
	}
	return head;
}

/* Walks the list through h, checking each node, and frees it through h. */
static void walk_and_free_list(sma_t *h, sma_off_t head, int n)
{
	int seen = 0;

	while (head != SMA_NULL) {
		struct node *nd = sma_ptr(h, head);
		sma_off_t next = nd->next;
		assert_true(seen < n);
		assert_int_equal(nd->value, (uint64_t)(n - 1 - seen));
		assert_true(t_verify(nd->pad, sizeof(nd->pad), nd->value));
		assert_int_equal(sma_free(h, head), 0);
		head = next;
		seen++;
	}
	assert_int_equal(seen, n);
}

static void test_one_process_attaching_an_arena_twice_walks_through_one_handle_a_list_made_through_the_other(
	void **state)
{
	enum { N = 1000 };
	sma_t *a = t_open_private(T_MIB(4));
	struct sma_stats fresh = t_stats(a);
	sma_t *b = t_track(sma_open_id(sma_shmid(a), 0));
	sma_off_t head;

	assert_int_equal(sma_shmid(b), sma_shmid(a));
	assert_int_equal(t_nattch(a, 2), 2);
	head = build_list(a, N);
	assert_ptr_not_equal(sma_ptr(a, head), sma_ptr(b, head));
	walk_and_free_list(b, head, N);
	head = build_list(b, N);
	walk_and_free_list(a, head, N);
	t_assert_check(b);
	t_close(b);
	assert_all_free(a, &fresh);
	t_destroy(a);
}

/* ---- threads ---------------------------------------------------------------------- */

#define THREADS 4
#define THREAD_OPS 100000

static void test_four_threads_of_one_process_work_on_one_arena_at_once(void **state)
{
	sma_t *a = t_open_private(T_MIB(32));
	struct sma_stats fresh = t_stats(a);
	struct churn c[THREADS];
	uint64_t allocs = 0;

	for (int i = 0; i < THREADS; i++)
		c[i] = (struct churn){.a = a, .seed = 77 + (uint64_t)i, .ops = THREAD_OPS,
				      .slots = 256, .max_size = 4096};
	if (churn_in_threads(c, THREADS)) {
		for (int i = 0; i < THREADS; i++)
			if (c[i].err[0])
				print_error("thread %d: %s\n", i, c[i].err);
		fail_msg("a thread failed");
	}
	for (int i = 0; i < THREADS; i++)
		allocs += c[i].allocs;
	t_assert_check(a);
	assert_int_equal(t_stats(a).allocs, allocs);
	/* The threads have exited: what they cached is back, with no flush. */
	assert_all_free(a, &fresh);
	t_destroy(a);
}

struct threaded_child {
	sma_t *a;	    /* the parent's handle */
	int by_id;	    /* the child attaches by id instead of using a */
	uint64_t seed;	    /* this child's */
	struct t_gate gate; /* starts the children together */
};

static int work_in_threads(void *arg)
{
	struct threaded_child *t = arg;
	sma_t *a = t->by_id ? sma_open_id(sma_shmid(t->a), 0) : t->a;
	struct churn c[THREADS];
	int failed;

	T_REQUIRE(a != NULL);
	for (int i = 0; i < THREADS; i++)
		c[i] = (struct churn){.a = a, .seed = t->seed + (uint64_t)i, .ops = THREAD_OPS,
				      .slots = 256, .max_size = 4096};
	t_gate_wait(&t->gate);
	failed = churn_in_threads(c, THREADS);
	for (int i = 0; i < THREADS; i++)
		if (c[i].err[0])
			fprintf(stderr, "child %d thread %d: %s\n", (int)getpid(), i, c[i].err);
	T_REQUIRE_EQ(failed, 0);
	T_REQUIRE(t_check_report(a) == 0);
	T_REQUIRE(sma_close(a) == 0);
	return 0;
}

static void test_threads_of_two_processes_work_on_one_arena_at_once(void **state)
{
	struct threaded_child t = {.a = t_open_private(T_MIB(32))};
	struct sma_stats fresh = t_stats(t.a);
	pid_t pid[2];

	t_gate_init(&t.gate);
	for (int i = 0; i < 2; i++) {
		t.by_id = i;
		t.seed = 1000 * (uint64_t)(i + 1);
		pid[i] = t_fork(work_in_threads, &t);
	}
	assert_int_equal(t_gate_release(&t.gate, 2), 2);
	for (int i = 0; i < 2; i++)
		t_wait_ok_within(pid[i], 600);
	t_assert_check(t.a);
	assert_int_equal(t_nattch(t.a, 1), 1);
	assert_all_free(t.a, &fresh);
	t_destroy(t.a);
}

/* ---- caches given back ---------------------------------------------------------------- */

struct cacher {
	sma_t *a;		 /* the handle */
	pthread_barrier_t freed; /* the thread has freed everything */
	pthread_barrier_t go;	 /* the thread may exit */
	int ok;			 /* out: every call succeeded */
};

/* Allocates and frees many small objects, so that its cache holds some. */
static int alloc_and_free_small(sma_t *a)
{
	enum { N = 2000 };
	sma_off_t offs[N];

	for (int i = 0; i < N; i++) {
		offs[i] = sma_alloc(a, 16 + (size_t)(i % 64) * 16);
		if (offs[i] == SMA_NULL)
			return -1;
	}
	for (int i = 0; i < N; i++)
		if (sma_free(a, offs[i]) != 0)
			return -1;
	return 0;
}

static void *cache_then_wait(void *arg)
{
	struct cacher *c = arg;

	c->ok = alloc_and_free_small(c->a) == 0;
	pthread_barrier_wait(&c->freed);
	pthread_barrier_wait(&c->go);
	return NULL;
}

static int sum_free(sma_off_t off, size_t size, int in_use, void *arg)
{
	(void)off;
	if (!in_use)
		*(size_t *)arg += size;
	return 0;
}

static void test_a_threads_cache_counts_as_free_while_the_thread_lives(void **state)
{
	struct cacher c = {.a = t_open_private(T_MIB(4))};
	struct sma_stats fresh = t_stats(c.a), st;
	size_t walked_free = 0;
	pthread_t th;

	assert_int_equal(pthread_barrier_init(&c.freed, NULL, 2), 0);
	assert_int_equal(pthread_barrier_init(&c.go, NULL, 2), 0);
	assert_int_equal(pthread_create(&th, NULL, cache_then_wait, &c), 0);
	pthread_barrier_wait(&c.freed);
	/* Looked at now, asserted once the thread is gone, so that a failure
	 * leaves no thread waiting on the barrier. */
	int stats_ok = sma_stats(c.a, &st) == 0;
	int walk_ok = sma_walk(c.a, sum_free, &walked_free) == 0;
	int check = sma_check(c.a);
	struct sma_info info;
	int info_ok = sma_info(c.a, &info) == 0;
	pthread_barrier_wait(&c.go);
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_barrier_destroy(&c.freed);
	pthread_barrier_destroy(&c.go);
	assert_true(c.ok);
	assert_true(stats_ok);
	assert_true(walk_ok);
	assert_true(info_ok);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.used, 0);
	/* The objects the living thread caches are free, and the walk agrees;
	 * what its cache costs itself (its block of offsets, the headers of
	 * the slabs its objects sit in) is neither free nor used, and small. */
	assert_true(info.cached > 0);
	assert_int_equal(walked_free, st.free);
	assert_true(st.free <= fresh.free);
	assert_true(fresh.free - st.free < 64 * 1024);
	assert_int_equal(check, 0);
	t_destroy(c.a);
}

static void *cache_then_exit(void *arg)
{
	struct cacher *c = arg;

	c->ok = alloc_and_free_small(c->a) == 0;
	return NULL;
}

static void test_a_threads_cache_is_given_back_when_the_thread_exits(void **state)
{
	struct cacher c = {.a = t_open_private(T_MIB(4))};
	struct sma_stats fresh = t_stats(c.a);
	struct sma_info info;
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, cache_then_exit, &c), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(c.ok);
	/* No flush: the thread's exit gave its cache back. */
	assert_all_free(c.a, &fresh);
	assert_int_equal(sma_info(c.a, &info), 0);
	assert_int_equal(info.cached, 0);
	t_destroy(c.a);
}

static void test_a_threads_cache_is_given_back_when_it_closes_its_handle(void **state)
{
	sma_t *a = t_open_private(T_MIB(4));
	struct sma_stats fresh = t_stats(a);
	sma_t *b = t_track(sma_open_id(sma_shmid(a), 0));
	struct sma_info info;

	assert_int_equal(alloc_and_free_small(b), 0);
	t_close(b);
	assert_all_free(a, &fresh);
	assert_int_equal(sma_info(a, &info), 0);
	assert_int_equal(info.cached, 0);
	t_destroy(a);
}

static int cache_and_close(void *arg)
{
	sma_t *a = arg;

	T_REQUIRE(alloc_and_free_small(a) == 0);
	T_REQUIRE(sma_close(a) == 0);
	return 0; /* _exit: no exit handler runs */
}

static void test_a_processs_cache_is_given_back_when_it_closes_its_handle(void **state)
{
	sma_t *a = t_open_private(T_MIB(4));
	struct sma_stats fresh = t_stats(a);
	struct sma_info info;

	t_wait_ok(t_fork(cache_and_close, a));
	assert_all_free(a, &fresh);
	assert_int_equal(sma_info(a, &info), 0);
	assert_int_equal(info.cached, 0);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_child_frees_the_parents_objects_and_the_parent_frees_the_childs),
		T_TEST(test_a_process_attached_by_id_frees_objects_another_process_made),
		T_TEST(test_four_processes_of_random_work_with_checked_contents_leave_a_clean_arena),
		T_TEST(test_one_process_attaching_an_arena_twice_walks_through_one_handle_a_list_made_through_the_other),
		T_TEST(test_four_threads_of_one_process_work_on_one_arena_at_once),
		T_TEST(test_threads_of_two_processes_work_on_one_arena_at_once),
		T_TEST(test_a_threads_cache_counts_as_free_while_the_thread_lives),
		T_TEST(test_a_threads_cache_is_given_back_when_the_thread_exits),
		T_TEST(test_a_threads_cache_is_given_back_when_it_closes_its_handle),
		T_TEST(test_a_processs_cache_is_given_back_when_it_closes_its_handle),
	};
	return T_RUN_GROUP(tests);
}
