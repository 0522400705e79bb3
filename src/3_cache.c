/*
 * 3_cache.c -- the slot table and the per-thread caches kept in it.
 *
 * A thread that allocates takes a slot (under the arena lock) and a cache
 * block in the heap; from then on most allocations and frees move an offset
 * between its cache and the user without any lock or system call, and the
 * cache is refilled from slabs or flushed back in batches under one lock
 * acquisition.  Because the cache lives in the segment, not in the process,
 * what a dead process held can be given back by anyone (4_repair.c).
 *
 *   slot table (header.slots_off)          cache block (slot.cache)
 *   +------+------+-- ... --+------+       +-----------+------------------+
 *   | slot | slot |         | slot |  ---> | count[80] | entries of class |
 *   +------+------+-- ... --+------+       +-----------+ 0, 1, ..., 79    |
 *                                                      +------------------+
 *
 * Invariants:
 *   C1  a held slot names its owner process (identity, pid, start time,
 *       PID namespace) and has its liveness token raised (1_sem.c T2); a
 *       slot whose owner is gone may be recovered by any lock holder.
 *   C2  every cached object is in exactly one cache, below its class's
 *       count; it is neither live nor free in its slab or the heap.
 *   C3  small classes cache slab slots of that class; a medium class k
 *       caches heap blocks whose usable size is in class k (above the size
 *       of class k-1, at most that of k), the size kept in the entry.
 *   C4  a slot's cached_bytes is the sum of the usable sizes of the
 *       medium blocks it caches (small ones are counted by class).
 *
 * The lock-free moves, and why a death between any two steps is repaired
 * (4_repair.c, sma__settle_inflight):
 *   pop:  record inf {off, POP}; count--; set live; used; allocs; clear inf
 *   push: record inf {off, PUSH}; clear live (this is the double-free
 *         check); entry[count] = off; count++; used; frees; clear inf
 * The record names the one object in flight; its live bit and the slot's
 * count say how far the move went, and inf_ctr and inf_used whether the
 * counters moved.  Refill and flush run under the lock and log themselves
 * in the slot's op fields (SOP_REFILL: the slab word and mask taken;
 * SOP_FLUSH: the range being returned), with op = LOP_SLOT in the header.
 */
#include "3_cache.h"
#include "0_memcheck.h"
#include "0_proc.h"
#include "1_lock.h"
#include "1_sem.h"
#include "2_heap.h"
#include "2_slab.h"
#include "3_registry.h"

#include <stdlib.h>

static uint64_t cache_block_bytes(const struct sma *a)
{
	return sizeof(struct cache_block) + (uint64_t)a->entries * 8;
}

/*
 * The layout of the arena's cache blocks: small_cap entries for each small
 * class (set at creation by the heap's size, so that a thread of a small
 * arena cannot hold much of it), and 8 to 32 for each medium class.  -1
 * if small_cap is not one this build makes.
 */
int sma__cache_tables(struct sma *a, uint64_t small_cap)
{
	if (small_cap < 16 || small_cap > 256 || (small_cap & (small_cap - 1)))
		return -1;
	uint32_t base = 0;
	for (unsigned c = 0; c < NCLASSES; c++) {
		uint32_t cap;
		if (c < NSMALL) {
			cap = (uint32_t)small_cap;
		} else {
			/* Medium classes scale with the small ones: 8 to 32
			 * blocks in small arenas, 16 to 128 in large ones. */
			uint32_t most = (uint32_t)small_cap / 2 < 32 ? 32 : (uint32_t)small_cap / 2;
			uint32_t least = most / 4;
			cap = (uint32_t)(small_cap * 4096 * 8 / class_size[c]);
			cap = cap < least ? least : cap > most ? most : cap;
		}
		a->ccap[c] = cap;
		a->cbase[c] = base;
		base += cap;
	}
	a->entries = base;
	a->refill = (uint32_t)small_cap * 3 / 4;
	return 0;
}

/* The cache block a slot names, if it lies in the heap; else NULL. */
struct cache_block *sma__cache_of(const struct sma *a, const struct slot *s)
{
	uint64_t c = LOAD(((struct slot *)s)->cache);
	if (c < BLOCK_HDR || !in_heap(a, c - BLOCK_HDR, cache_block_bytes(a) + BLOCK_HDR) || (c & 15))
		return NULL;
	return (struct cache_block *)at(a, c);
}

