/*
 * guard.h -- remove an arena's System V objects if the program is stopped.
 *
 * An example that is interrupted (Ctrl-C, a kill) or that hangs must not
 * leave its segment and semaphore set behind.  guard_arena() arranges that
 * SIGINT, SIGTERM, SIGHUP and, after a time limit, SIGALRM kill the
 * children the program registered, remove the arena and exit.
 */
#ifndef GUARD_H
#define GUARD_H

#include <sys/types.h>

#include <sma.h>

/* Watches the arena a; seconds > 0 also sets a time limit. */
void guard_arena(sma_t *a, unsigned seconds);
/* Also removes this file and then this (empty) directory; either may be NULL. */
void guard_files(const char *file, const char *dir);
/* Kills this child too when the guard fires. */
void guard_child(pid_t pid);
/* In a new child process: back to the default handlers, no time limit. */
void guard_in_child(void);

#endif /* GUARD_H */
