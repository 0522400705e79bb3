/*
 * 4_repair.c -- what the living do for the dead: the repair the next lock
 * holder runs after a holder died, the recovery of a dead thread's slot,
 * and sma_recover.
 *
 * A repair (1_lock.c L2) rebuilds the heap's derived state from the blocks
 * by one walk, then finishes or undoes the operation recorded in
 * header.op, then frees the library blocks nothing references any more.
 * A slot's recovery (R below) empties a slot whose thread is gone and
 * frees it.  Both run under the arena lock and may themselves be stopped
 * at any step by a death: each of their steps first looks whether it was
 * done already, and since every taker of the lock after a death repairs
 * before anything else, the state they look at is the one the dead left.
 *
 * Invariants:
 *   R1  a repair is idempotent: run again after it was stopped at any
 *       step, it ends where one uninterrupted run ends.
 *   R2  a slot being recovered or given back is named by op (LOP_SLOT)
 *       for as long as its recovery runs, so that the next holder's
 *       repair finishes that recovery before any other operation.
 *   R3  a recovery never frees a live object, nor an object another
 *       cache holds: an object is given back only if it is neither live
 *       nor free, and the one a dead thread was pushing only if no other
 *       cache holds it.
 */
#include "4_repair.h"
#include "1_lock.h"
#include "1_segs.h"
#include "1_sem.h"
#include "2_heap.h"
#include "2_object.h"
#include "2_slab.h"
#include "3_cache.h"
#include "3_names.h"
#include "4_sweep.h"

#include <stdlib.h>

/* ---- the object a dead thread had in flight --------------------------------- */

void sma__settle_inflight(const struct sma *a, const struct slot *s, const struct cache_block *c,
			  struct settle *out)
{
	memset(out, 0, sizeof *out);
	uint64_t inf = atomic_load_explicit(&((struct slot *)s)->inf, memory_order_acquire);
	unsigned kind = INF_KIND(inf);
	uint64_t x = INF_OFF(inf);
	if ((kind != INF_POP && kind != INF_PUSH) || !x || !c)
		return;
	unsigned cls = (unsigned)sma__object_class(a, x);
	if (cls >= NCLASSES)
		return;
	uint64_t usable = 0;
	int live = sma__object_live(a, x, &usable, NULL);
	if (!live) {
		if (cls < NSMALL) {
			usable = class_size[cls];
		} else {
			uint64_t b = sma__heap_block_of(a, x);
			uint64_t w = b ? hw_load(a, b) : BF_FREE;
			if (w & BF_FREE)
				return; /* free: it is nobody's to settle */
			usable = hw_size(w) - BLOCK_OVERHEAD;
		}
		if (cls < NSMALL) {
			unsigned idx;
			const struct slab *sl = slab_of(a, x, &idx);
			if (!sl || (sl->free[idx >> 6] & (1ull << (idx & 63))))
				return; /* free in its slab */
		}
	}
	uint32_t n = LOAD(c->count[cls]);
	if (n > a->ccap[cls])
		n = 0;
	const uint64_t *e = &c->entry[a->cbase[cls]];
	int at_top = n > 0 && entry_off(LOAD(e[n - 1])) == x;
	out->obj = x;
	out->cls = cls;
	if (kind == INF_POP) {
		if (live) {
			/* Handed out: count it where the thread did not. */
			out->d_allocs = LOAD(s->allocs) == LOAD(s->inf_ctr);
			out->d_used = LOAD(s->used) == LOAD(s->inf_used) ? usable : 0;
		} else if (!at_top && n < a->ccap[cls]) {
			out->to_cache = 1;
		}
	} else if (!live) {
		/* Its live bit is clear: the free happened. */
		if (!at_top && n < a->ccap[cls])
			out->to_cache = 1;
		out->d_frees = LOAD(s->frees) == LOAD(s->inf_ctr);
		out->d_used = LOAD(s->used) == LOAD(s->inf_used) ? (uint64_t)0 - usable : 0;
	}
	if (out->to_cache)
		out->entry = cls < NSMALL ? x : entry_make(x, usable);
}

