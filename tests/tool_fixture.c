/*
 * tool_fixture.c -- puts arenas into the states tests/test_tool.sh looks at
 * with the sma command.  Not a test by itself.
 *
 *   tool_fixture fill PATH          allocate and free a known mix of objects
 *                                   in the arena of PATH; print each live
 *                                   object as "OFFSET USABLE_SIZE NAME"
 *                                   (NAME "-" for an unnamed one)
 *   tool_fixture hold PATH FILE     attach, allocate, write the pid to FILE,
 *                                   and wait to be killed
 *   tool_fixture orphan PATH        leave the semaphore set of the arena of
 *                                   PATH orphaned: destroy the arena while a
 *                                   child is attached, then kill the child;
 *                                   print the set's id
 *   tool_fixture foreign PATH       make a segment that is not an arena with
 *                                   the key of PATH; print its id
 *   tool_fixture alloc PATH N       allocate N objects of 100 bytes
 *   tool_fixture big PATH BYTES     allocate one object of BYTES bytes (an
 *                                   arena with a limit grows for it)
 *   tool_fixture corrupt PATH       allocate three large objects in the arena
 *                                   of PATH and scribble over the block
 *                                   header of the second: damage that no
 *                                   dead process explains
 *   tool_fixture churn PATH SECONDS allocate and free for SECONDS, so that
 *                                   the figures move, and free what is left
 *
 * Exit status 0 on success, 1 with a message on failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sma.h"

static int die(const char *what)
{
	fprintf(stderr, "tool_fixture: %s: %s\n", what, strerror(errno));
	return 1;
}

/* One object made by fill: its offset, and whether it stays live. */
struct made {
	sma_off_t off;
	const char *name; /* NULL for an unnamed object */
	int keep;
};

static int fill(const char *path)
{
	/* Sizes in bytes: small (slab) and large (page heap) objects. */
	static const size_t small[] = { 16, 48, 48, 48, 100, 200, 256 };
	static const size_t large[] = { 1000, 5000, 100 * 1024, 100 * 1024 };
	static const struct {
		const char *name;
		size_t size;
	} named[] = { { "alpha", 100 }, { "beta", 5000 }, { "gamma", 70000 } };
	struct made m[64];
	size_t n = 0, i, k;
	sma_t *a;

	a = sma_open(path, 0, 0, 0);
	if (!a)
		return die("open");
	for (k = 0; k < 3; k++)
		for (i = 0; i < sizeof small / sizeof small[0]; i++) {
			m[n].off = sma_alloc(a, small[i]);
			if (m[n].off == SMA_NULL)
				return die("alloc");
			m[n].name = NULL;
			m[n].keep = (n % 3) != 1;
			n++;
		}
	for (i = 0; i < sizeof large / sizeof large[0]; i++) {
		m[n].off = sma_alloc(a, large[i]);
		if (m[n].off == SMA_NULL)
			return die("alloc");
		m[n].name = NULL;
		m[n].keep = i != 2;
		n++;
	}
	for (i = 0; i < sizeof named / sizeof named[0]; i++) {
		m[n].off = sma_named_alloc(a, named[i].name, named[i].size,
					   NULL);
		if (m[n].off == SMA_NULL)
			return die("named_alloc");
		m[n].name = named[i].name;
		m[n].keep = 1;
		n++;
	}
	for (i = 0; i < n; i++)
		if (!m[i].keep && sma_free(a, m[i].off) < 0)
			return die("free");
	for (i = 0; i < n; i++)
		if (m[i].keep)
			printf("%" PRIu64 " %zu %s\n", m[i].off,
			       sma_usable_size(a, m[i].off),
			       m[i].name ? m[i].name : "-");
	if (sma_close(a) < 0)
		return die("close");
	return 0;
}

static int hold(const char *path, const char *file)
{
	sma_t *a;
	FILE *f;
	char tmp[4096];

	a = sma_open(path, 0, 0, 0);
	if (!a)
		return die("open");
	/* A few objects, so that this thread takes a slot and caches. */
	if (sma_alloc(a, 64) == SMA_NULL || sma_alloc(a, 64) == SMA_NULL)
		return die("alloc");
	snprintf(tmp, sizeof tmp, "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f)
		return die(tmp);
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0 || rename(tmp, file) != 0)
		return die(file);
	for (;;)
		pause();
}

