/*
 * 0_proc.h -- facts about this process and others (0_proc.c).
 */
#ifndef SMA_PROC_H
#define SMA_PROC_H

#include "0_base.h"

HIDDEN pid_t sma__gettid(void);
HIDDEN pid_t sma__getpid(void);		/* cached, fork-safe */
HIDDEN uint64_t sma__self_id(void);	/* random, new in a fork child */
HIDDEN uint64_t sma__self_start(void);
HIDDEN uint64_t sma__self_pidns(void);	/* 0 if unknown */

struct task_stat {
	char state;	 /* field 3 of /proc/PID/stat: R, S, D, Z, X, ... */
	uint64_t start;	 /* field 22: start time in clock ticks since boot */
};
/* The stat line of thread tid of process pid (tid 0: the process); 0, or
 * -1 with errno (ENOENT: no such task visible here). */
HIDDEN int sma__task_stat(pid_t pid, pid_t tid, struct task_stat *ts);
/* 1 when process pid (started at start, 0 = any) has exited, a zombie
 * included, or its pid names another process now; 0 when it may run. */
HIDDEN int sma__proc_gone(pid_t pid, uint64_t start);
/* 1 when process pid started after time t (seconds since the epoch). */
HIDDEN int sma__proc_started_after(pid_t pid, int64_t t);

/* Bumped in the child of every fork: what a process caches of itself
 * (ids, its slots) is read again when it moved. */
HIDDEN extern _Atomic uint32_t sma__fork_gen;

#endif /* SMA_PROC_H */
