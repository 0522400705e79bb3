/*
 * tests/test_open.c -- opening, closing and destroying arenas, through the
 * public API: every errno of the open calls, permissions and modes, keys
 * and ids, handles inherited over fork, many processes creating one arena
 * at the same instant, and what sma_destroy leaves to those still attached.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* glibc leaves union semun to the caller. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

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

/* The same in a child, which may not use the cmocka assertions. */
#define REQUIRE_OPEN_FAILS(call, e)                                      \
	do {                                                             \
		errno = 0;                                               \
		sma_t *a_ = (call);                                      \
		int e_ = errno;                                          \
		T_REQUIRE(a_ == NULL);                                   \
		errno = e_;                                              \
		T_REQUIRE_EQ(e_, (e));                                   \
	} while (0)

static void make_file(const char *path, mode_t mode)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

	if (fd < 0)
		fail_msg("creating %s: %s", path, strerror(errno));
	close(fd);
}

static int path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static struct shmid_ds shm_stat(int shmid)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) != 0)
		fail_msg("shmctl(%d, IPC_STAT): %s", shmid, strerror(errno));
	return ds;
}

static struct semid_ds sem_stat(int semid)
{
	struct semid_ds ds;
	union semun u = {.buf = &ds};

	if (semctl(semid, 0, IPC_STAT, u) != 0)
		fail_msg("semctl(%d, IPC_STAT): %s", semid, strerror(errno));
	return ds;
}

/* The permission bits of an arena's segment and semaphore set, as saved
 * before they are changed (IPC_STAT needs read permission, IPC_SET only
 * ownership). */
struct ipc_modes {
	struct shmid_ds shm;
	struct semid_ds sem;
};

static struct ipc_modes get_ipc_modes(sma_t *a)
{
	struct ipc_modes m = {shm_stat(sma_shmid(a)), sem_stat(sma_semid(a))};
	return m;
}

static void set_ipc_modes(sma_t *a, struct ipc_modes m, mode_t mode)
{
	union semun u = {.buf = &m.sem};

	m.shm.shm_perm.mode = (m.shm.shm_perm.mode & ~0777u) | (mode & 0777);
	m.sem.sem_perm.mode = (m.sem.sem_perm.mode & ~0777u) | (mode & 0777);
	assert_int_equal(shmctl(sma_shmid(a), IPC_SET, &m.shm), 0);
	assert_int_equal(semctl(sma_semid(a), 0, IPC_SET, u), 0);
}

/* A segment that is not an arena, on the key of path, filled with garbage
 * from seed (or left zero when seed is 0); returns its id. */
static int make_foreign_segment(const char *path, uint64_t seed)
{
	key_t key;
	int id;
	void *p;

	make_file(path, 0600);
	key = t_path_key(path);
	assert_int_not_equal(key, -1);
	id = shmget(key, ARENA, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		fail_msg("shmget: %s", strerror(errno));
	t_track_shmid(id);
	if (seed) {
		p = shmat(id, NULL, 0);
		assert_true(p != (void *)-1);
		t_fill(p, ARENA, seed);
		shmdt(p);
	}
	return id;
}

/* Asserts that segment id still holds the garbage of seed (zero if 0) and
 * that nobody but the test is attached; then removes it. */
static void check_and_remove_foreign_segment(int id, uint64_t seed)
{
	unsigned char *p = shmat(id, NULL, SHM_RDONLY);

	assert_true(p != (void *)-1);
	assert_int_equal(shm_stat(id).shm_nattch, 1);
	if (seed) {
		assert_true(t_verify(p, ARENA, seed));
	} else {
		for (size_t i = 0; i < ARENA; i++)
			if (p[i])
				fail_msg("byte %zu of the zero-filled segment became %u", i, p[i]);
	}
	shmdt(p);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
}

static int count_in_use(sma_off_t off, size_t size, int in_use, void *arg)
{
	(void)off;
	(void)size;
	*(int *)arg += in_use;
	return 0;
}

/* ---- ENOENT --------------------------------------------------------------- */

static void test_open_of_a_missing_path_without_create_fails_with_enoent(void **state)
{
	const char *p = t_path("missing");

	EXPECT_OPEN_FAILS(sma_open(p, 0, ARENA, 0), ENOENT);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_RDONLY, 0, 0), ENOENT);
	assert_false(path_exists(p));
}

