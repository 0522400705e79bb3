/*
 * bench.h -- what the parts of the benchmark share.
 *
 * sma_bench.c runs every (workload, allocator) pair in a process of its own
 * and reports; workloads.c holds the measured loops; boost_ipc.cpp puts
 * Boost.Interprocess behind four C calls.
 *
 * Every allocator is seen by the loops as a "heap" that hands out 64-bit
 * handles: an address for malloc, an sma_off_t for sma, an offset from the
 * segment's base for Boost.  0 is the failed allocation in every case.
 */
#ifndef SMA_BENCH_H
#define SMA_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "sma.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Boost.Interprocess (boost_ipc.cpp) ---------------------------------- */

struct bench_boost; /* a managed_xsi_shared_memory on an IPC_PRIVATE key */

/* Creates a segment of size bytes (mode 0600); NULL if Boost refused. */
struct bench_boost *bb_create(size_t size);
/* Removes the segment (IPC_RMID) and detaches it. */
void bb_destroy(struct bench_boost *b);
/* The segment's address in this process: handles are offsets from it. */
char *bb_base(struct bench_boost *b);
/* Bytes of the segment. */
size_t bb_size(struct bench_boost *b);
/* Allocates through the segment manager; 0 when it is out of memory. */
uint64_t bb_alloc(struct bench_boost *b, size_t n);
void bb_free(struct bench_boost *b, uint64_t off);
/* "1_74": the Boost release the benchmark was compiled against. */
const char *bb_version(void);

/* ---- Heaps and workloads (workloads.c) ----------------------------------- */

enum heap_kind {
	HEAP_MALLOC, /* the process's malloc: glibc, or jemalloc preloaded */
	HEAP_SMA,    /* an sma arena */
	HEAP_BOOST,  /* a Boost.Interprocess segment */
};

struct heap {
	enum heap_kind kind;
	sma_t *sma;		/* HEAP_SMA: the arena */
	struct bench_boost *bb; /* HEAP_BOOST: the segment */
	char *bbase;		/* HEAP_BOOST: its address in this process */
};

enum shape {
	SHAPE_CHURN, /* W1, W2, W6: one process frees a random slot, allocates */
	SHAPE_PROCS, /* W3, W3-8: the churn loop in several processes at once */
	SHAPE_RING,  /* W4: a producer allocates, a consumer frees */
	SHAPE_FILL,  /* W5: allocate until the first failure */
};

enum dist {
	DIST_SMALL, /* 16..256 bytes, uniform */
	DIST_MIXED, /* 16 bytes..64 KiB, log-uniform */
	DIST_PAGE,  /* 16..4096 bytes, uniform */
};

struct workload {
	const char *id;	      /* "W1", "W6-1M": the key in tables and JSON */
	const char *title;    /* what it does, in a few words */
	const char *unit;     /* "ns/step", "Msteps/s", "ns/object", "fraction" */
	enum shape shape;
	enum dist dist;
	uint32_t live;	      /* live slots of a churn loop */
	uint64_t steps;	      /* timed steps (per process), or objects in W4 */
	size_t arena;	      /* bytes of the sma or Boost segment */
	int higher_is_better; /* Msteps/s and fraction; ns figures are lower */
	int shared_only;      /* only for allocators with a shared segment */
	size_t limit;	      /* sma: the arena may grow to this (0: never) */
	int procs;	      /* SHAPE_PROCS: processes (MAX_PROCS at most) */
};

#define MAX_PROCS 8 /* workers of one run */

/* What an sma arena counted (sma_info), each -1 when not known. */
struct sma_counts {
	int64_t lock_ops;   /* arena lock acquisitions */
	int64_t lock_waits; /* of which had to wait (slept in the kernel) */
	int64_t sem_ops;    /* System V semaphore system calls on its set */
};

/* The outcome of one run, written by the measuring process to its parent. */
struct run_result {
	int ok;		    /* 1: the run completed and every check held */
	char err[200];	    /* otherwise, why */
	double value;	    /* in the workload's unit */
	uint64_t allocs;    /* allocations attempted in the measured part */
	uint64_t fails;	    /* of which failed */
	uint64_t bad;	    /* objects found with a wrong pattern, failed frees */
	struct sma_counts counts; /* sma: over the measured part */
	char version[64];   /* the allocator's version, from a probe run */
};

/*
 * Runs workload w on heap h with the given seed and fills r.  Called in a
 * process made for this one run: it may fork worker processes (W3, W3-8,
 * W4 on shared heaps) or start threads (W4 on malloc, where a process cannot free
 * what another allocated).
 */
void run_workload(const struct heap *h, const struct workload *w,
		  uint64_t seed, struct run_result *r);

/* Monotonic clock in nanoseconds. */
int64_t now_ns(void);

/* ---- One whole run and its report (sma_bench.c, report.c) ----------------- */

enum { AL_GLIBC, AL_JEMALLOC, AL_SMA, AL_BOOST, AL_COUNT };

#define MAX_WORKLOADS 12
#define MAX_REPS 101

struct allocator {
	const char *name; /* "glibc", "jemalloc", "sma", "boost" */
	int enabled;	  /* measured in this run */
	char version[64];
};

/* Every repetition of one workload on one allocator. */
struct cell {
	int runs;	    /* repetitions attempted */
	int nok;	    /* of which completed */
	double v[MAX_REPS]; /* the figures of the completed ones */
	double median;	    /* of v, NAN when none completed */
	uint64_t allocs;    /* allocations over all repetitions */
	uint64_t fails;	    /* of which failed */
	struct sma_counts counts; /* sma: summed over repetitions, -1 unknown */
	uint64_t counted_allocs;  /* allocations over which counts were made */
	char err[200];	    /* the first error, "" if none */
};

struct bench {
	struct workload w[MAX_WORKLOADS];
	int nw;
	struct allocator al[AL_COUNT];
	struct cell cell[MAX_WORKLOADS][AL_COUNT];
	int reps, quick;
	uint64_t seed;
	char cpu[128];	   /* model name from /proc/cpuinfo */
	long cores;	   /* processors online */
	char kernel[128];  /* uname -r */
	char command[1024];
};

/* The median (or NAN) of a cell; the index of workload id, or -1. */
double cell_median(struct cell *c);
int bench_find(const struct bench *b, const char *id);

/* Prints the table with its notes and targets, or the same as JSON. */
void report_table(const struct bench *b);
void report_json(const struct bench *b);

#ifdef __cplusplus
}
#endif

#endif /* SMA_BENCH_H */
