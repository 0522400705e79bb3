/*
 * tests/test_perms.c -- what the System V objects allow, and segments that
 * are not arenas: callers without permission (EACCES), a reader with read
 * permission only, read-only handles (EROFS), the modes a segment and its
 * semaphore set get, segments that are not arenas or not this build's, an
 * arena whose magic or layout version is wrong, and an arena made for
 * another path with the same ftok key (EPROTO).  Each bad input gets the
 * errno API.md names, and changes nothing (the digest of digest.h).
 *
 * The number of bad inputs tried is printed at the end as a TAP comment.
 */
#define _GNU_SOURCE
#include "common.h"
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#define ARENA T_MIB(1)	/* bytes of the arenas here */
#define LAYOUT_AT 8	/* offset of the header's u32 layout version */

/* glibc leaves union semun to the caller. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

/* ---- helpers ------------------------------------------------------------ */

/* The call returns NULL with errno e: in a child, which may not use the
 * cmocka assertions. */
#define REQUIRE_OPEN_FAILS(call, e)                                      \
	do {                                                             \
		errno = 0;                                               \
		sma_t *a_ = (call);                                      \
		int e_ = errno;                                          \
		T_REQUIRE(a_ == NULL);                                   \
		errno = e_;                                              \
		T_REQUIRE_EQ(e_, (e));                                   \
	} while (0)

/* The permission bits of an arena's segment and semaphore set, as saved
 * before they are changed (IPC_STAT needs read permission, IPC_SET only
 * ownership). */
struct ipc_modes {
	struct shmid_ds shm;
	struct semid_ds sem;
};