static void test_open_of_a_file_with_no_arena_without_create_fails_with_enoent(void **state)
{
	const char *p = t_path("plain-file");
	key_t key;

	make_file(p, 0600);
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
	assert_int_equal(t_stats(a).nattch, 1);
	t_destroy(a);
}

static void test_create_excl_of_a_key_held_by_a_foreign_segment_fails_with_eexist(void **state)
{
	const char *p = t_path("foreign-excl");
	int id = make_foreign_segment(p, 0x5eed);
	int made = t_ipc_count();

	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	EXPECT_OPEN_FAILS(sma_open_key(ftok(p, SMA_PROJ_ID), SMA_CREATE | SMA_EXCL, ARENA, 0),
			  EEXIST);
	assert_int_equal(t_ipc_count(), made);
	check_and_remove_foreign_segment(id, 0x5eed);
}

/* ---- EINVAL ---------------------------------------------------------------------- */

static void test_open_of_a_null_path_fails_with_einval(void **state)
{
	EXPECT_OPEN_FAILS(sma_open(NULL, 0, 0, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open(NULL, SMA_CREATE, ARENA, 0600), EINVAL);
	EXPECT_OPEN_FAILS(sma_open(NULL, SMA_RDONLY, ARENA, 0), EINVAL);
}

static void test_open_with_unknown_flags_fails_with_einval_and_creates_nothing(void **state)
{
	static const int bad[] = {1 << 3, 1 << 8, 1 << 30, INT_MIN, -1, SMA_CREATE | (1 << 4),
				  SMA_RDONLY | (1 << 12)};
	sma_t *a = t_open_private(ARENA);
	const char *p = t_path("flags");
	int made = t_ipc_count();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_OPEN_FAILS(sma_open(p, bad[i], ARENA, 0), EINVAL);
		assert_false(path_exists(p));
		EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, bad[i], ARENA, 0), EINVAL);
		EXPECT_OPEN_FAILS(sma_open_id(sma_shmid(a), bad[i]), EINVAL);
	}
	assert_int_equal(t_ipc_count(), made);
	assert_int_equal(t_stats(a).nattch, 1);
	t_destroy(a);
}

static void test_create_with_a_size_below_the_minimum_fails_with_einval(void **state)
{
	const char *p = t_path("small");
	int made = t_ipc_count();
	sma_t *a;

	EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, SMA_CREATE, 0, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, SMA_CREATE, 1, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, SMA_CREATE, SMA_MIN_SIZE - 1, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE, SMA_MIN_SIZE - 1, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE, 0, 0), EINVAL);
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
	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE | SMA_EXCL, SMA_MIN_SIZE - 1, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE | SMA_EXCL, 0, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open_key(sma_key(a), SMA_CREATE | SMA_EXCL, 16, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, SMA_CREATE | SMA_EXCL, 16, 0), EINVAL);
	/* Nothing was made for a missing path. */
	EXPECT_OPEN_FAILS(sma_open(q, SMA_CREATE | SMA_EXCL, 4096, 0), EINVAL);
	assert_false(path_exists(q));
	assert_int_equal(t_ipc_count(), made);
	assert_int_equal(t_stats(a).nattch, 1);
	t_destroy(a);
}

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
	assert_int_equal(t_stats(a).nattch, 5);
	for (int i = 0; i < 4; i++)
		t_close(o[i]);
	assert_int_equal(t_stats(a).nattch, 1);
	t_destroy(a);
}

static void test_create_larger_than_the_system_allows_fails_with_einval(void **state)
{
	const char *p = t_path("huge");
	unsigned long long shmmax = 0;
	FILE *f = fopen("/proc/sys/kernel/shmmax", "r");
	int made = t_ipc_count();

	EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, SMA_CREATE, SIZE_MAX, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, SMA_CREATE, SIZE_MAX - 4095, 0), EINVAL);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE, SIZE_MAX, 0), EINVAL);
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &shmmax), 1);
	fclose(f);
	if (shmmax < SIZE_MAX - 2 * t_page_size())
		EXPECT_OPEN_FAILS(sma_open_key(IPC_PRIVATE, SMA_CREATE, (size_t)shmmax + 1, 0),
				  EINVAL);
	assert_int_equal(t_ipc_count(), made);
}

/* ---- EPROTO ------------------------------------------------------------------------ */

