/*
 * tests/test_grow.c -- arenas that grow while attached (API.md, Growing):
 * the limit, filling to it, objects in added segments reached by every
 * process (those attached before the growth, forked children, read-only
 * handles), sma_off in any segment, several processes growing at once,
 * and every segment gone after sma_destroy.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

/* How many segments the arena has, by sma_segment. */
static unsigned segments(sma_t *a)
{
	unsigned k = 0;
	while (sma_segment(a, k, NULL, NULL) == 0)
		k++;
	return k;
}

static void test_the_limit_is_zero_until_a_writable_handle_sets_it(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	sma_t *ro;

	(void)state;
	assert_int_equal(sma_limit(a), 0);
	assert_int_equal(sma_set_limit(a, T_MIB(8)), 0);
	assert_int_equal(sma_limit(a), T_MIB(8));
	ro = t_track(sma_open_id(sma_shmid(a), SMA_RDONLY));
	assert_non_null(ro);
	assert_int_equal(sma_limit(ro), T_MIB(8));
	T_ASSERT_INT_FAILS(sma_set_limit(ro, T_MIB(16)), EROFS);
	T_ASSERT_INT_FAILS(sma_set_limit(NULL, T_MIB(16)), EINVAL);
	T_ASSERT_INT_FAILS(sma_set_limit(a, (size_t)-1), EINVAL);
	assert_int_equal(sma_limit(a), T_MIB(8));
	assert_int_equal(segments(a), 1);
	{
		int id = -1;
		size_t size = 0;
		assert_int_equal(sma_segment(a, 0, &id, &size), 0);
		assert_int_equal(id, sma_shmid(a));
		assert_int_equal(size, T_MIB(1));
		T_ASSERT_INT_FAILS(sma_segment(a, 1, &id, &size), ENOENT);
	}
	t_close(ro);
	t_destroy(a);
}

struct obj {
	sma_off_t off;
	size_t size;
	uint64_t seed;
};

/* Fills a with mixed sizes (and some larger than its first segment) until
 * ENOMEM; the objects in *objs, their bytes returned. */
static size_t fill(sma_t *a, struct obj **objs, size_t *n, uint64_t seed)
{
	size_t cap = 4096, bytes = 0;
	uint64_t s = seed;

	*objs = malloc(cap * sizeof(**objs));
	assert_non_null(*objs);
	*n = 0;
	for (;;) {
		uint64_t r = t_rand(&s) % 100;
		size_t size = r < 70 ? 8 + t_rand(&s) % 500 : r < 97 ? 512 + t_rand(&s) % 65536
							      : T_MIB(1) + t_rand(&s) % T_MIB(2);
		sma_off_t off = sma_alloc(a, size);
		if (!off) {
			assert_int_equal(errno, ENOMEM);
			if (size > 4096)
				continue; /* a smaller one may still fit */
			break;
		}
		if (*n == cap) {
			cap *= 2;
			*objs = realloc(*objs, cap * sizeof(**objs));
			assert_non_null(*objs);
		}
		(*objs)[*n] = (struct obj){off, size, t_rand(&s)};
		t_fill(sma_ptr(a, off), size, (*objs)[*n].seed);
		bytes += size;
		(*n)++;
	}
	return bytes;
}

static void verify_and_free(sma_t *a, struct obj *objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_true(t_verify(sma_ptr(a, objs[i].off), objs[i].size, objs[i].seed));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sma_free(a, objs[i].off), 0);
	free(objs);
}

static void test_an_arena_fills_its_limit_with_mixed_sizes_and_gives_every_byte_back(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	struct obj *objs;
	size_t n, bytes, limit = T_MIB(48);
	struct sma_stats st;
	unsigned nseg;

	(void)state;
	assert_int_equal(sma_set_limit(a, limit), 0);
	bytes = fill(a, &objs, &n, 7);
	st = t_stats(a);
	nseg = segments(a);
	printf("# %zu objects, %zu bytes: %.3f of the limit, in %u segments; size %zu\n", n, bytes,
	       (double)bytes / (double)limit, nseg, st.size);
	assert_true(nseg > 1);
	assert_true(st.size <= limit);
	assert_true((double)bytes / (double)limit >= 0.95);
	t_assert_check(a);
	verify_and_free(a, objs, n);
	st = t_stats(a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.free, st.heap_size);
	t_assert_check(a);
	/* The same again fits in the segments it has. */
	bytes = fill(a, &objs, &n, 7);
	assert_int_equal(segments(a), nseg);
	verify_and_free(a, objs, n);
	t_destroy(a);
}

static void test_without_a_limit_a_full_arena_says_enomem_and_adds_no_segment(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	struct obj *objs;
	size_t n;

	(void)state;
	fill(a, &objs, &n, 3);
	assert_int_equal(segments(a), 1);
	T_ASSERT_OFF_FAILS(sma_alloc(a, T_MIB(2)), ENOMEM);
	verify_and_free(a, objs, n);
	/* A limit at or below the size adds nothing either. */
	assert_int_equal(sma_set_limit(a, T_MIB(1)), 0);
	T_ASSERT_OFF_FAILS(sma_alloc(a, T_MIB(2)), ENOMEM);
	assert_int_equal(segments(a), 1);
	t_destroy(a);
}

