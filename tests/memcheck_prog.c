/*
 * tests/memcheck_prog.c -- a user's program with (or without) a memory
 * bug in an sma object, for tests/test_memcheck.sh (under Valgrind's
 * memcheck) and tests/test_asan.sh (built with -fsanitize=address).
 *
 *   memcheck_prog MODE
 *     uaf       reads an object after sma_free
 *     overflow  writes one byte past the size asked for (into an object
 *               this thread has freed)
 *     clean     every call, used right, objects left live at a close
 *     cross     a forked child allocates and writes objects, the parent
 *               reads and frees them, and the other way round
 *
 * The arena is made on a path from mkstemp and destroyed at the end; the
 * first line on standard output names its shmid and semid, so that the
 * script removes them should the program be stopped by its tool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sma.h>

#define N 64 /* objects each side of cross makes */

static void die(const char *what)
{
	fprintf(stderr, "memcheck_prog: %s: %s\n", what, strerror(errno));
	exit(2);
}

static sma_off_t alloc_or_die(sma_t *a, size_t size)
{
	sma_off_t off = sma_alloc(a, size);
	if (!off)
		die("sma_alloc");
	return off;
}

static void free_or_die(sma_t *a, sma_off_t off)
{
	if (sma_free(a, off) < 0)
		die("sma_free");
}

/* Sizes of every kind: small (slabs), medium (cached blocks), large. */
static size_t size_of(int i)
{
	static const size_t sizes[] = { 1, 40, 100, 256, 300, 1000, 5000, 70000 };
	return sizes[i % (int)(sizeof sizes / sizeof sizes[0])];
}

static void fill(sma_t *a, sma_off_t off, size_t n, int seed)
{
	unsigned char *p = sma_ptr(a, off);
	for (size_t k = 0; k < n; k++)
		p[k] = (unsigned char)(seed + k);
}

static int intact(sma_t *a, sma_off_t off, size_t n, int seed)
{
	const unsigned char *p = sma_ptr(a, off);
	for (size_t k = 0; k < n; k++)
		if (p[k] != (unsigned char)(seed + k))
			return 0;
	return 1;
}

static void write_all(int fd, const void *buf, size_t n)
{
	if (write(fd, buf, n) != (ssize_t)n)
		die("write");
}

static void read_all(int fd, void *buf, size_t n)
{
	if (read(fd, buf, n) != (ssize_t)n)
		die("read");
}

static int uaf(sma_t *a)
{
	sma_off_t off = alloc_or_die(a, 40);
	fill(a, off, 40, 1);
	free_or_die(a, off);
	volatile unsigned char *p = sma_ptr(a, off);
	return p[8] == 0x55; /* the bug */
}

/*
 * One byte past an object of 48 bytes (a whole size class, so its usable
 * size too), into the next object of its slab, which this thread has just
 * freed to its cache.
 */
static int overflow(sma_t *a)
{
	sma_off_t offs[8];
	for (int i = 0; i < 8; i++)
		offs[i] = alloc_or_die(a, 48);
	int victim = -1, next = -1;
	for (int i = 0; i < 8 && victim < 0; i++)
		for (int j = 0; j < 8; j++)
			if (offs[j] == offs[i] + 48)
				victim = i, next = j;
	if (victim < 0 || sma_usable_size(a, offs[victim]) != 48) {
		fprintf(stderr, "memcheck_prog: no two objects side by side\n");
		exit(2);
	}
	free_or_die(a, offs[next]);
	volatile unsigned char *p = sma_ptr(a, offs[victim]);
	p[48] = 1; /* the bug: 48 bytes were asked for */
	for (int i = 0; i < 8; i++)
		if (i != next)
			free_or_die(a, offs[i]);
	return 0;
}

