/*
 * tests/test_crash.c -- crash points in sma_alloc and sma_free: a process
 * killed at every step of an allocation or a free of a small, medium or
 * large object (from a cache, a slab or the heap, with or without a slot,
 * one that adds a segment), and what the next process finds.  The engine,
 * and what each run checks, is tests/crash_engine.h; the other calls are
 * in test_crash_calls.c.
 */
#define _GNU_SOURCE
#include "crash_engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- the scenarios: setups and operations ------------------------------------ */

static void take_a_slot(struct ctx *c)
{
	must_alloc(c->a, 16);
}

static void op_alloc_48(struct ctx *c)
{
	c->result = sma_alloc(c->a, 48);
}

static void parent_make_a_slab_of_64(struct ctx *c)
{
	must_alloc(c->a, 64);
}

static void op_alloc_64(struct ctx *c)
{
	c->result = sma_alloc(c->a, 64);
}

static void child_warm_cache_of_64(struct ctx *c)
{
	must_alloc(c->a, 64); /* refills this thread's cache of the class */
}

static void child_target_64(struct ctx *c)
{
	c->target = must_alloc(c->a, 64);
}

static void op_free_target(struct ctx *c)
{
	sma_free(c->a, c->target);
}

/*
 * Fills this thread's cache of the class of size to its capacity (c->cap)
 * by freeing, and leaves c->target live: its free is the one that flushes.
 */
static void fill_cache_to_capacity(struct ctx *c, size_t size)
{
	sma_off_t offs[256];
	size_t n = c->cap + 40, i = 1;
	int cls;

	T_REQUIRE(n <= 256);
	for (size_t j = 0; j < n; j++)
		offs[j] = must_alloc(c->a, size);
	cls = free_and_find_its_class(c->a, offs[0]);
	T_REQUIRE(cls >= 0);
	while (cached_in_class(c->a, cls) < c->cap) {
		T_REQUIRE(i < n - 1);
		T_REQUIRE(sma_free(c->a, offs[i]) == 0);
		i++;
	}
	T_REQUIRE_EQ(cached_in_class(c->a, cls), c->cap);
	c->target = offs[n - 1];
	c->cls = cls;
}

static void child_full_cache(struct ctx *c)
{
	fill_cache_to_capacity(c, c->sc->fill_size);
}

static void op_alloc_1000(struct ctx *c)
{
	c->result = sma_alloc(c->a, 1000);
}

static void child_warm_cache_of_1000(struct ctx *c)
{
	sma_off_t x = must_alloc(c->a, 1000);

	T_REQUIRE(sma_free(c->a, x) == 0);
}

static void op_alloc_200k(struct ctx *c)
{
	c->result = sma_alloc(c->a, T_KIB(200));
}

static void parent_large_target_between_free_neighbours(struct ctx *c)
{
	sma_off_t l1 = must_alloc(c->a, T_KIB(70));
	sma_off_t l2;

	c->target = must_alloc(c->a, T_KIB(200));
	l2 = must_alloc(c->a, T_KIB(70));
	must_alloc(c->a, T_KIB(70));
	T_REQUIRE(sma_free(c->a, l1) == 0);
	T_REQUIRE(sma_free(c->a, l2) == 0);
}

static void parent_large_target_between_live_neighbours(struct ctx *c)
{
	must_alloc(c->a, T_KIB(70));
	c->target = must_alloc(c->a, T_KIB(200));
	must_alloc(c->a, T_KIB(70));
}

static void op_alloc_2m(struct ctx *c)
{
	c->result = sma_alloc(c->a, T_MIB(2));
}

static void child_target_48(struct ctx *c)
{
	c->target = must_alloc(c->a, 48);
}

/* ---- what each scenario must have done (checked when it runs uncrashed) ---- */

static void v_made_a_slab(struct ctx *c)
{
	T_REQUIRE(c->result != SMA_NULL);
	T_REQUIRE_EQ(c->slabs, 0);
	T_REQUIRE_EQ(slabs_of_48(c->a), 1);
}

