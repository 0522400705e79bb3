/*
 * report.c -- the benchmark's table, its targets and its JSON.
 *
 * Every figure is the median of the completed repetitions of one
 * (workload, allocator) pair.  Ratios are the row's figures divided: for
 * ns/step and ns/object lower is better, for Msteps/s and fraction higher.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double cell_median(struct cell *c)
{
	double v[MAX_REPS];

	if (c->nok == 0)
		return c->median = NAN;
	memcpy(v, c->v, sizeof v[0] * (size_t)c->nok);
	qsort(v, (size_t)c->nok, sizeof v[0], cmp_double);
	c->median = c->nok % 2 ? v[c->nok / 2]
			       : (v[c->nok / 2 - 1] + v[c->nok / 2]) / 2;
	return c->median;
}

int bench_find(const struct bench *b, const char *id)
{
	for (int i = 0; i < b->nw; i++)
		if (strcmp(b->w[i].id, id) == 0)
			return i;
	return -1;
}

/* The median of workload id on allocator al, NAN when there is none. */
static double fig(const struct bench *b, const char *id, int al)
{
	int i = bench_find(b, id);

	return i < 0 ? NAN : b->cell[i][al].median;
}

/* W3-8 / W3 on allocator al: how the aggregate grows from two processes
 * to eight.  NAN when either is missing. */
static double scaling(const struct bench *b, int al)
{
	return fig(b, "W3-8", al) / fig(b, "W3", al);
}

/* One of a cell's sma counts (n) per 1000 allocations, NAN when not
 * counted. */
static double per_1k(const struct cell *c, int64_t n)
{
	if (n < 0 || c->counted_allocs == 0)
		return NAN;
	return 1000.0 * (double)n / (double)c->counted_allocs;
}

/* sma's figure of workload id per 1000 allocations: the system calls of
 * the lock and the semaphores (waits + semaphore calls), or, with locks
 * set, the lock acquisitions.  NAN when not counted. */
static double sma_per_1k(const struct bench *b, const char *id, int locks)
{
	int i = bench_find(b, id);
	const struct cell *c;

	if (i < 0)
		return NAN;
	c = &b->cell[i][AL_SMA];
	if (locks)
		return per_1k(c, c->counts.lock_ops);
	if (c->counts.lock_waits < 0)
		return NAN;
	return per_1k(c, c->counts.lock_waits + c->counts.sem_ops);
}

/* ---- Targets (issue 3) ------------------------------------------------------ */

struct target {
	const char *id;	      /* "W1" ... "sem-W4" */
	char text[160];	      /* the target and the figures it compares */
	double value, limit;  /* NAN when a figure is missing */
	int at_most;	      /* 1: value <= limit passes; 0: value >= limit */
	int info;	      /* 1: a figure shown, no target (limit NAN) */
};

static const char *status(const struct target *t)
{
	if (t->info)
		return isnan(t->value) ? "n/a" : "info";
	if (isnan(t->value) || isnan(t->limit))
		return "n/a";
	if (t->at_most ? t->value <= t->limit : t->value >= t->limit)
		return "PASS";
	return "MISS";
}

