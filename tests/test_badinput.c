/*
 * tests/test_badinput.c -- bad arguments and conditions the calls refuse:
 * each gets the errno API.md names, and nothing changes.  The inputs: the
 * open calls with a NULL path, unknown flags, or a size below the minimum
 * or above what the system allows; named calls with NULL, empty, too long
 * or unknown names; a full arena; and the semaphore set removed under a
 * running arena.  Offsets that are not live objects are in
 * test_badoffsets.c; permissions, read-only handles, modes and segments
 * that are not arenas in test_perms.c.
 *
 * "Nothing changes" is the digest of digest.h, taken before and after.
 * The number of bad inputs tried is printed at the end as a TAP comment.
 */
#define _GNU_SOURCE
#include "common.h"
#include "digest.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#define ARENA T_MIB(1)	/* bytes of the arenas here */

/* ---- the open calls: NULL, flags, sizes ------------------------------------------ */

static void test_open_of_a_null_path_fails_with_einval(void **state)
{
	BAD_OPEN(sma_open(NULL, 0, 0, 0), EINVAL);
	BAD_OPEN(sma_open(NULL, SMA_CREATE, ARENA, 0600), EINVAL);
	BAD_OPEN(sma_open(NULL, SMA_RDONLY, ARENA, 0), EINVAL);
}

static void test_open_with_unknown_flags_fails_with_einval_and_creates_nothing(void **state)
{
	static const int bad[] = {1 << 3, 1 << 8, 1 << 30, INT_MIN, -1, SMA_CREATE | (1 << 4),
				  SMA_RDONLY | (1 << 12)};
	sma_t *a = t_open_private(ARENA);
	const char *p = t_path("flags");
	int made = t_ipc_count();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		BAD_OPEN(sma_open(p, bad[i], ARENA, 0), EINVAL);
		assert_false(t_path_exists(p));
		BAD_OPEN(sma_open_key(IPC_PRIVATE, bad[i], ARENA, 0), EINVAL);
		BAD_OPEN(sma_open_id(sma_shmid(a), bad[i]), EINVAL);
	}
	assert_int_equal(t_ipc_count(), made);
	assert_int_equal(t_nattch(a, 1), 1);
	t_destroy(a);
}

static void test_create_with_a_size_below_the_minimum_fails_with_einval(void **state)
{
	const char *p = t_path("small");
	int made = t_ipc_count();
	sma_t *a;

	BAD_OPEN(sma_open_key(IPC_PRIVATE, SMA_CREATE, 0, 0), EINVAL);
	BAD_OPEN(sma_open_key(IPC_PRIVATE, SMA_CREATE, 1, 0), EINVAL);
	BAD_OPEN(sma_open_key(IPC_PRIVATE, SMA_CREATE, SMA_MIN_SIZE - 1, 0), EINVAL);
	BAD_OPEN(sma_open(p, SMA_CREATE, SMA_MIN_SIZE - 1, 0), EINVAL);
	BAD_OPEN(sma_open(p, SMA_CREATE, 0, 0), EINVAL);
	/* and nothing was left behind */
	assert_int_equal(t_ipc_count(), made);

	/* The minimum itself is enough. */
	a = OPEN_OK(sma_open_key(IPC_PRIVATE, SMA_CREATE, SMA_MIN_SIZE, 0));
	assert_true(t_stats(a).size >= SMA_MIN_SIZE);
	t_destroy(a);
}

static void test_create_excl_with_a_size_below_the_minimum_fails_with_einval_before_anything_else(
	void **state)
{
	const char *p = t_path("excl-small");
	const char *q = t_path("excl-small-missing");
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	int made = t_ipc_count();

	/* The arena exists, yet the size is checked first. */
	BAD_OPEN(sma_open(p, SMA_CREATE | SMA_EXCL, SMA_MIN_SIZE - 1, 0), EINVAL);
	BAD_OPEN(sma_open(p, SMA_CREATE | SMA_EXCL, 0, 0), EINVAL);
	BAD_OPEN(sma_open_key(sma_key(a), SMA_CREATE | SMA_EXCL, 16, 0), EINVAL);
	BAD_OPEN(sma_open_key(IPC_PRIVATE, SMA_CREATE | SMA_EXCL, 16, 0), EINVAL);
	/* Nothing was made for a missing path. */
	BAD_OPEN(sma_open(q, SMA_CREATE | SMA_EXCL, 4096, 0), EINVAL);
	assert_false(t_path_exists(q));
	assert_int_equal(t_ipc_count(), made);
	assert_int_equal(t_nattch(a, 1), 1);
	t_destroy(a);
}

