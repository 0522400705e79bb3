/*
 * inspect.c -- looking inside an arena: sma_stats, sma_walk, sma_check,
 * sma_recover, sma_info and the per-class and per-slot figures.
 *
 * Everything here reads the segment as untrusted input: every offset is
 * bounds-checked before it is followed, every loop is bounded, nothing
 * asserts.  On a read-only handle nothing takes the lock, so the picture
 * may move while it is read; the checker then looks twice before it
 * reports.  On a writable handle the lock is taken (with a time limit for
 * the checker, so that a stuck holder does not stop it).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sched.h>
#include <time.h>

/* ---- stats -------------------------------------------------------------- */

/* A field of every slot, summed: slot counters add up over every thread
 * that held the slot, so free slots count too. */
static uint64_t slots_sum(const struct sma *a, size_t field)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < a->h->nslots; i++) {
		const struct slot *s = sma__slot(a, i);
		sum += __atomic_load_n((const uint64_t *)((const char *)s + field), __ATOMIC_RELAXED);
	}
	return sum;
}

static void stats_read(const struct sma *a, struct sma_stats *st)
{
	const struct sma_header *h = a->h;
	memset(st, 0, sizeof *st);
	st->size = h->size;
	st->heap_size = h->heap_size;
	st->allocs = LOAD(h->allocs) + slots_sum(a, offsetof(struct slot, allocs));
	st->frees = LOAD(h->frees) + slots_sum(a, offsetof(struct slot, frees));
	st->live = st->allocs - st->frees;
	st->used = LOAD(h->used) + slots_sum(a, offsetof(struct slot, used));
	uint64_t free = h->heap_free_bytes - BLOCK_OVERHEAD * h->heap_free_blocks;
	uint64_t largest = sma__heap_largest_locked(a);
	for (unsigned c = 0; c < NSMALL; c++) {
		free += h->cls[c].free * sma__class_size[c];
		if (h->cls[c].free && sma__class_size[c] > largest)
			largest = sma__class_size[c];
	}
	for (unsigned i = 0; i < h->nslots; i++) {
		const struct slot *s = sma__slot(a, i);
		if (atomic_load(&s->state) == SLOT_HELD)
			free += sma__slot_cached_bytes(a, s);
	}
	st->free = free;
	st->largest_free = largest < free ? largest : free;
	struct shmid_ds ds;
	if (!a->image && shmctl(a->shmid, IPC_STAT, &ds) == 0)
		st->nattch = (uint32_t)ds.shm_nattch;
}

/* Takes the lock for a reader on a writable handle; 1 if taken. */
static int read_lock(struct sma *a)
{
	if ((a->flags & SMA_RDONLY) || sma__lock_held(a))
		return 0;
	return sma__lock_look(a) == 0;
}

int sma_stats(sma_t *a, struct sma_stats *st)
{
	if (!a || !st) {
		errno = EINVAL;
		return -1;
	}
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a)) {
		/* What this thread and dead processes cache is free for all. */
		sma__cache_flush_self(a);
		if (sma__lock_look(a) < 0)
			return -1;
		sma__reclaim_dead_locked(a);
		stats_read(a, st);
		sma__unlock(a);
		return 0;
	}
	stats_read(a, st);
	return 0;
}

/* ---- walk --------------------------------------------------------------- */

typedef int (*walk_fn)(sma_off_t off, size_t size, int in_use, void *arg);

static int walk_slab(const struct sma *a, uint64_t p, walk_fn fn, void *arg)
{
	unsigned idx;
	const struct slab *s = sma__slab_of(a, p + SLAB_HDR, &idx);
	if (!s)
		return -2;
	uint64_t size = sma__class_size[s->cls];
	for (unsigned i = 0; i < s->nobj; i++) {
		uint64_t bit = 1ull << (i & 63);
		int live = (atomic_load(&s->live[i >> 6]) & bit) != 0;
		int rc = fn(p + SLAB_HDR + i * size, size, live, arg);
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_impl(const struct sma *a, walk_fn fn, void *arg)
{
	const struct sma_header *h = a->h;
	uint64_t b = h->heap_off;
	uint64_t limit = (h->heap_end - h->heap_off) / MIN_BLOCK + 1;
	while (b < h->heap_end && limit--) {
		uint64_t w = hw_load(a, b), size = hw_size(w);
		if (!hw_tag_ok(b, w) || size < MIN_BLOCK || b + size > h->heap_end)
			return -2;
		int rc = 0;
		unsigned k = hw_kind(w);
		if (w & BF_FREE)
			rc = fn(b + 16, size - BLOCK_OVERHEAD, 0, arg);
		else if (k == KIND_USER || k == KIND_NAMED)
			rc = fn(b + 16, size - BLOCK_OVERHEAD, (w & BF_LIVE) != 0, arg);
		else if (k == KIND_SLAB)
			rc = walk_slab(a, b + 16, fn, arg);
		if (rc)
			return rc;
		b += size;
	}
	return b == h->heap_end ? 0 : -2;
}

int sma_walk(sma_t *a, walk_fn fn, void *arg)
{
	if (!a || !fn) {
		errno = EINVAL;
		return -1;
	}
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a))
		sma__cache_flush_self(a); /* as sma_stats does: the two agree */
	int locked = read_lock(a);
	int rc = walk_impl(a, fn, arg);
	if (locked)
		sma__unlock(a);
	if (rc == -2) {
		errno = EBADMSG;
		return -1;
	}
	return rc;
}

