/*
 * test_named.c -- named objects: creation exactly once under a race of
 * processes, every errno of API.md's section, the index with thousands of
 * names, and reading it through a read-only attachment.
 */
#include "common.h"

#include <errno.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RACERS 8

struct race {
	sma_t *a;
	struct t_gate gate;
	int out[2]; /* each racer writes {created, offset} */
};

static int racer(void *arg)
{
	struct race *r = arg;
	struct {
		int created;
		sma_off_t off;
	} res = { -1, SMA_NULL };

	t_gate_wait(&r->gate);
	res.off = sma_named_alloc(r->a, "race.root", 256, &res.created);
	T_REQUIRE(res.off != SMA_NULL);
	/* Everyone sees a zero-filled object; the creator may mark it. */
	T_REQUIRE(t_write_all(r->out[1], &res, sizeof res) == 0);
	return 0;
}

static void test_eight_processes_racing_to_create_one_name_create_exactly_one_object(void **state)
{
	struct race r = { .a = t_open_private(T_MIB(4)) };
	pid_t pid[RACERS];
	int created = 0;
	sma_off_t first = SMA_NULL;

	(void)state;
	t_gate_init(&r.gate);
	t_pipe(r.out);
	for (int i = 0; i < RACERS; i++)
		pid[i] = t_fork(racer, &r);
	assert_int_equal(t_gate_release(&r.gate, RACERS), RACERS);
	for (int i = 0; i < RACERS; i++) {
		struct {
			int created;
			sma_off_t off;
		} res;
		assert_int_equal(t_read_all(r.out[0], &res, sizeof res), 0);
		created += res.created;
		if (first == SMA_NULL)
			first = res.off;
		assert_int_equal(res.off, first);
	}
	for (int i = 0; i < RACERS; i++)
		t_wait_ok(pid[i]);
	close(r.out[0]);
	close(r.out[1]);
	assert_int_equal(created, 1);
	assert_int_equal(sma_named_find(r.a, "race.root"), first);
	struct sma_stats st = t_stats(r.a);
	assert_int_equal(st.live, 1);
	t_destroy(r.a);
}

