/*
 * 2_slab.c -- small objects (16 to 256 bytes): size classes served from
 * slabs with free bitmaps.
 *
 * A slab is one heap block of kind KIND_SLAB whose payload starts on a page
 * boundary; the pages it covers are marked PM_SLAB in the page map, so that
 * the slab of any object is found in O(1).  Its header and bitmaps sit in
 * front of the objects (layout in 0_layout.h), never between them.
 *
 * Invariants:
 *   S1  magic == SLAB_MAGIC | cls, cls < NSMALL, nobj == slab_nobj(cls).
 *   S2  no slot is both free (free[]) and live (live[]); bits past nobj
 *       are clear.
 *   S3  nfree == popcount(free[]); a slab is on a list exactly when
 *       nfree > 0: its owner's (own[cls] in the owning thread's slot) if
 *       a thread owns it, else its class's partial list; the
 *       links agree both ways.  A thread refills only from its own slabs
 *       and takes unowned ones as it needs them, so threads do not share
 *       the cache lines of a slab's bitmaps.  Ownership lasts until the
 *       thread gives back its slot (or memory runs short); it is derived
 *       state, cleared by a rebuild.
 *   S4  a slab with nfree == nobj goes back to the heap, unless it is the
 *       first on its owner's list.
 *   S5  every page of the slab maps to it (PM_SLAB), and only those.
 *   S6  the class's slabs, slots and free counts add up over its slabs.
 */
#include "2_slab.h"
#include "1_lock.h"
#include "2_heap.h"

static inline struct slab *slab_at(const struct sma *a, uint64_t p)
{
	return (struct slab *)at(a, p);
}


/* The heads of the own-slab lists of slot owner - 1, if it is held; else
 * NULL. */
static uint64_t *own_heads(const struct sma *a, uint32_t owner)
{
	if (!owner || owner > a->h->nslots)
		return NULL;
	struct slot *s = slot_at(a, owner - 1);
	if (atomic_load(&s->state) != SLOT_HELD)
		return NULL;
	return s->own;
}

/* The list a slab belongs on: its owner's (a thread's own slabs with free
 * slots, in its slot) or, for a slab nobody owns, its class's. */
static uint64_t *head_of(struct sma *a, unsigned cls, struct slab *s)
{
	if (s->owner) {
		uint64_t *own = own_heads(a, s->owner);
		if (own)
			return &own[cls];
		s->owner = 0; /* its thread is gone: nobody's now */
	}
	return &a->h->cls[cls].partial;
}

static void list_push(struct sma *a, unsigned cls, struct slab *s, uint64_t p)
{
	uint64_t *head = head_of(a, cls, s);
	s->prev = 0;
	s->next = *head;
	if (*head)
		slab_at(a, *head)->prev = p;
	*head = p;
	s->listed = 1;
}

static void list_unlink(struct sma *a, unsigned cls, struct slab *s)
{
	if (!s->listed)
		return;
	uint64_t *head = head_of(a, cls, s);
	if (s->prev)
		slab_at(a, s->prev)->next = s->next;
	else
		*head = s->next;
	if (s->next)
		slab_at(a, s->next)->prev = s->prev;
	s->next = s->prev = 0;
	s->listed = 0;
}

static void map_pages(struct sma *a, uint64_t p, uint32_t val)
{
	for (uint64_t pg = p >> PAGE_SHIFT; pg < (p + SLAB_SIZE) >> PAGE_SHIFT; pg++)
		pm_store(a, pg, val);
}

/* A new slab of class cls, on the partial list; 0 if the heap is full. */
static uint64_t slab_new(struct sma *a, unsigned cls)
{
	struct sma_header *h = a->h;
	/* A library block until it is a whole slab: if a death stops us,
	 * the repair's sweep frees it. */
	uint64_t b = sma__heap_alloc_locked(a, SLAB_SIZE + BLOCK_OVERHEAD, PAGE, KIND_INTERNAL);
	if (!b)
		return 0;
	uint64_t p = b + BLOCK_HDR;
	struct slab *s = slab_at(a, p);
	memset(s, 0, SLAB_HDR);
	STORE(s->cls, (uint16_t)cls);
	STORE(s->nobj, slab_nobj[cls]);
	for (unsigned i = 0; i < slab_nobj[cls]; i++)
		s->free[i >> 6] |= 1ull << (i & 63);
	s->nfree = slab_nobj[cls];
	STORE(s->magic, SLAB_MAGIC | cls);
	STEP();
	atomic_store(bhdr(a, b), (hw_load(a, b) & ~B_KIND_MASK) | ((uint64_t)KIND_SLAB << B_KIND_SHIFT));
	map_pages(a, p, PM_SLAB | (uint32_t)((p & OFF_MASK) >> PAGE_SHIFT));
	list_push(a, cls, s, p);
	h->cls[cls].slabs++;
	h->cls[cls].slots += s->nobj;
	h->cls[cls].free += s->nobj;
	return p;
}

