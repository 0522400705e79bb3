/*
 * tests/test_open.c -- opening, closing and destroying arenas, through the
 * public API: the open calls on paths, keys and ids (ENOENT, EEXIST, the
 * size argument of an existing arena, hard links), keys and ids, handles
 * inherited over fork, and what sma_destroy leaves to those still
 * attached.  Bad arguments of the open calls are in test_badinput.c,
 * permissions, modes and segments that are not arenas in test_perms.c,
 * processes creating one arena at once in test_open_races.c.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ARENA T_MIB(1) /* bytes of the arenas these tests make */

/* ---- helpers ------------------------------------------------------------ */

static void expect_open_fails(sma_t *a, int e, const char *call, int want1, int want2)
{
	if (a) {
		t_track(a);
		fail_msg("%s succeeded; expected it to fail with %s", call, strerror(want1));
	}
	if (e != want1 && e != want2)
		fail_msg("%s failed with errno %d (%s); expected %d (%s)", call, e, strerror(e),
			 want1, strerror(want1));
}

/* The call returns NULL with errno e (or e2). */
#define EXPECT_OPEN_FAILS(call, e)                                       \
	do {                                                             \
		errno = 0;                                               \
		sma_t *a_ = (call);                                      \
		expect_open_fails(a_, errno, #call, (e), (e));           \
	} while (0)
#define EXPECT_OPEN_FAILS2(call, e, e2)                                  \
	do {                                                             \
		errno = 0;                                               \
		sma_t *a_ = (call);                                      \
		expect_open_fails(a_, errno, #call, (e), (e2));          \
	} while (0)

/* ---- ENOENT --------------------------------------------------------------- */

static void test_open_of_a_missing_path_without_create_fails_with_enoent(void **state)
{
	const char *p = t_path("missing");

	EXPECT_OPEN_FAILS(sma_open(p, 0, ARENA, 0), ENOENT);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_RDONLY, 0, 0), ENOENT);
	assert_false(t_path_exists(p));
}

static void test_open_of_a_file_with_no_arena_without_create_fails_with_enoent(void **state)
{
	const char *p = t_path("plain-file");
	key_t key;

	t_make_file(p, 0600);
	key = t_path_key(p);
	EXPECT_OPEN_FAILS(sma_open(p, 0, ARENA, 0), ENOENT);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_RDONLY, 0, 0), ENOENT);
	EXPECT_OPEN_FAILS(sma_open_key(key, 0, ARENA, 0), ENOENT);
}

static void test_open_id_of_an_id_that_names_no_segment_fails_with_einval_or_enoent(void **state)
{
	sma_t *a = t_open_private(ARENA);
	int id = sma_shmid(a);

	t_destroy(a);
	EXPECT_OPEN_FAILS2(sma_open_id(id, 0), EINVAL, ENOENT);
	EXPECT_OPEN_FAILS2(sma_open_id(id, SMA_RDONLY), EINVAL, ENOENT);
	EXPECT_OPEN_FAILS2(sma_open_id(-1, 0), EINVAL, ENOENT);
}

/* ---- EEXIST ------------------------------------------------------------------- */

static void test_create_excl_of_an_existing_arena_fails_with_eexist(void **state)
{
	const char *p = t_path("excl");
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE | SMA_EXCL, ARENA, 0));

	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	EXPECT_OPEN_FAILS(sma_open_key(sma_key(a), SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	assert_int_equal(t_nattch(a, 1), 1);
	t_destroy(a);
}

/* ---- the size argument, links --------------------------------------------------- */

static void test_open_of_an_existing_arena_ignores_the_size_argument(void **state)
{
	const char *p = t_path("size-ignored");
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	sma_t *o[4];

	o[0] = OPEN_OK(sma_open(p, SMA_CREATE, 0, 0));
	o[1] = OPEN_OK(sma_open(p, 0, 1, 0));
	o[2] = OPEN_OK(sma_open(p, 0, SIZE_MAX, 0));
	o[3] = OPEN_OK(sma_open_key(sma_key(a), SMA_CREATE, 1, 0));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sma_shmid(o[i]), sma_shmid(a));
		assert_int_equal(t_stats(o[i]).size, ARENA);
	}
	assert_int_equal(t_nattch(a, 5), 5);
	for (int i = 0; i < 4; i++)
		t_close(o[i]);
	assert_int_equal(t_nattch(a, 1), 1);
	t_destroy(a);
}

