/*
 * 5_problems.h -- one look of the checker: what it saw and the problems it
 * found (5_problems.c), shared by both halves of the checker (5_check.c,
 * 5_check_caches.c).
 */
#ifndef SMA_PROBLEMS_H
#define SMA_PROBLEMS_H

#include "0_layout.h"

#define MAX_PROBLEMS 200
struct ck {
	const struct sma *a;
	char *msg[MAX_PROBLEMS]; /* the problems found, in order */
	int problems;
	int stop;
	uint64_t motion;	 /* allocs + frees of everyone when the look began */
	/* what the walk saw */
	uint64_t live, used, cached_objs, cached_bytes, free_bytes, free_blocks;
	uint64_t cls_slabs[NSMALL], cls_slots[NSMALL], cls_free[NSMALL], cls_listed[NSMALL];
	uint64_t *cached;  /* offsets of cached objects seen by the walk */
	size_t ncached, capcached;
};

#define X(v) ((unsigned long long)(v))

/* Adds a problem to c's list (printf-like); 0. */
HIDDEN int sma__ck_report(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
HIDDEN void sma__ck_free(struct ck *c);
/* 1 when c found a problem with the invariant that m names. */
HIDDEN int sma__ck_has_tag(const struct ck *c, const char *m);

#endif /* SMA_PROBLEMS_H */
