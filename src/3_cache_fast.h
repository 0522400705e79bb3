/*
 * 3_cache_fast.h -- the lock-free halves of allocation and free through a
 * thread's cache.  3_cache.c owns the structures and the protocol (its top
 * comment says why every step can be repaired); these halves are inline
 * so that sma_alloc and sma_free make no call on a cache hit, and the slow
 * halves (refill, flush, taking a slot) stay out of line in 3_cache.c.
 */
#ifndef SMA_CACHE_FAST_H
#define SMA_CACHE_FAST_H

#include "3_cache.h"

/* This thread's slot on a, taking one if it has none; NULL: work without. */
FAST struct tref *sma__tref_take(struct sma *a)
{
	if (LIKELY(sma__t_ref[0].hid == a->hid && sma__t_ref[0].slot != NULL))
		return &sma__t_ref[0];
	return sma__tref_take_slow(a);
}

/* Marks a cached object live.  Its entry was checked when it entered the
 * cache, so the slab is found straight from the page map. */
FAST void set_live(struct sma *a, uint64_t off, unsigned cls)
{
	if (cls < NSMALL) {
		uint64_t p = (uint64_t)(pm_load(a, off >> PAGE_SHIFT) & PM_VAL) << PAGE_SHIFT;
		struct slab *s = LIKELY(off <= OFF_MASK) ? (struct slab *)(a->base + p)
							 : (struct slab *)at(a, seg_start(off) | p);
		unsigned idx = slab_index(cls, (off & OFF_MASK) - p - SLAB_HDR);
		atomic_fetch_or_explicit(&s->live[idx >> 6], 1ull << (idx & 63), memory_order_acq_rel);
	} else {
		atomic_fetch_or_explicit(bhdr(a, off - BLOCK_HDR), BF_LIVE, memory_order_acq_rel);
	}
}

FAST uint64_t pop(struct sma *a, struct slot *s, struct cache_block *c, unsigned cls)
{
	uint32_t n = LOAD(c->count[cls]);
	uint64_t e = c->entry[a->cbase[cls] + n - 1];
	uint64_t x = entry_off(e);
	STORE(s->inf_ctr, LOAD(s->allocs));
	STORE(s->inf_used, LOAD(s->used));
	atomic_store_explicit(&s->inf, x | INF_POP, memory_order_release);
	STEP();
	STORE(c->count[cls], n - 1);
	STEP();
	set_live(a, x, cls);
	STEP();
	uint64_t usable = cls < NSMALL ? class_size[cls] : entry_usable(e);
	BUMP(s->used, usable);
	STEP();
	BUMP(s->allocs, 1);
	if (cls >= NSMALL)
		BUMP(s->cached_bytes, (uint64_t)0 - usable);
	STEP();
	atomic_store_explicit(&s->inf, 0, memory_order_release);
	return x;
}

/* Brings a cached block of class cls with at least size usable bytes to
 * the top of its list (looking at the top few); 1 if there is one. */
FAST int fit_top(const struct sma *a, struct cache_block *c, unsigned cls, size_t size)
{
	uint32_t n = LOAD(c->count[cls]);
	uint64_t *e = &c->entry[a->cbase[cls]];
	for (uint32_t i = n, k = 0; i > 0 && k < 4; i--, k++) {
		if (entry_usable(e[i - 1]) >= size) {
			/* (stores a checker under the lock may read) */
			uint64_t t = e[i - 1];
			STORE(e[i - 1], e[n - 1]);
			STORE(e[n - 1], t);
			return 1;
		}
	}
	return 0;
}

/*
 * Allocation through this thread's cache.  0 with *off set; 1 when the
 * caller must take the locked path (no slot, or a medium miss); -1 with
 * errno on failure.
 */
FAST int sma__cache_alloc(struct sma *a, unsigned cls, size_t size, uint64_t *off)
{
	struct tref *r = sma__tref_take(a);
	if (!r)
		return 1;
	struct slot *s = r->slot;
	struct cache_block *c = r->c;
	BUMP(s->req[cls], 1);
	if (cls >= NSMALL) {
		/* A block of this class that fits, or any of the next class. */
		if (LOAD(c->count[cls]) && fit_top(a, c, cls, size)) {
			*off = pop(a, s, c, cls);
			return 0;
		}
		if (cls + 1 < NCLASSES && LOAD(c->count[cls + 1])) {
			*off = pop(a, s, c, cls + 1);
			return 0;
		}
		return 1;
	}
	if (UNLIKELY(LOAD(c->count[cls]) == 0)) {
		int rc = sma__cache_refill(a, r, cls);
		if (rc)
			return rc;
	}
	*off = pop(a, s, c, cls);
	return 0;
}

/*
 * Frees through this thread's cache an object the caller has identified
 * (its class, its usable size, small or medium).  0; 1 when the caller
 * must take the locked path; -1 with EINVAL if it is not live.
 */
FAST int sma__cache_free(struct sma *a, uint64_t off, unsigned cls, uint64_t usable, struct live_ref lr)
{
	struct tref *r = sma__tref_take(a);
	if (!r)
		return 1;
	struct slot *s = r->slot;
	struct cache_block *c = r->c;
	uint32_t n = LOAD(c->count[cls]);
	if (UNLIKELY(n >= a->ccap[cls] || (cls >= NSMALL && LOAD(s->cached_bytes) + usable > a->h->cache_budget))) {
		if (sma__cache_make_room(a, r, cls, usable) < 0)
			return -1;
		n = LOAD(c->count[cls]);
	}
	STORE(s->inf_ctr, LOAD(s->frees));
	STORE(s->inf_used, LOAD(s->used));
	atomic_store_explicit(&s->inf, off | INF_PUSH, memory_order_release);
	STEP();
	uint64_t old = atomic_fetch_and_explicit(lr.word, ~lr.bit, memory_order_acq_rel) & lr.bit;
	if (!old) {
		atomic_store_explicit(&s->inf, 0, memory_order_release);
		errno = EINVAL;
		return -1;
	}
	STEP();
	STORE(c->entry[a->cbase[cls] + n], cls < NSMALL ? off : entry_make(off, usable));
	STEP();
	STORE(c->count[cls], n + 1);
	STEP();
	BUMP(s->used, (uint64_t)0 - usable);
	STEP();
	BUMP(s->frees, 1);
	if (cls >= NSMALL)
		BUMP(s->cached_bytes, usable);
	STEP();
	atomic_store_explicit(&s->inf, 0, memory_order_release);
	return 0;
}

#endif /* SMA_CACHE_FAST_H */