static void test_open_through_a_hard_link_reaches_the_same_arena(void **state)
{
	const char *p = t_path("linked");
	const char *l = t_path("link");
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	sma_t *b;
	sma_off_t off = sma_alloc(a, 32);

	assert_int_not_equal(off, SMA_NULL);
	strcpy(sma_ptr(a, off), "through the link");
	assert_int_equal(link(p, l), 0);
	b = OPEN_OK(sma_open(l, 0, 0, 0));
	assert_int_equal(sma_shmid(b), sma_shmid(a));
	assert_string_equal(sma_ptr(b, off), "through the link");
	assert_int_equal(sma_free(b, off), 0);
	t_close(b);
	t_destroy(a);
}

/* ---- keys, ids, version --------------------------------------------------------------- */

static void test_key_of_a_private_arena_is_ipc_private(void **state)
{
	sma_t *a = t_open_private(ARENA);

	assert_int_equal(sma_key(a), IPC_PRIVATE);
	assert_int_equal(t_shm_stat(sma_shmid(a)).shm_perm.__key, IPC_PRIVATE);
	t_destroy(a);
}

static void test_key_of_a_path_arena_is_the_ftok_key_of_its_path_and_opens_it(void **state)
{
	const char *p = t_path("keyed");
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	sma_t *k, *i;

	assert_int_equal(sma_key(a), ftok(p, SMA_PROJ_ID));
	assert_int_equal(t_shm_stat(sma_shmid(a)).shm_perm.__key, sma_key(a));
	k = OPEN_OK(sma_open_key(sma_key(a), 0, 0, 0));
	i = OPEN_OK(sma_open_id(sma_shmid(a), 0));
	assert_int_equal(sma_shmid(k), sma_shmid(a));
	assert_int_equal(sma_shmid(i), sma_shmid(a));
	assert_int_equal(sma_key(k), sma_key(a));
	assert_int_equal(sma_key(i), sma_key(a));
	t_close(k);
	t_close(i);
	t_destroy(a);
}

static void test_shmid_names_a_segment_of_the_size_asked_rounded_up_to_pages(void **state)
{
	size_t page = t_page_size();
	sma_t *a = t_open_private(ARENA + 1);
	struct shmid_ds ds = t_shm_stat(sma_shmid(a));
	struct sma_stats st = t_stats(a);

	assert_int_equal(ds.shm_segsz, (ARENA + 1 + page - 1) / page * page);
	assert_int_equal(st.size, ds.shm_segsz);
	assert_true(st.heap_size > 0 && st.heap_size < st.size);
	assert_int_equal(t_nattch(a, 1), 1);
	assert_int_equal(ds.shm_cpid, getpid());
	assert_true(t_sem_stat(sma_semid(a)).sem_nsems >= 1);
	t_destroy(a);
}

static void test_version_is_the_version_of_the_header(void **state)
{
	unsigned maj, min, pat;
	int n = 0;
	char want[32];

	assert_non_null(sma_version());
	assert_string_equal(sma_version(), SMA_VERSION);
	assert_int_equal(sscanf(sma_version(), "%u.%u.%u%n", &maj, &min, &pat, &n), 3);
	assert_int_equal(n, strlen(sma_version()));
	assert_int_equal(maj, SMA_VERSION_MAJOR);
	assert_int_equal(min, SMA_VERSION_MINOR);
	assert_int_equal(pat, SMA_VERSION_PATCH);
	snprintf(want, sizeof(want), "%d.%d.%d", SMA_VERSION_MAJOR, SMA_VERSION_MINOR,
		 SMA_VERSION_PATCH);
	assert_string_equal(SMA_VERSION, want);
}

/* ---- other processes ------------------------------------------------------------------- */

struct by_id {
	int shmid;	/* the arena */
	sma_off_t off;	/* an object the parent wrote */
	int out;	/* write end of a pipe for the child's answer */
};