/* 1 if a cache other than slot skip's holds off, or another slot has it in
 * flight (R3). */
static int held_elsewhere(struct sma *a, unsigned skip, uint64_t off)
{
	for (unsigned i = 0; i < a->h->nslots; i++) {
		struct slot *s = slot_at(a, i);
		if (i == skip || atomic_load(&s->state) != SLOT_HELD)
			continue;
		if (INF_OFF(atomic_load(&s->inf)) == off)
			return 1;
		struct cache_block *c = sma__cache_of(a, s);
		if (!c)
			continue;
		for (unsigned cls = 0; cls < NCLASSES; cls++) {
			uint32_t n = LOAD(c->count[cls]);
			const uint64_t *e = &c->entry[a->cbase[cls]];
			for (uint32_t k = 0; k < n && k < a->ccap[cls]; k++)
				if (entry_off(e[k]) == off)
					return 1;
		}
	}
	return 0;
}

/* ---- a slot's recovery (R) -------------------------------------------------- */

/* The locked operation the thread had on its cache (refill or flush),
 * finished or undone from the slot's log. */
static void settle_log(struct sma *a, struct slot *s, struct cache_block *c)
{
	unsigned cls = s->op_cls;
	if (s->op == SOP_REFILL && cls < NSMALL) {
		uint32_t cnt0 = (uint32_t)s->op_b;
		unsigned w = (unsigned)(s->op_b >> 32);
		uint64_t p = s->op_a, mask = s->op_c;
		unsigned idx;
		struct slab *sl = p ? slab_of(a, p + SLAB_HDR, &idx) : NULL;
		if (sl && w < SLAB_WORDS && cnt0 <= a->ccap[cls] &&
		    cnt0 + (uint32_t)__builtin_popcountll(mask) <= a->ccap[cls])
			/* The take is one store: it happened or it did not. */
			STORE(c->count[cls], (sl->free[w] & mask) == 0
						     ? cnt0 + (uint32_t)__builtin_popcountll(mask)
						     : cnt0);
	} else if (s->op == SOP_FLUSH && cls < NCLASSES) {
		uint32_t cnt0 = (uint32_t)s->op_a, n = (uint32_t)s->op_b;
		if (cnt0 <= a->ccap[cls] && n <= cnt0) {
			uint64_t *e = &c->entry[a->cbase[cls]];
			for (uint32_t i = cnt0 - n; i < cnt0; i++)
				sma__give_back_locked(a, entry_off(e[i]), cls);
			STORE(c->count[cls], cnt0 - n);
		}
	}
	STORE(s->op, SOP_NONE);
	STEP();
}

/* Gives back every object of c, from the top of each class down: an
 * object given back is no longer one the next look would give back, so
 * a restart after any step gives nothing back twice (R1). */
static void flush_all(struct sma *a, struct cache_block *c)
{
	for (unsigned cls = 0; cls < NCLASSES; cls++) {
		uint64_t *e = &c->entry[a->cbase[cls]];
		for (uint32_t n = LOAD(c->count[cls]); n > 0; n--) {
			sma__give_back_locked(a, entry_off(e[n - 1]), cls);
			STORE(c->count[cls], n - 1);
		}
	}
}

/*
 * R: empties slot i, whose thread is gone or gives it back, and frees it.
 * The caller holds the lock and has recorded op = LOP_SLOT(i) (R2).
 */
