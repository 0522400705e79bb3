/*
 * tests/crash_engine.h -- the engine of test_crash and test_crash_calls: a
 * process killed at every step of an operation that changes the arena,
 * and what the next process finds.
 *
 * Linked against libsma_crash.la, the library with crash points compiled
 * in: sma__crash_after(n) makes the nth STEP() from now _exit(77), as a
 * SIGKILL would stop the process there, and sma__crash_steps() says how
 * many steps were taken since.
 *
 * Each operation is a scenario: a setup in the test process (shared
 * objects), a setup in the child (its own cache, slot and objects), and
 * the operation itself.  For one scenario:
 *
 *   k = 0      a child runs the setup and the operation once, counting
 *              steps: N.
 *   k = 1..N   on a fresh arena, the same setup; the child reports the
 *              live objects (offset, size), fills each with a pattern of
 *              its offset, arms sma__crash_after(k) and runs the operation,
 *              which must _exit(77) at step k.  Then the test process
 *              repairs, once by sma_recover and once by just going on (its
 *              next sma_alloc and sma_free, then sma_stats), and checks:
 *                - sma_check() == 0;
 *                - the live objects are those live before, plus at most
 *                  the one the operation was making, less at most the one
 *                  it was freeing; every other one keeps its contents;
 *                - the statistics agree with the walk, live == allocs -
 *                  frees, and new objects do not overlap live ones;
 *                - freeing every live object (named ones by name) and
 *                  sma_flush give back a fresh arena: free == the fresh
 *                  free, largest_free == heap_size.
 *              A scenario does not stop at the first failed repair: it
 *              lists every step whose repair failed, then fails.
 *
 * The run without a crash also checks that the operation took the path the
 * scenario is named for (a pop without the lock, a flush, a new slab...),
 * so that a change in the library cannot quietly turn a scenario into
 * another one.
 *
 * A program defines its scenarios with SCENARIO_TEST (setups, operations
 * and verifications made of the helpers below), lists them in main, and
 * prints crash_summary() at the end.
 */
#ifndef SMA_TESTS_CRASH_ENGINE_H
#define SMA_TESTS_CRASH_ENGINE_H

#include "common.h"

/* The test hooks of libsma_crash.la. */
void sma__crash_after(long n);
long sma__crash_steps(void);

#define ARENA T_MIB(1)	  /* bytes of every arena here */
#define CRASH_STATUS 77	  /* the exit status of a crash point */
#define MAX_LIVE 1024	  /* live objects a scenario may have */
#define WAIT_S 30	  /* seconds a child may take */
#define NAME "crash-test" /* the named object of the named scenarios */

struct ctx;
struct scenario {
	const char *what;		      /* printed in messages */
	void (*parent_setup)(struct ctx *c);  /* in the test process, may be NULL */
	void (*child_setup)(struct ctx *c);   /* in the child, may be NULL */
	void (*op)(struct ctx *c);	      /* the operation, crash points armed */
	int max_new;			      /* objects the operation may add */
	int frees_target;		      /* it may remove c->target */
	int slotless;			      /* every slot held by other processes */
	size_t fill_size;		      /* child_full_cache: the objects' size */
	size_t limit;			      /* a growth limit: the operation may
					       * add a segment */
	void (*verify)(struct ctx *c);	      /* in the counting run: the operation
					       * took the path the scenario names */
};

struct ctx {
	const struct scenario *sc;
	sma_t *a;
	sma_off_t target;  /* the object the operation frees or reallocates */
	size_t cap;	   /* the cache capacity of the class a flush scenario uses */
	long k;		   /* crash step, 0 = count the steps */
	int fd;		   /* the child's end of the report pipe */
	/* for verify: */
	sma_off_t result;  /* what the operation returned */
	int cls;	   /* the class a flush scenario fills */
	uint64_t lock_ops; /* sma_info's lock_ops before the operation */
	uint64_t slabs;	   /* slabs of the class of 48 bytes before it */
	uint64_t cached;   /* objects cached in class cls before it */
};

/* (operation, step) pairs crashed and repaired, and repairs checked (two
 * per crash point), by this program. */
extern long crash_points;
extern long crash_repairs;

/* ---- helpers usable in children (setups, operations, verifications) ---------- */

/* sma_alloc that must succeed (T_REQUIRE). */
sma_off_t must_alloc(sma_t *a, size_t size);
/* The size classes of a, and the objects this thread caches in one. */
unsigned n_classes(sma_t *a);
uint64_t cached_in_class(sma_t *a, int cls);
/* Frees off (into this thread's cache) and returns the size class
 * (index for sma_class_stats) whose cached count it raised, or -1. */
int free_and_find_its_class(sma_t *a, sma_off_t off);
/* sma_info's lock_ops. */
uint64_t lock_ops(sma_t *a);
/* Slabs of the class that serves 48-byte objects. */
uint64_t slabs_of_48(sma_t *a);
/* 1 when this process holds a slot of a. */
int holds_a_slot(sma_t *a);

/* A setup and a verification scenarios of both programs use. */
void child_target_1000(struct ctx *c);
void v_released_the_slab(struct ctx *c);

/* ---- running scenarios ------------------------------------------------------------- */

/* Counts the steps of a scenario, then crashes it at every step and checks
 * both repairs; fails the test with every repair that failed. */
void run_scenario(const struct scenario *sc);
/* Prints, as a TAP comment, the crash points this program covered in
 * operations scenarios. */
void crash_summary(size_t operations);

#define SCENARIO_TEST(fn, ...)                                          \
	static void fn(void **state)                                    \
	{                                                               \
		static const struct scenario sc = {__VA_ARGS__};        \
		(void)state;                                            \
		run_scenario(&sc);                                      \
	}

#endif /* SMA_TESTS_CRASH_ENGINE_H */