/* ---- check -------------------------------------------------------------- */

#define MAX_PROBLEMS 200
struct ck {
	const struct sma *a;
	char *msg[MAX_PROBLEMS]; /* the problems found, in order */
	int problems;
	int stop;
	uint64_t motion;	 /* allocs + frees of everyone when the look began */
	/* what the walk saw */
	uint64_t live, used, cached_objs, cached_bytes, free_bytes, free_blocks;
	uint64_t cls_slabs[NSMALL], cls_slots[NSMALL], cls_free[NSMALL], cls_listed[NSMALL];
	uint64_t *cached;  /* offsets of cached objects seen by the walk */
	size_t ncached, capcached;
};

static int report(void *ctx, const char *fmt, ...)
{
	struct ck *c = ctx;
	if (c->problems >= MAX_PROBLEMS) {
		c->stop = 1;
		return 0;
	}
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	c->msg[c->problems++] = strdup(buf);
	return 0;
}

static void ck_free(struct ck *c)
{
	for (int i = 0; i < c->problems; i++)
		free(c->msg[i]);
	free(c->cached);
}

/* The invariant a problem names: its text up to the first ':'. */
static size_t tag_len(const char *m)
{
	const char *p = m ? strchr(m, ':') : NULL;
	return p ? (size_t)(p - m) : 0;
}

static int has_tag(const struct ck *c, const char *m)
{
	size_t n = tag_len(m);
	for (int i = 0; i < c->problems; i++)
		if (c->msg[i] && tag_len(c->msg[i]) == n && strncmp(c->msg[i], m, n) == 0)
			return 1;
	return 0;
}

#define X(v) ((unsigned long long)(v))

static void note_cached(struct ck *c, uint64_t off)
{
	if (c->ncached == c->capcached) {
		size_t n = c->capcached ? 2 * c->capcached : 1024;
		uint64_t *t = realloc(c->cached, n * sizeof *t);
		if (!t)
			return;
		c->cached = t;
		c->capcached = n;
	}
	c->cached[c->ncached++] = off;
}

static int check_header(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	if (atomic_load(&h->magic) != SMA_MAGIC || h->layout != SMA_LAYOUT || h->size != a->size) {
		report(c, "G1: header: magic, layout or size is wrong (size %llu, segment %llu)", X(h->size), X(a->size));
		return -1;
	}
	if (!geometry_ok(a)) {
		report(c, "G2: header: the geometry does not fit in the segment");
		return -1;
	}
	return 0;
}

/* The own-slab list heads of slot owner - 1 if it is held, else NULL. */
static const uint64_t *own_heads(const struct sma *a, uint32_t owner)
{
	if (!owner || owner > a->h->nslots)
		return NULL;
	const struct slot *s = sma__slot(a, owner - 1);
	return atomic_load(&((struct slot *)s)->state) == SLOT_HELD ? s->own : NULL;
}