/* ---- this thread's slots ----------------------------------------------- */

static pthread_key_t t_key;
static pthread_once_t t_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *unused);
static void process_exit(void) { thread_exit(NULL); }
static void key_init(void)
{
	pthread_key_create(&t_key, thread_exit);
	atexit(process_exit);
}

/* ---- returning objects under the lock ------------------------------------ */

/* Gives a cached object (neither live nor free) back to its slab or to the
 * heap; does nothing to one that is live or free already (4_repair.c R3).
 * Checks everything: the caller may be a recovery reading a slot that a
 * dead process left.  Every cached object leaves its cache here, so that
 * here it is made accessible again to the tools that watch (0_memcheck.h
 * M2), before the slab or the heap writes in it. */
void sma__give_back_locked(struct sma *a, uint64_t off, unsigned cls)
{
	DASSERT(sma__lock_held(a));
	if (cls < NSMALL) {
		unsigned idx;
		struct slab *s = slab_of(a, off, &idx);
		if (!s || s->cls != cls)
			return;
		uint64_t bit = 1ull << (idx & 63);
		if (atomic_load(&s->live[idx >> 6]) & bit)
			return;
		mc_leaves_cache(a, off, class_size[cls]);
		sma__slab_put_locked(a, s, idx);
	} else {
		uint64_t b = sma__heap_block_of(a, off);
		if (!b)
			return;
		uint64_t w = hw_load(a, b);
		if ((w & (BF_FREE | BF_LIVE)) || hw_kind(w) != KIND_USER)
			return;
		mc_leaves_cache(a, off, hw_size(w) - BLOCK_OVERHEAD);
		sma__heap_free_locked(a, b);
	}
}

/* Flushes the top n entries of class cls of this thread's cache. */
static void flush_locked(struct sma *a, struct slot *s, struct cache_block *c, unsigned cls, unsigned n)
{
	DASSERT(sma__lock_held(a));
	uint32_t cnt = LOAD(c->count[cls]);
	if (n > cnt)
		n = cnt;
	if (!n)
		return;
	s->op_cls = cls;
	s->op_a = cnt;
	s->op_b = n;
	STORE_REL(s->op, SOP_FLUSH);
	STEP();
	uint64_t *e = &c->entry[a->cbase[cls]];
	uint64_t bytes = 0;
	for (uint32_t i = cnt - n; i < cnt; i++) {
		bytes += entry_usable(e[i]);
		sma__give_back_locked(a, entry_off(e[i]), cls);
	}
	STORE(c->count[cls], cnt - n);
	if (cls >= NSMALL)
		BUMP(s->cached_bytes, (uint64_t)0 - bytes);
	STEP();
	STORE_REL(s->op, SOP_NONE);
}

/* A live owner raises its token again in a set made since it took the
 * slot (1_sem.c): from then on the slot is judged by the token again. */
static void (*g_recover)(struct sma *a, unsigned i);
static unsigned (*g_reclaim)(struct sma *a);

void sma__cache_on_recover(void (*recover)(struct sma *a, unsigned i), unsigned (*reclaim)(struct sma *a))
{
	g_recover = recover;
	g_reclaim = reclaim;
}

static void token_follow_locked(struct sma *a, struct slot *s)
{
	DASSERT(sma__lock_held(a));
	if (UNLIKELY(s->set_gen != LOAD(a->h->set_gen)))
		sma__token_raise_locked(a, slot_index(a, s));
}

/* Takes a free slot for this thread, or the slot of a dead one; NULL if
 * none (the thread then works without a cache). */
