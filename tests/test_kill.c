/*
 * tests/test_kill.c -- worker processes killed with SIGKILL at random
 * instants while their threads allocate, free, reallocate, name objects
 * and change a structure guarded by an sma_mutex_t; and processes killed
 * while they reclaim what the dead left.
 *
 * The promise under test (API.md, "Process death", "Inspecting", the
 * mutex): a process killed at any instant never blocks the others;
 * sma_check passes on what it leaves, on a read-only handle too, before
 * any sma_recover and after; no live object is lost or handed out twice;
 * the next locker of a mutex it held gets EOWNERDEAD; and what the dead
 * held comes back.
 *
 * Epochs.  Each epoch makes a new arena: tiny (1 to 2 MiB, worked near
 * exhaustion: ENOMEM is then a normal answer), 16 MiB or large (64 MiB),
 * runs rounds on it, then frees everything and checks that free ==
 * heap_size, and destroys it.
 *
 * Rounds.  The test process owns canaries (a checksum of their offset).
 * It starts 2 to 4 workers of 1 to 4 threads each (kill_work.c); every
 * thread records what it owns in its row of the ownership table (kill.h).
 * The workers are killed one by one, each after a random 0-5 ms or, one
 * time in four, as soon as it holds the mutex.  After a kill, a reclaimer
 * process may call sma_stats / sma_recover / sma_check (which reclaim the
 * dead one's slot) and be killed itself at a random instant; the test
 * process may call sma_stats; and every thread of every worker still
 * running must make progress within PROGRESS_S seconds (else: a hang).
 * After the round: sma_check on the read-only handle, then on the
 * writable one (whose lock repairs a dead holder's operation; skipped in
 * rounds 2 mod 4, so that sma_recover makes that repair); sma_recover in
 * even rounds, sometimes after a reclaimer killed in its own sma_recover
 * (odd rounds are repaired by the next calls alone); sma_check on both
 * handles again; the guarded structure's invariant (locked by
 * the test process, which repairs it after EOWNERDEAD); every canary,
 * owned object, named object and list node live and whole, no two
 * overlapping; the statistics against the walk.  Then what the killed had
 * in flight (live, owned by nobody) is freed.  A new thread of a table
 * row adopts what the dead one owned.
 *
 * Failures are counted, not asserted at once: the round ends, its
 * configuration and the seed are printed, and the run stops (with
 * SMA_KILL_KEEP_GOING=1 it goes on in a new arena, up to 20 failing
 * rounds).  One summary line gives every figure.
 *
 * SMA_KILLS sets the number of SIGKILLs (400 by default), SMA_SEED the
 * seed of the random choices; SMA_KILL_ARENA=tiny|mid|large and
 * SMA_KILL_THREADS=1..4 fix the arena and the threads per worker.
 */
#define _GNU_SOURCE
#include "kill.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define CANARIES 24	 /* objects of the test process (8 in a tiny arena) */
#define PROGRESS_S 10	 /* seconds a survivor may take for a few steps */
#define WAIT_S 10	 /* seconds a killed process may take to be reaped */
#define ROUND_ALARM 300	 /* seconds one round may take in the test process */
#define MAX_FAILED 20	 /* failing rounds before SMA_KILL_KEEP_GOING stops */

enum { A_TINY, A_MID, A_LARGE };
static const char *const kind_name[] = {"tiny", "16M", "64M"};

struct canary {
	sma_off_t off;
	size_t size;
};

static struct {
	sma_t *a, *ro;
	struct progress *p;
	struct canary can[CANARIES];
	int ncan, kind, force_kind, force_threads, keep_going, round_bad;
	uint64_t rng, seed;
	long epoch, round;
	char config[160], first[512];
	/* the figures of the summary */
	long want, kills, worker_kills, reclaimer_kills, threads, rounds, epochs[3], failed_rounds;
	long hangs, lost, twice, canaries, worker_errors, reclaimer_errors, recover_errors;
	long check_before_rw, check_before_ro, check_after_rw, check_after_ro;
	long mutex_bad, killed_holding, ownerdead, locks, parent_repairs;
	long enomem, in_flight, end_ok, end_bad;
} g;

/* ---- small things ------------------------------------------------------------- */

