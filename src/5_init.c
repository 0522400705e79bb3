/*
 * 5_init.c -- the library's one-time set-up in a process (the robust
 * mutex kind, the fork handler, the repair's hooks) and the init lock of a
 * fresh segment, made robust by one compare-and-swap whoever races for it.
 */
#include "5_init.h"
#include "0_memcheck.h"
#include "0_proc.h"
#include "1_lock.h"
#include "3_cache.h"
#include "3_registry.h"
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
	/* What the parent's caches hold is not the child's: once handed out
	 * it is the child's to read (0_memcheck.h M2).  The child has one
	 * thread; the list is read without its lock, which another thread of
	 * the parent may have held at the fork. */
	for (struct sma *a = sma__registry; a; a = a->reg_next)
		mc_after_fork(a);
}

/* At exit, the pools of the handles still open are forgotten: objects of
 * an arena outlive the process and are no leak of it (0_memcheck.h). */
static void mc_at_exit(void)
{
	pthread_mutex_lock(&sma__registry_lock);
	for (struct sma *a = sma__registry; a; a = a->reg_next)
		sma__mc_exit(a);
	pthread_mutex_unlock(&sma__registry_lock);
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
	if (sma__mc_tools() & MC_VALGRIND)
		atexit(mc_at_exit);
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