static struct slot *slot_take_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	int i = -1;
	for (unsigned pass = 0; pass < 2 && i < 0; pass++) {
		for (unsigned k = 0; k < h->nslots && i < 0; k++)
			if (atomic_load(&slot_at(a, k)->state) == SLOT_FREE)
				i = (int)k;
		if (i < 0 && (pass > 0 || !g_reclaim(a)))
			break;
	}
	if (i < 0)
		return NULL;
	struct slot *s = slot_at(a, (unsigned)i);
	sma__op_slot(a, (unsigned)i);
	uint64_t b = sma__heap_alloc_locked(a, cache_block_bytes(a), ALIGN, KIND_INTERNAL);
	if (!b) {
		sma__op_end(a);
		return NULL;
	}
	STEP();
	struct cache_block *c = (struct cache_block *)at(a, b + BLOCK_HDR);
	memset(c, 0, sizeof *c);
	STORE_REL(s->gen, LOAD(s->gen) | 1);
	STORE(s->pid, sma__getpid());
	STORE(s->tid, sma__gettid());
	STORE(s->owner_id, sma__self_id());
	STORE(s->start, sma__self_start());
	STORE(s->pidns, sma__self_pidns());
	s->hid = a->hid;
	atomic_store(&s->inf, 0);
	s->op = SOP_NONE;
	STORE(s->cached_bytes, 0);
	memset(s->own, 0, sizeof s->own);
	STORE(s->set_gen, LOAD(h->set_gen) - 1); /* no token of ours yet */
	STORE(s->cache, b + BLOCK_HDR);
	atomic_store_explicit(&s->state, SLOT_HELD, memory_order_release);
	STEP();
	if (sma__token_raise_locked(a, (unsigned)i) < 0) {
		/* The set refuses us (its permissions, say): no cache, rather
		 * than a slot nobody could tell from a dead one. */
		g_recover(a, (unsigned)i);
		sma__op_end(a);
		return NULL;
	}
	STORE_REL(s->gen, LOAD(s->gen) + 1);
	sma__op_end(a);
	return s;
}

/* Bytes a slot's cache holds: medium ones counted as they move, small
 * ones by class. */
uint64_t sma__slot_cached_bytes(const struct sma *a, const struct slot *s)
{
	uint64_t bytes = LOAD(((struct slot *)s)->cached_bytes);
	const struct cache_block *c = sma__cache_of(a, s);
	if (c)
		for (unsigned cls = 0; cls < NSMALL; cls++) {
			uint32_t n = LOAD(((struct cache_block *)c)->count[cls]);
			if (n <= a->ccap[cls])
				bytes += (uint64_t)n * class_size[cls];
		}
	return bytes;
}

TLS struct tref sma__t_ref[NTREF];

/* ---- the fast paths ------------------------------------------------------ */

/* This thread's entry for handle a, moved to the front; NULL if none.
 * (A fork child starts with none: sma__tls_after_fork.) */
static inline struct tref *tref_get(struct sma *a)
{
	if (LIKELY(sma__t_ref[0].hid == a->hid))
		return &sma__t_ref[0];
	for (unsigned i = 1; i < NTREF; i++) {
		if (sma__t_ref[i].hid == a->hid) {
			struct tref t = sma__t_ref[i];
			sma__t_ref[i] = sma__t_ref[0];
			sma__t_ref[0] = t;
			return &sma__t_ref[0];
		}
	}
	return NULL;
}

/* In the child of a fork, in its only thread: the parent's slots are not
 * the child's. */
void sma__tls_after_fork(void)
{
	memset(sma__t_ref, 0, sizeof sma__t_ref);
}

/* This thread's slot on a, taking one if it has none; NULL: work without
 * (the slow half of sma__tref_take). */
struct tref *sma__tref_take_slow(struct sma *a)
{
	struct tref *r = tref_get(a);
	if (r != NULL) {
		if (LIKELY(r->slot != NULL))
			return r;
		if (++r->misses & 1023)
			return NULL; /* try again for a slot now and then */
	} else {
		struct tref *victim = NULL;
		pthread_mutex_lock(&sma__registry_lock);
		for (unsigned i = 0; i < NTREF && !victim; i++)
			if (!sma__t_ref[i].hid || !sma__registry_find(sma__t_ref[i].hid))
				victim = &sma__t_ref[i];
		pthread_mutex_unlock(&sma__registry_lock);
		if (!victim)
			return NULL; /* this thread uses too many arenas at once */
		memset(victim, 0, sizeof *victim);
		victim->hid = a->hid;
		r = victim;
	}
	if (a->h->nslots == 0)
		return NULL;
	pthread_once(&t_key_once, key_init);
	if (sma__lock(a) < 0)
		return NULL;
	struct slot *s = slot_take_locked(a);
	sma__unlock(a);
	if (!s)
		return NULL;
	r->slot = s;
	r->c = (struct cache_block *)at(a, LOAD(s->cache));
	pthread_setspecific(t_key, (void *)1);
	return r;
}

/* A small class's cache is empty: refill it from its slabs under one
 * lock (the slow half of sma__cache_alloc). */
