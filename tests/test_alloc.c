/*
 * tests/test_alloc.c -- allocation through the public API: alignment, the
 * malloc family's semantics (sma_alloc, sma_calloc, sma_aligned_alloc),
 * sizes larger than the heap, the usable size, exhaustion, and large
 * objects.  sma_realloc is in test_realloc.c, the statistics, the walk
 * and the checker in test_stats.c, bad offsets in test_badoffsets.c.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA T_MIB(4) /* bytes of most arenas here */

/* ---- alignment and the malloc family ----------------------------------------- */

static void test_every_object_is_aligned_to_16_bytes_in_every_attachment(void **state)
{
	static const size_t big[] = {1000, 4000, 4096, 5000, 10000, 65536, 100000, 300000};
	enum { NSMALL = 601, NBIG = sizeof(big) / sizeof(big[0]) };
	sma_t *a = t_open_private(ARENA);
	sma_t *b = t_track(sma_open_id(sma_shmid(a), 0));
	sma_off_t offs[NSMALL + NBIG];
	size_t sizes[NSMALL + NBIG];

	for (size_t i = 0; i < NSMALL + NBIG; i++) {
		sizes[i] = i < NSMALL ? i : big[i - NSMALL];
		offs[i] = t_alloc_ok(a, sizes[i]);
		assert_int_equal(offs[i] % 16, 0);
		assert_int_equal((uintptr_t)sma_ptr(a, offs[i]) % 16, 0);
		assert_int_equal((uintptr_t)sma_ptr(b, offs[i]) % 16, 0);
		t_fill(sma_ptr(a, offs[i]), sizes[i], offs[i]);
	}
	assert_ptr_not_equal(sma_ptr(a, offs[0]), sma_ptr(b, offs[0]));
	for (size_t i = 0; i < NSMALL + NBIG; i++) {
		assert_true(t_verify(sma_ptr(b, offs[i]), sizes[i], offs[i]));
		assert_int_equal(sma_free(a, offs[i]), 0);
	}
	t_close(b);
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_alloc_of_zero_returns_distinct_minimal_objects(void **state)
{
	enum { N = 200 };
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[N];
	size_t one;

	for (int i = 0; i < N; i++) {
		offs[i] = t_alloc_ok(a, 0);
		assert_true(sma_usable_size(a, offs[i]) <= 16);
		memset(sma_ptr(a, offs[i]), 0x5a, sma_usable_size(a, offs[i]));
	}
	t_assert_distinct(offs, N);
	assert_int_equal(t_stats(a).live, N);
	one = sma_usable_size(a, offs[0]);
	{
		sma_off_t o = t_alloc_ok(a, 1);
		assert_true(one <= sma_usable_size(a, o));
		assert_int_equal(sma_free(a, o), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(sma_free(a, offs[i]), 0);
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_calloc_returns_zeroed_memory_where_dirty_objects_were_freed(void **state)
{
	static const size_t sizes[] = {24, 200, 3000, 20000, 300000};
	enum { N = 8 };
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[N];

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t size = sizes[s];
		for (int i = 0; i < N; i++) {
			offs[i] = t_alloc_ok(a, size);
			memset(sma_ptr(a, offs[i]), 0xa5, sma_usable_size(a, offs[i]));
		}
		for (int i = 0; i < N; i++)
			assert_int_equal(sma_free(a, offs[i]), 0);
		for (int i = 0; i < N; i++) {
			/* as one member, then as 8-byte members (where the size allows) */
			size_t nmemb = (i & 1) && size % 8 == 0 ? size / 8 : 1;
			size_t each = nmemb == 1 ? size : 8;
			const unsigned char *p;
			offs[i] = sma_calloc(a, nmemb, each);
			assert_int_not_equal(offs[i], SMA_NULL);
			assert_true(sma_usable_size(a, offs[i]) >= size);
			p = sma_ptr(a, offs[i]);
			for (size_t k = 0; k < size; k++)
				if (p[k])
					fail_msg("byte %zu of calloc(%zu, %zu) is %#x", k, nmemb, each,
						 p[k]);
		}
		for (int i = 0; i < N; i++)
			assert_int_equal(sma_free(a, offs[i]), 0);
	}
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_calloc_whose_size_overflows_fails_with_enomem_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t keep = t_alloc_ok(a, 100);
	struct sma_stats before = t_settled_stats(a);

	T_ASSERT_OFF_FAILS(sma_calloc(a, SIZE_MAX, 2), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, 2, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, SIZE_MAX / 2 + 1, 2), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, (size_t)1 << 32, (size_t)1 << 32), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, SIZE_MAX, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, ((size_t)1 << 33) + 1, (size_t)1 << 31), ENOMEM);
	t_assert_stats_equal(t_stats(a), before);
	assert_int_equal(sma_free(a, keep), 0);
	t_destroy(a);
}