static int orphan(const char *path)
{
	int p[2], semid;
	char c;
	pid_t pid;
	sma_t *a;

	a = sma_open(path, 0, 0, 0);
	if (!a)
		return die("open");
	semid = sma_semid(a);
	if (pipe(p) < 0)
		return die("pipe");
	pid = fork();
	if (pid < 0)
		return die("fork");
	if (pid == 0) {
		sma_t *b = sma_open(path, 0, 0, 0);

		if (!b)
			_exit(1);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		return die("child");
	/* The child's copy of a is an attachment too: the child is the last
	 * process attached once this one has destroyed and closed. */
	if (sma_destroy(a) < 0)
		return die("destroy");
	kill(pid, SIGKILL);
	if (waitpid(pid, NULL, 0) < 0)
		return die("waitpid");
	printf("%d\n", semid);
	return 0;
}

static int foreign(const char *path)
{
	key_t key = ftok(path, SMA_PROJ_ID);
	int id;

	if (key == (key_t)-1)
		return die("ftok");
	id = shmget(key, 65536, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		return die("shmget");
	printf("%d\n", id);
	return 0;
}

static int alloc_n(const char *path, const char *count)
{
	long i, n = atol(count);
	sma_t *a;

	a = sma_open(path, 0, 0, 0);
	if (!a)
		return die("open");
	for (i = 0; i < n; i++)
		if (sma_alloc(a, 100) == SMA_NULL)
			return die("alloc");
	if (sma_close(a) < 0)
		return die("close");
	return 0;
}

static int big(const char *path, const char *bytes)
{
	sma_t *a = sma_open(path, 0, 0, 0);
	if (!a)
		return die("open");
	if (sma_alloc(a, (size_t)atol(bytes)) == SMA_NULL)
		return die("alloc");
	if (sma_close(a) < 0)
		return die("close");
	return 0;
}

static int corrupt(const char *path)
{
	sma_off_t off[3];
	sma_t *a;
	int i;

	a = sma_open(path, 0, 0, 0);
	if (!a)
		return die("open");
	for (i = 0; i < 3; i++) {
		off[i] = sma_alloc(a, 5000);
		if (off[i] == SMA_NULL)
			return die("alloc");
	}
	/* The 16 bytes before an object of the page heap are its block's
	 * header. */
	memset((char *)sma_ptr(a, off[1]) - 16, 0xa5, 16);
	if (sma_close(a) < 0)
		return die("close");
	return 0;
}

static int churn(const char *path, const char *secs)
{
	struct timespec t0, now;
	unsigned long n = 0;
	double limit = atof(secs);
	sma_off_t keep[64] = { 0 };
	sma_t *a;

	a = sma_open(path, 0, 0, 0);
	if (!a)
		return die("open");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		unsigned i = (unsigned)(n % 64);

		if (keep[i] != SMA_NULL && sma_free(a, keep[i]) < 0)
			return die("free");
		keep[i] = sma_alloc(a, 16 + (n * 37) % 3000);
		if (keep[i] == SMA_NULL)
			return die("alloc");
		n++;
		if (n % 256 == 0) {
			/* Through the lock now and then, so that it counts. */
			if (sma_flush(a) < 0)
				return die("flush");
			usleep(1000);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((double)(now.tv_sec - t0.tv_sec) +
			 (double)(now.tv_nsec - t0.tv_nsec) / 1e9 < limit);
	for (n = 0; n < 64; n++)
		if (keep[n] != SMA_NULL && sma_free(a, keep[n]) < 0)
			return die("free");
	if (sma_close(a) < 0)
		return die("close");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2]);
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "orphan") == 0)
		return orphan(argv[2]);
	if (argc == 3 && strcmp(argv[1], "foreign") == 0)
		return foreign(argv[2]);
	if (argc == 4 && strcmp(argv[1], "alloc") == 0)
		return alloc_n(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "big") == 0)
		return big(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "corrupt") == 0)
		return corrupt(argv[2]);
	if (argc == 4 && strcmp(argv[1], "churn") == 0)
		return churn(argv[2], argv[3]);
	fprintf(stderr, "usage: tool_fixture fill|hold|orphan|foreign|alloc|"
			"big|corrupt|churn PATH [FILE|N|SECONDS]\n");
	return 2;
}
