/*
 * queue.c -- a bounded queue of offsets between processes.
 *
 * Producers allocate objects in the arena and put their offsets in the
 * queue; consumers take the offsets out, read the objects and free them.
 * An object allocated by one process is freed by another: offsets mean the
 * same object in every process.
 *
 * The queue is one object in the arena: a ring of offsets guarded by an
 * sma_mutex_t, and two POSIX semaphores (sem_init with pshared = 1 works in
 * any shared memory) counting the free places and the waiting offsets, so
 * that a producer sleeps while the ring is full and a consumer while it is
 * empty.
 *
 *   struct queue
 *   +-------+-------+------+-----+------+------+-------------------------+
 *   | space | items | lock | cap | head | tail | ring[cap]: offsets      |
 *   +-------+-------+------+-----+------+------+-------------------------+
 *   ring[head % cap] is the next offset to take, ring[tail % cap] the next
 *   place to fill; tail - head offsets are waiting.
 *
 * The program checks itself and prints TAP: every object produced is
 * consumed, intact, and freed; the values add up; the arena is empty and
 * sma_check clean afterwards; the destroyed arena is gone.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"

#define NPROD 3		/* producer processes */
#define NCONS 3		/* consumer processes */
#define NMSG 10000	/* objects made by each producer */
#define CAP 64		/* places in the ring */

struct queue {
	sem_t space;		/* free places in the ring */
	sem_t items;		/* offsets waiting in the ring */
	sma_mutex_t lock;	/* guards head, tail and ring */
	uint64_t cap;		/* places in the ring */
	uint64_t head;		/* offsets taken so far */
	uint64_t tail;		/* offsets put so far */
	uint64_t ring[];	/* cap offsets */
};

/* What a producer sends: a value, and a payload the consumer checks. */
struct msg {
	uint64_t value;		/* producer * NMSG + i: the consumers add them up */
	uint32_t size;		/* bytes of payload */
	uint32_t producer;	/* 0 .. NPROD - 1 */
	uint8_t payload[];	/* payload[k] == (value + k) & 0xff */
};

/* What each process did: one per process, written only by that process. */
struct tally {
	uint64_t count;		/* objects produced, or consumed */
	uint64_t sum;		/* of their values */
	uint64_t bad;		/* consumed objects that were damaged or not freed */
};

/* ---- the queue ---------------------------------------------------------- */

static sma_off_t queue_create(sma_t *a, uint64_t cap)
{
	sma_off_t off = sma_calloc(a, 1, sizeof(struct queue) + cap * sizeof(uint64_t));
	struct queue *q = sma_ptr(a, off);

	if (off == SMA_NULL)
		return SMA_NULL;
	q->cap = cap;
	if (sem_init(&q->space, 1, (unsigned)cap) != 0 ||
	    sem_init(&q->items, 1, 0) != 0) {
		sma_free(a, off);
		return SMA_NULL;
	}
	return off; /* head, tail and lock are zero: an empty, unlocked queue */
}

static void queue_destroy(sma_t *a, sma_off_t off)
{
	struct queue *q = sma_ptr(a, off);

	sem_destroy(&q->space);
	sem_destroy(&q->items);
	sma_free(a, off);
}