static void test_open_of_a_foreign_segment_fails_with_eproto_and_leaves_it_untouched(void **state)
{
	const char *p = t_path("foreign");
	int id = make_foreign_segment(p, 0xf0e1d2c3);
	int made = t_ipc_count();

	EXPECT_OPEN_FAILS(sma_open(p, 0, 0, 0), EPROTO);
	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE, ARENA, 0), EPROTO);
	EXPECT_OPEN_FAILS(sma_open_id(id, SMA_RDONLY), EPROTO);
	assert_int_equal(t_ipc_count(), made);
	check_and_remove_foreign_segment(id, 0xf0e1d2c3);
}

static void test_open_of_a_zero_filled_segment_without_the_mark_fails_with_eproto(void **state)
{
	const char *p = t_path("zero");
	int id = make_foreign_segment(p, 0);
	int made = t_ipc_count();

	EXPECT_OPEN_FAILS(sma_open(p, SMA_CREATE, ARENA, 0), EPROTO);
	EXPECT_OPEN_FAILS(sma_open_key(ftok(p, SMA_PROJ_ID), 0, 0, 0), EPROTO);
	assert_int_equal(t_ipc_count(), made);
	check_and_remove_foreign_segment(id, 0);
}

/*
 * An ftok collision: the key of path b holds an arena that was not made
 * for b (here, made by key, so it records no path at all).  Opening it as
 * b's arena is refused; opening it by its key is not.
 */
