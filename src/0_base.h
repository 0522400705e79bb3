/*
 * 0_base.h -- what every file of the library uses: the build's
 * configuration, the public header, and a few words of C.
 *
 * The files of src/ are laid out in floors; each uses only what the
 * floors below it (and its own) provide, and its name begins with its
 * floor:
 *
 *   0  the segment's layout and its arithmetic; facts about processes
 *   1  the arena lock and the record of the operation in flight; the
 *      semaphore set that tells live processes from dead ones
 *   2  the structures: the heap (TLSF), slabs, objects
 *   3  the handle registry, the per-thread caches, the name index
 *   4  repair: what the living do for the dead
 *   5  the public calls
 */
#ifndef SMA_BASE_H
#define SMA_BASE_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "sma.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#ifndef SMA_DEBUG
#define SMA_DEBUG 0
#endif
#define HIDDEN __attribute__((visibility("hidden")))
/* The halves of the fast paths: inlined even where called twice (a call
 * there costs the caller its registers; measured in README, Speed). */
#define FAST static inline __attribute__((always_inline))
/* Thread-locals of the library: static TLS, reached without a call. */
#define TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* What debug builds write over freed memory. */
#define POISON_BYTE 0xdb

/* A debug assertion: compiled always, checked only in debug builds
 * (configure --enable-debug). */
#define DASSERT(e)                                                                          \
	do {                                                                                \
		if (SMA_DEBUG && !(e)) {                                                    \
			fprintf(stderr, "sma: assertion failed: %s (%s:%d)\n", #e, __FILE__, \
				__LINE__);                                                  \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* Words read by other threads (or processes) without the lock: relaxed
 * atomic accesses, which cost what plain ones do. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define LOAD_ACQ(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE_REL(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
/* x += v by the one writer of x */
#define BUMP(x, v) STORE(x, LOAD(x) + (v))

/* Crash points: in the crash-test build (libsma_crash.la, for tests only)
 * the Nth STEP() after sma__crash_after(N) ends the process as a SIGKILL
 * would stop it there (0_crash.c). */
#ifdef SMA_CRASH_POINTS
HIDDEN void sma__step(void);
void sma__crash_after(long n);
long sma__crash_steps(void);
#define STEP() sma__step()
#else
#define STEP() ((void)0)
#endif

/* union semun, which the caller of semctl(2) must define. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

#endif /* SMA_BASE_H */
