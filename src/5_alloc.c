/*
 * 5_alloc.c -- the public allocation calls: sma_alloc and friends.
 *
 * Each call first tries this thread's cache (3_cache.c), which needs no lock;
 * what the cache cannot do is done under the arena lock ("_locked"
 * functions), with the operation recorded in the header for repair
 * (1_lock.c).  Every offset a caller hands in is checked against the page
 * map and the block or slab it names before anything is changed: an offset
 * that is not a live object fails with EINVAL and changes nothing.
 *
 * When Valgrind or AddressSanitizer watches the process, each call tells
 * it what became of the object (0_memcheck.h), at the public calls only:
 * a new object (one popped from the cache too) is an allocation, a free to
 * this thread's cache makes it inaccessible, any other free leaves it
 * accessible.
 */
#include "0_memcheck.h"
#include "1_lock.h"
#include "2_heap.h"
#include "2_object.h"
#include "2_slab.h"
#include "3_cache.h"
#include "3_cache_fast.h"
#include "4_repair.h"

/* A tool watches: the new object off is the caller's (its usable size is
 * looked up only then).  A call, not a jump: the allocation's stack, which
 * memcheck shows, keeps the public call. */
static __attribute__((noinline, cold)) void born_slow(struct sma *a, sma_off_t off)
{
	uint64_t usable;
	if (sma__object_live(a, off, &usable, NULL))
		sma__mc_alloc(a, at(a, off), usable);
}

static inline sma_off_t born(struct sma *a, sma_off_t off)
{
	if (UNLIKELY(a->mc) && off)
		born_slow(a, off);
	return off;
}

/*
 * One live object of at least size bytes aligned to align, or 0.  Counted
 * in the header's counters.
 */
static uint64_t alloc_locked(struct sma *a, size_t size, size_t align, unsigned kind)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	uint64_t off = 0, usable = 0;
	sma__op_begin(a, LOP_ALLOC);
	if (size <= SMALL_MAX && align <= ALIGN && kind == KIND_USER) {
		unsigned cls = size_class(size);
		h->cls[cls].requests++;
		off = sma__slab_alloc_locked(a, cls);
		usable = class_size[cls];
		if (!off) {
			/* No slab can be had: a heap fragment will do. */
			uint64_t b = sma__heap_alloc_locked(a, size, ALIGN, KIND_USER);
			if (b) {
				off = b + BLOCK_HDR;
				usable = hw_size(hw_load(a, b)) - BLOCK_OVERHEAD;
			} else {
				h->cls[cls].failures++;
			}
		}
	} else {
		if (size <= CACHE_MAX && kind == KIND_USER)
			h->cls[size_class(size)].requests++;
		uint64_t b = sma__heap_alloc_locked(a, size, align, kind);
		if (b) {
			off = b + BLOCK_HDR;
			usable = hw_size(hw_load(a, b)) - BLOCK_OVERHEAD;
		} else if (size <= CACHE_MAX && kind == KIND_USER) {
			h->cls[size_class(size)].failures++;
		}
	}
	STEP();
	if (off) {
		BUMP(h->used, usable);
		STEP();
		BUMP(h->allocs, 1);
	}
	sma__op_end(a);
	return off;
}

/* The locked path: allocate; if the heap is full, make room and try once
 * more. */
static sma_off_t alloc_slow(sma_t *a, size_t size, size_t align)
{
	if (size > a->h->heap_size && !LOAD(a->h->limit)) {
		errno = ENOMEM;
		return SMA_NULL;
	}
	if (sma__lock(a) < 0)
		return SMA_NULL;
	uint64_t off = alloc_locked(a, size, align, KIND_USER);
	if (!off) {
		sma__make_room_locked(a);
		off = alloc_locked(a, size, align, KIND_USER);
	}
	/* Still no room: a new segment, if the limit allows (a small object
	 * needs a slab). */
	if (!off && (size <= SMALL_MAX ? sma__heap_grow_locked(a, SLAB_SIZE, PAGE)
				      : sma__heap_grow_locked(a, size, align)))
		off = alloc_locked(a, size, align, KIND_USER);
	sma__unlock(a);
	if (!off)
		errno = ENOMEM;
	return born(a, off);
}

/* sma_alloc on a writable handle; tell: a tool watches (the locked path
 * tells it in any case). */
FAST sma_off_t alloc_body(struct sma *a, size_t size, int tell)
{
	if (LIKELY(size <= CACHE_MAX)) {
		uint64_t off;
		int rc = sma__cache_alloc(a, size_class(size), size, &off);
		if (LIKELY(rc == 0))
			return tell ? born(a, off) : off;
		if (rc < 0)
			return SMA_NULL;
	}
	return alloc_slow(a, size, ALIGN);
}