void sma__slot_recover_locked(struct sma *a, unsigned i)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	struct slot *s = slot_at(a, i);
	if (atomic_load(&s->state) != SLOT_HELD)
		goto block; /* done, or never taken: a cache block may remain */
	if (!(LOAD(s->gen) & 1))
		STORE_REL(s->gen, LOAD(s->gen) + 1); /* readers: it moves */
	struct cache_block *c = sma__cache_of(a, s);
	if (c) {
		settle_log(a, s, c);
		for (unsigned k = 0; k < NCLASSES; k++)
			if (LOAD(c->count[k]) > a->ccap[k])
				STORE(c->count[k], 0); /* scribbled: claim nothing */
		struct settle st;
		sma__settle_inflight(a, s, c, &st);
		if (st.to_cache && atomic_load(&s->inf) &&
		    (INF_KIND(atomic_load(&s->inf)) == INF_POP || !held_elsewhere(a, i, st.obj))) {
			uint32_t n = LOAD(c->count[st.cls]);
			c->entry[a->cbase[st.cls] + n] = st.entry;
			STORE(c->count[st.cls], n + 1);
		}
		/* Each counter on its own: a death may fall between them. */
		if (st.d_used)
			BUMP(s->used, st.d_used);
		if (st.d_allocs)
			BUMP(s->allocs, 1);
		if (st.d_frees)
			BUMP(s->frees, 1);
		atomic_store(&s->inf, 0);
		STEP();
		flush_all(a, c);
		sma__slabs_disown_locked(a, i + 1);
		/* The block is named in op before the slot lets go of it. */
		sma__op_block(a, s->cache - BLOCK_HDR);
		STORE(s->cache, 0);
		STEP();
	}
	sma__token_drop_locked(a, i);
	STORE(s->cached_bytes, 0);
	memset(s->own, 0, sizeof s->own);
	STORE(s->pid, 0);
	atomic_store_explicit(&s->state, SLOT_FREE, memory_order_release);
	STORE_REL(s->gen, LOAD(s->gen) + 1);
	STEP();
block:;
	uint64_t b = h->op.block;
	if (b && LOAD(h->op.kind) == LOP_SLOT && h->op.slot == i + 1) {
		uint64_t w = sma__heap_block_of(a, b + BLOCK_HDR) == b ? hw_load(a, b) : BF_FREE;
		if (!(w & BF_FREE) && hw_kind(w) == KIND_INTERNAL)
			sma__heap_free_locked(a, b);
		sma__op_block(a, 0);
	}
}

unsigned sma__reclaim_dead_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	unsigned n = 0;
	for (unsigned i = 0; i < a->h->nslots; i++) {
		if (sma__slot_liveness(a, i) != LIVE_DEAD)
			continue;
		sma__op_slot(a, i);
		sma__slot_recover_locked(a, i);
		sma__op_end(a);
		n++;
	}
	return n;
}

/* ---- the repair of a dead holder's operation (1_lock.c L2) ----------------------- */

static int visit_slab(struct sma *a, uint64_t p)
{
	return sma__slab_rebuild_locked(a, p);
}

/* The rebuild driver: the heap's lists and the slabs' from one walk of the
 * blocks, each slab taken back from its own bitmaps, then empty slabs
 * released.  0, or -1 if the blocks do not tile the heap (H1). */
static int rebuild_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	sma__slabs_reset_locked(a);
	if (sma__heap_rebuild_locked(a, visit_slab) < 0)
		return -1;
	sma__slabs_release_empty_locked(a);
	return 0;
}

/* Finishes, or undoes, the operation the dead holder recorded (its kind
 * and snapshot in header.op), once the heap is walkable again. */