static void check_slab(struct ck *c, uint64_t p)
{
	const struct sma *a = c->a;
	const struct slab *s = (const struct slab *)at(a, p);
	unsigned cls = s->cls, idx;
	if (!sma__slab_of(a, p + SLAB_HDR, &idx) || idx != 0) {
		report(c, "S1: slab at %#llx: bad header (magic %#x, class %u, objects %u)", X(p), s->magic, cls, s->nobj);
		return;
	}
	uint32_t want = PM_SLAB | (uint32_t)(p >> PAGE_SHIFT);
	for (uint64_t pg = p >> PAGE_SHIFT; pg < (p + SLAB_SIZE) >> PAGE_SHIFT; pg++)
		if (pm_load(a, pg) != want)
			report(c, "S5: slab at %#llx: page %llu is not mapped to it", X(p), X(pg));
	unsigned nfree = 0;
	for (unsigned w = 0; w < SLAB_WORDS; w++) {
		uint64_t valid = s->nobj >= (w + 1) * 64 ? ~0ull
			: s->nobj > w * 64 ? (1ull << (s->nobj - w * 64)) - 1 : 0;
		uint64_t live = atomic_load(&s->live[w]), fr = s->free[w];
		if (fr & live)
			report(c, "S2: slab at %#llx: slots both free and live (word %u: %#llx)", X(p), w, X(fr & live));
		if ((fr | live) & ~valid)
			report(c, "S2: slab at %#llx: bits set past its %u slots", X(p), s->nobj);
		nfree += (unsigned)__builtin_popcountll(fr & valid);
		uint64_t size = sma__class_size[cls];
		for (uint64_t m = valid; m; m &= m - 1) {
			unsigned i = (unsigned)__builtin_ctzll(m);
			uint64_t bit = 1ull << i, off = p + SLAB_HDR + (w * 64 + i) * size;
			if (live & bit) {
				c->live++;
				c->used += size;
			} else if (!(fr & bit)) {
				note_cached(c, off);
				c->cached_bytes += size;
				c->cached_objs++;
			}
		}
	}
	if (nfree != s->nfree)
		report(c, "S3: slab at %#llx: %u free slots, its count says %u", X(p), nfree, s->nfree);
	if ((nfree > 0) != (s->listed != 0))
		report(c, "S3: slab at %#llx: %u free slots but %son a list", X(p), nfree, s->listed ? "" : "not ");
	/* A full slab may keep an owner that has gone (it is nobody's the
	 * next time a slot is put back into it); a listed one may not. */
	if (s->owner && s->listed && !own_heads(c->a, s->owner))
		report(c, "S3: slab at %#llx: listed, owned by slot %u, which is not held", X(p), s->owner - 1);
	if (nfree == s->nobj && !s->owner)
		report(c, "S4: slab at %#llx: empty but kept", X(p));
	c->cls_slabs[cls]++;
	c->cls_slots[cls] += s->nobj;
	c->cls_free[cls] += nfree;
	if (s->listed)
		c->cls_listed[cls]++;
}

/* H1-H3, H5-H7 and the slabs, by one walk. */
static int check_blocks(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	uint64_t b = h->heap_off, prev_size = 0;
	int prev_free = 0;
	uint64_t last_page = (uint64_t)-1;
	while (b < h->heap_end && !c->stop) {
		uint64_t w = hw_load(a, b), size = hw_size(w);
		if (!hw_tag_ok(b, w) || size < MIN_BLOCK || b + size > h->heap_end) {
			report(c, "H1: block at %#llx: header %#llx is not a valid block (walk stops here)", X(b), X(w));
			return -1;
		}
		uint64_t pg = b >> PAGE_SHIFT;
		if (pg != last_page && pm_load(a, pg) != (PM_FIRST | (uint32_t)((b & (PAGE - 1)) >> 4)))
			report(c, "H7: page %llu: map entry %#x, but its first block starts at %#llx", X(pg), pm_load(a, pg), X(b));
		last_page = pg;
		uint64_t end_pg = (b + size) >> PAGE_SHIFT;
		for (uint64_t q = pg + 1; q < end_pg; q++)
			if (pm_load(a, q) & PM_FIRST) {
				report(c, "H7: page %llu: map names a first block, but block %#llx covers it", X(q), X(b));
				break;
			}
		if (((w & BF_PREV_FREE) != 0) != prev_free)
			report(c, "H3: block at %#llx: prev-free flag is %d, the block before is %s", X(b),
			       (w & BF_PREV_FREE) != 0, prev_free ? "free" : "in use");
		else if (prev_free && *(const uint64_t *)at(a, b) != prev_size)
			report(c, "H3: block at %#llx: prev size %llu, the block before has %llu", X(b),
			       X(*(const uint64_t *)at(a, b)), X(prev_size));
		unsigned k = hw_kind(w);
		if (w & BF_FREE) {
			if (prev_free)
				report(c, "H2: block at %#llx: free, and so is the block before", X(b));
			if ((w & BF_LIVE) || k != KIND_USER)
				report(c, "H6: free block at %#llx: marked live or of kind %u", X(b), k);
			c->free_bytes += size;
			c->free_blocks++;
		} else if (k == KIND_USER || k == KIND_NAMED) {
			if (w & BF_LIVE) {
				c->live++;
				c->used += size - BLOCK_OVERHEAD;
			} else if (k == KIND_USER) {
				note_cached(c, b + 16);
				c->cached_bytes += size - BLOCK_OVERHEAD;
				c->cached_objs++;
			} else {
				report(c, "N2: named block at %#llx is not live", X(b));
			}
		} else if (k == KIND_SLAB) {
			if ((b + 16) & (PAGE - 1))
				report(c, "S5: slab block at %#llx: payload not on a page boundary", X(b));
			else
				check_slab(c, b + 16);
		}
		prev_free = (w & BF_FREE) != 0;
		prev_size = size;
		b += size;
	}
	if (c->stop)
		return 0;
	uint64_t w = hw_load(a, h->heap_end);
	if (!hw_tag_ok(h->heap_end, w) || hw_size(w) != 0)
		report(c, "H1: the sentinel at %#llx is damaged", X(h->heap_end));
	else if (((w & BF_PREV_FREE) != 0) != prev_free)
		report(c, "H3: the sentinel's prev-free flag is wrong");
	if (c->free_bytes != h->heap_free_bytes || c->free_blocks != h->heap_free_blocks)
		report(c, "H5: %llu free blocks of %llu bytes, the header counts %llu of %llu", X(c->free_blocks),
		       X(c->free_bytes), X(h->heap_free_blocks), X(h->heap_free_bytes));
	return 0;
}

