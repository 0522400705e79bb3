/*
 * 5_stats.c -- the figures of an arena: sma_stats, sma_info, and the
 * per-class and per-slot figures.
 *
 * They read the segment as untrusted input: every offset is bounds-checked
 * before it is followed, every loop is bounded.  On a read-only handle
 * nothing takes the lock, so the figures may come from a moving picture;
 * on a writable handle the lock is taken (as a look: not in lock_ops).
 */
#include "5_stats.h"
#include "1_lock.h"
#include "2_heap.h"
#include "3_cache.h"
#include "4_repair.h"
#include "1_sem.h"

#include <stdlib.h>
#include <sys/sem.h>
#include <sys/shm.h>

/* The sizes the ABI keeps (sma.h: later fields take reserved words; the
 * callers' structs are zero-filled whole, reserved included). */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct sma_stats) == 128, "struct sma_stats keeps its size");
_Static_assert(sizeof(struct sma_info) == 384, "struct sma_info keeps its size");
_Static_assert(sizeof(struct sma_class_stats) == 128, "struct sma_class_stats keeps its size");
_Static_assert(sizeof(struct sma_slot_info) == 128, "struct sma_slot_info keeps its size");
_Static_assert(sizeof(struct sma_ls_entry) == 128, "struct sma_ls_entry keeps its size");
#endif

/* A field of every slot, summed: slot counters add up over every thread
 * that held the slot, so free slots count too. */
uint64_t sma__slots_sum(const struct sma *a, size_t field)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < a->h->nslots; i++) {
		const struct slot *s = slot_at(a, i);
		sum += __atomic_load_n((const uint64_t *)((const char *)s + field), __ATOMIC_RELAXED);
	}
	return sum;
}


void sma__stats_read(const struct sma *a, struct sma_stats *st)
{
	const struct sma_header *h = a->h;
	memset(st, 0, sizeof *st);
	st->size = LOAD(h->total_size) > h->size ? LOAD(h->total_size) : h->size;
	st->heap_size = h->heap_size;
	st->allocs = LOAD(h->allocs) + sma__slots_sum(a, offsetof(struct slot, allocs));
	st->frees = LOAD(h->frees) + sma__slots_sum(a, offsetof(struct slot, frees));
	st->live = st->allocs - st->frees;
	st->used = LOAD(h->used) + sma__slots_sum(a, offsetof(struct slot, used));
	uint64_t free = h->heap_free_bytes - BLOCK_OVERHEAD * h->heap_free_blocks;
	uint64_t largest = sma__heap_largest_locked(a);
	for (unsigned c = 0; c < NSMALL; c++) {
		free += h->cls[c].free * class_size[c];
		if (h->cls[c].free && class_size[c] > largest)
			largest = class_size[c];
	}
	for (unsigned i = 0; i < h->nslots; i++) {
		const struct slot *s = slot_at(a, i);
		if (atomic_load(&s->state) == SLOT_HELD)
			free += sma__slot_cached_bytes(a, s);
	}
	st->free = free;
	st->largest_free = largest < free ? largest : free;
	struct shmid_ds ds;
	if (!a->image && shmctl(a->shmid, IPC_STAT, &ds) == 0)
		st->nattch = (uint32_t)ds.shm_nattch;
}


int sma_stats(sma_t *a, struct sma_stats *st)
{
	if (!a || !st) {
		errno = EINVAL;
		return -1;
	}
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a)) {
		/* What this thread and dead processes cache is free for all. */
		sma__cache_flush_self(a);
		if (sma__lock_look(a) < 0)
			return -1;
		sma__reclaim_dead_locked(a);
		sma__stats_read(a, st);
		sma__unlock(a);
		return 0;
	}
	sma__stats_read(a, st);
	return 0;
}


/* ---- info ------------------------------------------------------------------ */

/* What one held slot's cache holds, read consistently. */
struct slot_look {
	uint64_t objs;		    /* objects cached */
	uint64_t bytes;		    /* their bytes */
	uint32_t count[NCLASSES];   /* per class */
};

/*
 * Reads slot i's cache into v: 1 if the slot is held and was read whole,
 * 0 if not.  Without the lock (a read-only handle) a slot being taken or
 * given back (its gen odd, or changed during the read) is read again, at
 * most a few times: its cache block may be freed and reused meanwhile.
 */
static int slot_look(const struct sma *a, unsigned i, int locked, struct slot_look *v)
{
	const struct slot *s = slot_at(a, i);
	for (int tries = 0; tries < 4; tries++) {
		uint32_t g = LOAD_ACQ(((struct slot *)s)->gen);
		if (atomic_load_explicit(&((struct slot *)s)->state, memory_order_acquire) != SLOT_HELD)
			return 0;
		if ((g & 1) && !locked) {
			sched_yield();
			continue;
		}
		memset(v, 0, sizeof *v);
		const struct cache_block *c = sma__cache_of(a, s);
		v->bytes = sma__slot_cached_bytes(a, s);
		if (c)
			for (unsigned k = 0; k < NCLASSES; k++) {
				uint32_t n = LOAD(((struct cache_block *)c)->count[k]);
				v->count[k] = n <= a->ccap[k] ? n : 0;
				v->objs += v->count[k];
			}
		atomic_thread_fence(memory_order_acquire);
		if (locked || LOAD(((struct slot *)s)->gen) == g)
			return 1;
	}
	return 0;
}

