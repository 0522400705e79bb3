/*
 * tests/test_stats.c -- inspection through the public API: the statistics
 * of a fresh arena and under random churn against the walk, the walk's
 * early stop, largest_free and used, sma_recover on a healthy arena, the
 * lock and semaphore counters of sma_info, and the checker on a smashed
 * header.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#define ARENA T_MIB(4) /* bytes of most arenas here */

/* ---- statistics and the walk ------------------------------------------------------------ */

static void test_a_fresh_arena_has_all_its_heap_free_in_one_piece(void **state)
{
	static const size_t sizes[] = {SMA_MIN_SIZE, T_MIB(1), T_MIB(4), T_MIB(16)};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sma_t *a = t_open_private(sizes[i]);
		struct sma_stats st = t_stats(a);
		struct t_walk w = {0};
		sma_off_t off;

		assert_int_equal(st.size, sizes[i]);
		assert_true(st.heap_size > 0 && st.heap_size < st.size);
		assert_int_equal(st.free, st.heap_size);
		assert_int_equal(st.largest_free, st.heap_size);
		assert_int_equal(st.used, 0);
		assert_int_equal(st.live, 0);
		assert_int_equal(st.allocs, 0);
		assert_int_equal(st.frees, 0);
		assert_int_equal(t_nattch(a, 1), 1);
		t_walk(a, &w);
		assert_int_equal(w.n_used, 0);
		/* The largest free piece is one object. */
		off = t_alloc_ok(a, st.largest_free);
		assert_true(sma_usable_size(a, off) >= st.largest_free);
		assert_int_equal(sma_free(a, off), 0);
		t_assert_all_free(a);
		t_destroy(a);
	}
}

#define MODEL_SLOTS 500 /* objects live at most in the model */

struct model {
	sma_off_t offs[MODEL_SLOTS]; /* live objects, SMA_NULL for an empty slot */
	size_t sizes[MODEL_SLOTS];   /* their requested sizes */
	size_t live;		     /* live objects */
};

/* Walks a and asserts it shows exactly the model's live objects. */
static void assert_walk_matches(sma_t *a, struct model *m)
{
	static sma_off_t mine[MODEL_SLOTS], walked[MODEL_SLOTS + 16];
	static size_t walked_sizes[MODEL_SLOTS + 16];
	struct sma_stats st;
	struct t_walk w = {.offs = walked, .sizes = walked_sizes, .cap = MODEL_SLOTS + 16};
	size_t k = 0;

	t_walk(a, &w);
	st = t_stats(a);
	assert_int_equal(st.live, st.allocs - st.frees);
	assert_int_equal(st.live, m->live);
	assert_true(st.largest_free <= st.free);
	assert_true(st.used + st.free <= st.heap_size);
	for (size_t i = 0; i < MODEL_SLOTS; i++)
		if (m->offs[i])
			mine[k++] = m->offs[i];
	qsort(mine, k, sizeof(*mine), t_cmp_off);
	assert_int_equal(w.n_used, k);
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(w.offs[i], mine[i]);
		assert_int_equal(w.sizes[i], sma_usable_size(a, mine[i]));
	}
}

static void test_live_is_allocs_minus_frees_and_the_walk_matches_the_stats(void **state)
{
	enum { SLOTS = MODEL_SLOTS, OPS = 20000 };
	sma_t *a = t_open_private(T_MIB(8));
	static struct model m;
	uint64_t rng = 12345;

	memset(&m, 0, sizeof(m));
	for (int op = 0; op < OPS; op++) {
		size_t i = t_rand(&rng) % SLOTS;
		if (m.offs[i]) {
			assert_true(t_verify(sma_ptr(a, m.offs[i]), m.sizes[i], m.offs[i]));
			assert_int_equal(sma_free(a, m.offs[i]), 0);
			m.offs[i] = SMA_NULL;
			m.live--;
		} else {
			size_t size = t_log_uniform(&rng, 1, 200000);
			sma_off_t off;
			switch (t_rand(&rng) % 4) {
			case 0:
				off = sma_calloc(a, 1, size);
				break;
			case 1:
				off = sma_aligned_alloc(a, (size_t)64 << (t_rand(&rng) % 6), size);
				break;
			default:
				off = sma_alloc(a, size);
			}
			if (off == SMA_NULL) {
				assert_int_equal(errno, ENOMEM);
				continue;
			}
			t_fill(sma_ptr(a, off), size, off);
			m.offs[i] = off;
			m.sizes[i] = size;
			m.live++;
		}
		if (op % 1000 == 999)
			assert_walk_matches(a, &m);
	}
	assert_walk_matches(a, &m);
	t_assert_check(a);
	for (size_t i = 0; i < SLOTS; i++)
		if (m.offs[i]) {
			assert_true(t_verify(sma_ptr(a, m.offs[i]), m.sizes[i], m.offs[i]));
			assert_int_equal(sma_free(a, m.offs[i]), 0);
		}
	t_assert_all_free(a);
	t_destroy(a);
}

