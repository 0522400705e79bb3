/*
 * demo.c -- sma in one screen: four processes count the words of a text in
 * one hash map that lives in a shared heap.
 *
 * usage: demo TEXT [SMA_TOOL]
 *
 * The arena is reached through a file in a fresh directory under $TMPDIR
 * (or /tmp), so that the sma tool, when SMA_TOOL names it, can be shown on
 * it.  The arena, the file and the directory are removed at the end, also
 * when something fails or the demo is interrupted.  Exits 0 when the counts
 * add up and the arena checks clean.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "hashmap.h"
#include "words.h"

#define NWORKERS 4
#define ARENA_SIZE ((size_t)1 << 20)
#define NBUCKETS 4096
#define MAP_NAME "demo.words"

/* What each worker did, kept in the arena: one per worker. */
struct tally {
	int64_t pid;	/* the worker's process id */
	int64_t words;	/* words it counted */
	int64_t added;	/* of which it was first to see, so added to the map */
};

/* "4 MiB", "3.98 MiB", "57.8 KiB", "312 B": three digits at most */
static const char *human(size_t n, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v == (double)(size_t)v)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v,
			 unit[u]);
	return buf;
}

static void heading(const char *title)
{
	printf("\n%s\n", title);
	for (size_t i = strlen(title); i > 0; i--)
		putchar('-');
	putchar('\n');
}

/* A worker: opens the arena by its path, as any other program could. */
static int worker(const char *path, const char *text, size_t len, unsigned w,
		  sma_off_t tally_off)
{
	sma_t *a = sma_open(path, 0, 0, 0);
	struct tally *t;
	long added = 0, n;
	hm_t *hm;

	if (!a || !(hm = hm_open(a, MAP_NAME, NBUCKETS)))
		return 1;
	n = words_count(hm, text, len, w, NWORKERS, &added);
	t = (struct tally *)sma_ptr(a, tally_off) + w;
	t->pid = getpid();
	t->words = n;
	t->added = added;
	hm_close(hm);
	sma_close(a);
	return n < 0;
}

