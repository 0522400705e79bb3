/*
 * named.c -- named objects: a hash index from names to objects, in the
 * segment, readable without the lock.
 *
 *   buckets (header.buckets_off)        record (a library block)     object (a named block)
 *   +-----+-----+-- ... --+-----+       +------+-----+------+----+   +---------------------+
 *   | off | 0   |         | off | ----> | next | obj | hash | len| ->| zero-filled payload |
 *   +-----+-----+-- ... --+-----+       | name[64]                |   +---------------------+
 *                                       +-------------------------+
 *
 * Invariants:
 *   N1  every record is a library block, its name is 1..SMA_NAME_MAX bytes
 *       and NUL-terminated, its hash is the name's and names its bucket.
 *   N2  its object is a live named block; every named block has exactly
 *       one record; no name appears twice.
 *   N3  the chains end (no cycle) and header.named counts the records.
 *
 * Writers hold the arena lock.  A record is filled before it is published
 * with one release store of the bucket head (or of the previous record's
 * next), so a reader without the lock sees a chain that is whole at every
 * instant; it checks every offset before following it, and gives up after
 * more steps than there are records.  A record that is unlinked and freed
 * may be reused while a reader still looks at it: header.names_seq is odd
 * while a free is under way and moves on after it, and a reader without
 * the lock (a read-only handle) trusts what it read only if names_seq was
 * even and the same before and after.  Writable handles read under the
 * lock.
 */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>

