/*
 * 5_mutex.c: sma_mutex_t, a mutex that lives in shared memory and survives
 * the death of its holder.
 *
 * What it owns: the 16 bytes of every sma_mutex_t.  The mutex is a futex
 * word shared between processes (FUTEX_WAIT/FUTEX_WAKE without
 * FUTEX_PRIVATE_FLAG, so the kernel keys waiters on the page, not on the
 * address in one process), followed by who holds it:
 *
 *   opaque[0]  state   31 30 29                                0
 *                     +--+--+-------------------------------------+
 *                     |W |0 |  owner tid (0 = unlocked)           |
 *                     +--+--+-------------------------------------+
 *                      W = some thread may sleep in FUTEX_WAIT
 *                      bit 30 is always 0 (tids are below 2^22)
 *   opaque[1]  pid     thread group id of the owner (tgkill's first argument)
 *   opaque[2]  start   owner thread's start time, clock ticks since boot
 *                      (field 22 of /proc/<pid>/task/<tid>/stat), low 32
 *                      bits; 0 = unknown
 *   opaque[3]  seal    the owner's tid once opaque[1..2] describe it, else
 *                      anything else (0 after an unlock)
 *
 * All-zero bytes are an unlocked mutex with nobody waiting.
 *
 * Locking is one compare-and-swap of opaque[0] from 0 to the caller's tid
 * followed by three plain stores of pid, start and seal (the tid, pid and
 * start of the calling thread are cached per thread, re-read in a fork
 * child).  Unlocking clears the seal and swaps opaque[0] back to 0; it makes
 * a system call (FUTEX_WAKE, one thread) only when W was set.  A thread that
 * finds the mutex held spins briefly, sets W and sleeps in FUTEX_WAIT for
 * at most CHECK_NS (20 ms) at a time; whenever a timeout passes with the
 * same owner it asks whether that owner still exists: tgkill(pid, tid, 0)
 * failing with ESRCH, a thread in state Z or X (it exited; a zombie holds
 * nothing), or a live thread with that tid but another start time (the
 * tid was reused) means the owner died holding the mutex.  The waiter then
 * takes it over with a compare-and-swap and returns EOWNERDEAD: within 50
 * ms of the death.
 *
 * Invariants (cited as M1..M6 below):
 *
 *   M1  opaque[0] & TID_MASK is 0 or the tid of the thread that holds the
 *       mutex; only that thread (or a thread taking over from a dead owner,
 *       by a CAS from the exact word it found) changes the tid bits.
 *   M2  W is set while any thread may sleep in FUTEX_WAIT on opaque[0]; it
 *       is cleared only by the unlock that then wakes one sleeper, and a
 *       thread woken from the wait relocks with W set, so no wake-up is
 *       lost while others still sleep.
 *   M3  opaque[3] == owner tid implies opaque[1..2] are that owner's pid
 *       and start time: the owner writes pid and start before the seal
 *       (release), and unlock clears the seal before it releases opaque[0].
 *       A reader that loads the seal (acquire), then pid and start, then
 *       sees the same owner in opaque[0] again has a consistent picture.
 *   M4  Without a seal the owner is judged by its tid alone: dead only when
 *       no thread with that tid exists.  This covers the few instructions
 *       between the CAS and the seal, and an owner killed inside them.
 *   M5  The uncontended lock and unlock make no system call.
 *   M6  Every thread that uses one mutex lives in one PID namespace and
 *       one time namespace (tids and start times are read as this
 *       namespace's).  Unlike the arena's own lock (1_lock.c), which the
 *       kernel releases whatever the namespace, a mutex may live outside
 *       any arena, and its 16 bytes hold no more than a thread's ids.
 *   M7  A mutex is aligned to 4 bytes (the futex word); any call on one
 *       that is not fails with EINVAL and changes nothing.
 *
 * Limits: a mutex must be in writable memory (not a read-only attachment);
 * a thread that locks a mutex it holds gets EDEADLK, as with an
 * error-checking pthread mutex, instead of waiting for ever; a trylock that
 * finds the mutex held makes the liveness check (a tgkill and a read of
 * /proc), a few microseconds.  A tid reused inside one liveness check (the
 * dead owner's tid given, between the check and the takeover, to a thread
 * that then takes the same mutex) is not guarded against; with tids handed
 * out in turn up to pid_max this needs thousands of threads created within
 * microseconds.
 */
#include "0_proc.h"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(sma_mutex_t) == 16, "sma_mutex_t is four 32-bit words");

#define W_STATE 0		/* index of the lock word */
#define W_PID 1			/* index of the owner's pid */
#define W_START 2		/* index of the owner's start time, low 32 bits */
#define W_SEAL 3		/* index of the seal: owner tid once 1..2 are set */

