/*
 * 1_lock.c -- the arena lock, and the record of the operation its holder is
 * in.
 *
 * The lock is a robust, process-shared pthread mutex in the header.  The
 * kernel keeps, for every thread, the list of robust mutexes it holds;
 * when the thread dies, however it dies (SIGKILL included) and before
 * its process is a zombie, the kernel marks each of them "owner died" and
 * wakes a waiter, who gets EOWNERDEAD.  That works whatever PID namespace
 * the threads are in, makes no system call when nobody waits, and puts
 * waiters to sleep in the kernel (a futex) when somebody does.  All the
 * processes of one arena must use the same C library (glibc).
 *
 *   header: lock (pthread_mutex_t) | lock_pid lock_tid | op: kind slot obj usable
 *           the mutex              | holder (shown)    | allocs frees used block
 *
 * Invariants:
 *   L1  lock_pid is non-zero only while a thread holds the lock; it is
 *       shown, never trusted (pids of another namespace mean nothing).
 *   L2  a taker that gets EOWNERDEAD makes the mutex consistent at once,
 *       then runs the repair (4_repair.c registers it): it rebuilds the
 *       derived state and finishes or undoes the operation in op.  If the
 *       taker dies during the repair, the next taker gets EOWNERDEAD and
 *       repairs again: a repair may be stopped at any step and started
 *       over.
 *   L3  op is written only here, by the holder, and names what a repair
 *       needs beyond the authoritative state (block headers, slab bitmaps,
 *       a slot's own logs): the object in flight, the counters before the
 *       operation, the slot or cache block being worked on.  op.kind is
 *       stored last when an operation begins and cleared when it ends.
 *
 * Why a walk and not a per-operation undo log for the heap: an operation
 * touches at most a few headers, each written with one atomic store in an
 * order that leaves every intermediate state walkable (2_heap.c), so the walk
 * needs no log, and the record here is enough to finish a free or count an
 * allocation.  Repair is O(heap) but happens only after a holder died,
 * which is rare; the common path pays nothing for it.
 */
#include "1_lock.h"
#include "0_proc.h"

#include <time.h>

#define WAIT_SLICE_NS 50000000L /* longest sleep of a waiter, ns */

/* Takes m, sleeping WAIT_SLICE at most at a time; pthread's result.
 * (The real-time clock, as pthread_mutex_timedlock wants: a step of the
 * clock only makes one slice longer or shorter.) */
static int lock_sliced(pthread_mutex_t *m)
{
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WAIT_SLICE_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		int r = pthread_mutex_timedlock(m, &ts);
		if (r != ETIMEDOUT)
			return r;
	}
}

int sma__mutex_lock_sliced(pthread_mutex_t *m)
{
	return lock_sliced(m);
}

static void (*on_death)(struct sma *a);

void sma__lock_on_death(void (*repair)(struct sma *a))
{
	on_death = repair;
}

/* The arenas whose lock this thread holds (a callback of sma_walk may
 * use a second arena), by arena_id: a thread that asks again for a lock
 * it holds would wait for itself. */
#define HELD_MAX 4
static TLS uint64_t t_held[HELD_MAX];

int sma__lock_held(const struct sma *a)
{
	for (unsigned i = 0; i < HELD_MAX; i++)
		if (t_held[i] == a->arena_id)
			return 1;
	return 0;
}

static void held_add(const struct sma *a)
{
	for (unsigned i = 0; i < HELD_MAX; i++)
		if (!t_held[i]) {
			t_held[i] = a->arena_id;
			return;
		}
}

static void held_remove(const struct sma *a)
{
	for (unsigned i = 0; i < HELD_MAX; i++)
		if (t_held[i] == a->arena_id) {
			t_held[i] = 0;
			return;
		}
}

void sma__lock_after_fork(void)
{
	/* The child holds none of its parent's locks (fork from inside a
	 * walk callback). */
	memset(t_held, 0, sizeof t_held);
}

/* The mutex is ours, r said how we got it; count says whether the
 * acquisition counts in lock_ops (a look by an inspecting call does not,
 * so that the figure says what the arena's users did). */
static int took(struct sma *a, int r, int count)
{
	struct sma_header *h = a->h;
	if (r == EOWNERDEAD) {
		/* L2: consistent first, so that a death during the repair
		 * hands the next taker an EOWNERDEAD again, never a mutex
		 * nobody can take. */
		pthread_mutex_consistent(&h->lock);
	} else if (r != 0) {
		errno = r == ENOTRECOVERABLE ? EPROTO : r;
		return -1;
	}
	held_add(a);
	STORE(h->lock_pid, sma__getpid());
	STORE(h->lock_tid, sma__gettid());
	STORE_REL(h->lock_seq, LOAD(h->lock_seq) + 1);
	/* The holder reaches every segment (0_layout.c). */
	if (UNLIKELY(atomic_load_explicit(&a->seg_seen, memory_order_relaxed) + 1 <
		     atomic_load_explicit(&h->nsegs, memory_order_acquire)))
		sma__segs_attach_all(a);
	if (count)
		BUMP(h->lock_ops, 1);
	if (UNLIKELY(r == EOWNERDEAD)) {
		BUMP(h->repairs, 1);
		if (on_death)
			on_death(a);
	}
	return 0;
}

