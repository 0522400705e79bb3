/*
 * hashmap.h -- a hash map from strings to counters, shared by processes.
 *
 * The map lives in an sma arena and is found by name: every process
 * attached to the arena opens it with hm_open(a, "words", 4096) and may add
 * to its counters at the same time as the others.  Entries are never removed
 * one by one; hm_free_all() frees the whole map once nobody uses it.
 *
 * Copy hashmap.h and hashmap.c into your program and link with -lsma.
 */
#ifndef HASHMAP_H
#define HASHMAP_H

#include <stddef.h>
#include <stdint.h>

#include <sma.h>

typedef struct hm hm_t; /* this process's handle on a shared map */

/*
 * Opens the map called name in the arena, creating it when it does not
 * exist yet, with nbuckets buckets (rounded up to a power of two; ignored
 * when the map exists).  Many processes may open the same name at once:
 * exactly one map is made.  Returns NULL with errno set on failure (EPROTO
 * when name is an object that is not a map).  The arena handle must stay
 * open while the map is used, and be writable: every call takes a lock.
 */
hm_t *hm_open(sma_t *a, const char *name, size_t nbuckets);

/* Frees this process's handle; the map stays in the arena for others. */
void hm_close(hm_t *hm);

/*
 * Adds delta to the counter of key, creating it at 0 first if needed.
 * Returns 1 when this call created the key, 0 when it existed, -1 with
 * errno set (EINVAL for a NULL or empty key, ENOMEM when the arena is full).
 */
int hm_add(hm_t *hm, const char *key, int64_t delta);

/* Stores the counter of key in *value: 0, or -1 with ENOENT if absent. */
int hm_get(hm_t *hm, const char *key, int64_t *value);

/*
 * Calls fn once per key, bucket after bucket, holding the bucket's lock:
 * fn must not call hm_add or hm_get on the same map.  A non-zero return
 * from fn stops the walk and is returned.
 */
int hm_each(hm_t *hm, int (*fn)(const char *key, int64_t value, void *arg),
	    void *arg);

/*
 * Frees every entry, the buckets and the map itself, then the handle.  Call
 * it once, when no other process uses the map any more.
 */
int hm_free_all(hm_t *hm);

#endif /* HASHMAP_H */
