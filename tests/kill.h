/*
 * tests/kill.h -- what the two halves of the kill-fuzz share: the test
 * process (tests/test_kill.c) and the processes it kills
 * (tests/kill_work.c).
 *
 * It also holds the helpers of the test process that are not about its
 * rounds (lists of live objects, time, wait statuses).
 *
 * Shared memory of a round:
 *
 *   the ownership table (a named object of the arena): one row per worker
 *     thread (ROWS processes x THREADS threads).  A thread writes an
 *     object's offset there once the allocation returned and the object is
 *     filled, and clears it before it frees or reallocates the object, so
 *     the table holds only objects that are live and whole.  The same goes
 *     for the named objects of the row (found again by name).
 *
 *   the guarded structure (a named object): a counter pair and a linked
 *     list of node objects, changed only under an sma_mutex_t.  Outside
 *     the mutex a == b, the list holds n valid nodes and no operation is
 *     recorded as in progress.  A locker that gets EOWNERDEAD repairs it
 *     (guarded_repair); holder_pid says who holds the mutex, so that a
 *     lock that returns 0 while it is set is a mutex that let two in.
 *
 *   the progress area (an anonymous shared mapping, outside the arena):
 *     steps and counters of every thread, read by the test process.
 */
#ifndef SMA_TESTS_KILL_H
#define SMA_TESTS_KILL_H

#include "common.h"

#include <stdatomic.h>

#define ROWS 4		 /* worker processes at once, at most */
#define THREADS 4	 /* threads of one worker, at most */
#define TROWS (ROWS * THREADS) /* rows of the ownership table */
#define ENTRIES 48	 /* objects one thread owns at most */
#define NAMES 4		 /* named objects of one thread row */
#define LIST_MAX 64	 /* nodes of the guarded list, at most */
#define TABLE "kill-test-owners"
#define GUARDED "kill-test-guarded"
#define WORKER_ALARM 60	 /* seconds a worker may live */

/* Exit statuses of a worker (or reclaimer) that found something wrong. */
enum {
	W_ALLOC = 2,	/* an allocation failed with another errno than ENOMEM */
	W_DAMAGED = 3,	/* an owned object does not hold its pattern */
	W_FREE = 4,	/* sma_free of an owned object failed */
	W_REALLOC = 5,	/* sma_realloc failed, or lost the contents */
	W_NAMED = 6,	/* a named call failed, or a named object moved */
	W_CALLOC = 7,	/* sma_calloc returned memory that is not zero */
	W_ALIGN = 8,	/* sma_aligned_alloc returned a misaligned object */
	W_MUTEX = 9,	/* the mutex let two in, or failed */
	W_GUARDED = 10, /* the guarded structure is broken under the mutex */
	W_THREAD = 11,	/* pthread_create failed */
	W_RECLAIM = 12, /* sma_stats / sma_recover failed in a reclaimer */
	W_CHECK = 13,	/* sma_check failed in a reclaimer */
};

struct entry {
	_Atomic uint64_t off; /* a live object, 0 = none */
	uint64_t size;	      /* bytes asked and filled */
	uint64_t seed;	      /* of the pattern it holds */
};
struct trow {
	struct entry e[ENTRIES];
	struct entry named[NAMES]; /* the row's named objects (kill_name) */
};
struct table {
	struct trow r[TROWS];
};

enum { OP_NONE, OP_PUSH, OP_POP };
struct guarded {
	sma_mutex_t m;
	_Atomic uint32_t holder_pid; /* set after the lock, cleared before unlock */
	_Atomic uint32_t holder_tid;
	uint64_t a, b;	   /* equal outside the mutex */
	sma_off_t head;	   /* the list */
	uint64_t n;	   /* its length */
	uint64_t op;	   /* OP_* in progress */
	sma_off_t pending; /* the node of that operation */
	uint64_t repairs;  /* EOWNERDEAD repairs done */
	uint64_t keys;	   /* keys handed to nodes */
};
struct node {
	sma_off_t next;
	uint64_t key;
	uint64_t check; /* node_check(off, key) */
};

