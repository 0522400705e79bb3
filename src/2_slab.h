/*
 * 2_slab.h -- small objects: size classes served from slabs with bitmaps (2_slab.c).
 */
#ifndef SMA_SLAB_H
#define SMA_SLAB_H

#include "0_layout.h"

HIDDEN uint64_t sma__slab_alloc_locked(struct sma *a, unsigned cls);
HIDDEN void sma__slab_put_locked(struct sma *a, struct slab *s, unsigned idx);
/* Takes up to n free objects of class cls for slot owner (1-based) into
 * out, logging each taken word in log; how many. */
HIDDEN unsigned sma__slab_take_locked(struct sma *a, unsigned cls, uint64_t *out, unsigned n, struct slot *log,
				      uint32_t owner);
HIDDEN void sma__slabs_disown_locked(struct sma *a, uint32_t owner);
/* The rebuild (4_repair.c drives it): forget every slab list, then take
 * each slab back from its own bitmaps, then release the empty ones. */
HIDDEN void sma__slabs_reset_locked(struct sma *a);
HIDDEN int sma__slab_rebuild_locked(struct sma *a, uint64_t slab_off);
HIDDEN void sma__slabs_release_empty_locked(struct sma *a);

#endif /* SMA_SLAB_H */