static void test_alloc_larger_than_the_heap_fails_with_enomem_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t keep = t_alloc_ok(a, 100);
	struct sma_stats before = t_settled_stats(a);

	T_ASSERT_OFF_FAILS(sma_alloc(a, before.heap_size + 1), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, before.size), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, SIZE_MAX - 15), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, SIZE_MAX / 2), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_aligned_alloc(a, 16, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_aligned_alloc(a, 4096, SIZE_MAX - 4095), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_realloc(a, SMA_NULL, SIZE_MAX), ENOMEM);
	t_assert_stats_equal(t_stats(a), before);
	assert_int_equal(sma_free(a, keep), 0);
	t_destroy(a);
}

/* ---- aligned allocation -------------------------------------------------------- */

static void test_aligned_alloc_honours_every_power_of_two_up_to_4096(void **state)
{
	enum { NALIGN = 13, NSIZE = 6 };
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[NALIGN][NSIZE];
	size_t sizes[NSIZE];

	for (int i = 0; i < NALIGN; i++) {
		size_t align = (size_t)1 << i;
		size_t want[NSIZE] = {1, 16, 100, align, 3 * align + 5, 10000};
		memcpy(sizes, want, sizeof(sizes));
		for (int j = 0; j < NSIZE; j++) {
			sma_off_t off = sma_aligned_alloc(a, align, sizes[j]);
			if (off == SMA_NULL)
				fail_msg("sma_aligned_alloc(%zu, %zu): %s", align, sizes[j],
					 strerror(errno));
			assert_int_equal(off % align, 0);
			assert_int_equal(off % 16, 0);
			assert_int_equal((uintptr_t)sma_ptr(a, off) % align, 0);
			assert_true(sma_usable_size(a, off) >= sizes[j]);
			t_fill(sma_ptr(a, off), sma_usable_size(a, off), off);
			offs[i][j] = off;
		}
	}
	assert_int_equal(t_stats(a).live, NALIGN * NSIZE);
	for (int i = 0; i < NALIGN; i++)
		for (int j = 0; j < NSIZE; j++) {
			sma_off_t off = offs[i][j];
			assert_true(t_verify(sma_ptr(a, off), sma_usable_size(a, off), off));
			assert_int_equal(sma_free(a, off), 0);
		}
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_aligned_alloc_with_an_alignment_not_a_power_of_two_fails_with_einval(void **state)
{
	static const size_t bad[] = {0,	   3,	 5,    6,    7,	   12,	  24,
				     48,   100,	 4095, 4097, 6144, 12288, ((size_t)1 << 20) + 16,
				     SIZE_MAX, SIZE_MAX / 2, ((size_t)1 << 63) + 1};
	sma_t *a = t_open_private(ARENA);
	sma_off_t keep = t_alloc_ok(a, 64);
	struct sma_stats before = t_settled_stats(a);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		sma_off_t off = sma_aligned_alloc(a, bad[i], 100);
		int e = errno;
		if (off != SMA_NULL || e != EINVAL)
			fail_msg("sma_aligned_alloc(%zu, 100) gave %#llx, errno %d (%s); expected "
				 "EINVAL",
				 bad[i], (unsigned long long)off, e, strerror(e));
	}
	t_assert_stats_equal(t_stats(a), before);
	assert_int_equal(sma_free(a, keep), 0);
	t_destroy(a);
}

