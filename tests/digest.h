/*
 * tests/digest.h -- bad input changes nothing: what test_perms,
 * test_badinput and test_badoffsets share.
 *
 * "Nothing changes" is checked by a digest taken before and after: the
 * figures of sma_stats, the live objects (offset and size, by sma_walk),
 * their contents, and the named objects (name, offset, size); and by
 * sma_check.  The BAD_ macros assert one bad input and count it in n_bad,
 * which each program prints at the end as a TAP comment.
 */
#ifndef SMA_TESTS_DIGEST_H
#define SMA_TESTS_DIGEST_H

#include "common.h"

/* Bad inputs tried by this program. */
extern long n_bad;

#define BAD_OFF(call, e)                         \
	do {                                     \
		n_bad++;                         \
		T_ASSERT_OFF_FAILS(call, e);     \
	} while (0)
#define BAD_INT(call, e)                         \
	do {                                     \
		n_bad++;                         \
		T_ASSERT_INT_FAILS(call, e);     \
	} while (0)
/* The open call returns NULL with errno e. */
#define BAD_OPEN(call, e)                                      \
	do {                                                   \
		errno = 0;                                     \
		sma_t *b__ = (call);                           \
		t_bad_open(b__, errno, (e), #call);            \
	} while (0)
void t_bad_open(sma_t *got, int err, int want, const char *call);

struct digest {
	struct sma_stats st;
	uint64_t objects;  /* (offset, size) of every live object */
	uint64_t contents; /* their bytes */
	uint64_t names;	   /* (name, offset, size) of every named object */
	uint64_t n;	   /* live objects walked */
};

/* The digest of an arena, read through handle r (the arena's own handle,
 * or a read-only one). */
struct digest digest_of(sma_t *r);
/* Fails, naming after_what, unless r's digest is still before and
 * sma_check passes. */
void assert_unchanged(sma_t *r, const struct digest *before, const char *after_what);

/* Some objects of every kind, filled with patterns: a small, a medium and
 * a large one, and a named one ("bad-input-named", 300 bytes). */
struct population {
	sma_off_t small, medium, large, named;
};
void populate(sma_t *a, struct population *p);
/* Frees everything (named objects by name) and checks the arena is as
 * fresh. */
void free_all(sma_t *a);

#endif /* SMA_TESTS_DIGEST_H */
