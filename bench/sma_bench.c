/*
 * sma_bench -- sma against glibc malloc, jemalloc and Boost.Interprocess.
 *
 *   sma_bench [--reps N] [--quick] [--json] [--seed S]
 *             [--alloc glibc,jemalloc,sma,boost] [--workload W1,W2,...]
 *             [--jemalloc LIBRARY] [--timeout SECONDS]
 *
 * Every repetition of every (workload, allocator) pair runs in a process
 * made for it, with the same seed, so that no allocator inherits another's
 * heap, and a crash or a hang of one run is reported instead of ending the
 * benchmark.  The repetitions are interleaved (rep 1 of every pair, then
 * rep 2, ...) so that a noisy moment on the machine spreads over all.
 *
 * How each allocator gets its process:
 *
 * - sma and Boost: this process creates the segment (IPC_PRIVATE, mode
 *   0600), forks the measuring process, which inherits the attachment,
 *   and destroys the segment once it has ended, also on SIGINT/SIGTERM and
 *   on every failure, so that no segment or semaphore set is left behind.
 *
 * - glibc and jemalloc: the measuring process re-executes this program
 *   (/proc/self/exe --child ...); for jemalloc with LD_PRELOAD set to the
 *   library, so that malloc *is* jemalloc in that process and nowhere else,
 *   and the same compiled loop measures both.  The program is not linked
 *   with jemalloc: Debian's libjemalloc exports malloc itself, so linking
 *   it would replace malloc for every allocator measured here.  Loading it
 *   with dlopen(RTLD_LOCAL) and calling dlsym'd malloc/free would keep it
 *   local, but jemalloc uses initial-exec TLS and glibc refuses to dlopen
 *   it ("cannot allocate memory in static TLS block").  Preloading it into
 *   a process of its own is also how jemalloc is used in practice.
 */
#define _GNU_SOURCE
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MIB ((size_t)1 << 20)

struct options {
	int reps;		/* repetitions of each pair */
	int quick;		/* a short smoke run */
	int json;		/* print JSON instead of the table */
	uint64_t seed;
	const char *jemalloc;	/* the library preloaded for jemalloc */
	unsigned timeout;	/* seconds one run may take */
	const char *allocs;	/* names to measure, NULL for all */
	const char *workloads;	/* workload ids, NULL for all */
};

static struct options opt = {
	.reps = 5,
	.seed = 42,
	.jemalloc = "libjemalloc.so.2",
	.timeout = 600,
};

/* ---- The workloads (issue 3) ----------------------------------------------- */

static int workloads_init(struct workload *w, int quick)
{
	static const struct workload all[] = {
		{"W1", "small churn, 10k live", "ns/step", SHAPE_CHURN,
		 DIST_SMALL, 10000, 3000000, 64 * MIB, 0, 0, 0, 0},
		{"W2", "mixed churn, 50k live", "ns/step", SHAPE_CHURN,
		 DIST_MIXED, 50000, 500000, 1024 * MIB, 0, 0, 0, 0},
		{"W3", "W1 in 2 processes", "Msteps/s", SHAPE_PROCS,
		 DIST_SMALL, 10000, 1000000, 64 * MIB, 1, 0, 0, 2},
		/* W3's steps over 8 processes: the same work in all */
		{"W3-8", "W1 in 8 processes", "Msteps/s", SHAPE_PROCS,
		 DIST_SMALL, 10000, 1000000 * 2 / 8, 64 * MIB, 1, 0, 0, 8},
		{"W4", "cross-process free", "ns/object", SHAPE_RING,
		 DIST_SMALL, 0, 1000000, 64 * MIB, 0, 0, 0, 2},
		{"W5", "fill 64 MiB", "fraction", SHAPE_FILL, DIST_PAGE, 0, 0,
		 64 * MIB, 1, 1, 0, 0},
		{"W6-1k", "W1 loop, 1k live", "ns/step", SHAPE_CHURN,
		 DIST_SMALL, 1000, 3000000, 64 * MIB, 0, 0, 0, 0},
		{"W6-1M", "W1 loop, 1M live", "ns/step", SHAPE_CHURN,
		 DIST_SMALL, 1000000, 3000000, 512 * MIB, 0, 0, 0, 0},
		{"W7", "W2 growing 1 MiB->1 GiB", "ns/step", SHAPE_CHURN,
		 DIST_MIXED, 50000, 500000, 1 * MIB, 0, 1, 1024 * MIB, 0},
	};
	int n = (int)(sizeof all / sizeof all[0]);

	for (int i = 0; i < n; i++) {
		w[i] = all[i];
		if (quick)
			w[i].steps /= 20;
	}
	return n;
}

