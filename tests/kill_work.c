/*
 * tests/kill_work.c -- the processes the kill-fuzz (tests/test_kill.c)
 * kills: workers of 1 to 4 threads doing random allocation work, and
 * reclaimers that call sma_stats / sma_recover / sma_check.
 *
 * A worker thread owns the objects of its row of the ownership table
 * (kill.h): it writes an offset there only once the object is live and
 * filled with its pattern, and clears it before it frees or reallocates
 * the object, so a kill at any instant leaves in the table only objects
 * that are live and whole; what it had in flight is live and owned by
 * nobody.  Every call's answer is checked as the contract states it
 * (ENOMEM is a normal answer: tiny arenas are worked near exhaustion); a
 * wrong one ends the process with a status of kill.h's W_* list and one
 * line on standard error.
 *
 * At the end, helpers of the test process (kill.h).
 */
#define _GNU_SOURCE
#include "kill.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

struct kill_ctx kx;

struct thr {
	int tr;	      /* thread row */
	int first;    /* the worker's main thread */
	uint64_t rng; /* its random state */
};

static void worker_fail(int status, int tr, const char *what, sma_off_t off, int err)
{
	fprintf(stderr, "worker %d, thread row %d: %s (object %#llx): %s\n", (int)getpid(), tr,
		what, (unsigned long long)off, err ? strerror(err) : "-");
	_exit(status);
}

void kill_name(char *buf, size_t n, int tr, int k)
{
	snprintf(buf, n, "kill-%d-%d", tr, k);
}

uint64_t node_check(sma_off_t off, uint64_t key)
{
	uint64_t s = off * 0x9e3779b97f4a7c15ull ^ key;

	return t_rand(&s);
}

static int is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static size_t random_size(uint64_t *rng)
{
	uint64_t r = t_rand(rng) % 1000;

	if (r < 650)
		return 1 + t_rand(rng) % 256;
	if (r < 950)
		return 257 + t_rand(rng) % 16128;
	if (r < 990 || !kx.big)
		return T_KIB(65) + t_rand(rng) % T_KIB(100);
	return T_KIB(256) + t_rand(rng) % T_KIB(768);
}

static void own(struct entry *e, sma_t *a, sma_off_t off, size_t size, uint64_t *rng)
{
	e->size = size;
	e->seed = t_rand(rng);
	t_fill(sma_ptr(a, off), size, e->seed);
	atomic_store_explicit(&e->off, off, memory_order_release);
}

static void verify_owned(struct entry *e, sma_t *a, int tr)
{
	sma_off_t off = atomic_load(&e->off);

	if (!t_verify(sma_ptr(a, off), e->size, e->seed))
		worker_fail(W_DAMAGED, tr, "an owned object was overwritten", off, 0);
}

static void enomem(struct thr *th, const char *what, sma_off_t off)
{
	if (errno != ENOMEM)
		worker_fail(W_ALLOC, th->tr, what, off, errno);
	atomic_fetch_add(&kx.p->t[th->tr].enomem, 1);
}

/* A new object of one of the five kinds of allocation; *size may grow
 * (calloc rounds it to nmemb * each).  SMA_NULL after ENOMEM. */
static sma_off_t new_object(struct thr *th, size_t *size)
{
	sma_t *a = kx.a;
	unsigned k = (unsigned)(t_rand(&th->rng) % 10);
	sma_off_t off;

	if (k < 4) {
		off = sma_alloc(a, *size);
		if (off == SMA_NULL)
			enomem(th, "sma_alloc failed", 0);
	} else if (k < 6) {
		size_t nmemb = 1 + t_rand(&th->rng) % 8, each = (*size + nmemb - 1) / nmemb;

		*size = nmemb * each;
		off = sma_calloc(a, nmemb, each);
		if (off == SMA_NULL)
			enomem(th, "sma_calloc failed", 0);
		else if (!is_zero(sma_ptr(a, off), *size))
			worker_fail(W_CALLOC, th->tr, "sma_calloc returned memory that is not zero",
				    off, 0);
	} else if (k < 9) {
		size_t align = (size_t)16 << (t_rand(&th->rng) % 9); /* 16 .. 4096 */

		off = sma_aligned_alloc(a, align, *size);
		if (off == SMA_NULL)
			enomem(th, "sma_aligned_alloc failed", 0);
		else if ((uintptr_t)sma_ptr(a, off) % align)
			worker_fail(W_ALIGN, th->tr, "sma_aligned_alloc returned a misaligned object",
				    off, 0);
	} else {
		off = sma_realloc(a, SMA_NULL, *size);
		if (off == SMA_NULL)
			enomem(th, "sma_realloc(SMA_NULL) failed", 0);
	}
	if (off != SMA_NULL && t_rand(&th->rng) % 8 == 0 && sma_usable_size(a, off) < *size)
		worker_fail(W_ALLOC, th->tr, "a new object is smaller than asked", off, errno);
	return off;
}