/* A handle that is not plainly writable and unwatched: the errors, and
 * the tools.  (The empty asm keeps the public call in the stacks a tool
 * shows: the call before it is no tail call.) */
static __attribute__((noinline)) sma_off_t alloc_unusual(struct sma *a, size_t size)
{
	if (!handle_writable(a))
		return SMA_NULL;
	return alloc_body(a, size, 1);
}

sma_off_t sma_alloc(sma_t *a, size_t size)
{
	if (UNLIKELY(!a || (a->flags & SMA_RDONLY) || a->mc)) {
		sma_off_t off = alloc_unusual(a, size);
		__asm__ volatile("" ::: "memory");
		return off;
	}
	return alloc_body(a, size, 0);
}

sma_off_t sma_calloc(sma_t *a, size_t nmemb, size_t size)
{
	size_t n;
	if (!handle_writable(a))
		return SMA_NULL;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return SMA_NULL;
	}
	sma_off_t off = sma_alloc(a, n);
	if (off)
		memset(at(a, off), 0, n);
	return off;
}

sma_off_t sma_aligned_alloc(sma_t *a, size_t alignment, size_t size)
{
	if (!handle_writable(a))
		return SMA_NULL;
	/* Segments are attached on page boundaries: beyond a page, an aligned
	 * offset would not give an aligned address in every process. */
	if (alignment == 0 || (alignment & (alignment - 1)) || alignment > PAGE) {
		errno = EINVAL;
		return SMA_NULL;
	}
	if (alignment <= ALIGN)
		return sma_alloc(a, size);
	return alloc_slow(a, size, alignment);
}

/*
 * The free under the lock (it takes it): the object is looked up again under the lock (where
 * blocks do not move, so the answer is exact), its live bit cleared with
 * the operation recorded, so that a death in the middle is finished.
 */
static int free_taking_lock(struct sma *a, uint64_t off)
{
	struct sma_header *h = a->h;
	int rc = -1;
	if (sma__lock(a) < 0)
		return -1;
	uint64_t usable;
	unsigned kind;
	if (!sma__object_live(a, off, &usable, &kind)) {
		errno = EINVAL;
		goto out;
	}
	if (kind == KIND_NAMED) {
		errno = EBUSY;
		goto out;
	}
	sma__op_begin(a, LOP_FREE);
	sma__op_object(a, off, usable);
	unsigned idx;
	struct slab *s = slab_of(a, off, &idx);
	uint64_t was;
	if (s) {
		uint64_t bit = 1ull << (idx & 63);
		was = atomic_fetch_and(&s->live[idx >> 6], ~bit) & bit;
	} else {
		was = atomic_fetch_and(bhdr(a, off - BLOCK_HDR), ~BF_LIVE) & BF_LIVE;
	}
	if (!was) {
		/* Freed by another thread since we looked. */
		sma__op_end(a);
		errno = EINVAL;
		goto out;
	}
	/* Accessible again before the heap writes its links in it. */
	mc_free_shared(a, off, usable);
	STEP();
	sma__free_object_locked(a, off);
	STEP();
	BUMP(h->used, (uint64_t)0 - usable);
	STEP();
	BUMP(h->frees, 1);
	sma__op_end(a);
	rc = 0;
out:
	sma__unlock(a);
	return rc;
}

/*
 * sma__object_live for a caller's offset: without the lock a look may
 * cross blocks another thread is splitting or merging and miss a live
 * object; one that says no is asked again under the lock on a writable
 * handle.
 */
static int live_object(struct sma *a, uint64_t off, uint64_t *usable, unsigned *kind)
{
	if (LIKELY(sma__object_live(a, off, usable, kind)))
		return 1;
	if ((a->flags & SMA_RDONLY) || sma__lock_held(a) || sma__lock_look(a) < 0)
		return 0;
	int live = sma__object_live(a, off, usable, kind);
	sma__unlock(a);
	return live;
}

/* sma_free of a non-null offset on a writable handle; tell: a tool
 * watches. */
