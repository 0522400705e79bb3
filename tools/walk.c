/*
 * walk.c -- what sma_named_each and sma_walk give, gathered for the
 * commands: the names of the named objects by offset, and the free extents
 * by size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static int names_add(const char *name, sma_off_t off, size_t size, void *arg)
{
	struct names *n = arg;
	struct name_ent *e;

	(void)size;
	if (n->n == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 64;

		e = realloc(n->v, cap * sizeof *e);
		if (!e)
			return ENOMEM;
		n->v = e;
		n->cap = cap;
	}
	e = &n->v[n->n++];
	e->off = off;
	snprintf(e->name, sizeof e->name, "%s", name ? name : "");
	return 0;
}

static int names_cmp(const void *x, const void *y)
{
	const struct name_ent *a = x, *b = y;

	return a->off < b->off ? -1 : a->off > b->off;
}

int names_load(sma_t *a, struct names *n)
{
	int r;

	memset(n, 0, sizeof *n);
	r = sma_named_each(a, names_add, n);
	if (r == ENOMEM) {
		errno = ENOMEM;
		r = -1;
	}
	if (r != 0) {
		names_free(n);
		return -1;
	}
	qsort(n->v, n->n, sizeof *n->v, names_cmp);
	return 0;
}

const char *names_find(const struct names *n, sma_off_t off)
{
	size_t lo = 0, hi = n->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n->v[mid].off < off)
			lo = mid + 1;
		else if (n->v[mid].off > off)
			hi = mid;
		else
			return n->v[mid].name;
	}
	return NULL;
}

void names_free(struct names *n)
{
	free(n->v);
	memset(n, 0, sizeof *n);
}

static int hist_add(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct hist *h = arg;
	int k = 0;

	(void)off;
	if (in_use) {
		h->objects++;
		h->used += size;
		return 0;
	}
	while (k < HIST_BUCKETS - 1 && ((uint64_t)size >> (k + 1)) != 0)
		k++;
	h->count[k]++;
	h->bytes[k] += size;
	h->extents++;
	h->free += size;
	if (size > h->largest)
		h->largest = size;
	return 0;
}

int hist_load(sma_t *a, struct hist *h)
{
	memset(h, 0, sizeof *h);
	return sma_walk(a, hist_add, h);
}