static void test_a_named_object_is_zero_filled_found_again_and_not_created_twice(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	int created = -1;

	(void)state;
	/* Dirty the heap first, so that zero-filling is the library's doing. */
	sma_off_t junk = sma_alloc(a, 4000);
	memset(sma_ptr(a, junk), 0xa5, 4000);
	assert_int_equal(sma_free(a, junk), 0);
	sma_flush(a);

	sma_off_t off = sma_named_alloc(a, "zeroed", 4000, &created);
	assert_true(off != SMA_NULL);
	assert_int_equal(created, 1);
	const unsigned char *p = sma_ptr(a, off);
	for (size_t i = 0; i < 4000; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(sma_named_alloc(a, "zeroed", 100, &created), off);
	assert_int_equal(created, 0);
	assert_int_equal(sma_named_alloc(a, "zeroed", 4000, NULL), off);
	assert_int_equal(sma_named_find(a, "zeroed"), off);
	assert_true(sma_usable_size(a, off) >= 4000);
	t_destroy(a);
}

static void test_every_errno_of_the_named_calls(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	char longest[SMA_NAME_MAX + 1], toolong[SMA_NAME_MAX + 2];

	(void)state;
	memset(longest, 'n', SMA_NAME_MAX);
	longest[SMA_NAME_MAX] = '\0';
	memset(toolong, 'n', SMA_NAME_MAX + 1);
	toolong[SMA_NAME_MAX + 1] = '\0';

	sma_off_t off = sma_named_alloc(a, "small", 64, NULL);
	assert_true(off != SMA_NULL);
	/* An existing object smaller than asked: EEXIST. */
	T_ASSERT_OFF_FAILS(sma_named_alloc(a, "small", 1 << 16, NULL), EEXIST);
	/* No such name: ENOENT. */
	T_ASSERT_OFF_FAILS(sma_named_find(a, "missing"), ENOENT);
	T_ASSERT_INT_FAILS(sma_named_free(a, "missing"), ENOENT);
	/* Names: 1..SMA_NAME_MAX bytes. */
	assert_true(sma_named_alloc(a, longest, 16, NULL) != SMA_NULL);
	assert_true(sma_named_find(a, longest) != SMA_NULL);
	T_ASSERT_OFF_FAILS(sma_named_alloc(a, toolong, 16, NULL), ENAMETOOLONG);
	T_ASSERT_OFF_FAILS(sma_named_find(a, toolong), ENAMETOOLONG);
	T_ASSERT_INT_FAILS(sma_named_free(a, toolong), ENAMETOOLONG);
	T_ASSERT_OFF_FAILS(sma_named_alloc(a, "", 16, NULL), EINVAL);
	T_ASSERT_OFF_FAILS(sma_named_alloc(a, NULL, 16, NULL), EINVAL);
	T_ASSERT_OFF_FAILS(sma_named_find(a, ""), EINVAL);
	T_ASSERT_INT_FAILS(sma_named_free(a, NULL), EINVAL);
	/* A named object is freed by name only. */
	T_ASSERT_INT_FAILS(sma_free(a, off), EBUSY);
	assert_int_equal(sma_named_find(a, "small"), off);
	/* Out of memory: ENOMEM, and nothing named. */
	T_ASSERT_OFF_FAILS(sma_named_alloc(a, "huge", T_MIB(2), NULL), ENOMEM);
	T_ASSERT_OFF_FAILS(sma_named_find(a, "huge"), ENOENT);
	/* Freed by name: gone, and its memory is free again. */
	assert_int_equal(sma_named_free(a, "small"), 0);
	T_ASSERT_OFF_FAILS(sma_named_find(a, "small"), ENOENT);
	assert_int_equal(sma_named_free(a, longest), 0);
	struct sma_stats st = t_stats(a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.free, st.heap_size);
	t_destroy(a);
}

struct each_state {
	unsigned seen;
	size_t bytes;
	unsigned stop_after;
};

static int count_names(const char *name, sma_off_t off, size_t size, void *arg)
{
	struct each_state *s = arg;
	(void)off;
	if (strncmp(name, "name.", 5) != 0)
		return -1;
	s->seen++;
	s->bytes += size;
	return s->stop_after && s->seen == s->stop_after ? 7 : 0;
}

static void test_thousands_of_names_are_found_listed_and_freed(void **state)
{
	enum { N = 5000 };
	sma_t *a = t_open_private(T_MIB(16));
	char name[32];

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "name.%d", i);
		sma_off_t off = sma_named_alloc(a, name, 8 + (size_t)(i % 100), NULL);
		assert_true(off != SMA_NULL);
		*(int *)sma_ptr(a, off) = i;
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "name.%d", i);
		sma_off_t off = sma_named_find(a, name);
		assert_true(off != SMA_NULL);
		assert_int_equal(*(int *)sma_ptr(a, off), i);
	}
	struct each_state es = { 0 };
	assert_int_equal(sma_named_each(a, count_names, &es), 0);
	assert_int_equal(es.seen, N);
	struct each_state stop = { .stop_after = 10 };
	assert_int_equal(sma_named_each(a, count_names, &stop), 7);
	assert_int_equal(stop.seen, 10);
	t_assert_check(a);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "name.%d", i);
		assert_int_equal(sma_named_free(a, name), 0);
	}
	struct sma_stats st = t_stats(a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.free, st.heap_size);
	t_destroy(a);
}

static void test_a_read_only_attachment_finds_and_lists_names_but_changes_nothing(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));

	(void)state;
	sma_off_t off = sma_named_alloc(a, "name.ro", 32, NULL);
	assert_true(off != SMA_NULL);
	sma_t *ro = t_track(sma_open_id(sma_shmid(a), SMA_RDONLY));
	assert_non_null(ro);
	assert_int_equal(sma_named_find(ro, "name.ro"), off);
	struct each_state es = { 0 };
	assert_int_equal(sma_named_each(ro, count_names, &es), 0);
	assert_int_equal(es.seen, 1);
	T_ASSERT_OFF_FAILS(sma_named_alloc(ro, "name.other", 32, NULL), EROFS);
	T_ASSERT_INT_FAILS(sma_named_free(ro, "name.ro"), EROFS);
	assert_int_equal(sma_named_find(a, "name.ro"), off);
	t_close(ro);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_eight_processes_racing_to_create_one_name_create_exactly_one_object),
		T_TEST(test_a_named_object_is_zero_filled_found_again_and_not_created_twice),
		T_TEST(test_every_errno_of_the_named_calls),
		T_TEST(test_thousands_of_names_are_found_listed_and_freed),
		T_TEST(test_a_read_only_attachment_finds_and_lists_names_but_changes_nothing),
	};
	return T_RUN_GROUP(tests);
}