/* Counts one failure, says what and where; the round is then ended. */
static void failure(long *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failure(long *count, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(*count)++;
	g.round_bad = 1;
	print_error("FAILURE (%s): %s\n", g.config, msg);
	if (!g.first[0])
		snprintf(g.first, sizeof(g.first), "%s: %s", g.config, msg);
}

static int print_problem(const char *problem, void *arg)
{
	print_error("  sma_check (%s handle): %s\n", (const char *)arg, problem);
	return 0;
}

/* sma_check on handle h; a failure counted in *count. */
static void check_handle(sma_t *h, long *count, const char *when)
{
	const char *which = h == g.ro ? "read-only" : "writable";
	int e;

	if (sma_check(h) == 0)
		return;
	e = errno;
	sma_check_report(h, print_problem, (void *)which);
	failure(count, "sma_check on the %s handle %s: %s", which, when, strerror(e));
}

/* ---- the reclaimers: processes killed while they reclaim others ------------------ */

static void reclaim_and_die(int what)
{
	struct reclaim_arg ra;
	int fd[2], st;
	pid_t pid;
	char ch;
	long us;

	t_pipe(fd);
	ra = (struct reclaim_arg){fd[1], what, t_rand(&g.rng)};
	pid = t_fork(kill_reclaimer_main, &ra);
	close(fd[1]);
	if (t_read_all(fd[0], &ch, 1) != 0) {
		st = t_wait(pid, WAIT_S);
		close(fd[0]);
		failure(&g.reclaimer_errors, "a reclaimer %s before it began",
			st == -1 ? "hung" : kill_status_text(st));
		return;
	}
	close(fd[0]);
	switch (t_rand(&g.rng) % 8) {
	case 0: us = 0; break;
	case 1: case 2: case 3: case 4: us = (long)(t_rand(&g.rng) % 200); break;
	default: us = (long)(t_rand(&g.rng) % 3000); break;
	}
	if (us)
		kill_sleep_us(us);
	kill(pid, SIGKILL);
	st = t_wait(pid, WAIT_S);
	if (st == -1)
		failure(&g.hangs, "a killed reclaimer was not reaped within %d s", WAIT_S);
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
		g.kills++;
		g.reclaimer_kills++;
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == W_CHECK)
		failure(&g.check_before_rw, "sma_check in a reclaimer failed (its message above)");
	else
		failure(&g.reclaimer_errors, "a reclaimer %s before it was killed", kill_status_text(st));
}

/* ---- the rounds ------------------------------------------------------------------ */

/*
 * Every thread of worker row (process pid) must take a few more steps
 * within PROGRESS_S seconds: 0 if they did, 1 if not, 2 if the worker
 * ended by itself (*status).
 */
static int survivor_check(int row, int nthreads, pid_t pid, int *status)
{
	uint64_t from[THREADS];
	double deadline = kill_now() + PROGRESS_S;
	int t;

	for (t = 0; t < nthreads; t++)
		from[t] = atomic_load(&g.p->t[row * THREADS + t].steps);
	for (t = 0; t < nthreads;) {
		if (atomic_load(&g.p->t[row * THREADS + t].steps) >= from[t] + 3) {
			t++;
			continue;
		}
		if (waitpid(pid, status, WNOHANG) == pid)
			return 2;
		if (kill_now() > deadline)
			return 1;
		kill_sleep_us(50);
	}
	return 0;
}

/* Waits up to 20 ms for worker pid to hold the guarded mutex. */
static void wait_until_holding(pid_t pid)
{
	for (int i = 0; i < 1000 && atomic_load(&kx.gd->holder_pid) != (uint32_t)pid; i++)
		kill_sleep_us(20);
}

