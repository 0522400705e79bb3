/*
 * 1_segs.h -- adding segments to an arena (1_segs.c).
 */
#ifndef SMA_SEGS_H
#define SMA_SEGS_H

#include "0_layout.h"

/* The heap bytes a segment of size bytes holds (its blocks and sentinel
 * included), 0 if it is too small for any. */
HIDDEN uint64_t sma__seg_heap_bytes(uint64_t size);
/* Makes, attaches and records segment *k of size bytes, not yet
 * published; 0, or -1 with ENOMEM. */
HIDDEN int sma__seg_add_locked(struct sma *a, uint64_t size, unsigned *k);
/* Publishes segment k: every process may reach it from now on. */
HIDDEN void sma__seg_publish_locked(struct sma *a, unsigned k);
/* The repair of an interrupted addition: an unpublished segment removed,
 * the grow record cleared. */
HIDDEN void sma__seg_undo_locked(struct sma *a);
/* Marks every added segment for removal (sma_destroy). */
HIDDEN void sma__segs_remove(const struct sma *a);

#endif /* SMA_SEGS_H */