static void test_create_larger_than_the_system_allows_fails_with_einval(void **state)
{
	const char *p = t_path("huge");
	unsigned long long shmmax = 0;
	FILE *f = fopen("/proc/sys/kernel/shmmax", "r");
	int made = t_ipc_count();

	BAD_OPEN(sma_open_key(IPC_PRIVATE, SMA_CREATE, SIZE_MAX, 0), EINVAL);
	BAD_OPEN(sma_open_key(IPC_PRIVATE, SMA_CREATE, SIZE_MAX - 4095, 0), EINVAL);
	BAD_OPEN(sma_open(p, SMA_CREATE, SIZE_MAX, 0), EINVAL);
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &shmmax), 1);
	fclose(f);
	if (shmmax < SIZE_MAX - 2 * t_page_size())
		BAD_OPEN(sma_open_key(IPC_PRIVATE, SMA_CREATE, (size_t)shmmax + 1, 0),
				  EINVAL);
	assert_int_equal(t_ipc_count(), made);
}

/* ---- a full arena ------------------------------------------------------------------ */

/* What a full arena holds: the objects and their sizes. */
struct fill {
	sma_off_t off[8192];
	size_t len[8192];
	size_t n;
};

static int fill_one(sma_t *a, struct fill *f, size_t align, size_t size)
{
	sma_off_t off = align ? sma_aligned_alloc(a, align, size) : sma_alloc(a, size);

	if (off == SMA_NULL) {
		assert_int_equal(errno, ENOMEM);
		return 0;
	}
	assert_true(f->n < 8192);
	f->off[f->n] = off;
	f->len[f->n] = size;
	t_fill(sma_ptr(a, off), size, off);
	f->n++;
	return 1;
}

static const size_t fill_sizes[] = {T_KIB(64) + 16, 16384, 4096, 1000, 300, 256, 64, 16};

/* The contract of largest_free: the largest object one sma_alloc can
 * return now.  So when sma_alloc(size) fails for want of memory, it is
 * below size. */
static void test_when_sma_alloc_fails_with_enomem_largest_free_is_below_the_size_asked(
	void **state)
{
	static struct fill f;
	sma_t *a = t_open_private(ARENA);
	struct sma_stats st;

	(void)state;
	f.n = 0;
	for (size_t i = 0; i < sizeof(fill_sizes) / sizeof(fill_sizes[0]); i++) {
		while (fill_one(a, &f, 0, fill_sizes[i]))
			;
		st = t_stats(a);
		if (st.largest_free >= fill_sizes[i])
			fail_msg("sma_alloc(%zu) failed with ENOMEM, yet largest_free is %zu (free %zu)",
				 fill_sizes[i], st.largest_free, st.free);
	}
	for (size_t i = 0; i < f.n; i++)
		assert_int_equal(sma_free(a, f.off[i]), 0);
	free_all(a);
	t_destroy(a);
}

