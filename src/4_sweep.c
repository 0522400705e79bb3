/*
 * 4_sweep.c -- the walk of the name index (N1-N3) and of every block the
 * library references (records, named objects, slot caches), for the
 * checker, and the sweep that frees library blocks and named objects a
 * death left unreferenced (the repair runs it after every dead holder).
 */
#include "4_sweep.h"
#include "1_lock.h"
#include "2_heap.h"
#include "2_object.h"
#include "3_cache.h"
#include "3_names.h"

#include <stdlib.h>

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/*
 * Walks the index (N1-N3), calling report for each problem (when report is
 * not NULL).  With refs, also collects the blocks the library references
 * (records, named objects, slot caches) into a sorted array.  Returns the
 * number of problems, or -1 when the array could not be had (nothing is
 * then taken for unreferenced).
 */
static int walk_index(struct sma *a, int (*report)(void *, const char *, ...), void *rarg,
		      uint64_t **refs, size_t *nrefs)
{
	struct sma_header *h = a->h;
	int bad = 0;
	size_t cap = 2 * (size_t)sma__name_steps(a) + h->nslots, n = 0;
	uint64_t *v = refs ? malloc(cap * sizeof *v) : NULL;
	if (refs && !v)
		return -1;
	uint64_t steps = sma__name_steps(a), count = 0;
	for (uint32_t i = 0; i < h->nbuckets; i++) {
		uint64_t off = *(uint64_t *)at(a, h->buckets_off + (uint64_t)i * 8);
		while (off) {
			if (!steps--) {
				if (report)
					report(rarg, "N3: name index bucket %u: chain longer than the %llu names counted (a cycle?)",
					       i, (unsigned long long)h->named);
				bad++;
				break;
			}
			struct name_rec *r = sma__name_rec(a, off);
			if (!r) {
				if (report)
					report(rarg, "N1: name index bucket %u: offset %#llx is not a name record", i,
					       (unsigned long long)off);
				bad++;
				break;
			}
			count++;
			if (r->name[r->len] != '\0' || strlen(r->name) != r->len || sma__name_hash(r->name, r->len) != r->hash ||
			    (r->hash & (h->nbuckets - 1)) != i) {
				if (report)
					report(rarg, "N1: name record at %#llx: name, length or hash do not agree",
					       (unsigned long long)off);
				bad++;
			}
			unsigned kind;
			if (!sma__object_live(a, r->obj, NULL, &kind) || kind != KIND_NAMED) {
				if (report)
					report(rarg, "N2: name record at %#llx: object %#llx is not a live named object",
					       (unsigned long long)off, (unsigned long long)r->obj);
				bad++;
			}
			if (v && n + 2 <= cap) {
				v[n++] = off - BLOCK_HDR;
				v[n++] = r->obj - BLOCK_HDR;
			}
			off = r->next;
		}
	}
	if (count != h->named) {
		if (report)
			report(rarg, "N3: name index holds %llu names, the header counts %llu",
			       (unsigned long long)count, (unsigned long long)h->named);
		bad++;
	}
	if (v) {
		for (unsigned i = 0; i < h->nslots && n < cap; i++) {
			struct slot *s = slot_at(a, i);
			if (atomic_load(&s->state) == SLOT_HELD && s->cache)
				v[n++] = s->cache - BLOCK_HDR;
		}
		qsort(v, n, sizeof *v, cmp_u64);
		*refs = v;
		*nrefs = n;
	}
	return bad;
}

int sma__named_check(struct sma *a, int (*report)(void *, const char *, ...), void *rarg)
{
	return walk_index(a, report, rarg, NULL, NULL);
}

/* Adds to *orphans (growing it) the library blocks and named objects of
 * the heap [lo, hi) that refs does not hold; the new count. */
static size_t collect_orphans(struct sma *a, uint64_t lo, uint64_t hi, const uint64_t *refs, size_t nrefs,
			      uint64_t **orphans, size_t *cap, size_t n)
{
	for (uint64_t b = lo; *orphans && b < hi;) {
		uint64_t w = hw_load(a, b), size = hw_size(w);
		if (!hw_tag_ok(b, w) || size < MIN_BLOCK || b + size > hi)
			break;
		unsigned k = hw_kind(w);
		if (!(w & BF_FREE) && (k == KIND_INTERNAL || k == KIND_NAMED) &&
		    !bsearch(&b, refs, nrefs, sizeof *refs, cmp_u64)) {
			if (n == *cap) {
				uint64_t *t = realloc(*orphans, 2 * *cap * sizeof *t);
				if (!t)
					break;
				*orphans = t;
				*cap *= 2;
			}
			(*orphans)[n++] = b;
		}
		b += size;
	}
	return n;
}

/*
 * Frees the library blocks and named objects nothing references any more:
 * what a process killed between allocating and publishing them (or between
 * unpublishing and freeing them) left.  Runs with the lock held, after the
 * heap has been rebuilt.  Returns how many blocks it freed.
 */
unsigned sma__orphans_sweep_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	uint64_t *refs = NULL;
	size_t nrefs = 0;
	if (walk_index(a, NULL, NULL, &refs, &nrefs) < 0 || !refs)
		return 0;
	size_t cap = 64, n = 0;
	uint64_t *orphans = malloc(cap * sizeof *orphans);
	for (unsigned sk = 0; orphans && sk < nsegs_of(a); sk++) {
		uint64_t lo, hi;
		if (seg_k_heap(a, sk, &lo, &hi))
			n = collect_orphans(a, lo, hi, refs, nrefs, &orphans, &cap, n);
	}
	for (size_t i = 0; i < n; i++) {
		atomic_fetch_and(bhdr(a, orphans[i]), ~BF_LIVE);
		sma__heap_free_locked(a, orphans[i]);
	}
	free(orphans);
	free(refs);
	return (unsigned)n;
}
