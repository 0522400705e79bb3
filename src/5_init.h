/*
 * 5_init.h -- the library's set-up in a process (5_init.c).
 */
#ifndef SMA_INIT_H
#define SMA_INIT_H

#include "0_layout.h"

/* The library's one-time set-up (atfork, the repair's hooks). */
HIDDEN void sma__init_once(void);
/* Makes the all-zero mutex m a robust, process-shared one, once whoever
 * races for it; -1 if m holds something else (not a segment of ours). */
HIDDEN int sma__init_lock_ready(pthread_mutex_t *m);

#endif /* SMA_INIT_H */
