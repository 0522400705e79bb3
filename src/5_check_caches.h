/*
 * 5_check_caches.h -- the checker's half for slots, caches and counters
 * (5_check_caches.c).
 */
#ifndef SMA_CHECK_CACHES_H
#define SMA_CHECK_CACHES_H

#include "5_problems.h"

/* Every allocation and free so far, by anyone: when it changes during a
 * look, threads moved objects without the lock meanwhile. */
HIDDEN uint64_t sma__ck_motion(const struct sma *a);
/* C1-C4 and the counters. */
HIDDEN void sma__ck_slots(struct ck *c);

#endif /* SMA_CHECK_CACHES_H */
