/*
 * tests/test_alloc.c -- allocation and inspection through the public API:
 * alignment, the malloc family's semantics, every bad offset, the offset
 * and address translation, the statistics against the walk, exhaustion,
 * large objects, and the checker.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#define ARENA T_MIB(4) /* bytes of most arenas here */

/* ---- helpers ------------------------------------------------------------- */

/* Stats after one call that lets the library settle its caches. */
static struct sma_stats settled_stats(sma_t *a)
{
	t_stats(a);
	return t_stats(a);
}

static void assert_stats_equal(struct sma_stats x, struct sma_stats y)
{
	assert_int_equal(x.size, y.size);
	assert_int_equal(x.heap_size, y.heap_size);
	assert_int_equal(x.used, y.used);
	assert_int_equal(x.free, y.free);
	assert_int_equal(x.largest_free, y.largest_free);
	assert_int_equal(x.live, y.live);
	assert_int_equal(x.allocs, y.allocs);
	assert_int_equal(x.frees, y.frees);
}

/* The arena is as fresh: everything free in one extent. */
static void assert_all_free(sma_t *a)
{
	struct sma_stats st = t_stats(a);

	assert_int_equal(st.live, 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.allocs, st.frees);
	assert_int_equal(st.free, st.heap_size);
	assert_int_equal(st.largest_free, st.heap_size);
}

static int cmp_off(const void *x, const void *y)
{
	sma_off_t a = *(const sma_off_t *)x, b = *(const sma_off_t *)y;
	return a < b ? -1 : a > b;
}

static void assert_distinct(const sma_off_t *offs, size_t n)
{
	sma_off_t *s = malloc(n * sizeof(*s));

	assert_non_null(s);
	memcpy(s, offs, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_off);
	for (size_t i = 1; i < n; i++)
		if (s[i] == s[i - 1]) {
			sma_off_t dup = s[i];
			free(s);
			fail_msg("offset %#llx handed out twice", (unsigned long long)dup);
		}
	free(s);
}

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
	assert_all_free(a);
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
	assert_distinct(offs, N);
	assert_int_equal(t_stats(a).live, N);
	one = sma_usable_size(a, offs[0]);
	{
		sma_off_t o = t_alloc_ok(a, 1);
		assert_true(one <= sma_usable_size(a, o));
		assert_int_equal(sma_free(a, o), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(sma_free(a, offs[i]), 0);
	assert_all_free(a);
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
	assert_all_free(a);
	t_destroy(a);
}

static void test_calloc_whose_size_overflows_fails_with_enomem_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t keep = t_alloc_ok(a, 100);
	struct sma_stats before = settled_stats(a);

	T_ASSERT_OFF_FAILS(sma_calloc(a, SIZE_MAX, 2), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, 2, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, SIZE_MAX / 2 + 1, 2), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, (size_t)1 << 32, (size_t)1 << 32), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, SIZE_MAX, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_calloc(a, ((size_t)1 << 33) + 1, (size_t)1 << 31), ENOMEM);
	assert_stats_equal(t_stats(a), before);
	assert_int_equal(sma_free(a, keep), 0);
	t_destroy(a);
}

static void test_alloc_larger_than_the_heap_fails_with_enomem_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t keep = t_alloc_ok(a, 100);
	struct sma_stats before = settled_stats(a);

	T_ASSERT_OFF_FAILS(sma_alloc(a, before.heap_size + 1), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, before.size), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, SIZE_MAX - 15), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_alloc(a, SIZE_MAX / 2), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_aligned_alloc(a, 16, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_aligned_alloc(a, 4096, SIZE_MAX - 4095), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_realloc(a, SMA_NULL, SIZE_MAX), ENOMEM);
	assert_stats_equal(t_stats(a), before);
	assert_int_equal(sma_free(a, keep), 0);
	t_destroy(a);
}

static void test_realloc_of_null_allocates(void **state)
{
	sma_t *a = t_open_private(ARENA);
	struct sma_stats before = t_stats(a), after;
	sma_off_t off = sma_realloc(a, SMA_NULL, 100);

	assert_int_not_equal(off, SMA_NULL);
	assert_true(sma_usable_size(a, off) >= 100);
	after = t_stats(a);
	assert_int_equal(after.allocs, before.allocs + 1);
	assert_int_equal(after.live, before.live + 1);
	t_fill(sma_ptr(a, off), 100, 1);
	assert_int_equal(sma_free(a, off), 0);
	t_destroy(a);
}

