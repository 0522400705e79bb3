/*
 * 0_memcheck.h -- what Valgrind's memcheck and AddressSanitizer are told
 * about the objects of an arena, in this process, so that they report a
 * user's use after free or overflow of an sma object (0_memcheck.c does
 * the telling).
 *
 * Each handle decides once, at open (mc_handle_open), whether a tool is
 * there and keeps the answer in its field mc; every hook below is one
 * predictable branch on it otherwise, and the calls out of line are made
 * only when a tool watches.
 *
 *   memcheck: one mempool per handle (anchored at the handle), an object a
 *             chunk of it from its allocation to its free, so that a report
 *             names both stacks.  The pool is destroyed at close and at
 *             exit: objects of a shared arena outlive the process, and are
 *             no leak of it.
 *   ASan:     __asan_poison/unpoison_memory_region, declared weak, so that
 *             an uninstrumented libsma tells an instrumented program (the
 *             shadow is the process's): no stacks, use-after-poison.
 *
 * The rules, for a memory that other processes share:
 *   M1  an allocated object is accessible and defined to its usable size
 *       (another process may have written it).  Not only to the size
 *       asked: another process may free the object and hand its memory
 *       out again, and this process would keep a stale mark on the tail,
 *       which it would then report in an object another process made.
 *   M2  an object is made inaccessible only while it sits in this thread's
 *       cache, where nobody else can hand it out; whatever leaves that
 *       cache, and whatever is freed straight to the shared heap, is made
 *       accessible again before the library's heap code touches it.
 *   M3  a free that this process's pool does not know (an object another
 *       process allocated) is no error: the library has checked the offset
 *       already.  A chunk the pool still holds for an object another
 *       process freed is stale: it is dropped when this process allocates
 *       or frees at its address, and what it covered is made accessible.
 *   M4  debug builds poison freed memory in the heap code, which runs after
 *       M2 has made it accessible.
 */
#ifndef SMA_MEMCHECK_H
#define SMA_MEMCHECK_H

#include "0_layout.h"

/* The field mc of a handle. */
#define MC_VALGRIND 1u /* running on Valgrind: the handle has a mempool */
#define MC_ASAN 2u     /* the process has AddressSanitizer's runtime */

/* 0_memcheck.c: which tools watch this process, and what they are told. */
HIDDEN unsigned sma__mc_tools(void);
HIDDEN void sma__mc_open(struct sma *a);
HIDDEN void sma__mc_close(struct sma *a);
HIDDEN void sma__mc_exit(struct sma *a);
HIDDEN void sma__mc_mapping(struct sma *a);
HIDDEN void sma__mc_after_fork(struct sma *a);
HIDDEN void sma__mc_alloc(struct sma *a, void *p, uint64_t usable);
HIDDEN void sma__mc_free(struct sma *a, void *p, uint64_t usable, int cached);
HIDDEN void sma__mc_range(unsigned mc, void *p, uint64_t n, int accessible);

/* At open: which tools watch the handle, and its pool. */
static inline void mc_handle_open(struct sma *a) { sma__mc_open(a); }

/* At close: the pool and what it knows are forgotten, and every segment
 * the handle attached is accessible again (the ASan shadow outlives the
 * mapping). */
static inline void mc_handle_close(struct sma *a)
{
	if (UNLIKELY(a->mc || a->mct)) /* (mc has lost its pool at exit) */
		sma__mc_close(a);
}

/* In a fork child, whose parent's caches are not its own: every segment
 * the handle attached, accessible and defined. */
static inline void mc_after_fork(struct sma *a)
{
	if (UNLIKELY(a->mc))
		sma__mc_after_fork(a);
}

/* ---- the hooks of the public calls -------------------------------------
 * They take offsets: the address is made only when a tool watches. */

/* A new object of usable bytes at off, for the caller (M1). */
static inline void mc_alloc(struct sma *a, uint64_t off, uint64_t usable)
{
	if (UNLIKELY(a->mc))
		sma__mc_alloc(a, at(a, off), usable);
}

/* The object at off went into this thread's cache: inaccessible (M2). */
static inline void mc_free_cached(struct sma *a, uint64_t off, uint64_t usable)
{
	if (UNLIKELY(a->mc))
		sma__mc_free(a, at(a, off), usable, 1);
}

/* The object at off goes straight back to the shared heap: the free is
 * recorded, the memory left accessible (M2). */
static inline void mc_free_shared(struct sma *a, uint64_t off, uint64_t usable)
{
	if (UNLIKELY(a->mc))
		sma__mc_free(a, at(a, off), usable, 0);
}

/* A cached object leaves this thread's cache for the shared heap (M2). */
static inline void mc_leaves_cache(const struct sma *a, uint64_t off, uint64_t usable)
{
	if (UNLIKELY(a->mc))
		sma__mc_range(a->mc, at(a, off), usable, 1);
}

/* The live object at off now has usable bytes (a realloc in place): a new
 * chunk, with the realloc's stack. */
static inline void mc_resize(struct sma *a, uint64_t off, uint64_t usable)
{
	mc_alloc(a, off, usable);
}

#endif /* SMA_MEMCHECK_H */
