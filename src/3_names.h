/*
 * 3_names.h -- the index of named objects (3_names.c).
 */
#ifndef SMA_NAMES_H
#define SMA_NAMES_H

#include "0_layout.h"

struct name_rec {
	uint64_t next;			/* next record in the bucket, 0 = end */
	uint64_t obj;			/* offset of the named object */
	uint32_t hash;			/* FNV-1a of the name */
	uint32_t len;			/* bytes of the name */
	char name[SMA_NAME_MAX + 1];	/* NUL-terminated */
};

/* FNV-1a of the n bytes of s. */
HIDDEN uint32_t sma__name_hash(const char *s, size_t n);
/* 0 with *len if name is 1..SMA_NAME_MAX bytes; -1 with EINVAL or
 * ENAMETOOLONG. */
HIDDEN int sma__name_ok(const char *name, size_t *len);
/* The head of the chain of hash. */
HIDDEN _Atomic uint64_t *sma__name_bucket(const struct sma *a, uint32_t hash);
/* The record at off if it looks like one (N1), else NULL. */
HIDDEN struct name_rec *sma__name_rec(const struct sma *a, uint64_t off);
/* More steps than there can be records. */
HIDDEN uint64_t sma__name_steps(const struct sma *a);
/* The record of name, with the address of the link that points at it. */
HIDDEN struct name_rec *sma__name_find(const struct sma *a, const char *name, size_t len, uint32_t hash,
				       _Atomic uint64_t **linkp);
/* 1 when no record names obj: a named free got as far as unpublishing it. */
HIDDEN int sma__named_unlinked(struct sma *a, uint64_t obj);

#endif /* SMA_NAMES_H */