static void test_realloc_to_zero_frees_the_object_and_returns_null(void **state)
{
	static const size_t sizes[] = {1, 100, 5000, 300000};
	sma_t *a = t_open_private(ARENA);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sma_off_t off = t_alloc_ok(a, sizes[i]);
		struct sma_stats before = t_stats(a), after;

		assert_int_equal(sma_realloc(a, off, 0), SMA_NULL);
		after = t_stats(a);
		assert_int_equal(after.frees, before.frees + 1);
		assert_int_equal(after.allocs, before.allocs);
		assert_int_equal(after.live, before.live - 1);
		T_ASSERT_INT_FAILS(sma_free(a, off), EINVAL);
	}
	assert_all_free(a);
	t_destroy(a);
}

static void test_realloc_keeps_the_contents_when_growing_and_shrinking(void **state)
{
	static const size_t steps[] = {1,      17,     100,   1000, 4096, 5000,
				       70000,  300000, 1000000, 200000, 3000, 48, 8, 2, 4000};
	enum { NSTEPS = sizeof(steps) / sizeof(steps[0]) };
	sma_t *a = t_open_private(ARENA);
	sma_off_t off = SMA_NULL, near[NSTEPS];
	size_t have = 0;

	for (size_t i = 0; i < NSTEPS; i++) {
		sma_off_t n = sma_realloc(a, off, steps[i]);
		if (n == SMA_NULL)
			fail_msg("sma_realloc to %zu: %s", steps[i], strerror(errno));
		assert_true(sma_usable_size(a, n) >= steps[i]);
		assert_int_equal(n % 16, 0);
		if (!t_verify(sma_ptr(a, n), have < steps[i] ? have : steps[i], 77))
			fail_msg("contents lost by sma_realloc from %zu to %zu bytes", have,
				 steps[i]);
		t_fill(sma_ptr(a, n), steps[i], 77);
		off = n;
		have = steps[i];
		/* A neighbour, so that the next step cannot always grow in place. */
		near[i] = t_alloc_ok(a, steps[i] < 100000 ? steps[i] : 1000);
		t_fill(sma_ptr(a, near[i]), 16, near[i]);
	}
	for (size_t i = 0; i < NSTEPS; i++) {
		assert_true(t_verify(sma_ptr(a, near[i]), 16, near[i]));
		assert_int_equal(sma_free(a, near[i]), 0);
	}
	assert_true(t_verify(sma_ptr(a, off), have, 77));
	assert_int_equal(sma_free(a, off), 0);
	assert_all_free(a);
	t_destroy(a);
}

static void test_a_failed_realloc_leaves_the_old_object_untouched(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t off = t_alloc_ok(a, 1000);
	size_t usable = sma_usable_size(a, off);
	struct sma_stats before;
	sma_off_t full[ARENA / T_KIB(64) + 1];
	size_t n = 0, cap = sizeof(full) / sizeof(full[0]);

	t_fill(sma_ptr(a, off), 1000, 5);
	before = settled_stats(a);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off, before.heap_size + 1), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off, SIZE_MAX - 15), ENOMEM);
	assert_true(t_verify(sma_ptr(a, off), 1000, 5));
	assert_int_equal(sma_usable_size(a, off), usable);
	assert_stats_equal(t_stats(a), before);

	/* In a full arena, no room to grow: the object stays as it was. */
	while (n < cap && (full[n] = sma_alloc(a, T_KIB(64))) != SMA_NULL) {
		t_fill(sma_ptr(a, full[n]), T_KIB(64), full[n]);
		n++;
	}
	assert_true(n > 0 && n < cap);
	T_ASSERT_OFF_FAILS(sma_realloc(a, full[0], T_KIB(128)), ENOMEM);
	assert_true(t_verify(sma_ptr(a, full[0]), T_KIB(64), full[0]));
	assert_true(sma_usable_size(a, full[0]) >= T_KIB(64));
	for (size_t i = 0; i < n; i++) {
		assert_true(t_verify(sma_ptr(a, full[i]), T_KIB(64), full[i]));
		assert_int_equal(sma_free(a, full[i]), 0);
	}
	assert_true(t_verify(sma_ptr(a, off), 1000, 5));
	assert_int_equal(sma_free(a, off), 0);
	assert_all_free(a);
	t_destroy(a);
}