/* Runs "sma CMD PATH" with the tool, if it was built. */
static void run_tool(const char *tool, const char *cmd, const char *path)
{
	pid_t pid;
	int ws;

	printf("\n$ sma %s %s\n", cmd, path);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		guard_in_child();
		execl(tool, "sma", cmd, path, (char *)NULL);
		_exit(127);
	}
	guard_child(pid);
	if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) ||
	    WEXITSTATUS(ws) != 0)
		printf("(sma %s did not succeed)\n", cmd);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR"), *file, *tool;
	char dir[4096] = "", path[4200] = "", b1[32];
	struct word_count top[10];
	struct tally *t = NULL;
	struct sma_stats st;
	struct timespec t0, t1;
	long nwords, nlines, total = 0, added = 0;
	sma_off_t tally_off = SMA_NULL;
	int i, n, failed = 0, shmid = -1, status = 1;
	hm_t *hm = NULL;
	char *text = NULL;
	sma_t *a = NULL;
	size_t len;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: demo TEXT [SMA_TOOL]\n");
		return 2;
	}
	file = argv[1];
	tool = argc > 2 ? argv[2] : NULL;
	if (!(text = words_load(file, &len))) {
		fprintf(stderr, "demo: %s: %s\n", file, strerror(errno));
		return 2;
	}
	nwords = words_count(NULL, text, len, 0, 1, NULL);
	nlines = words_lines(text, len);

	snprintf(dir, sizeof(dir), "%s/sma-demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "demo: mkdtemp %s: %s\n", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/words.arena", dir);
	guard_files(path, dir);

	printf("sma demo: %d processes count the words of a text in one shared heap\n",
	       NWORKERS);
	printf("=====================================================================\n");
	printf("sma lets processes on one machine share a heap: one System V shared\n"
	       "memory segment, carved into objects that every attached process can\n"
	       "allocate, free and read.  Here %d worker processes fill one hash map\n"
	       "in such a heap, then this process reads it and shows the heap.\n",
	       NWORKERS);

	/* ---- 1 ---- */
	heading("1. The arena");
	a = sma_open(path, SMA_CREATE | SMA_EXCL, ARENA_SIZE, 0600);
	if (!a) {
		fprintf(stderr, "demo: sma_open %s: %s\n", path, strerror(errno));
		goto out;
	}
	guard_arena(a, 120);
	shmid = sma_shmid(a);
	printf("sma_open() made a System V shared memory segment of %s, and a\n"
	       "semaphore set to guard it, that belong to the file\n"
	       "    %s\n"
	       "(System V key %#x, shmid %d, semid %d).\n"
	       "Any process that opens this path shares the heap.  Objects are\n"
	       "named by offsets, which mean the same in every process.\n",
	       human(ARENA_SIZE, b1, sizeof(b1)), path, (unsigned)sma_key(a),
	       shmid, sma_semid(a));

	/* ---- 2 ---- */
	heading("2. Four processes count words into one shared hash map");
	printf("The map is a named object (\"%s\") that each worker finds by\n"
	       "name.  Each new word is an object allocated by the worker that\n"
	       "meets it first, linked from one of %d buckets; each stripe of\n"
	       "buckets has its own sma_mutex_t, so no count is lost.\n"
	       "Text: %s, %ld lines, %ld words (folded to lower case).\n"
	       "Worker k counts lines k, k+%d, k+%d, ...\n\n",
	       MAP_NAME, NBUCKETS, strrchr(file, '/') ? strrchr(file, '/') + 1 : file,
	       nlines, nwords, NWORKERS, 2 * NWORKERS);

	if (!(hm = hm_open(a, MAP_NAME, NBUCKETS)) ||
	    (tally_off = sma_calloc(a, NWORKERS, sizeof(*t))) == SMA_NULL) {
		fprintf(stderr, "demo: cannot make the map: %s\n", strerror(errno));
		goto out;
	}
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NWORKERS; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			guard_in_child();
			_exit(worker(path, text, len, (unsigned)i, tally_off));
		}
		if (pid < 0)
			failed++;
		guard_child(pid);
	}
	for (;;) {
		int ws;

		if (wait(&ws) < 0)
			break;
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			failed++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (failed) {
		fprintf(stderr, "demo: %d worker(s) failed\n", failed);
		goto out;
	}

	t = sma_ptr(a, tally_off);
	printf("  worker      pid     words   new words\n");
	for (i = 0; i < NWORKERS; i++) {
		printf("  %6d %8lld %9lld %11lld\n", i, (long long)t[i].pid,
		       (long long)t[i].words, (long long)t[i].added);
		total += t[i].words;
		added += t[i].added;
	}
	printf("  total           %9ld %11ld   in %.0f ms\n", total, added,
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (total != nwords) {
		printf("\nThe workers counted %ld words but the text has %ld!\n",
		       total, nwords);
		goto out;
	}
	printf("\nThe workers' counts add up to the %ld words of the text, and\n"
	       "each of the %ld different words was added once.\n", nwords, added);

	/* ---- 3 ---- */
	heading("3. The ten most frequent words");
	n = words_top(hm, top, 10);
	for (i = 0; i < n; i++)
		printf("  %2d. %-10s %6lld\n", i + 1, top[i].word,
		       (long long)top[i].count);

	/* ---- 4 ---- */
	heading("4. What the arena holds now (sma_stats)");
	if (sma_stats(a, &st) != 0)
		goto out;
	printf("  %-14s %10s   the whole shared segment\n", "segment",
	       human(st.size, b1, sizeof(b1)));
	printf("  %-14s %10s   room for objects when the arena is empty\n",
	       "heap", human(st.heap_size, b1, sizeof(b1)));
	printf("  %-14s %10s   in live objects\n", "used",
	       human(st.used, b1, sizeof(b1)));
	printf("  %-14s %10s   free for new objects\n", "free",
	       human(st.free, b1, sizeof(b1)));
	printf("  %-14s %10s   the largest object one sma_alloc can get now\n",
	       "largest free", human(st.largest_free, b1, sizeof(b1)));
	printf("  %-14s %10llu   objects now: %ld words, the buckets, the map, the tallies\n",
	       "live", (unsigned long long)st.live, added);
	printf("  %-14s %10llu   objects ever allocated\n", "allocs",
	       (unsigned long long)st.allocs);
	printf("  %-14s %10llu   objects ever freed\n", "frees",
	       (unsigned long long)st.frees);
	printf("  %-14s %10u   handles attached now: this process's (the workers left)\n",
	       "attached", st.nattch);

	/* ---- 5 ---- */
	heading("5. The same arena seen from the shell, by the sma tool");
	if (tool && access(tool, X_OK) == 0) {
		printf("The tool attaches read-only and reads what the library keeps\n"
		       "in the segment; it could run from any other terminal.\n");
		run_tool(tool, "info", path);
		run_tool(tool, "stats", path);
		run_tool(tool, "map", path);
		run_tool(tool, "check", path);
	} else {
		printf("(the sma tool is not built here: %s not found)\n",
		       tool ? tool : "no path given");
	}

	/* ---- 6 ---- */
	heading("6. Cleaning up");
	i = hm_free_all(hm);
	hm = NULL;
	if (i != 0 || sma_free(a, tally_off) != 0 || sma_stats(a, &st) != 0 ||
	    st.live != 0 || sma_check(a) != 0) {
		printf("The arena is not clean after freeing the map!\n");
		goto out;
	}
	tally_off = SMA_NULL;
	printf("hm_free_all() freed every object of the map: %llu live objects\n"
	       "left, %s free, and sma_check() finds the heap sound.\n",
	       (unsigned long long)st.live, human(st.free, b1, sizeof(b1)));
	status = 0;

out:
	if (hm)
		hm_close(hm);
	if (a) {
		if (sma_destroy(a) != 0) {
			fprintf(stderr, "demo: sma_destroy: %s\n", strerror(errno));
			status = 1;
		} else if (status == 0) {
			struct shmid_ds ds;
			int gone = shmctl(shmid, IPC_STAT, &ds) != 0;

			printf("sma_destroy() removed the segment and its semaphore set:\n"
			       "shmid %d %s.\n", shmid,
			       gone ? "no longer exists" : "STILL EXISTS");
			status = gone ? 0 : 1;
		}
	}
	unlink(path);
	rmdir(dir);
	free(text);
	return status;
}