static void test_aligned_alloc_beyond_4096_is_aligned_or_fails_with_einval(void **state)
{
	static const size_t aligns[] = {8192, 16384, 65536, (size_t)1 << 20};
	enum { TRIES = 4 };
	sma_t *a = t_open_private(ARENA);
	sma_off_t filler[TRIES];

	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++)
		for (int t = 0; t < TRIES; t++) {
			/* a small object first, so that the tries start from different places */
			filler[t] = t_alloc_ok(a, 100 + 1000 * (size_t)t);
			errno = 0;
			sma_off_t off = sma_aligned_alloc(a, aligns[i], 100);
			if (off == SMA_NULL) {
				assert_int_equal(errno, EINVAL);
			} else {
				if (off % aligns[i] || (uintptr_t)sma_ptr(a, off) % aligns[i])
					fail_msg("sma_aligned_alloc(%zu, 100) returned %#llx, at %p",
						 aligns[i], (unsigned long long)off, sma_ptr(a, off));
				assert_true(sma_usable_size(a, off) >= 100);
				assert_int_equal(sma_free(a, off), 0);
			}
			if (t == TRIES - 1)
				for (int f = 0; f < TRIES; f++)
					assert_int_equal(sma_free(a, filler[f]), 0);
		}
	t_assert_all_free(a);
	t_destroy(a);
}

/* ---- sizes and exhaustion ------------------------------------------------------- */

static void test_usable_size_is_at_least_the_size_asked_and_all_of_it_is_usable(void **state)
{
	enum { N = 600 };
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[N];
	size_t sizes[N], sum = 0;

	for (int i = 0; i < N; i++) {
		sizes[i] = i < 590 ? (size_t)i * 7 : (size_t)(i - 589) * 30011;
		offs[i] = t_alloc_ok(a, sizes[i]);
		assert_true(sma_usable_size(a, offs[i]) >= sizes[i]);
		t_fill(sma_ptr(a, offs[i]), sma_usable_size(a, offs[i]), offs[i] ^ 0xabc);
		sum += sma_usable_size(a, offs[i]);
	}
	assert_int_equal(t_stats(a).used, sum);
	for (int i = 0; i < N; i++) {
		assert_true(t_verify(sma_ptr(a, offs[i]), sma_usable_size(a, offs[i]),
				     offs[i] ^ 0xabc));
		assert_int_equal(sma_free(a, offs[i]), 0);
	}
	t_assert_all_free(a);
	t_destroy(a);
}

/* Allocates objects of sizes from a seeded sequence until ENOMEM; returns
 * how many, with their offsets in offs (room for cap). */
static size_t fill(sma_t *a, size_t size, uint64_t seed, sma_off_t *offs, size_t cap)
{
	uint64_t rng = seed;
	size_t n = 0;

	for (;;) {
		size_t s = size ? size : t_log_uniform(&rng, 1, 100000);
		sma_off_t off = sma_alloc(a, s);
		if (off == SMA_NULL) {
			assert_int_equal(errno, ENOMEM);
			return n;
		}
		if (n == cap)
			fail_msg("more than %zu objects of %zu bytes fit", cap, size);
		offs[n++] = off;
		if (sma_usable_size(a, off) >= 8)
			*(uint64_t *)sma_ptr(a, off) = off;
	}
}