static int open_by_id_and_answer(void *arg)
{
	struct by_id *c = arg;
	sma_t *b = sma_open_id(c->shmid, 0);
	sma_off_t mine;

	T_REQUIRE(b != NULL);
	T_REQUIRE(strcmp(sma_ptr(b, c->off), "from the parent") == 0);
	mine = sma_alloc(b, 64);
	T_REQUIRE(mine != SMA_NULL);
	strcpy(sma_ptr(b, mine), "from the child");
	T_REQUIRE(t_write_all(c->out, &mine, sizeof(mine)) == 0);
	T_REQUIRE(sma_close(b) == 0);
	return 0;
}

static void test_a_private_arena_is_reached_by_id_from_another_process(void **state)
{
	sma_t *a = t_open_private(ARENA);
	struct by_id c = {.shmid = sma_shmid(a)};
	sma_off_t mine;
	int fd[2];
	pid_t pid;

	c.off = sma_alloc(a, 32);
	assert_int_not_equal(c.off, SMA_NULL);
	strcpy(sma_ptr(a, c.off), "from the parent");
	t_pipe(fd);
	c.out = fd[1];
	pid = t_fork(open_by_id_and_answer, &c);
	close(fd[1]);
	assert_int_equal(t_read_all(fd[0], &mine, sizeof(mine)), 0);
	close(fd[0]);
	t_wait_ok(pid);
	assert_string_equal(sma_ptr(a, mine), "from the child");
	assert_int_equal(t_stats(a).live, 2);
	assert_int_equal(sma_free(a, mine), 0);
	assert_int_equal(sma_free(a, c.off), 0);
	assert_int_equal(t_nattch(a, 1), 1);
	t_destroy(a);
}

struct inherited {
	sma_t *a;	/* the parent's handle */
	sma_off_t off;	/* an object of the parent's, which the child frees */
	int out;	/* write end of a pipe for the child's answer */
};

static int use_inherited_handle(void *arg)
{
	struct inherited *c = arg;
	sma_off_t mine[16];

	T_REQUIRE(t_verify(sma_ptr(c->a, c->off), 200, 7));
	T_REQUIRE(sma_free(c->a, c->off) == 0);
	for (int i = 0; i < 16; i++) {
		mine[i] = sma_alloc(c->a, 24 * (i + 1));
		T_REQUIRE(mine[i] != SMA_NULL);
		t_fill(sma_ptr(c->a, mine[i]), 24 * (i + 1), mine[i]);
	}
	T_REQUIRE(t_check_report(c->a) == 0);
	T_REQUIRE(t_write_all(c->out, mine, sizeof(mine)) == 0);
	T_REQUIRE(sma_close(c->a) == 0);
	return 0;
}

static void test_a_child_after_fork_keeps_using_the_parents_handle(void **state)
{
	struct inherited c = {.a = t_open_private(ARENA)};
	sma_off_t mine[16];
	int fd[2];
	pid_t pid;

	c.off = sma_alloc(c.a, 200);
	assert_int_not_equal(c.off, SMA_NULL);
	t_fill(sma_ptr(c.a, c.off), 200, 7);
	t_pipe(fd);
	c.out = fd[1];
	pid = t_fork(use_inherited_handle, &c);
	close(fd[1]);
	assert_int_equal(t_read_all(fd[0], mine, sizeof(mine)), 0);
	close(fd[0]);
	t_wait_ok(pid);
	/* The parent's handle is untouched by the child's close. */
	assert_int_equal(t_stats(c.a).live, 16);
	assert_int_equal(t_nattch(c.a, 1), 1);
	for (int i = 0; i < 16; i++) {
		assert_true(t_verify(sma_ptr(c.a, mine[i]), 24 * (i + 1), mine[i]));
		assert_int_equal(sma_free(c.a, mine[i]), 0);
	}
	t_destroy(c.a);
}

static int report_nattch(void *arg)
{
	sma_t *a = arg;
	struct sma_stats st;
	sma_t *c;

	(void)st;
	T_REQUIRE_EQ(t_nattch(a, 2), 2);
	c = sma_open_id(sma_shmid(a), 0);
	T_REQUIRE(c != NULL);
	T_REQUIRE_EQ(t_nattch(a, 3), 3);
	T_REQUIRE(sma_close(c) == 0);
	return 0;
}

