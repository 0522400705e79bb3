/*
 * tests/digest.c -- the digest of an arena, a population of objects of
 * every kind, and the count of bad inputs (see digest.h).
 */
#define _GNU_SOURCE
#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

long n_bad;

void t_bad_open(sma_t *got, int err, int want, const char *call)
{
	n_bad++;
	if (got) {
		t_track(got);
		fail_msg("%s succeeded; expected it to fail with %s", call, strerror(want));
	}
	if (err != want)
		fail_msg("%s failed with errno %d (%s); expected %d (%s)", call, err,
			 strerror(err), want, strerror(want));
}

/* ---- the digest ------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

struct digest_walk {
	sma_t *a;
	struct digest *d;
};

static int digest_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct digest_walk *w = arg;

	if (!in_use)
		return 0;
	w->d->objects = fnv(w->d->objects, &off, sizeof(off));
	w->d->objects = fnv(w->d->objects, &size, sizeof(size));
	w->d->contents = fnv(w->d->contents, sma_ptr(w->a, off), size);
	w->d->n++;
	return 0;
}

static int digest_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	struct digest *d = arg;

	d->names = fnv(d->names, name, strlen(name) + 1);
	d->names = fnv(d->names, &off, sizeof(off));
	d->names = fnv(d->names, &size, sizeof(size));
	return 0;
}

/* The digest of a, read through handle r (a itself, or a read-only handle
 * when a's lock is gone). */
struct digest digest_of(sma_t *r)
{
	struct digest d;
	struct digest_walk w = {r, &d};

	memset(&d, 0, sizeof(d));
	d.objects = d.contents = d.names = 0xcbf29ce484222325ull;
	t_stats(r); /* settles the caches of this thread and of the dead */
	d.st = t_stats(r);
	assert_int_equal(sma_walk(r, digest_visit, &w), 0);
	assert_int_equal(sma_named_each(r, digest_name, &d), 0);
	return d;
}

void assert_unchanged(sma_t *r, const struct digest *before, const char *after_what)
{
	struct digest d = digest_of(r);
	const struct sma_stats *x = &before->st, *y = &d.st;

	if (x->size != y->size || x->heap_size != y->heap_size || x->used != y->used ||
	    x->free != y->free || x->largest_free != y->largest_free || x->live != y->live ||
	    x->allocs != y->allocs || x->frees != y->frees)
		fail_msg("after %s the stats changed: used %zu -> %zu, free %zu -> %zu, "
			 "largest_free %zu -> %zu, live %llu -> %llu, allocs %llu -> %llu, "
			 "frees %llu -> %llu",
			 after_what, x->used, y->used, x->free, y->free, x->largest_free,
			 y->largest_free, (unsigned long long)x->live, (unsigned long long)y->live,
			 (unsigned long long)x->allocs, (unsigned long long)y->allocs,
			 (unsigned long long)x->frees, (unsigned long long)y->frees);
	if (before->objects != d.objects || before->n != d.n)
		fail_msg("after %s the live objects changed (%llu before, %llu after)", after_what,
			 (unsigned long long)before->n, (unsigned long long)d.n);
	if (before->contents != d.contents)
		fail_msg("after %s the contents of live objects changed", after_what);
	if (before->names != d.names)
		fail_msg("after %s the named objects changed", after_what);
	t_assert_check(r);
}

/* ---- a population, and freeing it ------------------------------------------ */

void populate(sma_t *a, struct population *p)
{
	p->small = t_alloc_ok(a, 64);
	p->medium = t_alloc_ok(a, 1000);
	p->large = t_alloc_ok(a, T_KIB(200));
	p->named = sma_named_alloc(a, "bad-input-named", 300, NULL);
	assert_int_not_equal(p->named, SMA_NULL);
	t_fill(sma_ptr(a, p->small), 64, 1);
	t_fill(sma_ptr(a, p->medium), 1000, 2);
	t_fill(sma_ptr(a, p->large), T_KIB(200), 3);
	t_fill(sma_ptr(a, p->named), 300, 4);
}

static int free_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	sma_off_t *list = arg;

	(void)size;
	if (in_use && list[0] < 1023)
		list[++list[0]] = off;
	return 0;
}

static char names[16][SMA_NAME_MAX + 1];
static int n_names;

static int collect_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	(void)off;
	(void)size;
	(void)arg;
	if (n_names < 16)
		snprintf(names[n_names++], sizeof(names[0]), "%s", name);
	return 0;
}

/* Frees everything and checks the arena is as fresh. */
void free_all(sma_t *a)
{
	static sma_off_t list[1024];
	struct sma_stats st;

	n_names = 0;
	assert_int_equal(sma_named_each(a, collect_name, NULL), 0);
	for (int i = 0; i < n_names; i++)
		assert_int_equal(sma_named_free(a, names[i]), 0);
	list[0] = 0;
	assert_int_equal(sma_walk(a, free_visit, list), 0);
	for (sma_off_t i = 1; i <= list[0]; i++)
		assert_int_equal(sma_free(a, list[i]), 0);
	assert_int_equal(sma_flush(a), 0);
	st = t_stats(a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.free, st.heap_size);
	assert_int_equal(st.largest_free, st.heap_size);
}