/* Outside the arena: what every thread did (reset by the test process
 * after each round, when the workers are dead). */
struct trow_stat {
	_Atomic uint64_t steps;
	_Atomic uint64_t enomem;    /* ENOMEM answers (normal in a tiny arena) */
	_Atomic uint64_t ownerdead; /* EOWNERDEAD from lock or trylock */
	_Atomic uint64_t locks;	    /* mutex acquisitions */
};
struct progress {
	struct trow_stat t[TROWS];
	_Atomic uint64_t reclaims; /* calls a reclaimer finished */
};

/* The arena and shared areas of the current epoch (set by the test
 * process before it forks). */
struct kill_ctx {
	sma_t *a;
	struct table *t;
	struct guarded *gd;
	struct progress *p;
	int big;	/* a large arena: sizes up to 1 MiB now and then */
};
extern struct kill_ctx kx;

struct worker_arg {
	int row;      /* process row: thread rows row*THREADS .. +nthreads-1 */
	int nthreads; /* 1..THREADS */
	uint64_t seed;
	struct t_gate *gate;
};
/* The body of a worker process (t_fork). */
int kill_worker_main(void *arg);

enum { R_STATS, R_RECOVER, R_CHECK, R_MIX };
struct reclaim_arg {
	int ready_fd; /* one byte written just before the first call */
	int what;     /* R_* */
	uint64_t seed;
};
/* The body of a reclaimer process: calls sma_stats / sma_recover /
 * sma_check until it is killed. */
int kill_reclaimer_main(void *arg);

/* The name of named object k of thread row tr. */
void kill_name(char *buf, size_t n, int tr, int k);
uint64_t node_check(sma_off_t off, uint64_t key);
/* Repairs the guarded structure after EOWNERDEAD (the caller holds the
 * mutex): counts the list again, completes the counter pair, forgets the
 * operation in progress.  live_check: also ask sma_usable_size of every
 * node (the test process does, so that it never follows a bad offset). */
void guarded_repair(sma_t *a, struct guarded *gd, int live_check);
/* NULL when the structure holds its invariant (caller holds the mutex),
 * else what is wrong.  Stores the nodes' offsets in nodes (LIST_MAX room)
 * when not NULL, and their count in *nn. */
const char *guarded_check(sma_t *a, const struct guarded *gd, int live_check,
			  sma_off_t *nodes, size_t *nn);

/* ---- helpers of the test process ------------------------------------------------ */

#define MAX_LIVE 16384 /* live objects the walks collect */

/* Objects collected by sma_walk (kill_collect_live: the in-use ones, and
 * their bytes) or sma_named_each (kill_collect_named); a full list stops
 * the walk (it then returns 1). */
struct live_list {
	size_t n, used;
	sma_off_t off[MAX_LIVE];
};
int kill_collect_live(sma_off_t off, size_t size, int in_use, void *arg);
int kill_collect_named(const char *name, sma_off_t off, size_t size, void *arg);
/* The names of the arena (sma_named_each into a name_list). */
struct name_list {
	int n;
	char name[TROWS * NAMES + 8][SMA_NAME_MAX + 1];
};
int kill_collect_name(const char *name, sma_off_t off, size_t size, void *arg);
int kill_cmp_off(const void *x, const void *y);

void kill_sleep_us(long us);
double kill_now(void);
long kill_env_long(const char *name, long dflt);
/* "exited with status N", "died of signal N (...)": a wait status. */
const char *kill_status_text(int st);
/* Prints who holds the arena lock and the guarded mutex (read on the
 * read-only handle ro), and what each thread of process pid waits in. */
void kill_describe_hang(sma_t *ro, pid_t pid);

#endif /* SMA_TESTS_KILL_H */
