/*
 * cache.c -- the slot table and the per-thread caches kept in it.
 *
 * A thread that allocates takes a slot (under the arena lock) and a cache
 * block in the heap; from then on most allocations and frees move an offset
 * between its cache and the user without any lock or system call, and the
 * cache is refilled from slabs or flushed back in batches under one lock
 * acquisition.  Because the cache lives in the segment, not in the process,
 * what a dead process held can be given back by anyone (slot recovery).
 *
 *   slot table (header.slots_off)          cache block (slot.cache)
 *   +------+------+-- ... --+------+       +-----------+-----------+------------------+
 *   | slot | slot |         | slot |  ---> | count[80] | req[80]   | entries of class |
 *   +------+------+-- ... --+------+       +-----------+-----------+ 0, 1, ..., 79    |
 *                                                                  +------------------+
 *
 * Invariants:
 *   C1  a held slot names a process (pid and start time); a slot whose
 *       process is gone may be recovered by any lock holder.
 *   C2  every cached object is in exactly one cache, below its class's
 *       count; it is neither live nor free in its slab or the heap.
 *   C3  small classes cache slab slots of that class; a medium class k
 *       caches heap blocks whose usable size is in class k (above the size
 *       of class k-1, at most that of k), the size kept in the entry.
 *   C4  a slot's cached_bytes is the sum of the usable sizes of the
 *       medium blocks it caches (small ones are counted by class).
 *
 * The lock-free moves, and why a crash between any two steps is repaired
 * (sma__slot_recover_locked):
 *   pop:  record inf {off, POP, allocs}; count--; set live; count; clear inf
 *   push: record inf {off, PUSH, frees}; clear live (this is the double-
 *         free check); entry[count] = off; count++; count; clear inf
 * The record names the one object in flight; its live bit and the slot's
 * count say how far the move went.  Refill and flush run under the lock
 * and log themselves in the slot's op fields (SOP_REFILL: the slab word
 * and mask taken; SOP_FLUSH: the range being returned).
 */
#include "internal.h"
#include "cache_fast.h"

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
			cap = (uint32_t)(small_cap * 4096 * 8 / sma__class_size[c]);
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

struct slot *sma__slot(const struct sma *a, unsigned i)
{
	return (struct slot *)at(a, a->h->slots_off + (uint64_t)i * SLOT_BYTES);
}

static struct cache_block *cache_of(const struct sma *a, const struct slot *s);

/* The heads of the own-slab lists of slot owner - 1, if it is held and
 * has a cache; else NULL. */