static int clean(sma_t *a, const char *path)
{
	int bad = 0;
	sma_off_t offs[300];
	/* Enough objects of each kind that caches fill and flush. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 300; i++) {
			offs[i] = alloc_or_die(a, size_of(i));
			fill(a, offs[i], size_of(i), i);
		}
		for (int i = 0; i < 300; i++) {
			bad |= !intact(a, offs[i], size_of(i), i);
			free_or_die(a, offs[i]);
		}
	}
	/* calloc, aligned_alloc, realloc growing, shrinking, in place. */
	sma_off_t c = sma_calloc(a, 10, 30);
	if (!c)
		die("sma_calloc");
	bad |= ((unsigned char *)sma_ptr(a, c))[299] != 0;
	sma_off_t al = sma_aligned_alloc(a, 256, 500);
	if (!al)
		die("sma_aligned_alloc");
	fill(a, al, 500, 7);
	sma_off_t r = alloc_or_die(a, 100);
	fill(a, r, 100, 3);
	size_t sizes[] = { 110, 200, 1000, 5000, 4000, 600, 300, 50, 20000, 8 };
	size_t have = 100;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		r = sma_realloc(a, r, sizes[i]);
		if (!r)
			die("sma_realloc");
		size_t keep = have < sizes[i] ? have : sizes[i];
		bad |= !intact(a, r, keep, 3);
		fill(a, r, sizes[i], 3);
		have = sizes[i];
	}
	/* sma_usable_size: every usable byte is the program's. */
	sma_off_t u = alloc_or_die(a, 33);
	size_t us = sma_usable_size(a, u);
	fill(a, u, us, 9);
	bad |= !intact(a, u, us, 9);
	/* Named objects. */
	int created;
	sma_off_t nm = sma_named_alloc(a, "root", 100, &created);
	if (!nm)
		die("sma_named_alloc");
	fill(a, nm, sma_usable_size(a, nm), 5);
	if (sma_named_find(a, "root") != nm)
		bad = 1;
	if (sma_named_free(a, "root") < 0)
		die("sma_named_free");
	/* Objects still live when a handle closes: no leak of this
	 * process, they belong to the arena. */
	sma_t *b = sma_open(path, 0, 0, 0);
	if (!b)
		die("sma_open");
	sma_off_t live[8];
	for (int i = 0; i < 8; i++) {
		live[i] = alloc_or_die(b, size_of(i));
		fill(b, live[i], size_of(i), i);
	}
	if (sma_flush(b) < 0 || sma_close(b) < 0)
		die("sma_close");
	for (int i = 0; i < 8; i++) {
		bad |= !intact(a, live[i], size_of(i), i);
		free_or_die(a, live[i]);
	}
	free_or_die(a, c);
	free_or_die(a, al);
	free_or_die(a, r);
	free_or_die(a, u);
	/* A double free is refused, and no tool complains of it. */
	if (sma_free(a, u) == 0 || errno != EINVAL)
		bad = 1;
	if (sma_flush(a) < 0 || sma_check(a) < 0)
		bad = 1;
	/* Left live at the end: sma_destroy closes the handle on them. */
	for (int i = 0; i < 8; i++)
		fill(a, alloc_or_die(a, size_of(i)), size_of(i), i);
	return bad;
}

/*
 * The child allocates and writes objects and sends their offsets; the
 * parent reads and frees them.  Then the parent sends objects it takes
 * from its cache (freed there before the fork) and the child reads and
 * frees them.
 */
static int cross(sma_t *a)
{
	int bad = 0, to_parent[2], to_child[2];
	sma_off_t offs[N];
	/* Objects in the parent's cache when it forks. */
	for (int i = 0; i < N; i++)
		offs[i] = alloc_or_die(a, size_of(i));
	for (int i = 0; i < N; i++)
		free_or_die(a, offs[i]);
	if (pipe(to_parent) < 0 || pipe(to_child) < 0)
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		for (int i = 0; i < N; i++) {
			offs[i] = alloc_or_die(a, size_of(i));
			fill(a, offs[i], size_of(i), i);
		}
		write_all(to_parent[1], offs, sizeof offs);
		read_all(to_child[0], offs, sizeof offs);
		for (int i = 0; i < N; i++) {
			bad |= !intact(a, offs[i], size_of(i), i + 1);
			free_or_die(a, offs[i]);
		}
		sma_close(a);
		_exit(bad);
	}
	read_all(to_parent[0], offs, sizeof offs);
	for (int i = 0; i < N; i++) {
		bad |= !intact(a, offs[i], size_of(i), i);
		free_or_die(a, offs[i]);
	}
	for (int i = 0; i < N; i++) {
		offs[i] = alloc_or_die(a, size_of(i));
		fill(a, offs[i], size_of(i), i + 1);
	}
	write_all(to_child[1], offs, sizeof offs);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bad = 1;
	/* The parent goes on cleanly. */
	for (int i = 0; i < N; i++) {
		offs[i] = alloc_or_die(a, size_of(i));
		fill(a, offs[i], size_of(i), i);
	}
	for (int i = 0; i < N; i++) {
		bad |= !intact(a, offs[i], size_of(i), i);
		free_or_die(a, offs[i]);
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: memcheck_prog uaf | overflow | clean | cross\n");
		return 2;
	}
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/sma-memcheck.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	close(fd);
	sma_t *a = sma_open(path, SMA_CREATE, 4 << 20, 0600);
	if (!a) {
		unlink(path);
		die("sma_open");
	}
	printf("shmid %d semid %d\n", sma_shmid(a), sma_semid(a));
	fflush(stdout);
	int bad;
	if (!strcmp(argv[1], "uaf"))
		bad = uaf(a);
	else if (!strcmp(argv[1], "overflow"))
		bad = overflow(a);
	else if (!strcmp(argv[1], "clean"))
		bad = clean(a, path);
	else if (!strcmp(argv[1], "cross"))
		bad = cross(a);
	else
		bad = 2;
	if (sma_destroy(a) < 0)
		die("sma_destroy");
	unlink(path);
	printf("%s %s\n", argv[1], bad ? "went wrong" : "done");
	return bad;
}
