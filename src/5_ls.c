/*
 * 5_ls.c -- finding the arenas on this machine, and the semaphore sets that
 * destroyed arenas left behind.
 *
 * An arena is a segment whose first bytes carry SMA_MAGIC; an sma
 * semaphore set has semaphore 0 holding SEM_MARK (1_sem.c).  A set is
 * an orphan when no segment that carries the mark names it as its lock, no
 * segment holds its key, and nobody has used or changed it for
 * ORPHAN_QUIET_S seconds (so that an arena being created, or one whose
 * header cannot be read right now, keeps its set).
 * Only what the caller may read is listed.
 */
#include "1_sem.h"
#include "5_init.h"
#include "5_open.h"
#include "5_stats.h"

#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

/* Seconds a semaphore set must have gone untouched to count as an orphan. */
#define ORPHAN_QUIET_S 2

struct arena_ids {
	int *semids;
	size_t n, cap;
	int failed; /* out of memory: no set can be told an orphan */
};

static void ids_add(struct arena_ids *v, int semid)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		int *t = realloc(v->semids, cap * sizeof *t);
		if (!t) {
			v->failed = 1;
			return;
		}
		v->semids = t;
		v->cap = cap;
	}
	v->semids[v->n++] = semid;
}

static int ids_has(const struct arena_ids *v, int semid)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->semids[i] == semid)
			return 1;
	return 0;
}

/* Every arena: calls fn (when not NULL) and notes its semaphore set. */
static int each_arena(int (*fn)(const struct sma_ls_entry *, void *), void *arg, struct arena_ids *ids)
{
	struct shm_info info;
	int maxid = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	for (int i = 0; i <= maxid; i++) {
		struct shmid_ds ds;
		int id = shmctl(i, SHM_STAT, &ds);
		if (id < 0 || ds.shm_segsz < MIN_SEGMENT)
			continue;
		const struct sma_header *h = shmat(id, NULL, SHM_RDONLY);
		if (h == (void *)-1)
			continue;
		int rc = 0;
		if (atomic_load(&((struct sma_header *)h)->magic) == SMA_MAGIC && h->size == ds.shm_segsz) {
			ids_add(ids, LOAD(((struct sma_header *)h)->semid));
			struct sma_ls_entry e = {
				.orphan = 0,
				.key = ds.shm_perm.__key,
				.shmid = id,
				.semid = LOAD(((struct sma_header *)h)->semid),
				/* a grown arena once, with all its segments */
				.size = LOAD(((struct sma_header *)h)->total_size) > ds.shm_segsz
						? LOAD(((struct sma_header *)h)->total_size)
						: ds.shm_segsz,
				.nattch = (uint32_t)ds.shm_nattch, /* read before our attach */
				.uid = ds.shm_perm.uid,
				.mode = ds.shm_perm.mode & 0777,
				.cpid = ds.shm_cpid,
				.destroyed = (ds.shm_perm.mode & SHM_DEST) != 0,
			};
			/* Figures through the library's own reader. */
			sma_t *a = fn ? sma_open_id(id, SMA_RDONLY) : NULL;
			if (a) {
				struct sma_stats st;
				if (sma_stats(a, &st) == 0) {
					e.used = st.used;
					e.live = st.live;
				}
				sma_close(a);
			}
			if (fn)
				rc = fn(&e, arg);
		}
		sma__peek_detach(h, id);
		if (rc)
			return rc;
	}
	return 0;
}

/* Every orphaned sma semaphore set: calls fn, or removes it when fn is
 * NULL (counting in *removed).  -1 with errno when the sets cannot be
 * listed, or the arenas' sets were not all noted (nothing is then taken
 * for an orphan). */
static int each_orphan(int (*fn)(const struct sma_ls_entry *, void *), void *arg,
		       const struct arena_ids *ids, int *removed)
{
	struct seminfo info;
	union semun u = { .buf = (struct semid_ds *)&info };
	int maxid = semctl(0, 0, SEM_INFO, u);
	if (maxid < 0)
		return -1;
	if (ids->failed) {
		errno = ENOMEM;
		return -1;
	}
	for (int i = 0; i <= maxid; i++) {
		struct semid_ds ds;
		union semun su = { .buf = &ds };
		int id = semctl(i, 0, SEM_STAT, su);
		if (id < 0 || ds.sem_nsems < 1)
			continue;
		if (semctl(id, 0, GETVAL) != SEM_MARK || ids_has(ids, id))
			continue;
		/* Not named by any arena we could read is not enough: an arena
		 * being created has its set a moment before its header names
		 * it, and one we cannot read (another user's, a scribbled
		 * header) names its own.  A keyed set whose key still has a
		 * segment is not an orphan, nor is a set touched lately. */
		key_t skey = ds.sem_perm.__key;
		if (skey != IPC_PRIVATE && shmget(skey, 0, 0) >= 0)
			continue;
		time_t now = time(NULL);
		if (now - ds.sem_otime < ORPHAN_QUIET_S || now - ds.sem_ctime < ORPHAN_QUIET_S)
			continue;
		if (!fn) {
			if (semctl(id, 0, IPC_RMID) == 0)
				(*removed)++;
			continue;
		}
		struct sma_ls_entry e = {
			.orphan = 1,
			.key = ds.sem_perm.__key,
			.shmid = -1,
			.semid = id,
			.uid = ds.sem_perm.uid,
			.mode = ds.sem_perm.mode & 0777,
		};
		int rc = fn(&e, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int sma_ls(int (*fn)(const struct sma_ls_entry *, void *), void *arg)
{
	if (!fn) {
		errno = EINVAL;
		return -1;
	}
	sma__init_once();
	struct arena_ids ids = { 0 };
	int rc = each_arena(fn, arg, &ids);
	if (!rc)
		rc = each_orphan(fn, arg, &ids, NULL);
	free(ids.semids);
	return rc;
}

int sma_rm_orphans(void)
{
	sma__init_once();
	struct arena_ids ids = { 0 };
	int removed = 0;
	each_arena(NULL, NULL, &ids);
	int rc = each_orphan(NULL, NULL, &ids, &removed);
	free(ids.semids);
	return rc < 0 ? -1 : removed;
}
