/*
 * 4_sweep.h -- the walk of the name index and the sweep of unreferenced blocks (4_sweep.c).
 */
#ifndef SMA_SWEEP_H
#define SMA_SWEEP_H

#include "0_layout.h"

/* N1-N3, reported through report; how many problems. */
HIDDEN int sma__named_check(struct sma *a, int (*report)(void *, const char *, ...), void *rarg);
/* Frees the library blocks and named objects nothing references; how
 * many. */
HIDDEN unsigned sma__orphans_sweep_locked(struct sma *a);

#endif /* SMA_SWEEP_H */
