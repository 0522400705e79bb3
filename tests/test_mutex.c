/*
 * test_mutex.c: sma_mutex_t between threads and between real processes.
 *
 * Most tests put the mutex and what it guards in a fresh zero-filled
 * anonymous MAP_SHARED mapping, so fork children share it with the parent;
 * one puts them in a zero-filled object of a private arena.  Children
 * report through their exit status (T_REQUIRE) or a pipe, never through
 * the cmocka assertions.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define INCREMENTS 50000	/* increments per process or thread */
#define WORKERS 4		/* processes in the counting test */
#define WAITERS_N 3		/* processes waiting on a killed holder */

struct shared {
	sma_mutex_t m;		/* the mutex under test */
	uint64_t counter;	/* incremented under m */
	int results[8];		/* sma_mutex_lock's returns, one per child */
};

/* ---- small tools --------------------------------------------------------- */

static struct shared *shared_new(void)
{
	struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(s != MAP_FAILED);
	return s;
}

static void shared_free(struct shared *s)
{
	assert_int_equal(munmap(s, sizeof *s), 0);
}

static void send_byte(int fd)
{
	char c = 1;

	T_REQUIRE(t_write_all(fd, &c, 1) == 0);
}

static int recv_byte(int fd)
{
	char c;

	return t_read_all(fd, &c, 1);
}

/* Kills a child made by t_fork and waits for it; returns its wait status. */
static int kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	return t_wait(pid, 60);
}

struct holder {
	struct shared *s;
	int fd[2];		/* the holder writes one byte once it holds m */
};

static int hold_forever(void *arg)
{
	struct holder *h = arg;

	close(h->fd[0]);
	T_REQUIRE_EQ(sma_mutex_lock(&h->s->m), 0);
	send_byte(h->fd[1]);
	for (;;)
		pause();
}

/* A child that locks s->m and waits, still holding it, to be killed. */
static pid_t spawn_holder(struct shared *s)
{
	struct holder h = { .s = s };
	pid_t pid;

	t_pipe(h.fd);
	pid = t_fork(hold_forever, &h);
	close(h.fd[1]);
	assert_int_equal(recv_byte(h.fd[0]), 0);
	close(h.fd[0]);
	return pid;
}

static int child_trylock_is_busy(void *arg)
{
	struct shared *s = arg;

	T_REQUIRE_EQ(sma_mutex_trylock(&s->m), EBUSY);
	return 0;
}

static int child_lock_and_unlock(void *arg)
{
	struct shared *s = arg;

	T_REQUIRE_EQ(sma_mutex_lock(&s->m), 0);
	T_REQUIRE_EQ(sma_mutex_unlock(&s->m), 0);
	return 0;
}

/* ---- basic calls ------------------------------------------------------------- */