/* H4: the lists and bitmaps. */
static void check_lists(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	uint64_t budget = c->free_blocks + 1, seen = 0;
	for (unsigned fl = 0; fl < FL_COUNT && !c->stop; fl++) {
		if (!!(h->fl_bitmap & (1ull << fl)) != !!h->sl_bitmap[fl])
			report(c, "H4: first-level bitmap bit %u disagrees with its second level", fl);
		for (unsigned sl = 0; sl < SL_COUNT; sl++) {
			uint64_t b = h->heads[fl][sl], prev = 0;
			if (!!b != !!(h->sl_bitmap[fl] & (1u << sl)))
				report(c, "H4: list %u/%u: bitmap says %s", fl, sl, b ? "empty" : "non-empty");
			while (b) {
				if (!budget--) {
					report(c, "H4: list %u/%u: longer than the free blocks (a cycle?)", fl, sl);
					return;
				}
				uint64_t w;
				if (b < h->heap_off || b + MIN_BLOCK > h->heap_end || (b & 15) ||
				    sma__heap_block_of(a, b + 16) != b || !((w = hw_load(a, b)) & BF_FREE)) {
					report(c, "H4: list %u/%u: %#llx is not a free block", fl, sl, X(b));
					break;
				}
				uint64_t size = hw_size(w);
				unsigned f = 0, s = 0;
				if (size < (1u << FL_SHIFT)) {
					s = (unsigned)(size >> 4);
				} else {
					unsigned m = msb64(size);
					s = (unsigned)(size >> (m - SL_LOG2)) ^ SL_COUNT;
					f = m - (FL_SHIFT - 1);
				}
				if (f != fl || s != sl)
					report(c, "H4: free block %#llx of %llu bytes is on list %u/%u, not %u/%u", X(b),
					       X(size), fl, sl, f, s);
				if (*(const uint64_t *)at(a, b + 24) != prev)
					report(c, "H4: free block %#llx: back link %#llx, expected %#llx", X(b),
					       X(*(const uint64_t *)at(a, b + 24)), X(prev));
				seen++;
				prev = b;
				b = *(const uint64_t *)at(a, b + 16);
			}
		}
	}
	if (!c->stop && seen != c->free_blocks)
		report(c, "H4: the lists hold %llu blocks, the heap %llu free blocks", X(seen), X(c->free_blocks));
}

/* Walks one list of slabs of class cls (a class's partial list, or a
 * thread's own list when owner is not 0); how many it holds. */
static uint64_t check_slab_list(struct ck *c, unsigned cls, uint64_t p, uint32_t owner)
{
	const struct sma *a = c->a;
	uint64_t prev = 0, n = 0;
	while (p) {
		unsigned idx;
		const struct slab *s = sma__slab_of(a, p + SLAB_HDR, &idx);
		if (!s || idx || s->cls != cls || n > c->cls_listed[cls]) {
			report(c, "S3: class %u: a list reaches %#llx, not a listed slab of the class", cls, X(p));
			break;
		}
		if (s->owner != owner)
			report(c, "S3: slab %#llx: owned by slot %u but on the list of %s", X(p), s->owner - 1,
			       owner ? "another slot" : "the class");
		if (s->prev != prev)
			report(c, "S3: slab %#llx: back link %#llx, expected %#llx", X(p), X(s->prev), X(prev));
		n++;
		prev = p;
		p = s->next;
	}
	return n;
}