static void test_a_full_arena_fails_with_enomem_and_loses_nothing(void **state)
{
	static struct fill f;
	sma_t *a = t_open_private(ARENA);
	struct digest before;
	struct sma_stats st;
	sma_off_t victim;

	(void)state;
	/* Fill it, largest objects first, until not even 16 bytes fit; then
	 * the heap's last fragments (sma_alloc serves small sizes from slabs
	 * only; an alignment of 32 asks the heap). */
	f.n = 0;
	for (size_t i = 0; i < sizeof(fill_sizes) / sizeof(fill_sizes[0]); i++)
		while (fill_one(a, &f, 0, fill_sizes[i]))
			;
	for (size_t size = 256; size >= 16; size /= 2)
		while (fill_one(a, &f, 32, size))
			;
	victim = f.off[f.n / 2];
	before = digest_of(a);

	BAD_OFF(sma_alloc(a, 16), ENOMEM);
	BAD_OFF(sma_alloc(a, 0), ENOMEM);
	BAD_OFF(sma_alloc(a, 200), ENOMEM);
	BAD_OFF(sma_alloc(a, 1000), ENOMEM);
	BAD_OFF(sma_alloc(a, T_KIB(200)), ENOMEM);
	BAD_OFF(sma_alloc(a, before.st.heap_size), ENOMEM);
	BAD_OFF(sma_alloc(a, before.st.heap_size + 1), ENOMEM);
	BAD_OFF(sma_alloc(a, SIZE_MAX), ENOMEM);
	BAD_OFF(sma_calloc(a, 1, 64), ENOMEM);
	BAD_OFF(sma_calloc(a, SIZE_MAX / 2, 3), ENOMEM);
	BAD_OFF(sma_aligned_alloc(a, 4096, 16), ENOMEM);
	BAD_OFF(sma_aligned_alloc(a, 64, 100), ENOMEM);
	BAD_OFF(sma_named_alloc(a, "no room", 16, NULL), ENOMEM);
	BAD_OFF(sma_realloc(a, victim, T_KIB(300)), ENOMEM);
	BAD_OFF(sma_realloc(a, f.off[0], T_KIB(500)), ENOMEM);
	BAD_OFF(sma_realloc(a, SMA_NULL, 32), ENOMEM);
	assert_unchanged(a, &before, "allocations in a full arena");
	for (size_t i = 0; i < f.n; i++)
		if (!t_verify(sma_ptr(a, f.off[i]), f.len[i], f.off[i]))
			fail_msg("object %zu (%#llx, %zu bytes) was overwritten", i,
				 (unsigned long long)f.off[i], f.len[i]);

	/* One freed object makes room for one like it. */
	assert_int_equal(sma_free(a, f.off[0]), 0);
	f.off[0] = t_alloc_ok(a, f.len[0]);
	for (size_t i = 0; i < f.n; i++)
		assert_int_equal(sma_free(a, f.off[i]), 0);
	assert_int_equal(sma_flush(a), 0);
	st = t_stats(a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.free, st.heap_size);
	assert_int_equal(st.largest_free, st.heap_size);
	t_destroy(a);
}

/* ---- names -------------------------------------------------------------------------------- */

