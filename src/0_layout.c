/*
 * 0_layout.c -- the out-of-line half of 0_layout.h: where this process
 * has the arena's added segments.  Each is attached the first time an
 * offset into it is met (read-only through a read-only handle), so that
 * at() then costs one load.  The table in the
 * header says which segments exist (0_layout.h, S1); every attachment is
 * checked against it (size, and the segment's own header) before use.
 */
#include "0_layout.h"

#include <sys/shm.h>

/* Attaches segment k under a->seg_mu; its address, or NULL. */
static char *attach_one(struct sma *a, unsigned k)
{
	const struct sma_header *h = a->h;
	int id = LOAD(((struct sma_header *)h)->segs[k].shmid);
	uint64_t size = LOAD(((struct sma_header *)h)->segs[k].size);
	struct shmid_ds ds;
	if (id < 0 || shmctl(id, IPC_STAT, &ds) < 0 || ds.shm_segsz != size || size < SEG_HDR_BYTES)
		return NULL;
	void *p = shmat(id, NULL, (a->flags & SMA_RDONLY) ? SHM_RDONLY : 0);
	if (p == (void *)-1)
		return NULL;
	const struct seg_header *sh = p;
	if (sh->magic != SEG_MAGIC || sh->arena_id != h->arena_id || sh->index != k || sh->size != size) {
		shmdt(p);
		return NULL;
	}
	a->seg_size[k] = size;
	atomic_fetch_add(&a->mapped, size);
	atomic_store_explicit(&a->seg_base[k], (char *)p, memory_order_release);
	return p;
}

char *sma__seg_attach(const struct sma *ca, unsigned k)
{
	struct sma *a = (struct sma *)ca;
	if (k == 0)
		return a->base;
	if (k >= MAX_SEGS)
		return NULL;
	char *b = atomic_load_explicit(&a->seg_base[k], memory_order_acquire);
	if (b || a->image || k >= atomic_load_explicit(&a->h->nsegs, memory_order_acquire))
		return b;
	pthread_mutex_lock(&a->seg_mu);
	b = atomic_load_explicit(&a->seg_base[k], memory_order_relaxed);
	if (!b)
		b = attach_one(a, k);
	pthread_mutex_unlock(&a->seg_mu);
	return b;
}

int sma__segs_attach_all(struct sma *a)
{
	uint32_t n = atomic_load_explicit(&a->h->nsegs, memory_order_acquire);
	int ok = 1;
	if (n > MAX_SEGS)
		n = MAX_SEGS;
	for (unsigned k = atomic_load(&a->seg_seen) + 1; k < n; k++)
		if (!sma__seg_attach(a, k))
			ok = 0;
	if (ok && n)
		atomic_store(&a->seg_seen, n - 1);
	return ok ? 0 : -1;
}

int sma__seg_heap_slow(const struct sma *a, uint64_t off, uint64_t *lo, uint64_t *hi)
{
	const struct sma_header *h = a->h;
	unsigned k = seg_index(off);
	if (k >= atomic_load_explicit(&h->nsegs, memory_order_acquire) || !seg_ok(a, k))
		return 0;
	*lo = h->segs[k].heap_off;
	*hi = h->segs[k].heap_end;
	return seg_index(*lo) == k && *lo < *hi && seg_index(*hi) == k;
}

/* slab_of() for an offset in an added segment. */
struct slab *sma__slab_of_slow(const struct sma *a, uint64_t off, unsigned *idx)
{
	uint64_t lo, hi;
	if (!seg_heap(a, off, &lo, &hi) || off < lo || off >= hi)
		return NULL;
	uint32_t e = pm_load(a, off >> PAGE_SHIFT);
	if (!(e & PM_SLAB))
		return NULL;
	uint64_t p = seg_start(off) | (uint64_t)(e & PM_VAL) << PAGE_SHIFT;
	if (p < lo + BLOCK_HDR || p + SLAB_SIZE > hi || off < p + SLAB_HDR)
		return NULL;
	struct slab *s = (struct slab *)at(a, p);
	unsigned cls = LOAD(s->cls);
	if (cls >= NSMALL || LOAD(s->magic) != (SLAB_MAGIC | cls) || LOAD(s->nobj) != slab_nobj[cls])
		return NULL;
	uint64_t d = off - p - SLAB_HDR;
	unsigned i = slab_index(cls, d);
	if ((uint64_t)i * class_size[cls] != d || i >= slab_nobj[cls])
		return NULL;
	*idx = i;
	return s;
}

uint64_t sma__off_slow(const struct sma *a, const void *p)
{
	const char *c = p;
	for (unsigned k = 1; k < MAX_SEGS; k++) {
		const char *b = atomic_load_explicit(&((struct sma *)a)->seg_base[k], memory_order_acquire);
		if (b && c >= b && c < b + a->seg_size[k])
			return ((uint64_t)k << OFF_SEG_SHIFT) | (uint64_t)(c - b);
	}
	return 0;
}

void sma__segs_forget(struct sma *a)
{
	for (unsigned k = 1; k < MAX_SEGS; k++) {
		char *b = atomic_exchange(&a->seg_base[k], NULL);
		if (b && !a->image)
			shmdt(b);
		else if (b)
			free(b);
	}
	atomic_store(&a->mapped, 0);
	atomic_store(&a->seg_seen, 0);
}

void sma__segs_init(struct sma *a)
{
	for (unsigned k = 0; k < MAX_SEGS; k++)
		atomic_store(&a->seg_base[k], NULL);
	atomic_store(&a->seg_base[0], a->base);
	a->seg_size[0] = a->size;
	atomic_store(&a->mapped, 0);
	atomic_store(&a->seg_seen, 0);
	pthread_mutex_init(&a->seg_mu, NULL);
}