static void v_took_the_lock(struct ctx *c)
{
	T_REQUIRE(c->result != SMA_NULL);
	T_REQUIRE(lock_ops(c->a) > c->lock_ops);
}

static void v_no_lock(struct ctx *c)
{
	T_REQUIRE(c->sc->frees_target || c->result != SMA_NULL);
	T_REQUIRE_EQ(lock_ops(c->a), c->lock_ops);
}

static void v_flushed(struct ctx *c)
{
	T_REQUIRE_EQ(c->cached, c->cap);
	T_REQUIRE(cached_in_class(c->a, c->cls) < c->cap);
}

static void v_without_a_slot(struct ctx *c)
{
	T_REQUIRE(!holds_a_slot(c->a));
	T_REQUIRE(lock_ops(c->a) > c->lock_ops);
}

static void v_slotless_release(struct ctx *c)
{
	v_without_a_slot(c);
	v_released_the_slab(c);
}

/* ---- the tests -------------------------------------------------------------------- */

SCENARIO_TEST(test_a_crash_in_the_first_small_alloc_of_an_arena_which_takes_a_slot_and_makes_a_slab_loses_nothing,
	      .what = "first small alloc of an arena (slot, slab, refill, pop)",
	      .op = op_alloc_48, .max_new = 1, .verify = v_made_a_slab)
SCENARIO_TEST(test_a_crash_in_a_small_alloc_that_refills_the_cache_from_a_slab_loses_nothing,
	      .what = "small alloc, cache refill from a slab",
	      .parent_setup = parent_make_a_slab_of_64, .child_setup = take_a_slot,
	      .op = op_alloc_64, .max_new = 1, .verify = v_took_the_lock)
SCENARIO_TEST(test_a_crash_in_a_small_alloc_from_a_warm_cache_loses_nothing,
	      .what = "small alloc, pop from a warm cache",
	      .child_setup = child_warm_cache_of_64, .op = op_alloc_64, .max_new = 1,
	      .verify = v_no_lock)
SCENARIO_TEST(test_a_crash_in_a_small_free_into_the_cache_loses_nothing,
	      .what = "small free, push into the cache",
	      .child_setup = child_target_64, .op = op_free_target, .frees_target = 1,
	      .verify = v_no_lock)
SCENARIO_TEST(test_a_crash_in_a_small_free_that_flushes_a_full_cache_loses_nothing,
	      .what = "small free, flush of a full cache",
	      .child_setup = child_full_cache, .fill_size = 80, .op = op_free_target,
	      .frees_target = 1, .verify = v_flushed)
SCENARIO_TEST(test_a_crash_in_a_small_alloc_without_a_slot_loses_nothing,
	      .what = "small alloc without a slot (locked, from a slab)",
	      .parent_setup = parent_make_a_slab_of_64, .slotless = 1, .op = op_alloc_64,
	      .max_new = 1, .verify = v_without_a_slot)
SCENARIO_TEST(test_a_crash_in_a_small_free_without_a_slot_loses_nothing,
	      .what = "small free without a slot (locked, into its slab)",
	      .child_setup = child_target_64, .slotless = 1, .op = op_free_target,
	      .frees_target = 1, .verify = v_without_a_slot)
SCENARIO_TEST(test_a_crash_in_a_medium_alloc_from_the_heap_loses_nothing,
	      .what = "medium alloc (1000 B) from the heap",
	      .child_setup = take_a_slot, .op = op_alloc_1000, .max_new = 1,
	      .verify = v_took_the_lock)
SCENARIO_TEST(test_a_crash_in_a_medium_alloc_from_a_warm_cache_loses_nothing,
	      .what = "medium alloc (1000 B), pop from a warm cache",
	      .child_setup = child_warm_cache_of_1000, .op = op_alloc_1000, .max_new = 1,
	      .verify = v_no_lock)