static void free_all_shuffled(sma_t *a, sma_off_t *offs, size_t n, uint64_t seed)
{
	uint64_t rng = seed;

	for (size_t i = n; i > 1; i--) {
		size_t j = t_rand(&rng) % i;
		sma_off_t t = offs[i - 1];
		offs[i - 1] = offs[j];
		offs[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		if (sma_usable_size(a, offs[i]) >= 8)
			assert_int_equal(*(uint64_t *)sma_ptr(a, offs[i]), offs[i]);
		assert_int_equal(sma_free(a, offs[i]), 0);
	}
}

static void test_filling_to_enomem_then_freeing_all_allows_the_same_count_again(void **state)
{
	static const size_t sizes[] = {8, 48, 700, 5000, 70000, 0 /* mixed */};
	static sma_off_t offs[T_MIB(2) / 16];
	size_t cap = sizeof(offs) / sizeof(offs[0]);
	sma_t *a = t_open_private(T_MIB(2));
	struct sma_stats fresh = t_stats(a);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n1, n2;

		n1 = fill(a, sizes[i], 99, offs, cap);
		assert_true(n1 > 0);
		t_assert_check(a);
		assert_int_equal(t_stats(a).live, n1);
		free_all_shuffled(a, offs, n1, i);
		t_assert_all_free(a);
		assert_int_equal(t_stats(a).free, fresh.free);

		n2 = fill(a, sizes[i], 99, offs, cap);
		if (n2 != n1)
			fail_msg("%zu objects of %zu bytes fit the first time, %zu the second", n1,
				 sizes[i], n2);
		free_all_shuffled(a, offs, n2, i + 100);
		t_assert_all_free(a);
	}
	t_destroy(a);
}

static void test_one_mib_objects_fill_a_sixteen_mib_arena_and_keep_their_contents(void **state)
{
	enum { CAP = 16 };
	sma_t *a = t_open_private(T_MIB(16));
	sma_off_t offs[CAP];
	size_t n = 0;
	sma_off_t off;

	while ((off = sma_alloc(a, T_MIB(1))) != SMA_NULL) {
		assert_true(n < CAP);
		t_fill(sma_ptr(a, off), T_MIB(1), off);
		offs[n++] = off;
	}
	assert_int_equal(errno, ENOMEM);
	assert_true(n >= 14);
	t_assert_check(a);
	for (size_t i = 0; i < n; i++)
		assert_true(t_verify(sma_ptr(a, offs[i]), T_MIB(1), offs[i]));
	/* Free all but one, then grow it to 4 MiB: the contents follow. */
	for (size_t i = 1; i < n; i++)
		assert_int_equal(sma_free(a, offs[i]), 0);
	off = sma_realloc(a, offs[0], T_MIB(4));
	assert_int_not_equal(off, SMA_NULL);
	assert_true(t_verify(sma_ptr(a, off), T_MIB(1), offs[0]));
	assert_int_equal(sma_free(a, off), 0);
	t_assert_all_free(a);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_every_object_is_aligned_to_16_bytes_in_every_attachment),
		T_TEST(test_alloc_of_zero_returns_distinct_minimal_objects),
		T_TEST(test_calloc_returns_zeroed_memory_where_dirty_objects_were_freed),
		T_TEST(test_calloc_whose_size_overflows_fails_with_enomem_and_changes_nothing),
		T_TEST(test_alloc_larger_than_the_heap_fails_with_enomem_and_changes_nothing),
		T_TEST(test_aligned_alloc_honours_every_power_of_two_up_to_4096),
		T_TEST(test_aligned_alloc_with_an_alignment_not_a_power_of_two_fails_with_einval),
		T_TEST(test_aligned_alloc_beyond_4096_is_aligned_or_fails_with_einval),
		T_TEST(test_usable_size_is_at_least_the_size_asked_and_all_of_it_is_usable),
		T_TEST(test_filling_to_enomem_then_freeing_all_allows_the_same_count_again),
		T_TEST(test_one_mib_objects_fill_a_sixteen_mib_arena_and_keep_their_contents),
	};
	return T_RUN_GROUP(tests);
}