struct name_rec {
	uint64_t next;			/* next record in the bucket, 0 = end */
	uint64_t obj;			/* offset of the named object */
	uint32_t hash;			/* FNV-1a of the name */
	uint32_t len;			/* bytes of the name */
	char name[SMA_NAME_MAX + 1];	/* NUL-terminated */
};

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static int name_ok(const char *name, size_t *len)
{
	if (!name || !*name) {
		errno = EINVAL;
		return -1;
	}
	size_t n = strnlen(name, SMA_NAME_MAX + 1);
	if (n > SMA_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*len = n;
	return 0;
}

static _Atomic uint64_t *bucket(const struct sma *a, uint32_t hash)
{
	const struct sma_header *h = a->h;
	return (_Atomic uint64_t *)at(a, h->buckets_off + (uint64_t)(hash & (h->nbuckets - 1)) * 8);
}

/* The record at off if it looks like one (N1), else NULL. */
static struct name_rec *rec_at(const struct sma *a, uint64_t off)
{
	uint64_t b = sma__heap_block_of(a, off);
	if (!b)
		return NULL;
	uint64_t w = hw_load(a, b);
	if ((w & BF_FREE) || hw_kind(w) != KIND_INTERNAL || hw_size(w) - BLOCK_OVERHEAD < sizeof(struct name_rec))
		return NULL;
	struct name_rec *r = at(a, off);
	if (r->len == 0 || r->len > SMA_NAME_MAX)
		return NULL;
	return r;
}

/* More steps than there can be records (a record is at least 96 bytes of
 * heap), whatever the header's count says. */
static uint64_t max_steps(const struct sma *a)
{
	uint64_t most = (a->h->heap_end - a->h->heap_off) / 96 + 1;
	return a->h->named + 16 < most ? a->h->named + 16 : most;
}

/* The record of name, with the address of the link that points at it. */
static struct name_rec *find(const struct sma *a, const char *name, size_t len, uint32_t hash,
			     _Atomic uint64_t **linkp)
{
	_Atomic uint64_t *link = bucket(a, hash);
	uint64_t steps = max_steps(a);
	for (uint64_t off = atomic_load_explicit(link, memory_order_acquire); off && steps--;) {
		struct name_rec *r = rec_at(a, off);
		if (!r)
			return NULL;
		if (r->hash == hash && r->len == len && memcmp(r->name, name, len) == 0) {
			if (linkp)
				*linkp = link;
			return r;
		}
		link = (_Atomic uint64_t *)&r->next;
		off = atomic_load_explicit(link, memory_order_acquire);
	}
	return NULL;
}

sma_off_t sma_named_alloc(sma_t *a, const char *name, size_t size, int *created)
{
	size_t len;
	if (!a) {
		errno = EINVAL;
		return SMA_NULL;
	}
	if (a->flags & SMA_RDONLY) {
		errno = EROFS;
		return SMA_NULL;
	}
	if (name_ok(name, &len) < 0)
		return SMA_NULL;
	uint32_t hash = fnv1a(name, len);
	struct sma_header *h = a->h;
	uint64_t off = SMA_NULL;

	if (sma__lock(a) < 0)
		return SMA_NULL;
	int retried = 0;
again:;
	struct name_rec *r = find(a, name, len, hash, NULL);
	if (r) {
		uint64_t usable;
		if (!sma__object_live(a, r->obj, &usable, NULL) || usable < size) {
			errno = EEXIST;
			goto out;
		}
		if (created)
			*created = 0;
		off = r->obj;
		goto out;
	}
	sma__op_begin(a, LOP_NAMED);
	uint64_t rb = sma__heap_alloc_locked(a, sizeof(struct name_rec), ALIGN, KIND_INTERNAL);
	uint64_t ob = rb ? sma__heap_alloc_locked(a, size, ALIGN, KIND_NAMED) : 0;
	if (!ob) {
		if (rb)
			sma__heap_free_locked(a, rb);
		sma__op_end(a);
		if (!retried++) {
			/* Caches give back what they hold before ENOMEM. */
			sma__make_room_locked(a);
			goto again;
		}
		errno = ENOMEM;
		goto out;
	}
	uint64_t usable = hw_size(hw_load(a, ob)) - BLOCK_OVERHEAD;
	memset(at(a, ob + 16), 0, usable);
	r = at(a, rb + 16);
	memset(r, 0, sizeof *r);
	memcpy(r->name, name, len);
	r->len = (uint32_t)len;
	r->hash = hash;
	r->obj = ob + 16;
	_Atomic uint64_t *head = bucket(a, hash);
	r->next = atomic_load(head);
	STEP();
	atomic_store_explicit(head, rb + 16, memory_order_release);
	STEP();
	BUMP(h->used, usable);
	STEP();
	BUMP(h->named, 1);
	STEP();
	BUMP(h->allocs, 1);
	sma__op_end(a);
	if (created)
		*created = 1;
	off = ob + 16;
out:
	sma__unlock(a);
	return off;
}

sma_off_t sma_named_find(sma_t *a, const char *name)
{
	size_t len;
	if (!a) {
		errno = EINVAL;
		return SMA_NULL;
	}
	if (name_ok(name, &len) < 0)
		return SMA_NULL;
	uint32_t hash = fnv1a(name, len);
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a)) {
		if (sma__lock(a) < 0)
			return SMA_NULL;
		struct name_rec *r = find(a, name, len, hash, NULL);
		uint64_t obj = r ? r->obj : 0;
		unsigned kind;
		int ok = obj && sma__object_live(a, obj, NULL, &kind) && kind == KIND_NAMED;
		sma__unlock(a);
		if (!ok) {
			errno = ENOENT;
			return SMA_NULL;
		}
		return obj;
	}
	/* Without the lock: a look counts when the index stood still. */
	for (int tries = 0;; tries++) {
		uint64_t seq = LOAD_ACQ(a->h->names_seq);
		struct name_rec *r = find(a, name, len, hash, NULL);
		uint64_t obj = r ? LOAD(r->obj) : 0;
		unsigned kind;
		int ok = obj && sma__object_live(a, obj, NULL, &kind) && kind == KIND_NAMED;
		atomic_thread_fence(memory_order_acquire);
		if ((!(seq & 1) && LOAD(a->h->names_seq) == seq) || tries == 100) {
			/* After 100 looks the writer is taken to be dead (its
			 * repair makes the count even): the answer checked. */
			if (!ok) {
				errno = ENOENT;
				return SMA_NULL;
			}
			return obj;
		}
		sched_yield();
	}
}