/* S3, S6: the lists of slabs and the classes' counts. */
static void check_classes(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	for (unsigned cls = 0; cls < NSMALL && !c->stop; cls++) {
		const struct class_state *cs = &h->cls[cls];
		uint64_t n = check_slab_list(c, cls, cs->partial, 0);
		for (uint32_t o = 1; o <= h->nslots; o++) {
			const uint64_t *own = own_heads(a, o);
			if (own)
				n += check_slab_list(c, cls, own[cls], o);
		}
		if (n != c->cls_listed[cls])
			report(c, "S3: class %u: %llu slabs on lists, %llu marked listed", cls, X(n), X(c->cls_listed[cls]));
		if (cs->slabs != c->cls_slabs[cls] || cs->slots != c->cls_slots[cls] || cs->free != c->cls_free[cls])
			report(c, "S6: class %u: header counts %llu slabs/%llu slots/%llu free, the slabs %llu/%llu/%llu", cls,
			       X(cs->slabs), X(cs->slots), X(cs->free), X(c->cls_slabs[cls]), X(c->cls_slots[cls]),
			       X(c->cls_free[cls]));
	}
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Every allocation and free so far, by anyone: when it changes during a
 * look, threads moved objects without the lock while it was taken, and
 * the accounting (caches against the walk, counters against the walk)
 * cannot be compared. */
static uint64_t motion(const struct sma *a)
{
	uint64_t m = LOAD(a->h->allocs) + LOAD(a->h->frees);
	return m + slots_sum(a, offsetof(struct slot, allocs)) + slots_sum(a, offsetof(struct slot, frees));
}

/* A growing array of offsets. */
struct offs {
	uint64_t *v;
	size_t n, cap;
	int failed; /* out of memory: comparisons with it are skipped */
};

static void offs_add(struct offs *o, uint64_t off)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 1024;
		uint64_t *t = realloc(o->v, cap * sizeof *t);
		if (!t) {
			o->failed = 1;
			return;
		}
		o->v = t;
		o->cap = cap;
	}
	o->v[o->n++] = off;
}

static int offs_has(const struct offs *o, uint64_t off)
{
	return o->n && bsearch(&off, o->v, o->n, sizeof *o->v, cmp_u64) != NULL;
}

/* The entries of one cached class (C2, C3); adds them to ent.  The bytes
 * they hold, or UINT64_MAX if the class claims more than it may. */
static uint64_t check_class_entries(struct ck *c, unsigned i, const struct cache_block *cb, unsigned cls,
				    struct offs *ent, uint64_t *objs)
{
	const struct sma *a = c->a;
	uint32_t n = LOAD(((struct cache_block *)cb)->count[cls]);
	if (n > a->ccap[cls]) {
		report(c, "C2: slot %u: class %u holds %u, more than its %u", i, cls, n, a->ccap[cls]);
		return UINT64_MAX;
	}
	uint64_t bytes = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t e = LOAD(((struct cache_block *)cb)->entry[a->cbase[cls] + k]);
		uint64_t off = entry_off(e), usable = 0;
		int ok;
		if (cls < NSMALL) {
			unsigned idx;
			const struct slab *sl = sma__slab_of(a, off, &idx);
			ok = sl && sl->cls == cls && !(sl->free[idx >> 6] & (1ull << (idx & 63)));
			usable = sma__class_size[cls];
		} else {
			uint64_t b = sma__heap_block_of(a, off);
			uint64_t w = b ? hw_load(a, b) : 0;
			usable = b ? hw_size(w) - BLOCK_OVERHEAD : 0;
			ok = b && !(w & BF_FREE) && hw_kind(w) == KIND_USER && usable > SMALL_MAX && usable <= CACHE_MAX &&
			     size_class(usable) == cls && entry_usable(e) == usable;
		}
		if (!ok) {
			report(c, "C3: slot %u: cached %#llx is not a free object of class %u", i, X(off), cls);
			continue;
		}
		offs_add(ent, off);
		(*objs)++;
		bytes += usable;
	}
	return bytes;
}

/*
 * C1-C4 and the counters.  The one object a thread has in flight is taken
 * as its recovery would settle it (repair.c): a thread killed in the
 * middle of a move leaves a consistent arena.
 */