static int targets(const struct bench *b, struct target *t)
{
	double w1 = fig(b, "W1", AL_SMA);
	int n = 0;
	struct target *p;

	p = &t[n++];
	*p = (struct target){"W1", "", w1, 1.2 * fig(b, "W1", AL_JEMALLOC), 1, 0};
	snprintf(p->text, sizeof p->text,
		 "sma %.1f ns/step <= 1.2 x jemalloc = %.1f", p->value,
		 p->limit);
	p = &t[n++];
	*p = (struct target){"W2", "", fig(b, "W2", AL_SMA),
			     fig(b, "W2", AL_GLIBC), 1, 0};
	snprintf(p->text, sizeof p->text, "sma %.1f ns/step <= glibc %.1f",
		 p->value, p->limit);
	p = &t[n++];
	*p = (struct target){"W3", "", fig(b, "W3", AL_SMA), 1.6 * 1e3 / w1,
			     0, 0};
	snprintf(p->text, sizeof p->text,
		 "sma %.2f Msteps/s >= 1.6 x sma W1 (%.2f) = %.2f", p->value,
		 1e3 / w1, p->limit);
	p = &t[n++];
	*p = (struct target){"W3-8", "", scaling(b, AL_SMA),
			     scaling(b, AL_JEMALLOC), 0, 0};
	snprintf(p->text, sizeof p->text,
		 "sma W3-8/W3 %.2f >= jemalloc W3-8/W3 %.2f", p->value,
		 p->limit);
	p = &t[n++];
	*p = (struct target){"W4", "", fig(b, "W4", AL_SMA), 2.5 * w1, 1, 0};
	snprintf(p->text, sizeof p->text,
		 "sma %.1f ns/object <= 2.5 x sma W1 = %.1f", p->value,
		 p->limit);
	p = &t[n++];
	*p = (struct target){"W5", "", fig(b, "W5", AL_SMA), 0.98, 0, 0};
	snprintf(p->text, sizeof p->text, "sma filled %.4f >= %.2f",
		 p->value, p->limit);
	for (int k = 0; k < 2; k++) {
		const char *id = k ? "W6-1M" : "W6-1k";
		double x = k ? 1.3 : 1.2; /* a million live: misses dominate */

		p = &t[n++];
		*p = (struct target){id, "", fig(b, id, AL_SMA),
				     x * fig(b, id, AL_JEMALLOC), 1, 0};
		snprintf(p->text, sizeof p->text,
			 "sma %.1f ns/step <= %.1f x jemalloc = %.1f", p->value,
			 x, p->limit);
	}
	for (int k = 0; k < 2; k++) {
		const char *id = k ? "W2" : "W4";
		double limit = k ? 5 : 2;

		p = &t[n++];
		*p = (struct target){k ? "sem-W2" : "sem-W4", "",
				     sma_per_1k(b, id, 0), limit, 1, 0};
		snprintf(p->text, sizeof p->text,
			 "sma %s %.2f semaphore calls + lock waits per 1000 "
			 "allocations <= %.0f", id, p->value, limit);
	}
	p = &t[n++];
	*p = (struct target){"lock", "", sma_per_1k(b, "W1", 1), NAN, 1, 1};
	snprintf(p->text, sizeof p->text,
		 "sma W1 %.2f lock acquisitions per 1000 allocations (most "
		 "make no system call)", p->value);
	return n;
}

/* ---- The table ----------------------------------------------------------------- */

static void put_num(double v, int width)
{
	if (isnan(v))
		printf(" %*s", width, "-");
	else if (fabs(v) >= 1000)
		printf(" %*.0f", width, v);
	else if (fabs(v) >= 10)
		printf(" %*.1f", width, v);
	else
		printf(" %*.3f", width, v);
}

static void put_ratio(double a, double b)
{
	if (isnan(a) || isnan(b) || b == 0)
		printf(" %10s", "-");
	else
		printf(" %9.2fx", a / b);
}

