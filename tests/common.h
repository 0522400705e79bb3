/*
 * tests/common.h -- what every test binary of sma shares.
 *
 * The registry.  Every System V object a test binary makes is recorded:
 * segment ids and semaphore ids of the handles it opens (t_open_private,
 * t_track), and the ftok keys of the paths it hands out (t_path), so that
 * an arena a child process made on such a path is found too.  At the end
 * of each test (t_test_teardown) and of the group (t_ipc_teardown) the
 * registry is compared with /proc/sysvipc/shm and /proc/sysvipc/sem: any
 * recorded object still there is removed (IPC_RMID) and the test or the
 * run fails.  If the binary dies instead (a fatal signal, the watchdog,
 * exit), the same removal runs from a handler, so a crash leaves nothing
 * behind either.  Objects that existed before the binary started (the
 * snapshot) are never touched.
 *
 * Processes.  t_fork() runs a function in a child and returns its pid;
 * t_wait_ok() waits for it with a deadline and asserts exit status 0.  A
 * child must not use the cmocka assertions to report (they would unwind
 * into the test runner's copy in the child): it uses T_REQUIRE, which
 * prints the failed condition and errno and _exits with status 1.  Should
 * a cmocka assertion fire in a child anyway, the child aborts.
 *
 * Typical use:
 *
 *	static void test_something_works(void **state)
 *	{
 *		sma_t *a = t_open_private(T_MIB(4));
 *		...
 *		t_destroy(a);		// asserts sma_check() == 0, destroys
 *	}
 *
 *	int main(void)
 *	{
 *		const struct CMUnitTest tests[] = {
 *			T_TEST(test_something_works),
 *		};
 *		return T_RUN_GROUP(tests);
 *	}
 *
 * The registry, the fixtures and the cleanup are tests/common.c; the rest
 * (processes, pipes, gates, data, the checks, the walk and stats helpers)
 * is tests/helpers.c.
 *
 * The helpers are for the main thread of the test process.  Children use
 * T_REQUIRE, t_check_report, t_fill/t_verify, t_rand and the pipe and gate
 * helpers; threads use t_fill/t_verify and t_rand and hand their errors
 * back to the main thread (T_REQUIRE in a thread of the test process
 * itself aborts the whole binary).
 */
#ifndef SMA_TESTS_COMMON_H
#define SMA_TESTS_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "sma.h"

#define T_KIB(n) ((size_t)(n) * 1024)
#define T_MIB(n) ((size_t)(n) * 1024 * 1024)

/* ---- fixtures -------------------------------------------------------- */

/* Group setup: takes the snapshot of System V objects and installs the
 * cleanup handlers. */
int t_ipc_setup(void **state);
/* Group teardown: fails (returns -1) if any recorded object remains. */
int t_ipc_teardown(void **state);
/* Per-test setup: arms a watchdog (SMA_TEST_TIMEOUT seconds, default
 * 600) that ends a hung binary after cleaning up. */
int t_test_setup(void **state);
/* Per-test teardown: destroys handles the test left open, fails on any
 * recorded System V object that remains, disarms the watchdog. */
int t_test_teardown(void **state);

#define T_TEST(fn) cmocka_unit_test_setup_teardown(fn, t_test_setup, t_test_teardown)
#define T_RUN_GROUP(tests) cmocka_run_group_tests(tests, t_ipc_setup, t_ipc_teardown)

/* ---- the registry ------------------------------------------------------ */

/* Takes the snapshot of what exists now (done once, by the first helper
 * called, if the group setup did not). */
void t_ipc_snapshot(void);
/* sma_open_key(IPC_PRIVATE, SMA_CREATE, size, 0600), asserted, recorded. */
sma_t *t_open_private(size_t size);
/* Records the shmid, semid and key of a handle and keeps the handle in the
 * list of open ones; returns a. */
sma_t *t_track(sma_t *a);
void t_track_shmid(int shmid);
void t_track_semid(int semid);
void t_track_key(key_t key);
/* Forgets an open handle the test closed or destroyed by itself (its ids
 * stay recorded). */