static void check_slots(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	uint64_t objs = 0, bytes = 0, sbytes = 0, d_allocs = 0, d_frees = 0, d_used = 0;
	struct offs ent = { 0 }, pushed = { 0 };
	int unsettled = 0; /* a slot's stored bytes may lag its cache */
	for (unsigned i = 0; i < h->nslots && !c->stop; i++) {
		const struct slot *s = sma__slot(a, i);
		uint32_t st = atomic_load(&s->state);
		if (st == SLOT_FREE)
			continue;
		if (st != SLOT_HELD) {
			report(c, "C1: slot %u: state %u", i, st);
			continue;
		}
		uint64_t cb = LOAD(((struct slot *)s)->cache);
		uint64_t blk = cb ? sma__heap_block_of(a, cb) : 0;
		if (!blk || hw_kind(hw_load(a, blk)) != KIND_INTERNAL ||
		    hw_size(hw_load(a, blk)) - BLOCK_OVERHEAD < h->cache_bytes) {
			report(c, "C1: slot %u (pid %d): its cache %#llx is not a cache block", i, s->pid, X(cb));
			continue;
		}
		const struct cache_block *cache = (const struct cache_block *)at(a, cb);
		for (unsigned cls = 0; cls < NCLASSES; cls++) {
			uint64_t b = check_class_entries(c, i, cache, cls, &ent, &objs);
			if (b != UINT64_MAX)
				bytes += b;
		}
		struct settle se;
		sma__settle_inflight(a, s, cache, &se);
		if (se.to_cache) {
			/* Pushed objects count only if no cache has them
			 * (repair.c R3): decided once all are known. */
			uint64_t usable = se.cls < NSMALL ? sma__class_size[se.cls] : entry_usable(se.entry);
			if (INF_KIND(atomic_load(&((struct slot *)s)->inf)) == INF_PUSH) {
				offs_add(&pushed, se.obj);
			} else {
				offs_add(&ent, se.obj);
				objs++;
			}
			bytes += usable;
			unsettled = 1;
		}
		d_allocs += se.d_allocs;
		d_frees += se.d_frees;
		d_used += se.d_used;
		if (atomic_load(&((struct slot *)s)->inf) || s->op != SOP_NONE)
			unsettled = 1;
		sbytes += sma__slot_cached_bytes(a, s);
	}
	if (c->stop)
		goto out;
	int moved = motion(a) != c->motion;
	if (ent.n) {
		qsort(ent.v, ent.n, sizeof *ent.v, cmp_u64);
		for (size_t k = 1; k < ent.n; k++)
			if (ent.v[k] == ent.v[k - 1])
				report(c, "C2: %#llx is cached twice", X(ent.v[k]));
	}
	for (size_t k = 0; k < pushed.n; k++) {
		if (offs_has(&ent, pushed.v[k])) {
			/* Another cache has it: not this one's to count. */
			continue;
		}
		objs++;
	}
	if (!moved && !ent.failed && objs != c->cached_objs) {
		/* Which object is neither live nor free nor cached? */
		if (c->ncached)
			qsort(c->cached, c->ncached, sizeof *c->cached, cmp_u64);
		if (pushed.n)
			qsort(pushed.v, pushed.n, sizeof *pushed.v, cmp_u64);
		for (size_t k = 0, shown = 0; k < c->ncached && shown < 5; k++)
			if (!offs_has(&ent, c->cached[k]) && !offs_has(&pushed, c->cached[k])) {
				report(c, "C2: object %#llx is neither live, free nor in any cache (lost)", X(c->cached[k]));
				shown++;
			}
		report(c, "C2: caches hold %llu objects, the heap and slabs have %llu neither live nor free", X(objs),
		       X(c->cached_objs));
	}
	if (!moved && !unsettled && bytes != sbytes)
		report(c, "C4: slots count %llu cached bytes, their caches hold %llu", X(sbytes), X(bytes));
	struct sma_stats st;
	stats_read(a, &st);
	st.live += d_allocs - d_frees;
	st.used += d_used;
	if (!moved && (st.live != c->live || st.used != c->used))
		report(c, "counters: %llu live objects of %llu bytes counted, %llu of %llu found", X(st.live), X(st.used),
		       X(c->live), X(c->used));
out:
	free(ent.v);
	free(pushed.v);
}

static int check_pass(struct ck *c)
{
	c->motion = motion(c->a);
	if (check_header(c) < 0)
		return c->problems;
	if (check_blocks(c) == 0 && !c->stop) {
		check_lists(c);
		check_classes(c);
		check_slots(c);
		if (!c->stop)
			sma__named_check((struct sma *)c->a, report, c);
	}
	return c->problems;
}

/* Takes the lock waiting at most two seconds; 1 if taken.  A dead
 * holder's operation is repaired on the way in. */