void report_table(const struct bench *b)
{
	struct target t[16];
	int nt, any;

	printf("sma benchmark: sma %s", b->al[AL_SMA].version);
	for (int a = 0; a < AL_COUNT; a++)
		if (a != AL_SMA && b->al[a].enabled)
			printf(", %s %s", a == AL_BOOST ? "Boost.Interprocess"
							: b->al[a].name,
			       b->al[a].version);
	printf("\nmachine: %s, %ld cores online, Linux %s\n", b->cpu,
	       b->cores, b->kernel);
	printf("command: %s\n", b->command);
	printf("seed %llu, median of %d repetition%s%s\n\n",
	       (unsigned long long)b->seed, b->reps, b->reps == 1 ? "" : "s",
	       b->quick ? " (quick: steps / 20)" : "");

	printf("%-6s %-22s %-10s", "", "workload", "unit");
	for (int a = 0; a < AL_COUNT; a++)
		if (b->al[a].enabled)
			printf(" %9s", b->al[a].name);
	printf(" %10s %10s %10s\n", "sma/jem", "sma/glibc", "boost/jem");
	for (int i = 0; i < b->nw; i++) {
		const struct cell *c = b->cell[i];
		int ran = 0;

		for (int a = 0; a < AL_COUNT; a++)
			ran |= c[a].runs > 0;
		if (!ran)
			continue;
		printf("%-6s %-22s %-10s", b->w[i].id, b->w[i].title,
		       b->w[i].unit);
		for (int a = 0; a < AL_COUNT; a++)
			if (b->al[a].enabled) {
				if (c[a].runs && !c[a].nok)
					printf(" %9s", "error");
				else
					put_num(c[a].median, 9);
			}
		put_ratio(c[AL_SMA].median, c[AL_JEMALLOC].median);
		put_ratio(c[AL_SMA].median, c[AL_GLIBC].median);
		put_ratio(c[AL_BOOST].median, c[AL_JEMALLOC].median);
		printf("\n");
	}
	printf("\nW1, W2, W6: ns per step (free a random slot, allocate"
	       " its replacement, check and tag).\n"
	       "W3, W3-8: million steps per second of two (eight)"
	       " processes together; sma and\n    boost share one arena,"
	       " glibc and jemalloc have a heap per process.\n"
	       "W4: ns per object allocated by one process and freed by"
	       " another (glibc and\n    jemalloc: by another thread).\n"
	       "W5: requested bytes / segment bytes at the first failed"
	       " allocation.\n");

	any = 0;
	for (int a = 0; a < AL_COUNT; a++)
		if (b->al[a].enabled && !isnan(scaling(b, a))) {
			printf("%s %s %.2f", any ? "," : "\nW3-8 / W3, eight"
			       " processes against two (aggregate):",
			       b->al[a].name, scaling(b, a));
			any = 1;
		}
	if (any)
		printf("\n");
	any = 0;
	for (int i = 0; i < b->nw; i++) {
		const struct cell *c = &b->cell[i][AL_SMA];

		if (isnan(per_1k(c, c->counts.lock_ops)))
			continue;
		if (!any)
			printf("\nsma per 1000 allocations: lock acquisitions,"
			       " of which waited (slept in the\nkernel), and"
			       " System V semaphore system calls\n"
			       "  %-6s %12s %12s %12s\n", "", "lock taken",
			       "lock waits", "sem calls");
		printf("  %-6s", b->w[i].id);
		put_num(per_1k(c, c->counts.lock_ops), 12);
		put_num(per_1k(c, c->counts.lock_waits), 12);
		put_num(per_1k(c, c->counts.sem_ops), 12);
		printf("\n");
		any = 1;
	}
	printf("\nfailed allocations, all repetitions:");
	any = 0;
	for (int i = 0; i < b->nw; i++)
		for (int a = 0; a < AL_COUNT; a++)
			if (b->cell[i][a].fails && b->w[i].shape != SHAPE_FILL) {
				printf(" %s %s %llu/%llu;", b->w[i].id,
				       b->al[a].name,
				       (unsigned long long)b->cell[i][a].fails,
				       (unsigned long long)b->cell[i][a].allocs);
				any = 1;
			}
	printf("%s\n", any ? "" : " none (W5 ends at its first)");
	any = 0;
	for (int i = 0; i < b->nw; i++)
		for (int a = 0; a < AL_COUNT; a++)
			if (b->cell[i][a].err[0]) {
				if (!any)
					printf("errors:\n");
				printf("  %s %s (%d of %d runs): %s\n",
				       b->w[i].id, b->al[a].name,
				       b->cell[i][a].runs - b->cell[i][a].nok,
				       b->cell[i][a].runs, b->cell[i][a].err);
				any = 1;
			}

	printf("\ntargets\n");
	nt = targets(b, t);
	for (int k = 0; k < nt; k++)
		printf("  %-4s %-6s %s\n", status(&t[k]), t[k].id,
		       strcmp(status(&t[k]), "n/a") ? t[k].text
						     : "(a figure is missing)");
}