static void test_nattch_counts_each_handle_and_each_fork_copy(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_t *b;

	assert_int_equal(t_nattch(a, 1), 1);
	b = OPEN_OK(sma_open_id(sma_shmid(a), 0));
	assert_int_equal(t_nattch(a, 2), 2);
	assert_int_equal(t_nattch(b, 2), 2);
	t_close(b);
	assert_int_equal(t_nattch(a, 1), 1);
	t_wait_ok(t_fork(report_nattch, a));
	assert_int_equal(t_nattch(a, 1), 1);
	t_destroy(a);
}

/* ---- close and destroy ------------------------------------------------------------------ */

static void test_close_leaves_the_arena_for_others_to_open(void **state)
{
	const char *p = t_path("closed");
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	int shmid = sma_shmid(a), semid = sma_semid(a);
	sma_off_t off = sma_alloc(a, 40);

	assert_int_not_equal(off, SMA_NULL);
	strcpy(sma_ptr(a, off), "still here");
	t_close(a);
	assert_true(t_shm_exists(shmid));
	assert_true(t_sem_exists(semid));
	a = OPEN_OK(sma_open(p, 0, 0, 0));
	assert_int_equal(sma_shmid(a), shmid);
	assert_string_equal(sma_ptr(a, off), "still here");
	assert_int_equal(t_stats(a).live, 1);
	assert_int_equal(sma_free(a, off), 0);
	t_destroy(a);
}

static void test_destroy_with_nobody_else_attached_removes_segment_and_semaphores(void **state)
{
	sma_t *a = t_open_private(ARENA);
	int shmid = sma_shmid(a), semid = sma_semid(a);

	assert_true(t_shm_exists(shmid));
	assert_true(t_sem_exists(semid));
	t_destroy(a);
	assert_false(t_shm_exists(shmid));
	assert_false(t_sem_exists(semid));
}

/*
 * A process that attaches the arena by path on its own (it is forked before
 * the arena exists, so it inherits no attachment), and keeps working on it
 * after the parent has destroyed it.
 */
struct survivor {
	const char *path; /* the arena, opened by path */
	int ready[2];	  /* the child says it is attached */
	int go[2];	  /* the parent says: created, then destroyed */
};

static int keep_working_after_destroy(void *arg)
{
	struct survivor *s = arg;
	sma_off_t offs[100];
	struct sma_stats st;
	char c = 'r';
	sma_t *a;

	close(s->ready[0]);
	close(s->go[1]);
	T_REQUIRE(t_read_all(s->go[0], &c, 1) == 0);
	a = sma_open(s->path, 0, 0, 0);
	T_REQUIRE(a != NULL);
	T_REQUIRE(t_write_all(s->ready[1], &c, 1) == 0);
	T_REQUIRE(t_read_all(s->go[0], &c, 1) == 0);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 100; i++) {
			offs[i] = sma_alloc(a, 16 + 40 * i);
			T_REQUIRE(offs[i] != SMA_NULL);
			t_fill(sma_ptr(a, offs[i]), 16 + 40 * i, offs[i] + round);
		}
		for (int i = 0; i < 100; i++) {
			T_REQUIRE(t_verify(sma_ptr(a, offs[i]), 16 + 40 * i, offs[i] + round));
			T_REQUIRE(sma_free(a, offs[i]) == 0);
		}
	}
	T_REQUIRE(sma_stats(a, &st) == 0);
	T_REQUIRE_EQ(st.live, 0);
	T_REQUIRE(t_check_report(a) == 0);
	T_REQUIRE(sma_close(a) == 0);
	return 0;
}

/* Forks the survivor, creates the arena, and returns once the survivor
 * has attached it. */
static sma_t *start_survivor(struct survivor *s, pid_t *pid)
{
	char c = 'c';
	sma_t *a;

	t_pipe(s->ready);
	t_pipe(s->go);
	*pid = t_fork(keep_working_after_destroy, s);
	close(s->ready[1]);
	close(s->go[0]);
	a = OPEN_OK(sma_open(s->path, SMA_CREATE, ARENA, 0));
	assert_int_equal(t_write_all(s->go[1], &c, 1), 0);
	assert_int_equal(t_read_all(s->ready[0], &c, 1), 0);
	close(s->ready[0]);
	assert_int_equal(t_nattch(a, 2), 2);
	return a;
}

