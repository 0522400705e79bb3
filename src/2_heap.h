/*
 * 2_heap.h -- the blocks of the heap: TLSF with boundary tags, and the page map (2_heap.c).
 */
#ifndef SMA_HEAP_H
#define SMA_HEAP_H

#include "0_layout.h"

HIDDEN void sma__heap_init(struct sma *a);
/* A block with at least usable bytes aligned to align, of kind; its
 * offset or 0. */
HIDDEN uint64_t sma__heap_alloc_locked(struct sma *a, uint64_t usable, uint64_t align, unsigned kind);
HIDDEN void sma__heap_free_locked(struct sma *a, uint64_t b);
/* When the limit allows, adds a segment that holds a block of usable
 * bytes aligned to align (an allocation that found no room, after the
 * caches gave theirs back); 1 if it did. */
HIDDEN int sma__heap_grow_locked(struct sma *a, uint64_t usable, uint64_t align);
/* Grows or shrinks block b in place to usable bytes; 0, or -1 if it
 * cannot. */
HIDDEN int sma__heap_resize_locked(struct sma *a, uint64_t b, uint64_t usable);
HIDDEN uint64_t sma__heap_block_of(const struct sma *a, uint64_t off); /* block or 0 */
HIDDEN uint64_t sma__heap_largest_locked(const struct sma *a);
/* Rebuilds the heap's derived state (lists, bitmaps, page map, counts)
 * by one walk; visit_slab is called for each block of kind KIND_SLAB (its
 * payload offset) and returns -1 if the slab is broken.  0, or -1 if the
 * blocks do not tile the heap. */
HIDDEN int sma__heap_rebuild_locked(struct sma *a, int (*visit_slab)(struct sma *a, uint64_t p));

#endif /* SMA_HEAP_H */
