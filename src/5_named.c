/*
 * 5_named.c -- named objects: a hash index from names to objects, in the
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
#include "0_memcheck.h"
#include "1_lock.h"
#include "2_heap.h"
#include "2_object.h"
#include "3_names.h"
#include "4_repair.h"

#include <sched.h>
#include <stdlib.h>


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
	if (sma__name_ok(name, &len) < 0)
		return SMA_NULL;
	uint32_t hash = sma__name_hash(name, len);
	struct sma_header *h = a->h;
	uint64_t off = SMA_NULL;

	if (sma__lock(a) < 0)
		return SMA_NULL;
	int retried = 0;
again:;
	struct name_rec *r = sma__name_find(a, name, len, hash, NULL);
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
		if (retried++ == 0) {
			/* Caches give back what they hold before ENOMEM. */
			sma__make_room_locked(a);
			goto again;
		}
		if (retried == 2 && sma__heap_grow_locked(a, size + 2 * sizeof(struct name_rec), ALIGN))
			goto again; /* a new segment, if the limit allows */
		errno = ENOMEM;
		goto out;
	}
	uint64_t usable = hw_size(hw_load(a, ob)) - BLOCK_OVERHEAD;
	memset(at(a, ob + BLOCK_HDR), 0, usable);
	r = at(a, rb + BLOCK_HDR);
	memset(r, 0, sizeof *r);
	memcpy(r->name, name, len);
	r->len = (uint32_t)len;
	r->hash = hash;
	r->obj = ob + BLOCK_HDR;
	_Atomic uint64_t *head = sma__name_bucket(a, hash);
	r->next = atomic_load(head);
	STEP();
	atomic_store_explicit(head, rb + BLOCK_HDR, memory_order_release);
	STEP();
	BUMP(h->used, usable);
	STEP();
	BUMP(h->named, 1);
	STEP();
	BUMP(h->allocs, 1);
	sma__op_end(a);
	if (created)
		*created = 1;
	off = ob + BLOCK_HDR;
	mc_alloc(a, off, usable);
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
	if (sma__name_ok(name, &len) < 0)
		return SMA_NULL;
	uint32_t hash = sma__name_hash(name, len);
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a)) {
		if (sma__lock(a) < 0)
			return SMA_NULL;
		struct name_rec *r = sma__name_find(a, name, len, hash, NULL);
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
		struct name_rec *r = sma__name_find(a, name, len, hash, NULL);
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
	if (!handle_writable(a))
		return -1;
	if (sma__name_ok(name, &len) < 0)
		return -1;
	struct sma_header *h = a->h;
	if (sma__lock(a) < 0)
		return -1;
	_Atomic uint64_t *link;
	struct name_rec *r = sma__name_find(a, name, len, sma__name_hash(name, len), &link);
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
	uint64_t ob = obj - BLOCK_HDR;
	atomic_fetch_and(bhdr(a, ob), ~BF_LIVE);
	mc_free_shared(a, obj, usable);
	sma__heap_free_locked(a, ob);
	STEP();
	sma__heap_free_locked(a, off_of(a, r) - BLOCK_HDR);
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
	size_t cap = (size_t)sma__name_steps(a), n = 0;
	struct each_ent *v = malloc(cap * sizeof *v);
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	int locked = !(a->flags & SMA_RDONLY) && !sma__lock_held(a) && sma__lock(a) == 0;
	uint64_t steps = sma__name_steps(a);
	for (uint32_t i = 0; i < h->nbuckets; i++) {
		uint64_t off = atomic_load_explicit((_Atomic uint64_t *)at(a, h->buckets_off + (uint64_t)i * 8),
						    memory_order_acquire);
		while (off && steps) {
			steps--;
			struct name_rec *r = sma__name_rec(a, off);
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
