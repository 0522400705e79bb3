/*
 * 1_lock.h -- the arena lock and the record of the operation in flight
 * (1_lock.c).
 */
#ifndef SMA_LOCK_H
#define SMA_LOCK_H

#include "0_layout.h"

HIDDEN int sma__lock(struct sma *a);		 /* 0, or -1 with errno */
HIDDEN int sma__lock_look(struct sma *a);	 /* for a look: not in lock_ops */
HIDDEN int sma__lock_within(struct sma *a, int seconds); /* 0, or -1 (ETIMEDOUT) */
/* For a reader on a writable handle: takes the lock as a look unless
 * the handle is read-only or this thread holds it; 1 if taken. */
HIDDEN int sma__lock_reader(struct sma *a);
HIDDEN void sma__unlock(struct sma *a);
HIDDEN int sma__lock_held(const struct sma *a);
/* 1 when the lock word says its holder died and nobody has repaired yet
 * (readable on a read-only handle and an image). */
HIDDEN int sma__lock_holder_died(const struct sma *a);
/* The function the next holder runs when the previous one died. */
HIDDEN void sma__lock_on_death(void (*repair)(struct sma *a));
HIDDEN void sma__lock_after_fork(void);
/* pthread_mutex_lock of a robust mutex, waking now and then. */
HIDDEN int sma__mutex_lock_sliced(pthread_mutex_t *m);

/* The operation record (L3): the only writers of header.op. */
HIDDEN void sma__op_begin(struct sma *a, uint32_t kind);
HIDDEN void sma__op_object(struct sma *a, uint64_t obj, uint64_t usable);
HIDDEN void sma__op_slot(struct sma *a, unsigned slot);
HIDDEN void sma__op_block(struct sma *a, uint64_t block);
HIDDEN void sma__op_end(struct sma *a);

/* The grow record (0_layout.h S3): a segment being added. */
HIDDEN void sma__grow_begin(struct sma *a, unsigned seg, uint64_t size, int64_t now, uint64_t pidns);
HIDDEN void sma__grow_shmid(struct sma *a, int shmid);
HIDDEN void sma__grow_end(struct sma *a);

#endif /* SMA_LOCK_H */
