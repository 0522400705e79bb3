/*
 * 3_names.c -- the index of named objects: a hash from names to records
 * in the segment, readable without the lock (5_named.c has the calls that
 * change it, 4_sweep.c the walk that checks it and sweeps what a death
 * left unreferenced).
 */
#include "3_names.h"
#include "2_heap.h"

/* The heap bytes of the smallest record block. */
#define MIN_REC ((sizeof(struct name_rec) + BLOCK_OVERHEAD + 15) / 16 * 16)

uint32_t sma__name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

int sma__name_ok(const char *name, size_t *len)
{
	if (!name || !*name) {
		errno = EINVAL;
		return -1;
	}
	size_t n = strnlen(name, SMA_NAME_MAX + 1);
	if (n > SMA_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*len = n;
	return 0;
}

_Atomic uint64_t *sma__name_bucket(const struct sma *a, uint32_t hash)
{
	const struct sma_header *h = a->h;
	return (_Atomic uint64_t *)at(a, h->buckets_off + (uint64_t)(hash & (h->nbuckets - 1)) * 8);
}

/* The record at off if it looks like one (N1), else NULL. */
struct name_rec *sma__name_rec(const struct sma *a, uint64_t off)
{
	uint64_t b = sma__heap_block_of(a, off);
	if (!b)
		return NULL;
	uint64_t w = hw_load(a, b);
	if ((w & BF_FREE) || hw_kind(w) != KIND_INTERNAL || hw_size(w) - BLOCK_OVERHEAD < sizeof(struct name_rec))
		return NULL;
	struct name_rec *r = at(a, off);
	if (r->len == 0 || r->len > SMA_NAME_MAX)
		return NULL;
	return r;
}

/* More steps than there can be records (each takes a block of at least
 * MIN_REC bytes of heap), whatever the header's count says. */
uint64_t sma__name_steps(const struct sma *a)
{
	uint64_t most = (a->h->heap_end - a->h->heap_off + mapped_bytes(a)) / MIN_REC + 1;
	return a->h->named + 16 < most ? a->h->named + 16 : most;
}

/* The record of name, with the address of the link that points at it. */
struct name_rec *sma__name_find(const struct sma *a, const char *name, size_t len, uint32_t hash,
			     _Atomic uint64_t **linkp)
{
	_Atomic uint64_t *link = sma__name_bucket(a, hash);
	uint64_t steps = sma__name_steps(a);
	for (uint64_t off = atomic_load_explicit(link, memory_order_acquire); off && steps--;) {
		struct name_rec *r = sma__name_rec(a, off);
		if (!r)
			return NULL;
		if (r->hash == hash && r->len == len && memcmp(r->name, name, len) == 0) {
			if (linkp)
				*linkp = link;
			return r;
		}
		link = (_Atomic uint64_t *)&r->next;
		off = atomic_load_explicit(link, memory_order_acquire);
	}
	return NULL;
}

/* Did a named free of obj get as far as unpublishing it? */
int sma__named_unlinked(struct sma *a, uint64_t obj)
{
	struct sma_header *h = a->h;
	uint64_t steps = sma__name_steps(a);
	for (uint32_t i = 0; i < h->nbuckets; i++) {
		uint64_t off = *(uint64_t *)at(a, h->buckets_off + (uint64_t)i * 8);
		while (off && steps--) {
			struct name_rec *r = sma__name_rec(a, off);
			if (!r)
				break;
			if (r->obj == obj)
				return 0;
			off = r->next;
		}
	}
	return 1;
}