int sma_info(sma_t *a, struct sma_info *in)
{
	if (!a || !in) {
		errno = EINVAL;
		return -1;
	}
	const struct sma_header *h = a->h;
	memset(in, 0, sizeof *in);
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (!a->image && shmctl(a->shmid, IPC_STAT, &ds) < 0)
		return -1;
	if (a->image)
		ds.shm_segsz = a->size;
	in->shmid = a->shmid;
	in->key = a->key;
	in->semid = sma_semid(a);
	in->layout_version = h->layout;
	in->readonly = (a->flags & SMA_RDONLY) != 0;
	in->destroyed = (ds.shm_perm.mode & SHM_DEST) != 0;
	in->uid = ds.shm_perm.uid;
	in->gid = ds.shm_perm.gid;
	in->cuid = ds.shm_perm.cuid;
	in->cgid = ds.shm_perm.cgid;
	in->mode = ds.shm_perm.mode & 0777;
	in->cpid = ds.shm_cpid;
	in->lpid = ds.shm_lpid;
	in->atime = ds.shm_atime;
	in->dtime = ds.shm_dtime;
	in->ctime = ds.shm_ctime;
	in->size = ds.shm_segsz;
	in->nattch = (uint32_t)ds.shm_nattch;
	in->path_dev = h->path_dev;
	in->path_ino = h->path_ino;
	in->created = h->created;
	in->lock_holder = LOAD(h->lock_pid);
	in->lock_in_op = LOAD(h->op.kind) != LOP_NONE;
	in->lock_ops = LOAD(h->lock_ops);
	in->lock_waits = LOAD(h->lock_waits);
	in->sem_ops = LOAD(h->sem_ops);
	in->repairs = LOAD(h->repairs);
	in->sets_replaced = LOAD(h->sets_replaced);
	in->nsegs = nsegs_of(a);
	in->limit = (size_t)LOAD(h->limit);
	in->sem_gone = !a->image && in->semid >= 0 && semctl(in->semid, 0, GETVAL) < 0 &&
		       (errno == EINVAL || errno == EIDRM);
	in->nslots = h->nslots;
	in->nclasses = NCLASSES;
	int locked = sma__lock_reader(a);
	for (unsigned i = 0; i < h->nslots && i < MAX_SLOTS; i++) {
		struct slot_look v;
		if (atomic_load(&slot_at(a, i)->state) == SLOT_HELD)
			in->slots_used++;
		if (slot_look(a, i, locked || a->image, &v))
			in->cached += v.bytes;
	}
	if (locked)
		sma__unlock(a);
	return 0;
}

int sma_class_stats(sma_t *a, unsigned cls, struct sma_class_stats *cs)
{
	if (!a || !cs) {
		errno = EINVAL;
		return -1;
	}
	if (cls >= NCLASSES) {
		errno = ENOENT;
		return -1;
	}
	const struct sma_header *h = a->h;
	memset(cs, 0, sizeof *cs);
	int locked = sma__lock_reader(a);
	cs->size = class_size[cls];
	cs->slab = cls < NSMALL;
	cs->slabs = h->cls[cls].slabs;
	cs->total = h->cls[cls].slots;
	cs->requests = h->cls[cls].requests;
	cs->failures = h->cls[cls].failures;
	uint64_t cached = 0;
	for (unsigned i = 0; i < h->nslots && i < MAX_SLOTS; i++) {
		struct slot_look v;
		cs->requests += LOAD(slot_at(a, i)->req[cls]);
		if (slot_look(a, i, locked || a->image, &v))
			cached += v.count[cls];
	}
	cs->cached = cached;
	if (cs->slab)
		cs->used = h->cls[cls].slots - h->cls[cls].free - (cached < cs->total ? cached : 0);
	if (locked)
		sma__unlock(a);
	return 0;
}

int sma_slots_each(sma_t *a, int (*fn)(const struct sma_slot_info *, void *), void *arg)
{
	if (!a || !fn) {
		errno = EINVAL;
		return -1;
	}
	const struct sma_header *h = a->h;
	unsigned n = h->nslots < MAX_SLOTS ? h->nslots : MAX_SLOTS, k = 0;
	struct sma_slot_info *v = calloc(n ? n : 1, sizeof *v);
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	/* Read them all first, so that fn runs with no lock held. */
	int locked = sma__lock_reader(a);
	for (unsigned i = 0; i < n; i++) {
		const struct slot *s = slot_at(a, i);
		struct slot_look look;
		if (!slot_look(a, i, locked || a->image, &look))
			continue;
		v[k++] = (struct sma_slot_info){
			.slot = i,
			.pid = LOAD(((struct slot *)s)->pid),
			.tid = LOAD(((struct slot *)s)->tid),
			.alive = sma__slot_liveness_look(a, i) != LIVE_DEAD,
			.cached_bytes = look.bytes,
			.cached = look.objs,
			.allocs = LOAD(((struct slot *)s)->allocs),
			.frees = LOAD(((struct slot *)s)->frees),
		};
	}
	if (locked)
		sma__unlock(a);
	int rc = 0;
	for (unsigned i = 0; i < k && !rc; i++)
		rc = fn(&v[i], arg);
	free(v);
	return rc;
}

