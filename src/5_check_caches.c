/*
 * 5_check_caches.c -- the checker's half for the slots, their caches and
 * the counters (C1-C4): the one object a thread has in flight is taken as
 * its recovery would settle it, so a thread killed in the middle of a move
 * leaves a consistent arena.
 */
#include "5_check_caches.h"
#include "1_sem.h"
#include "2_heap.h"
#include "3_cache.h"
#include "4_repair.h"
#include "5_stats.h"

#include <stdlib.h>

#define report sma__ck_report

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Every allocation and free so far, by anyone: when it changes during a
 * look, threads moved objects without the lock while it was taken, and
 * the accounting (caches against the walk, counters against the walk)
 * cannot be compared. */
uint64_t sma__ck_motion(const struct sma *a)
{
	uint64_t m = LOAD(a->h->allocs) + LOAD(a->h->frees);
	return m + sma__slots_sum(a, offsetof(struct slot, allocs)) + sma__slots_sum(a, offsetof(struct slot, frees));
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
			const struct slab *sl = slab_of(a, off, &idx);
			ok = sl && sl->cls == cls && !(sl->free[idx >> 6] & (1ull << (idx & 63)));
			usable = class_size[cls];
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
 * as its recovery would settle it (4_repair.c): a thread killed in the
 * middle of a move leaves a consistent arena.
 */
/* What the slots' caches hold, summed over the table. */
struct sums {
	uint64_t objs, bytes, sbytes, d_allocs, d_frees, d_used;
	struct offs ent, pushed;  /* cached; pushed by a thread killed mid-push */
	int unsettled;		  /* a slot's stored bytes may lag its cache */
};

/* Adds held slot i's cache and its in-flight object to u. */
static void sum_slot(struct ck *c, unsigned i, struct sums *u)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	const struct slot *s = slot_at(a, i);
	uint64_t cb = LOAD(((struct slot *)s)->cache);
	uint64_t blk = cb ? sma__heap_block_of(a, cb) : 0;
	if (!blk || hw_kind(hw_load(a, blk)) != KIND_INTERNAL ||
	    hw_size(hw_load(a, blk)) - BLOCK_OVERHEAD < h->cache_bytes) {
		report(c, "C1: slot %u (pid %d): its cache %#llx is not a cache block", i, s->pid, X(cb));
		return;
	}
	const struct cache_block *cache = (const struct cache_block *)at(a, cb);
	for (unsigned cls = 0; cls < NCLASSES; cls++) {
		uint64_t b = check_class_entries(c, i, cache, cls, &u->ent, &u->objs);
		if (b != UINT64_MAX)
			u->bytes += b;
	}
	struct settle se;
	sma__settle_inflight(a, s, cache, &se);
	if (se.to_cache) {
		/* Pushed objects count only if no cache has them
		 * (4_repair.c R3): decided once all are known. */
		uint64_t usable = se.cls < NSMALL ? class_size[se.cls] : entry_usable(se.entry);
		if (INF_KIND(atomic_load(&((struct slot *)s)->inf)) == INF_PUSH) {
			offs_add(&u->pushed, se.obj);
		} else {
			offs_add(&u->ent, se.obj);
			u->objs++;
		}
		u->bytes += usable;
		u->unsettled = 1;
	}
	u->d_allocs += se.d_allocs;
	u->d_frees += se.d_frees;
	u->d_used += se.d_used;
	if (atomic_load(&((struct slot *)s)->inf) || s->op != SOP_NONE)
		u->unsettled = 1;
	u->sbytes += sma__slot_cached_bytes(a, s);
}

/* C2: the objects the walk found neither live nor free that no cache
 * holds, a few by name, and the totals. */
static void report_lost(struct ck *c, struct sums *u)
{
	if (c->ncached)
		qsort(c->cached, c->ncached, sizeof *c->cached, cmp_u64);
	if (u->pushed.n)
		qsort(u->pushed.v, u->pushed.n, sizeof *u->pushed.v, cmp_u64);
	for (size_t k = 0, shown = 0; k < c->ncached && shown < 5; k++)
		if (!offs_has(&u->ent, c->cached[k]) && !offs_has(&u->pushed, c->cached[k])) {
			report(c, "C2: object %#llx is neither live, free nor in any cache (lost)", X(c->cached[k]));
			shown++;
		}
	report(c, "C2: caches hold %llu objects, the heap and slabs have %llu neither live nor free", X(u->objs),
	       X(c->cached_objs));
}

void sma__ck_slots(struct ck *c)
{
	const struct sma *a = c->a;
	struct sums u = { 0 };
	for (unsigned i = 0; i < a->h->nslots && !c->stop; i++) {
		uint32_t st = atomic_load(&slot_at(a, i)->state);
		if (st == SLOT_HELD)
			sum_slot(c, i, &u);
		else if (st != SLOT_FREE)
			report(c, "C1: slot %u: state %u", i, st);
	}
	if (c->stop)
		goto out;
	int moved = sma__ck_motion(a) != c->motion;
	if (u.ent.n) {
		qsort(u.ent.v, u.ent.n, sizeof *u.ent.v, cmp_u64);
		for (size_t k = 1; k < u.ent.n; k++)
			if (u.ent.v[k] == u.ent.v[k - 1])
				report(c, "C2: %#llx is cached twice", X(u.ent.v[k]));
	}
	/* A pushed object another cache has is not this one's to count. */
	for (size_t k = 0; k < u.pushed.n; k++)
		if (!offs_has(&u.ent, u.pushed.v[k]))
			u.objs++;
	if (!moved && !u.ent.failed && u.objs != c->cached_objs)
		report_lost(c, &u);
	if (!moved && !u.unsettled && u.bytes != u.sbytes)
		report(c, "C4: slots count %llu cached bytes, their caches hold %llu", X(u.sbytes), X(u.bytes));
	struct sma_stats st;
	sma__stats_read(a, &st);
	st.live += u.d_allocs - u.d_frees;
	st.used += u.d_used;
	if (!moved && (st.live != c->live || st.used != c->used))
		report(c, "counters: %llu live objects of %llu bytes counted, %llu of %llu found", X(st.live), X(st.used),
		       X(c->live), X(c->used));
out:
	free(u.ent.v);
	free(u.pushed.v);
}