static void test_realloc_of_an_offset_that_is_not_a_live_object_fails_with_einval(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t gone = t_alloc_ok(a, 100);
	sma_off_t off = t_alloc_ok(a, 1000);
	struct sma_stats before;

	assert_int_equal(sma_free(a, gone), 0);
	t_fill(sma_ptr(a, off), 1000, 9);
	before = settled_stats(a);
	T_ASSERT_OFF_FAILS(sma_realloc(a, gone, 200), EINVAL);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off + 16, 200), EINVAL);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off + 1, 200), EINVAL);
	T_ASSERT_OFF_FAILS(sma_realloc(a, before.size + 4096, 200), EINVAL);
	assert_stats_equal(t_stats(a), before);
	assert_true(t_verify(sma_ptr(a, off), 1000, 9));
	assert_int_equal(sma_free(a, off), 0);
	t_destroy(a);
}

/* Reallocs off to size and asserts the counting rule; returns the result. */
static sma_off_t realloc_counted(sma_t *a, sma_off_t off, size_t size)
{
	struct sma_stats before = t_stats(a), after;
	sma_off_t n = sma_realloc(a, off, size);

	if (n == SMA_NULL)
		fail_msg("sma_realloc(%#llx, %zu): %s", (unsigned long long)off, size,
			 strerror(errno));
	after = t_stats(a);
	assert_int_equal(after.live, before.live);
	assert_int_equal(after.allocs - before.allocs, n != off);
	assert_int_equal(after.frees - before.frees, n != off);
	return n;
}

static void test_a_realloc_that_moves_counts_one_alloc_and_one_free_and_one_in_place_neither(
	void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t off = t_alloc_ok(a, 32);
	sma_off_t neighbour = t_alloc_ok(a, 32);
	sma_off_t n;

	/* From a small object to a large one: it must move. */
	n = realloc_counted(a, off, 200000);
	assert_int_not_equal(n, off);
	/* Whatever these do, the rule holds. */
	n = realloc_counted(a, n, sma_usable_size(a, n));
	n = realloc_counted(a, n, 100000);
	n = realloc_counted(a, n, 150000);
	n = realloc_counted(a, n, 16);
	n = realloc_counted(a, n, 20);
	assert_int_equal(t_stats(a).live, 2);
	assert_int_equal(sma_free(a, n), 0);
	assert_int_equal(sma_free(a, neighbour), 0);
	assert_all_free(a);
	t_destroy(a);
}

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
	assert_all_free(a);
	t_destroy(a);
}

static void test_aligned_alloc_with_an_alignment_not_a_power_of_two_fails_with_einval(void **state)
{
	static const size_t bad[] = {0,	   3,	 5,    6,    7,	   12,	  24,
				     48,   100,	 4095, 4097, 6144, 12288, ((size_t)1 << 20) + 16,
				     SIZE_MAX, SIZE_MAX / 2, ((size_t)1 << 63) + 1};
	sma_t *a = t_open_private(ARENA);
	sma_off_t keep = t_alloc_ok(a, 64);
	struct sma_stats before = settled_stats(a);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		sma_off_t off = sma_aligned_alloc(a, bad[i], 100);
		int e = errno;
		if (off != SMA_NULL || e != EINVAL)
			fail_msg("sma_aligned_alloc(%zu, 100) gave %#llx, errno %d (%s); expected "
				 "EINVAL",
				 bad[i], (unsigned long long)off, e, strerror(e));
	}
	assert_stats_equal(t_stats(a), before);
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
	assert_all_free(a);
	t_destroy(a);
}

/* ---- bad frees ------------------------------------------------------------------ */

static void test_free_of_null_returns_zero_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t keep = t_alloc_ok(a, 64);
	struct sma_stats before = settled_stats(a);

	assert_int_equal(sma_free(a, SMA_NULL), 0);
	assert_stats_equal(t_stats(a), before);
	assert_int_equal(sma_free(a, keep), 0);
	t_destroy(a);
}

