/*
 * 5_walk.c -- sma_walk: every live object and every free extent or slot,
 * in offset order.  Reads the segment as untrusted input (bounds-checked
 * offsets, bounded loops).
 */
#include "1_lock.h"
#include "2_heap.h"
#include "3_cache.h"

typedef int (*walk_fn)(sma_off_t off, size_t size, int in_use, void *arg);

static int walk_slab(const struct sma *a, uint64_t p, walk_fn fn, void *arg)
{
	unsigned idx;
	const struct slab *s = slab_of(a, p + SLAB_HDR, &idx);
	if (!s)
		return -2;
	uint64_t size = class_size[s->cls];
	for (unsigned i = 0; i < s->nobj; i++) {
		uint64_t bit = 1ull << (i & 63);
		int live = (atomic_load(&s->live[i >> 6]) & bit) != 0;
		int rc = fn(p + SLAB_HDR + i * size, size, live, arg);
		if (rc)
			return rc;
	}
	return 0;
}

/* The blocks of the heap [lo, end) of one segment. */
static int walk_seg(const struct sma *a, uint64_t lo, uint64_t end, walk_fn fn, void *arg)
{
	uint64_t b = lo;
	uint64_t limit = (end - lo) / MIN_BLOCK + 1;
	while (b < end && limit--) {
		uint64_t w = hw_load(a, b), size = hw_size(w);
		if (!hw_tag_ok(b, w) || size < MIN_BLOCK || b + size > end)
			return -2;
		int rc = 0;
		unsigned k = hw_kind(w);
		if (w & BF_FREE)
			rc = fn(b + BLOCK_HDR, size - BLOCK_OVERHEAD, 0, arg);
		else if (k == KIND_USER || k == KIND_NAMED)
			rc = fn(b + BLOCK_HDR, size - BLOCK_OVERHEAD, (w & BF_LIVE) != 0, arg);
		else if (k == KIND_SLAB)
			rc = walk_slab(a, b + BLOCK_HDR, fn, arg);
		if (rc)
			return rc;
		b += size;
	}
	return b == end ? 0 : -2;
}

static int walk_impl(const struct sma *a, walk_fn fn, void *arg)
{
	int rc = 0;
	for (unsigned k = 0; !rc && k < nsegs_of(a); k++) {
		uint64_t lo, end;
		rc = seg_k_heap(a, k, &lo, &end) ? walk_seg(a, lo, end, fn, arg) : -2;
	}
	return rc;
}

int sma_walk(sma_t *a, walk_fn fn, void *arg)
{
	if (!a || !fn) {
		errno = EINVAL;
		return -1;
	}
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a))
		sma__cache_flush_self(a); /* as sma_stats does: the two agree */
	int locked = sma__lock_reader(a);
	int rc = walk_impl(a, fn, arg);
	if (locked)
		sma__unlock(a);
	if (rc == -2) {
		errno = EBADMSG;
		return -1;
	}
	return rc;
}

