/*
 * 1_segs.c -- adding a segment to an arena, and taking back one whose
 * adding a death interrupted (0_layout.h, "segments").
 *
 * Adding segment k, under the arena lock; each step leaves the arena in a
 * state the next holder can repair (4_repair.c calls sma__seg_undo_locked):
 *   1. grow record: active, seg k, size, time, pid (before shmget, so
 *      that a segment made by a holder killed right after shmget can be
 *      found: S3)
 *   2. shmget(IPC_PRIVATE); its id into the grow record
 *   3. its owner and mode made the arena's; attached; its seg_header
 *      written (SEG_MAGIC last)
 *   4. segs[k] filled in
 *   5. (the heap lays out its blocks: 2_heap.c)
 *   6. published: total_size, then nsegs = k + 1 (release)
 *   7. (the heap lists its free block) grow record cleared
 * A segment not published when its adder died is removed; one published
 * is the arena's, and the rebuild lists its free blocks.
 */
#include "1_segs.h"
#include "0_proc.h"
#include "1_lock.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

uint64_t sma__seg_heap_bytes(uint64_t size)
{
	uint64_t npages = size / PAGE;
	uint64_t heap_off = align_up(SEG_HDR_BYTES + npages * 4, 64);
	return size > heap_off + BLOCK_HDR + MIN_BLOCK ? size - BLOCK_HDR - heap_off : 0;
}

/* Makes segment id the arena's: its owner and mode those of the first. */
static int adopt_owner(const struct sma *a, int id)
{
	struct shmid_ds first, ds;
	if (shmctl(a->shmid, IPC_STAT, &first) < 0 || shmctl(id, IPC_STAT, &ds) < 0)
		return -1;
	ds.shm_perm.uid = first.shm_perm.uid;
	ds.shm_perm.gid = first.shm_perm.gid;
	ds.shm_perm.mode = first.shm_perm.mode & 0777;
	return shmctl(id, IPC_SET, &ds);
}

int sma__seg_add_locked(struct sma *a, uint64_t size, unsigned *kp)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	unsigned k = atomic_load(&h->nsegs);
	if (k >= MAX_SEGS || a->image || size > OFF_MASK || sma__seg_heap_bytes(size) == 0) {
		errno = ENOMEM;
		return -1;
	}
	sma__grow_begin(a, k, size, (int64_t)time(NULL), sma__self_pidns());
	STEP();
	int id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | (int)(h->mode & 0777));
	if (id < 0) {
		sma__grow_end(a);
		errno = ENOMEM;
		return -1;
	}
	STEP(); /* a death here leaves a segment only its size, time and
		   creator name: find_unrecorded() */
	sma__grow_shmid(a, id);
	STEP();
	void *p = adopt_owner(a, id) == 0 ? shmat(id, NULL, 0) : (void *)-1;
	if (p == (void *)-1) {
		shmctl(id, IPC_RMID, NULL);
		sma__grow_end(a);
		errno = ENOMEM;
		return -1;
	}
	struct seg_header *sh = p;
	sh->arena_id = h->arena_id;
	sh->index = k;
	sh->size = size;
	STORE_REL(sh->magic, SEG_MAGIC);
	a->seg_size[k] = size;
	atomic_fetch_add(&a->mapped, size);
	atomic_store_explicit(&a->seg_base[k], (char *)p, memory_order_release);
	STEP();
	uint64_t base = (uint64_t)k << OFF_SEG_SHIFT, npages = size / PAGE;
	struct seg_rec *r = &h->segs[k];
	r->shmid = id;
	r->npages = (uint32_t)npages;
	r->size = size;
	r->pmap_off = base | SEG_HDR_BYTES;
	r->heap_off = base | align_up(SEG_HDR_BYTES + npages * 4, 64);
	r->heap_end = base | (size - BLOCK_HDR);
	STEP();
	*kp = k;
	return 0;
}

void sma__seg_publish_locked(struct sma *a, unsigned k)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	STORE(h->total_size, LOAD(h->total_size) + h->segs[k].size);
	STEP();
	atomic_store_explicit(&h->nsegs, k + 1, memory_order_release);
	atomic_store(&a->seg_seen, k);
	STEP();
}

/* A segment the dead adder made but never recorded (killed between
 * shmget and storing its id): the one IPC_PRIVATE segment of that size,
 * made then by that process (when its pid means something here), that
 * nobody has attached. */
static int find_unrecorded(const struct grow_record *g)
{
	struct shm_info info;
	int maxid = shmctl(0, SHM_INFO, (struct shmid_ds *)&info), found = -1;
	int same_ns = g->pidns && g->pidns == sma__self_pidns();
	for (int i = 0; i <= maxid; i++) {
		struct shmid_ds ds;
		int id = shmctl(i, SHM_STAT, &ds);
		if (id < 0 || ds.shm_perm.__key != IPC_PRIVATE || ds.shm_segsz != g->size || ds.shm_nattch != 0)
			continue;
		if (ds.shm_ctime < g->time - 1 || ds.shm_ctime > g->time + 60)
			continue;
		if (same_ns && ds.shm_cpid != g->pid)
			continue;
		if (found >= 0)
			return -1; /* two candidates: touch neither */
		found = id;
	}
	return found;
}

void sma__seg_undo_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	struct grow_record *g = &h->grow;
	if (!LOAD(g->active))
		return;
	unsigned k = g->seg;
	if (k < MAX_SEGS && k >= atomic_load(&h->nsegs)) {
		int id = LOAD(g->shmid) >= 0 ? LOAD(g->shmid) : find_unrecorded(g);
		char *b = atomic_exchange(&a->seg_base[k], NULL);
		if (b) {
			shmdt(b);
			atomic_fetch_sub(&a->mapped, a->seg_size[k]);
		}
		if (id >= 0)
			shmctl(id, IPC_RMID, NULL);
		STEP();
		h->segs[k].shmid = -1;
		h->segs[k].size = 0;
	}
	sma__grow_end(a);
}

void sma__segs_remove(const struct sma *a)
{
	const struct sma_header *h = a->h;
	uint32_t n = atomic_load(&((struct sma_header *)h)->nsegs);
	for (unsigned k = 1; k < n && k < MAX_SEGS; k++)
		if (h->segs[k].shmid >= 0)
			shmctl(h->segs[k].shmid, IPC_RMID, NULL);
}