void t_untrack(sma_t *a);
/* sma_close, asserted 0, and untracked. */
void t_close(sma_t *a);
/* Asserts sma_check() == 0, then sma_destroy, asserted 0, and untracked. */
void t_destroy(sma_t *a);
/* Asserts sma_check() == 0, printing each problem sma_check_report finds. */
void t_assert_check(sma_t *a);
/* sma_check() for children and threads: returns its result, and prints
 * each problem to standard error when there are some. */
int t_check_report(sma_t *a);
/* Counts the recorded System V objects that still exist (besides the
 * snapshot), printing one line for each; removes them when remove is set. */
int t_ipc_leftovers(int remove);
/* The same count, quietly and removing nothing: a test compares it before
 * and after calls that must make nothing. */
int t_ipc_count(void);
/* 1 when the segment (semaphore set) with this id exists. */
int t_shm_exists(int shmid);
/* The ids (at most max) of the segments process pid created. */
int t_shm_created_by(pid_t pid, int *ids, int max);
int t_sem_exists(int semid);

/* ---- paths --------------------------------------------------------------- */

/* A directory of this binary under $TMPDIR (or /tmp), made on first use,
 * removed at exit. */
const char *t_tmpdir(void);
/* A new path in t_tmpdir() that does not exist yet (the name is made
 * unique by a number before it); its ftok key is recorded once the file
 * exists.  The string stays valid until the binary exits. */
const char *t_path(const char *name);
/* ftok(path, SMA_PROJ_ID), recorded; -1 if the path does not exist. */
key_t t_path_key(const char *path);

/* ---- processes ------------------------------------------------------------ */

/* Runs fn(arg) in a child and returns the child's pid; the child _exits
 * with fn's return value. */
pid_t t_fork(int (*fn)(void *arg), void *arg);
/* Waits for pid at most timeout_s seconds (killing it after that).
 * Returns the wait status, or -1 on a timeout. */
int t_wait(pid_t pid, int timeout_s);
/* Asserts that pid exits with status 0 within 60 seconds (or within
 * SMA_TEST_WAIT seconds when that is set). */
void t_wait_ok(pid_t pid);
void t_wait_ok_within(pid_t pid, int timeout_s);
/* 1 in a process made by t_fork. */
int t_in_child(void);

/* pipe(2), asserted. */
void t_pipe(int fd[2]);
/* Whole-buffer read and write: 0, or -1 (a short read at end of file
 * sets errno to EPIPE). */
int t_write_all(int fd, const void *buf, size_t n);
int t_read_all(int fd, void *buf, size_t n);

/* A start gate: children call t_gate_wait and block; the parent's
 * t_gate_release waits until n children have arrived and then lets them
 * all go at the same instant (by closing the pipe they read). */
struct t_gate {
	int ready[2]; /* children write one byte when they arrive */
	int go[2];    /* children read until end of file */
};
void t_gate_init(struct t_gate *g);
void t_gate_wait(struct t_gate *g);
/* Returns the number of children that arrived (n unless some died). */
int t_gate_release(struct t_gate *g, int n);

/* In a child: becomes the user nobody (65534) when running as root.
 * Returns 0 when it did, 1 when not root (nothing changed), -1 on error. */
int t_become_nobody(void);

/* ---- checks that work in children and threads ----------------------------- */

