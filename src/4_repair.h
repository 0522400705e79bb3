/*
 * 4_repair.h -- what the living do for the dead (4_repair.c): the repair
 * the next lock holder runs, slot recovery, sma_recover.
 */
#ifndef SMA_REPAIR_H
#define SMA_REPAIR_H

#include "0_layout.h"

/* The object a slot's in-flight record names, and what settling it
 * does (the checker applies it to its picture, the recovery to the
 * slot). */
struct settle {
	uint64_t obj;	    /* the object in flight, 0 = none */
	unsigned cls;	    /* its class */
	int to_cache;	    /* it goes (back) on top of its class's list */
	uint64_t entry;	    /* the entry that puts it there */
	uint64_t d_allocs;  /* counts to add to the slot's */
	uint64_t d_frees;
	uint64_t d_used;    /* (mod 2^64) */
};
HIDDEN void sma__settle_inflight(const struct sma *a, const struct slot *s, const struct cache_block *c,
				 struct settle *out);

/* Registers the repair with the lock and slot recovery with the caches. */
HIDDEN void sma__repair_init(void);
/* R: gives back slot i, its cache and its token; restartable. */
HIDDEN void sma__slot_recover_locked(struct sma *a, unsigned i);
/* Every slot whose holder is dead, recovered; how many. */
HIDDEN unsigned sma__reclaim_dead_locked(struct sma *a);
/* L2: the repair after a holder of the lock died. */
HIDDEN void sma__repair_locked(struct sma *a);
/* Everything that holds memory back from an allocation let go of it. */
HIDDEN void sma__make_room_locked(struct sma *a);

#endif /* SMA_REPAIR_H */
