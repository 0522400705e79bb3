/*
 * 2_heap.c -- the blocks of the heap: a two-level segregated fit (TLSF) with
 * boundary tags and immediate coalescing, and the page map.
 *
 *   heap_off                                                  heap_end
 *   +--------+----------+--------+--- ... ---+--------+-------+--------+
 *   | block  | block    | block  |           | block  | block | sentinel (size 0)
 *   +--------+----------+--------+--- ... ---+--------+-------+--------+
 *
 * The layout of one block is drawn in 0_layout.h.  Free blocks sit on one
 * of FL_COUNT x SL_COUNT lists (heads[fl][sl], linked through their
 * payload); fl_bitmap and sl_bitmap say which lists are non-empty, so that
 * finding a block is a few bit scans whatever the number of blocks.
 *
 * Invariants (sma_check cites them):
 *   H1  the blocks tile [heap_off, heap_end) exactly, each with a valid tag
 *       and a size that is a multiple of 16 and at least MIN_BLOCK; the
 *       sentinel at heap_end has size 0.
 *   H2  no two free blocks are adjacent (coalescing is immediate).
 *   H3  a block's BF_PREV_FREE is set exactly when the block before it is
 *       free, and then its prev_phys equals that block's size.
 *   H4  every free block is on exactly the list tlsf_mapping() names for its
 *       size, and every listed block is free; the bitmaps match the lists.
 *   H5  heap_free_bytes and heap_free_blocks count the free blocks.
 *   H6  a free block has neither BF_LIVE nor a kind other than user.
 *   H7  the page map: PM_FIRST of a page names the first block starting in
 *       it; a page in which no block starts holds 0 or PM_SLAB.
 *
 * Crash order.  Each step of a split, merge or resize is one store of a
 * header word, ordered so that the blocks always tile the heap (H1): a new
 * block's header is written while it is still inside a larger block, and
 * only then does the larger block shrink to uncover it; a merge grows one
 * block over its neighbour in one store.  A block is marked free before it
 * is merged, so a walk after a crash finds at worst two adjacent free
 * blocks, which it merges.  Lists, bitmaps, H3, H5 and H7 are derived and
 * rebuilt by sma__heap_rebuild_locked().
 */
#include "2_heap.h"
#include "1_lock.h"
#include "1_segs.h"

/* ---- lists --------------------------------------------------------------- */

static inline uint64_t *lnext(const struct sma *a, uint64_t b) { return (uint64_t *)at(a, b + BLOCK_HDR); }
static inline uint64_t *lprev(const struct sma *a, uint64_t b) { return (uint64_t *)at(a, b + 24); }

static void list_insert(struct sma *a, uint64_t b, uint64_t size)
{
	struct sma_header *h = a->h;
	unsigned fl, sl;
	tlsf_mapping(size, &fl, &sl);
	uint64_t head = h->heads[fl][sl];
	*lnext(a, b) = head;
	*lprev(a, b) = 0;
	if (head)
		*lprev(a, head) = b;
	h->heads[fl][sl] = b;
	h->sl_bitmap[fl] |= 1u << sl;
	h->fl_bitmap |= 1ull << fl;
	h->heap_free_bytes += size;
	h->heap_free_blocks++;
}

static void list_remove(struct sma *a, uint64_t b, uint64_t size)
{
	struct sma_header *h = a->h;
	unsigned fl, sl;
	tlsf_mapping(size, &fl, &sl);
	uint64_t next = *lnext(a, b), prev = *lprev(a, b);
	if (next)
		*lprev(a, next) = prev;
	if (prev)
		*lnext(a, prev) = next;
	if (h->heads[fl][sl] == b) {
		h->heads[fl][sl] = next;
		if (!next) {
			h->sl_bitmap[fl] &= ~(1u << sl);
			if (!h->sl_bitmap[fl])
				h->fl_bitmap &= ~(1ull << fl);
		}
	}
	h->heap_free_bytes -= size;
	h->heap_free_blocks--;
}

