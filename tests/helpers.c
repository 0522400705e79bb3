/*
 * tests/helpers.c -- what common.h offers besides the registry: processes
 * (t_fork, t_wait), pipes and start gates, becoming another user, the
 * checks that work in children and threads, random data and patterns,
 * the checks of failing calls, and the walk and stats helpers.
 *
 * A process made by t_fork is recorded in the registry (common.c, through
 * common_internal.h), so that the cleanup kills it if the test does not
 * wait for it, and so that the segments it creates count as the test's.
 */
#define _GNU_SOURCE
#include "common.h"
#include "common_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---- processes ------------------------------------------------------------- */

pid_t t_fork(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	t__child_room();
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		static const int sigs[] = {SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGSYS};
		struct rlimit nocore = {0, 0};

		t__child_start();
		/* A cmocka assertion in a child aborts it instead of unwinding
		 * into the runner, and a crash is not caught by the runner. */
		setenv("CMOCKA_TEST_ABORT", "1", 1);
		setrlimit(RLIMIT_CORE, &nocore);
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		_exit(fn(arg) & 0xff);
	}
	t__child_born(pid);
	return pid;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int t_wait(pid_t pid, int timeout_s)
{
	double deadline = now_s() + timeout_s;
	long pause_ns = 1000000; /* 1 ms, growing to 20 ms */
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			t__child_reaped(pid);
			return status;
		}
		if (r < 0 && errno != EINTR) {
			t__child_reaped(pid);
			return -1;
		}
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			t__child_reaped(pid);
			return -1;
		}
		struct timespec ts = {0, pause_ns};
		nanosleep(&ts, NULL);
		if (pause_ns < 20000000)
			pause_ns *= 2;
	}
}

void t_wait_ok_within(pid_t pid, int timeout_s)
{
	int st = t_wait(pid, timeout_s);

	if (st == -1)
		fail_msg("child %d did not finish within %d s (killed)", (int)pid, timeout_s);
	if (WIFSIGNALED(st))
		fail_msg("child %d was killed by signal %d (%s)", (int)pid, WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("child %d exited with status %d", (int)pid, WEXITSTATUS(st));
}

void t_wait_ok(pid_t pid)
{
	const char *s = getenv("SMA_TEST_WAIT");
	t_wait_ok_within(pid, s && atoi(s) > 0 ? atoi(s) : 60);
}

void t_pipe(int fd[2])
{
	if (pipe(fd) != 0)
		fail_msg("pipe: %s", strerror(errno));
}

int t_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int t_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = EPIPE;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void t_gate_init(struct t_gate *g)
{
	t_pipe(g->ready);
	t_pipe(g->go);
}

void t_gate_wait(struct t_gate *g)
{
	char c = 'r';

	close(g->ready[0]);
	close(g->go[1]);
	T_REQUIRE(t_write_all(g->ready[1], &c, 1) == 0);
	close(g->ready[1]);
	while (read(g->go[0], &c, 1) < 0 && errno == EINTR)
		;
	close(g->go[0]);
}

int t_gate_release(struct t_gate *g, int n)
{
	int arrived = 0;
	char c;

	close(g->ready[1]);
	close(g->go[0]);
	while (arrived < n) {
		ssize_t r = read(g->ready[0], &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* every child has exited or arrived */
		arrived++;
	}
	close(g->go[1]);
	close(g->ready[0]);
	return arrived;
}

int t_become_nobody(void)
{
	if (geteuid() != 0)
		return 1;
	if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
		return -1;
	return 0;
}

/* ---- sma_check ---------------------------------------------------------------- */

static int print_problem(const char *problem, void *arg)
{
	(void)arg;
	print_error("sma_check: %s\n", problem);
	return 0;
}

static int print_problem_to_stderr(const char *problem, void *arg)
{
	(void)arg;
	fprintf(stderr, "process %d: sma_check: %s\n", (int)getpid(), problem);
	return 0;
}

int t_check_report(sma_t *a)
{
	int r = sma_check(a), e = errno;

	if (r != 0) {
		sma_check_report(a, print_problem_to_stderr, NULL);
		errno = e;
	}
	return r;
}

void t_assert_check(sma_t *a)
{
	int e;

	if (sma_check(a) == 0)
		return;
	e = errno;
	sma_check_report(a, print_problem, NULL);
	fail_msg("sma_check() failed: %s", strerror(e));
}

/* ---- checks and data ----------------------------------------------------------- */

void t_require_failed(const char *file, int line, const char *what, int has_values,
		      long long x, long long y)
{
	int e = errno;

	fprintf(stderr, "%s:%d: %s %d: %s failed", file, line,
		t_in_child() ? "child" : "process", (int)getpid(), what);
	if (has_values)
		fprintf(stderr, " (%lld != %lld)", x, y);
	fprintf(stderr, " [errno %d: %s]\n", e, strerror(e));
	fflush(stderr);
	if (t_in_child())
		_exit(1);
	if (gettid() != t__owner_pid())
		abort(); /* another thread of the test process: no unwinding from here */
	fail();
	abort(); /* not reached */
}

uint64_t t_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void t_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *b = p;
	uint64_t s = seed, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		w = t_rand(&s);
		memcpy(b + i, &w, 8);
	}
	if (i < n) {
		w = t_rand(&s);
		memcpy(b + i, &w, n - i);
	}
}