static int stop_at_second(sma_off_t off, size_t size, int in_use, void *arg)
{
	(void)off;
	(void)size;
	(void)in_use;
	return ++*(int *)arg == 2 ? 7 : 0;
}

static void test_walk_stops_at_a_non_zero_return_and_returns_it(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[5];
	int calls = 0;

	for (int i = 0; i < 5; i++)
		offs[i] = t_alloc_ok(a, 100 * (i + 1));
	assert_int_equal(sma_walk(a, stop_at_second, &calls), 7);
	assert_int_equal(calls, 2);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sma_free(a, offs[i]), 0);
	t_destroy(a);
}

static void test_largest_free_is_one_object_sma_alloc_can_return_now(void **state)
{
	enum { N = 40 };
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[N], big;
	struct sma_stats st;

	for (int i = 0; i < N; i++)
		offs[i] = t_alloc_ok(a, 50000);
	for (int i = 0; i < N; i += 2) {
		assert_int_equal(sma_free(a, offs[i]), 0);
		offs[i] = SMA_NULL;
	}
	st = t_stats(a);
	assert_true(st.largest_free <= st.free);
	big = t_alloc_ok(a, st.largest_free);
	assert_true(sma_usable_size(a, big) >= st.largest_free);
	assert_int_equal(sma_free(a, big), 0);
	for (int i = 0; i < N; i++)
		if (offs[i])
			assert_int_equal(sma_free(a, offs[i]), 0);
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_used_is_the_sum_of_the_usable_sizes_of_live_objects(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[50];
	size_t sum = 0;

	for (int i = 0; i < 50; i++) {
		offs[i] = t_alloc_ok(a, (size_t)i * i * 37 + 1);
		sum += sma_usable_size(a, offs[i]);
		assert_int_equal(t_stats(a).used, sum);
	}
	for (int i = 0; i < 50; i++) {
		sum -= sma_usable_size(a, offs[i]);
		assert_int_equal(sma_free(a, offs[i]), 0);
		assert_int_equal(t_stats(a).used, sum);
	}
	t_destroy(a);
}

/* ---- recover and check ---------------------------------------------------------- */

static void test_recover_on_a_healthy_arena_frees_no_live_object(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[20];
	struct sma_stats before;

	for (int i = 0; i < 20; i++) {
		offs[i] = t_alloc_ok(a, 100 + 1000 * i);
		t_fill(sma_ptr(a, offs[i]), 100 + 1000 * i, offs[i]);
	}
	before = t_settled_stats(a);
	assert_int_equal(sma_recover(a), 0);
	assert_int_equal(t_stats(a).live, before.live);
	assert_int_equal(t_stats(a).used, before.used);
	t_assert_check(a);
	for (int i = 0; i < 20; i++) {
		assert_true(t_verify(sma_ptr(a, offs[i]), 100 + 1000 * i, offs[i]));
		assert_int_equal(sma_free(a, offs[i]), 0);
	}
	t_assert_all_free(a);
	t_destroy(a);
}

/* ---- the counters of the lock and of the semaphore set ---------------------------------- */

static struct sma_info info_of(sma_t *a)
{
	struct sma_info in;

	assert_int_equal(sma_info(a, &in), 0);
	return in;
}

struct hammer {
	sma_t *a;
	atomic_int *stop;
	uint64_t rounds; /* 1 MiB allocations made and freed */
	int failed;	 /* an allocation or a free failed */
};

/* Large objects (past every cache) until told to stop: each one takes
 * the arena lock to allocate and again to free. */
static void *hammer(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(h->stop)) {
		sma_off_t off = sma_alloc(h->a, T_MIB(1));

		if (!off || sma_free(h->a, off) != 0) {
			h->failed = 1;
			break;
		}
		h->rounds++;
	}
	return NULL;
}