#define T_REQUIRE(cond)                                                    \
	do {                                                               \
		if (!(cond))                                               \
			t_require_failed(__FILE__, __LINE__, #cond, 0, 0, 0); \
	} while (0)
#define T_REQUIRE_EQ(x, y)                                                 \
	do {                                                               \
		long long t__x = (long long)(x), t__y = (long long)(y);    \
		if (t__x != t__y)                                          \
			t_require_failed(__FILE__, __LINE__, #x " == " #y, \
					 1, t__x, t__y);                   \
	} while (0)
void t_require_failed(const char *file, int line, const char *what,
		      int has_values, long long x, long long y)
	__attribute__((noreturn));

/* ---- data ------------------------------------------------------------------- */

/* A fast pseudo-random generator (splitmix64); *s is its state. */
uint64_t t_rand(uint64_t *s);
/* Fills n bytes with a pattern derived from seed; t_verify returns 1 when
 * the n bytes still hold it. */
void t_fill(void *p, size_t n, uint64_t seed);
int t_verify(const void *p, size_t n, uint64_t seed);

/* The call returns SMA_NULL (T_ASSERT_OFF_FAILS) or -1 (T_ASSERT_INT_FAILS)
 * with errno e; on anything else the test fails saying what came back. */
#define T_ASSERT_OFF_FAILS(call, e)                                          \
	do {                                                                 \
		errno = 0;                                                   \
		sma_off_t t__o = (call);                                     \
		t_off_failed(t__o, errno, (e), #call, __FILE__, __LINE__);   \
	} while (0)
#define T_ASSERT_INT_FAILS(call, e)                                          \
	do {                                                                 \
		errno = 0;                                                   \
		int t__r = (call);                                           \
		t_int_failed(t__r, errno, (e), #call, __FILE__, __LINE__);   \
	} while (0)
void t_off_failed(sma_off_t got, int err, int want, const char *call, const char *file,
		  int line);
void t_int_failed(int got, int err, int want, const char *call, const char *file, int line);

/* What sma_walk shows, summed; t_walk asserts that the visits come in
 * strictly increasing offsets and do not overlap. */
struct t_walk {
	size_t used;	  /* sum of the in-use sizes */
	size_t free;	  /* sum of the free sizes */
	uint64_t n_used;  /* in-use visits */
	uint64_t n_free;  /* free visits */
	sma_off_t *offs;  /* when not NULL: the in-use offsets, in order */
	size_t cap;	  /* room in offs */
	size_t *sizes;	  /* when not NULL: their sizes */
	sma_off_t last;	  /* offset of the previous visit */
	size_t last_size; /* its size */
	int bad;	  /* a visit out of order or overlapping */
};
/* Walks a into w (whose offs/sizes/cap the caller may set), asserting
 * sma_walk() == 0, the order, and that the sums match sma_stats. */
void t_walk(sma_t *a, struct t_walk *w);

/* sma_stats, asserted 0. */
struct sma_stats t_stats(sma_t *a);
/* shm_nattch of a, asked again for a while when it is above want (others'
 * brief attachments); the count. */
uint32_t t_nattch(sma_t *a, uint32_t want);
/* The handle a successful open returned, tracked; on failure the test
 * fails naming the call (OPEN_OK). */
sma_t *t_open_ok(sma_t *a, const char *call);
#define OPEN_OK(call) t_open_ok((call), #call)
/* sma_alloc that must succeed. */
sma_off_t t_alloc_ok(sma_t *a, size_t size);
size_t t_page_size(void);

/* ---- stats, sizes and offsets ------------------------------------------------ */

/* Stats after one call that lets the library settle its caches. */
struct sma_stats t_settled_stats(sma_t *a);
/* Asserts every figure but nattch is the same. */
void t_assert_stats_equal(struct sma_stats x, struct sma_stats y);
/* Asserts the arena is as fresh: everything free in one extent. */
void t_assert_all_free(sma_t *a);
/* Orders offsets (for qsort). */
int t_cmp_off(const void *x, const void *y);
/* Asserts that no offset of the n is there twice. */
void t_assert_distinct(const sma_off_t *offs, size_t n);
/* A size between lo and hi, each power of two about as likely. */
size_t t_log_uniform(uint64_t *rng, size_t lo, size_t hi);

/* ---- files and System V objects ------------------------------------------------ */

/* Creates the file path (which must not exist) with mode, asserted. */
void t_make_file(const char *path, mode_t mode);
/* 1 when path exists. */
int t_path_exists(const char *path);
/* IPC_STAT of a segment or a semaphore set, asserted. */
struct shmid_ds t_shm_stat(int shmid);
struct semid_ds t_sem_stat(int semid);

#endif /* SMA_TESTS_COMMON_H */