static int lock(struct sma *a, int count)
{
	struct sma_header *h = a->h;
	if (UNLIKELY(a->image)) {
		/* A private copy (the checker repairs one): nobody else
		 * has it, so there is nothing to wait for. */
		held_add(a);
		return 0;
	}
	if (UNLIKELY(sma__lock_held(a))) {
		/* From inside a callback of sma_walk or the like. */
		errno = EDEADLK;
		return -1;
	}
	int r = pthread_mutex_trylock(&h->lock);
	if (UNLIKELY(r == EBUSY)) {
		r = lock_sliced(&h->lock);
		if (count && (r == 0 || r == EOWNERDEAD))
			BUMP(h->lock_waits, 1);
	}
	return took(a, r, count);
}

int sma__lock(struct sma *a)
{
	return lock(a, 1);
}

int sma__lock_look(struct sma *a)
{
	return lock(a, 0);
}

int sma__lock_within(struct sma *a, int seconds)
{
	struct sma_header *h = a->h;
	if (sma__lock_held(a)) {
		errno = EDEADLK;
		return -1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	int r = pthread_mutex_timedlock(&h->lock, &ts);
	if (r == ETIMEDOUT) {
		errno = ETIMEDOUT;
		return -1;
	}
	return took(a, r, 0);
}

void sma__unlock(struct sma *a)
{
	struct sma_header *h = a->h;
	DASSERT(sma__lock_held(a));
	DASSERT(LOAD(h->op.kind) == LOP_NONE);
	if (UNLIKELY(a->image)) {
		held_remove(a);
		return;
	}
	STORE(h->lock_tid, 0);
	STORE(h->lock_pid, 0);
	held_remove(a);
	pthread_mutex_unlock(&h->lock);
}

int sma__lock_holder_died(const struct sma *a)
{
	/* glibc's robust mutex word: the holder's tid, FUTEX_OWNER_DIED
	 * (0x40000000) once the kernel found the holder dead. */
	const int *word = (const int *)&a->h->lock;
	return (__atomic_load_n(word, __ATOMIC_ACQUIRE) & 0x40000000) != 0;
}

/* ---- the operation record (L3) ------------------------------------------ */

void sma__op_begin(struct sma *a, uint32_t kind)
{
	struct sma_header *h = a->h;
	DASSERT(sma__lock_held(a));
	struct op_record *op = &h->op;
	op->slot = 0;
	op->obj = 0;
	op->usable = 0;
	op->block = 0;
	op->allocs = LOAD(h->allocs);
	op->frees = LOAD(h->frees);
	op->used = LOAD(h->used);
	op->named = LOAD(h->named);
	STORE_REL(op->kind, kind);
}

void sma__op_object(struct sma *a, uint64_t obj, uint64_t usable)
{
	DASSERT(sma__lock_held(a));
	a->h->op.usable = usable;
	STORE_REL(a->h->op.obj, obj);
}

void sma__op_slot(struct sma *a, unsigned slot)
{
	struct op_record *op = &a->h->op;
	sma__op_begin(a, LOP_NONE);
	op->slot = slot + 1;
	STORE_REL(op->kind, LOP_SLOT);
}

void sma__op_block(struct sma *a, uint64_t block)
{
	DASSERT(sma__lock_held(a));
	STORE_REL(a->h->op.block, block);
}

void sma__op_end(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	STORE_REL(a->h->op.kind, LOP_NONE);
}

/* ---- the grow record -------------------------------------------------------- */

void sma__grow_begin(struct sma *a, unsigned seg, uint64_t size, int64_t now, uint64_t pidns)
{
	struct grow_record *g = &a->h->grow;
	DASSERT(sma__lock_held(a));
	g->seg = seg;
	g->shmid = -1;
	g->pid = sma__getpid();
	g->size = size;
	g->time = now;
	g->pidns = pidns;
	STORE_REL(g->active, 1);
}

void sma__grow_shmid(struct sma *a, int shmid)
{
	DASSERT(sma__lock_held(a));
	STORE_REL(a->h->grow.shmid, shmid);
}

void sma__grow_end(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	STORE_REL(a->h->grow.active, 0);
}

/* Takes the lock for a reader on a writable handle; 1 if taken. */
int sma__lock_reader(struct sma *a)
{
	if ((a->flags & SMA_RDONLY) || sma__lock_held(a))
		return 0;
	return sma__lock_look(a) == 0;
}