/* Allocates into an empty entry, or frees the object of a full one. */
static void entry_step(struct thr *th, struct entry *e)
{
	sma_t *a = kx.a;
	sma_off_t off = atomic_load(&e->off);
	size_t size;

	if (!off) {
		size = random_size(&th->rng);
		off = new_object(th, &size);
		if (off)
			own(e, a, off, size, &th->rng);
		return;
	}
	verify_owned(e, a, th->tr);
	atomic_store_explicit(&e->off, 0, memory_order_release);
	if (sma_free(a, off) != 0)
		worker_fail(W_FREE, th->tr, "sma_free of an owned object failed", off, errno);
}

static void realloc_step(struct thr *th, struct entry *e)
{
	sma_t *a = kx.a;
	sma_off_t off = atomic_load(&e->off), n;
	size_t old = e->size, size = t_rand(&th->rng) % 20 == 0 ? 0 : random_size(&th->rng);

	if (!off) {
		entry_step(th, e);
		return;
	}
	verify_owned(e, a, th->tr);
	atomic_store_explicit(&e->off, 0, memory_order_release);
	n = sma_realloc(a, off, size);
	if (size == 0) {
		if (n != SMA_NULL)
			worker_fail(W_REALLOC, th->tr, "sma_realloc(off, 0) returned an object", n, 0);
		return;
	}
	if (n == SMA_NULL) {
		enomem(th, "sma_realloc failed", off);
		if (!t_verify(sma_ptr(a, off), old, e->seed))
			worker_fail(W_REALLOC, th->tr, "a failed sma_realloc changed the object", off,
				    0);
		atomic_store_explicit(&e->off, off, memory_order_release);
		return;
	}
	if (!t_verify(sma_ptr(a, n), old < size ? old : size, e->seed))
		worker_fail(W_REALLOC, th->tr, "sma_realloc lost the contents", n, 0);
	own(e, a, n, size, &th->rng);
}

static void named_step(struct thr *th)
{
	sma_t *a = kx.a;
	int k = (int)(t_rand(&th->rng) % NAMES), created = 0;
	struct entry *ne = &kx.t->r[th->tr].named[k];
	sma_off_t off = atomic_load(&ne->off), n;
	uint64_t r = t_rand(&th->rng) % 8;
	char name[32];

	kill_name(name, sizeof(name), th->tr, k);
	if (r < 4) {
		size_t size = 16 + t_rand(&th->rng) % 2000;

		n = sma_named_alloc(a, name, size, &created);
		if (n == SMA_NULL) {
			if (errno == ENOMEM)
				atomic_fetch_add(&kx.p->t[th->tr].enomem, 1);
			else if (errno != EEXIST)
				worker_fail(W_NAMED, th->tr, "sma_named_alloc failed", 0, errno);
		} else if (off) {
			if (n != off || created)
				worker_fail(W_NAMED, th->tr, "an owned named object moved", off, 0);
			verify_owned(ne, a, th->tr);
		} else {
			if (created && !is_zero(sma_ptr(a, n), size))
				worker_fail(W_NAMED, th->tr, "a new named object is not zero-filled",
					    n, 0);
			/* Created now, or by a killed predecessor that had not
			 * recorded it yet: it is this row's. */
			own(ne, a, n, size, &th->rng);
		}
	} else if (r < 7) {
		if (off) {
			verify_owned(ne, a, th->tr);
			atomic_store_explicit(&ne->off, 0, memory_order_release);
			if (sma_named_free(a, name) != 0)
				worker_fail(W_NAMED, th->tr, "sma_named_free of an owned name failed",
					    off, errno);
		} else if (sma_named_free(a, name) != 0 && errno != ENOENT) {
			worker_fail(W_NAMED, th->tr, "sma_named_free failed", 0, errno);
		}
	} else {
		n = sma_named_find(a, name);
		if (off && n != off)
			worker_fail(W_NAMED, th->tr, "sma_named_find lost an owned name", off, errno);
		if (!off && n == SMA_NULL && errno != ENOENT)
			worker_fail(W_NAMED, th->tr, "sma_named_find failed", 0, errno);
		if (off && (sma_free(a, off) != -1 || errno != EBUSY))
			worker_fail(W_NAMED, th->tr, "sma_free of a named object did not say EBUSY",
				    off, errno);
	}
}

