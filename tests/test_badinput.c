/*
 * tests/test_badinput.c -- bad input of every kind: each gets the errno
 * API.md names, and nothing changes.
 *
 * "Nothing changes" is checked by a digest taken before and after: the
 * figures of sma_stats, the live objects (offset and size, by sma_walk),
 * their contents, and the named objects (name, offset, size); and by
 * sma_check.  The inputs: segments that are not arenas or whose magic or
 * layout version is wrong, an arena made for another path with the same
 * ftok key, a caller without permission, a read-only handle, a full arena,
 * offsets that are not live objects, bad names, and the semaphore set
 * removed under a running arena.  Last, the modes: a segment and its
 * semaphore set get exactly the mode asked.
 *
 * The number of bad inputs tried is printed at the end as a TAP comment.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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

static long n_bad; /* bad inputs tried */

#define BAD_OFF(call, e)                         \
	do {                                     \
		n_bad++;                         \
		T_ASSERT_OFF_FAILS(call, e);     \
	} while (0)
#define BAD_INT(call, e)                         \
	do {                                     \
		n_bad++;                         \
		T_ASSERT_INT_FAILS(call, e);     \
	} while (0)

static void bad_open(sma_t *got, int err, int want, const char *call)
{
	n_bad++;
	if (got) {
		t_track(got);
		fail_msg("%s succeeded; expected it to fail with %s", call, strerror(want));
	}
	if (err != want)
		fail_msg("%s failed with errno %d (%s); expected %d (%s)", call, err,
			 strerror(err), want, strerror(want));
}
#define BAD_OPEN(call, e)                                      \
	do {                                                   \
		errno = 0;                                     \
		sma_t *b__ = (call);                           \
		bad_open(b__, errno, (e), #call);              \
	} while (0)

static void make_file(const char *path, mode_t mode)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

	if (fd < 0)
		fail_msg("creating %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- the digest ------------------------------------------------------------ */

struct digest {
	struct sma_stats st;
	uint64_t objects;  /* (offset, size) of every live object */
	uint64_t contents; /* their bytes */
	uint64_t names;	   /* (name, offset, size) of every named object */
	uint64_t n;	   /* live objects walked */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

struct digest_walk {
	sma_t *a;
	struct digest *d;
};

static int digest_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct digest_walk *w = arg;

	if (!in_use)
		return 0;
	w->d->objects = fnv(w->d->objects, &off, sizeof(off));
	w->d->objects = fnv(w->d->objects, &size, sizeof(size));
	w->d->contents = fnv(w->d->contents, sma_ptr(w->a, off), size);
	w->d->n++;
	return 0;
}

static int digest_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	struct digest *d = arg;

	d->names = fnv(d->names, name, strlen(name) + 1);
	d->names = fnv(d->names, &off, sizeof(off));
	d->names = fnv(d->names, &size, sizeof(size));
	return 0;
}

/* The digest of a, read through handle r (a itself, or a read-only handle
 * when a's lock is gone). */
static struct digest digest_of(sma_t *r)
{
	struct digest d;
	struct digest_walk w = {r, &d};

	memset(&d, 0, sizeof(d));
	d.objects = d.contents = d.names = 0xcbf29ce484222325ull;
	t_stats(r); /* settles the caches of this thread and of the dead */
	d.st = t_stats(r);
	assert_int_equal(sma_walk(r, digest_visit, &w), 0);
	assert_int_equal(sma_named_each(r, digest_name, &d), 0);
	return d;
}

static void assert_unchanged(sma_t *r, const struct digest *before, const char *after_what)
{
	struct digest d = digest_of(r);
	const struct sma_stats *x = &before->st, *y = &d.st;

	if (x->size != y->size || x->heap_size != y->heap_size || x->used != y->used ||
	    x->free != y->free || x->largest_free != y->largest_free || x->live != y->live ||
	    x->allocs != y->allocs || x->frees != y->frees)
		fail_msg("after %s the stats changed: used %zu -> %zu, free %zu -> %zu, "
			 "largest_free %zu -> %zu, live %llu -> %llu, allocs %llu -> %llu, "
			 "frees %llu -> %llu",
			 after_what, x->used, y->used, x->free, y->free, x->largest_free,
			 y->largest_free, (unsigned long long)x->live, (unsigned long long)y->live,
			 (unsigned long long)x->allocs, (unsigned long long)y->allocs,
			 (unsigned long long)x->frees, (unsigned long long)y->frees);
	if (before->objects != d.objects || before->n != d.n)
		fail_msg("after %s the live objects changed (%llu before, %llu after)", after_what,
			 (unsigned long long)before->n, (unsigned long long)d.n);
	if (before->contents != d.contents)
		fail_msg("after %s the contents of live objects changed", after_what);
	if (before->names != d.names)
		fail_msg("after %s the named objects changed", after_what);
	t_assert_check(r);
}

/* Some objects of every kind, filled with patterns. */
struct population {
	sma_off_t small, medium, large, named;
};

static void populate(sma_t *a, struct population *p)
{
	p->small = t_alloc_ok(a, 64);
	p->medium = t_alloc_ok(a, 1000);
	p->large = t_alloc_ok(a, T_KIB(200));
	p->named = sma_named_alloc(a, "bad-input-named", 300, NULL);
	assert_int_not_equal(p->named, SMA_NULL);
	t_fill(sma_ptr(a, p->small), 64, 1);
	t_fill(sma_ptr(a, p->medium), 1000, 2);
	t_fill(sma_ptr(a, p->large), T_KIB(200), 3);
	t_fill(sma_ptr(a, p->named), 300, 4);
}

static int free_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	sma_off_t *list = arg;

	(void)size;
	if (in_use && list[0] < 1023)
		list[++list[0]] = off;
	return 0;
}