/* ---- Measuring processes ---------------------------------------------------- */

static volatile sig_atomic_t got_signal; /* SIGINT or SIGTERM, 0 if none */
static volatile sig_atomic_t child_pgid; /* the running measurement, 0 none */
static pid_t parent_pid;

/* Ends the running measurement at once; the main loop then cleans up. */
static void on_signal(int sig)
{
	got_signal = sig;
	if (child_pgid > 0)
		kill(-child_pgid, SIGKILL);
}

/*
 * In a new measuring process: its own process group (so that one kill
 * ends it and its workers), default signals, death with its parent, and a
 * time limit that survives exec.
 */
static void child_setup(void)
{
	setpgid(0, 0);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)
		_exit(1);
	alarm(opt.timeout);
}

static void write_result(int fd, const struct run_result *r)
{
	const char *p = (const char *)r;
	size_t left = sizeof *r;

	while (left > 0) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

/*
 * Reads the result from fd and reaps pid.  A process that died before it
 * wrote one is reported with how it died.
 */
static void collect(pid_t pid, int fd, struct run_result *r)
{
	char *p = (char *)r;
	size_t got = 0;
	int st = 0;

	while (got < sizeof *r) {
		ssize_t n = read(fd, p + got, sizeof *r - got);

		if (n < 0 && errno == EINTR && !got_signal)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		if (got_signal)
			kill(-pid, SIGKILL);
	child_pgid = 0;
	if (got == sizeof *r)
		return;
	memset(r, 0, sizeof *r);
	if (WIFSIGNALED(st))
		snprintf(r->err, sizeof r->err, "the run died of %s%s",
			 strsignal(WTERMSIG(st)),
			 WTERMSIG(st) == SIGALRM ? " (timed out)" : "");
	else
		snprintf(r->err, sizeof r->err,
			 "the run ended with status %d before reporting",
			 WEXITSTATUS(st));
}

/* Starts a measuring process; returns its pid in the parent, 0 in it. */
static pid_t start(int fds[2])
{
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child_setup();
		return 0;
	}
	setpgid(pid, pid);
	child_pgid = pid;
	if (got_signal)
		kill(-pid, SIGKILL);
	close(fds[1]);
	return pid;
}

/* glibc or jemalloc: this program again, with jemalloc preloaded or not. */
static void run_local(int al, int wi, struct run_result *r)
{
	int fds[2];
	pid_t pid = start(fds);

	if (pid < 0) {
		snprintf(r->err, sizeof r->err, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		char swi[16], sseed[32], squick[8], sfd[16];
		char *argv[] = {"sma_bench", "--child",
				al == AL_JEMALLOC ? "jemalloc" : "glibc",
				swi, sseed, squick, sfd, NULL};

		snprintf(swi, sizeof swi, "%d", wi);
		snprintf(sseed, sizeof sseed, "%llu",
			 (unsigned long long)opt.seed);
		snprintf(squick, sizeof squick, "%d", opt.quick);
		snprintf(sfd, sizeof sfd, "%d", fds[1]);
		if (al == AL_JEMALLOC)
			setenv("LD_PRELOAD", opt.jemalloc, 1);
		else
			unsetenv("LD_PRELOAD");
		execv("/proc/self/exe", argv);
		snprintf(r->err, sizeof r->err, "exec: %s", strerror(errno));
		write_result(fds[1], r);
		_exit(127);
	}
	collect(pid, fds[0], r);
}

/* The re-executed process of run_local. */
static int child_main(int argc, char **argv)
{
	struct run_result r = {0};
	struct workload w[MAX_WORKLOADS];
	struct heap h = {.kind = HEAP_MALLOC};
	void *mallctl_fn = dlsym(RTLD_DEFAULT, "mallctl");
	int jemalloc, wi, fd, nw;

	if (argc != 7)
		return 2;
	jemalloc = strcmp(argv[2], "jemalloc") == 0;
	wi = atoi(argv[3]);
	opt.seed = strtoull(argv[4], NULL, 10);
	nw = workloads_init(w, atoi(argv[5]));
	fd = atoi(argv[6]);

	if (jemalloc && !mallctl_fn) {
		snprintf(r.err, sizeof r.err,
			 "malloc is not jemalloc: could not preload %s",
			 getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "it");
	} else if (!jemalloc && mallctl_fn) {
		snprintf(r.err, sizeof r.err, "malloc is not glibc's");
	} else if (jemalloc) {
		int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
			(int (*)(const char *, void *, size_t *, void *,
				 size_t))mallctl_fn;
		const char *v = "?";
		size_t len = sizeof v;

		mallctl("version", &v, &len, NULL, 0);
		snprintf(r.version, sizeof r.version, "%.*s",
			 (int)strcspn(v, "-"), v); /* "5.3.0-0-g54ea..." */
		r.ok = 1;
	} else {
		snprintf(r.version, sizeof r.version, "%s",
			 gnu_get_libc_version());
		r.ok = 1;
	}
	if (r.ok && wi >= 0 && wi < nw) {
		char version[sizeof r.version];

		memcpy(version, r.version, sizeof version);
		run_workload(&h, &w[wi], opt.seed, &r);
		memcpy(r.version, version, sizeof version);
	}
	write_result(fd, &r);
	return 0;
}

/* The segment of the running sma or Boost measurement, for cleanup. */
static sma_t *cur_sma;
static struct bench_boost *cur_boost;

static void destroy_segments(void)
{
	if (cur_sma)
		sma_destroy(cur_sma);
	cur_sma = NULL;
	if (cur_boost)
		bb_destroy(cur_boost);
	cur_boost = NULL;
}

static int first_problem(const char *problem, void *arg)
{
	snprintf(arg, 200, "sma_check after the run: %s", problem);
	return 1;
}

/* sma or Boost: a new segment, a forked measuring process. */
static void run_shared(int al, const struct workload *w, struct run_result *r)
{
	struct heap h = {.kind = al == AL_SMA ? HEAP_SMA : HEAP_BOOST};
	int fds[2];
	pid_t pid;

	if (al == AL_SMA) {
		cur_sma = sma_open_key(IPC_PRIVATE, SMA_CREATE, w->arena, 0600);
		if (!cur_sma) {
			snprintf(r->err, sizeof r->err,
				 "sma_open_key(%zu MiB): %s", w->arena / MIB,
				 strerror(errno));
			return;
		}
		if (w->limit && sma_set_limit(cur_sma, w->limit) != 0) {
			snprintf(r->err, sizeof r->err, "sma_set_limit: %s",
				 strerror(errno));
			return;
		}
		h.sma = cur_sma;
	} else {
		cur_boost = bb_create(w->arena);
		if (!cur_boost) {
			snprintf(r->err, sizeof r->err,
				 "Boost could not create %zu MiB",
				 w->arena / MIB);
			return;
		}
		h.bb = cur_boost;
		h.bbase = bb_base(cur_boost);
	}
	pid = start(fds);
	if (pid < 0) {
		snprintf(r->err, sizeof r->err, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		run_workload(&h, w, opt.seed, r);
		write_result(fds[1], r);
		if (al == AL_SMA)
			sma_close(h.sma);
		_exit(0);
	}
	collect(pid, fds[0], r);
	if (r->ok && al == AL_SMA && w->limit) {
		struct sma_info in;
		struct sma_stats st;
		if (sma_info(cur_sma, &in) == 0 && sma_stats(cur_sma, &st) == 0)
			printf("%s: the arena grew to %u segments, %zu MiB\n",
			       w->id, in.nsegs, st.size / MIB);
	}
	if (r->ok && al == AL_SMA && !got_signal && sma_check(cur_sma) != 0) {
		r->ok = 0;
		snprintf(r->err, sizeof r->err, "sma_check after the run: %s",
			 strerror(errno));
		sma_check_report(cur_sma, first_problem, r->err);
	}
out:
	destroy_segments();
}

/* ---- The whole run ------------------------------------------------------------ */

static int listed(const char *list, const char *name, int prefix)
{
	size_t n = strlen(name);

	if (!list)
		return 1;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if ((len == n || (prefix && len < n && name[len] == '-')) &&
		    strncmp(p, name, len) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

static void machine(struct bench *b)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	struct utsname u;

	snprintf(b->cpu, sizeof b->cpu, "unknown");
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon += 1 + (colon[1] == ' ');
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(b->cpu, sizeof b->cpu, "%s", colon);
			break;
		}
	}
	if (f)
		fclose(f);
	b->cores = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(b->kernel, sizeof b->kernel, "%s",
		 uname(&u) == 0 ? u.release : "?");
}

static void command_line(struct bench *b, int argc, char **argv)
{
	size_t at = 0;

	for (int i = 0; i < argc && at < sizeof b->command; i++)
		at += (size_t)snprintf(b->command + at, sizeof b->command - at,
				       strchr(argv[i], ' ') ? "%s'%s'" : "%s%s",
				       i ? " " : "", argv[i]);
}

/* Asks a glibc or jemalloc process what it is; 0 when it is usable. */
static int probe(struct bench *b, int al)
{
	struct run_result r = {0};

	run_local(al, -1, &r);
	if (!r.ok) {
		fprintf(stderr, "sma_bench: %s left out: %s\n",
			b->al[al].name, r.err);
		return -1;
	}
	snprintf(b->al[al].version, sizeof b->al[al].version, "%s",
		 r.version);
	return 0;
}

static void record(struct cell *c, const struct run_result *r)
{
	c->runs++;
	if (!r->ok) {
		if (!c->err[0])
			snprintf(c->err, sizeof c->err, "%s", r->err);
		return;
	}
	c->v[c->nok++] = r->value;
	c->allocs += r->allocs;
	c->fails += r->fails;
	if (r->counts.lock_ops >= 0) {
		if (c->counts.lock_ops < 0)
			c->counts = (struct sma_counts){0, 0, 0};
		c->counts.lock_ops += r->counts.lock_ops;
		c->counts.lock_waits += r->counts.lock_waits;
		c->counts.sem_ops += r->counts.sem_ops;
		c->counted_allocs += r->allocs;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sma_bench [--reps N] [--quick] [--json] [--seed S]\n"
		"                 [--alloc glibc,jemalloc,sma,boost] "
		"[--workload W1,...,W7]\n"
		"                 [--jemalloc LIBRARY] [--timeout SECONDS]\n");
}

static int parse(int argc, char **argv)
{
	int reps_given = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quick") == 0) {
			opt.quick = 1;
		} else if (strcmp(a, "--json") == 0) {
			opt.json = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (!v) {
			usage(stderr);
			return -1;
		} else if (strcmp(a, "--reps") == 0) {
			opt.reps = atoi(v), reps_given = 1, i++;
		} else if (strcmp(a, "--seed") == 0) {
			opt.seed = strtoull(v, NULL, 0), i++;
		} else if (strcmp(a, "--alloc") == 0) {
			opt.allocs = v, i++;
		} else if (strcmp(a, "--workload") == 0) {
			opt.workloads = v, i++;
		} else if (strcmp(a, "--jemalloc") == 0) {
			opt.jemalloc = v, i++;
		} else if (strcmp(a, "--timeout") == 0) {
			opt.timeout = (unsigned)atoi(v), i++;
		} else {
			usage(stderr);
			return -1;
		}
	}
	if (opt.quick && !reps_given)
		opt.reps = 1;
	if (opt.reps < 1 || opt.reps > MAX_REPS) {
		fprintf(stderr, "sma_bench: --reps is 1 to %d\n", MAX_REPS);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct sigaction sa = {.sa_handler = on_signal};
	int total = 0, done = 0, failed = 0, tty = isatty(2);

	parent_pid = getpid();
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	if (parse(argc, argv) != 0)
		return 2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: waits return EINTR */
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	b.nw = workloads_init(b.w, opt.quick);
	b.reps = opt.reps;
	b.quick = opt.quick;
	b.seed = opt.seed;
	machine(&b);
	command_line(&b, argc, argv);
	b.al[AL_GLIBC].name = "glibc";
	b.al[AL_JEMALLOC].name = "jemalloc";
	b.al[AL_SMA].name = "sma";
	b.al[AL_BOOST].name = "boost";
	for (int a = 0; a < AL_COUNT; a++)
		b.al[a].enabled = listed(opt.allocs, b.al[a].name, 0);
#if !defined(HAVE_BOOST)
	b.al[AL_BOOST].enabled = 0;
#else
	snprintf(b.al[AL_BOOST].version, sizeof b.al[0].version, "%s",
		 bb_version());
#endif
	snprintf(b.al[AL_SMA].version, sizeof b.al[0].version, "%s",
		 sma_version());
	for (int a = AL_GLIBC; a <= AL_JEMALLOC; a++)
		if (b.al[a].enabled && probe(&b, a) != 0)
			b.al[a].enabled = 0;

	for (int wi = 0; wi < b.nw; wi++)
		for (int a = 0; a < AL_COUNT; a++) {
			b.cell[wi][a].counts = (struct sma_counts){-1, -1, -1};
			b.cell[wi][a].median = NAN;
			if (b.al[a].enabled && listed(opt.workloads, b.w[wi].id, 1) &&
			    !(b.w[wi].shared_only && a <= AL_JEMALLOC))
				total++;
		}
	total *= opt.reps;

	for (int rep = 0; rep < opt.reps && !got_signal; rep++)
		for (int wi = 0; wi < b.nw && !got_signal; wi++) {
			const struct workload *w = &b.w[wi];

			if (!listed(opt.workloads, w->id, 1))
				continue;
			for (int a = 0; a < AL_COUNT && !got_signal; a++) {
				struct run_result r = {0};

				if (!b.al[a].enabled ||
				    (w->shared_only && a <= AL_JEMALLOC))
					continue;
				if (tty)
					fprintf(stderr,
						"\r[%3d/%d] %-6s %-8s rep %d/%d ",
						++done, total, w->id,
						b.al[a].name, rep + 1,
						opt.reps);
				if (a <= AL_JEMALLOC)
					run_local(a, wi, &r);
				else
					run_shared(a, w, &r);
				if (got_signal)
					break;
				if (!r.ok)
					failed = 1;
				record(&b.cell[wi][a], &r);
			}
		}
	if (tty)
		fprintf(stderr, "\r%60s\r", "");
	if (got_signal) {
		destroy_segments();
		fprintf(stderr, "sma_bench: interrupted, segments removed\n");
		signal(got_signal, SIG_DFL);
		raise(got_signal);
		return 128 + got_signal;
	}
	for (int wi = 0; wi < b.nw; wi++)
		for (int a = 0; a < AL_COUNT; a++)
			cell_median(&b.cell[wi][a]);
	if (opt.json)
		report_json(&b);
	else
		report_table(&b);
	return failed;
}

#if !defined(HAVE_BOOST)
/* Without Boost the loops still name these; they are never reached. */
struct bench_boost *bb_create(size_t size) { return NULL; }
void bb_destroy(struct bench_boost *bb) {}
char *bb_base(struct bench_boost *bb) { return NULL; }
size_t bb_size(struct bench_boost *bb) { return 0; }
uint64_t bb_alloc(struct bench_boost *bb, size_t n) { return 0; }
void bb_free(struct bench_boost *bb, uint64_t off) {}
const char *bb_version(void) { return ""; }
#endif