int sma__cache_refill(struct sma *a, struct tref *r, unsigned cls)
{
	struct slot *s = r->slot;
	struct cache_block *c = r->c;
	if (sma__lock(a) < 0)
		return -1;
	unsigned i = slot_index(a, s);
	sma__op_slot(a, i);
	token_follow_locked(a, s);
	unsigned got = 0;
	for (int tries = 0; tries < 4 && got < a->refill / 2; tries++) {
		uint32_t cnt = LOAD(c->count[cls]);
		s->op_b = cnt;
		unsigned k = sma__slab_take_locked(a, cls, &c->entry[a->cbase[cls] + cnt], a->refill - got, s, i + 1);
		STORE(c->count[cls], cnt + k);
		STEP();
		STORE_REL(s->op, SOP_NONE);
		got += k;
		if (!k)
			break;
	}
	if (!got)
		a->h->cls[cls].failures++;
	sma__op_end(a);
	sma__sem_check_locked(a);
	sma__unlock(a);
	return got ? 0 : 1;
}

/* The cache of class cls is full, or holds too many bytes: flush it down
 * under one lock (the slow half of sma__cache_free). */
int sma__cache_make_room(struct sma *a, struct tref *r, unsigned cls, uint64_t usable)
{
	struct slot *s = r->slot;
	struct cache_block *c = r->c;
	uint32_t n = LOAD(c->count[cls]);
	if (sma__lock(a) < 0)
		return -1;
	sma__op_slot(a, slot_index(a, s));
	token_follow_locked(a, s);
	if (n >= a->ccap[cls])
		flush_locked(a, s, c, cls, n - a->ccap[cls] / 4);
	/* Over the byte budget: give back the largest blocks first, down to
	 * three quarters of it, so that the small end of the cache stays. */
	for (unsigned k = NCLASSES; k-- > NSMALL && LOAD(s->cached_bytes) + usable > a->h->cache_budget / 4 * 3;)
		if (LOAD(c->count[k]))
			flush_locked(a, s, c, k, LOAD(c->count[k]));
	sma__op_end(a);
	sma__sem_check_locked(a);
	sma__unlock(a);
	return 0;
}

/* ---- giving caches back ------------------------------------------------------ */

/* Gives back slot s, held by this process through handle a: its cache,
 * its token, the slot itself (4_repair.c R, recorded). */
static void release_locked(struct sma *a, struct slot *s)
{
	DASSERT(sma__lock_held(a));
	if (atomic_load(&s->state) != SLOT_HELD || LOAD(s->owner_id) != sma__self_id() || s->hid != a->hid)
		return;
	unsigned i = slot_index(a, s);
	sma__op_slot(a, i);
	g_recover(a, i);
	sma__op_end(a);
}

/* Gives back this thread's slot on a (cache, counters), if it has one. */
static void release_self(struct sma *a, struct tref *r)
{
	if (r->slot && !(a->flags & SMA_RDONLY) && sma__lock(a) == 0) {
		release_locked(a, r->slot);
		sma__unlock(a);
	}
	memset(r, 0, sizeof *r);
}

/* The same, with the lock held already. */
void sma__cache_release_self_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	struct tref *r = tref_get(a);
	if (r) {
		if (r->slot && !(a->flags & SMA_RDONLY))
			release_locked(a, r->slot);
		memset(r, 0, sizeof *r);
	}
}

void sma__cache_flush_self(struct sma *a)
{
	struct tref *r = tref_get(a);
	if (r)
		release_self(a, r);
}

/* At sma_close: the slots this process took through handle a. */
void sma__slots_release_process(struct sma *a)
{
	sma__cache_flush_self(a);
	if (a->flags & SMA_RDONLY)
		return;
	if (sma__lock(a) < 0)
		return;
	for (unsigned i = 0; i < a->h->nslots; i++)
		release_locked(a, slot_at(a, i));
	sma__unlock(a);
}

void sma__tls_forget(struct sma *a)
{
	struct tref *r = tref_get(a);
	if (r)
		memset(r, 0, sizeof *r);
}

static void thread_exit(void *unused)
{
	pthread_mutex_lock(&sma__registry_lock);
	for (unsigned i = 0; i < NTREF; i++) {
		struct tref *r = &sma__t_ref[i];
		struct sma *a = r->hid ? sma__registry_find(r->hid) : NULL;
		if (a)
			release_self(a, r);
		memset(r, 0, sizeof *r);
	}
	pthread_mutex_unlock(&sma__registry_lock);
}