SCENARIO_TEST(test_a_crash_in_a_medium_free_into_the_cache_loses_nothing,
	      .what = "medium free (1000 B), push into the cache",
	      .child_setup = child_target_1000, .op = op_free_target, .frees_target = 1,
	      .verify = v_no_lock)
SCENARIO_TEST(test_a_crash_in_a_medium_free_that_flushes_a_full_cache_to_the_heap_loses_nothing,
	      .what = "medium free (1000 B), flush of a full cache to the heap",
	      .child_setup = child_full_cache, .fill_size = 1000, .op = op_free_target,
	      .frees_target = 1, .verify = v_flushed)
SCENARIO_TEST(test_a_crash_in_a_large_alloc_loses_nothing,
	      .what = "large alloc (200 KiB)",
	      .op = op_alloc_200k, .max_new = 1, .verify = v_took_the_lock)
SCENARIO_TEST(test_a_crash_in_an_alloc_that_adds_a_segment_loses_nothing_and_leaks_no_segment,
	      .what = "alloc of 2 MiB in an arena of 1 MiB that may grow to 8 MiB",
	      .op = op_alloc_2m, .max_new = 1, .limit = T_MIB(8), .verify = v_took_the_lock)
SCENARIO_TEST(test_a_crash_in_a_large_free_between_live_neighbours_loses_nothing,
	      .what = "large free (200 KiB) between live neighbours",
	      .parent_setup = parent_large_target_between_live_neighbours, .op = op_free_target,
	      .frees_target = 1)
SCENARIO_TEST(test_a_crash_in_a_large_free_that_merges_both_neighbours_loses_nothing,
	      .what = "large free (200 KiB) merging free neighbours on both sides",
	      .parent_setup = parent_large_target_between_free_neighbours, .op = op_free_target,
	      .frees_target = 1)
SCENARIO_TEST(test_a_crash_in_the_free_of_the_last_object_of_a_slab_without_a_slot_loses_nothing,
	      .what = "free of a slab's last object without a slot (slab release)",
	      .child_setup = child_target_48, .slotless = 1, .op = op_free_target,
	      .frees_target = 1, .verify = v_slotless_release)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_crash_in_the_first_small_alloc_of_an_arena_which_takes_a_slot_and_makes_a_slab_loses_nothing),
		T_TEST(test_a_crash_in_a_small_alloc_that_refills_the_cache_from_a_slab_loses_nothing),
		T_TEST(test_a_crash_in_a_small_alloc_from_a_warm_cache_loses_nothing),
		T_TEST(test_a_crash_in_a_small_free_into_the_cache_loses_nothing),
		T_TEST(test_a_crash_in_a_small_free_that_flushes_a_full_cache_loses_nothing),
		T_TEST(test_a_crash_in_a_small_alloc_without_a_slot_loses_nothing),
		T_TEST(test_a_crash_in_a_small_free_without_a_slot_loses_nothing),
		T_TEST(test_a_crash_in_a_medium_alloc_from_the_heap_loses_nothing),
		T_TEST(test_a_crash_in_a_medium_alloc_from_a_warm_cache_loses_nothing),
		T_TEST(test_a_crash_in_a_medium_free_into_the_cache_loses_nothing),
		T_TEST(test_a_crash_in_a_medium_free_that_flushes_a_full_cache_to_the_heap_loses_nothing),
		T_TEST(test_a_crash_in_a_large_alloc_loses_nothing),
		T_TEST(test_a_crash_in_an_alloc_that_adds_a_segment_loses_nothing_and_leaks_no_segment),
		T_TEST(test_a_crash_in_a_large_free_between_live_neighbours_loses_nothing),
		T_TEST(test_a_crash_in_a_large_free_that_merges_both_neighbours_loses_nothing),
		T_TEST(test_a_crash_in_the_free_of_the_last_object_of_a_slab_without_a_slot_loses_nothing),
	};
	int rc = T_RUN_GROUP(tests);

	crash_summary(sizeof(tests) / sizeof(tests[0]));
	return rc;
}