/* ---- the guarded structure ------------------------------------------------------ */

static int node_ok(sma_t *a, sma_off_t off, int live_check)
{
	const struct node *nd;

	if (off % 16 != 0)
		return 0;
	if (live_check && sma_usable_size(a, off) < sizeof(struct node))
		return 0;
	nd = sma_ptr(a, off);
	return nd->check == node_check(off, nd->key);
}

const char *guarded_check(sma_t *a, const struct guarded *gd, int live_check,
			  sma_off_t *nodes, size_t *nn)
{
	sma_off_t off = gd->head;
	uint64_t n = 0;

	if (nn)
		*nn = 0;
	while (off) {
		if (n >= LIST_MAX)
			return "the guarded list is longer than it can be (a cycle?)";
		if (!node_ok(a, off, live_check))
			return "the guarded list holds a node that is not live and whole";
		if (nodes)
			nodes[n] = off;
		n++;
		off = ((const struct node *)sma_ptr(a, off))->next;
	}
	if (nn)
		*nn = (size_t)n;
	if (n != gd->n)
		return "the guarded list's length is not its count";
	if (gd->a != gd->b)
		return "the guarded counter pair differs";
	if (gd->op != OP_NONE || gd->pending)
		return "an operation on the guarded list is recorded as in progress";
	return NULL;
}

void guarded_repair(sma_t *a, struct guarded *gd, int live_check)
{
	sma_off_t off = gd->head;
	uint64_t n = 0;

	/* Every node is filled before it is linked, and unlinked before it
	 * is freed: what a dead holder left is a list of valid nodes, with
	 * at most the count and the second counter behind. */
	while (off && n < LIST_MAX && node_ok(a, off, live_check)) {
		n++;
		off = ((const struct node *)sma_ptr(a, off))->next;
	}
	if (off)
		return; /* left as it is: guarded_check reports it */
	gd->n = n;
	gd->b = gd->a;
	gd->op = OP_NONE;
	gd->pending = 0;
	gd->repairs++;
}