static void test_named_calls_with_null_empty_or_too_long_names_fail_and_change_nothing(
	void **state)
{
	sma_t *a = t_open_private(ARENA);
	struct population pop;
	struct digest before;
	char longest[SMA_NAME_MAX + 1], too_long[SMA_NAME_MAX + 2], far_too_long[4096];
	int created = 7;
	sma_off_t off;

	(void)state;
	memset(longest, 'n', SMA_NAME_MAX);
	longest[SMA_NAME_MAX] = '\0';
	memset(too_long, 'n', SMA_NAME_MAX + 1);
	too_long[SMA_NAME_MAX + 1] = '\0';
	memset(far_too_long, 'x', sizeof(far_too_long) - 1);
	far_too_long[sizeof(far_too_long) - 1] = '\0';
	populate(a, &pop);
	before = digest_of(a);

	BAD_OFF(sma_named_alloc(a, NULL, 10, &created), EINVAL);
	BAD_OFF(sma_named_alloc(a, "", 10, &created), EINVAL);
	BAD_OFF(sma_named_alloc(a, too_long, 10, &created), ENAMETOOLONG);
	BAD_OFF(sma_named_alloc(a, far_too_long, 10, &created), ENAMETOOLONG);
	BAD_OFF(sma_named_find(a, NULL), EINVAL);
	BAD_OFF(sma_named_find(a, ""), EINVAL);
	BAD_OFF(sma_named_find(a, too_long), ENAMETOOLONG);
	BAD_OFF(sma_named_find(a, far_too_long), ENAMETOOLONG);
	BAD_INT(sma_named_free(a, NULL), EINVAL);
	BAD_INT(sma_named_free(a, ""), EINVAL);
	BAD_INT(sma_named_free(a, too_long), ENAMETOOLONG);
	BAD_INT(sma_named_free(a, far_too_long), ENAMETOOLONG);
	assert_int_equal(created, 7);
	/* Names that do not exist, and an existing one asked larger. */
	BAD_OFF(sma_named_find(a, "no such name"), ENOENT);
	BAD_OFF(sma_named_find(a, longest), ENOENT);
	BAD_INT(sma_named_free(a, "no such name"), ENOENT);
	BAD_INT(sma_named_free(a, longest), ENOENT);
	BAD_OFF(sma_named_alloc(a, "bad-input-named", T_KIB(100), &created), EEXIST);
	BAD_INT(sma_named_each(a, NULL, NULL), EINVAL);
	assert_unchanged(a, &before, "named calls with bad names");

	/* The longest name works. */
	off = sma_named_alloc(a, longest, 10, &created);
	assert_int_not_equal(off, SMA_NULL);
	assert_int_equal(created, 1);
	assert_int_equal(sma_named_find(a, longest), off);
	assert_int_equal(sma_named_free(a, longest), 0);
	before.st.allocs++; /* it counts as one object made and one freed */
	before.st.frees++;
	assert_unchanged(a, &before, "a named object of the longest name came and went");
	free_all(a);
	t_destroy(a);
}

/* ---- the semaphore set removed under a running arena --------------------------------------- */

struct semrm_case {
	sma_t *a;
	sma_off_t large;  /* a live object */
	int go[2];	  /* the loopers start once they read EOF... */
	int stop[2];	  /* ...and stop at EOF of this one */
};

/* Every call works after the set was removed, from a handle opened
 * before, and the arena has a set again. */
static int changes_after_the_set_is_gone(void *arg)
{
	struct semrm_case *c = arg;
	sma_t *a = c->a, *other;
	sma_off_t o;

	alarm(20);
	T_REQUIRE((o = sma_alloc(a, 16)) != SMA_NULL && sma_free(a, o) == 0);
	T_REQUIRE((o = sma_alloc(a, 1000)) != SMA_NULL && sma_free(a, o) == 0);
	T_REQUIRE((o = sma_alloc(a, T_KIB(200))) != SMA_NULL && sma_free(a, o) == 0);
	T_REQUIRE((o = sma_calloc(a, 10, 10)) != SMA_NULL && sma_free(a, o) == 0);
	T_REQUIRE((o = sma_aligned_alloc(a, 4096, 100)) != SMA_NULL && sma_free(a, o) == 0);
	T_REQUIRE((o = sma_named_alloc(a, "after the set", 10, NULL)) != SMA_NULL);
	T_REQUIRE(sma_named_free(a, "after the set") == 0);
	T_REQUIRE(sma_recover(a) == 0);
	T_REQUIRE(sma_check(a) == 0);
	other = sma_open_id(sma_shmid(a), 0);
	T_REQUIRE(other != NULL);
	T_REQUIRE((o = sma_alloc(other, 64)) != SMA_NULL && sma_free(other, o) == 0);
	T_REQUIRE(sma_close(other) == 0);
	T_REQUIRE(sma_usable_size(a, c->large) >= T_KIB(200));
	T_REQUIRE(sma_named_find(a, "bad-input-named") != SMA_NULL);
	return 0;
}
#define SEMRM_TRIES 10