static void test_open_of_a_path_whose_key_holds_an_arena_made_for_no_path_fails_with_eproto(
	void **state)
{
	const char *b = t_path("collision");
	sma_t *a, *k;

	make_file(b, 0600);
	a = OPEN_OK(sma_open_key(t_path_key(b), SMA_CREATE, ARENA, 0));
	EXPECT_OPEN_FAILS(sma_open(b, 0, 0, 0), EPROTO);
	EXPECT_OPEN_FAILS(sma_open(b, SMA_CREATE, ARENA, 0), EPROTO);
	EXPECT_OPEN_FAILS(sma_open(b, SMA_RDONLY, 0, 0), EPROTO);
	k = OPEN_OK(sma_open_key(sma_key(a), 0, 0, 0));
	assert_int_equal(sma_shmid(k), sma_shmid(a));
	t_close(k);
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

/* ---- EACCES and read-only access ------------------------------------------------------ */

struct access_case {
	const char *path; /* the arena's path */
	key_t key;	  /* its key */
	int shmid;	  /* its segment */
	sma_off_t off;	  /* an object holding a string */
};

static int open_without_permission(void *arg)
{
	struct access_case *c = arg;

	T_REQUIRE(t_become_nobody() >= 0);
	REQUIRE_OPEN_FAILS(sma_open(c->path, 0, 0, 0), EACCES);
	REQUIRE_OPEN_FAILS(sma_open(c->path, SMA_RDONLY, 0, 0), EACCES);
	REQUIRE_OPEN_FAILS(sma_open(c->path, SMA_CREATE, ARENA, 0), EACCES);
	REQUIRE_OPEN_FAILS(sma_open_key(c->key, 0, 0, 0), EACCES);
	REQUIRE_OPEN_FAILS(sma_open_id(c->shmid, 0), EACCES);
	REQUIRE_OPEN_FAILS(sma_open_id(c->shmid, SMA_RDONLY), EACCES);
	return 0;
}

/*
 * Runs fn in a child that sees the arena as another user would when its
 * mode is mode: as root, the child becomes nobody and the arena keeps
 * mode; otherwise the owner's bits are set to the others' bits for the
 * time of the child.
 */
static void run_as_other_user(sma_t *a, mode_t mode, int (*fn)(void *), void *arg)
{
	int root = geteuid() == 0;
	struct ipc_modes saved = get_ipc_modes(a);
	int st;

	if (root)
		assert_int_equal(chmod(t_tmpdir(), 0711), 0);
	else
		set_ipc_modes(a, saved, (mode & 07) * 0111);
	st = t_wait(t_fork(fn, arg), 60);
	if (root)
		assert_int_equal(chmod(t_tmpdir(), 0700), 0);
	else
		set_ipc_modes(a, saved, mode);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("the child that acts as another user failed (wait status %#x)", st);
}

static void test_open_without_permission_fails_with_eacces(void **state)
{
	struct access_case c;
	sma_t *a;

	c.path = t_path("private");
	a = OPEN_OK(sma_open(c.path, SMA_CREATE, ARENA, 0600));
	c.key = sma_key(a);
	c.shmid = sma_shmid(a);
	run_as_other_user(a, 0600, open_without_permission, &c);
	t_destroy(a);
}

static int walk_count(sma_t *a)
{
	int n = 0;
	T_REQUIRE(sma_walk(a, count_in_use, &n) == 0);
	return n;
}

static int read_with_read_permission_only(void *arg)
{
	struct access_case *c = arg;
	struct sma_stats st;
	sma_t *r, *i;

	T_REQUIRE(t_become_nobody() >= 0);
	REQUIRE_OPEN_FAILS(sma_open(c->path, 0, 0, 0), EACCES);
	REQUIRE_OPEN_FAILS(sma_open_id(c->shmid, 0), EACCES);
	r = sma_open(c->path, SMA_RDONLY, 0, 0);
	T_REQUIRE(r != NULL);
	T_REQUIRE(strcmp(sma_ptr(r, c->off), "readable") == 0);
	T_REQUIRE(sma_usable_size(r, c->off) >= 9);
	T_REQUIRE(sma_stats(r, &st) == 0);
	T_REQUIRE_EQ(st.live, 1);
	T_REQUIRE(t_check_report(r) == 0);
	T_REQUIRE_EQ(walk_count(r), 1);
	errno = 0;
	T_REQUIRE(sma_alloc(r, 16) == SMA_NULL && errno == EROFS);
	T_REQUIRE(sma_free(r, c->off) == -1 && errno == EROFS);
	i = sma_open_id(c->shmid, SMA_RDONLY);
	T_REQUIRE(i != NULL);
	T_REQUIRE(strcmp(sma_ptr(i, c->off), "readable") == 0);
	T_REQUIRE(sma_close(i) == 0);
	T_REQUIRE(sma_close(r) == 0);
	return 0;
}

static void test_a_reader_with_read_permission_only_opens_read_only_and_inspects(void **state)
{
	struct access_case c;
	sma_t *a;

	c.path = t_path("readable");
	a = OPEN_OK(sma_open(c.path, SMA_CREATE, ARENA, 0644));
	c.key = sma_key(a);
	c.shmid = sma_shmid(a);
	c.off = sma_alloc(a, 16);
	assert_int_not_equal(c.off, SMA_NULL);
	strcpy(sma_ptr(a, c.off), "readable");
	run_as_other_user(a, 0644, read_with_read_permission_only, &c);
	assert_int_equal(t_stats(a).live, 1);
	assert_int_equal(sma_free(a, c.off), 0);
	t_destroy(a);
}

static void assert_same_counts(struct sma_stats x, struct sma_stats y)
{
	assert_int_equal(x.used, y.used);
	assert_int_equal(x.free, y.free);
	assert_int_equal(x.live, y.live);
	assert_int_equal(x.allocs, y.allocs);
	assert_int_equal(x.frees, y.frees);
}

static void test_a_read_only_handle_refuses_every_change_with_erofs_and_reads(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_t *ro;
	sma_off_t off = sma_alloc(a, 100);
	struct sma_stats before, st;
	int n = 0;

	assert_int_not_equal(off, SMA_NULL);
	t_fill(sma_ptr(a, off), 100, 42);
	ro = OPEN_OK(sma_open_id(sma_shmid(a), SMA_RDONLY));
	t_stats(a);
	before = t_stats(a);

	T_ASSERT_OFF_FAILS(sma_alloc(ro, 16), EROFS);
	T_ASSERT_OFF_FAILS(sma_alloc(ro, 0), EROFS);
	T_ASSERT_OFF_FAILS(sma_calloc(ro, 1, 16), EROFS);
	T_ASSERT_OFF_FAILS(sma_calloc(ro, SIZE_MAX, 2), EROFS);
	T_ASSERT_OFF_FAILS(sma_realloc(ro, off, 200), EROFS);
	T_ASSERT_OFF_FAILS(sma_realloc(ro, SMA_NULL, 10), EROFS);
	T_ASSERT_OFF_FAILS(sma_realloc(ro, off, 0), EROFS);
	T_ASSERT_OFF_FAILS(sma_aligned_alloc(ro, 64, 10), EROFS);
	T_ASSERT_OFF_FAILS(sma_aligned_alloc(ro, 3, 10), EROFS);
	T_ASSERT_INT_FAILS(sma_free(ro, off), EROFS);
	T_ASSERT_INT_FAILS(sma_free(ro, off + 1), EROFS);
	T_ASSERT_INT_FAILS(sma_flush(ro), EROFS);
	T_ASSERT_INT_FAILS(sma_recover(ro), EROFS);
	assert_int_equal(sma_free(ro, SMA_NULL), 0);

	/* Reading works. */
	assert_true(t_verify(sma_ptr(ro, off), 100, 42));
	assert_true(sma_usable_size(ro, off) >= 100);
	assert_int_equal(sma_off(ro, sma_ptr(ro, off)), off);
	st = t_stats(ro);
	assert_same_counts(st, before);
	assert_int_equal(sma_check(ro), 0);
	assert_int_equal(sma_walk(ro, count_in_use, &n), 0);
	assert_int_equal(n, 1);

	/* And nothing changed. */
	assert_same_counts(t_stats(a), before);
	assert_true(sma_usable_size(a, off) >= 100);
	assert_true(t_verify(sma_ptr(a, off), 100, 42));
	t_close(ro);
	assert_int_equal(sma_free(a, off), 0);
	t_destroy(a);
}

/* ---- modes ------------------------------------------------------------------------------ */

static void assert_ipc_modes(sma_t *a, mode_t mode)
{
	assert_int_equal(shm_stat(sma_shmid(a)).shm_perm.mode & 0777, mode);
	assert_int_equal(sem_stat(sma_semid(a)).sem_perm.mode & 0777, mode);
}

static void test_mode_zero_gives_the_segment_and_semaphore_set_mode_0600(void **state)
{
	sma_t *a = OPEN_OK(sma_open_key(IPC_PRIVATE, SMA_CREATE, ARENA, 0));

	assert_ipc_modes(a, 0600);
	t_destroy(a);
}

static void test_the_segment_and_semaphore_set_get_exactly_the_mode_asked(void **state)
{
	static const mode_t modes[] = {0600, 0640, 0604, 0660, 0666};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		sma_t *a = OPEN_OK(sma_open_key(IPC_PRIVATE, SMA_CREATE, ARENA, modes[i]));
		assert_ipc_modes(a, modes[i]);
		t_destroy(a);
	}
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_a_created_path_file_gets_the_mode_less_the_umask(void **state)
{
	mode_t old = umask(027);
	const char *p = t_path("mode-0666");
	const char *q = t_path("mode-0");
	sma_t *a = sma_open(p, SMA_CREATE, ARENA, 0666);
	sma_t *b = a ? sma_open(q, SMA_CREATE, ARENA, 0) : NULL;

	umask(old);
	OPEN_OK(a);
	OPEN_OK(b);
	assert_int_equal(file_mode(p), 0640);
	assert_ipc_modes(a, 0666);
	assert_int_equal(file_mode(q), 0600);
	assert_ipc_modes(b, 0600);
	t_destroy(a);
	t_destroy(b);
}

/* ---- keys, ids, version --------------------------------------------------------------- */

static void test_key_of_a_private_arena_is_ipc_private(void **state)
{
	sma_t *a = t_open_private(ARENA);

	assert_int_equal(sma_key(a), IPC_PRIVATE);
	assert_int_equal(shm_stat(sma_shmid(a)).shm_perm.__key, IPC_PRIVATE);
	t_destroy(a);
}

static void test_key_of_a_path_arena_is_the_ftok_key_of_its_path_and_opens_it(void **state)
{
	const char *p = t_path("keyed");
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	sma_t *k, *i;

	assert_int_equal(sma_key(a), ftok(p, SMA_PROJ_ID));
	assert_int_equal(shm_stat(sma_shmid(a)).shm_perm.__key, sma_key(a));
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
	struct shmid_ds ds = shm_stat(sma_shmid(a));
	struct sma_stats st = t_stats(a);

	assert_int_equal(ds.shm_segsz, (ARENA + 1 + page - 1) / page * page);
	assert_int_equal(st.size, ds.shm_segsz);
	assert_true(st.heap_size > 0 && st.heap_size < st.size);
	assert_int_equal(ds.shm_nattch, 1);
	assert_int_equal(ds.shm_cpid, getpid());
	assert_true(sem_stat(sma_semid(a)).sem_nsems >= 1);
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
	assert_int_equal(t_stats(a).nattch, 1);
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
	assert_int_equal(t_stats(c.a).nattch, 1);
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

	T_REQUIRE(sma_stats(a, &st) == 0);
	T_REQUIRE_EQ(st.nattch, 2);
	c = sma_open_id(sma_shmid(a), 0);
	T_REQUIRE(c != NULL);
	T_REQUIRE(sma_stats(a, &st) == 0);
	T_REQUIRE_EQ(st.nattch, 3);
	T_REQUIRE(sma_close(c) == 0);
	return 0;
}

static void test_nattch_counts_each_handle_and_each_fork_copy(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_t *b;

	assert_int_equal(t_stats(a).nattch, 1);
	b = OPEN_OK(sma_open_id(sma_shmid(a), 0));
	assert_int_equal(t_stats(a).nattch, 2);
	assert_int_equal(t_stats(b).nattch, 2);
	t_close(b);
	assert_int_equal(t_stats(a).nattch, 1);
	t_wait_ok(t_fork(report_nattch, a));
	assert_int_equal(t_stats(a).nattch, 1);
	t_destroy(a);
}

/* ---- many processes creating one arena ----------------------------------------------- */

#define RACERS 8
#define RACE_ROUNDS 4

struct race {
	const char *path;     /* the path all create */
	struct t_gate gate;   /* lets them go together */
	int out;	      /* write end of the pipe for the reports */
};

struct race_report {
	pid_t pid;     /* the child */
	int shmid;     /* the segment it opened */
	sma_off_t off; /* the object it made, holding its pid */
};

static int create_at_once(void *arg)
{
	struct race *r = arg;
	struct race_report rep;
	sma_t *a;

	t_gate_wait(&r->gate);
	a = sma_open(r->path, SMA_CREATE, T_MIB(4), 0600);
	T_REQUIRE(a != NULL);
	rep.pid = getpid();
	rep.shmid = sma_shmid(a);
	rep.off = sma_alloc(a, 64);
	T_REQUIRE(rep.off != SMA_NULL);
	memcpy(sma_ptr(a, rep.off), &rep.pid, sizeof(rep.pid));
	T_REQUIRE(t_write_all(r->out, &rep, sizeof(rep)) == 0);
	T_REQUIRE(sma_close(a) == 0);
	return 0;
}

static void test_eight_processes_creating_one_new_path_at_once_share_one_arena_made_once(
	void **state)
{
	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct race r;
		struct race_report rep[RACERS];
		pid_t pid[RACERS];
		struct sma_stats st;
		int fd[2];
		sma_t *a;

		r.path = t_path("race");
		t_gate_init(&r.gate);
		t_pipe(fd);
		r.out = fd[1];
		for (int i = 0; i < RACERS; i++)
			pid[i] = t_fork(create_at_once, &r);
		close(fd[1]);
		assert_int_equal(t_gate_release(&r.gate, RACERS), RACERS);
		for (int i = 0; i < RACERS; i++)
			assert_int_equal(t_read_all(fd[0], &rep[i], sizeof(rep[i])), 0);
		close(fd[0]);
		for (int i = 0; i < RACERS; i++)
			t_wait_ok(pid[i]);

		a = OPEN_OK(sma_open(r.path, 0, 0, 0));
		st = t_stats(a);
		assert_int_equal(st.live, RACERS);
		assert_int_equal(st.allocs, RACERS);
		assert_int_equal(st.nattch, 1);
		for (int i = 0; i < RACERS; i++) {
			pid_t owner;
			assert_int_equal(rep[i].shmid, sma_shmid(a));
			for (int j = 0; j < i; j++)
				assert_int_not_equal(rep[i].off, rep[j].off);
			memcpy(&owner, sma_ptr(a, rep[i].off), sizeof(owner));
			assert_int_equal(owner, rep[i].pid);
		}
		t_assert_check(a);
		for (int i = 0; i < RACERS; i++)
			assert_int_equal(sma_free(a, rep[i].off), 0);
		t_destroy(a);
	}
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
	assert_int_equal(t_stats(a).nattch, 2);
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
	assert_int_equal(t_stats(b).nattch, 1);
	off = sma_alloc(b, 100);
	assert_int_not_equal(off, SMA_NULL);

	release_survivor(&s, pid);
	assert_false(t_shm_exists(shmid));
	assert_false(t_sem_exists(semid));
	assert_int_equal(t_stats(b).live, 1);
	assert_int_equal(sma_free(b, off), 0);
	t_destroy(b);
}