static void wait_for(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

/* Puts off in the queue, sleeping while it is full. */
static void queue_put(struct queue *q, sma_off_t off)
{
	wait_for(&q->space);
	sma_mutex_lock(&q->lock);	/* EOWNERDEAD is harmless: see below */
	q->ring[q->tail % q->cap] = off;
	q->tail++;
	sma_mutex_unlock(&q->lock);
	sem_post(&q->items);
}

/* Takes the oldest offset out of the queue, sleeping while it is empty. */
static sma_off_t queue_get(struct queue *q)
{
	sma_off_t off;

	wait_for(&q->items);
	sma_mutex_lock(&q->lock);
	off = q->ring[q->head % q->cap];
	q->head++;
	sma_mutex_unlock(&q->lock);
	sem_post(&q->space);
	return off;
}

/*
 * The ring stays consistent whenever a process dies: under the lock the
 * only stores are a ring place, which counts only once tail has moved past
 * it, and then tail or head, one 8-byte store each.  So EOWNERDEAD from
 * sma_mutex_lock needs no repair here, and the code above ignores it.  (A
 * process killed between its sem_wait and its sem_post leaves a semaphore
 * one short; a queue that must survive kills would count in the ring.)
 */

/* ---- producers and consumers -------------------------------------------- */

static int producer(sma_t *a, struct queue *q, uint32_t p, struct tally *t)
{
	uint64_t i, k;

	for (i = 0; i < NMSG; i++) {
		uint32_t size = (uint32_t)(i * 61 % 2000); /* 0 .. 1999 bytes */
		uint64_t value = p * NMSG + i;
		sma_off_t off = sma_alloc(a, sizeof(struct msg) + size);
		struct msg *m = sma_ptr(a, off);

		if (off == SMA_NULL)
			return 1;
		m->value = value;
		m->size = size;
		m->producer = p;
		for (k = 0; k < size; k++)
			m->payload[k] = (uint8_t)(value + k);
		queue_put(q, off); /* from here on m belongs to a consumer */
		t->count++;
		t->sum += value;
	}
	return 0;
}

static int consumer(sma_t *a, struct queue *q, struct tally *t)
{
	sma_off_t off;
	uint64_t k;

	while ((off = queue_get(q)) != SMA_NULL) { /* SMA_NULL: no more */
		struct msg *m = sma_ptr(a, off);
		int damaged = m->producer >= NPROD ||
			      m->value / NMSG != m->producer;

		for (k = 0; k < m->size && !damaged; k++)
			damaged = m->payload[k] != (uint8_t)(m->value + k);
		t->count++;
		t->sum += m->value;
		if (damaged || sma_free(a, off) != 0)
			t->bad++;
	}
	return 0;
}

/* ---- the check ---------------------------------------------------------- */

static pid_t start(sma_t *a, struct queue *q, struct tally *t, int prod,
		   uint32_t p)
{
	pid_t pid = fork();

	if (pid == 0) {
		guard_in_child();
		_exit(prod ? producer(a, q, p, t) : consumer(a, q, t));
	}
	guard_child(pid);
	return pid;
}

/* Waits for n children; returns how many did not exit with 0. */
static int reap(pid_t *pids, int n)
{
	int i, bad = 0, ws;

	for (i = 0; i < n; i++)
		if (pids[i] <= 0 || waitpid(pids[i], &ws, 0) < 0 ||
		    !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			bad++;
	return bad;
}

int main(void)
{
	pid_t prod[NPROD], cons[NCONS];
	uint64_t want_sum, sum_in = 0, sum_out = 0, n_in = 0, n_out = 0, bad = 0;
	sma_off_t qoff = SMA_NULL, toff = SMA_NULL;
	struct sma_stats st0, st;
	struct tally *t;
	struct queue *q;
	int i, ok, failed = 0, shmid, nfail = 0;
	sma_t *a;

	printf("1..4\n");
	a = sma_open_key(IPC_PRIVATE, SMA_CREATE, (size_t)4 << 20, 0600);
	if (!a) {
		printf("Bail out! sma_open_key: %s\n", strerror(errno));
		return 1;
	}
	guard_arena(a, 120);
	shmid = sma_shmid(a);

	qoff = queue_create(a, CAP);
	toff = sma_calloc(a, NPROD + NCONS, sizeof(struct tally));
	if (qoff == SMA_NULL || toff == SMA_NULL || sma_stats(a, &st0) != 0) {
		printf("Bail out! cannot set up the queue: %s\n", strerror(errno));
		nfail++;
		goto out;
	}
	q = sma_ptr(a, qoff);
	t = sma_ptr(a, toff);
	fflush(stdout);

	for (i = 0; i < NCONS; i++)
		cons[i] = start(a, q, &t[NPROD + i], 0, 0);
	for (i = 0; i < NPROD; i++)
		prod[i] = start(a, q, &t[i], 1, (uint32_t)i);
	failed += reap(prod, NPROD);
	for (i = 0; i < NCONS; i++)	/* one end mark per consumer */
		queue_put(q, SMA_NULL);
	failed += reap(cons, NCONS);

	for (i = 0; i < NPROD; i++) {
		n_in += t[i].count;
		sum_in += t[i].sum;
	}
	for (i = NPROD; i < NPROD + NCONS; i++) {
		n_out += t[i].count;
		sum_out += t[i].sum;
		bad += t[i].bad;
	}
	want_sum = (uint64_t)NPROD * NMSG * (NPROD * NMSG - 1) / 2;

	ok = failed == 0 && n_in == NPROD * NMSG && n_out == n_in && bad == 0 &&
	     sma_stats(a, &st) == 0 && st.live == st0.live && st.used == st0.used;
	printf("%s 1 - %d consumers took, checked and freed all %llu objects "
	       "that %d producers made\n", ok ? "ok" : "not ok", NCONS,
	       (unsigned long long)n_out, NPROD);
	nfail += !ok;
	printf("# %llu live objects before and %llu after; %llu damaged\n",
	       (unsigned long long)st0.live, (unsigned long long)st.live,
	       (unsigned long long)bad);

	ok = sum_in == want_sum && sum_out == sum_in;
	printf("%s 2 - the consumers' values add up to the producers' (%llu)\n",
	       ok ? "ok" : "not ok", (unsigned long long)sum_out);
	nfail += !ok;

	queue_destroy(a, qoff);
	ok = sma_free(a, toff) == 0 && sma_stats(a, &st) == 0 && st.live == 0 &&
	     st.used == 0 && sma_check(a) == 0;
	qoff = toff = SMA_NULL;
	printf("%s 3 - once the queue is freed the arena is empty and sma_check "
	       "is clean\n", ok ? "ok" : "not ok");
	nfail += !ok;

out:
	if (sma_destroy(a) != 0) {
		nfail++;
		printf("not ok 4 - sma_destroy: %s\n", strerror(errno));
	} else {
		sma_t *again = sma_open_id(shmid, 0);

		printf("%s 4 - the destroyed arena cannot be opened again\n",
		       again ? "not ok" : "ok");
		if (again) {
			sma_close(again);
			nfail++;
		}
	}
	return nfail == 0 ? 0 : 1;
}