/* Allocates and frees until told to stop; 0 if no call failed. */
static int loop_across_the_removal(void *arg)
{
	struct semrm_case *c = arg;
	char ch;

	alarm(20);
	close(c->go[1]);
	close(c->stop[1]);
	while (read(c->go[0], &ch, 1) < 0 && errno == EINTR)
		;
	for (long i = 0;; i++) {
		sma_off_t off = sma_alloc(c->a, i % 2 ? T_KIB(100) : 5000);
		if (off == SMA_NULL)
			return 1;
		if (sma_free(c->a, off) != 0)
			return 2;
		if (i % 64 == 0) {
			struct pollfd p = {.fd = c->stop[0], .events = POLLIN};
			if (poll(&p, 1, 0) > 0)
				return 0;
		}
	}
}

static void test_a_removed_semaphore_set_is_replaced_and_no_call_fails(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_t *ro, *b;
	struct population pop;
	struct semrm_case c;
	pid_t loopers[2];
	int shmid = sma_shmid(a), semid = sma_semid(a), now;

	(void)state;
	populate(a, &pop);
	b = OPEN_OK(sma_open_id(shmid, 0));
	ro = OPEN_OK(sma_open_id(shmid, SMA_RDONLY));
	c.a = a;
	c.large = pop.large;
	t_pipe(c.go);
	t_pipe(c.stop);
	for (int i = 0; i < 2; i++)
		loopers[i] = t_fork(loop_across_the_removal, &c);
	close(c.go[0]);
	close(c.go[1]); /* they start working */
	close(c.stop[0]);
	usleep(20000);

	/* As systemd-logind's RemoveIPC would at logout. */
	assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
	usleep(50000);
	t_wait_ok_within(t_fork(changes_after_the_set_is_gone, &c), 20);
	close(c.stop[1]); /* the loopers stop, none having failed */
	for (int i = 0; i < 2; i++)
		t_wait_ok_within(loopers[i], 20);
	n_bad += SEMRM_TRIES;

	/* A new set names the arena, and every handle goes on with it. */
	now = sma_semid(a);
	assert_int_not_equal(now, semid);
	assert_true(t_sem_exists(now));
	t_track_semid(now);
	assert_int_equal(sma_semid(b), now);
	assert_int_equal(sma_semid(ro), now);
	t_assert_check(ro);
	t_close(ro);
	t_untrack(a);
	assert_int_equal(sma_destroy(a), 0);
	assert_true(t_shm_exists(shmid)); /* b is still attached */
	t_close(b);
	assert_false(t_shm_exists(shmid));
	assert_false(t_sem_exists(now));
}

static void test_close_and_destroy_after_the_semaphore_set_was_removed_clean_up(void **state)
{
	sma_t *a = t_open_private(ARENA);
	int shmid = sma_shmid(a), semid = sma_semid(a);

	(void)state;
	t_alloc_ok(a, 64); /* a cache of this thread to give back */
	t_alloc_ok(a, T_KIB(100));
	assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
	t_assert_check(a);
	t_track_semid(sma_semid(a));
	alarm(20);
	t_untrack(a);
	assert_int_equal(sma_destroy(a), 0);
	alarm(0);
	assert_false(t_shm_exists(shmid));
	assert_false(t_sem_exists(semid));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_open_of_a_null_path_fails_with_einval),
		T_TEST(test_open_with_unknown_flags_fails_with_einval_and_creates_nothing),
		T_TEST(test_create_with_a_size_below_the_minimum_fails_with_einval),
		T_TEST(test_create_excl_with_a_size_below_the_minimum_fails_with_einval_before_anything_else),
		T_TEST(test_create_larger_than_the_system_allows_fails_with_einval),
		T_TEST(test_a_full_arena_fails_with_enomem_and_loses_nothing),
		T_TEST(test_when_sma_alloc_fails_with_enomem_largest_free_is_below_the_size_asked),
		T_TEST(test_named_calls_with_null_empty_or_too_long_names_fail_and_change_nothing),
		T_TEST(test_a_removed_semaphore_set_is_replaced_and_no_call_fails),
		T_TEST(test_close_and_destroy_after_the_semaphore_set_was_removed_clean_up),
	};
	int rc = T_RUN_GROUP(tests);

	printf("# bad inputs tried: %ld\n", n_bad);
	return rc;
}