static char names[16][SMA_NAME_MAX + 1];
static int n_names;

static int collect_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	(void)off;
	(void)size;
	(void)arg;
	if (n_names < 16)
		snprintf(names[n_names++], sizeof(names[0]), "%s", name);
	return 0;
}

/* Frees everything and checks the arena is as fresh. */
static void free_all(sma_t *a)
{
	static sma_off_t list[1024];
	struct sma_stats st;

	n_names = 0;
	assert_int_equal(sma_named_each(a, collect_name, NULL), 0);
	for (int i = 0; i < n_names; i++)
		assert_int_equal(sma_named_free(a, names[i]), 0);
	list[0] = 0;
	assert_int_equal(sma_walk(a, free_visit, list), 0);
	for (sma_off_t i = 1; i <= list[0]; i++)
		assert_int_equal(sma_free(a, list[i]), 0);
	assert_int_equal(sma_flush(a), 0);
	st = t_stats(a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.free, st.heap_size);
	assert_int_equal(st.largest_free, st.heap_size);
}

/* ---- segments that are not arenas, or not this build's ------------------------ */

static int make_segment(key_t key, uint64_t seed)
{
	int id = shmget(key, ARENA, IPC_CREAT | IPC_EXCL | 0600);
	void *p;

	if (id < 0)
		fail_msg("shmget: %s", strerror(errno));
	t_track_shmid(id);
	p = shmat(id, NULL, 0);
	assert_true(p != (void *)-1);
	t_fill(p, ARENA, seed);
	assert_int_equal(shmdt(p), 0);
	return id;
}