static const size_t kinds[] = {32, 3000, 300000}; /* a small, a medium, a large object */
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static void test_free_twice_fails_with_einval_and_changes_nothing(void **state)
{
	enum { N = 12 };
	sma_t *a = t_open_private(ARENA);

	for (size_t k = 0; k < NKINDS; k++) {
		sma_off_t neighbour = t_alloc_ok(a, kinds[k]);
		sma_off_t x = t_alloc_ok(a, kinds[k]);
		sma_off_t again[N + 1];
		struct sma_stats before;

		assert_int_equal(sma_free(a, x), 0);
		before = settled_stats(a);
		/* While it may sit in this thread's cache... */
		T_ASSERT_INT_FAILS(sma_free(a, x), EINVAL);
		assert_stats_equal(t_stats(a), before);
		t_assert_check(a);
		/* ...and once the cache is given back. */
		assert_int_equal(sma_flush(a), 0);
		T_ASSERT_INT_FAILS(sma_free(a, x), EINVAL);
		t_assert_check(a);
		/* The object is handed out once at most. */
		again[0] = neighbour;
		for (int i = 1; i <= N; i++)
			again[i] = kinds[k] < 100000 || i < 4 ? t_alloc_ok(a, kinds[k]) : t_alloc_ok(a, 16);
		assert_distinct(again, N + 1);
		for (int i = 0; i <= N; i++)
			assert_int_equal(sma_free(a, again[i]), 0);
	}
	assert_all_free(a);
	t_destroy(a);
}

/* Frees each of bad[] expecting EINVAL and no change, then frees off. */
static void assert_bad_frees_change_nothing(sma_t *a, sma_off_t off, size_t size,
					    const sma_off_t *bad, size_t nbad)
{
	struct sma_stats before;
	size_t usable = sma_usable_size(a, off);

	t_fill(sma_ptr(a, off), size, off);
	before = settled_stats(a);
	for (size_t i = 0; i < nbad; i++) {
		errno = 0;
		int r = sma_free(a, bad[i]);
		int e = errno;
		if (r != -1 || e != EINVAL)
			fail_msg("sma_free(%#llx) near the object at %#llx (%zu bytes) returned "
				 "%d, errno %d (%s); expected EINVAL",
				 (unsigned long long)bad[i], (unsigned long long)off, size, r, e,
				 strerror(e));
		errno = 0;
		if (sma_usable_size(a, bad[i]) != 0 || errno != EINVAL)
			fail_msg("sma_usable_size(%#llx) is not 0 with EINVAL",
				 (unsigned long long)bad[i]);
	}
	assert_stats_equal(t_stats(a), before);
	t_assert_check(a);
	assert_int_equal(sma_usable_size(a, off), usable);
	assert_true(t_verify(sma_ptr(a, off), size, off));
	assert_int_equal(sma_free(a, off), 0);
}

static void test_free_of_an_interior_offset_fails_with_einval_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);

	for (size_t k = 0; k < NKINDS; k++) {
		sma_off_t before_it = t_alloc_ok(a, kinds[k]);
		sma_off_t off = t_alloc_ok(a, kinds[k]);
		sma_off_t after_it = t_alloc_ok(a, kinds[k]);
		size_t u = sma_usable_size(a, off);
		sma_off_t bad[] = {off + 16, off + 8, off + 32, off + (u - 16) / 16 * 16,
				   off + (u > 4096 + 16 ? 4096 : 16),
				   off + (u > 4096 + 16 ? 4096 + 16 : 48)};
		size_t nbad = u > 48 ? sizeof(bad) / sizeof(bad[0]) : 2;

		assert_bad_frees_change_nothing(a, off, kinds[k], bad, nbad);
		assert_int_equal(sma_free(a, before_it), 0);
		assert_int_equal(sma_free(a, after_it), 0);
	}
	assert_all_free(a);
	t_destroy(a);
}

static void test_free_of_a_misaligned_offset_fails_with_einval_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);

	for (size_t k = 0; k < NKINDS; k++) {
		sma_off_t before_it = t_alloc_ok(a, kinds[k]);
		sma_off_t off = t_alloc_ok(a, kinds[k]);
		sma_off_t bad[] = {off + 1, off + 2, off + 4, off + 15, off - 1, off - 8, off + 17};

		assert_bad_frees_change_nothing(a, off, kinds[k], bad, sizeof(bad) / sizeof(bad[0]));
		assert_int_equal(sma_free(a, before_it), 0);
	}
	assert_all_free(a);
	t_destroy(a);
}

