/*
 * 1_sem.h -- the semaphore set and the slots' liveness tokens (1_sem.c).
 */
#ifndef SMA_SEM_H
#define SMA_SEM_H

#include "0_layout.h"

enum { LIVE_FREE = 0, LIVE_ALIVE = 1, LIVE_DEAD = 2 };
/* A new set of nsems semaphores for key (IPC_PRIVATE included); its id,
 * or -1 with errno.  Making it took SEM_MADE_CALLS system calls on it. */
#define SEM_MADE_CALLS 2
HIDDEN int sma__sem_create(key_t key, mode_t mode, unsigned nsems);
/* Raises slot i's liveness token for this process (SEM_UNDO); 0 or -1. */
HIDDEN int sma__token_raise_locked(struct sma *a, unsigned i);
HIDDEN void sma__token_drop_locked(struct sma *a, unsigned i);
/* LIVE_FREE, LIVE_ALIVE or LIVE_DEAD: what slot i's holder is now. */
HIDDEN int sma__slot_liveness(struct sma *a, unsigned i);
/* The same for an inspecting call: its token read is not in sem_ops. */
HIDDEN int sma__slot_liveness_look(struct sma *a, unsigned i);
/* Moves handle a to the set the header names now. */
HIDDEN void sma__sem_follow(struct sma *a);
/* 1 when the set this handle uses was removed. */
HIDDEN int sma__sem_gone(struct sma *a);
/* Makes a new set in place of a removed one (T4); the lock is held. */
HIDDEN void sma__sem_heal_locked(struct sma *a);
/* Now and then: heals the set if it is gone. */
HIDDEN void sma__sem_check_locked(struct sma *a);
/* Detaches a segment attached only to look at it, removing the set of an
 * arena destroyed meanwhile when this was the last attachment. */
HIDDEN void sma__peek_detach(const struct sma_header *h, int shmid);

#endif /* SMA_SEM_H */
