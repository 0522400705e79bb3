/*
 * tests/test_realloc.c -- sma_realloc through the public API: of SMA_NULL,
 * to zero, growing and shrinking with the contents kept, failing with the
 * old object untouched, and how a move and an in-place change count in
 * the statistics.  Offsets that are not live objects are in
 * test_badoffsets.c.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA T_MIB(4) /* bytes of the arenas here */

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
	t_assert_all_free(a);
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
	t_assert_all_free(a);
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
	before = t_settled_stats(a);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off, before.heap_size + 1), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off, SIZE_MAX), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_realloc(a, off, SIZE_MAX - 15), ENOMEM);
	assert_true(t_verify(sma_ptr(a, off), 1000, 5));
	assert_int_equal(sma_usable_size(a, off), usable);
	t_assert_stats_equal(t_stats(a), before);

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
	t_assert_all_free(a);
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
	t_assert_all_free(a);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_realloc_of_null_allocates),
		T_TEST(test_realloc_to_zero_frees_the_object_and_returns_null),
		T_TEST(test_realloc_keeps_the_contents_when_growing_and_shrinking),
		T_TEST(test_a_failed_realloc_leaves_the_old_object_untouched),
		T_TEST(test_a_realloc_that_moves_counts_one_alloc_and_one_free_and_one_in_place_neither),
	};
	return T_RUN_GROUP(tests);
}
