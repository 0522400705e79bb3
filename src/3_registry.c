/*
 * 3_registry.c -- the handles of this process, by handle id: a thread's
 * cache reference names a handle by id (never by pointer), so that one
 * that was closed meanwhile is found gone, not followed.
 */
#include "3_registry.h"

pthread_mutex_t sma__registry_lock = PTHREAD_MUTEX_INITIALIZER;
struct sma *sma__registry;
static uint64_t g_next_hid = 1;

/* Call with sma__registry_lock held. */
struct sma *sma__registry_find(uint64_t hid)
{
	for (struct sma *a = sma__registry; a; a = a->reg_next)
		if (a->hid == hid)
			return a;
	return NULL;
}

void sma__registry_add(struct sma *a)
{
	pthread_mutex_lock(&sma__registry_lock);
	a->hid = g_next_hid++;
	a->reg_next = sma__registry;
	sma__registry = a;
	pthread_mutex_unlock(&sma__registry_lock);
}

void sma__registry_remove(struct sma *a)
{
	pthread_mutex_lock(&sma__registry_lock);
	for (struct sma **p = &sma__registry; *p; p = &(*p)->reg_next)
		if (*p == a) {
			*p = a->reg_next;
			break;
		}
	pthread_mutex_unlock(&sma__registry_lock);
}
