/*
 * 5_grow.c -- the growth limit of an arena (API.md, Growing).  The growth
 * itself happens in the heap when an allocation finds no room (2_heap.c,
 * 1_segs.c).
 */
#include "1_lock.h"

/* The most bytes the segments of one arena can address. */
#define MOST_BYTES ((uint64_t)MAX_SEGS << OFF_SEG_SHIFT)

int sma_set_limit(sma_t *a, size_t bytes)
{
	if (!handle_writable(a))
		return -1;
	if ((uint64_t)bytes > MOST_BYTES) {
		errno = EINVAL;
		return -1;
	}
	if (sma__lock(a) < 0)
		return -1;
	STORE(a->h->limit, (uint64_t)bytes);
	sma__unlock(a);
	return 0;
}

int sma_segment(sma_t *a, unsigned k, int *shmid, size_t *size)
{
	if (!a) {
		errno = EINVAL;
		return -1;
	}
	const struct sma_header *h = a->h;
	if (k >= nsegs_of(a)) {
		errno = ENOENT;
		return -1;
	}
	if (shmid)
		*shmid = k ? LOAD(((struct sma_header *)h)->segs[k].shmid) : a->shmid;
	if (size)
		*size = (size_t)(k ? LOAD(((struct sma_header *)h)->segs[k].size) : a->size);
	return 0;
}

size_t sma_limit(const sma_t *a)
{
	if (!a) {
		errno = EINVAL;
		return 0;
	}
	return (size_t)LOAD(((struct sma_header *)a->h)->limit);
}
