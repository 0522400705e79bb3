/*
 * 5_stats.h -- the figures the checker compares with what it finds
 * (5_stats.c).
 */
#ifndef SMA_STATS_H
#define SMA_STATS_H

#include "0_layout.h"

/* A field of every slot (at byte offset field), summed over the table. */
HIDDEN uint64_t sma__slots_sum(const struct sma *a, size_t field);
HIDDEN void sma__stats_read(const struct sma *a, struct sma_stats *st);

#endif /* SMA_STATS_H */