static void test_free_of_an_out_of_range_offset_fails_with_einval_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t off = t_alloc_ok(a, 64);
	size_t size = t_stats(a).size;
	sma_off_t bad[] = {size,
			   size + 16,
			   size * 2,
			   (sma_off_t)1 << 39,
			   ((sma_off_t)1 << 40) | off,
			   ((sma_off_t)7 << 40) | off,
			   (sma_off_t)1 << 62,
			   UINT64_MAX,
			   UINT64_MAX & ~(sma_off_t)15,
			   16};

	assert_bad_frees_change_nothing(a, off, 64, bad, sizeof(bad) / sizeof(bad[0]));
	assert_all_free(a);
	t_destroy(a);
}

/*
 * The strongest form: with objects of every kind live (and some freed,
 * perhaps held in a cache), every 16-byte step of the segment and beyond
 * that is not a live object is refused.
 */
static void test_free_of_any_offset_but_a_live_object_fails_with_einval_and_changes_nothing(
	void **state)
{
	static const size_t sizes[] = {1,    16,   17,   48,   100,	 256,	700,   1024,
				       2000, 4000, 5000, 9000, 20000, 65536, 100000};
	enum { NS = sizeof(sizes) / sizeof(sizes[0]), NL = 3 * NS + 3 };
	sma_t *a = t_open_private(T_MIB(2));
	sma_off_t live[NL];
	size_t lsize[NL];
	size_t n = 0, size, checked = 0;
	unsigned char *is_live;
	struct sma_stats before;

	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NS; i++) {
			lsize[n] = sizes[i];
			live[n] = t_alloc_ok(a, sizes[i]);
			n++;
		}
	lsize[n] = 300000;
	live[n++] = t_alloc_ok(a, 300000);
	lsize[n] = 100;
	live[n++] = sma_aligned_alloc(a, 4096, 100);
	lsize[n] = 3000;
	live[n++] = sma_aligned_alloc(a, 256, 3000);
	assert_int_not_equal(live[n - 1], SMA_NULL);
	assert_int_not_equal(live[n - 2], SMA_NULL);
	/* Free every third: those are offsets that were objects once. */
	for (size_t i = 0; i < n; i += 3) {
		assert_int_equal(sma_free(a, live[i]), 0);
		live[i] = SMA_NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (live[i])
			t_fill(sma_ptr(a, live[i]), lsize[i], live[i]);

	before = settled_stats(a);
	size = before.size;
	is_live = calloc(size / 16 + 1, 1);
	assert_non_null(is_live);
	for (size_t i = 0; i < n; i++)
		if (live[i])
			is_live[live[i] / 16] = 1;

	for (sma_off_t off = 16; off < size + T_KIB(64); off += 16) {
		if (off < size && is_live[off / 16])
			continue;
		errno = 0;
		int r = sma_free(a, off);
		int e = errno;
		if (r != -1 || e != EINVAL) {
			free(is_live);
			fail_msg("sma_free(%#llx), not a live object, returned %d, errno %d (%s)",
				 (unsigned long long)off, r, e, strerror(e));
		}
		errno = 0;
		if (sma_usable_size(a, off) != 0 || errno != EINVAL) {
			free(is_live);
			fail_msg("sma_usable_size(%#llx), not a live object, is not 0 with EINVAL",
				 (unsigned long long)off);
		}
		checked++;
	}
	free(is_live);
	assert_true(checked > size / 16 - NL);
	assert_stats_equal(t_stats(a), before);
	t_assert_check(a);
	for (size_t i = 0; i < n; i++)
		if (live[i]) {
			assert_true(t_verify(sma_ptr(a, live[i]), lsize[i], live[i]));
			assert_int_equal(sma_free(a, live[i]), 0);
		}
	assert_all_free(a);
	t_destroy(a);
}

/* ---- sizes and translation -------------------------------------------------------- */

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
	assert_all_free(a);
	t_destroy(a);
}

static void test_usable_size_of_an_offset_that_is_not_a_live_object_is_zero_with_einval(
	void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t gone = t_alloc_ok(a, 100);
	sma_off_t off = t_alloc_ok(a, 5000);
	size_t size = t_stats(a).size;
	sma_off_t bad[] = {SMA_NULL, gone, off + 16, off + 1, off + 4096, size, size + 16,
			   UINT64_MAX, (sma_off_t)1 << 45};

	assert_int_equal(sma_free(a, gone), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		size_t u = sma_usable_size(a, bad[i]);
		if (u != 0 || errno != EINVAL)
			fail_msg("sma_usable_size(%#llx) gave %zu, errno %d; expected 0 with EINVAL",
				 (unsigned long long)bad[i], u, errno);
	}
	assert_int_equal(sma_free(a, off), 0);
	t_destroy(a);
}