static void test_a_zero_filled_mutex_locks_and_unlocks(void **state)
{
	struct shared *s = shared_new();

	assert_int_equal(sma_mutex_lock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	assert_int_equal(sma_mutex_trylock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	assert_int_equal(sma_mutex_lock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	assert_int_equal(s->m.opaque[0], 0);
	shared_free(s);
}

static void test_unlocking_an_unlocked_mutex_fails_with_eperm(void **state)
{
	struct shared *s = shared_new();

	assert_int_equal(sma_mutex_unlock(&s->m), EPERM);
	assert_int_equal(sma_mutex_lock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), EPERM);
	shared_free(s);
}

static void *thread_unlock(void *arg)
{
	struct shared *s = arg;

	return (void *)(intptr_t)sma_mutex_unlock(&s->m);
}

static void test_unlocking_from_a_thread_that_does_not_hold_it_fails_with_eperm(void **state)
{
	struct shared *s = shared_new();
	pthread_t t;
	void *ret;

	assert_int_equal(sma_mutex_lock(&s->m), 0);
	assert_int_equal(pthread_create(&t, NULL, thread_unlock, s), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, EPERM);
	assert_int_equal(sma_mutex_trylock(&s->m), EBUSY);	/* still ours */
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	shared_free(s);
}

static void test_locking_a_mutex_the_caller_holds_fails_with_edeadlk(void **state)
{
	struct shared *s = shared_new();

	assert_int_equal(sma_mutex_lock(&s->m), 0);
	assert_int_equal(sma_mutex_lock(&s->m), EDEADLK);
	assert_int_equal(sma_mutex_trylock(&s->m), EBUSY);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	shared_free(s);
}

struct hold {
	struct shared *s;
	int go[2];		/* the holder writes when it holds the mutex */
	int stop[2];		/* the main thread writes to make it unlock */
};

static void *thread_hold(void *arg)
{
	struct hold *h = arg;

	if (sma_mutex_lock(&h->s->m) != 0)
		return (void *)1;
	send_byte(h->go[1]);
	recv_byte(h->stop[0]);
	return (void *)(intptr_t)sma_mutex_unlock(&h->s->m);
}

static void test_trylock_on_a_mutex_another_thread_holds_returns_ebusy(void **state)
{
	struct hold h = { .s = shared_new() };
	pthread_t t;
	void *ret;

	t_pipe(h.go);
	t_pipe(h.stop);
	assert_int_equal(pthread_create(&t, NULL, thread_hold, &h), 0);
	assert_int_equal(recv_byte(h.go[0]), 0);

	assert_int_equal(sma_mutex_trylock(&h.s->m), EBUSY);
	assert_int_equal(sma_mutex_unlock(&h.s->m), EPERM);

	send_byte(h.stop[1]);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	assert_int_equal(sma_mutex_trylock(&h.s->m), 0);
	assert_int_equal(sma_mutex_unlock(&h.s->m), 0);
	close(h.go[0]);
	close(h.go[1]);
	close(h.stop[0]);
	close(h.stop[1]);
	shared_free(h.s);
}

static void test_trylock_on_a_mutex_a_live_process_holds_returns_ebusy(void **state)
{
	struct shared *s = shared_new();
	pid_t holder = spawn_holder(s);

	assert_int_equal(sma_mutex_trylock(&s->m), EBUSY);
	assert_int_equal(sma_mutex_trylock(&s->m), EBUSY);
	assert_int_equal(sma_mutex_unlock(&s->m), EPERM);
	kill_and_reap(holder);
	shared_free(s);
}

static int child_unlock_is_eperm_and_trylock_ebusy(void *arg)
{
	struct shared *s = arg;

	T_REQUIRE_EQ(sma_mutex_unlock(&s->m), EPERM);
	T_REQUIRE_EQ(sma_mutex_trylock(&s->m), EBUSY);
	return 0;
}

static void test_a_fork_child_does_not_hold_its_parents_lock(void **state)
{
	struct shared *s = shared_new();

	assert_int_equal(sma_mutex_lock(&s->m), 0);
	t_wait_ok(t_fork(child_unlock_is_eperm_and_trylock_ebusy, s));
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	t_wait_ok(t_fork(child_lock_and_unlock, s));
	shared_free(s);
}

/* ---- mutual exclusion -------------------------------------------------------- */

/* A read and a separate write, so that unguarded increments lose counts. */
static int count_up(sma_mutex_t *m, uint64_t *counter)
{
	volatile uint64_t *c = counter;
	int i;

	for (i = 0; i < INCREMENTS; i++) {
		T_REQUIRE_EQ(sma_mutex_lock(m), 0);
		*c = *c + 1;
		T_REQUIRE_EQ(sma_mutex_unlock(m), 0);
	}
	return 0;
}

struct worker {
	struct t_gate gate;	/* the workers start together */
	sma_mutex_t *m;
	uint64_t *counter;
};

static int worker_count_up(void *arg)
{
	struct worker *w = arg;

	t_gate_wait(&w->gate);
	return count_up(w->m, w->counter);
}

static void run_workers(sma_mutex_t *m, uint64_t *counter)
{
	struct worker w = { .m = m, .counter = counter };
	pid_t pids[WORKERS];
	int i;

	t_gate_init(&w.gate);
	for (i = 0; i < WORKERS; i++)
		pids[i] = t_fork(worker_count_up, &w);
	assert_int_equal(t_gate_release(&w.gate, WORKERS), WORKERS);
	for (i = 0; i < WORKERS; i++)
		t_wait_ok(pids[i]);
}

static void test_four_processes_incrementing_under_the_mutex_reach_the_exact_total(void **state)
{
	struct shared *s = shared_new();

	run_workers(&s->m, &s->counter);
	assert_int_equal(s->counter, (uint64_t)WORKERS * INCREMENTS);
	assert_int_equal(s->m.opaque[0], 0);
	shared_free(s);
}

struct counted {
	sma_mutex_t m;		/* guards n */
	uint64_t n;		/* the count */
};

static void test_a_mutex_in_a_zero_filled_arena_object_guards_four_processes(void **state)
{
	sma_t *a = t_open_private(T_MIB(1));
	sma_off_t off = sma_calloc(a, 1, sizeof(struct counted));
	struct counted *c;

	assert_true(off != SMA_NULL);
	c = sma_ptr(a, off);
	run_workers(&c->m, &c->n);
	assert_int_equal(c->n, (uint64_t)WORKERS * INCREMENTS);
	assert_int_equal(sma_free(a, off), 0);
	t_destroy(a);
}

static void *thread_count_up(void *arg)
{
	struct shared *s = arg;

	return (void *)(intptr_t)count_up(&s->m, &s->counter);
}

static void test_two_threads_incrementing_under_the_mutex_reach_the_exact_total(void **state)
{
	struct shared *s = shared_new();
	pthread_t t[2];
	void *ret;
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_count_up, s), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_int_equal((intptr_t)ret, 0);
	}
	assert_int_equal(s->counter, 2 * INCREMENTS);
	assert_int_equal(s->m.opaque[0], 0);
	shared_free(s);
}