/* The segment still holds the pattern of seed and nobody is attached. */
static void assert_segment_untouched(int id, uint64_t seed)
{
	struct shmid_ds ds;
	void *p;

	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(ds.shm_nattch, 0);
	p = shmat(id, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	assert_true(t_verify(p, ARENA, seed));
	assert_int_equal(shmdt(p), 0);
}

static void test_a_segment_whose_magic_is_wrong_is_refused_with_eproto_and_left_untouched(
	void **state)
{
	const char *p = t_path("not-an-arena");
	key_t key;
	int id;

	(void)state;
	make_file(p, 0600);
	key = t_path_key(p);
	id = make_segment(key, 0xbadc0ffee);
	BAD_OPEN(sma_open(p, 0, 0, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_RDONLY, 0, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open(p, SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	BAD_OPEN(sma_open_key(key, 0, 0, 0), EPROTO);
	BAD_OPEN(sma_open_key(key, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open_id(id, 0), EPROTO);
	BAD_OPEN(sma_open_id(id, SMA_RDONLY), EPROTO);
	assert_segment_untouched(id, 0xbadc0ffee);
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
 * file's key.  Where no such file can be had, the arena made for another
 * path is one made by key (it records no path).
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
	make_file(pa, 0600);
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

static void test_an_arena_made_for_another_path_with_the_same_key_is_refused_with_eproto(
	void **state)
{
	char pa[320], pb[320];
	struct population pop;
	struct digest before;
	sma_t *a, *again;
	int real = make_colliding_paths("/dev/shm", pa, pb, sizeof(pa));

	(void)state;
	if (real) {
		/* The arena is a's; b has the same key. */
		t_track_key(ftok(pa, SMA_PROJ_ID));
		a = OPEN_OK(sma_open(pa, SMA_CREATE, ARENA, 0));
	} else {
		snprintf(pb, sizeof(pb), "%s", t_path("made-by-key"));
		make_file(pb, 0600);
		a = OPEN_OK(sma_open_key(t_path_key(pb), SMA_CREATE, ARENA, 0));
	}
	populate(a, &pop);
	before = digest_of(a);
	BAD_OPEN(sma_open(pb, 0, 0, 0), EPROTO);
	BAD_OPEN(sma_open(pb, SMA_RDONLY, 0, 0), EPROTO);
	BAD_OPEN(sma_open(pb, SMA_CREATE, ARENA, 0), EPROTO);
	BAD_OPEN(sma_open(pb, SMA_CREATE | SMA_EXCL, ARENA, 0), EEXIST);
	assert_unchanged(a, &before, "opens through a path the arena was not made for");
	if (real) {
		again = OPEN_OK(sma_open(pa, 0, 0, 0));
		assert_int_equal(sma_shmid(again), sma_shmid(a));
		t_close(again);
	}
	printf("# another path with the same key: %s\n",
	       real ? "a real ftok collision on tmpfs" : "an arena made by key, opened by path");
	free_all(a);
	t_destroy(a);
}

/* ---- permission --------------------------------------------------------------- */

struct access_case {
	const char *path;
	key_t key;
	int shmid;
};

#define NOBODY_TRIES 6

static int open_without_permission(void *arg)
{
	struct access_case *c = arg;
	int e;

	T_REQUIRE(t_become_nobody() >= 0);
#define REQUIRE_EACCES(call)                                      \
	do {                                                      \
		errno = 0;                                        \
		sma_t *r__ = (call);                              \
		e = errno;                                        \
		T_REQUIRE(r__ == NULL);                           \
		errno = e;                                        \
		T_REQUIRE_EQ(e, EACCES);                          \
	} while (0)
	REQUIRE_EACCES(sma_open(c->path, 0, 0, 0));
	REQUIRE_EACCES(sma_open(c->path, SMA_RDONLY, 0, 0));
	REQUIRE_EACCES(sma_open(c->path, SMA_CREATE, ARENA, 0));
	REQUIRE_EACCES(sma_open_key(c->key, 0, 0, 0));
	REQUIRE_EACCES(sma_open_id(c->shmid, 0));
	REQUIRE_EACCES(sma_open_id(c->shmid, SMA_RDONLY));
	return 0;
}

static void set_ipc_modes(sma_t *a, mode_t mode)
{
	struct shmid_ds shm;
	struct semid_ds sem;
	union semun u = {.buf = &sem};

	assert_int_equal(shmctl(sma_shmid(a), IPC_STAT, &shm), 0);
	assert_int_equal(semctl(sma_semid(a), 0, IPC_STAT, u), 0);
	shm.shm_perm.mode = (shm.shm_perm.mode & ~0777u) | (mode & 0777);
	sem.sem_perm.mode = (sem.sem_perm.mode & ~0777u) | (mode & 0777);
	assert_int_equal(shmctl(sma_shmid(a), IPC_SET, &shm), 0);
	assert_int_equal(semctl(sma_semid(a), 0, IPC_SET, u), 0);
}

static void test_a_caller_without_permission_fails_with_eacces_and_changes_nothing(void **state)
{
	static const mode_t modes[] = {0600, 0640, 0660};
	int root = geteuid() == 0;

	(void)state;
	if (root)
		assert_int_equal(chmod(t_tmpdir(), 0711), 0);
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
		if (!root)
			set_ipc_modes(a, 0); /* the owner then has no permission either */
		t_wait_ok(t_fork(open_without_permission, &c));
		n_bad += NOBODY_TRIES;
		if (!root)
			set_ipc_modes(a, modes[i]);
		assert_unchanged(a, &before, "opens without permission");
		free_all(a);
		t_destroy(a);
	}
	if (root)
		assert_int_equal(chmod(t_tmpdir(), 0700), 0);
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

/* ---- offsets that are not live objects -------------------------------------------- */

struct visit {
	sma_off_t off;
	size_t size;
	int in_use;
};

struct visits {
	struct visit v[2048];
	size_t n;
};

static int record_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct visits *vs = arg;

	if (vs->n < 2048)
		vs->v[vs->n++] = (struct visit){off, size, in_use};
	return 0;
}

static void add(sma_off_t *list, size_t *n, size_t cap, sma_off_t off)
{
	if (*n < cap)
		list[(*n)++] = off;
}

/*
 * Offsets that name no live object: freed ones, interior, misaligned, out
 * of range, in the header and tables before the heap, and in the library's
 * own blocks (slab headers, caches, name records), which the walk does not
 * show: the gaps between its visits.
 */
static size_t bad_offsets(sma_t *a, const struct population *p, const sma_off_t *freed,
			  size_t nfreed, sma_off_t *list, size_t cap)
{
	static struct visits vs;
	struct sma_stats st = t_stats(a);
	size_t n = 0;
	sma_off_t first;

	for (size_t i = 0; i < nfreed; i++)
		add(list, &n, cap, freed[i]);
	add(list, &n, cap, p->small + 16);
	add(list, &n, cap, p->small + 48);
	add(list, &n, cap, p->medium + 16);
	add(list, &n, cap, p->medium + 512);
	add(list, &n, cap, p->large + 16);
	add(list, &n, cap, p->large + 4096);
	add(list, &n, cap, p->large + T_KIB(100));
	add(list, &n, cap, p->named + 16);
	add(list, &n, cap, p->small + 1);
	add(list, &n, cap, p->small + 8);
	add(list, &n, cap, p->medium + 3);
	add(list, &n, cap, p->large + 15);
	add(list, &n, cap, st.size);
	add(list, &n, cap, st.size + 16);
	add(list, &n, cap, st.size + 4096);
	add(list, &n, cap, (sma_off_t)st.size * 2);
	add(list, &n, cap, ((sma_off_t)1 << 40) | p->small);
	add(list, &n, cap, ((sma_off_t)1 << 40) | p->medium);
	add(list, &n, cap, (sma_off_t)1 << 63);
	add(list, &n, cap, UINT64_MAX & ~(sma_off_t)15);
	vs.n = 0;
	assert_int_equal(sma_walk(a, record_visit, &vs), 0);
	assert_true(vs.n > 0);
	first = vs.v[0].off;
	/* The header and the tables before the heap. */
	for (sma_off_t off = 16; off + 16 < first; off = off < 4096 ? off * 2 : off + 4096)
		add(list, &n, cap, off);
	add(list, &n, cap, first - 16);
	/* The library's blocks between the visits (a heap visit ends 8 bytes
	 * before the next block's payload: its header). */
	for (size_t i = 1; i < vs.n; i++) {
		sma_off_t end = vs.v[i - 1].off + vs.v[i - 1].size;
		sma_off_t start = (end + 8 + 15) & ~(sma_off_t)15;
		if (vs.v[i].off <= start)
			continue;
		for (sma_off_t off = start; off < vs.v[i].off; off += off - start < 256 ? 16 : 4096)
			add(list, &n, cap, off);
	}
	/* Free memory in the walk is not an object either. */
	for (size_t i = 0, k = 0; i < vs.n && k < 8; i++)
		if (!vs.v[i].in_use) {
			add(list, &n, cap, vs.v[i].off);
			k++;
		}
	return n;
}

/* Tries every bad offset with sma_free, sma_realloc and sma_usable_size;
 * returns the number of wrong answers (printed). */
static int try_bad_offsets(sma_t *a, const sma_off_t *list, size_t n, const char *who)
{
	int wrong = 0;

	for (size_t i = 0; i < n; i++) {
		sma_off_t off = list[i], r;
		size_t u;
		int rc;

		errno = 0;
		rc = sma_free(a, off);
		if (rc != -1 || errno != EINVAL) {
			fprintf(stderr, "%s: sma_free(%#llx) returned %d, errno %d (%s); expected EINVAL\n",
				who, (unsigned long long)off, rc, errno, strerror(errno));
			wrong++;
		}
		errno = 0;
		r = sma_realloc(a, off, 100);
		if (r != SMA_NULL || errno != EINVAL) {
			fprintf(stderr, "%s: sma_realloc(%#llx, 100) returned %#llx, errno %d (%s); "
				"expected EINVAL\n", who, (unsigned long long)off,
				(unsigned long long)r, errno, strerror(errno));
			wrong++;
		}
		errno = 0;
		u = sma_usable_size(a, off);
		if (u != 0 || errno != EINVAL) {
			fprintf(stderr, "%s: sma_usable_size(%#llx) returned %zu, errno %d (%s); "
				"expected EINVAL\n", who, (unsigned long long)off, u, errno,
				strerror(errno));
			wrong++;
		}
	}
	return wrong;
}

struct child_offsets {
	sma_t *a;
	const sma_off_t *list;
	size_t n;
};

static int bad_offsets_in_a_new_process(void *arg)
{
	struct child_offsets *c = arg;

	alarm(60);
	return try_bad_offsets(c->a, c->list, c->n, "a new process") ? 1 : 0;
}

static void test_offsets_that_are_not_live_objects_fail_with_einval_and_change_nothing(
	void **state)
{
	static sma_off_t list[1024];
	sma_t *a = t_open_private(ARENA);
	struct population pop;
	struct digest before;
	sma_off_t freed[6];
	struct child_offsets c;
	size_t n;
	int wrong;

	(void)state;
	populate(a, &pop);
	/* Freed objects: in this thread's cache, flushed back, and large. */
	freed[0] = t_alloc_ok(a, 64);
	freed[1] = t_alloc_ok(a, 1000);
	freed[2] = t_alloc_ok(a, T_KIB(100));
	freed[3] = t_alloc_ok(a, 48);
	freed[4] = t_alloc_ok(a, 2000);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sma_free(a, freed[i]), 0);
	assert_int_equal(sma_flush(a), 0);
	freed[3] = t_alloc_ok(a, 48); /* a warm cache again, with freed[5] in it */
	freed[5] = t_alloc_ok(a, 48);
	assert_int_equal(sma_free(a, freed[5]), 0);
	assert_int_equal(sma_free(a, freed[3]), 0);
	n = bad_offsets(a, &pop, freed, 6, list, 1024);
	before = digest_of(a);

	wrong = try_bad_offsets(a, list, n, "this process");
	n_bad += 3 * (long)n;
	if (wrong)
		fail_msg("%d of %zu answers to bad offsets were wrong (listed above)", wrong, 3 * n);
	assert_unchanged(a, &before, "bad offsets");

	/* The same from a process with no cache of its own. */
	c = (struct child_offsets){a, list, n};
	t_wait_ok(t_fork(bad_offsets_in_a_new_process, &c));
	n_bad += 3 * (long)n;
	assert_unchanged(a, &before, "bad offsets from another process");

	/* SMA_NULL: free does nothing; usable_size fails. */
	assert_int_equal(sma_free(a, SMA_NULL), 0);
	errno = 0;
	assert_int_equal(sma_usable_size(a, SMA_NULL), 0);
	assert_int_equal(errno, EINVAL);
	n_bad += 2;

	/* A named object is freed by name only. */
	BAD_INT(sma_free(a, pop.named), EBUSY);
	n_bad++; /* the realloc below */
	errno = 0;
	if (sma_realloc(a, pop.named, 5000) != SMA_NULL || (errno != EBUSY && errno != EINVAL))
		fail_msg("sma_realloc of a named object: errno %d (%s); expected EBUSY or EINVAL",
			 errno, strerror(errno));
	assert_true(sma_usable_size(a, pop.named) >= 300);
	assert_unchanged(a, &before, "frees of a named object");
	printf("# %zu offsets that are not live objects, each tried with sma_free, sma_realloc "
	       "and sma_usable_size, from two processes\n", n);
	free_all(a);
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
	mode_t old = umask(077);

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		mode_t want = modes[i] ? modes[i] : 0600;
		const char *p = t_path("mode");
		sma_t *a = sma_open_key(IPC_PRIVATE, SMA_CREATE, ARENA, modes[i]);
		sma_t *b = a ? sma_open(p, SMA_CREATE, ARENA, modes[i]) : NULL;
		struct stat st;

		if (!a || !b) {
			umask(old);
			fail_msg("creating arenas of mode %04o: %s", (unsigned)modes[i], strerror(errno));
		}
		t_track(a);
		t_track(b);
		assert_modes(a, want);
		assert_modes(b, want);
		/* The path's file is made as open(2) would: less the umask. */
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0777, want & ~(mode_t)077);
		t_destroy(a);
		t_destroy(b);
	}
	umask(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_segment_whose_magic_is_wrong_is_refused_with_eproto_and_left_untouched),
		T_TEST(test_a_segment_too_small_for_an_arena_is_refused_with_eproto),
		T_TEST(test_an_arena_whose_magic_is_scribbled_is_refused_with_eproto_and_left_untouched),
		T_TEST(test_an_arena_of_another_layout_version_is_refused_with_eproto_and_left_untouched),
		cmocka_unit_test_setup_teardown(
			test_an_arena_made_for_another_path_with_the_same_key_is_refused_with_eproto,
			t_test_setup, remove_collide_dir),
		T_TEST(test_a_caller_without_permission_fails_with_eacces_and_changes_nothing),
		T_TEST(test_a_read_only_handle_refuses_every_change_with_erofs_and_changes_nothing),
		T_TEST(test_a_full_arena_fails_with_enomem_and_loses_nothing),
		T_TEST(test_when_sma_alloc_fails_with_enomem_largest_free_is_below_the_size_asked),
		T_TEST(test_offsets_that_are_not_live_objects_fail_with_einval_and_change_nothing),
		T_TEST(test_named_calls_with_null_empty_or_too_long_names_fail_and_change_nothing),
		T_TEST(test_a_removed_semaphore_set_is_replaced_and_no_call_fails),
		T_TEST(test_close_and_destroy_after_the_semaphore_set_was_removed_clean_up),
		T_TEST(test_segments_and_semaphore_sets_get_exactly_the_mode_asked),
	};
	int rc = T_RUN_GROUP(tests);

	printf("# bad inputs tried: %ld\n", n_bad);
	return rc;
}