static void test_ptr_and_off_translate_every_byte_of_an_object_both_ways(void **state)
{
	static const size_t sizes[] = {1, 100, 5000, 300000};
	sma_t *a = t_open_private(ARENA);
	sma_t *b = t_track(sma_open_id(sma_shmid(a), 0));

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sma_off_t off = t_alloc_ok(a, sizes[i]);
		size_t u = sma_usable_size(a, off);
		char *pa = sma_ptr(a, off), *pb = sma_ptr(b, off);

		assert_ptr_not_equal(pa, pb);
		for (size_t k = 0; k < u; k++) {
			if (sma_ptr(a, off + k) != pa + k || sma_off(a, pa + k) != off + k ||
			    sma_ptr(b, off + k) != pb + k || sma_off(b, pb + k) != off + k)
				fail_msg("translation of byte %zu of the object at %#llx is wrong", k,
					 (unsigned long long)off);
		}
		assert_int_equal(sma_free(b, off), 0);
	}
	t_close(b);
	assert_all_free(a);
	t_destroy(a);
}

static void test_ptr_of_null_is_null(void **state)
{
	sma_t *a = t_open_private(ARENA);

	assert_null(sma_ptr(a, SMA_NULL));
	t_destroy(a);
}

static void test_off_of_null_or_an_address_outside_the_mapping_is_null(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_t *b = t_track(sma_open_id(sma_shmid(a), 0));
	sma_t *c = t_open_private(ARENA);
	sma_off_t off = t_alloc_ok(a, 64);
	sma_off_t other = t_alloc_ok(c, 64);
	int local;
	static char heap[64]; /* memory of this process outside any arena */

	assert_int_equal(sma_off(a, NULL), SMA_NULL);
	assert_int_equal(sma_off(a, &local), SMA_NULL);
	assert_int_equal(sma_off(a, heap), SMA_NULL);
	assert_int_equal(sma_off(a, sma_ptr(c, other)), SMA_NULL);
	assert_int_equal(sma_off(a, sma_ptr(b, off)), SMA_NULL);
	assert_int_equal(sma_off(b, sma_ptr(a, off)), SMA_NULL);
	assert_int_equal(sma_off(a, sma_ptr(a, off)), off);
	assert_int_equal(sma_off(b, sma_ptr(b, off)), off);
	assert_int_equal(sma_free(c, other), 0);
	assert_int_equal(sma_free(a, off), 0);
	t_close(b);
	t_destroy(c);
	t_destroy(a);
}

/* ---- statistics, walk, check ----------------------------------------------------------- */

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
		assert_int_equal(st.nattch, 1);
		t_walk(a, &w);
		assert_int_equal(w.n_used, 0);
		/* The largest free piece is one object. */
		off = t_alloc_ok(a, st.largest_free);
		assert_true(sma_usable_size(a, off) >= st.largest_free);
		assert_int_equal(sma_free(a, off), 0);
		assert_all_free(a);
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
	qsort(mine, k, sizeof(*mine), cmp_off);
	assert_int_equal(w.n_used, k);
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(w.offs[i], mine[i]);
		assert_int_equal(w.sizes[i], sma_usable_size(a, mine[i]));
	}
}