int sma_named_free(sma_t *a, const char *name)
{
	size_t len;
	int rc = -1;
	if (!a) {
		errno = EINVAL;
		return -1;
	}
	if (a->flags & SMA_RDONLY) {
		errno = EROFS;
		return -1;
	}
	if (name_ok(name, &len) < 0)
		return -1;
	struct sma_header *h = a->h;
	if (sma__lock(a) < 0)
		return -1;
	_Atomic uint64_t *link;
	struct name_rec *r = find(a, name, len, fnv1a(name, len), &link);
	if (!r) {
		errno = ENOENT;
		goto out;
	}
	uint64_t obj = r->obj, usable = 0;
	unsigned kind;
	if (!sma__object_live(a, obj, &usable, &kind) || kind != KIND_NAMED) {
		errno = EBADMSG;
		goto out;
	}
	sma__op_begin(a, LOP_NAMED_FREE);
	sma__op_object(a, obj, usable);
	STORE_REL(h->names_seq, LOAD(h->names_seq) | 1);
	atomic_store_explicit(link, LOAD(r->next), memory_order_release);
	STEP();
	uint64_t ob = obj - 16;
	atomic_fetch_and(bhdr(a, ob), ~BF_LIVE);
	sma__heap_free_locked(a, ob);
	STEP();
	sma__heap_free_locked(a, off_of(a, r) - 16);
	STEP();
	BUMP(h->used, (uint64_t)0 - usable);
	STEP();
	BUMP(h->named, (uint64_t)-1);
	STEP();
	BUMP(h->frees, 1);
	STORE_REL(h->names_seq, LOAD(h->names_seq) + 1);
	sma__op_end(a);
	rc = 0;
out:
	sma__unlock(a);
	return rc;
}

struct each_ent {
	char name[SMA_NAME_MAX + 1];
	uint64_t obj, size;
};

int sma_named_each(sma_t *a, int (*fn)(const char *, sma_off_t, size_t, void *), void *arg)
{
	if (!a || !fn) {
		errno = EINVAL;
		return -1;
	}
	/* Copy the index first, so that fn runs with no lock held. */
	const struct sma_header *h = a->h;
	size_t cap = (size_t)max_steps(a), n = 0;
	struct each_ent *v = malloc(cap * sizeof *v);
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	int locked = !(a->flags & SMA_RDONLY) && !sma__lock_held(a) && sma__lock(a) == 0;
	uint64_t steps = max_steps(a);
	for (uint32_t i = 0; i < h->nbuckets; i++) {
		uint64_t off = atomic_load_explicit((_Atomic uint64_t *)at(a, h->buckets_off + (uint64_t)i * 8),
						    memory_order_acquire);
		while (off && steps) {
			steps--;
			struct name_rec *r = rec_at(a, off);
			uint64_t usable;
			if (!r)
				break;
			if (n < cap && sma__object_live(a, r->obj, &usable, NULL)) {
				memcpy(v[n].name, r->name, r->len);
				v[n].name[r->len] = '\0';
				v[n].obj = r->obj;
				v[n].size = usable;
				n++;
			}
			off = atomic_load_explicit((_Atomic uint64_t *)&r->next, memory_order_acquire);
		}
	}
	if (locked)
		sma__unlock(a);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(v[i].name, v[i].obj, v[i].size, arg);
	free(v);
	return rc;
}

/* ---- checking and repair ----------------------------------------------- */

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/*
 * Walks the index (N1-N3), calling report for each problem (when report is
 * not NULL).  With refs, also collects the blocks the library references
 * (records, named objects, slot caches) into a sorted array.  Returns the
 * number of problems.
 */
