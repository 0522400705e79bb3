/*
 * tests/test_threads.c -- threads of one process on one arena: every call
 * at once, the inspecting ones included.
 *
 * Eight threads allocate, free, reallocate, name and look up objects,
 * lock sma_mutex_t counters, and call sma_info, sma_class_stats,
 * sma_slots_each, sma_stats, sma_walk and sma_check while the others
 * work.  Each object carries a pattern of its owner; each thread checks
 * its own objects before it lets them go.  Built as usual it proves that
 * nothing is lost or mixed up between threads; built with
 * -fsanitize=thread (CI does) it proves that every read of memory another
 * thread changes is an atomic or is made under the arena lock.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define OWNED 64     /* objects one thread owns at most */
#define STEPS 20000  /* steps of each thread */
#define NAMES 16     /* names the threads share */

struct shared {
	sma_mutex_t lock;
	uint64_t count; /* increments made under lock */
};

struct worker {
	sma_t *a;
	int id;
	uint64_t seed;
	long increments;  /* made by this thread */
	char err[256];	  /* the first problem, "" = none */
};

static void fail_worker(struct worker *w, const char *what, sma_off_t off)
{
	if (!w->err[0])
		snprintf(w->err, sizeof(w->err), "thread %d: %s (object %#llx): %s", w->id, what,
			 (unsigned long long)off, strerror(errno));
}

static int visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	(void)off;
	(void)size;
	(void)in_use;
	(void)arg;
	return 0;
}

static int visit_slot(const struct sma_slot_info *s, void *arg)
{
	(void)s;
	(void)arg;
	return 0;
}

/* One look by an inspecting call, chosen by r. */
static void look(struct worker *w, uint64_t r)
{
	struct sma_info in;
	struct sma_class_stats cs;
	struct sma_stats st;

	switch (r % 6) {
	case 0:
		if (sma_info(w->a, &in) != 0)
			fail_worker(w, "sma_info", 0);
		break;
	case 1:
		if (sma_class_stats(w->a, (unsigned)(r >> 8) % 80, &cs) != 0)
			fail_worker(w, "sma_class_stats", 0);
		break;
	case 2:
		if (sma_slots_each(w->a, visit_slot, NULL) != 0)
			fail_worker(w, "sma_slots_each", 0);
		break;
	case 3:
		if (sma_stats(w->a, &st) != 0)
			fail_worker(w, "sma_stats", 0);
		break;
	case 4:
		if (sma_walk(w->a, visit, NULL) != 0)
			fail_worker(w, "sma_walk", 0);
		break;
	default:
		if ((r >> 8) % 16 == 0 && sma_check(w->a) != 0)
			fail_worker(w, "sma_check", 0);
		break;
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	sma_off_t own[OWNED] = {0};
	size_t size[OWNED] = {0};
	struct shared *sh = sma_ptr(w->a, sma_named_find(w->a, "shared"));
	char name[32];

	for (long step = 0; step < STEPS && !w->err[0]; step++) {
		uint64_t r = t_rand(&w->seed);
		int k = (int)((r >> 16) % OWNED);
		size_t n = (r >> 24) % 100 < 80 ? 1 + (r >> 32) % 256 : 257 + (r >> 32) % 8000;

		switch (r % 10) {
		case 0: case 1: case 2: case 3:
			if (!own[k]) {
				own[k] = sma_alloc(w->a, n);
				if (!own[k] && errno != ENOMEM)
					fail_worker(w, "sma_alloc", 0);
				if (own[k]) {
					size[k] = n;
					t_fill(sma_ptr(w->a, own[k]), n, own[k] ^ (uint64_t)w->id);
				}
			} else {
				if (!t_verify(sma_ptr(w->a, own[k]), size[k], own[k] ^ (uint64_t)w->id))
					fail_worker(w, "an owned object was overwritten", own[k]);
				if (sma_free(w->a, own[k]) != 0)
					fail_worker(w, "sma_free", own[k]);
				own[k] = 0;
			}
			break;
		case 4:
			if (own[k]) {
				if (!t_verify(sma_ptr(w->a, own[k]), size[k], own[k] ^ (uint64_t)w->id))
					fail_worker(w, "an owned object was overwritten", own[k]);
				sma_off_t m = sma_realloc(w->a, own[k], n);
				if (m) {
					own[k] = m;
					size[k] = n;
					t_fill(sma_ptr(w->a, m), n, m ^ (uint64_t)w->id);
				} else if (errno != ENOMEM) {
					fail_worker(w, "sma_realloc", own[k]);
				}
			}
			break;
		case 5:
			snprintf(name, sizeof(name), "t-%d", (int)((r >> 40) % NAMES));
			if ((r >> 48) & 1) {
				if (!sma_named_alloc(w->a, name, 64, NULL) && errno != ENOMEM)
					fail_worker(w, "sma_named_alloc", 0);
			} else if (sma_named_free(w->a, name) != 0 && errno != ENOENT) {
				fail_worker(w, "sma_named_free", 0);
			}
			break;
		case 6:
			snprintf(name, sizeof(name), "t-%d", (int)((r >> 40) % NAMES));
			sma_named_find(w->a, name); /* present or not: never a wrong one */
			break;
		case 7:
			if (sma_mutex_lock(&sh->lock) != 0) {
				fail_worker(w, "sma_mutex_lock", 0);
				break;
			}
			sh->count++;
			w->increments++;
			sma_mutex_unlock(&sh->lock);
			break;
		default:
			look(w, r >> 4);
			break;
		}
	}
	for (int k = 0; k < OWNED; k++)
		if (own[k] && sma_free(w->a, own[k]) != 0)
			fail_worker(w, "sma_free at the end", own[k]);
	return NULL;
}

static void test_eight_threads_calling_everything_at_once_lose_nothing(void **state)
{
	sma_t *a = t_open_private(T_MIB(8));
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct shared *sh;
	struct sma_stats fresh, end;
	long increments = 0;
	char name[32];

	(void)state;
	sh = sma_ptr(a, sma_named_alloc(a, "shared", sizeof *sh, NULL));
	assert_non_null(sh);
	fresh = t_stats(a);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.a = a, .id = i, .seed = 0x5eed + (uint64_t)i};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		if (w[i].err[0])
			fail_msg("%s", w[i].err);
		increments += w[i].increments;
	}
	assert_int_equal(sh->count, increments);
	for (int i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "t-%d", i);
		sma_named_free(a, name);
	}
	t_assert_check(a);
	end = t_stats(a);
	assert_int_equal(end.live, fresh.live);
	assert_int_equal(end.used, fresh.used);
	assert_int_equal(end.free, fresh.free);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_eight_threads_calling_everything_at_once_lose_nothing),
	};
	return T_RUN_GROUP(tests);
}
