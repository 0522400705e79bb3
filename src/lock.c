/*
 * lock.c -- the arena lock and the repair of what a dead holder left.
 *
 * The lock is semaphore 0 of the arena's System V semaphore set (value 1 =
 * free), always taken with SEM_UNDO: when a holder dies, however it dies,
 * the kernel gives the lock back.  Semaphore 1 holds SEM_MARK, by which
 * `sma ls` knows a set as sma's.
 *
 *   header: lock_pid lock_tid | lock_op lock_slot lock_a lock_ctr | lock_ops
 *           holder            | operation in flight               | counter
 *
 * Invariants:
 *   L1  lock_pid is non-zero exactly while a thread holds the lock; the
 *       holder clears it (and lock_op) before it releases the semaphore.
 *   L2  so a taker that finds lock_pid set knows the previous holder died
 *       holding the lock, and repairs before it does anything else: it
 *       rebuilds the derived state, and if lock_op is set it finishes or
 *       undoes that operation.
 *   L3  what a repair needs is authoritative state written in an order a
 *       walk can always read: block sizes and flags (heap.c), slab bitmaps
 *       (slab.c), a slot's logs (cache.c), and the argument recorded here.
 *       Everything else (free lists, slab lists, free counts) is derived and
 *       rebuilt by the walk.
 *
 * Why a walk and not a per-operation undo log for the heap: an operation
 * touches at most a few headers, each written with one atomic store in an
 * order that leaves every intermediate state walkable (heap.c), so the walk
 * needs no log, and the one argument recorded here is enough to finish a
 * free or count an allocation.  Repair is O(heap) but happens only after a
 * holder died, which is rare; the common path pays nothing for it.
 */
#include "internal.h"

#include <sys/sem.h>

static int semop_retry(int semid, short delta)
{
	struct sembuf op = { .sem_num = 0, .sem_op = delta, .sem_flg = SEM_UNDO };
	for (;;) {
		if (semop(semid, &op, 1) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EINVAL || errno == EIDRM)
			errno = EIDRM; /* the set was removed under the arena */
		return -1;
	}
}

int sma__lock(struct sma *a)
{
	struct sma_header *h = a->h;
	if (UNLIKELY(sma__lock_held(a))) {
		/* From inside a callback of sma_walk or the like. */
		errno = EDEADLK;
		return -1;
	}
	if (semop_retry(a->semid, -1) < 0)
		return -1;
	if (UNLIKELY(h->lock_pid != 0)) {
		/* L2: the previous holder died holding the lock. */
		h->lock_pid = sma__getpid();
		h->lock_tid = sma__gettid();
		sma__repair_locked(a);
	}
	h->lock_pid = sma__getpid();
	h->lock_tid = sma__gettid();
	h->lock_ops += 2;
	return 0;
}

void sma__unlock(struct sma *a)
{
	struct sma_header *h = a->h;
	DASSERT(sma__lock_held(a));
	h->lock_op = LOP_NONE;
	h->lock_tid = 0;
	atomic_store_explicit((_Atomic int32_t *)&h->lock_pid, 0, memory_order_release);
	if (semop_retry(a->semid, 1) < 0) {
		/* The set is gone: nothing is held any more. */
	}
}

int sma__lock_held(const struct sma *a)
{
	return a->h->lock_pid == sma__getpid() && a->h->lock_tid == sma__gettid();
}

void sma__op_begin(struct sma *a, uint32_t op, uint64_t arg, uint64_t ctr)
{
	struct sma_header *h = a->h;
	h->lock_a = arg;
	h->lock_ctr = ctr;
	h->lock_used = h->used;
	atomic_store_explicit((_Atomic uint32_t *)&h->lock_op, op, memory_order_release);
}

void sma__op_end(struct sma *a)
{
	atomic_store_explicit((_Atomic uint32_t *)&a->h->lock_op, LOP_NONE, memory_order_release);
}

/*
 * Finishes or undoes the operation a dead holder was in (L2, L3), then
 * rebuilds the derived state.  Runs with the lock held.
 */
void sma__repair_locked(struct sma *a)
{
	struct sma_header *h = a->h;
	uint32_t op = h->lock_op;
	uint64_t x = h->lock_a, usable;

	h->repairs++;
	/* First make the heap walkable and its lists true again. */
	int walkable = sma__heap_rebuild_locked(a) == 0;

	switch (op) {
	case LOP_ALLOC:
		/* x, once chosen, is the object: count it if it went live
		 * uncounted; give a slab slot back if it never went live. */
		if (!x)
			break;
		if (sma__object_live(a, x, &usable, NULL)) {
			/* Each counter on its own: a crash may fall between them. */
			if (h->used == h->lock_used)
				h->used += usable;
			if (h->allocs == h->lock_ctr)
				h->allocs++;
		} else {
			unsigned idx;
			struct slab *s = sma__slab_of(a, x, &idx);
			if (s)
				sma__slab_put_locked(a, s, idx);
		}
		break;
	case LOP_FREE:
		/* Once the live bit is clear the free has happened: finish
		 * giving the object back, and count it. */
		if (x && !sma__object_live(a, x, NULL, NULL)) {
			sma__free_object_locked(a, x);
			if (h->used == h->lock_used)
				h->used -= h->lock_b;
			if (h->frees == h->lock_ctr)
				h->frees++;
		}
		break;
	case LOP_NAMED:
		/* Published but not counted: count it.  Not published: the
		 * sweep below frees the object and its record. */
		if (x && !sma__named_unlinked(a, x) && h->allocs == h->lock_ctr &&
		    sma__object_live(a, x, &usable, NULL)) {
			/* named and allocs move together after used (named.c) */
			if (h->used == h->lock_used)
				h->used += usable;
			h->named++;
			h->allocs++;
		}
		break;
	case LOP_NAMED_FREE:
		if (x && sma__named_unlinked(a, x) && h->frees == h->lock_ctr) {
			if (h->used == h->lock_used)
				h->used -= h->lock_b;
			h->named--;
			h->frees++;
		}
		break;
	case LOP_RESIZE:
		/* The block changed size but the bytes in use were not told. */
		if (x && h->used == h->lock_ctr && sma__object_live(a, x, &usable, NULL))
			h->used += usable - h->lock_b;
		break;
	case LOP_SLOT:
		if (h->lock_slot && h->lock_slot <= h->nslots)
			sma__slot_recover_locked(a, sma__slot(a, h->lock_slot - 1));
		break;
	default:
		break;
	}
	/* Library blocks and named objects that a crash left unreferenced. */
	if (walkable)
		sma__orphans_sweep_locked(a);
	h->lock_new = 0;
	h->lock_op = LOP_NONE;
	h->lock_slot = 0;
}