static int list_slowly(const struct sma_ls_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	usleep(1000);
	return 0;
}

static int lister(void *arg)
{
	sma_t *a = arg;

	/* The inherited handle is closed as a program would; what remains is
	 * a process looking at every arena, as sma ls does. */
	T_REQUIRE(sma_close(a) == 0);
	T_REQUIRE(sma_ls(list_slowly, NULL) == 0);
	return 0;
}

static void test_an_arena_destroyed_while_another_process_lists_arenas_leaves_no_semaphore_set(void **state)
{
	(void)state;
	for (int round = 0; round < 40; round++) {
		sma_t *a = t_open_private(SMA_MIN_SIZE);
		int semid = sma_semid(a);
		pid_t pid = t_fork(lister, a);

		usleep((useconds_t)(round % 7) * 300);
		t_destroy(a);
		t_wait_ok(pid);
		assert_false(t_sem_exists(semid));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_an_arena_destroyed_while_another_process_lists_arenas_leaves_no_semaphore_set),
		T_TEST(test_open_of_a_missing_path_without_create_fails_with_enoent),
		T_TEST(test_open_of_a_file_with_no_arena_without_create_fails_with_enoent),
		T_TEST(test_open_id_of_an_id_that_names_no_segment_fails_with_einval_or_enoent),
		T_TEST(test_create_excl_of_an_existing_arena_fails_with_eexist),
		T_TEST(test_create_excl_of_a_key_held_by_a_foreign_segment_fails_with_eexist),
		T_TEST(test_open_of_a_null_path_fails_with_einval),
		T_TEST(test_open_with_unknown_flags_fails_with_einval_and_creates_nothing),
		T_TEST(test_create_with_a_size_below_the_minimum_fails_with_einval),
		T_TEST(test_create_excl_with_a_size_below_the_minimum_fails_with_einval_before_anything_else),
		T_TEST(test_open_of_an_existing_arena_ignores_the_size_argument),
		T_TEST(test_create_larger_than_the_system_allows_fails_with_einval),
		T_TEST(test_open_of_a_foreign_segment_fails_with_eproto_and_leaves_it_untouched),
		T_TEST(test_open_of_a_zero_filled_segment_without_the_mark_fails_with_eproto),
		T_TEST(test_open_of_a_path_whose_key_holds_an_arena_made_for_no_path_fails_with_eproto),
		T_TEST(test_open_through_a_hard_link_reaches_the_same_arena),
		T_TEST(test_open_without_permission_fails_with_eacces),
		T_TEST(test_a_reader_with_read_permission_only_opens_read_only_and_inspects),
		T_TEST(test_a_read_only_handle_refuses_every_change_with_erofs_and_reads),
		T_TEST(test_mode_zero_gives_the_segment_and_semaphore_set_mode_0600),
		T_TEST(test_the_segment_and_semaphore_set_get_exactly_the_mode_asked),
		T_TEST(test_a_created_path_file_gets_the_mode_less_the_umask),
		T_TEST(test_key_of_a_private_arena_is_ipc_private),
		T_TEST(test_key_of_a_path_arena_is_the_ftok_key_of_its_path_and_opens_it),
		T_TEST(test_shmid_names_a_segment_of_the_size_asked_rounded_up_to_pages),
		T_TEST(test_version_is_the_version_of_the_header),
		T_TEST(test_a_private_arena_is_reached_by_id_from_another_process),
		T_TEST(test_a_child_after_fork_keeps_using_the_parents_handle),
		T_TEST(test_nattch_counts_each_handle_and_each_fork_copy),
		T_TEST(test_eight_processes_creating_one_new_path_at_once_share_one_arena_made_once),
		T_TEST(test_close_leaves_the_arena_for_others_to_open),
		T_TEST(test_destroy_with_nobody_else_attached_removes_segment_and_semaphores),
		T_TEST(test_destroy_makes_the_arena_unreachable_while_attached_processes_keep_working),
		T_TEST(test_create_after_destroy_makes_a_new_arena_while_the_old_one_is_in_use),
	};
	return T_RUN_GROUP(tests);
}