static void slab_release(struct sma *a, struct slab *s, uint64_t p)
{
	struct class_state *c = &a->h->cls[s->cls];
	if (s->listed)
		list_unlink(a, s->cls, s);
	c->slabs--;
	c->slots -= s->nobj;
	c->free -= s->nobj;
	map_pages(a, p, 0);
	/* A library block from here on: if a crash stops us, the repair's
	 * sweep frees it, and no walk mistakes it for a slab. */
	atomic_store(bhdr(a, p - BLOCK_HDR), (hw_load(a, p - BLOCK_HDR) & ~B_KIND_MASK) | ((uint64_t)KIND_INTERNAL << B_KIND_SHIFT));
	STEP();
	sma__heap_free_locked(a, p - BLOCK_HDR);
}

/*
 * Takes up to n free slots of class cls out of one bitmap word of one slab
 * and writes their offsets to out (in a slot's cache, past its count).
 * With a log, the slot records the take first so that a crash in the middle
 * can be finished (3_cache.c).  Returns how many it took.
 */
unsigned sma__slab_take_locked(struct sma *a, unsigned cls, uint64_t *out, unsigned n,
			       struct slot *log, uint32_t owner)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	uint64_t *own = owner ? own_heads(a, owner) : NULL;
	uint64_t p = 0;
	if (own && (p = own[cls])) {
		/* The thread's own slabs first (S3): threads that take from
		 * different slabs do not share their bitmaps' cache lines. */
		unsigned idx;
		struct slab *t = slab_of(a, p + SLAB_HDR, &idx);
		if (!t || idx || t->cls != cls || t->owner != owner || !t->listed || !t->nfree) {
			own[cls] = 0; /* a stale head (after a rebuild): start again */
			p = 0;
		}
	}
	if (!p) {
		p = h->cls[cls].partial;
		if (!p && !(p = slab_new(a, cls)))
			return 0;
		if (own) {
			struct slab *t = slab_at(a, p);
			list_unlink(a, cls, t);
			t->owner = owner;
			list_push(a, cls, t, p);
		}
	}
	struct slab *s = slab_at(a, p);
	unsigned w = 0;
	while (w < SLAB_WORDS && !s->free[w])
		w++;
	if (w == SLAB_WORDS)
		return 0; /* cannot happen on a listed slab (S3) */
	uint64_t bits = s->free[w], mask = 0;
	unsigned k = 0;
	uint64_t size = class_size[cls];
	while (bits && k < n) {
		unsigned i = (unsigned)__builtin_ctzll(bits);
		bits &= bits - 1;
		mask |= 1ull << i;
		out[k++] = p + SLAB_HDR + (uint64_t)(w * 64 + i) * size;
	}
	if (log) {
		log->op_cls = cls;
		log->op_a = p;
		log->op_b = (uint64_t)w << 32 | (log->op_b & 0xffffffffu);
		log->op_c = mask;
		atomic_store_explicit((_Atomic uint32_t *)&log->op, SOP_REFILL, memory_order_release);
		STEP();
	}
	if (!log)
		sma__op_object(a, out[0], 0); /* the locked allocation's object */
	s->free[w] &= ~mask;
	STEP();
	s->nfree = (uint16_t)(s->nfree - k);
	h->cls[cls].free -= k;
	if (!s->nfree)
		list_unlink(a, cls, s);
	return k;
}

/* One object of class cls, live, straight from a slab; 0 if none. */
uint64_t sma__slab_alloc_locked(struct sma *a, unsigned cls)
{
	DASSERT(sma__lock_held(a));
	uint64_t off;
	if (sma__slab_take_locked(a, cls, &off, 1, NULL, 0) != 1)
		return 0;
	STEP();
	unsigned idx = 0;
	struct slab *s = slab_of(a, off, &idx);
	atomic_fetch_or(&s->live[idx >> 6], 1ull << (idx & 63));
	return off;
}

