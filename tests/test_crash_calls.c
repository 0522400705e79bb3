/*
 * tests/test_crash_calls.c -- crash points in the other calls that change
 * the arena: a process killed at every step of sma_realloc (in place and
 * moving), sma_aligned_alloc, sma_named_alloc (one that adds a segment
 * too) and sma_named_free, sma_flush and sma_close, and what the next
 * process finds.  The engine, and what each run checks, is
 * tests/crash_engine.h; sma_alloc and sma_free are in test_crash.c.
 */
#define _GNU_SOURCE
#include "crash_engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- the scenarios: setups and operations ------------------------------------ */

static void parent_target_100k(struct ctx *c)
{
	c->target = must_alloc(c->a, T_KIB(100));
}

static void parent_target_100k_then_a_neighbour(struct ctx *c)
{
	c->target = must_alloc(c->a, T_KIB(100));
	must_alloc(c->a, T_KIB(100));
}

static void parent_target_200k(struct ctx *c)
{
	c->target = must_alloc(c->a, T_KIB(200));
}

static void op_realloc_150k(struct ctx *c)
{
	c->result = sma_realloc(c->a, c->target, T_KIB(150));
}

static void op_realloc_80k(struct ctx *c)
{
	c->result = sma_realloc(c->a, c->target, T_KIB(80));
}

static void op_realloc_40(struct ctx *c)
{
	c->result = sma_realloc(c->a, c->target, 40);
}

static void parent_misaligning_object(struct ctx *c)
{
	must_alloc(c->a, 70000);
}

static void op_aligned_alloc_4096(struct ctx *c)
{
	c->result = sma_aligned_alloc(c->a, 4096, 100);
}

static void op_named_alloc_2m(struct ctx *c)
{
	c->result = sma_named_alloc(c->a, NAME, T_MIB(2), NULL);
}

static void op_named_alloc(struct ctx *c)
{
	c->result = sma_named_alloc(c->a, NAME, 500, NULL);
}

static void parent_named_target(struct ctx *c)
{
	int created = 0;

	c->target = sma_named_alloc(c->a, NAME, 500, &created);
	T_REQUIRE(c->target != SMA_NULL);
	T_REQUIRE(created == 1);
}

static void op_named_free(struct ctx *c)
{
	sma_named_free(c->a, NAME);
}

/* A cache holding objects of several small and medium classes. */
static void child_cache_of_many_classes(struct ctx *c)
{
	static const size_t sizes[] = {16, 48, 100, 256, 300, 1000, 5000, 40000};
	sma_off_t offs[8][6];

	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 6; j++)
			offs[i][j] = must_alloc(c->a, sizes[i]);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 5; j++) /* one of each stays live */
			T_REQUIRE(sma_free(c->a, offs[i][j]) == 0);
}

static void op_flush(struct ctx *c)
{
	sma_flush(c->a);
}

static void op_close(struct ctx *c)
{
	sma_close(c->a);
}

/* The only object of a new slab, freed into this thread's cache: the
 * flush empties the slab, which goes back to the heap. */
static void child_last_object_of_a_slab_cached(struct ctx *c)
{
	sma_off_t x = must_alloc(c->a, 48);

	T_REQUIRE(sma_free(c->a, x) == 0);
}

/* ---- what each scenario must have done (checked when it runs uncrashed) ---- */

static void v_in_place(struct ctx *c)
{
	T_REQUIRE(c->result == c->target);
}

static void v_moved(struct ctx *c)
{
	T_REQUIRE(c->result != SMA_NULL && c->result != c->target);
}

static void v_aligned(struct ctx *c)
{
	T_REQUIRE(c->result != SMA_NULL && c->result % 4096 == 0);
}

static void v_named(struct ctx *c)
{
	T_REQUIRE(c->result != SMA_NULL);
	T_REQUIRE(sma_named_find(c->a, NAME) == c->result);
}

static void v_unnamed(struct ctx *c)
{
	T_REQUIRE(sma_named_find(c->a, NAME) == SMA_NULL);
}

static void v_cache_emptied(struct ctx *c)
{
	unsigned n = n_classes(c->a);

	T_REQUIRE(lock_ops(c->a) > c->lock_ops);
	for (unsigned i = 0; i < n; i++)
		T_REQUIRE_EQ(cached_in_class(c->a, (int)i), 0);
}

/* ---- the tests -------------------------------------------------------------------- */