#define TID_MASK 0x3fffffffu	/* owner tid bits; PID_MAX_LIMIT is 2^22 */
#define WAITERS 0x80000000u	/* W: a thread may sleep on the word */

#define SPIN_TRIES 64		/* loads of the word before the first sleep */
#define CHECK_NS 20000000L	/* longest sleep between liveness checks, ns */

/* ---- the calling thread ---------------------------------------------------- */

struct self {
	uint32_t tid;		/* gettid(); 0 = not read yet in this thread */
	uint32_t pid;		/* getpid() */
	uint32_t start;		/* start time in clock ticks, low 32 bits; 0 = unknown */
};

static __thread struct self self_cache;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static uint32_t thread_gettid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

/* In a fork child the forking thread has a new tid and pid. */
static void self_forget(void)
{
	self_cache.tid = 0;
}

static void self_register_atfork(void)
{
	pthread_atfork(NULL, NULL, self_forget);
}

static void __attribute__((noinline)) self_read(void)
{
	uint32_t tid = thread_gettid();
	struct task_stat ts;

	pthread_once(&self_once, self_register_atfork);
	self_cache.pid = (uint32_t)getpid();
	if (sma__task_stat((pid_t)self_cache.pid, (pid_t)tid, &ts) == 0)
		self_cache.start = (uint32_t)ts.start;
	else
		self_cache.start = 0;
	self_cache.tid = tid;
}

static inline const struct self *self_get(void)
{
	if (__builtin_expect(self_cache.tid == 0, 0))
		self_read();
	return &self_cache;
}

/* ---- the futex --------------------------------------------------------------- */

static inline uint32_t load_word(sma_mutex_t *m, int i, int order)
{
	return __atomic_load_n(&m->opaque[i], order);
}