static void finish_op_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	struct op_record *op = &h->op;
	uint64_t x = op->obj, usable;

	switch (LOAD(op->kind)) {
	case LOP_ALLOC:
		/* x, once chosen, is the object: count it if it went live
		 * uncounted; give a slab slot back if it never went live. */
		if (!x)
			break;
		if (sma__object_live(a, x, &usable, NULL)) {
			/* Each counter on its own: a death may fall between them. */
			if (LOAD(h->used) == op->used)
				BUMP(h->used, usable);
			STEP();
			if (LOAD(h->allocs) == op->allocs)
				BUMP(h->allocs, 1);
		} else {
			unsigned idx;
			struct slab *s = slab_of(a, x, &idx);
			if (s)
				sma__slab_put_locked(a, s, idx);
		}
		break;
	case LOP_FREE:
		/* Once the live bit is clear the free has happened: finish
		 * giving the object back, and count it. */
		if (x && !sma__object_live(a, x, NULL, NULL)) {
			sma__free_object_locked(a, x);
			if (LOAD(h->used) == op->used)
				BUMP(h->used, (uint64_t)0 - op->usable);
			STEP();
			if (LOAD(h->frees) == op->frees)
				BUMP(h->frees, 1);
		}
		break;
	case LOP_NAMED:
		/* Published but not counted: count it.  Not published: the
		 * sweep below frees the object and its record.  Each counter
		 * is decided against its own snapshot. */
		if (x && !sma__named_unlinked(a, x) && sma__object_live(a, x, &usable, NULL)) {
			if (LOAD(h->used) == op->used)
				BUMP(h->used, usable);
			STEP();
			if (LOAD(h->named) == op->named)
				BUMP(h->named, 1);
			STEP();
			if (LOAD(h->allocs) == op->allocs)
				BUMP(h->allocs, 1);
		}
		break;
	case LOP_NAMED_FREE:
		if (x && sma__named_unlinked(a, x)) {
			if (LOAD(h->used) == op->used)
				BUMP(h->used, (uint64_t)0 - op->usable);
			STEP();
			if (LOAD(h->named) == op->named)
				BUMP(h->named, (uint64_t)-1);
			STEP();
			if (LOAD(h->frees) == op->frees)
				BUMP(h->frees, 1);
		}
		break;
	case LOP_RESIZE:
		/* The block changed size but the bytes in use were not told. */
		if (x && LOAD(h->used) == op->used && sma__object_live(a, x, &usable, NULL))
			BUMP(h->used, usable - op->usable);
		break;
	case LOP_SLOT:
		/* R2: the slot's recovery goes on from where it stopped. */
		if (op->slot && op->slot <= h->nslots)
			sma__slot_recover_locked(a, op->slot - 1);
		break;
	default:
		break;
	}
}

void sma__repair_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;

	/* First make the heap walkable and its lists true again.  Blocks
	 * that do not tile (H1: not something a death leaves) are not
	 * touched further: the checker reports them. */
	/* A segment a death left half added is the arena's once published,
	 * else removed (1_segs.c). */
	sma__seg_undo_locked(a);
	int walkable = rebuild_locked(a) == 0;
	if (walkable)
		finish_op_locked(a);
	STEP();
	/* Library blocks and named objects that a death left unreferenced. */
	if (walkable)
		sma__orphans_sweep_locked(a);
	if (LOAD(h->names_seq) & 1)
		STORE_REL(h->names_seq, LOAD(h->names_seq) + 1);
	sma__op_end(a);
}

void sma__repair_init(void)
{
	sma__lock_on_death(sma__repair_locked);
	sma__cache_on_recover(sma__slot_recover_locked, sma__reclaim_dead_locked);
}

/* ---- sma_recover ---------------------------------------------------------------- */

int sma_recover(sma_t *a)
{
	if (!handle_writable(a))
		return -1;
	sma__cache_flush_self(a);
	if (sma__lock(a) < 0)
		return -1;
	if (sma__sem_gone(a))
		sma__sem_heal_locked(a);
	sma__reclaim_dead_locked(a);
	sma__op_begin(a, LOP_RECOVER);
	sma__seg_undo_locked(a);
	int rc = rebuild_locked(a);
	if (rc == 0)
		sma__orphans_sweep_locked(a);
	sma__op_end(a);
	sma__unlock(a);
	if (rc < 0) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* Everything that holds memory back from an allocation and can be made to
 * let go of it: this thread's cache, what dead processes held, and the
 * slabs threads own (theirs only by preference).  With the lock held. */
void sma__make_room_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	sma__cache_release_self_locked(a);
	sma__reclaim_dead_locked(a);
	for (uint32_t o = 1; o <= a->h->nslots; o++)
		sma__slabs_disown_locked(a, o);
}