SCENARIO_TEST(test_a_crash_in_a_named_alloc_that_adds_a_segment_loses_nothing_and_leaks_no_segment,
	      .what = "named alloc of 2 MiB in an arena of 1 MiB that may grow to 8 MiB",
	      .op = op_named_alloc_2m, .max_new = 1, .limit = T_MIB(8))
SCENARIO_TEST(test_a_crash_in_a_realloc_growing_in_place_loses_nothing,
	      .what = "realloc growing in place (100 to 150 KiB)",
	      .parent_setup = parent_target_100k, .op = op_realloc_150k, .max_new = 1,
	      .frees_target = 1, .verify = v_in_place)
SCENARIO_TEST(test_a_crash_in_a_realloc_growing_by_moving_loses_nothing,
	      .what = "realloc growing by moving (100 to 150 KiB)",
	      .parent_setup = parent_target_100k_then_a_neighbour, .op = op_realloc_150k,
	      .max_new = 1, .frees_target = 1, .verify = v_moved)
SCENARIO_TEST(test_a_crash_in_a_realloc_shrinking_in_place_loses_nothing,
	      .what = "realloc shrinking in place (200 to 80 KiB)",
	      .parent_setup = parent_target_200k, .op = op_realloc_80k, .max_new = 1,
	      .frees_target = 1, .verify = v_in_place)
SCENARIO_TEST(test_a_crash_in_a_realloc_shrinking_a_medium_object_to_a_small_one_loses_nothing,
	      .what = "realloc shrinking by moving (1000 to 40 B)",
	      .child_setup = child_target_1000, .op = op_realloc_40, .max_new = 1,
	      .frees_target = 1, .verify = v_moved)
SCENARIO_TEST(test_a_crash_in_an_aligned_alloc_of_4096_loses_nothing,
	      .what = "aligned alloc (4096)",
	      .parent_setup = parent_misaligning_object, .op = op_aligned_alloc_4096, .max_new = 1,
	      .verify = v_aligned)
SCENARIO_TEST(test_a_crash_in_a_named_alloc_loses_nothing,
	      .what = "named alloc",
	      .op = op_named_alloc, .max_new = 1, .verify = v_named)
SCENARIO_TEST(test_a_crash_in_a_named_free_loses_nothing,
	      .what = "named free",
	      .parent_setup = parent_named_target, .op = op_named_free, .frees_target = 1,
	      .verify = v_unnamed)
SCENARIO_TEST(test_a_crash_in_a_flush_of_a_cache_of_many_classes_loses_nothing,
	      .what = "sma_flush of a cache of many classes",
	      .child_setup = child_cache_of_many_classes, .op = op_flush,
	      .verify = v_cache_emptied)
SCENARIO_TEST(test_a_crash_in_a_close_that_gives_back_the_cache_loses_nothing,
	      .what = "sma_close giving back a cache of many classes",
	      .child_setup = child_cache_of_many_classes, .op = op_close)
SCENARIO_TEST(test_a_crash_in_a_flush_that_empties_and_releases_a_slab_loses_nothing,
	      .what = "sma_flush releasing an emptied slab",
	      .child_setup = child_last_object_of_a_slab_cached, .op = op_flush,
	      .verify = v_released_the_slab)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_crash_in_a_named_alloc_that_adds_a_segment_loses_nothing_and_leaks_no_segment),
		T_TEST(test_a_crash_in_a_realloc_growing_in_place_loses_nothing),
		T_TEST(test_a_crash_in_a_realloc_growing_by_moving_loses_nothing),
		T_TEST(test_a_crash_in_a_realloc_shrinking_in_place_loses_nothing),
		T_TEST(test_a_crash_in_a_realloc_shrinking_a_medium_object_to_a_small_one_loses_nothing),
		T_TEST(test_a_crash_in_an_aligned_alloc_of_4096_loses_nothing),
		T_TEST(test_a_crash_in_a_named_alloc_loses_nothing),
		T_TEST(test_a_crash_in_a_named_free_loses_nothing),
		T_TEST(test_a_crash_in_a_flush_of_a_cache_of_many_classes_loses_nothing),
		T_TEST(test_a_crash_in_a_close_that_gives_back_the_cache_loses_nothing),
		T_TEST(test_a_crash_in_a_flush_that_empties_and_releases_a_slab_loses_nothing),
	};
	int rc = T_RUN_GROUP(tests);

	crash_summary(sizeof(tests) / sizeof(tests[0]));
	return rc;
}