static int check_lock(struct sma *a)
{
	if ((a->flags & SMA_RDONLY) || sma__lock_held(a))
		return 0;
	return sma__lock_within(a, 2) == 0;
}

/* Up to three looks at a, 20 ms apart (one at an image); reports what
 * broke at every look.  How many problems were reported. */
static int check_looks(struct sma *a, int (*fn)(const char *problem, void *arg), void *arg)
{
	int locked = check_lock(a);
	struct ck prev[2];
	int npass = 0, reported = 0;
	for (;;) {
		struct ck c = { .a = a };
		check_pass(&c);
		if (!c.problems) {
			ck_free(&c);
			break;
		}
		if (npass == 2 || (a->image && npass == 0)) {
			/* The third look: report what broke at every look. */
			for (int i = 0; i < c.problems; i++) {
				if (!c.msg[i] || (!a->image && (!has_tag(&prev[0], c.msg[i]) ||
								  !has_tag(&prev[1], c.msg[i]))))
					continue;
				reported++;
				if (fn && fn(c.msg[i], arg))
					break;
			}
			ck_free(&c);
			break;
		}
		prev[npass++] = c;
		struct timespec nap = { 0, 20 * 1000 * 1000 };
		if (locked)
			sma__unlock(a);
		nanosleep(&nap, NULL);
		locked = check_lock(a);
	}
	for (int i = 0; i < npass; i++)
		ck_free(&prev[i]);
	if (locked)
		sma__unlock(a);
	return reported;
}

/*
 * Under the lock the blocks, lists and slabs do not move, but thread
 * caches and their counters do (they change without the lock), and on a
 * read-only handle everything may: a problem is reported only if the
 * invariant it names is broken at every look.  Where a holder of the lock
 * died and nobody may repair (a read-only handle, an image), the repair
 * runs on a private copy and the copy is checked: what a death leaves is
 * consistent when its repair makes it so.
 */
int sma_check_report(sma_t *a, int (*fn)(const char *problem, void *arg), void *arg)
{
	if (!a) {
		errno = EINVAL;
		return -1;
	}
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a))
		sma__cache_flush_self(a);
	int reported;
	if ((a->flags & SMA_RDONLY) && atomic_load(&a->h->magic) == SMA_MAGIC && sma__lock_holder_died(a)) {
		struct sma *copy = sma__image_of(a);
		if (!copy)
			return -1;
		sma__lock(copy);
		sma__repair_locked(copy);
		sma__unlock(copy);
		reported = check_looks(copy, fn, arg);
		sma__image_free(copy);
	} else {
		reported = check_looks(a, fn, arg);
	}
	if (reported) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int sma_check(sma_t *a)
{
	return sma_check_report(a, NULL, NULL);
}

/* ---- info ------------------------------------------------------------------ */

/* What one held slot's cache holds, read consistently. */
struct slot_look {
	uint64_t objs;		    /* objects cached */
	uint64_t bytes;		    /* their bytes */
	uint32_t count[NCLASSES];   /* per class */
};

/*
 * Reads slot i's cache into v: 1 if the slot is held and was read whole,
 * 0 if not.  Without the lock (a read-only handle) a slot being taken or
 * given back (its gen odd, or changed during the read) is read again, at
 * most a few times: its cache block may be freed and reused meanwhile.
 */
static int slot_look(const struct sma *a, unsigned i, int locked, struct slot_look *v)
{
	const struct slot *s = sma__slot(a, i);
	for (int tries = 0; tries < 4; tries++) {
		uint32_t g = LOAD_ACQ(((struct slot *)s)->gen);
		if (atomic_load_explicit(&((struct slot *)s)->state, memory_order_acquire) != SLOT_HELD)
			return 0;
		if ((g & 1) && !locked) {
			sched_yield();
			continue;
		}
		memset(v, 0, sizeof *v);
		const struct cache_block *c = sma__cache_of(a, s);
		v->bytes = sma__slot_cached_bytes(a, s);
		if (c)
			for (unsigned k = 0; k < NCLASSES; k++) {
				uint32_t n = LOAD(((struct cache_block *)c)->count[k]);
				v->count[k] = n <= a->ccap[k] ? n : 0;
				v->objs += v->count[k];
			}
		atomic_thread_fence(memory_order_acquire);
		if (locked || LOAD(((struct slot *)s)->gen) == g)
			return 1;
	}
	return 0;
}