uint64_t *sma__own_heads(const struct sma *a, uint32_t owner)
{
	if (!owner || owner > a->h->nslots)
		return NULL;
	struct slot *s = sma__slot(a, owner - 1);
	if (atomic_load(&s->state) != SLOT_HELD)
		return NULL;
	struct cache_block *c = cache_of(a, s);
	return c ? c->own : NULL;
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

static struct cache_block *cache_of(const struct sma *a, const struct slot *s)
{
	uint64_t c = s->cache;
	const struct sma_header *h = a->h;
	if (c < h->heap_off + 16 || !in_heap(a, c, cache_block_bytes(a)) || (c & 15))
		return NULL;
	return (struct cache_block *)at(a, c);
}

/* ---- returning objects under the lock ------------------------------------ */

/* Gives a cached object (neither live nor free) back to its slab or to the
 * heap.  Checks everything: the caller may be a recovery reading a slot
 * that a dead process left. */
static void give_back_locked(struct sma *a, uint64_t off, unsigned cls)
{
	if (cls < NSMALL) {
		unsigned idx;
		struct slab *s = sma__slab_of(a, off, &idx);
		if (!s || s->cls != cls)
			return;
		uint64_t bit = 1ull << (idx & 63);
		if (atomic_load(&s->live[idx >> 6]) & bit)
			return;
		sma__slab_put_locked(a, s, idx);
	} else {
		uint64_t b = sma__heap_block_of(a, off);
		if (!b)
			return;
		uint64_t w = hw_load(a, b);
		if ((w & (BF_FREE | BF_LIVE)) || hw_kind(w) != KIND_USER)
			return;
		sma__heap_free_locked(a, b);
	}
}

/* The usable size of the heap block at off, 0 if it is not one. */
static uint64_t usable_of(const struct sma *a, uint64_t off)
{
	uint64_t b = sma__heap_block_of(a, off);
	return b ? hw_size(hw_load(a, b)) - BLOCK_OVERHEAD : 0;
}

static uint64_t cached_usable(const struct sma *a, uint64_t off, unsigned cls)
{
	if (cls < NSMALL)
		return sma__class_size[cls];
	uint64_t b = sma__heap_block_of(a, off);
	return b ? hw_size(hw_load(a, b)) - BLOCK_OVERHEAD : 0;
}

/* Flushes the top n entries of class cls of this thread's cache. */
static void flush_locked(struct sma *a, struct slot *s, struct cache_block *c, unsigned cls, unsigned n)
{
	uint32_t cnt = c->count[cls];
	if (n > cnt)
		n = cnt;
	if (!n)
		return;
	s->op_cls = cls;
	s->op_a = cnt;
	s->op_b = n;
	atomic_store_explicit((_Atomic uint32_t *)&s->op, SOP_FLUSH, memory_order_release);
	STEP();
	uint64_t *e = &c->entry[a->cbase[cls]];
	uint64_t bytes = 0;
	for (uint32_t i = cnt - n; i < cnt; i++) {
		bytes += cached_usable(a, entry_off(e[i]), cls);
		give_back_locked(a, entry_off(e[i]), cls);
	}
	c->count[cls] = cnt - n;
	if (cls >= NSMALL)
		s->cached_bytes -= bytes;
	STEP();
	atomic_store_explicit((_Atomic uint32_t *)&s->op, SOP_NONE, memory_order_release);
}

static void flush_all_locked(struct sma *a, struct slot *s, struct cache_block *c)
{
	for (unsigned cls = 0; cls < NCLASSES; cls++)
		if (c->count[cls])
			flush_locked(a, s, c, cls, c->count[cls]);
}

/* Takes a free slot (or a dead one) for this thread; NULL if none. */
static struct slot *slot_take_locked(struct sma *a)
{
	struct sma_header *h = a->h;
	struct slot *s = NULL;
	for (unsigned i = 0; i < h->nslots && !s; i++) {
		struct slot *t = sma__slot(a, i);
		if (atomic_load(&t->state) == SLOT_FREE)
			s = t;
	}
	if (!s && sma__reclaim_dead_locked(a)) {
		for (unsigned i = 0; i < h->nslots && !s; i++) {
			struct slot *t = sma__slot(a, i);
			if (atomic_load(&t->state) == SLOT_FREE)
				s = t;
		}
	}
	if (!s)
		return NULL;
	uint64_t b = sma__heap_alloc_locked(a, cache_block_bytes(a), ALIGN, KIND_INTERNAL);
	if (!b)
		return NULL;
	h->lock_new = b;
	struct cache_block *c = (struct cache_block *)at(a, b + 16);
	memset(c, 0, sizeof *c);
	memset(s, 0, sizeof *s);
	s->pid = sma__getpid();
	s->tid = sma__gettid();
	s->start = sma__self_start();
	s->hid = a->hid;
	s->cache = b + 16;
	atomic_store(&s->state, SLOT_HELD);
	h->lock_new = 0;
	return s;
}

/* Empties slot s (its owner is this thread, or gone) and frees it. */
static void slot_release_locked(struct sma *a, struct slot *s)
{
	struct sma_header *h = a->h;
	struct cache_block *c = cache_of(a, s);
	if (c) {
		flush_all_locked(a, s, c);
		sma__slabs_disown_locked(a, (uint32_t)(s - sma__slot(a, 0)) + 1);
		for (unsigned cls = 0; cls < NCLASSES; cls++)
			h->cls[cls].requests += c->req[cls];
		uint64_t b = sma__heap_block_of(a, s->cache);
		if (b && hw_kind(hw_load(a, b)) == KIND_INTERNAL)
			sma__heap_free_locked(a, b);
	}
	h->allocs += s->allocs;
	h->frees += s->frees;
	h->used += s->used;
	s->allocs = s->frees = s->used = 0;
	s->cached_bytes = 0;
	s->cache = 0;
	s->pid = 0;
	atomic_store(&s->state, SLOT_FREE);
}

/*
 * Repairs and empties the slot of a thread that is gone (C1): finishes its
 * logged refill or flush, settles the object it had in flight, gives back
 * everything it cached and folds its counters into the header.
 */
void sma__slot_recover_locked(struct sma *a, struct slot *s)
{
	struct sma_header *h = a->h;
	struct cache_block *c = cache_of(a, s);
	if (!c) {
		s->cache = 0;
		slot_release_locked(a, s);
		return;
	}
	unsigned cls = s->op_cls;
	if (s->op == SOP_REFILL && cls < NSMALL) {
		uint32_t cnt0 = (uint32_t)s->op_b;
		unsigned w = (unsigned)(s->op_b >> 32);
		uint64_t p = s->op_a, mask = s->op_c;
		unsigned idx;
		struct slab *sl = p ? sma__slab_of(a, p + SLAB_HDR, &idx) : NULL;
		if (sl && w < SLAB_WORDS && cnt0 <= a->ccap[cls]) {
			if ((sl->free[w] & mask) == 0) /* the take happened */
				c->count[cls] = cnt0 + (uint32_t)__builtin_popcountll(mask);
			else
				c->count[cls] = cnt0;
		}
	} else if (s->op == SOP_FLUSH && cls < NCLASSES) {
		uint32_t cnt0 = (uint32_t)s->op_a, n = (uint32_t)s->op_b;
		if (cnt0 <= a->ccap[cls] && n <= cnt0) {
			uint64_t *e = &c->entry[a->cbase[cls]];
			for (uint32_t i = cnt0 - n; i < cnt0; i++)
				give_back_locked(a, entry_off(e[i]), cls);
			c->count[cls] = cnt0 - n;
		}
	}
	s->op = SOP_NONE;

	/* Clamp what a scribbled slot could claim. */
	for (unsigned k = 0; k < NCLASSES; k++)
		if (c->count[k] > a->ccap[k])
			c->count[k] = 0;

	uint64_t inf = atomic_load(&s->inf);
	cls = INF_CLS(inf);
	uint64_t x = INF_OFF(inf);
	unsigned kind = INF_KIND(inf);
	if (kind != INF_NONE && x && cls < NCLASSES) {
		uint64_t usable;
		int live = sma__object_live(a, x, &usable, NULL);
		uint64_t *e = &c->entry[a->cbase[cls]];
		uint32_t cnt = c->count[cls];
		int at_top = cnt > 0 && entry_off(e[cnt - 1]) == x;
		if (kind == INF_POP) {
			if (live) {
				/* Handed out: count it where the thread did not. */
				if (s->used == s->inf_used)
					s->used += usable;
				if (s->allocs == s->inf_ctr)
					s->allocs++;
			} else if (!at_top && cnt < a->ccap[cls]) {
				e[cnt] = entry_make(x, cls < NSMALL ? 0 : usable_of(a, x));
				c->count[cls] = cnt + 1;
			}
		} else if (kind == INF_PUSH && !live) {
			if (!at_top && cnt < a->ccap[cls]) {
				e[cnt] = entry_make(x, cls < NSMALL ? 0 : usable_of(a, x));
				c->count[cls] = cnt + 1;
			}
			if (s->used == s->inf_used)
				s->used -= cached_usable(a, x, cls);
			if (s->frees == s->inf_ctr)
				s->frees++;
		}
	}
	atomic_store(&s->inf, 0);
	h->recovered_slots++;
	slot_release_locked(a, s);
}

/* Recovers every slot whose process is gone; how many. */
unsigned sma__reclaim_dead_locked(struct sma *a)
{
	unsigned n = 0;
	pid_t self = sma__getpid();
	for (unsigned i = 0; i < a->h->nslots; i++) {
		struct slot *s = sma__slot(a, i);
		if (atomic_load(&s->state) != SLOT_HELD || s->pid == self)
			continue;
		if (!sma__proc_alive(s->pid, s->start)) {
			sma__slot_recover_locked(a, s);
			n++;
		}
	}
	return n;
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

/* Bytes a slot's cache holds: medium ones counted as they move, small
 * ones by class. */
uint64_t sma__slot_cached_bytes(const struct sma *a, const struct slot *s)
{
	uint64_t bytes = s->cached_bytes;
	const struct cache_block *c = cache_of(a, s);
	if (c)
		for (unsigned cls = 0; cls < NSMALL; cls++)
			if (c->count[cls] <= a->ccap[cls])
				bytes += (uint64_t)c->count[cls] * sma__class_size[cls];
	return bytes;
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
	r->c = (struct cache_block *)at(a, s->cache);
	pthread_setspecific(t_key, (void *)1);
	return r;
}


/* A small class's cache is empty: refill it from its slabs under one
 * lock, then allocate from it (the slow half of sma__cache_alloc). */
int sma__cache_refill(struct sma *a, struct tref *r, unsigned cls, uint64_t *off)
{
	struct slot *s = r->slot;
	struct cache_block *c = r->c;
	if (sma__lock(a) < 0)
		return -1;
	unsigned got = 0;
	for (int tries = 0; tries < 4 && got < a->refill / 2; tries++) {
		uint32_t cnt = c->count[cls];
		s->op_b = cnt;
		a->h->lock_slot = (uint32_t)(s - sma__slot(a, 0)) + 1;
		sma__op_begin(a, LOP_SLOT, 0, 0);
		unsigned k = sma__slab_take_locked(a, cls, &c->entry[a->cbase[cls] + cnt],
						   a->refill - got, s, (uint32_t)(s - sma__slot(a, 0)) + 1);
		c->count[cls] = cnt + k;
		STEP();
		atomic_store_explicit((_Atomic uint32_t *)&s->op, SOP_NONE, memory_order_release);
		sma__op_end(a);
		got += k;
		if (!k)
			break;
	}
	if (!got)
		a->h->cls[cls].failures++;
	sma__unlock(a);
	if (!got)
		return 1; /* the locked path gives back caches and reports ENOMEM */
	*off = pop(a, s, c, cls);
	return 0;
}


/* The cache of class cls is full, or holds too many bytes: flush it down
 * under one lock (the slow half of sma__cache_free). */
int sma__cache_make_room(struct sma *a, struct tref *r, unsigned cls, uint64_t usable)
{
	struct slot *s = r->slot;
	struct cache_block *c = r->c;
	uint32_t n = c->count[cls];
	if (sma__lock(a) < 0)
		return -1;
	a->h->lock_slot = (uint32_t)(s - sma__slot(a, 0)) + 1;
	sma__op_begin(a, LOP_SLOT, 0, 0);
	if (n >= a->ccap[cls])
		flush_locked(a, s, c, cls, n - a->ccap[cls] / 4);
	/* Over the byte budget: give back the largest blocks first, down to
	 * three quarters of it, so that the small end of the cache stays. */
	for (unsigned k = NCLASSES; k-- > NSMALL && s->cached_bytes + usable > a->h->cache_budget / 4 * 3;)
		if (c->count[k])
			flush_locked(a, s, c, k, c->count[k]);
	sma__op_end(a);
	sma__unlock(a);
	return 0;
}

/* ---- giving caches back ------------------------------------------------------ */

/* Gives back this thread's slot on a (cache, counters), if it has one. */
static void release_self(struct sma *a, struct tref *r)
{
	if (r->slot && !(a->flags & SMA_RDONLY) && sma__lock(a) == 0) {
		struct slot *s = r->slot;
		if (atomic_load(&s->state) == SLOT_HELD && s->pid == sma__getpid() && s->hid == a->hid) {
			a->h->lock_slot = (uint32_t)(s - sma__slot(a, 0)) + 1;
			sma__op_begin(a, LOP_SLOT, 0, 0);
			slot_release_locked(a, s);
			sma__op_end(a);
		}
		sma__unlock(a);
	}
	memset(r, 0, sizeof *r);
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
	pid_t self = sma__getpid();
	if (sma__lock(a) < 0)
		return;
	for (unsigned i = 0; i < a->h->nslots; i++) {
		struct slot *s = sma__slot(a, i);
		if (atomic_load(&s->state) == SLOT_HELD && s->pid == self && s->hid == a->hid) {
			a->h->lock_slot = i + 1;
			sma__op_begin(a, LOP_SLOT, 0, 0);
			slot_release_locked(a, s);
			sma__op_end(a);
		}
	}
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
		if (!r->hid) {
			memset(r, 0, sizeof *r);
			continue;
		}
		struct sma *a = sma__registry_find(r->hid);
		if (a)
			release_self(a, r);
		memset(r, 0, sizeof *r);
	}
	pthread_mutex_unlock(&sma__registry_lock);
}