int t_verify(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t s = seed, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		w = t_rand(&s);
		if (memcmp(b + i, &w, 8))
			return 0;
	}
	if (i < n) {
		w = t_rand(&s);
		if (memcmp(b + i, &w, n - i))
			return 0;
	}
	return 1;
}

struct sma_stats t_stats(sma_t *a)
{
	struct sma_stats st;

	memset(&st, 0, sizeof(st));
	if (sma_stats(a, &st) != 0)
		fail_msg("sma_stats: %s", strerror(errno));
	return st;
}

uint32_t t_nattch(sma_t *a, uint32_t want)
{
	uint32_t n = t_stats(a).nattch;

	/* Another test's sma ls attaches every arena for an instant: more
	 * attachments than expected are asked again for a second. */
	for (int i = 0; i < 50 && n > want; i++) {
		usleep(20 * 1000);
		n = t_stats(a).nattch;
	}
	return n;
}

size_t t_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* fail_msg() at the caller's line. */
static void fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_error("ERROR: ");
	vprint_error(fmt, ap);
	print_error("\n");
	va_end(ap);
	_fail(file, line);
	abort(); /* not reached */
}

void t_off_failed(sma_off_t got, int err, int want, const char *call, const char *file,
		  int line)
{
	if (got != SMA_NULL)
		fail_at(file, line, "%s returned %#llx; expected SMA_NULL with %s", call,
			  (unsigned long long)got, strerror(want));
	if (err != want)
		fail_at(file, line, "%s failed with errno %d (%s); expected %d (%s)", call, err,
			  strerror(err), want, strerror(want));
}

void t_int_failed(int got, int err, int want, const char *call, const char *file, int line)
{
	if (got != -1)
		fail_at(file, line, "%s returned %d; expected -1 with %s", call, got,
			  strerror(want));
	if (err != want)
		fail_at(file, line, "%s failed with errno %d (%s); expected %d (%s)", call, err,
			  strerror(err), want, strerror(want));
}

static int walk_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct t_walk *w = arg;

	if ((w->n_used || w->n_free) && (off <= w->last || off < w->last + w->last_size)) {
		if (!w->bad)
			print_error("sma_walk: visit at %#llx (%zu bytes) after %#llx (%zu bytes)\n",
				    (unsigned long long)off, size, (unsigned long long)w->last,
				    w->last_size);
		w->bad = 1;
	}
	w->last = off;
	w->last_size = size;
	if (in_use) {
		if (w->offs && w->n_used < w->cap)
			w->offs[w->n_used] = off;
		if (w->sizes && w->n_used < w->cap)
			w->sizes[w->n_used] = size;
		w->used += size;
		w->n_used++;
	} else {
		w->free += size;
		w->n_free++;
	}
	return 0;
}

