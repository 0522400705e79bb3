/*
 * tests/common_internal.h -- between common.c and helpers.c, not for the
 * tests: the list of children the registry keeps, which t_fork fills and
 * t_wait empties, and which the cleanup kills when a test forgot one.
 */
#ifndef SMA_TESTS_COMMON_INTERNAL_H
#define SMA_TESTS_COMMON_INTERNAL_H

#include <sys/types.h>

/* The process that owns the registry (0 before the first helper ran). */
pid_t t__owner_pid(void);
/* Before a fork: sets the registry up if needed, and fails the test when
 * no more children can be recorded. */
void t__child_room(void);
/* In the new child: it owns none of the registry (no children, no
 * handles, no watchdog), and runs none of the cleanup. */
void t__child_start(void);
/* In the parent: records the child (and that its segments are the
 * test's). */
void t__child_born(pid_t pid);
/* In the parent: the child was waited for. */
void t__child_reaped(pid_t pid);

#endif /* SMA_TESTS_COMMON_INTERNAL_H */
