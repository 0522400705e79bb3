/*
 * 1_sem.c -- the arena's System V semaphore set: the liveness tokens of the
 * slots, and a new set when the old one was removed from outside.
 *
 *   set: [0] SEM_MARK | [1] token of slot 0 | [2] token of slot 1 | ...
 *
 * A thread that takes slot i raises semaphore 1 + i with SEM_UNDO and
 * lowers it when it gives the slot back.  If its process dies first, the
 * kernel undoes the raise as the process exits (exit_sem, before the
 * process becomes a zombie), whatever its PID namespace: a held slot whose
 * token reads 0 is dead.
 *
 * The set can be removed under a running arena (ipcrm -s, systemd-logind's
 * RemoveIPC).  The lock does not live in it, so nothing stops; the next
 * holder of the arena lock that finds it gone makes a new one with the
 * same key and mode, records it in the header and bumps set_gen.  Tokens
 * raised in the old set are gone with it: a slot whose set_gen is older
 * than the header's is judged by its owner's pid where that pid means
 * something (same PID namespace), and is otherwise taken to be alive until
 * its owner raises its token again, which it does the next time it takes
 * the lock for its cache.
 *
 * Invariants:
 *   T1  header.semid names the current set, header.set_gen counts the sets
 *       made for this arena; both change only under the arena lock.
 *   T2  a held slot whose set_gen equals header.set_gen has its token
 *       raised while its owner lives.
 *
 * header.sem_ops counts the system calls made on the arena's set for its
 * users (a token raised or lowered, a look whether the set is still there,
 * a token read to judge a slot, the making of the set and of one in place
 * of a removed one), not the looks of inspecting calls (sma_info,
 * sma_slots_each).
 */
#include "1_sem.h"
#include "0_proc.h"
#include "1_lock.h"

#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

/* How many lock acquisitions pass between two looks at the set. */
#define CHECK_EVERY 64

/* n more system calls on the set for the arena's users (header.sem_ops);
 * a read-only handle or a private copy cannot count them. */
static void sem_counted(struct sma *a, unsigned n)
{
	if (!a->image && !(a->flags & SMA_RDONLY))
		__atomic_fetch_add(&a->h->sem_ops, n, __ATOMIC_RELAXED);
}

/* Is semid the set of some arena?  (Looks at every segment the caller
 * can attach.) */
static int sem_in_use(int semid)
{
	struct shm_info info;
	int maxid = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	for (int i = 0; i <= maxid; i++) {
		struct shmid_ds ds;
		int id = shmctl(i, SHM_STAT, &ds);
		if (id < 0 || ds.shm_segsz < sizeof(struct sma_header))
			continue;
		struct sma_header *h = shmat(id, NULL, SHM_RDONLY);
		if (h == (void *)-1)
			continue;
		int used = atomic_load(&h->magic) == SMA_MAGIC && LOAD(h->semid) == semid;
		sma__peek_detach(h, id);
		if (used)
			return 1;
	}
	return 0;
}

/*
 * A new set of nsems semaphores for an arena of that key and mode: keyed
 * like the arena when the key is free (a set left by a destroyed arena
 * with that key is removed first), private otherwise.  Its id, or -1.
 * The new set has seen SEM_MADE_CALLS system calls (semget, the mark).
 */
int sma__sem_create(key_t key, mode_t mode, unsigned nsems)
{
	int semid = -1;
	if (key != IPC_PRIVATE) {
		semid = semget(key, (int)nsems, IPC_CREAT | IPC_EXCL | (int)mode);
		if (semid < 0 && errno == EEXIST) {
			int old = semget(key, 0, 0);
			if (old >= 0 && !sem_in_use(old) && semctl(old, 0, IPC_RMID) == 0)
				semid = semget(key, (int)nsems, IPC_CREAT | IPC_EXCL | (int)mode);
		}
	}
	if (semid < 0)
		semid = semget(IPC_PRIVATE, (int)nsems, IPC_CREAT | (int)mode);
	if (semid < 0)
		return -1;
	/* The mark, and sem_otime set (a set nobody has operated on is one
	 * being made, for `sma ls`). */
	struct sembuf mark[2] = { { 0, SEM_MARK, 0 }, { 0, 0, 0 } };
	if (semop(semid, mark, 1) < 0) {
		int e = errno;
		semctl(semid, 0, IPC_RMID);
		errno = e;
		return -1;
	}
	return semid;
}

/* The handle follows the header to the current set. */
void sma__sem_follow(struct sma *a)
{
	int semid = LOAD(a->h->semid);
	if (a->semid != semid)
		a->semid = semid;
}

/* 1 when the set the header names no longer exists. */
int sma__sem_gone(struct sma *a)
{
	sma__sem_follow(a);
	struct semid_ds ds;
	union semun u = { .buf = &ds };
	sem_counted(a, 1);
	return semctl(a->semid, 0, IPC_STAT, u) < 0 && (errno == EINVAL || errno == EIDRM);
}