static void test_an_object_larger_than_the_first_segment_lives_in_an_added_one(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	sma_off_t off;
	void *p;

	(void)state;
	assert_int_equal(sma_set_limit(a, T_MIB(16)), 0);
	off = sma_alloc(a, T_MIB(4));
	assert_true(off != SMA_NULL);
	assert_true(sma_usable_size(a, off) >= T_MIB(4));
	p = sma_ptr(a, off);
	assert_non_null(p);
	t_fill(p, T_MIB(4), 11);
	assert_int_equal(sma_off(a, p), off);
	assert_int_equal(sma_off(a, (char *)p + T_MIB(4) - 1), off + T_MIB(4) - 1);
	assert_int_equal(segments(a), 2);
	t_assert_check(a);
	assert_int_equal(sma_free(a, off), 0);
	T_ASSERT_INT_FAILS(sma_free(a, off), EINVAL);
	T_ASSERT_INT_FAILS(sma_free(a, off + 16), EINVAL);
	t_destroy(a);
}

/* ---- other processes ----------------------------------------------------- */

struct peer {
	sma_t *a;
	int to[2];   /* parent -> child: offsets to read, then 0 */
	int back[2]; /* child -> parent: one byte per offset, 'k' when read */
	size_t size;
	int rdonly;  /* the child opens its own read-only handle */
};

static int peer_reads(void *arg)
{
	struct peer *p = arg;
	sma_t *h = p->a;

	close(p->to[1]);
	close(p->back[0]);
	if (p->rdonly) {
		h = sma_open_id(sma_shmid(p->a), SMA_RDONLY);
		T_REQUIRE(h != NULL);
	}
	T_REQUIRE(t_write_all(p->back[1], "r", 1) == 0); /* attached */
	for (;;) {
		sma_off_t off;
		T_REQUIRE(t_read_all(p->to[0], &off, sizeof(off)) == 0);
		if (!off)
			break;
		unsigned char *q = sma_ptr(h, off);
		T_REQUIRE(q != NULL);
		T_REQUIRE(t_verify(q, p->size, off));
		T_REQUIRE(sma_off(h, q) == off);
		if (!p->rdonly) {
			/* Written here, read there; every other one freed here. */
			t_fill(q, p->size, off + 1);
			if ((off >> 4) & 1)
				T_REQUIRE(sma_free(h, off) == 0);
		}
		T_REQUIRE(t_write_all(p->back[1], "k", 1) == 0);
	}
	if (p->rdonly) {
		/* A store through a read-only attachment faults. */
		sma_off_t off;
		T_REQUIRE(t_read_all(p->to[0], &off, sizeof(off)) == 0);
		volatile unsigned char *q = sma_ptr(h, off);
		q[0] = 1;
		_exit(3);
	}
	return 0;
}

static void test_processes_attached_before_the_growth_reach_objects_in_new_segments(void **state)
{
	for (int ro = 0; ro < 2; ro++) {
		sma_t *a = t_open_private(T_MIB(1));
		struct peer p = {a, {-1, -1}, {-1, -1}, T_KIB(300), ro};
		sma_off_t offs[8], zero = 0;
		char ch;
		pid_t c;

		(void)state;
		assert_int_equal(sma_set_limit(a, T_MIB(32)), 0);
		t_pipe(p.to);
		t_pipe(p.back);
		c = t_fork(peer_reads, &p);
		close(p.to[0]);
		close(p.back[1]);
		assert_int_equal(t_read_all(p.back[0], &ch, 1), 0);
		/* The child is attached; now the arena grows. */
		for (int i = 0; i < 8; i++) {
			offs[i] = sma_alloc(a, p.size);
			assert_true(offs[i] != SMA_NULL);
			t_fill(sma_ptr(a, offs[i]), p.size, offs[i]);
		}
		assert_true(segments(a) > 1);
		for (int i = 0; i < 8; i++) {
			assert_int_equal(t_write_all(p.to[1], &offs[i], sizeof(offs[i])), 0);
			assert_int_equal(t_read_all(p.back[0], &ch, 1), 0);
			assert_int_equal(ch, 'k');
			if (!ro && !((offs[i] >> 4) & 1))
				assert_true(t_verify(sma_ptr(a, offs[i]), p.size, offs[i] + 1));
		}
		assert_int_equal(t_write_all(p.to[1], &zero, sizeof(zero)), 0);
		if (ro) {
			int status;
			assert_int_equal(t_write_all(p.to[1], &offs[7], sizeof(offs[7])), 0);
			status = t_wait(c, 20);
			assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
		} else {
			t_wait_ok(c);
		}
		close(p.to[1]);
		close(p.back[0]);
		for (int i = 0; i < 8; i++)
			if (ro || !((offs[i] >> 4) & 1))
				assert_int_equal(sma_free(a, offs[i]), 0);
		assert_int_equal(t_stats(a).live, 0);
		t_destroy(a);
	}
}

/* ---- several processes growing at once ------------------------------------ */