/* The first block on a list that holds only blocks of at least size. */
static uint64_t list_find(struct sma *a, uint64_t size)
{
	struct sma_header *h = a->h;
	unsigned fl, sl;
	if (size >= (1u << FL_SHIFT))
		size += (1ull << (msb64(size) - SL_LOG2)) - 1;
	tlsf_mapping(size, &fl, &sl);
	if (fl >= FL_COUNT)
		return 0;
	uint32_t slmap = h->sl_bitmap[fl] & (~0u << sl) & SL_MASK;
	if (!slmap) {
		uint64_t flmap = fl + 1 < 64 ? h->fl_bitmap & (~0ull << (fl + 1)) : 0;
		if (!flmap)
			return 0;
		fl = (unsigned)__builtin_ctzll(flmap);
		if (fl >= FL_COUNT)
			return 0;
		slmap = h->sl_bitmap[fl] & SL_MASK;
		if (!slmap)
			return 0;
	}
	sl = (unsigned)__builtin_ctz(slmap);
	return h->heads[fl][sl];
}

/* When no list holds only blocks large enough, the list of the request's
 * own size may still hold one: look through it (so that the largest free
 * block can always be had). */
static uint64_t list_first_fit(struct sma *a, uint64_t size)
{
	struct sma_header *h = a->h;
	unsigned fl, sl;
	tlsf_mapping(size, &fl, &sl);
	if (fl >= FL_COUNT)
		return 0;
	uint64_t b = h->heads[fl][sl];
	for (uint64_t n = max_blocks(a); b && n--; b = *lnext(a, b)) {
		if (!in_heap(a, b, MIN_BLOCK) || (b & 15))
			return 0;
		if (hw_size(hw_load(a, b)) >= size)
			return b;
	}
	return 0;
}

/* ---- the page map --------------------------------------------------------- */

static void pm_set_first(struct sma *a, uint64_t b)
{
	uint64_t p = b >> PAGE_SHIFT;
	uint32_t pos = (uint32_t)((b & (PAGE - 1)) >> 4);
	uint32_t e = pm_load(a, p);
	if (!(e & PM_FIRST) || (e & PM_VAL) > pos)
		pm_store(a, p, PM_FIRST | pos);
}

/* Block b is gone (merged into its neighbour); next is the block that
 * followed it. */
static void pm_clear_first(struct sma *a, uint64_t b, uint64_t next)
{
	uint64_t p = b >> PAGE_SHIFT;
	uint32_t pos = (uint32_t)((b & (PAGE - 1)) >> 4);
	if (pm_load(a, p) != (PM_FIRST | pos))
		return;
	if ((next >> PAGE_SHIFT) == p)
		pm_store(a, p, PM_FIRST | (uint32_t)((next & (PAGE - 1)) >> 4));
	else
		pm_store(a, p, 0);
}

/* ---- the heap ------------------------------------------------------------- */

/* Lays out the heap [lo, end) of one segment: one free block and the
 * sentinel, in the page map; not yet on a list. */
static void lay_out(struct sma *a, uint64_t lo, uint64_t end)
{
	uint64_t size = end - lo;
	atomic_store(bhdr(a, end), hw_make(end, 0, KIND_INTERNAL, BF_PREV_FREE));
	*bprev(a, end) = size;
	atomic_store(bhdr(a, lo), hw_make(lo, size, KIND_USER, BF_FREE));
	pm_set_first(a, lo);
	pm_set_first(a, end);
}

void sma__heap_init(struct sma *a)
{
	struct sma_header *h = a->h;
	lay_out(a, h->heap_off, h->heap_end);
	list_insert(a, h->heap_off, h->heap_end - h->heap_off);
	h->heap_size = h->heap_end - h->heap_off - BLOCK_OVERHEAD;
}

/* The size of the segment that growth adds for a block of need bytes (0:
 * none may be added): as large as the arena so far, at least large enough
 * for the block, and no larger than the limit leaves. */