static struct ipc_modes get_ipc_modes(sma_t *a)
{
	struct ipc_modes m = {t_shm_stat(sma_shmid(a)), t_sem_stat(sma_semid(a))};
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

static int count_in_use(sma_off_t off, size_t size, int in_use, void *arg)
{
	(void)off;
	(void)size;
	*(int *)arg += in_use;
	return 0;
}

/* ---- segments that are not arenas, or not this build's ------------------------ */

/* A segment that is not an arena, on key, filled with the pattern of seed
 * (or left zero when seed is 0); returns its id. */
static int make_segment(key_t key, uint64_t seed)
{
	int id = shmget(key, ARENA, IPC_CREAT | IPC_EXCL | 0600);
	void *p;

	if (id < 0)
		fail_msg("shmget: %s", strerror(errno));
	t_track_shmid(id);
	if (seed) {
		p = shmat(id, NULL, 0);
		assert_true(p != (void *)-1);
		t_fill(p, ARENA, seed);
		assert_int_equal(shmdt(p), 0);
	}
	return id;
}

/* The segment still holds the pattern of seed (zero if 0) and nobody is
 * attached. */
static void assert_segment_untouched(int id, uint64_t seed)
{
	struct shmid_ds ds;
	unsigned char *p;

	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(ds.shm_nattch, 0);
	p = shmat(id, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	if (seed) {
		assert_true(t_verify(p, ARENA, seed));
	} else {
		for (size_t i = 0; i < ARENA; i++)
			if (p[i])
				fail_msg("byte %zu of the zero-filled segment became %u", i, p[i]);
	}
	assert_int_equal(shmdt(p), 0);
}

static void test_a_segment_whose_magic_is_wrong_is_refused_with_eproto_and_left_untouched(
	void **state)
{
	const char *p = t_path("not-an-arena");
	key_t key;
	int id, made;

	(void)state;
	t_make_file(p, 0600);
	key = t_path_key(p);
	id = make_segment(key, 0xbadc0ffee);
	made = t_ipc_count();
	BAD_OPEN(sma_open(p, 0, 0, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_RDONLY, 0, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	BAD_OPEN(sma_open_key(key, 0, 0, 0), EPROTO);
	BAD_OPEN(sma_open_key(key, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open_key(key, SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	BAD_OPEN(sma_open_id(id, 0), EPROTO);
	BAD_OPEN(sma_open_id(id, SMA_RDONLY), EPROTO);
	assert_int_equal(t_ipc_count(), made); /* no segment or set was made */
	assert_segment_untouched(id, 0xbadc0ffee);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
}

static void test_open_of_a_zero_filled_segment_without_the_mark_fails_with_eproto(void **state)
{
	const char *p = t_path("zero");
	key_t key;
	int id, made;

	(void)state;
	t_make_file(p, 0600);
	key = t_path_key(p);
	id = make_segment(key, 0);
	made = t_ipc_count();
	BAD_OPEN(sma_open(p, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open_key(ftok(p, SMA_PROJ_ID), 0, 0, 0), EPROTO);
	assert_int_equal(t_ipc_count(), made);
	assert_segment_untouched(id, 0);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
}

static void test_a_segment_too_small_for_an_arena_is_refused_with_eproto(void **state)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	unsigned char *p;

	(void)state;
	assert_true(id >= 0);
	t_track_shmid(id);
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	memset(p, 0x5a, 4096);
	BAD_OPEN(sma_open_id(id, 0), EPROTO);
	BAD_OPEN(sma_open_id(id, SMA_RDONLY), EPROTO);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0x5a);
	assert_int_equal(shmdt(p), 0);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
}

/* Scribbles len bytes at off of the segment of id; saves what was there. */
static void scribble(int id, size_t off, const void *bytes, size_t len, void *saved)
{
	unsigned char *p = shmat(id, NULL, 0);

	assert_true(p != (void *)-1);
	if (saved)
		memcpy(saved, p + off, len);
	memcpy(p + off, bytes, len);
	assert_int_equal(shmdt(p), 0);
}

/* A copy of the whole segment of id. */
static unsigned char *segment_copy(int id)
{
	unsigned char *p = shmat(id, NULL, SHM_RDONLY), *c;
	struct shmid_ds ds;

	assert_true(p != (void *)-1);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	c = malloc(ds.shm_segsz);
	assert_non_null(c);
	memcpy(c, p, ds.shm_segsz);
	assert_int_equal(shmdt(p), 0);
	return c;
}

static void assert_segment_equals(int id, const unsigned char *copy)
{
	unsigned char *p = shmat(id, NULL, SHM_RDONLY);
	struct shmid_ds ds;

	assert_true(p != (void *)-1);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	for (size_t i = 0; i < ds.shm_segsz; i++)
		if (p[i] != copy[i])
			fail_msg("byte %zu of the segment changed: %#x -> %#x", i, copy[i], p[i]);
	assert_int_equal(shmdt(p), 0);
}

static void test_an_arena_whose_magic_is_scribbled_is_refused_with_eproto_and_left_untouched(
	void **state)
{
	const char *p = t_path("scribbled-magic");
	struct population pop;
	struct digest before;
	unsigned char saved[8], junk[8] = {'N', 'O', 'T', ' ', 'S', 'M', 'A', '!'};
	unsigned char *copy;
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	int id = sma_shmid(a);

	(void)state;
	populate(a, &pop);
	before = digest_of(a);
	t_close(a);
	scribble(id, 0, junk, sizeof(junk), saved);
	copy = segment_copy(id);
	BAD_OPEN(sma_open(p, 0, 0, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_RDONLY, 0, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open_id(id, 0), EPROTO);
	BAD_OPEN(sma_open_id(id, SMA_RDONLY), EPROTO);
	assert_segment_equals(id, copy);
	free(copy);
	scribble(id, 0, saved, sizeof(saved), NULL);
	a = OPEN_OK(sma_open(p, 0, 0, 0));
	assert_unchanged(a, &before, "opens of an arena with a scribbled magic");
	free_all(a);
	t_destroy(a);
}

static void test_an_arena_of_another_layout_version_is_refused_with_eproto_and_left_untouched(
	void **state)
{
	static const uint32_t versions[] = {0, 2, 0x100, 0xffffffffu};
	const char *p = t_path("other-layout");
	struct population pop;
	struct digest before;
	uint32_t saved, v;
	unsigned char *copy;
	sma_t *a = OPEN_OK(sma_open(p, SMA_CREATE, ARENA, 0));
	int id = sma_shmid(a);
	struct sma_info in;

	(void)state;
	assert_int_equal(sma_info(a, &in), 0);
	populate(a, &pop);
	before = digest_of(a);
	t_close(a);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		v = versions[i] == in.layout_version ? versions[i] + 1 : versions[i];
		scribble(id, LAYOUT_AT, &v, sizeof(v), &saved);
		assert_int_equal(saved, in.layout_version);
		copy = segment_copy(id);
		BAD_OPEN(sma_open(p, 0, 0, 0), EPROTO);
		BAD_OPEN(sma_open(p, SMA_RDONLY, 0, 0), EPROTO);
		BAD_OPEN(sma_open(p, SMA_CREATE, ARENA, 0), EPROTO);
		BAD_OPEN(sma_open_key(t_path_key(p), 0, 0, 0), EPROTO);
		BAD_OPEN(sma_open_id(id, 0), EPROTO);
		BAD_OPEN(sma_open_id(id, SMA_RDONLY), EPROTO);
		assert_segment_equals(id, copy);
		free(copy);
		scribble(id, LAYOUT_AT, &saved, sizeof(saved), NULL);
	}
	a = OPEN_OK(sma_open(p, 0, 0, 0));
	assert_unchanged(a, &before, "opens of an arena of another layout version");
	free_all(a);
	t_destroy(a);
}

/*
 * Two paths with one ftok key: ftok keeps 16 bits of the inode and 8 of
 * the device, so on a tmpfs, whose inode numbers count up, a file made
 * and removed until its inode matches another's modulo 65536 shares that
 * file's key.  Where such a file can be had, the arena of one is opened
 * through the other; and always, an arena made by key (it records no path)
 * is opened through the path whose key it has.
 */
static char collide_dir[256];

static int remove_collide_dir(void **state)
{
	char p[320];

	if (collide_dir[0]) {
		snprintf(p, sizeof(p), "%s/a", collide_dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/b", collide_dir);
		unlink(p);
		rmdir(collide_dir);
		collide_dir[0] = '\0';
	}
	return t_test_teardown(state);
}

/* Makes dir/a and dir/b with one ftok key; 1 on success. */
static int make_colliding_paths(const char *base, char *pa, char *pb, size_t n)
{
	struct statfs fs;
	struct stat sa, sb;

	if (statfs(base, &fs) != 0 || fs.f_type != TMPFS_MAGIC)
		return 0;
	snprintf(collide_dir, sizeof(collide_dir), "%s/sma-collide-XXXXXX", base);
	if (!mkdtemp(collide_dir)) {
		collide_dir[0] = '\0';
		return 0;
	}
	snprintf(pa, n, "%s/a", collide_dir);
	snprintf(pb, n, "%s/b", collide_dir);
	t_make_file(pa, 0600);
	assert_int_equal(stat(pa, &sa), 0);
	for (long i = 0; i < 300000; i++) {
		int fd = open(pb, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0 || fstat(fd, &sb) != 0)
			fail_msg("making %s: %s", pb, strerror(errno));
		close(fd);
		if (sb.st_ino != sa.st_ino && (sb.st_ino & 0xffff) == (sa.st_ino & 0xffff) &&
		    sb.st_dev == sa.st_dev)
			return ftok(pa, SMA_PROJ_ID) == ftok(pb, SMA_PROJ_ID);
		unlink(pb);
	}
	return 0;
}

/* Opens through pb, which a was not made for, and fails; a is unchanged. */
static void refuse_through(sma_t *a, const char *pb, const char *what)
{
	struct population pop;
	struct digest before;

	populate(a, &pop);
	before = digest_of(a);
	BAD_OPEN(sma_open(pb, 0, 0, 0), EPROTO);
	BAD_OPEN(sma_open(pb, SMA_RDONLY, 0, 0), EPROTO);
	BAD_OPEN(sma_open(pb, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open(pb, SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	assert_unchanged(a, &before, what);
}

static void test_an_arena_made_for_another_path_with_the_same_key_is_refused_with_eproto(
	void **state)
{
	char pa[320], pb[320];
	const char *pk = t_path("made-by-key");
	sma_t *a, *again;
	int real = make_colliding_paths("/dev/shm", pa, pb, sizeof(pa));

	(void)state;
	if (real) {
		/* The arena is a's; b has the same key. */
		t_track_key(ftok(pa, SMA_PROJ_ID));
		a = OPEN_OK(sma_open(pa, SMA_CREATE, ARENA, 0));
		refuse_through(a, pb, "opens through a path the arena was not made for");
		again = OPEN_OK(sma_open(pa, 0, 0, 0));
		assert_int_equal(sma_shmid(again), sma_shmid(a));
		t_close(again);
		free_all(a);
		t_destroy(a);
	}
	/* Made by key, the arena is no path's; by its key, it opens. */
	t_make_file(pk, 0600);
	a = OPEN_OK(sma_open_key(t_path_key(pk), SMA_CREATE, ARENA, 0));
	refuse_through(a, pk, "opens through the path of the key of an arena made by key");
	again = OPEN_OK(sma_open_key(sma_key(a), 0, 0, 0));
	assert_int_equal(sma_shmid(again), sma_shmid(a));
	t_close(again);
	printf("# another path with the same key: %s\n",
	       real ? "a real ftok collision on tmpfs, and an arena made by key, opened by path" :
		      "an arena made by key, opened by path");
	free_all(a);
	t_destroy(a);
}

/* ---- permission --------------------------------------------------------------- */

struct access_case {
	const char *path; /* the arena's path */
	key_t key;	  /* its key */
	int shmid;	  /* its segment */
	sma_off_t off;	  /* an object holding a string */
};

#define NOBODY_TRIES 6

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

static void test_a_caller_without_permission_fails_with_eacces_and_changes_nothing(void **state)
{
	static const mode_t modes[] = {0600, 0640, 0660};

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct access_case c;
		struct population pop;
		struct digest before;
		sma_t *a;

		c.path = t_path("private");
		a = OPEN_OK(sma_open(c.path, SMA_CREATE, ARENA, modes[i]));
		c.key = sma_key(a);
		c.shmid = sma_shmid(a);
		populate(a, &pop);
		before = digest_of(a);
		run_as_other_user(a, modes[i], open_without_permission, &c);
		n_bad += NOBODY_TRIES;
		assert_unchanged(a, &before, "opens without permission");
		free_all(a);
		t_destroy(a);
	}
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

/* ---- a read-only handle ------------------------------------------------------------- */

static int count_each(const char *name, sma_off_t off, size_t size, void *arg)
{
	(void)name;
	(void)off;
	(void)size;
	(*(int *)arg)++;
	return 0;
}

static void test_a_read_only_handle_refuses_every_change_with_erofs_and_changes_nothing(
	void **state)
{
	sma_t *a = t_open_private(ARENA);
	struct population pop;
	struct digest before;
	sma_t *ro;
	struct sma_stats st;
	int n = 0, created = 0;

	(void)state;
	populate(a, &pop);
	ro = OPEN_OK(sma_open_id(sma_shmid(a), SMA_RDONLY));
	before = digest_of(a);

	BAD_OFF(sma_alloc(ro, 16), EROFS);
	BAD_OFF(sma_alloc(ro, 1000), EROFS);
	BAD_OFF(sma_alloc(ro, T_KIB(200)), EROFS);
	BAD_OFF(sma_alloc(ro, 0), EROFS);
	BAD_OFF(sma_alloc(ro, SIZE_MAX), EROFS);
	BAD_OFF(sma_calloc(ro, 4, 16), EROFS);
	BAD_OFF(sma_calloc(ro, SIZE_MAX, 2), EROFS);
	BAD_OFF(sma_realloc(ro, pop.small, 32), EROFS);
	BAD_OFF(sma_realloc(ro, pop.medium, 5000), EROFS);
	BAD_OFF(sma_realloc(ro, pop.large, 10), EROFS);
	BAD_OFF(sma_realloc(ro, pop.small, 0), EROFS);
	BAD_OFF(sma_realloc(ro, SMA_NULL, 10), EROFS);
	BAD_OFF(sma_realloc(ro, pop.small + 1, 10), EROFS);
	BAD_OFF(sma_realloc(ro, pop.named, 10), EROFS);
	BAD_OFF(sma_aligned_alloc(ro, 64, 10), EROFS);
	BAD_OFF(sma_aligned_alloc(ro, 4096, 10), EROFS);
	BAD_OFF(sma_aligned_alloc(ro, 3, 10), EROFS);
	BAD_INT(sma_free(ro, pop.small), EROFS);
	BAD_INT(sma_free(ro, pop.medium), EROFS);
	BAD_INT(sma_free(ro, pop.large), EROFS);
	BAD_INT(sma_free(ro, pop.named), EROFS);
	BAD_INT(sma_free(ro, pop.small + 8), EROFS);
	BAD_INT(sma_free(ro, pop.small + 1), EROFS);
	BAD_INT(sma_free(ro, UINT64_MAX), EROFS);
	BAD_OFF(sma_named_alloc(ro, "bad-input-named", 10, &created), EROFS);
	BAD_OFF(sma_named_alloc(ro, "a new name", 10, &created), EROFS);
	BAD_OFF(sma_named_alloc(ro, NULL, 10, &created), EROFS);
	BAD_OFF(sma_named_alloc(ro, "", 10, &created), EROFS);
	BAD_INT(sma_named_free(ro, "bad-input-named"), EROFS);
	BAD_INT(sma_named_free(ro, "no such name"), EROFS);
	BAD_INT(sma_named_free(ro, NULL), EROFS);
	BAD_INT(sma_flush(ro), EROFS);
	BAD_INT(sma_recover(ro), EROFS);
	BAD_INT(sma_destroy(ro), EROFS);
	assert_int_equal(sma_free(ro, SMA_NULL), 0); /* changes nothing */
	n_bad++;

	/* What does not change the arena works. */
	assert_true(t_verify(sma_ptr(ro, pop.large), T_KIB(200), 3));
	assert_true(sma_usable_size(ro, pop.medium) >= 1000);
	assert_int_equal(sma_off(ro, sma_ptr(ro, pop.medium)), pop.medium);
	assert_int_equal(sma_named_find(ro, "bad-input-named"), pop.named);
	assert_int_equal(sma_named_each(ro, count_each, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sma_stats(ro, &st), 0);
	assert_int_equal(st.live, before.st.live);
	assert_int_equal(sma_check(ro), 0);
	assert_unchanged(ro, &before, "changing calls on a read-only handle");
	assert_unchanged(a, &before, "changing calls on a read-only handle");
	t_close(ro);
	free_all(a);
	t_destroy(a);
}

/* ---- modes -------------------------------------------------------------------------------------- */

static void assert_modes(sma_t *a, mode_t want)
{
	struct shmid_ds shm;
	struct semid_ds sem;
	union semun u = {.buf = &sem};

	assert_int_equal(shmctl(sma_shmid(a), IPC_STAT, &shm), 0);
	assert_int_equal(semctl(sma_semid(a), 0, IPC_STAT, u), 0);
	if ((shm.shm_perm.mode & 0777) != want || (sem.sem_perm.mode & 0777) != want)
		fail_msg("asked %04o: the segment got %04o, the semaphore set %04o", (unsigned)want,
			 shm.shm_perm.mode & 0777, sem.sem_perm.mode & 0777);
}

static void test_segments_and_semaphore_sets_get_exactly_the_mode_asked(void **state)
{
	static const mode_t modes[] = {0, 0600, 0640, 0644, 0660, 0604, 0666};
	static const mode_t umasks[] = {077, 027};

	(void)state;
	for (size_t m = 0; m < sizeof(umasks) / sizeof(umasks[0]); m++) {
		mode_t old = umask(umasks[m]);

		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
			mode_t want = modes[i] ? modes[i] : 0600;
			const char *p = t_path("mode");
			sma_t *a = sma_open_key(IPC_PRIVATE, SMA_CREATE, ARENA, modes[i]);
			sma_t *b = a ? sma_open(p, SMA_CREATE, ARENA, modes[i]) : NULL;
			struct stat st;

			if (!a || !b) {
				umask(old);
				fail_msg("creating arenas of mode %04o: %s", (unsigned)modes[i],
					 strerror(errno));
			}
			t_track(a);
			t_track(b);
			/* The umask has no say over the System V objects... */
			assert_modes(a, want);
			assert_modes(b, want);
			/* ...but the path's file is made as open(2) would: less the
			 * umask. */
			assert_int_equal(stat(p, &st), 0);
			assert_int_equal(st.st_mode & 07777, want & ~umasks[m]);
			t_destroy(a);
			t_destroy(b);
		}
		umask(old);
	}
}

/* A marked header that is not ready and whose init lock nobody holds is
 * what a creator that died in the middle leaves: a read-only open cannot
 * take the init lock (it is a store into a read-only attachment) and must
 * say EPROTO, not fault.  The copy of a real arena has its init word (the
 * u32 after the layout word, bytes 12..15 of the header) cleared. */
static void test_a_read_only_open_of_a_half_initialised_arena_fails_with_eproto_without_a_store(void **state)
{
	sma_t *a = t_open_private(SMA_MIN_SIZE);
	int id = shmget(IPC_PRIVATE, SMA_MIN_SIZE, IPC_CREAT | 0600);
	unsigned char *src, *dst;

	(void)state;
	assert_true(id >= 0);
	t_track_shmid(id);
	src = shmat(sma_shmid(a), NULL, SHM_RDONLY);
	dst = shmat(id, NULL, 0);
	assert_true(src != (void *)-1 && dst != (void *)-1);
	memcpy(dst, src, SMA_MIN_SIZE);
	memset(dst + 12, 0, 4);
	shmdt(src);
	shmdt(dst);
	errno = 0;
	assert_null(sma_open_id(id, SMA_RDONLY));
	assert_int_equal(errno, EPROTO);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_segment_whose_magic_is_wrong_is_refused_with_eproto_and_left_untouched),
		T_TEST(test_open_of_a_zero_filled_segment_without_the_mark_fails_with_eproto),
		T_TEST(test_a_segment_too_small_for_an_arena_is_refused_with_eproto),
		T_TEST(test_an_arena_whose_magic_is_scribbled_is_refused_with_eproto_and_left_untouched),
		T_TEST(test_an_arena_of_another_layout_version_is_refused_with_eproto_and_left_untouched),
		cmocka_unit_test_setup_teardown(
			test_an_arena_made_for_another_path_with_the_same_key_is_refused_with_eproto,
			t_test_setup, remove_collide_dir),
		T_TEST(test_a_caller_without_permission_fails_with_eacces_and_changes_nothing),
		T_TEST(test_a_reader_with_read_permission_only_opens_read_only_and_inspects),
		T_TEST(test_a_read_only_handle_refuses_every_change_with_erofs_and_changes_nothing),
		T_TEST(test_segments_and_semaphore_sets_get_exactly_the_mode_asked),
		T_TEST(test_a_read_only_open_of_a_half_initialised_arena_fails_with_eproto_without_a_store),
	};
	int rc = T_RUN_GROUP(tests);

	printf("# bad inputs tried: %ld\n", n_bad);
	return rc;
}