/* T1: the set is gone: make another. */
void sma__sem_heal_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	struct sma_header *h = a->h;
	DASSERT(sma__lock_held(a));
	if (!sma__sem_gone(a))
		return; /* another holder made one already, or it is back */
	int semid = sma__sem_create((key_t)h->key, (mode_t)h->mode, h->nsems);
	if (semid < 0)
		return; /* no set for now: tokens are not judged (T2 fallback) */
	sem_counted(a, SEM_MADE_CALLS);
	STORE(h->semid, semid);
	STORE(h->set_gen, LOAD(h->set_gen) + 1);
	BUMP(h->sets_replaced, 1);
	a->semid = semid;
}

/* Now and then a holder of the lock looks whether the set is still there,
 * so that a removed one is replaced soon even when no slot moves. */
void sma__sem_check_locked(struct sma *a)
{
	DASSERT(sma__lock_held(a));
	static TLS uint32_t countdown;
	if (LIKELY(countdown--))
		return;
	countdown = CHECK_EVERY;
	if (a->image || (a->flags & SMA_RDONLY))
		return;
	if (sma__sem_gone(a))
		sma__sem_heal_locked(a);
}

static int token_op(struct sma *a, unsigned i, short delta)
{
	/* IPC_NOWAIT: lowering a token that is already 0 (it was never
	 * raised, or the set is new) must not wait for anyone. */
	struct sembuf op = { SEM_TOKEN(i), delta, SEM_UNDO | IPC_NOWAIT };
	for (;;) {
		sma__sem_follow(a);
		sem_counted(a, 1);
		if (semop(a->semid, &op, 1) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return -1;
		if ((errno == EINVAL || errno == EIDRM) && sma__sem_gone(a)) {
			int gen = (int)LOAD(a->h->set_gen);
			sma__sem_heal_locked(a);
			if ((int)LOAD(a->h->set_gen) != gen)
				continue; /* a new set: raise the token there */
		}
		return -1;
	}
}

/* Raises slot i's token for this process (T2); -1 if the set refuses. */
int sma__token_raise_locked(struct sma *a, unsigned i)
{
	DASSERT(sma__lock_held(a));
	struct slot *s = slot_at(a, i);
	if (token_op(a, i, 1) < 0)
		return -1;
	s->set_gen = LOAD(a->h->set_gen);
	return 0;
}

/* Lowers slot i's token, raised by this process in this set generation. */
void sma__token_drop_locked(struct sma *a, unsigned i)
{
	DASSERT(sma__lock_held(a));
	struct slot *s = slot_at(a, i);
	if (s->set_gen == LOAD(a->h->set_gen) && s->owner_id == sma__self_id())
		token_op(a, i, -1);
}

/*
 * LIVE_FREE, LIVE_ALIVE or LIVE_DEAD for slot i.  The slot of a thread of
 * this process is alive; another's is judged by its token (T2), or, when
 * its token was raised in a set that is gone, by its pid where that means
 * something here.  look: for an inspecting call (not in sem_ops).
 */
static int liveness(struct sma *a, unsigned i, int look)
{
	const struct sma_header *h = a->h;
	const struct slot *s = slot_at(a, i);
	if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_HELD)
		return LIVE_FREE;
	if (LOAD(s->owner_id) == sma__self_id())
		return LIVE_ALIVE;
	if (!a->image && LOAD(s->set_gen) == LOAD(h->set_gen)) {
		sma__sem_follow(a);
		if (!look)
			sem_counted(a, 1);
		int v = semctl(a->semid, SEM_TOKEN(i), GETVAL);
		if (v >= 0)
			return v > 0 ? LIVE_ALIVE : LIVE_DEAD;
		if ((errno == EINVAL || errno == EIDRM) && !(a->flags & SMA_RDONLY) && sma__lock_held(a))
			sma__sem_heal_locked(a);
	}
	if (a->image)
		return LIVE_ALIVE;
	/* The token cannot be read: the owner's pid, if it is one of ours. */
	uint64_t ns = LOAD(s->pidns);
	if (ns && ns == sma__self_pidns() && sma__proc_gone(LOAD(s->pid), LOAD(s->start)))
		return LIVE_DEAD;
	return LIVE_ALIVE;
}

int sma__slot_liveness(struct sma *a, unsigned i)
{
	return liveness(a, i, 0);
}

int sma__slot_liveness_look(struct sma *a, unsigned i)
{
	return liveness(a, i, 1);
}

/* ---- peeking at segments ---------------------------------------------------- */

/*
 * Detaches a segment attached only to look at it (sma ls, the orphan
 * check).  If its arena was destroyed meanwhile and this was the last
 * attachment, its semaphore set goes too: the process that destroyed it
 * left that to the last one out.
 */
void sma__peek_detach(const struct sma_header *h, int shmid)
{
	int semid = -1;
	if (atomic_load(&((struct sma_header *)h)->magic) == SMA_MAGIC)
		semid = LOAD(((struct sma_header *)h)->semid);
	shmdt(h);
	struct shmid_ds ds;
	if (semid >= 0 && shmctl(shmid, IPC_STAT, &ds) < 0 && (errno == EINVAL || errno == EIDRM))
		semctl(semid, 0, IPC_RMID);
}