static void guarded_step(struct thr *th)
{
	sma_t *a = kx.a;
	struct guarded *gd = kx.gd;
	struct trow_stat *ps = &kx.p->t[th->tr];
	sma_off_t popped = SMA_NULL;
	const char *why;
	int rc;

	rc = t_rand(&th->rng) % 4 == 0 ? sma_mutex_trylock(&gd->m) : sma_mutex_lock(&gd->m);
	if (rc == EBUSY)
		return;
	if (rc == EOWNERDEAD) {
		atomic_fetch_add(&ps->ownerdead, 1);
		guarded_repair(a, gd, 0);
	} else if (rc != 0) {
		worker_fail(W_MUTEX, th->tr, "sma_mutex_lock failed", 0, rc);
	} else if (atomic_load(&gd->holder_pid) != 0) {
		fprintf(stderr, "worker %d: the mutex held by %u/%u was taken without EOWNERDEAD\n",
			(int)getpid(), (unsigned)atomic_load(&gd->holder_pid),
			(unsigned)atomic_load(&gd->holder_tid));
		worker_fail(W_MUTEX, th->tr, "sma_mutex_lock returned 0 while another held it", 0,
			    0);
	}
	atomic_store(&gd->holder_pid, (uint32_t)getpid());
	atomic_store(&gd->holder_tid, (uint32_t)gettid());
	atomic_fetch_add(&ps->locks, 1);
	why = guarded_check(a, gd, 0, NULL, NULL);
	if (why)
		worker_fail(W_GUARDED, th->tr, why, gd->head, 0);
	switch (t_rand(&th->rng) % 3) {
	case 0: { /* the counter pair, with a window between its halves */
		unsigned spin = (unsigned)(t_rand(&th->rng) % 4000);

		gd->a++;
		for (volatile unsigned i = 0; i < spin; i++)
			;
		gd->b++;
		break;
	}
	case 1: /* a push, the node allocated under the mutex */
		if (gd->n < LIST_MAX) {
			sma_off_t off = sma_alloc(a, sizeof(struct node) + t_rand(&th->rng) % 64);
			struct node *nd;

			if (off == SMA_NULL) {
				enomem(th, "sma_alloc of a node failed", 0);
				break;
			}
			nd = sma_ptr(a, off);
			nd->key = ++gd->keys;
			nd->check = node_check(off, nd->key);
			nd->next = gd->head;
			gd->pending = off;
			gd->op = OP_PUSH;
			gd->head = off;
			gd->n++;
			gd->op = OP_NONE;
			gd->pending = 0;
		}
		break;
	default: /* a pop; the node is freed after the unlock */
		if (gd->head) {
			popped = gd->head;
			gd->pending = popped;
			gd->op = OP_POP;
			gd->head = ((struct node *)sma_ptr(a, popped))->next;
			gd->n--;
			gd->op = OP_NONE;
			gd->pending = 0;
		}
		break;
	}
	atomic_store(&gd->holder_tid, 0);
	atomic_store(&gd->holder_pid, 0);
	rc = sma_mutex_unlock(&gd->m);
	if (rc != 0)
		worker_fail(W_MUTEX, th->tr, "sma_mutex_unlock failed", 0, rc);
	if (popped) {
		if (!node_ok(a, popped, 0))
			worker_fail(W_GUARDED, th->tr, "a popped node is not whole", popped, 0);
		if (sma_free(a, popped) != 0)
			worker_fail(W_FREE, th->tr, "sma_free of a popped node failed", popped, errno);
	}
}

/* ---- threads and processes ------------------------------------------------------ */

static void thr_run(struct thr *th)
{
	sma_t *a = kx.a;
	struct trow *row = &kx.t->r[th->tr];
	char *priv = NULL;

	for (long step = 0;; step++) {
		uint64_t r = t_rand(&th->rng) % 100;
		struct entry *e = &row->e[t_rand(&th->rng) % ENTRIES];

		if (th->first && step % 128 == 1) {
			/* Private memory comes and goes, as in any program: the
			 * process stays the same process. */
			char *p = realloc(priv, (1 + t_rand(&th->rng) % 4) << 20);
			if (p) {
				priv = p;
				priv[0] = 1;
			}
		}
		if (r < 32) {
			entry_step(th, e);
		} else if (r < 46) {
			realloc_step(th, e);
		} else if (r < 58) {
			named_step(th);
		} else if (r < 74) {
			guarded_step(th);
		} else {
			/* A short-lived object. */
			size_t size = random_size(&th->rng);
			sma_off_t off = new_object(th, &size);
			if (off) {
				t_fill(sma_ptr(a, off), size, off);
				if (!t_verify(sma_ptr(a, off), size, off))
					worker_fail(W_DAMAGED, th->tr, "a new object was overwritten",
						    off, 0);
				if (sma_free(a, off) != 0)
					worker_fail(W_FREE, th->tr, "sma_free of a new object failed",
						    off, errno);
			}
		}
		atomic_fetch_add(&kx.p->t[th->tr].steps, 1);
	}
}

static void *thread_main(void *arg)
{
	thr_run(arg);
	return NULL;
}