static void test_two_threads_taking_the_lock_at_once_count_waits_among_lock_ops(void **state)
{
	sma_t *a = t_open_private(T_MIB(16));
	struct sma_info in0 = info_of(a), in;
	atomic_int stop = 0;
	struct hammer h[2] = {{a, &stop, 0, 0}, {a, &stop, 0, 0}};
	pthread_t th[2];
	struct timespec nap = {0, 10 * 1000 * 1000};

	assert_true(in0.lock_waits <= in0.lock_ops);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &h[i]), 0);
	/* Until one of them has had to wait for the other, 20 s at most. */
	for (int n = 0; n < 2000; n++) {
		in = info_of(a);
		if (in.lock_waits > in0.lock_waits)
			break;
		nanosleep(&nap, NULL);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	in = info_of(a);
	assert_false(h[0].failed || h[1].failed);
	assert_true(in.lock_waits > in0.lock_waits);
	assert_true(in.lock_ops - in0.lock_ops >= h[0].rounds + h[1].rounds);
	assert_true(in.lock_ops - in0.lock_ops >= in.lock_waits - in0.lock_waits);
	assert_true(in.lock_ops >= in.lock_waits);
	t_destroy(a);
}

struct newcomer {
	sma_t *a;
	uint64_t sem_ops; /* sma_info's sem_ops once it holds a slot */
	int failed;
};

static void *newcomer(void *arg)
{
	struct newcomer *c = arg;
	sma_off_t off = sma_alloc(c->a, 32);
	struct sma_info in;

	c->failed = !off || sma_info(c->a, &in) != 0 || sma_free(c->a, off) != 0;
	c->sem_ops = in.sem_ops;
	return NULL; /* gives its slot back as it exits */
}

static void test_a_thread_taking_and_giving_back_a_slot_makes_semaphore_calls(void **state)
{
	sma_t *a = t_open_private(ARENA);
	struct sma_info in0 = info_of(a), in;
	struct newcomer c = {a, 0, 0};
	pthread_t th;

	/* Making the set was counted. */
	assert_true(in0.sem_ops >= 1);
	assert_int_equal(pthread_create(&th, NULL, newcomer, &c), 0);
	pthread_join(th, NULL);
	assert_false(c.failed);
	in = info_of(a);
	/* Its token raised as it took its slot, lowered as it left. */
	assert_true(c.sem_ops >= in0.sem_ops + 1);
	assert_true(in.sem_ops >= c.sem_ops + 1);
	/* Looking makes none. */
	assert_int_equal(info_of(a).sem_ops, in.sem_ops);
	t_destroy(a);
}

static void test_check_of_an_arena_whose_header_magic_is_smashed_fails_with_ebadmsg(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t off = t_alloc_ok(a, 100);
	unsigned char *raw = shmat(sma_shmid(a), NULL, 0);
	unsigned char saved[8];

	assert_true(raw != (void *)-1);
	assert_int_equal(sma_check(a), 0);
	memcpy(saved, raw, sizeof(saved));
	for (size_t i = 0; i < sizeof(saved); i++)
		raw[i] ^= 0xff;
	T_ASSERT_INT_FAILS(sma_check(a), EBADMSG);
	memcpy(raw, saved, sizeof(saved));
	assert_int_equal(shmdt(raw), 0);
	assert_int_equal(sma_check(a), 0);
	assert_int_equal(sma_free(a, off), 0);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_fresh_arena_has_all_its_heap_free_in_one_piece),
		T_TEST(test_live_is_allocs_minus_frees_and_the_walk_matches_the_stats),
		T_TEST(test_walk_stops_at_a_non_zero_return_and_returns_it),
		T_TEST(test_largest_free_is_one_object_sma_alloc_can_return_now),
		T_TEST(test_used_is_the_sum_of_the_usable_sizes_of_live_objects),
		T_TEST(test_recover_on_a_healthy_arena_frees_no_live_object),
		T_TEST(test_two_threads_taking_the_lock_at_once_count_waits_among_lock_ops),
		T_TEST(test_a_thread_taking_and_giving_back_a_slot_makes_semaphore_calls),
		T_TEST(test_check_of_an_arena_whose_header_magic_is_smashed_fails_with_ebadmsg),
	};
	return T_RUN_GROUP(tests);
}