/* Returns slot idx of slab s (not live, not free) to the slab.  An empty
 * slab goes back to the heap (S4) unless it is the first of its owner's
 * list, which its thread refills from next. */
void sma__slab_put_locked(struct sma *a, struct slab *s, unsigned idx)
{
	DASSERT(sma__lock_held(a));
	uint64_t bit = 1ull << (idx & 63);
	if (s->free[idx >> 6] & bit)
		return;
	if (SMA_DEBUG) /* a use after free reads garbage */
		memset(at(a, off_of(a, s) + SLAB_HDR + (uint64_t)idx * class_size[s->cls]), POISON_BYTE,
		       class_size[s->cls]);
	s->free[idx >> 6] |= bit;
	STEP();
	s->nfree++;
	a->h->cls[s->cls].free++;
	uint64_t p = off_of(a, s);
	if (!s->listed)
		list_push(a, s->cls, s, p);
	if (s->nfree == s->nobj && !(s->owner && *head_of(a, s->cls, s) == p))
		slab_release(a, s, p);
}

/* The slabs of owner go back to everyone: its thread is giving back its
 * slot, or memory is short.  Empty ones go back to the heap. */
void sma__slabs_disown_locked(struct sma *a, uint32_t owner)
{
	DASSERT(sma__lock_held(a));
	uint64_t *own = own_heads(a, owner);
	if (!own)
		return;
	for (unsigned cls = 0; cls < NSMALL; cls++) {
		uint64_t p = own[cls];
		for (uint64_t n = max_blocks(a); p && n--;) {
			unsigned idx;
			struct slab *s = slab_of(a, p + SLAB_HDR, &idx);
			if (!s || idx || s->owner != owner)
				break;
			uint64_t next = s->next;
			list_unlink(a, cls, s);
			s->owner = 0;
			if (s->nfree == s->nobj)
				slab_release(a, s, p);
			else
				list_push(a, cls, s, p);
			p = next;
		}
		own[cls] = 0;
	}
}

/* After a rebuild: gives back the slabs a crash left empty (S4). */
void sma__slabs_release_empty_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	for (unsigned cls = 0; cls < NSMALL; cls++) {
		uint64_t p = a->h->cls[cls].partial;
		for (uint64_t n = max_blocks(a); p && n--;) {
			struct slab *s = slab_at(a, p);
			uint64_t next = s->next;
			if (s->nfree == s->nobj)
				slab_release(a, s, p);
			p = next;
		}
	}
}

/* Before a rebuild: no list holds a slab, and nobody owns one (the
 * rebuild lists every slab with free slots on its class's list). */
void sma__slabs_reset_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	for (uint32_t i = 0; i < h->nslots; i++)
		memset(slot_at(a, i)->own, 0, sizeof slot_at(a, i)->own);
	for (unsigned c = 0; c < NSMALL; c++) {
		h->cls[c].partial = 0;
		h->cls[c].slabs = h->cls[c].slots = h->cls[c].free = 0;
	}
}

/* Re-derives a slab's counts, list and pages during a heap walk; -1 if
 * its header is broken (S1). */
int sma__slab_rebuild_locked(struct sma *a, uint64_t p)
{
	DASSERT(sma__lock_held(a));
	struct slab *s = slab_at(a, p);
	unsigned cls = s->cls;
	if (cls >= NSMALL || s->magic != (SLAB_MAGIC | cls) || s->nobj != slab_nobj[cls])
		return -1;
	unsigned nfree = 0;
	for (unsigned w = 0; w < SLAB_WORDS; w++) {
		uint64_t valid = s->nobj >= (w + 1) * 64 ? ~0ull
			: s->nobj > w * 64 ? (1ull << (s->nobj - w * 64)) - 1 : 0;
		uint64_t live = atomic_load(&s->live[w]);
		s->free[w] &= valid & ~live;
		nfree += (unsigned)__builtin_popcountll(s->free[w]);
	}
	s->nfree = (uint16_t)nfree;
	s->listed = 0;
	s->owner = 0; /* threads' current slabs are hints: they find out */
	map_pages(a, p, PM_SLAB | (uint32_t)((p & OFF_MASK) >> PAGE_SHIFT));
	struct class_state *c = &a->h->cls[cls];
	c->slabs++;
	c->slots += s->nobj;
	c->free += nfree;
	if (nfree)
		list_push(a, cls, s, p);
	return 0;
}