static size_t log_uniform(uint64_t *rng, size_t lo, size_t hi)
{
	/* a size between lo and hi, each power of two about as likely */
	unsigned bits_lo = 63 - __builtin_clzll(lo), bits_hi = 63 - __builtin_clzll(hi);
	unsigned b = bits_lo + (unsigned)(t_rand(rng) % (bits_hi - bits_lo + 1));
	size_t s = ((size_t)1 << b) + (size_t)(t_rand(rng) % ((size_t)1 << b));
	return s < lo ? lo : s > hi ? hi : s;
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
			size_t size = log_uniform(&rng, 1, 200000);
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
	assert_all_free(a);
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
	assert_all_free(a);
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

/* Allocates objects of sizes from a seeded sequence until ENOMEM; returns
 * how many, with their offsets in offs (room for cap). */
static size_t fill(sma_t *a, size_t size, uint64_t seed, sma_off_t *offs, size_t cap)
{
	uint64_t rng = seed;
	size_t n = 0;

	for (;;) {
		size_t s = size ? size : log_uniform(&rng, 1, 100000);
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
		assert_all_free(a);
		assert_int_equal(t_stats(a).free, fresh.free);

		n2 = fill(a, sizes[i], 99, offs, cap);
		if (n2 != n1)
			fail_msg("%zu objects of %zu bytes fit the first time, %zu the second", n1,
				 sizes[i], n2);
		free_all_shuffled(a, offs, n2, i + 100);
		assert_all_free(a);
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
	assert_all_free(a);
	t_destroy(a);
}

static void test_recover_on_a_healthy_arena_frees_no_live_object(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t offs[20];
	struct sma_stats before;

	for (int i = 0; i < 20; i++) {
		offs[i] = t_alloc_ok(a, 100 + 1000 * i);
		t_fill(sma_ptr(a, offs[i]), 100 + 1000 * i, offs[i]);
	}
	before = settled_stats(a);
	assert_int_equal(sma_recover(a), 0);
	assert_int_equal(t_stats(a).live, before.live);
	assert_int_equal(t_stats(a).used, before.used);
	t_assert_check(a);
	for (int i = 0; i < 20; i++) {
		assert_true(t_verify(sma_ptr(a, offs[i]), 100 + 1000 * i, offs[i]));
		assert_int_equal(sma_free(a, offs[i]), 0);
	}
	assert_all_free(a);
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
		T_TEST(test_every_object_is_aligned_to_16_bytes_in_every_attachment),
		T_TEST(test_alloc_of_zero_returns_distinct_minimal_objects),
		T_TEST(test_calloc_returns_zeroed_memory_where_dirty_objects_were_freed),
		T_TEST(test_calloc_whose_size_overflows_fails_with_enomem_and_changes_nothing),
		T_TEST(test_alloc_larger_than_the_heap_fails_with_enomem_and_changes_nothing),
		T_TEST(test_realloc_of_null_allocates),
		T_TEST(test_realloc_to_zero_frees_the_object_and_returns_null),
		T_TEST(test_realloc_keeps_the_contents_when_growing_and_shrinking),
		T_TEST(test_a_failed_realloc_leaves_the_old_object_untouched),
		T_TEST(test_realloc_of_an_offset_that_is_not_a_live_object_fails_with_einval),
		T_TEST(test_a_realloc_that_moves_counts_one_alloc_and_one_free_and_one_in_place_neither),
		T_TEST(test_aligned_alloc_honours_every_power_of_two_up_to_4096),
		T_TEST(test_aligned_alloc_with_an_alignment_not_a_power_of_two_fails_with_einval),
		T_TEST(test_aligned_alloc_beyond_4096_is_aligned_or_fails_with_einval),
		T_TEST(test_free_of_null_returns_zero_and_changes_nothing),
		T_TEST(test_free_twice_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_an_interior_offset_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_a_misaligned_offset_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_an_out_of_range_offset_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_any_offset_but_a_live_object_fails_with_einval_and_changes_nothing),
		T_TEST(test_usable_size_is_at_least_the_size_asked_and_all_of_it_is_usable),
		T_TEST(test_usable_size_of_an_offset_that_is_not_a_live_object_is_zero_with_einval),
		T_TEST(test_ptr_and_off_translate_every_byte_of_an_object_both_ways),
		T_TEST(test_ptr_of_null_is_null),
		T_TEST(test_off_of_null_or_an_address_outside_the_mapping_is_null),
		T_TEST(test_a_fresh_arena_has_all_its_heap_free_in_one_piece),
		T_TEST(test_live_is_allocs_minus_frees_and_the_walk_matches_the_stats),
		T_TEST(test_walk_stops_at_a_non_zero_return_and_returns_it),
		T_TEST(test_largest_free_is_one_object_sma_alloc_can_return_now),
		T_TEST(test_used_is_the_sum_of_the_usable_sizes_of_live_objects),
		T_TEST(test_filling_to_enomem_then_freeing_all_allows_the_same_count_again),
		T_TEST(test_one_mib_objects_fill_a_sixteen_mib_arena_and_keep_their_contents),
		T_TEST(test_recover_on_a_healthy_arena_frees_no_live_object),
		T_TEST(test_check_of_an_arena_whose_header_magic_is_smashed_fails_with_ebadmsg),
	};
	return T_RUN_GROUP(tests);
}