static inline int cas_state(sma_mutex_t *m, uint32_t *expect, uint32_t want)
{
	return __atomic_compare_exchange_n(&m->opaque[W_STATE], expect, want, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static int futex_wait(sma_mutex_t *m, uint32_t val, const struct timespec *rel)
{
	return (int)syscall(SYS_futex, &m->opaque[W_STATE], FUTEX_WAIT, val,
			    rel, NULL, 0);
}

static void futex_wake_one(sma_mutex_t *m)
{
	syscall(SYS_futex, &m->opaque[W_STATE], FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* *t += ns, kept normalised (0 <= tv_nsec < 1 s). */
static void ts_add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* The caller has just set the tid bits to its own: describe it (M3). */
static inline void publish_owner(sma_mutex_t *m, const struct self *me)
{
	__atomic_store_n(&m->opaque[W_PID], me->pid, __ATOMIC_RELAXED);
	__atomic_store_n(&m->opaque[W_START], me->start, __ATOMIC_RELAXED);
	__atomic_store_n(&m->opaque[W_SEAL], me->tid, __ATOMIC_RELEASE);
}

/*
 * owner_is_dead: 1 when the thread that held the mutex in word v (tid bits
 * non-zero) no longer exists, 0 when it may still exist or the word has
 * moved on (the caller then looks again).
 */
static int owner_is_dead(sma_mutex_t *m, uint32_t v)
{
	uint32_t tid = v & TID_MASK;
	uint32_t seal, pid, start;
	struct task_stat ts;

	/* Acquire loads keep this order: seal, description, word again. */
	seal = load_word(m, W_SEAL, __ATOMIC_ACQUIRE);
	pid = load_word(m, W_PID, __ATOMIC_ACQUIRE);
	start = load_word(m, W_START, __ATOMIC_ACQUIRE);
	if ((load_word(m, W_STATE, __ATOMIC_RELAXED) & TID_MASK) != tid)
		return 0;

	if (seal != tid) {
		/* M4: no description yet (or any more): the tid alone. */
		if (kill((pid_t)tid, 0) == -1 && errno == ESRCH)
			return 1;
		return sma__task_stat((pid_t)tid, 0, &ts) == 0 &&
		       (ts.state == 'Z' || ts.state == 'X');
	}
	if (syscall(SYS_tgkill, (pid_t)pid, (pid_t)tid, 0) == -1 &&
	    errno == ESRCH)
		return 1;
	/* A task with that tid is in that process: the owner, a zombie of
	 * it (an exited thread group leader, or a whole process not reaped
	 * yet), or a newer thread that got its tid.  Its state and start
	 * time say which (with hidepid, /proc may hide them: alive then). */
	if (sma__task_stat((pid_t)pid, (pid_t)tid, &ts) < 0)
		return 0;
	if (ts.state == 'Z' || ts.state == 'X')
		return 1;
	return start != 0 && (uint32_t)ts.start != start;
}

/* ---- the public calls ---------------------------------------------------- */

static int lock_slow(sma_mutex_t *m, const struct self *me)
{
	struct timespec now, next_check = { 0, 0 }, rel;
	uint32_t watched = 0;	/* owner tid the deadline below is for */
	uint32_t v;
	int i;

	/* A short spin: a holder on another CPU often lets go at once. */
	for (i = 0; i < SPIN_TRIES; i++) {
		v = load_word(m, W_STATE, __ATOMIC_RELAXED);
		if (v == 0) {
			if (cas_state(m, &v, me->tid))
				goto locked;
		} else if ((v & TID_MASK) == me->tid) {
			return EDEADLK;
		} else if (v & WAITERS) {
			break;		/* others already sleep: join them */
		}
		cpu_relax();
	}

	for (;;) {
		v = load_word(m, W_STATE, __ATOMIC_RELAXED);
		if ((v & TID_MASK) == 0) {
			/* Free: take it with W set, for those still asleep (M2). */
			if (cas_state(m, &v, me->tid | WAITERS))
				goto locked;
			continue;
		}
		if ((v & TID_MASK) == me->tid)
			return EDEADLK;
		if (!(v & WAITERS)) {
			if (!cas_state(m, &v, v | WAITERS))
				continue;
			v |= WAITERS;
		}

		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((v & TID_MASK) != watched) {
			/* A new owner: is it alive at all (it may have died
			 * before we came), then every CHECK_NS. */
			watched = v & TID_MASK;
			if (owner_is_dead(m, v) && cas_state(m, &v, me->tid | WAITERS)) {
				publish_owner(m, me);
				return EOWNERDEAD;
			}
			next_check = now;
			ts_add_ns(&next_check, CHECK_NS);
		} else if (now.tv_sec > next_check.tv_sec ||
			   (now.tv_sec == next_check.tv_sec &&
			    now.tv_nsec >= next_check.tv_nsec)) {
			if (owner_is_dead(m, v) && cas_state(m, &v, me->tid | WAITERS)) {
				publish_owner(m, me);
				return EOWNERDEAD;
			}
			next_check = now;
			ts_add_ns(&next_check, CHECK_NS);
			continue;	/* the word may have moved: look again */
		}

		rel.tv_sec = next_check.tv_sec - now.tv_sec;
		rel.tv_nsec = next_check.tv_nsec - now.tv_nsec;
		if (rel.tv_nsec < 0) {
			rel.tv_sec--;
			rel.tv_nsec += 1000000000L;
		}
		if (rel.tv_sec < 0)
			continue;
		/* EAGAIN (the word moved), EINTR, ETIMEDOUT, a wake-up: all
		 * lead back to looking at the word. */
		futex_wait(m, v, &rel);
	}

locked:
	publish_owner(m, me);
	return 0;
}

/* M7 */
static inline int misaligned(const sma_mutex_t *m)
{
	return ((uintptr_t)m & 3) != 0;
}

SMA_API int sma_mutex_lock(sma_mutex_t *m)
{
	if (UNLIKELY(misaligned(m)))
		return EINVAL;
	const struct self *me = self_get();
	uint32_t v = 0;

	if (__builtin_expect(cas_state(m, &v, me->tid), 1)) {
		publish_owner(m, me);
		return 0;
	}
	return lock_slow(m, me);
}

SMA_API int sma_mutex_trylock(sma_mutex_t *m)
{
	if (UNLIKELY(misaligned(m)))
		return EINVAL;
	const struct self *me = self_get();
	uint32_t v = 0;

	for (;;) {
		if ((v & TID_MASK) == 0) {
			if (cas_state(m, &v, me->tid | (v & WAITERS)))
				break;
			continue;	/* v now holds the word we lost to */
		}
		if ((v & TID_MASK) == me->tid || !owner_is_dead(m, v))
			return EBUSY;
		if (cas_state(m, &v, me->tid | (v & WAITERS))) {
			publish_owner(m, me);
			return EOWNERDEAD;
		}
	}
	publish_owner(m, me);
	return 0;
}

SMA_API int sma_mutex_unlock(sma_mutex_t *m)
{
	if (UNLIKELY(misaligned(m)))
		return EINVAL;
	const struct self *me = self_get();
	uint32_t v = load_word(m, W_STATE, __ATOMIC_RELAXED);

	if ((v & TID_MASK) != me->tid)
		return EPERM;
	/* M3: the description goes before the word is released. */
	__atomic_store_n(&m->opaque[W_SEAL], 0, __ATOMIC_RELAXED);
	/* Only waiters change the word under us (they set W, M1, M2). */
	while (!cas_state(m, &v, 0)) {
		if ((v & TID_MASK) != me->tid)
			return EPERM;	/* taken over: we were thought dead */
	}
	if (v & WAITERS)
		futex_wake_one(m);
	return 0;
}