int kill_worker_main(void *arg)
{
	static struct thr th[THREADS];
	struct worker_arg *w = arg;
	uint64_t rng = w->seed;

	alarm(WORKER_ALARM);
	t_gate_wait(w->gate);
	for (int t = 0; t < w->nthreads; t++)
		th[t] = (struct thr){w->row * THREADS + t, t == 0, t_rand(&rng)};
	for (int t = 1; t < w->nthreads; t++) {
		pthread_t id;
		int rc = pthread_create(&id, NULL, thread_main, &th[t]);
		if (rc != 0)
			worker_fail(W_THREAD, th[t].tr, "pthread_create failed", 0, rc);
	}
	thr_run(&th[0]);
	return 0;
}

int kill_reclaimer_main(void *arg)
{
	struct reclaim_arg *ra = arg;
	uint64_t rng = ra->seed;
	char ch = 'r';

	alarm(WORKER_ALARM);
	if (ra->what == R_MIX && (rng & 1)) {
		/* Holding a slot, as a process that allocates does. */
		sma_off_t off = sma_alloc(kx.a, 1 + t_rand(&rng) % 512);
		if (off == SMA_NULL && errno != ENOMEM)
			worker_fail(W_ALLOC, -1, "sma_alloc in a reclaimer failed", 0, errno);
		if (off && sma_free(kx.a, off) != 0)
			worker_fail(W_FREE, -1, "sma_free in a reclaimer failed", off, errno);
	}
	if (t_write_all(ra->ready_fd, &ch, 1) != 0)
		_exit(W_RECLAIM);
	for (;;) {
		int what = ra->what == R_MIX ? (int)(t_rand(&rng) % 3) : ra->what;
		struct sma_stats st;

		if (what == R_STATS && sma_stats(kx.a, &st) != 0)
			worker_fail(W_RECLAIM, -1, "sma_stats in a reclaimer failed", 0, errno);
		if (what == R_RECOVER && sma_recover(kx.a) != 0)
			worker_fail(W_RECLAIM, -1, "sma_recover in a reclaimer failed", 0, errno);
		if (what == R_CHECK && t_check_report(kx.a) != 0)
			worker_fail(W_CHECK, -1, "sma_check in a reclaimer failed", 0, errno);
		atomic_fetch_add(&kx.p->reclaims, 1);
	}
	return 0;
}

/* ---- helpers of the test process ----------------------------------------------- */

void kill_sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

double kill_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long kill_env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : dflt;
}

const char *kill_status_text(int st)
{
	static char buf[96];

	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited with status %d (see its message)",
			 WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "died of signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof(buf), "ended with status %#x", st);
	return buf;
}

void kill_describe_hang(sma_t *ro, pid_t pid)
{
	struct sma_info in;
	char path[320], buf[128];
	struct dirent *d;
	DIR *dir;

	if (sma_info(ro, &in) == 0)
		print_error("  arena lock holder %d (in op %d), guarded mutex holder %u/%u\n",
			    (int)in.lock_holder, in.lock_in_op, (unsigned)atomic_load(&kx.gd->holder_pid),
			    (unsigned)atomic_load(&kx.gd->holder_tid));
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		FILE *f;
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan", (int)pid, d->d_name);
		f = fopen(path, "r");
		buf[0] = '\0';
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		print_error("  thread %s of worker %d waits in %s\n", d->d_name, (int)pid,
			    buf[0] ? buf : "?");
	}
	if (dir)
		closedir(dir);
}

int kill_cmp_off(const void *x, const void *y)
{
	sma_off_t a = *(const sma_off_t *)x, b = *(const sma_off_t *)y;
	return a < b ? -1 : a > b;
}

int kill_collect_live(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct live_list *l = arg;

	if (in_use) {
		if (l->n == MAX_LIVE)
			return 1;
		l->off[l->n++] = off;
		l->used += size;
	}
	return 0;
}

int kill_collect_named(const char *name, sma_off_t off, size_t size, void *arg)
{
	struct live_list *l = arg;

	(void)name;
	(void)size;
	if (l->n == MAX_LIVE)
		return 1;
	l->off[l->n++] = off;
	return 0;
}

int kill_collect_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	struct name_list *l = arg;

	(void)off;
	(void)size;
	if (l->n < (int)(sizeof(l->name) / sizeof(l->name[0])))
		snprintf(l->name[l->n++], sizeof(l->name[0]), "%s", name);
	return 0;
}