static void release_survivor(struct survivor *s, pid_t pid)
{
	char c = 'g';

	assert_int_equal(t_write_all(s->go[1], &c, 1), 0);
	close(s->go[1]);
	t_wait_ok(pid);
}

static void test_destroy_makes_the_arena_unreachable_while_attached_processes_keep_working(
	void **state)
{
	struct survivor s = {.path = t_path("destroyed")};
	pid_t pid;
	sma_t *a = start_survivor(&s, &pid);
	int shmid = sma_shmid(a), semid = sma_semid(a);
	key_t key = sma_key(a);

	t_assert_check(a);
	t_untrack(a);
	assert_int_equal(sma_destroy(a), 0);

	EXPECT_OPEN_FAILS(sma_open(s.path, 0, 0, 0), ENOENT);
	EXPECT_OPEN_FAILS(sma_open(s.path, SMA_RDONLY, 0, 0), ENOENT);
	EXPECT_OPEN_FAILS(sma_open_key(key, 0, 0, 0), ENOENT);
	EXPECT_OPEN_FAILS2(sma_open_id(shmid, 0), EINVAL, ENOENT);
	EXPECT_OPEN_FAILS2(sma_open_id(shmid, SMA_RDONLY), EINVAL, ENOENT);
	/* The child still holds both. */
	assert_true(t_shm_exists(shmid));
	assert_true(t_sem_exists(semid));

	release_survivor(&s, pid);
	/* The last close took them away. */
	assert_false(t_shm_exists(shmid));
	assert_false(t_sem_exists(semid));
}

static void test_create_after_destroy_makes_a_new_arena_while_the_old_one_is_in_use(void **state)
{
	struct survivor s = {.path = t_path("recreated")};
	pid_t pid;
	sma_t *a = start_survivor(&s, &pid);
	int shmid = sma_shmid(a), semid = sma_semid(a);
	sma_t *b;
	sma_off_t off;

	t_assert_check(a);
	t_untrack(a);
	assert_int_equal(sma_destroy(a), 0);

	b = OPEN_OK(sma_open(s.path, SMA_CREATE, ARENA, 0));
	assert_int_not_equal(sma_shmid(b), shmid);
	assert_int_not_equal(sma_semid(b), semid);
	assert_int_equal(t_stats(b).live, 0);
	assert_int_equal(t_nattch(b, 1), 1);
	off = sma_alloc(b, 100);
	assert_int_not_equal(off, SMA_NULL);

	release_survivor(&s, pid);
	assert_false(t_shm_exists(shmid));
	assert_false(t_sem_exists(semid));
	assert_int_equal(t_stats(b).live, 1);
	assert_int_equal(sma_free(b, off), 0);
	t_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_open_of_a_missing_path_without_create_fails_with_enoent),
		T_TEST(test_open_of_a_file_with_no_arena_without_create_fails_with_enoent),
		T_TEST(test_open_id_of_an_id_that_names_no_segment_fails_with_einval_or_enoent),
		T_TEST(test_create_excl_of_an_existing_arena_fails_with_eexist),
		T_TEST(test_open_of_an_existing_arena_ignores_the_size_argument),
		T_TEST(test_open_through_a_hard_link_reaches_the_same_arena),
		T_TEST(test_key_of_a_private_arena_is_ipc_private),
		T_TEST(test_key_of_a_path_arena_is_the_ftok_key_of_its_path_and_opens_it),
		T_TEST(test_shmid_names_a_segment_of_the_size_asked_rounded_up_to_pages),
		T_TEST(test_version_is_the_version_of_the_header),
		T_TEST(test_a_private_arena_is_reached_by_id_from_another_process),
		T_TEST(test_a_child_after_fork_keeps_using_the_parents_handle),
		T_TEST(test_nattch_counts_each_handle_and_each_fork_copy),
		T_TEST(test_close_leaves_the_arena_for_others_to_open),
		T_TEST(test_destroy_with_nobody_else_attached_removes_segment_and_semaphores),
		T_TEST(test_destroy_makes_the_arena_unreachable_while_attached_processes_keep_working),
		T_TEST(test_create_after_destroy_makes_a_new_arena_while_the_old_one_is_in_use),
	};
	return T_RUN_GROUP(tests);
}