/* ---- JSON ------------------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void json_num(double v)
{
	if (isnan(v) || isinf(v))
		printf("null");
	else
		printf("%.6g", v);
}

static void json_ratios(const struct bench *b, int i, int to)
{
	int first = 1;

	printf("{");
	for (int a = 0; a < AL_COUNT; a++) {
		if (a == to || !b->al[a].enabled || !b->al[to].enabled)
			continue;
		printf("%s\"%s\": ", first ? "" : ", ", b->al[a].name);
		json_num(b->cell[i][a].median / b->cell[i][to].median);
		first = 0;
	}
	printf("}");
}

void report_json(const struct bench *b)
{
	struct target t[16];
	int nt = targets(b, t), first = 1;

	printf("{\n  \"benchmark\": \"sma_bench\",\n  \"machine\": {\"cpu\": ");
	json_str(b->cpu);
	printf(", \"cores\": %ld, \"kernel\": ", b->cores);
	json_str(b->kernel);
	printf("},\n  \"command\": ");
	json_str(b->command);
	printf(",\n  \"seed\": %llu, \"reps\": %d, \"quick\": %s,\n",
	       (unsigned long long)b->seed, b->reps,
	       b->quick ? "true" : "false");
	printf("  \"allocators\": {");
	for (int a = 0; a < AL_COUNT; a++)
		if (b->al[a].enabled) {
			printf("%s\"%s\": {\"version\": ", first ? "" : ", ",
			       b->al[a].name);
			json_str(b->al[a].version);
			printf("}");
			first = 0;
		}
	printf("},\n  \"workloads\": [\n");
	first = 1;
	for (int i = 0; i < b->nw; i++) {
		const struct workload *w = &b->w[i];
		int firsta = 1, ran = 0;

		for (int a = 0; a < AL_COUNT; a++)
			ran |= b->cell[i][a].runs > 0;
		if (!ran)
			continue;
		printf("%s    {\"id\": \"%s\", \"title\": ", first ? "" : ",\n",
		       w->id);
		json_str(w->title);
		printf(", \"unit\": \"%s\", \"live\": %u, \"steps\": %llu, "
		       "\"arena_bytes\": %zu,\n     \"results\": {",
		       w->unit, w->live, (unsigned long long)w->steps, w->arena);
		for (int a = 0; a < AL_COUNT; a++) {
			const struct cell *c = &b->cell[i][a];

			if (!c->runs)
				continue;
			printf("%s\n       \"%s\": {\"median\": ",
			       firsta ? "" : ",", b->al[a].name);
			json_num(c->median);
			printf(", \"runs\": [");
			for (int k = 0; k < c->nok; k++) {
				printf(k ? ", " : "");
				json_num(c->v[k]);
			}
			printf("], \"failed_runs\": %d, \"allocs\": %llu, "
			       "\"failed_allocs\": %llu,\n        "
			       "\"lock_ops_per_1k_allocs\": ",
			       c->runs - c->nok,
			       (unsigned long long)c->allocs,
			       (unsigned long long)c->fails);
			json_num(per_1k(c, c->counts.lock_ops));
			printf(", \"lock_waits_per_1k_allocs\": ");
			json_num(per_1k(c, c->counts.lock_waits));
			printf(", \"sem_ops_per_1k_allocs\": ");
			json_num(per_1k(c, c->counts.sem_ops));
			printf(", \"error\": ");
			if (c->err[0])
				json_str(c->err);
			else
				printf("null");
			printf("}");
			firsta = 0;
		}
		printf("},\n     \"ratio_to_jemalloc\": ");
		json_ratios(b, i, AL_JEMALLOC);
		printf(", \"ratio_to_glibc\": ");
		json_ratios(b, i, AL_GLIBC);
		printf("}");
		first = 0;
	}
	printf("\n  ],\n  \"w3_8_over_w3\": {");
	first = 1;
	for (int a = 0; a < AL_COUNT; a++)
		if (b->al[a].enabled) {
			printf("%s\"%s\": ", first ? "" : ", ", b->al[a].name);
			json_num(scaling(b, a));
			first = 0;
		}
	printf("},\n  \"targets\": [\n");
	for (int k = 0; k < nt; k++) {
		printf("    {\"id\": \"%s\", \"status\": \"%s\", \"value\": ",
		       t[k].id, status(&t[k]));
		json_num(t[k].value);
		printf(", \"limit\": ");
		json_num(t[k].limit);
		printf(", \"text\": ");
		json_str(t[k].text);
		printf("}%s\n", k + 1 < nt ? "," : "");
	}
	printf("  ]\n}\n");
}