FAST int free_body(struct sma *a, sma_off_t off, int tell)
{
	if (UNLIKELY((off & 15) || (off >= a->size && (off <= OFF_MASK || !in_heap(a, off, 0))))) {
		errno = EINVAL;
		return -1;
	}
	unsigned idx;
	struct slab *s = slab_of(a, off, &idx);
	if (s) {
		struct live_ref lr = { &s->live[idx >> 6], 1ull << (idx & 63) };
		int rc = sma__cache_free(a, off, s->cls, class_size[s->cls], lr);
		if (tell && rc == 0)
			mc_free_cached(a, off, class_size[s->cls]);
		if (rc <= 0)
			return rc;
		return free_taking_lock(a, off);
	}
	/* A medium block goes to this thread's cache when the look without
	 * the lock finds it live; anything else is decided under the lock. */
	uint64_t b = sma__heap_block_of(a, off);
	uint64_t w = b ? hw_load(a, b) : 0;
	uint64_t usable = hw_size(w) - BLOCK_OVERHEAD;
	if (b && !(w & BF_FREE) && (w & BF_LIVE) && hw_kind(w) == KIND_USER && usable > SMALL_MAX &&
	    usable <= CACHE_MAX) {
		struct live_ref lr = { bhdr(a, b), BF_LIVE };
		int rc = sma__cache_free(a, off, size_class(usable), usable, lr);
		if (tell && rc == 0)
			mc_free_cached(a, off, usable);
		if (rc <= 0)
			return rc;
	}
	return free_taking_lock(a, off);
}

static __attribute__((noinline)) int free_unusual(struct sma *a, sma_off_t off)
{
	if (!handle_writable(a))
		return -1;
	return free_body(a, off, 1);
}

int sma_free(sma_t *a, sma_off_t off)
{
	if (off == SMA_NULL)
		return 0;
	if (UNLIKELY(!a || (a->flags & SMA_RDONLY) || a->mc)) {
		int rc = free_unusual(a, off);
		__asm__ volatile("" ::: "memory");
		return rc;
	}
	return free_body(a, off, 0);
}

sma_off_t sma_realloc(sma_t *a, sma_off_t off, size_t size)
{
	if (off == SMA_NULL)
		return sma_alloc(a, size);
	if (!handle_writable(a))
		return SMA_NULL;
	uint64_t usable;
	unsigned kind;
	if (!live_object(a, off, &usable, &kind)) {
		errno = EINVAL;
		return SMA_NULL;
	}
	if (kind == KIND_NAMED) {
		errno = EBUSY;
		return SMA_NULL;
	}
	if (size == 0) {
		if (sma_free(a, off) < 0)
			return SMA_NULL; /* errno from sma_free */
		errno = 0;
		return SMA_NULL;
	}
	if (size > a->h->heap_size && !LOAD(a->h->limit)) {
		errno = ENOMEM;
		return SMA_NULL;
	}
	int small = sma__heap_block_of(a, off) == 0;
	if (size <= usable && (small || size > SMALL_MAX) && usable - size < usable / 2)
		return off;
	if (!small && size > SMALL_MAX) {
		/* Grow or shrink in place when the neighbour allows. */
		if (sma__lock(a) < 0)
			return SMA_NULL;
		uint64_t b = off - BLOCK_HDR;
		sma__op_begin(a, LOP_RESIZE);
		sma__op_object(a, off, usable);
		int ok = (hw_load(a, b) & BF_LIVE) && sma__heap_resize_locked(a, b, size) == 0;
		if (ok) {
			uint64_t now = hw_size(hw_load(a, b)) - BLOCK_OVERHEAD;
			BUMP(a->h->used, now - usable);
		}
		sma__op_end(a);
		sma__unlock(a);
		if (ok) {
			mc_resize(a, off, hw_size(hw_load(a, b)) - BLOCK_OVERHEAD);
			return off;
		}
	}
	sma_off_t n = sma_alloc(a, size);
	if (!n)
		return SMA_NULL;
	memcpy(at(a, n), at(a, off), usable < size ? usable : size);
	if (sma_free(a, off) < 0) {
		/* Freed by another thread meanwhile: the caller's offset was
		 * not its to move.  Nothing of the new object is kept. */
		int e = errno;
		sma_free(a, n);
		errno = e;
		return SMA_NULL;
	}
	return n;
}

size_t sma_usable_size(sma_t *a, sma_off_t off)
{
	uint64_t usable;
	if (!a || !live_object(a, off, &usable, NULL)) {
		errno = EINVAL;
		return 0;
	}
	return usable;
}

static __attribute__((noinline)) void *ptr_slow(const sma_t *a, sma_off_t off)
{
	return a && off ? at_checked(a, off) : NULL;
}

void *sma_ptr(const sma_t *a, sma_off_t off)
{
	if (LIKELY(a && off - 1 < OFF_MASK)) /* 0 < off <= OFF_MASK */
		return a->base + off;
	return ptr_slow(a, off);
}

sma_off_t sma_off(const sma_t *a, const void *p)
{
	if (!a || !p)
		return SMA_NULL;
	const char *c = p;
	if (c >= a->base && c < a->base + a->size)
		return (sma_off_t)(c - a->base);
	return sma__off_slow(a, p);
}

int sma_flush(sma_t *a)
{
	if (!handle_writable(a))
		return -1;
	sma__cache_flush_self(a);
	return 0;
}