/* ---- a holder that dies ------------------------------------------------------ */

static void test_lock_after_the_holder_was_killed_returns_eownerdead_and_holds_it(void **state)
{
	struct shared *s = shared_new();

	kill_and_reap(spawn_holder(s));

	assert_int_equal(sma_mutex_lock(&s->m), EOWNERDEAD);
	/* The caller holds it now: others find it busy. */
	t_wait_ok(t_fork(child_trylock_is_busy, s));
	assert_int_equal(sma_mutex_unlock(&s->m), 0);

	/* And it is an ordinary mutex again. */
	assert_int_equal(sma_mutex_lock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	t_wait_ok(t_fork(child_lock_and_unlock, s));
	assert_int_equal(sma_mutex_trylock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	shared_free(s);
}

static void test_trylock_after_the_holder_was_killed_returns_eownerdead_and_holds_it(void **state)
{
	struct shared *s = shared_new();

	kill_and_reap(spawn_holder(s));

	assert_int_equal(sma_mutex_trylock(&s->m), EOWNERDEAD);
	t_wait_ok(t_fork(child_trylock_is_busy, s));
	assert_int_equal(sma_mutex_trylock(&s->m), EBUSY);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);

	assert_int_equal(sma_mutex_trylock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	t_wait_ok(t_fork(child_lock_and_unlock, s));
	shared_free(s);
}

struct waiter {
	struct shared *s;
	int index;		/* where in s->results to report */
	int ready[2];		/* one byte per waiter about to lock */
};

static int wait_for_the_lock(void *arg)
{
	struct waiter *w = arg;
	struct shared *s = w->s;
	int r;

	close(w->ready[0]);
	send_byte(w->ready[1]);
	r = sma_mutex_lock(&s->m);
	T_REQUIRE(r == 0 || r == EOWNERDEAD);
	s->results[w->index] = r;
	s->counter++;
	T_REQUIRE_EQ(sma_mutex_unlock(&s->m), 0);
	return 0;
}

static void test_waiters_on_a_killed_holder_all_get_the_lock_and_exactly_one_sees_eownerdead(void **state)
{
	struct shared *s = shared_new();
	struct waiter w = { .s = s };
	pid_t holder, pids[WAITERS_N];
	int i, dead = 0;

	holder = spawn_holder(s);
	t_pipe(w.ready);
	for (i = 0; i < WAITERS_N; i++) {
		w.index = i;
		pids[i] = t_fork(wait_for_the_lock, &w);
	}
	close(w.ready[1]);
	for (i = 0; i < WAITERS_N; i++)
		assert_int_equal(recv_byte(w.ready[0]), 0);
	close(w.ready[0]);
	/* Let the waiters go to sleep (if some are late, they find the
	 * holder dead instead: the outcome is the same). */
	usleep(100000);
	kill_and_reap(holder);

	for (i = 0; i < WAITERS_N; i++)
		t_wait_ok(pids[i]);
	for (i = 0; i < WAITERS_N; i++) {
		if (s->results[i] == EOWNERDEAD)
			dead++;
		else
			assert_int_equal(s->results[i], 0);
	}
	assert_int_equal(dead, 1);
	assert_int_equal(s->counter, WAITERS_N);
	assert_int_equal(s->m.opaque[0], 0);
	shared_free(s);
}

static void *thread_lock_and_return(void *arg)
{
	struct shared *s = arg;

	return (void *)(intptr_t)sma_mutex_lock(&s->m);
}

static void test_a_thread_that_exits_holding_the_mutex_leaves_it_with_eownerdead(void **state)
{
	struct shared *s = shared_new();
	pthread_t t;
	void *ret;

	assert_int_equal(pthread_create(&t, NULL, thread_lock_and_return, s), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);

	assert_int_equal(sma_mutex_lock(&s->m), EOWNERDEAD);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	assert_int_equal(sma_mutex_lock(&s->m), 0);
	assert_int_equal(sma_mutex_unlock(&s->m), 0);
	shared_free(s);
}

/* ---- waiting without spinning ------------------------------------------------ */

struct wait_report {
	int ret;		/* sma_mutex_lock's return in the waiter */
	int64_t cpu_ns;		/* CPU time the waiter spent in it, ns */
};

struct cpu_waiter {
	struct shared *s;
	int fd[2];		/* the waiter writes its wait_report */
};

static int64_t cpu_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int wait_and_measure(void *arg)
{
	struct cpu_waiter *w = arg;
	struct wait_report r;
	int64_t t0;

	close(w->fd[0]);
	t0 = cpu_now_ns();
	r.ret = sma_mutex_lock(&w->s->m);
	r.cpu_ns = cpu_now_ns() - t0;
	if (r.ret == 0)
		T_REQUIRE_EQ(sma_mutex_unlock(&w->s->m), 0);
	T_REQUIRE(t_write_all(w->fd[1], &r, sizeof r) == 0);
	return 0;
}

static void test_a_waiter_blocked_for_one_second_uses_under_a_fifth_of_a_second_of_cpu(void **state)
{
	struct cpu_waiter w = { .s = shared_new() };
	struct wait_report rep;
	pid_t pid;

	t_pipe(w.fd);
	assert_int_equal(sma_mutex_lock(&w.s->m), 0);
	pid = t_fork(wait_and_measure, &w);
	close(w.fd[1]);
	sleep(1);
	assert_int_equal(sma_mutex_unlock(&w.s->m), 0);

	assert_int_equal(t_read_all(w.fd[0], &rep, sizeof rep), 0);
	close(w.fd[0]);
	t_wait_ok(pid);
	assert_int_equal(rep.ret, 0);
	assert_true(rep.cpu_ns < 200000000);
	shared_free(w.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_a_zero_filled_mutex_locks_and_unlocks),
		T_TEST(test_unlocking_an_unlocked_mutex_fails_with_eperm),
		T_TEST(test_unlocking_from_a_thread_that_does_not_hold_it_fails_with_eperm),
		T_TEST(test_locking_a_mutex_the_caller_holds_fails_with_edeadlk),
		T_TEST(test_trylock_on_a_mutex_another_thread_holds_returns_ebusy),
		T_TEST(test_trylock_on_a_mutex_a_live_process_holds_returns_ebusy),
		T_TEST(test_a_fork_child_does_not_hold_its_parents_lock),
		T_TEST(test_four_processes_incrementing_under_the_mutex_reach_the_exact_total),
		T_TEST(test_a_mutex_in_a_zero_filled_arena_object_guards_four_processes),
		T_TEST(test_two_threads_incrementing_under_the_mutex_reach_the_exact_total),
		T_TEST(test_lock_after_the_holder_was_killed_returns_eownerdead_and_holds_it),
		T_TEST(test_trylock_after_the_holder_was_killed_returns_eownerdead_and_holds_it),
		T_TEST(test_waiters_on_a_killed_holder_all_get_the_lock_and_exactly_one_sees_eownerdead),
		T_TEST(test_a_thread_that_exits_holding_the_mutex_leaves_it_with_eownerdead),
		T_TEST(test_a_waiter_blocked_for_one_second_uses_under_a_fifth_of_a_second_of_cpu),
	};

	return T_RUN_GROUP(tests);
}