static int walk_index(struct sma *a, int (*report)(void *, const char *, ...), void *rarg,
		      uint64_t **refs, size_t *nrefs)
{
	struct sma_header *h = a->h;
	int bad = 0;
	size_t cap = 2 * (size_t)max_steps(a) + h->nslots, n = 0;
	uint64_t *v = refs ? malloc(cap * sizeof *v) : NULL;
	if (refs && !v)
		return 0;
	uint64_t steps = max_steps(a), count = 0;
	for (uint32_t i = 0; i < h->nbuckets; i++) {
		uint64_t off = *(uint64_t *)at(a, h->buckets_off + (uint64_t)i * 8);
		while (off) {
			if (!steps--) {
				if (report)
					report(rarg, "N3: name index bucket %u: chain longer than the %llu names counted (a cycle?)",
					       i, (unsigned long long)h->named);
				bad++;
				break;
			}
			struct name_rec *r = rec_at(a, off);
			if (!r) {
				if (report)
					report(rarg, "N1: name index bucket %u: offset %#llx is not a name record", i,
					       (unsigned long long)off);
				bad++;
				break;
			}
			count++;
			if (r->name[r->len] != '\0' || strlen(r->name) != r->len || fnv1a(r->name, r->len) != r->hash ||
			    (r->hash & (h->nbuckets - 1)) != i) {
				if (report)
					report(rarg, "N1: name record at %#llx: name, length or hash do not agree",
					       (unsigned long long)off);
				bad++;
			}
			unsigned kind;
			if (!sma__object_live(a, r->obj, NULL, &kind) || kind != KIND_NAMED) {
				if (report)
					report(rarg, "N2: name record at %#llx: object %#llx is not a live named object",
					       (unsigned long long)off, (unsigned long long)r->obj);
				bad++;
			}
			if (v && n + 2 <= cap) {
				v[n++] = off - 16;
				v[n++] = r->obj - 16;
			}
			off = r->next;
		}
	}
	if (count != h->named) {
		if (report)
			report(rarg, "N3: name index holds %llu names, the header counts %llu",
			       (unsigned long long)count, (unsigned long long)h->named);
		bad++;
	}
	if (v) {
		for (unsigned i = 0; i < h->nslots && n < cap; i++) {
			struct slot *s = sma__slot(a, i);
			if (atomic_load(&s->state) == SLOT_HELD && s->cache)
				v[n++] = s->cache - 16;
		}
		qsort(v, n, sizeof *v, cmp_u64);
		*refs = v;
		*nrefs = n;
	}
	return bad;
}

int sma__named_check(struct sma *a, int (*report)(void *, const char *, ...), void *rarg)
{
	return walk_index(a, report, rarg, NULL, NULL);
}

/*
 * Frees the library blocks and named objects nothing references any more:
 * what a process killed between allocating and publishing them (or between
 * unpublishing and freeing them) left.  Runs with the lock held, after the
 * heap has been rebuilt.  Returns how many blocks it freed.
 */
unsigned sma__orphans_sweep_locked(struct sma *a)
{
	struct sma_header *h = a->h;
	uint64_t *refs = NULL;
	size_t nrefs = 0;
	walk_index(a, NULL, NULL, &refs, &nrefs);
	if (!refs)
		return 0;
	size_t cap = 64, n = 0;
	uint64_t *orphans = malloc(cap * sizeof *orphans);
	for (uint64_t b = h->heap_off; orphans && b < h->heap_end;) {
		uint64_t w = hw_load(a, b), size = hw_size(w);
		if (!hw_tag_ok(b, w) || size < MIN_BLOCK || b + size > h->heap_end)
			break;
		unsigned k = hw_kind(w);
		if (!(w & BF_FREE) && (k == KIND_INTERNAL || k == KIND_NAMED) &&
		    !bsearch(&b, refs, nrefs, sizeof *refs, cmp_u64)) {
			if (n == cap) {
				uint64_t *t = realloc(orphans, 2 * cap * sizeof *t);
				if (!t)
					break;
				orphans = t;
				cap *= 2;
			}
			orphans[n++] = b;
		}
		b += size;
	}
	for (size_t i = 0; i < n; i++) {
		atomic_fetch_and(bhdr(a, orphans[i]), ~BF_LIVE);
		sma__heap_free_locked(a, orphans[i]);
	}
	free(orphans);
	free(refs);
	return (unsigned)n;
}

/* Did a named free of obj get as far as unpublishing it? */
int sma__named_unlinked(struct sma *a, uint64_t obj)
{
	struct sma_header *h = a->h;
	uint64_t steps = max_steps(a);
	for (uint32_t i = 0; i < h->nbuckets; i++) {
		uint64_t off = *(uint64_t *)at(a, h->buckets_off + (uint64_t)i * 8);
		while (off && steps--) {
			struct name_rec *r = rec_at(a, off);
			if (!r)
				break;
			if (r->obj == obj)
				return 0;
			off = r->next;
		}
	}
	return 1;
}
