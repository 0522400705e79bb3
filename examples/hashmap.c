/*
 * hashmap.c -- a hash map from strings to counters, shared by processes.
 *
 * Everything lives in the arena and refers to everything else by offset,
 * so each process may attach the arena at a different address:
 *
 *   named object "words"            sma_calloc'd bucket array
 *   +------------------------+      +-----+-----+-----+-- ... --+
 *   | magic                  |      | off |  0  | off |         |
 *   | nbuckets, buckets -----+----->+--|--+-----+--|--+-- ... --+
 *   | setup mutex            |         v           v
 *   | stripe[0..63] mutexes  |      entry        entry --> entry --> 0
 *   +------------------------+      (next, value, hash, "key\0")
 *
 * Invariants:
 *   1. Bucket b is guarded by stripe[b % HM_STRIPES]: nothing reads or
 *      writes its chain without holding that mutex.
 *   2. An entry is complete before it is linked, and linking is one 8-byte
 *      store of its offset into the bucket; a counter changes by one 8-byte
 *      store too.  So a process killed while holding a stripe leaves the
 *      map consistent, and the next locker, told EOWNERDEAD, just goes on.
 *   3. magic is written last when the map is set up; a map without it is
 *      set up (again) by the next hm_open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

#define HM_MAGIC 0x31706d6873616d73ULL /* "smashmp1" */
#define HM_STRIPES 64		       /* mutexes; a power of two */

struct hm_root {
	uint64_t magic;		/* HM_MAGIC once set up, 0 before */
	uint64_t nbuckets;	/* buckets, a power of two */
	uint64_t buckets;	/* offset of nbuckets entry offsets (0 = empty) */
	sma_mutex_t setup;	/* held while the map is being set up */
	sma_mutex_t stripe[HM_STRIPES]; /* stripe[b % HM_STRIPES] guards bucket b */
};

struct hm_entry {
	uint64_t next;		/* offset of the next entry of the bucket, 0 = end */
	int64_t value;		/* the counter */
	uint64_t hash;		/* hash of key, to skip most string compares */
	char key[];		/* the key, NUL-terminated */
};

/* The handle is private to the process: pointers are fine here. */
struct hm {
	sma_t *a;
	struct hm_root *root;	/* the named object, in this mapping */
	uint64_t *buckets;	/* the bucket array, in this mapping */
	char name[SMA_NAME_MAX + 1];
};

