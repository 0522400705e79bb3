/*
 * cmd_watch.c -- sma stats --interval SECONDS [--count N]: the figures of
 * an arena as they move, one aligned line per interval under a header, like
 * vmstat: used, free and largest free (sma_stats), live objects, the
 * allocations, frees and arena lock acquisitions of the interval per
 * second (sma_stats, sma_info), and the repairs of dead holders' operations
 * so far.  As vmstat's, the first line's rates are averages since the arena
 * was created.  With --json each line is one JSON object, which also has
 * the lock's waits and the semaphore system calls (the text line has no
 * room for them in 80 columns).
 *
 * The arena stays attached read-only between lines, and no lock is taken.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tool.h"

/* The figures at one moment. */
struct sample {
	struct timespec mono; /* CLOCK_MONOTONIC, for the intervals */
	double wall;	      /* seconds since the epoch, for --json */
	struct sma_stats st;
	struct sma_info in;
};

static double ts_sec(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static int take(sma_t *a, struct sample *s)
{
	struct timespec w;

	clock_gettime(CLOCK_MONOTONIC, &s->mono);
	clock_gettime(CLOCK_REALTIME, &w);
	s->wall = ts_sec(&w);
	if (sma_stats(a, &s->st) < 0 || sma_info(a, &s->in) < 0)
		return -1;
	return 0;
}

/* Per second over dt seconds, 0 for a counter that went back. */
static double rate(uint64_t now, uint64_t before, double dt)
{
	return now >= before && dt > 0 ? (double)(now - before) / dt : 0.0;
}

/* "12", "0.5": a rate in at most w columns. */
static const char *fmt_rate(char buf[32], double v)
{
	snprintf(buf, 32, v < 9.95 ? "%.1f" : "%.0f", v);
	return buf;
}

static void header(void)
{
	printf("%8s %8s %8s %10s %10s %10s %10s %7s\n", "USED", "FREE",
	       "LARGEST", "LIVE", "ALLOCS/S", "FREES/S", "LOCKOPS/S",
	       "REPAIRS");
}

/* One line: s against prev, or (prev NULL) since the arena's creation. */
static void line(const struct opts *o, const struct sample *s,
		 const struct sample *prev)
{
	uint64_t a0 = 0, f0 = 0, l0 = 0, w0 = 0, s0 = 0;
	double dt, ra, rf, rl;
	char b1[32], b2[32], b3[32], r1[32], r2[32], r3[32];
	struct json j;

	if (prev) {
		dt = ts_sec(&s->mono) - ts_sec(&prev->mono);
		a0 = prev->st.allocs;
		f0 = prev->st.frees;
		l0 = prev->in.lock_ops;
		w0 = prev->in.lock_waits;
		s0 = prev->in.sem_ops;
	} else {
		dt = s->in.created > 0 ? s->wall - (double)s->in.created : 0;
		if (dt < 1)
			dt = 1;
	}
	ra = rate(s->st.allocs, a0, dt);
	rf = rate(s->st.frees, f0, dt);
	rl = rate(s->in.lock_ops, l0, dt);
	if (o->json) {
		json_init(&j, stdout);
		json_obj(&j, NULL, 1);
		json_dbl(&j, "time", s->wall);
		json_dbl(&j, "interval", dt);
		json_u64(&j, "used", s->st.used);
		json_u64(&j, "free", s->st.free);
		json_u64(&j, "largest_free", s->st.largest_free);
		json_u64(&j, "live", s->st.live);
		json_u64(&j, "allocs", s->st.allocs);
		json_u64(&j, "frees", s->st.frees);
		json_u64(&j, "lock_ops", s->in.lock_ops);
		json_u64(&j, "lock_waits", s->in.lock_waits);
		json_u64(&j, "sem_ops", s->in.sem_ops);
		json_u64(&j, "repairs", s->in.repairs);
		json_dbl(&j, "allocs_per_s", ra);
		json_dbl(&j, "frees_per_s", rf);
		json_dbl(&j, "lock_ops_per_s", rl);
		json_dbl(&j, "lock_waits_per_s",
			 rate(s->in.lock_waits, w0, dt));
		json_dbl(&j, "sem_ops_per_s", rate(s->in.sem_ops, s0, dt));
		json_end(&j);
		json_finish(&j);
	} else {
		printf("%8s %8s %8s %10" PRIu64 " %10s %10s %10s %7" PRIu64 "\n",
		       fmt_size(b1, s->st.used), fmt_size(b2, s->st.free),
		       fmt_size(b3, s->st.largest_free), s->st.live,
		       fmt_rate(r1, ra), fmt_rate(r2, rf), fmt_rate(r3, rl),
		       s->in.repairs);
	}
	fflush(stdout);
}

/* Sleeps until the monotonic time t. */
static void sleep_until(const struct timespec *t)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

int stats_watch(const struct cmd *c, const struct opts *o, sma_t *a)
{
	struct sample s[2];
	struct timespec next, now;
	unsigned long n;
	long step_ns = (long)((o->interval - (double)(long)o->interval) * 1e9);
	time_t step_s = (time_t)o->interval;
	int cur = 0;

	if (take(a, &s[cur]) < 0) {
		fail(c, "%s: reading the figures: %s", target_name(o),
		     errstr(errno));
		return EXIT_FAIL;
	}
	if (!o->json)
		header();
	line(o, &s[cur], NULL);
	next = s[cur].mono;
	for (n = 1; !o->has_count || n < o->count; n++) {
		next.tv_sec += step_s;
		next.tv_nsec += step_ns;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		/* Fallen behind (a stopped terminal, say): start afresh. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ts_sec(&next) < ts_sec(&now))
			next = now;
		sleep_until(&next);
		if (take(a, &s[!cur]) < 0) {
			fail(c, "%s: reading the figures: %s", target_name(o),
			     errstr(errno));
			return EXIT_FAIL;
		}
		cur = !cur;
		line(o, &s[cur], &s[!cur]);
		if (s[cur].in.destroyed) {
			fail(c, "%s: the arena has been destroyed: no more "
				"figures", target_name(o));
			return EXIT_OK;
		}
	}
	return EXIT_OK;
}