int sma_info(sma_t *a, struct sma_info *in)
{
	if (!a || !in) {
		errno = EINVAL;
		return -1;
	}
	const struct sma_header *h = a->h;
	memset(in, 0, sizeof *in);
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (!a->image && shmctl(a->shmid, IPC_STAT, &ds) < 0)
		return -1;
	if (a->image)
		ds.shm_segsz = a->size;
	in->shmid = a->shmid;
	in->key = a->key;
	in->semid = sma_semid(a);
	in->layout_version = h->layout;
	in->readonly = (a->flags & SMA_RDONLY) != 0;
	in->destroyed = (ds.shm_perm.mode & SHM_DEST) != 0;
	in->uid = ds.shm_perm.uid;
	in->gid = ds.shm_perm.gid;
	in->cuid = ds.shm_perm.cuid;
	in->cgid = ds.shm_perm.cgid;
	in->mode = ds.shm_perm.mode & 0777;
	in->cpid = ds.shm_cpid;
	in->lpid = ds.shm_lpid;
	in->atime = ds.shm_atime;
	in->dtime = ds.shm_dtime;
	in->ctime = ds.shm_ctime;
	in->size = ds.shm_segsz;
	in->nattch = (uint32_t)ds.shm_nattch;
	in->path_dev = h->path_dev;
	in->path_ino = h->path_ino;
	in->created = h->created;
	in->lock_holder = LOAD(h->lock_pid);
	in->lock_in_op = LOAD(h->op.kind) != LOP_NONE;
	in->lock_ops = LOAD(h->lock_ops);
	in->repairs = LOAD(h->repairs);
	in->nslots = h->nslots;
	in->nclasses = NCLASSES;
	int locked = read_lock(a);
	for (unsigned i = 0; i < h->nslots && i < MAX_SLOTS; i++) {
		struct slot_look v;
		if (atomic_load(&sma__slot(a, i)->state) == SLOT_HELD)
			in->slots_used++;
		if (slot_look(a, i, locked || a->image, &v))
			in->cached += v.bytes;
	}
	if (locked)
		sma__unlock(a);
	return 0;
}

int sma_class_stats(sma_t *a, unsigned cls, struct sma_class_stats *cs)
{
	if (!a || !cs) {
		errno = EINVAL;
		return -1;
	}
	if (cls >= NCLASSES) {
		errno = ENOENT;
		return -1;
	}
	const struct sma_header *h = a->h;
	memset(cs, 0, sizeof *cs);
	int locked = read_lock(a);
	cs->size = sma__class_size[cls];
	cs->slab = cls < NSMALL;
	cs->slabs = h->cls[cls].slabs;
	cs->total = h->cls[cls].slots;
	cs->requests = h->cls[cls].requests;
	cs->failures = h->cls[cls].failures;
	uint64_t cached = 0;
	for (unsigned i = 0; i < h->nslots && i < MAX_SLOTS; i++) {
		struct slot_look v;
		cs->requests += LOAD(sma__slot(a, i)->req[cls]);
		if (slot_look(a, i, locked || a->image, &v))
			cached += v.count[cls];
	}
	cs->cached = cached;
	if (cs->slab)
		cs->used = h->cls[cls].slots - h->cls[cls].free - (cached < cs->total ? cached : 0);
	if (locked)
		sma__unlock(a);
	return 0;
}

int sma_slots_each(sma_t *a, int (*fn)(const struct sma_slot_info *, void *), void *arg)
{
	if (!a || !fn) {
		errno = EINVAL;
		return -1;
	}
	const struct sma_header *h = a->h;
	unsigned n = h->nslots < MAX_SLOTS ? h->nslots : MAX_SLOTS, k = 0;
	struct sma_slot_info *v = calloc(n ? n : 1, sizeof *v);
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	/* Read them all first, so that fn runs with no lock held. */
	int locked = read_lock(a);
	for (unsigned i = 0; i < n; i++) {
		const struct slot *s = sma__slot(a, i);
		struct slot_look look;
		if (!slot_look(a, i, locked || a->image, &look))
			continue;
		v[k++] = (struct sma_slot_info){
			.slot = i,
			.pid = LOAD(((struct slot *)s)->pid),
			.tid = LOAD(((struct slot *)s)->tid),
			.alive = sma__slot_liveness(a, i) != LIVE_DEAD,
			.cached_bytes = look.bytes,
			.cached = look.objs,
			.allocs = LOAD(((struct slot *)s)->allocs),
			.frees = LOAD(((struct slot *)s)->frees),
		};
	}
	if (locked)
		sma__unlock(a);
	int rc = 0;
	for (unsigned i = 0; i < k && !rc; i++)
		rc = fn(&v[i], arg);
	free(v);
	return rc;
}