/* FNV-1a, 64 bits. */
static uint64_t hash_key(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Locks m; a dead previous owner is no problem here (invariant 2). */
static int lock(sma_mutex_t *m)
{
	int err = sma_mutex_lock(m);

	return err == EOWNERDEAD ? 0 : err;
}

hm_t *hm_open(sma_t *a, const char *name, size_t nbuckets)
{
	struct hm_root *root = NULL;
	hm_t *hm = NULL;
	sma_off_t off;
	int err;

	if (!a || nbuckets == 0 || nbuckets > ((size_t)1 << 30)) {
		errno = EINVAL;
		return NULL;
	}
	/* One zero-filled root whoever comes first; the name is checked here. */
	off = sma_named_alloc(a, name, sizeof(*root), NULL);
	if (off == SMA_NULL)
		return NULL;
	root = sma_ptr(a, off);

	if ((err = lock(&root->setup)) != 0) {
		errno = err;
		return NULL;
	}
	if (root->magic == 0) {
		uint64_t n = 16;
		sma_off_t b;

		while (n < nbuckets)
			n <<= 1;
		sma_free(a, root->buckets); /* left by a setup that died */
		b = sma_calloc(a, n, sizeof(uint64_t));
		if (b == SMA_NULL)
			goto fail;
		root->buckets = b;
		root->nbuckets = n;
		root->magic = HM_MAGIC; /* invariant 3 */
	} else if (root->magic != HM_MAGIC) {
		errno = EPROTO;
		goto fail;
	}
	sma_mutex_unlock(&root->setup);

	if (!(hm = calloc(1, sizeof(*hm))))
		return NULL;
	hm->a = a;
	hm->root = root;
	hm->buckets = sma_ptr(a, root->buckets);
	strcpy(hm->name, name); /* sma_named_alloc checked its length */
	return hm;

fail:
	err = errno;
	sma_mutex_unlock(&root->setup);
	errno = err;
	return NULL;
}

void hm_close(hm_t *hm)
{
	free(hm);
}

/* The entry of key in bucket b, or NULL; the caller holds b's stripe. */
static struct hm_entry *find(hm_t *hm, uint64_t b, uint64_t h, const char *key)
{
	sma_off_t off;

	for (off = hm->buckets[b]; off != SMA_NULL;) {
		struct hm_entry *e = sma_ptr(hm->a, off);

		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
		off = e->next;
	}
	return NULL;
}

/* Hashes key and locks the stripe of its bucket; the stripe's mutex, or
 * NULL with errno set. */
static sma_mutex_t *lock_key(hm_t *hm, const char *key, uint64_t *h, uint64_t *b)
{
	sma_mutex_t *m;
	int err;

	if (!key || !*key) {
		errno = EINVAL;
		return NULL;
	}
	*h = hash_key(key);
	*b = *h & (hm->root->nbuckets - 1);
	m = &hm->root->stripe[*b % HM_STRIPES];
	if ((err = lock(m)) != 0) {
		errno = err;
		return NULL;
	}
	return m;
}

int hm_add(hm_t *hm, const char *key, int64_t delta)
{
	uint64_t h, b;
	sma_mutex_t *m;
	struct hm_entry *e;
	int err, ret = -1;

	if (!(m = lock_key(hm, key, &h, &b)))
		return -1;
	if ((e = find(hm, b, h, key)) != NULL) {
		e->value += delta;
		ret = 0;
	} else {
		size_t len = strlen(key);
		sma_off_t off = sma_alloc(hm->a, sizeof(*e) + len + 1);

		if (off != SMA_NULL) {
			e = sma_ptr(hm->a, off);
			e->value = delta;
			e->hash = h;
			memcpy(e->key, key, len + 1);
			e->next = hm->buckets[b];
			hm->buckets[b] = off; /* invariant 2: complete, then linked */
			ret = 1;
		}
	}
	err = errno;
	sma_mutex_unlock(m);
	errno = err;
	return ret;
}

int hm_get(hm_t *hm, const char *key, int64_t *value)
{
	uint64_t h, b;
	sma_mutex_t *m;
	struct hm_entry *e;

	if (!(m = lock_key(hm, key, &h, &b)))
		return -1;
	if ((e = find(hm, b, h, key)) != NULL)
		*value = e->value;
	sma_mutex_unlock(m);
	if (!e) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int hm_each(hm_t *hm, int (*fn)(const char *key, int64_t value, void *arg),
	    void *arg)
{
	uint64_t b;
	int rc = 0;

	for (b = 0; b < hm->root->nbuckets && rc == 0; b++) {
		sma_mutex_t *m = &hm->root->stripe[b % HM_STRIPES];
		sma_off_t off;
		int err;

		if ((err = lock(m)) != 0) {
			errno = err;
			return -1;
		}
		for (off = hm->buckets[b]; off != SMA_NULL && rc == 0;) {
			struct hm_entry *e = sma_ptr(hm->a, off);

			rc = fn(e->key, e->value, arg);
			off = e->next;
		}
		sma_mutex_unlock(m);
	}
	return rc;
}

int hm_free_all(hm_t *hm)
{
	uint64_t b;
	int rc = 0;

	for (b = 0; b < hm->root->nbuckets; b++) {
		sma_off_t off = hm->buckets[b];

		while (off != SMA_NULL) {
			sma_off_t next = ((struct hm_entry *)sma_ptr(hm->a, off))->next;

			if (sma_free(hm->a, off) != 0)
				rc = -1;
			off = next;
		}
	}
	if (sma_free(hm->a, hm->root->buckets) != 0)
		rc = -1;
	if (sma_named_free(hm->a, hm->name) != 0) /* the root itself */
		rc = -1;
	free(hm);
	return rc;
}
