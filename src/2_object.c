/*
 * 2_object.c -- the object layer: is this offset a live object (of which
 * kind and usable size), its class, and giving a dead object's memory back
 * to its slab or to the heap.  Reads only what it has bounds-checked.
 */
#include "2_object.h"
#include "2_heap.h"
#include "2_slab.h"
#include "1_lock.h"

/*
 * 1 if off is a live object, with its usable size and kind; 0 if not.
 * Lock free: reads only checked metadata.
 */
int sma__object_live(const struct sma *a, uint64_t off, uint64_t *usable, unsigned *kind)
{
	if ((off & 15) || !in_heap(a, off, 0))
		return 0;
	unsigned idx;
	struct slab *s = slab_of(a, off, &idx);
	if (s) {
		if (!(atomic_load(&s->live[idx >> 6]) & (1ull << (idx & 63))))
			return 0;
		if (usable)
			*usable = class_size[s->cls];
		if (kind)
			*kind = KIND_USER;
		return 1;
	}
	uint64_t b = sma__heap_block_of(a, off);
	if (!b)
		return 0;
	uint64_t w = hw_load(a, b);
	unsigned k = hw_kind(w);
	if ((w & BF_FREE) || !(w & BF_LIVE) || (k != KIND_USER && k != KIND_NAMED))
		return 0;
	if (usable)
		*usable = hw_size(w) - BLOCK_OVERHEAD;
	if (kind)
		*kind = k;
	return 1;
}

/* Gives a no-longer-live object back to its slab or the heap (the caller
 * cleared its live bit).  Does nothing if it is already back. */
int sma__free_object_locked(struct sma *a, uint64_t off)
{
	DASSERT(sma__lock_held(a));
	unsigned idx;
	struct slab *s = slab_of(a, off, &idx);
	if (s) {
		if (!(atomic_load(&s->live[idx >> 6]) & (1ull << (idx & 63))))
			sma__slab_put_locked(a, s, idx);
		return 0;
	}
	uint64_t b = sma__heap_block_of(a, off);
	if (!b)
		return -1;
	uint64_t w = hw_load(a, b);
	if (w & (BF_FREE | BF_LIVE))
		return -1;
	sma__heap_free_locked(a, b);
	return 0;
}

/* Which class caches the object at off: its slab's, or its usable size's
 * for a medium heap block; NCLASSES if no cache holds such an object. */
uint64_t sma__object_class(const struct sma *a, uint64_t off)
{
	unsigned idx;
	const struct slab *s = slab_of(a, off, &idx);
	if (s)
		return s->cls;
	uint64_t b = sma__heap_block_of(a, off);
	if (!b)
		return NCLASSES;
	uint64_t usable = hw_size(hw_load(a, b)) - BLOCK_OVERHEAD;
	if (usable <= SMALL_MAX || usable > CACHE_MAX)
		return NCLASSES;
	return size_class(usable);
}