/* One round: n workers, each killed at a random instant. */
static void one_round(int n)
{
	struct worker_arg wa[ROWS];
	pid_t pid[ROWS];
	int alive[ROWS], len;
	struct t_gate gate;

	len = snprintf(g.config, sizeof(g.config),
		       "seed %llu, epoch %ld (%s arena), round %ld: %d workers of",
		       (unsigned long long)g.seed, g.epoch, kind_name[g.kind], g.round, n);
	t_gate_init(&gate);
	for (int i = 0; i < n; i++) {
		int nth = g.force_threads ? g.force_threads : 1 + (int)(t_rand(&g.rng) % THREADS);
		wa[i] = (struct worker_arg){i, nth, t_rand(&g.rng), &gate};
		len += snprintf(g.config + len, sizeof(g.config) - (size_t)len, " %d", nth);
		g.threads += nth;
	}
	snprintf(g.config + len, sizeof(g.config) - (size_t)len, " threads");
	for (int i = 0; i < n; i++) {
		pid[i] = t_fork(kill_worker_main, &wa[i]);
		alive[i] = 1;
	}
	if (t_gate_release(&gate, n) != n)
		failure(&g.worker_errors, "a worker died before it started");
	for (int left = n; left > 0 && !g.round_bad; left--) {
		int pick = (int)(t_rand(&g.rng) % (uint64_t)left), i, st, holding;

		for (i = 0; i < n; i++)
			if (alive[i] && pick-- == 0)
				break;
		if (t_rand(&g.rng) % 4 == 0)
			wait_until_holding(pid[i]);
		else
			kill_sleep_us((long)(t_rand(&g.rng) % 5001));
		kill(pid[i], SIGKILL);
		holding = atomic_load(&kx.gd->holder_pid) == (uint32_t)pid[i];
		st = t_wait(pid[i], WAIT_S);
		alive[i] = 0;
		if (st == -1) {
			failure(&g.hangs, "a killed worker was not reaped within %d s", WAIT_S);
		} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
			failure(&g.hangs, "worker %d hung until its watchdog", (int)pid[i]);
		} else if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			failure(&g.worker_errors, "worker %d %s before it was killed", (int)pid[i],
				kill_status_text(st));
		} else {
			g.kills++;
			g.worker_kills++;
			g.killed_holding += holding;
		}
		if (left > 1 && !g.round_bad) {
			/* Reclaims of the dead one's slot while the others work. */
			if (t_rand(&g.rng) % 2 && g.kills + left - 1 < g.want)
				reclaim_and_die((int)(t_rand(&g.rng) % 4));
			if (t_rand(&g.rng) % 2 && sma_stats(g.a, &(struct sma_stats){0}) != 0)
				failure(&g.recover_errors, "sma_stats while workers run: %s",
					strerror(errno));
		}
		for (int j = 0; j < n && !g.round_bad; j++) {
			int how, wst = 0;
			if (!alive[j])
				continue;
			how = survivor_check(j, wa[j].nthreads, pid[j], &wst);
			if (how == 2) {
				alive[j] = 0;
				t_wait(pid[j], 1); /* forgets it; reaped already */
				failure(&g.worker_errors, "worker %d %s, after worker %d was killed",
					(int)pid[j], kill_status_text(wst), (int)pid[i]);
			} else if (how == 1) {
				kill_describe_hang(g.ro, pid[j]);
				failure(&g.hangs, "a thread of worker %d made no progress within %d s "
					"after worker %d was killed", (int)pid[j], PROGRESS_S,
					(int)pid[i]);
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (alive[i]) {
			kill(pid[i], SIGKILL);
			t_wait(pid[i], WAIT_S);
		}
}

/* ---- the checks after a round ----------------------------------------------------- */

struct span {
	sma_off_t off;
	size_t size;
	const char *what;
};

static int cmp_span(const void *x, const void *y)
{
	const struct span *a = x, *b = y;
	return a->off < b->off ? -1 : a->off > b->off;
}

static int canary_ok(const struct canary *c)
{
	return sma_usable_size(g.a, c->off) >= c->size &&
	       t_verify(sma_ptr(g.a, c->off), c->size, c->off * 7 + 1);
}

/* A canary of the given size (or a random one for 0); 0 on ENOMEM. */
static int canary_make(struct canary *c, size_t size)
{
	if (!size)
		size = g.kind == A_TINY ? 1 + t_rand(&g.rng) % 2048
		       : t_rand(&g.rng) % 20 ? 1 + t_rand(&g.rng) % 4096
					     : T_KIB(65) + t_rand(&g.rng) % T_KIB(100);
	c->size = size;
	c->off = sma_alloc(g.a, size);
	if (c->off == SMA_NULL)
		return 0;
	t_fill(sma_ptr(g.a, c->off), size, c->off * 7 + 1);
	return 1;
}

/* The guarded list's nodes, found by guarded_lock_check. */
static sma_off_t nodes[LIST_MAX];
static size_t n_nodes;

/* Locks the guarded mutex as any locker would, repairs after EOWNERDEAD,
 * and checks the invariant. */
static void guarded_lock_check(void)
{
	struct guarded *gd = kx.gd;
	uint32_t holder = atomic_load(&gd->holder_pid);
	const char *why;
	int rc = sma_mutex_lock(&gd->m);

	n_nodes = 0;
	g.locks++;
	if (rc == EOWNERDEAD) {
		g.ownerdead++;
		g.parent_repairs++;
		guarded_repair(g.a, gd, 1);
	} else if (rc != 0) {
		failure(&g.mutex_bad, "sma_mutex_lock in the test process: %s", strerror(rc));
		return;
	} else if (holder) {
		failure(&g.mutex_bad, "the mutex held by dead process %u was taken without "
			"EOWNERDEAD", (unsigned)holder);
	}
	atomic_store(&gd->holder_tid, 0);
	atomic_store(&gd->holder_pid, 0);
	why = guarded_check(g.a, gd, 1, nodes, &n_nodes);
	if (why)
		failure(&g.mutex_bad, "%s (count %llu, pair %llu/%llu, op %llu)", why,
			(unsigned long long)gd->n, (unsigned long long)gd->a,
			(unsigned long long)gd->b, (unsigned long long)gd->op);
	rc = sma_mutex_unlock(&gd->m);
	if (rc != 0)
		failure(&g.mutex_bad, "sma_mutex_unlock in the test process: %s", strerror(rc));
}

/* Every canary, owned object, named object and node is live and whole,
 * and no two of them overlap. */
static void check_objects(void)
{
	static struct span sp[CANARIES + TROWS * (ENTRIES + NAMES) + LIST_MAX + 2];
	size_t n = 0;

	for (int i = 0; i < g.ncan; i++) {
		if (!canary_ok(&g.can[i]))
			failure(&g.canaries, "the canary %#llx (%zu bytes) is not live and whole",
				(unsigned long long)g.can[i].off, g.can[i].size);
		sp[n++] = (struct span){g.can[i].off, g.can[i].size, "a canary"};
	}
	for (int r = 0; r < TROWS; r++) {
		for (int i = 0; i < ENTRIES + NAMES; i++) {
			struct entry *e = i < ENTRIES ? &kx.t->r[r].e[i] : &kx.t->r[r].named[i - ENTRIES];
			sma_off_t off = atomic_load(&e->off);
			char name[32];
			if (!off)
				continue;
			if (i >= ENTRIES) {
				kill_name(name, sizeof(name), r, i - ENTRIES);
				if (sma_named_find(g.a, name) != off)
					failure(&g.lost, "the named object %s of row %d is not at %#llx",
						name, r, (unsigned long long)off);
			}
			if (sma_usable_size(g.a, off) < e->size ||
			    !t_verify(sma_ptr(g.a, off), e->size, e->seed))
				failure(&g.lost, "the object %#llx (%llu bytes) of row %d is not live "
					"and whole", (unsigned long long)off,
					(unsigned long long)e->size, r);
			sp[n++] = (struct span){off, e->size, i < ENTRIES ? "an object" : "a named object"};
		}
	}
	for (size_t i = 0; i < n_nodes; i++)
		sp[n++] = (struct span){nodes[i], sizeof(struct node), "a list node"};
	sp[n++] = (struct span){sma_off(g.a, kx.t), sizeof(struct table), "the table"};
	sp[n++] = (struct span){sma_off(g.a, kx.gd), sizeof(struct guarded), "the guarded root"};
	qsort(sp, n, sizeof(sp[0]), cmp_span);
	for (size_t i = 1; i < n; i++)
		if (sp[i - 1].off + sp[i - 1].size > sp[i].off)
			failure(&g.twice, "%s %#llx and %s %#llx overlap: one was handed out twice",
				sp[i - 1].what, (unsigned long long)sp[i - 1].off, sp[i].what,
				(unsigned long long)sp[i].off);
}

/* The walk agrees with the statistics. */
static void check_stats(void)
{
	static struct live_list live;
	struct sma_stats st;

	live.n = live.used = 0;
	if (sma_walk(g.a, kill_collect_live, &live) != 0 || sma_stats(g.a, &st) != 0) {
		failure(&g.check_after_rw, "sma_walk / sma_stats: %s", strerror(errno));
		return;
	}
	if (st.live != live.n || st.used != live.used || st.live != st.allocs - st.frees ||
	    st.largest_free > st.free)
		failure(&g.check_after_rw, "the statistics (live %llu, used %zu, allocs %llu, "
			"frees %llu) disagree with the walk (%zu objects, %zu bytes)",
			(unsigned long long)st.live, st.used, (unsigned long long)st.allocs,
			(unsigned long long)st.frees, live.n, live.used);
}

/* Frees what the killed had in flight: live objects owned by nobody (not
 * in the table, not a canary, not named, not in the list). */
static void free_in_flight(void)
{
	static struct live_list keep, live;

	keep.n = live.n = live.used = 0;
	if (sma_named_each(g.a, kill_collect_named, &keep) != 0)
		fail_msg("sma_named_each: %s", strerror(errno));
	for (int i = 0; i < g.ncan; i++)
		keep.off[keep.n++] = g.can[i].off;
	for (int r = 0; r < TROWS; r++)
		for (int i = 0; i < ENTRIES; i++) {
			sma_off_t off = atomic_load(&kx.t->r[r].e[i].off);
			if (off)
				keep.off[keep.n++] = off;
		}
	for (size_t i = 0; i < n_nodes; i++)
		keep.off[keep.n++] = nodes[i];
	qsort(keep.off, keep.n, sizeof(keep.off[0]), kill_cmp_off);
	if (sma_walk(g.a, kill_collect_live, &live) != 0)
		fail_msg("sma_walk: %s", strerror(errno));
	for (size_t i = 0; i < live.n; i++) {
		if (bsearch(&live.off[i], keep.off, keep.n, sizeof(keep.off[0]), kill_cmp_off))
			continue;
		if (sma_free(g.a, live.off[i]) != 0)
			failure(&g.lost, "sma_free(%#llx) of an object a killed process had in "
				"flight: %s", (unsigned long long)live.off[i], strerror(errno));
		g.in_flight++;
	}
}

/* After a round: checks before the repair, the repair, checks after. */
static void after_round(void)
{
	int mode = (int)(g.round % 4);

	for (int r = 0; r < TROWS; r++) {
		struct trow_stat *s = &g.p->t[r];
		g.enomem += (long)atomic_exchange(&s->enomem, 0);
		g.ownerdead += (long)atomic_exchange(&s->ownerdead, 0);
		g.locks += (long)atomic_exchange(&s->locks, 0);
		atomic_store(&s->steps, 0);
	}
	/* What the dead left, seen first without any lock, then by the
	 * writable handle (whose lock repairs a dead holder's operation);
	 * in rounds 2 mod 4 sma_recover makes that repair. */
	check_handle(g.ro, &g.check_before_ro, "before the repair");
	if (mode != 2)
		check_handle(g.a, &g.check_before_rw, "before the repair");
	if (mode % 2 == 0) {
		if (t_rand(&g.rng) % 3 == 0 && g.kills < g.want)
			reclaim_and_die(t_rand(&g.rng) % 2 ? R_RECOVER : R_MIX);
		if (sma_recover(g.a) != 0)
			failure(&g.recover_errors, "sma_recover: %s", strerror(errno));
	}
	check_handle(g.ro, &g.check_after_ro, mode % 2 ? "after the next calls" : "after sma_recover");
	check_handle(g.a, &g.check_after_rw, mode % 2 ? "after the next calls" : "after sma_recover");
	guarded_lock_check();
	check_objects();
	check_stats();
	if (g.round_bad)
		return;
	free_in_flight();
	for (int k = 0; k < 2 && !g.round_bad; k++) {
		struct canary *c = &g.can[t_rand(&g.rng) % (uint64_t)g.ncan];
		size_t size = c->size;
		if (sma_free(g.a, c->off) != 0)
			failure(&g.canaries, "sma_free of a canary: %s", strerror(errno));
		else if (!canary_make(c, size))
			failure(&g.canaries, "sma_alloc(%zu) of a canary just freed: %s", size,
				strerror(errno));
	}
}

/* ---- epochs: one arena each --------------------------------------------------------- */

static void epoch_begin(void)
{
	size_t bytes;
	int created = 0;

	if (g.force_kind >= 0) {
		g.kind = g.force_kind;
	} else {
		uint64_t r = t_rand(&g.rng) % 10; /* tiny 4 in 10, 16M 3, 64M 3 */
		g.kind = r < 4 ? A_TINY : r < 7 ? A_MID : A_LARGE;
	}
	bytes = g.kind == A_TINY ? T_MIB(1) + (size_t)(t_rand(&g.rng) % 257) * 4096
		: g.kind == A_MID ? T_MIB(16) : T_MIB(64);
	g.epochs[g.kind]++;
	g.a = t_open_private(bytes);
	g.ro = sma_open_id(sma_shmid(g.a), SMA_RDONLY);
	if (!g.ro)
		fail_msg("sma_open_id(%d, SMA_RDONLY): %s", sma_shmid(g.a), strerror(errno));
	kx.a = g.a;
	kx.big = g.kind == A_LARGE;
	kx.t = sma_ptr(g.a, sma_named_alloc(g.a, TABLE, sizeof(struct table), &created));
	assert_non_null(kx.t);
	assert_int_equal(created, 1);
	kx.gd = sma_ptr(g.a, sma_named_alloc(g.a, GUARDED, sizeof(struct guarded), &created));
	assert_non_null(kx.gd);
	assert_int_equal(created, 1);
	g.ncan = g.kind == A_TINY ? 8 : CANARIES;
	for (int i = 0; i < g.ncan; i++)
		if (!canary_make(&g.can[i], 0))
			fail_msg("sma_alloc of a canary in a fresh arena: %s", strerror(errno));
}

/* Frees everything: the arena must be as fresh, on both handles. */
static void epoch_end(void)
{
	static struct name_list names;
	static struct live_list rest;
	struct sma_stats st[2];

	for (int r = 0; r < TROWS; r++)
		for (int i = 0; i < ENTRIES; i++) {
			sma_off_t off = atomic_load(&kx.t->r[r].e[i].off);
			if (off && sma_free(g.a, off) != 0)
				failure(&g.lost, "sma_free(%#llx) of an owned object: %s",
					(unsigned long long)off, strerror(errno));
		}
	for (int i = 0; i < g.ncan; i++)
		if (sma_free(g.a, g.can[i].off) != 0)
			failure(&g.canaries, "sma_free of a canary: %s", strerror(errno));
	for (size_t i = 0; i < n_nodes; i++)
		if (sma_free(g.a, nodes[i]) != 0)
			failure(&g.lost, "sma_free of a list node: %s", strerror(errno));
	names.n = 0;
	assert_int_equal(sma_named_each(g.a, kill_collect_name, &names), 0);
	for (int i = 0; i < names.n; i++)
		if (sma_named_free(g.a, names.name[i]) != 0)
			failure(&g.lost, "sma_named_free(%s): %s", names.name[i], strerror(errno));
	kx.t = NULL;
	kx.gd = NULL;
	rest.n = rest.used = 0;
	assert_int_equal(sma_walk(g.a, kill_collect_live, &rest), 0);
	g.in_flight += (long)rest.n;
	for (size_t i = 0; i < rest.n; i++)
		if (sma_free(g.a, rest.off[i]) != 0)
			failure(&g.lost, "sma_free(%#llx) of an object left in flight: %s",
				(unsigned long long)rest.off[i], strerror(errno));
	if (sma_recover(g.a) != 0 || sma_flush(g.a) != 0)
		failure(&g.recover_errors, "sma_recover / sma_flush at the end: %s", strerror(errno));
	if (sma_stats(g.a, &st[0]) != 0 || sma_stats(g.ro, &st[1]) != 0)
		fail_msg("sma_stats: %s", strerror(errno));
	for (int h = 0; h < 2; h++)
		if (st[h].live || st[h].used || st[h].free != st[h].heap_size ||
		    st[h].largest_free != st[h].heap_size)
			failure(&g.end_bad, "with everything freed the %s handle shows live %llu, "
				"used %zu, free %zu, largest %zu of heap_size %zu",
				h ? "read-only" : "writable", (unsigned long long)st[h].live,
				st[h].used, st[h].free, st[h].largest_free, st[h].heap_size);
	check_handle(g.ro, &g.check_after_ro, "at the end");
	check_handle(g.a, &g.check_after_rw, "at the end");
	if (!g.round_bad)
		g.end_ok++;
}

/* Ends the epoch's arena: emptied and checked, or (after a failure) just
 * removed. */
static void epoch_close(void)
{
	if (!g.round_bad)
		epoch_end();
	sma_close(g.ro);
	g.ro = NULL;
	if (g.round_bad) {
		t_untrack(g.a);
		sma_destroy(g.a);
	} else {
		t_destroy(g.a);
	}
	g.a = kx.a = NULL;
}

static void test_sigkills_at_random_instants_lose_nothing_and_hang_nobody(void **state)
{
	long want = kill_env_long("SMA_KILLS", 400) < 1 ? 1 : kill_env_long("SMA_KILLS", 400);
	const char *ka = getenv("SMA_KILL_ARENA");
	double t0 = kill_now();
	unsigned round_alarm;
	int stop = 0;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.seed = (uint64_t)kill_env_long("SMA_SEED", (long)time(NULL) ^ (long)getpid());
	g.rng = g.seed;
	g.keep_going = (int)kill_env_long("SMA_KILL_KEEP_GOING", 0);
	g.force_threads = (int)kill_env_long("SMA_KILL_THREADS", 0);
	if (g.force_threads < 0 || g.force_threads > THREADS)
		g.force_threads = 0;
	g.force_kind = !ka || !*ka ? -1 : !strcmp(ka, "tiny") ? A_TINY
		       : !strcmp(ka, "large") ? A_LARGE : A_MID;
	g.want = want;
	/* A bound per round instead of one for the whole test, so that a
	 * long soak runs; SMA_TEST_TIMEOUT, when set, bounds a round. */
	round_alarm = (unsigned)kill_env_long("SMA_TEST_TIMEOUT", ROUND_ALARM);
	if (round_alarm < 1 || round_alarm > ROUND_ALARM)
		round_alarm = ROUND_ALARM;
	printf("# seed %llu, %ld kills\n", (unsigned long long)g.seed, want);
	fflush(stdout);
	g.p = mmap(NULL, sizeof(*g.p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(g.p != MAP_FAILED);
	kx.p = g.p;
	while (g.kills < want && !stop) {
		long budget = g.kills + 40 + (long)(t_rand(&g.rng) % 80);

		epoch_begin();
		while (g.kills < want && g.kills < budget && !g.round_bad) {
			long n = 2 + (long)(t_rand(&g.rng) % 3);
			if (n > want - g.kills)
				n = want - g.kills;
			alarm(round_alarm); /* the test process itself must not hang */
			one_round((int)n);
			after_round();
			g.round++;
			g.rounds++;
		}
		if (g.round_bad)
			g.failed_rounds++;
		stop = g.round_bad && (!g.keep_going || g.failed_rounds >= MAX_FAILED);
		epoch_close();
		g.round_bad = 0;
		g.epoch++;
	}
	munmap(g.p, sizeof(*g.p));
	printf("# kill-fuzz: seed %llu; kills %ld (workers %ld with %ld threads, reclaimers %ld); "
	       "rounds %ld, arenas tiny/16M/64M %ld/%ld/%ld; hangs %ld; objects lost %ld; "
	       "handed out twice %ld; canaries damaged %ld; worker errors %ld; reclaim errors %ld; "
	       "check failures before recover rw/ro %ld/%ld, after %ld/%ld; mutex: killed holding "
	       "%ld, EOWNERDEAD %ld of %ld locks, broken %ld; ENOMEM answers %ld; in flight freed "
	       "%ld; free == heap_size at the end %ld of %ld arenas; %.1f s\n",
	       (unsigned long long)g.seed, g.kills, g.worker_kills, g.threads, g.reclaimer_kills,
	       g.rounds, g.epochs[0], g.epochs[1], g.epochs[2], g.hangs, g.lost, g.twice,
	       g.canaries, g.worker_errors, g.reclaimer_errors + g.recover_errors,
	       g.check_before_rw, g.check_before_ro, g.check_after_rw, g.check_after_ro,
	       g.killed_holding, g.ownerdead, g.locks, g.mutex_bad, g.enomem,
	       g.in_flight, g.end_ok, g.epoch, kill_now() - t0);
	fflush(stdout);
	if (g.failed_rounds)
		fail_msg("%ld failing rounds; the first: %s", g.failed_rounds, g.first);
}

/* ---- slots of the dead, reclaimed when needed ---------------------------------- */

struct slot_seen {
	pid_t pid;  /* the process looked for */
	int found;  /* it holds a slot */
	int dead;   /* slots held by processes that are gone */
	int held;   /* slots held */
};

static int see_slot(const struct sma_slot_info *s, void *arg)
{
	struct slot_seen *ss = arg;

	ss->held++;
	if (!s->alive)
		ss->dead++;
	if (s->pid == ss->pid && s->alive)
		ss->found = 1;
	return 0;
}

static int slot_worker(void *arg)
{
	int *ready = arg;
	uint64_t rng = (uint64_t)getpid();
	sma_off_t ring[16] = {0};
	char ch = 'r';

	alarm(WORKER_ALARM);
	for (int i = 0;; i++) {
		sma_off_t *o = &ring[i % 16];
		if (*o)
			T_REQUIRE(sma_free(g.a, *o) == 0);
		*o = sma_alloc(g.a, 1 + t_rand(&rng) % 256);
		T_REQUIRE(*o != SMA_NULL);
		if (i == 64) {
			/* Private memory after the slot was taken, as any
			 * program allocates: still the same process. */
			char *priv = malloc((size_t)4 << 20);
			if (priv)
				priv[0] = 1;
			T_REQUIRE(t_write_all(*ready, &ch, 1) == 0);
		}
	}
	return 0;
}

/*
 * A small arena has few slots.  Processes that take one and are killed,
 * many more than there are slots, with nobody calling sma_recover: each
 * new process still gets a slot (a dead one's, reclaimed), and at the end
 * sma_recover gives back everything but what they left live.
 */
static void test_slots_of_killed_processes_are_reclaimed_when_a_new_process_needs_one(void **state)
{
	static struct live_list rest;
	struct sma_info in;
	struct sma_stats fresh, st;
	struct slot_seen ss;
	int ready[2];

	(void)state;
	memset(&g, 0, sizeof(g));
	g.a = t_open_private(T_MIB(1));
	fresh = t_stats(g.a);
	assert_int_equal(sma_info(g.a, &in), 0);
	t_pipe(ready);
	for (unsigned i = 0; i < 4 * in.nslots + 4; i++) {
		pid_t pid = t_fork(slot_worker, &ready[1]);
		char ch;
		int wst;

		if (t_read_all(ready[0], &ch, 1) != 0)
			fail_msg("worker %u did not start working", i);
		/* A reclaim of dead slots (sma_stats does one) while it runs
		 * must leave its slot alone. */
		t_stats(g.a);
		memset(&ss, 0, sizeof(ss));
		ss.pid = pid;
		assert_int_equal(sma_slots_each(g.a, see_slot, &ss), 0);
		if (!ss.found)
			fail_msg("worker %u (pid %d), alive and working, holds no slot: %d held, "
				 "%d of them by dead processes", i, (int)pid, ss.held, ss.dead);
		assert_true(ss.held <= (int)in.nslots);
		kill_sleep_us((long)(t_rand(&g.rng) % 2000));
		kill(pid, SIGKILL);
		wst = t_wait(pid, WAIT_S);
		assert_int_not_equal(wst, -1);
		assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
		g.kills++;
	}
	close(ready[0]);
	close(ready[1]);
	assert_int_equal(sma_recover(g.a), 0);
	t_assert_check(g.a);
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(sma_slots_each(g.a, see_slot, &ss), 0);
	assert_int_equal(ss.dead, 0);
	rest.n = 0;
	assert_int_equal(sma_walk(g.a, kill_collect_live, &rest), 0);
	for (size_t i = 0; i < rest.n; i++)
		assert_int_equal(sma_free(g.a, rest.off[i]), 0);
	assert_int_equal(sma_flush(g.a), 0);
	st = t_stats(g.a);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.free, fresh.free);
	assert_int_equal(st.largest_free, fresh.heap_size);
	printf("# %ld processes killed holding slots of an arena of %u slots, none left without one\n",
	       g.kills, in.nslots);
	fflush(stdout);
	t_destroy(g.a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_sigkills_at_random_instants_lose_nothing_and_hang_nobody),
		T_TEST(test_slots_of_killed_processes_are_reclaimed_when_a_new_process_needs_one),
	};

	return T_RUN_GROUP(tests);
}
