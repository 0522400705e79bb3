/*
 * 5_init.c -- the library's one-time set-up in a process (the robust
 * mutex kind, the fork handler, the repair's hooks) and the init lock of a
 * fresh segment, made robust by one compare-and-swap whoever races for it.
 */
#include "5_init.h"
#include "0_proc.h"
#include "1_lock.h"
#include "3_cache.h"
#include "4_repair.h"

/* A robust, process-shared mutex as pthread_mutex_init leaves it: all
 * zero but for its kind word, which is what sma__init_lock_ready() sets. */
static pthread_mutex_t robust_template;
static int robust_kind;

static void atfork_child(void)
{
	atomic_fetch_add(&sma__fork_gen, 1);
	sma__tls_after_fork();
	sma__lock_after_fork();
}

static void init(void)
{
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust_template, &at);
	pthread_mutexattr_destroy(&at);
	robust_kind = robust_template.__data.__kind;
	pthread_atfork(NULL, NULL, atfork_child);
	sma__repair_init();
}

void sma__init_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init);
}

/* Makes the all-zero mutex m a robust, process-shared one, once whoever
 * races for it; -1 if m holds something else (not a segment of ours). */
int sma__init_lock_ready(pthread_mutex_t *m)
{
	int *kind = &m->__data.__kind, zero = 0;
	if (__atomic_load_n(kind, __ATOMIC_ACQUIRE) == robust_kind)
		return 0;
	if (__atomic_compare_exchange_n(kind, &zero, robust_kind, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	return zero == robust_kind ? 0 : -1;
}