static uint64_t grow_size(const struct sma *a, uint64_t need)
{
	const struct sma_header *h = a->h;
	uint64_t total = LOAD(h->total_size), limit = LOAD(h->limit);
	if (!limit || total >= limit || need > OFF_MASK / 2)
		return 0;
	uint64_t room = (limit - total) & ~(uint64_t)(PAGE - 1);
	uint64_t least = (need + need / 512 + 2 * PAGE + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	while (sma__seg_heap_bytes(least) < need)
		least += PAGE;
	uint64_t want = total > least ? total : least;
	if (want > room)
		want = room;
	return want >= least ? want : 0;
}

static int grow_locked(struct sma *a, uint64_t need);

int sma__heap_grow_locked(struct sma *a, uint64_t usable, uint64_t align)
{
	DASSERT(sma__lock_held(a));
	if (usable > OFF_MASK / 2)
		return 0;
	uint64_t need = (usable + BLOCK_OVERHEAD + 15) & ~15ull;
	if (need < MIN_BLOCK)
		need = MIN_BLOCK;
	if (align > ALIGN)
		need += align + MIN_BLOCK;
	return grow_locked(a, need);
}

/* Adds a segment holding a free block of at least need bytes (1_segs.c);
 * 1 if it did. */
static int grow_locked(struct sma *a, uint64_t need)
{
	struct sma_header *h = a->h;
	uint64_t size = grow_size(a, need);
	unsigned k;
	if (!size || sma__seg_add_locked(a, size, &k) < 0)
		return 0;
	uint64_t lo = h->segs[k].heap_off, end = h->segs[k].heap_end;
	lay_out(a, lo, end);
	STEP();
	sma__seg_publish_locked(a, k);
	list_insert(a, lo, end - lo);
	h->heap_size += end - lo - BLOCK_OVERHEAD;
	/* A thread may cache as much of the larger heap as of a heap made
	 * that large (5_open.c). */
	if (h->heap_size / 64 > LOAD(h->cache_budget))
		STORE(h->cache_budget, h->heap_size / 64);
	STEP();
	sma__grow_end(a);
	return 1;
}

static inline void set_prev_free(struct sma *a, uint64_t b, uint64_t prev_size)
{
	*bprev(a, b) = prev_size;
	atomic_fetch_or_explicit(bhdr(a, b), BF_PREV_FREE, memory_order_release);
}

static inline void clear_prev_free(struct sma *a, uint64_t b)
{
	atomic_fetch_and_explicit(bhdr(a, b), ~BF_PREV_FREE, memory_order_release);
}

/*
 * A block whose payload holds usable bytes aligned to align (a power of
 * two, at least 16), of the given kind; its offset, or 0 if no free block
 * is large enough.  User and named blocks are born live.
 */
uint64_t sma__heap_alloc_locked(struct sma *a, uint64_t usable, uint64_t align, unsigned kind)
{
	DASSERT(sma__lock_held(a));
	if (usable > OFF_MASK / 2)
		return 0;
	uint64_t need = (usable + BLOCK_OVERHEAD + 15) & ~15ull;
	if (need < MIN_BLOCK)
		need = MIN_BLOCK;
	uint64_t search = align > ALIGN ? need + align + MIN_BLOCK : need;

	uint64_t b = list_find(a, search);
	if (!b)
		b = list_first_fit(a, search);
	if (!b)
		return 0;
	uint64_t w = hw_load(a, b), size = hw_size(w);
	list_remove(a, b, size);

	if (align > ALIGN) {
		uint64_t gap = (align - ((b + BLOCK_HDR) & (align - 1))) & (align - 1);
		if (gap && gap < MIN_BLOCK)
			gap += align;
		if (gap) {
			/* Keep the front as a free block of its own. */
			uint64_t b2 = b + gap;
			atomic_store(bhdr(a, b2), hw_make(b2, size - gap, KIND_USER, BF_FREE | BF_PREV_FREE));
			*bprev(a, b2) = gap;
			STEP();
			atomic_store(bhdr(a, b), hw_make(b, gap, KIND_USER, BF_FREE | (w & BF_PREV_FREE)));
			pm_set_first(a, b2);
			list_insert(a, b, gap);
			b = b2;
			size -= gap;
			w = hw_load(a, b);
		}
	}

	uint64_t flags = (kind == KIND_USER || kind == KIND_NAMED) ? BF_LIVE : 0;
	if (flags)
		sma__op_object(a, b + BLOCK_HDR, 0); /* so that a repair can count it */
	uint64_t rem = size - need;
	if (rem >= MIN_BLOCK) {
		uint64_t r = b + need, n = b + size;
		atomic_store(bhdr(a, r), hw_make(r, rem, KIND_USER, BF_FREE));
		*bprev(a, n) = rem;
		STEP();
		atomic_store(bhdr(a, b), hw_make(b, need, kind, flags | (w & BF_PREV_FREE)));
		pm_set_first(a, r);
		list_insert(a, r, rem);
	} else {
		atomic_store(bhdr(a, b), hw_make(b, size, kind, flags | (w & BF_PREV_FREE)));
		STEP();
		clear_prev_free(a, b + size);
	}
	return b;
}

/*
 * Gives block b back to the heap and merges it with free neighbours.  The
 * caller has checked that b is a block in use and cleared BF_LIVE.
 */
void sma__heap_free_locked(struct sma *a, uint64_t b)
{
	DASSERT(sma__lock_held(a));
	uint64_t w = hw_load(a, b), size = hw_size(w);
	uint64_t prev_free = w & BF_PREV_FREE;

	/* Debug builds poison what the object held (past the list links the
	 * block is about to get), so that a use after free reads garbage. */
	if (SMA_DEBUG && size > BLOCK_HDR + 16)
		memset(at(a, b + BLOCK_HDR + 16), POISON_BYTE, size - BLOCK_HDR - 16);
	atomic_store(bhdr(a, b), hw_make(b, size, KIND_USER, BF_FREE | prev_free));
	STEP();

	uint64_t n = b + size;
	uint64_t nw = hw_load(a, n);
	if ((nw & BF_FREE) && hw_size(nw)) {
		uint64_t nsize = hw_size(nw);
		list_remove(a, n, nsize);
		size += nsize;
		atomic_store(bhdr(a, b), hw_make(b, size, KIND_USER, BF_FREE | prev_free));
		pm_clear_first(a, n, n + nsize);
		STEP();
	}
	if (prev_free) {
		uint64_t psize = *bprev(a, b), p = b - psize;
		uint64_t pw = hw_load(a, p);
		if (psize <= b && seg_index(p) == seg_index(b) && in_heap(a, p, psize) && hw_tag_ok(p, pw) && (pw & BF_FREE) && hw_size(pw) == psize) {
			list_remove(a, p, psize);
			atomic_store(bhdr(a, p), hw_make(p, psize + size, KIND_USER, BF_FREE | (pw & BF_PREV_FREE)));
			pm_clear_first(a, b, b + size);
			b = p;
			size += psize;
			STEP();
		}
	}
	set_prev_free(a, b + size, size);
	list_insert(a, b, size);
}

/*
 * Grows or shrinks block b in place to hold usable bytes; 0, or -1 if the
 * block cannot grow there.  Its kind and flags stay.
 */
int sma__heap_resize_locked(struct sma *a, uint64_t b, uint64_t usable)
{
	DASSERT(sma__lock_held(a));
	if (usable > OFF_MASK / 2)
		return -1;
	uint64_t w = hw_load(a, b), size = hw_size(w);
	uint64_t need = (usable + BLOCK_OVERHEAD + 15) & ~15ull;
	if (need < MIN_BLOCK)
		need = MIN_BLOCK;
	if (need <= size) {
		uint64_t rem = size - need;
		if (rem < MIN_BLOCK)
			return 0;
		uint64_t r = b + need, n = b + size;
		uint64_t nw = hw_load(a, n);
		int merge = (nw & BF_FREE) && hw_size(nw);
		uint64_t rsize = rem + (merge ? hw_size(nw) : 0);
		if (merge)
			list_remove(a, n, hw_size(nw));
		atomic_store(bhdr(a, r), hw_make(r, rsize, KIND_USER, BF_FREE));
		STEP();
		atomic_store(bhdr(a, b), (hw_load(a, b) & ~B_SIZE_MASK) | need);
		if (merge)
			pm_clear_first(a, n, n + hw_size(nw));
		pm_set_first(a, r);
		set_prev_free(a, r + rsize, rsize);
		list_insert(a, r, rsize);
		return 0;
	}

	uint64_t n = b + size;
	uint64_t nw = hw_load(a, n);
	if (!(nw & BF_FREE) || !hw_size(nw) || size + hw_size(nw) < need)
		return -1;
	uint64_t nsize = hw_size(nw), total = size + nsize, rem = total - need;
	list_remove(a, n, nsize);
	if (rem >= MIN_BLOCK) {
		uint64_t r = b + need;
		atomic_store(bhdr(a, r), hw_make(r, rem, KIND_USER, BF_FREE));
		*bprev(a, b + total) = rem;
		STEP();
		atomic_store(bhdr(a, b), (hw_load(a, b) & ~B_SIZE_MASK) | need);
		pm_clear_first(a, n, b + total);
		pm_set_first(a, r);
		list_insert(a, r, rem);
	} else {
		atomic_store(bhdr(a, b), (hw_load(a, b) & ~B_SIZE_MASK) | total);
		STEP();
		pm_clear_first(a, n, b + total);
		clear_prev_free(a, b + total);
	}
	return 0;
}

/*
 * The heap block whose object is at off, or 0 if off is not the start of
 * a block's payload.  Reads only bounds-checked headers; never locks.
 */
uint64_t sma__heap_block_of(const struct sma *a, uint64_t off)
{
	uint64_t lo, hi;
	if (!seg_heap(a, off, &lo, &hi) || off < lo + BLOCK_HDR || off >= hi || (off & 15))
		return 0;
	uint64_t b = off - BLOCK_HDR, p = b >> PAGE_SHIFT;
	uint32_t e = pm_load(a, p);
	if (!(e & PM_FIRST))
		return 0;
	uint64_t cur = (p << PAGE_SHIFT) + (uint64_t)(e & PM_VAL) * 16;
	for (int i = 0; i <= (int)(PAGE / MIN_BLOCK) && cur <= b; i++) {
		if (cur < lo || cur >= hi)
			return 0;
		uint64_t w = hw_load(a, cur);
		uint64_t sz = hw_size(w);
		if (!hw_tag_ok(cur, w) || sz < MIN_BLOCK)
			return 0;
		if (cur == b)
			return b;
		cur += sz;
	}
	return 0;
}

/* The usable size of the largest free block. */
uint64_t sma__heap_largest_locked(const struct sma *a)
{
	const struct sma_header *h = a->h;
	if (!h->fl_bitmap)
		return 0;
	unsigned fl = msb64(h->fl_bitmap);
	uint32_t slmap = fl < FL_COUNT ? h->sl_bitmap[fl] & SL_MASK : 0;
	if (!slmap)
		return 0;
	unsigned sl = 31u - (unsigned)__builtin_clz(slmap); /* a scribbled map
							       names no list past SL_COUNT */
	uint64_t best = 0;
	uint64_t b = h->heads[fl][sl];
	for (uint64_t i = 0; b && i < max_blocks(a); i++) {
		if (!in_heap(a, b, MIN_BLOCK) || (b & 15))
			break;
		uint64_t sz = hw_size(hw_load(a, b));
		if (sz > best)
			best = sz;
		b = *(const uint64_t *)at(a, b + BLOCK_HDR);
	}
	return best > BLOCK_OVERHEAD ? best - BLOCK_OVERHEAD : 0;
}

/* The page-map entries of pages from *next up to (not including) the
 * page of block b, which is a block start: those pages hold no block start
 * (slab pages are written by the slab's rebuild).  Writes only entries
 * that are wrong: threads read the map without the lock. */
static void pm_settle(struct sma *a, uint64_t *next, uint64_t b, uint64_t slab_lo, uint64_t slab_hi)
{
	uint64_t pg = b >> PAGE_SHIFT;
	for (uint64_t q = *next; q < pg; q++) {
		if (q >= slab_lo && q < slab_hi)
			continue;
		if (pm_load(a, q) != 0)
			pm_store(a, q, 0);
	}
	if (*next <= pg) {
		uint32_t want = PM_FIRST | (uint32_t)((b & (PAGE - 1)) >> 4);
		if (pm_load(a, pg) != want)
			pm_store(a, pg, want);
		*next = pg + 1;
	}
}

/*
 * Rebuilds everything derived from the blocks (H2-H5, H7, and through
 * visit_slab the slabs' lists and counts) by one walk, merging free
 * neighbours left apart by a death.  0, or -1 if the blocks themselves are
 * broken (H1), in which case nothing past the break is touched.
 */
/* The rebuild of one segment's heap [lo, end); 0, or -1 if its blocks do
 * not tile it. */
static int rebuild_seg(struct sma *a, uint64_t lo, uint64_t end, int (*visit_slab)(struct sma *a, uint64_t p))
{
	uint64_t pm_next = lo >> PAGE_SHIFT, slab_lo = 0, slab_hi = 0;
	uint64_t b = lo, pend = 0, pend_size = 0;
	int rc = 0;
	while (b < end) {
		uint64_t w = hw_load(a, b), size = hw_size(w);
		if (!hw_tag_ok(b, w) || size < MIN_BLOCK || b + size > end) {
			rc = -1;
			break;
		}
		if (w & BF_FREE) {
			if (pend) {
				/* Two free neighbours: a death stopped a merge. */
				pend_size += size;
				atomic_store(bhdr(a, pend), hw_make(pend, pend_size, KIND_USER, BF_FREE));
				STEP();
				b += size;
				continue;
			}
			atomic_store(bhdr(a, b), hw_make(b, size, KIND_USER, BF_FREE));
			pm_settle(a, &pm_next, b, slab_lo, slab_hi);
			pend = b;
			pend_size = size;
			b += size;
			continue;
		}
		pm_settle(a, &pm_next, b, slab_lo, slab_hi);
		if (pend) {
			list_insert(a, pend, pend_size);
			set_prev_free(a, b, pend_size);
			pend = 0;
		} else {
			clear_prev_free(a, b);
		}
		if (hw_kind(w) == KIND_SLAB) {
			if (visit_slab(a, b + BLOCK_HDR) < 0)
				rc = -1;
			STEP();
			slab_lo = (b + BLOCK_HDR) >> PAGE_SHIFT;
			slab_hi = (b + BLOCK_HDR + SLAB_SIZE) >> PAGE_SHIFT;
		}
		b += size;
	}
	if (rc == 0 && b == end) {
		pm_settle(a, &pm_next, b, slab_lo, slab_hi);
		if (pend) {
			list_insert(a, pend, pend_size);
			set_prev_free(a, b, pend_size);
		} else {
			clear_prev_free(a, b);
		}
	} else {
		rc = -1;
	}
	return rc;
}

int sma__heap_rebuild_locked(struct sma *a, int (*visit_slab)(struct sma *a, uint64_t p))
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	h->fl_bitmap = 0;
	memset(h->sl_bitmap, 0, sizeof h->sl_bitmap);
	memset(h->heads, 0, sizeof h->heads);
	h->heap_free_bytes = 0;
	h->heap_free_blocks = 0;
	int rc = rebuild_seg(a, h->heap_off, h->heap_end, visit_slab);
	uint64_t heap = h->heap_end - h->heap_off - BLOCK_OVERHEAD, total = h->size;
	uint32_t n = atomic_load(&h->nsegs);
	for (unsigned k = 1; rc == 0 && k < n && k < MAX_SEGS; k++) {
		uint64_t lo, end;
		if (!seg_heap(a, (uint64_t)k << OFF_SEG_SHIFT, &lo, &end))
			return -1;
		rc = rebuild_seg(a, lo, end, visit_slab);
		heap += end - lo - BLOCK_OVERHEAD;
		total += h->segs[k].size;
	}
	if (rc == 0) {
		/* derived: a death between publishing a segment and counting
		 * it leaves them short */
		h->heap_size = heap;
		h->total_size = total;
	}
	return rc;
}
