/*
 * 3_cache.h -- the slot table and the per-thread caches kept in it
 * (3_cache.c; the lock-free halves are in 3_cache_fast.h).
 */
#ifndef SMA_CACHE_H
#define SMA_CACHE_H

#include "0_layout.h"

/* Where an object's live flag is: a slab's bitmap word, or a block's
 * header word, and the bit in it. */
struct live_ref {
	_Atomic uint64_t *word;
	uint64_t bit;
};

#define NTREF 4
struct tref {
	uint64_t hid;		/* handle, 0 = unused */
	uint32_t misses;	/* calls made without a slot */
	struct slot *slot;	/* NULL: no slot could be had */
	struct cache_block *c;
};
HIDDEN extern TLS struct tref sma__t_ref[NTREF];

HIDDEN struct tref *sma__tref_take_slow(struct sma *a);
/* Refills the empty small class cls of r's cache under the lock: 0 when
 * it holds objects now, 1 when none could be had (the caller takes the
 * locked path, which gives caches back before ENOMEM), -1 with errno. */
HIDDEN int sma__cache_refill(struct sma *a, struct tref *r, unsigned cls);
HIDDEN int sma__cache_make_room(struct sma *a, struct tref *r, unsigned cls, uint64_t usable);

/* What the repair floor does for this one (4_repair.c registers both):
 * recover slot i (give back its cache, its token and the slot, recorded
 * as an operation so that a death inside is finished by the next holder),
 * and reclaim the slots of every dead process (how many). */
HIDDEN void sma__cache_on_recover(void (*recover)(struct sma *a, unsigned i), unsigned (*reclaim)(struct sma *a));

HIDDEN void sma__cache_flush_self(struct sma *a);
HIDDEN void sma__cache_release_self_locked(struct sma *a);
HIDDEN void sma__slots_release_process(struct sma *a);
HIDDEN int sma__cache_tables(struct sma *a, uint64_t small_cap);
HIDDEN void sma__tls_forget(struct sma *a);
HIDDEN void sma__tls_after_fork(void);
/* Slot s's cache block, bounds-checked, or NULL. */
HIDDEN struct cache_block *sma__cache_of(const struct sma *a, const struct slot *s);
/* Gives one cached object of class cls back to its slab or the heap. */
HIDDEN void sma__give_back_locked(struct sma *a, uint64_t off, unsigned cls);
HIDDEN uint64_t sma__slot_cached_bytes(const struct sma *a, const struct slot *s);

#endif /* SMA_CACHE_H */