void t_walk(sma_t *a, struct t_walk *w)
{
	struct sma_stats st;

	w->used = w->free = 0;
	w->n_used = w->n_free = 0;
	w->last = 0;
	w->last_size = 0;
	w->bad = 0;
	if (sma_walk(a, walk_visit, w) != 0)
		fail_msg("sma_walk: %s", strerror(errno));
	assert_false(w->bad);
	st = t_stats(a);
	assert_int_equal(w->used, st.used);
	assert_int_equal(w->free, st.free);
	assert_int_equal(w->n_used, st.live);
}

sma_t *t_open_ok(sma_t *a, const char *call)
{
	if (!a)
		fail_msg("%s: %s", call, strerror(errno));
	return t_track(a);
}

sma_off_t t_alloc_ok(sma_t *a, size_t size)
{
	sma_off_t off = sma_alloc(a, size);

	if (off == SMA_NULL)
		fail_msg("sma_alloc(%zu): %s", size, strerror(errno));
	return off;
}

/* ---- stats, sizes and offsets ------------------------------------------------------ */

struct sma_stats t_settled_stats(sma_t *a)
{
	t_stats(a);
	return t_stats(a);
}

void t_assert_stats_equal(struct sma_stats x, struct sma_stats y)
{
	assert_int_equal(x.size, y.size);
	assert_int_equal(x.heap_size, y.heap_size);
	assert_int_equal(x.used, y.used);
	assert_int_equal(x.free, y.free);
	assert_int_equal(x.largest_free, y.largest_free);
	assert_int_equal(x.live, y.live);
	assert_int_equal(x.allocs, y.allocs);
	assert_int_equal(x.frees, y.frees);
}

void t_assert_all_free(sma_t *a)
{
	struct sma_stats st = t_stats(a);

	assert_int_equal(st.live, 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.allocs, st.frees);
	assert_int_equal(st.free, st.heap_size);
	assert_int_equal(st.largest_free, st.heap_size);
}

int t_cmp_off(const void *x, const void *y)
{
	sma_off_t a = *(const sma_off_t *)x, b = *(const sma_off_t *)y;
	return a < b ? -1 : a > b;
}

void t_assert_distinct(const sma_off_t *offs, size_t n)
{
	sma_off_t *s = malloc(n * sizeof(*s));

	assert_non_null(s);
	memcpy(s, offs, n * sizeof(*s));
	qsort(s, n, sizeof(*s), t_cmp_off);
	for (size_t i = 1; i < n; i++)
		if (s[i] == s[i - 1]) {
			sma_off_t dup = s[i];
			free(s);
			fail_msg("offset %#llx handed out twice", (unsigned long long)dup);
		}
	free(s);
}

size_t t_log_uniform(uint64_t *rng, size_t lo, size_t hi)
{
	/* a size between lo and hi, each power of two about as likely */
	unsigned bits_lo = 63 - __builtin_clzll(lo), bits_hi = 63 - __builtin_clzll(hi);
	unsigned b = bits_lo + (unsigned)(t_rand(rng) % (bits_hi - bits_lo + 1));
	size_t s = ((size_t)1 << b) + (size_t)(t_rand(rng) % ((size_t)1 << b));
	return s < lo ? lo : s > hi ? hi : s;
}

/* ---- files and System V objects ---------------------------------------------------- */

void t_make_file(const char *path, mode_t mode)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);

	if (fd < 0)
		fail_msg("creating %s: %s", path, strerror(errno));
	close(fd);
}

int t_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* glibc leaves union semun to the caller. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct shmid_ds t_shm_stat(int shmid)
{
	struct shmid_ds ds;

	if (shmctl(shmid, IPC_STAT, &ds) != 0)
		fail_msg("shmctl(%d, IPC_STAT): %s", shmid, strerror(errno));
	return ds;
}

struct semid_ds t_sem_stat(int semid)
{
	struct semid_ds ds;
	union semun u = {.buf = &ds};

	if (semctl(semid, 0, IPC_STAT, u) != 0)
		fail_msg("semctl(%d, IPC_STAT): %s", semid, strerror(errno));
	return ds;
}