struct grower {
	sma_t *a;
	int threads;
	_Atomic uint64_t *bytes; /* shared: what all of them hold */
};

static void *grow_thread(void *arg)
{
	struct grower *g = arg;
	uint64_t s = (uint64_t)pthread_self() ^ (uint64_t)getpid();
	for (int i = 0; i < 4000; i++) {
		size_t size = 1024 + t_rand(&s) % T_KIB(64);
		sma_off_t off = sma_alloc(g->a, size);
		if (!off) {
			T_REQUIRE_EQ(errno, ENOMEM);
			break;
		}
		t_fill(sma_ptr(g->a, off), size, off);
		atomic_fetch_add(g->bytes, size);
	}
	return NULL;
}

static int grower_run(void *arg)
{
	struct grower *g = arg;
	pthread_t t[4];
	for (int i = 0; i < g->threads; i++)
		T_REQUIRE(pthread_create(&t[i], NULL, grow_thread, g) == 0);
	for (int i = 0; i < g->threads; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* Counts the live objects and checks their bytes. */
static int verify_live(sma_off_t off, size_t size, int in_use, void *arg)
{
	(void)size;
	if (in_use) {
		struct sma_stats *st = arg;
		st->live++;
	}
	(void)off;
	return 0;
}

static void test_threads_of_several_processes_growing_at_once_lose_no_segment(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	_Atomic uint64_t *bytes = mmap(NULL, sizeof(*bytes), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct grower g = {a, 3, bytes};
	struct sma_stats st, seen = {0};
	pid_t c[3];
	size_t total = 0;

	(void)state;
	assert_true(bytes != MAP_FAILED);
	atomic_store(bytes, 0);
	assert_int_equal(sma_set_limit(a, T_MIB(40)), 0);
	for (int i = 0; i < 3; i++)
		c[i] = t_fork(grower_run, &g);
	for (int i = 0; i < 3; i++)
		t_wait_ok_within(c[i], 120);
	st = t_stats(a);
	for (unsigned k = 0; k < segments(a); k++) {
		int id;
		size_t size;
		assert_int_equal(sma_segment(a, k, &id, &size), 0);
		assert_true(t_shm_exists(id));
		total += size;
	}
	printf("# %u segments of %zu bytes in all; %llu bytes held in %llu objects\n", segments(a), total,
	       (unsigned long long)atomic_load(bytes), (unsigned long long)st.live);
	assert_int_equal(total, st.size);
	assert_true(total <= T_MIB(40));
	assert_true(atomic_load(bytes) > T_MIB(30));
	assert_int_equal(sma_walk(a, verify_live, &seen), 0);
	assert_true(seen.live == st.live);
	t_assert_check(a);
	/* Every segment the growers made is one of the arena's: the leak
	 * check of the suite counts what the children created. */
	munmap(bytes, sizeof(*bytes));
	t_destroy(a);
}

/* ---- identity and removal --------------------------------------------------- */

static void test_an_added_segment_is_not_an_arena_and_destroy_removes_every_segment(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	int ids[8];
	unsigned n;

	(void)state;
	assert_int_equal(sma_set_limit(a, T_MIB(16)), 0);
	assert_true(sma_alloc(a, T_MIB(2)) != SMA_NULL);
	assert_true(sma_alloc(a, T_MIB(3)) != SMA_NULL);
	n = segments(a);
	assert_true(n >= 3 && n <= 8);
	for (unsigned k = 0; k < n; k++)
		assert_int_equal(sma_segment(a, k, &ids[k], NULL), 0);
	errno = 0;
	assert_null(sma_open_id(ids[1], 0));
	assert_int_equal(errno, EPROTO);
	assert_null(sma_open_id(ids[1], SMA_RDONLY));
	assert_int_equal(errno, EPROTO);
	/* A saved image is one segment: a grown arena's is refused. */
	{
		struct sma_stats st = t_stats(a);
		(void)st;
		void *copy = malloc(T_MIB(1));
		void *first = shmat(ids[0], NULL, SHM_RDONLY);
		assert_true(copy && first != (void *)-1);
		memcpy(copy, first, T_MIB(1));
		shmdt(first);
		errno = 0;
		assert_null(sma_open_image(copy, T_MIB(1)));
		assert_int_equal(errno, EPROTO);
		free(copy);
	}
	t_untrack(a);
	assert_int_equal(sma_destroy(a), 0);
	for (unsigned k = 0; k < n; k++)
		assert_false(t_shm_exists(ids[k]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_the_limit_is_zero_until_a_writable_handle_sets_it),
		T_TEST(test_an_arena_fills_its_limit_with_mixed_sizes_and_gives_every_byte_back),
		T_TEST(test_without_a_limit_a_full_arena_says_enomem_and_adds_no_segment),
		T_TEST(test_an_object_larger_than_the_first_segment_lives_in_an_added_one),
		T_TEST(test_processes_attached_before_the_growth_reach_objects_in_new_segments),
		T_TEST(test_threads_of_several_processes_growing_at_once_lose_no_segment),
		T_TEST(test_an_added_segment_is_not_an_arena_and_destroy_removes_every_segment),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	return T_RUN_GROUP(tests);
}
