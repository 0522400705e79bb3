/*
 * sorted.c -- an ordered structure written by one process and read, at the
 * same time, by processes that attach the arena read-only.
 *
 * The writer (the parent) builds a skip list of keys.  Readers are separate
 * programs (this one, run again with --reader) that know only the arena's
 * shmid: they attach with sma_open_id(shmid, SMA_RDONLY), find the list by
 * name and walk it while it grows.  Their mapping is read-only, so they
 * cannot write a byte of the arena, not even to take a lock; they need none:
 *
 *   - the writer fills a new node completely, then publishes it with one
 *     atomic store of its offset into its predecessor's link, bottom level
 *     first, so a reader that follows a link (atomic load) finds a whole
 *     node, and at level 0 always a sorted list;
 *   - nodes are never changed or freed while readers are attached.
 *
 *   level 2:  head ------------------------> 40 --------------------------> 0
 *   level 1:  head ----------> 17 ---------> 40 ----------> 73 -----------> 0
 *   level 0:  head --> 5 ----> 17 --> 23 --> 40 --> 56 --> 73 --> 91 -----> 0
 *
 * The program checks itself and prints TAP: the list is sorted and whole;
 * every reader saw a sorted list at every moment, then found every key and
 * answered a range query as the writer would; a read-only attachment
 * refuses sma_alloc with EROFS and a store into it is killed by SIGSEGV;
 * freeing the list leaves the arena empty and sma_check clean.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"

#define NKEYS 20000	/* keys the writer inserts */
#define NREADERS 3	/* reader processes */
#define MAX_LEVEL 16	/* links of the head node */
#define LIST_NAME "sorted.list"

struct node {
	uint64_t key;		/* the list is in increasing key order */
	uint64_t value;		/* VALUE(key): lets a reader check what it read */
	uint32_t level;		/* links in next[], 1 .. MAX_LEVEL */
	uint32_t unused;
	uint64_t next[];	/* offset of the next node at each level, 0 = end */
};

struct list {			/* the named object LIST_NAME */
	uint64_t head;		/* offset of the head node: no key, MAX_LEVEL links */
	uint64_t count;		/* nodes published so far */
	uint64_t done;		/* 1 once every key is in */
};

#define VALUE(key) ((key) ^ 0x5555555555555555ULL)

/* The i-th key: splitmix64 is a bijection, so the keys are all different. */
static uint64_t key_of(uint64_t i)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct node *node(const sma_t *a, sma_off_t off)
{
	return sma_ptr(a, off);
}

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void publish(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- the writer --------------------------------------------------------- */

static int insert(sma_t *a, struct list *l, uint64_t key, uint64_t *seed)
{
	sma_off_t pred[MAX_LEVEL], x = l->head, n, off;
	struct node *nd;
	uint32_t level = 1;
	int i;

	/* pred[i]: the last node at level i whose key is below key */
	for (i = MAX_LEVEL - 1; i >= 0; i--) {
		while ((n = node(a, x)->next[i]) != 0 && node(a, n)->key < key)
			x = n;
		pred[i] = x;
	}
	/* each level up with probability 1/4 */
	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	while (level < MAX_LEVEL && ((*seed >> (2 * level + 20)) & 3) == 0)
		level++;

	off = sma_alloc(a, sizeof(struct node) + level * sizeof(uint64_t));
	if (off == SMA_NULL)
		return -1;
	nd = node(a, off);
	nd->key = key;
	nd->value = VALUE(key);
	nd->level = level;
	for (i = 0; i < (int)level; i++)
		nd->next[i] = node(a, pred[i])->next[i];
	for (i = 0; i < (int)level; i++)	/* complete: now publish it */
		publish(&node(a, pred[i])->next[i], off);
	publish(&l->count, l->count + 1);
	return 0;
}

/* The writer's own walk: 0 if the list is sorted and holds n nodes. */
static int walk_check(sma_t *a, struct list *l, uint64_t n)
{
	sma_off_t off = node(a, l->head)->next[0];
	uint64_t seen = 0, prev = 0;

	for (; off != SMA_NULL; off = node(a, off)->next[0], seen++) {
		if ((seen > 0 && node(a, off)->key <= prev) ||
		    node(a, off)->value != VALUE(node(a, off)->key))
			return -1;
		prev = node(a, off)->key;
	}
	return seen == n && l->count == n ? 0 : -1;
}

static int free_list(sma_t *a, struct list *l)
{
	sma_off_t off = l->head, next;
	int rc = 0;

	for (; off != SMA_NULL; off = next) {
		next = node(a, off)->next[0];
		if (sma_free(a, off) != 0)
			rc = -1;
	}
	return sma_named_free(a, LIST_NAME) == 0 ? rc : -1;
}

/* ---- the readers -------------------------------------------------------- */

/* The node of key, or NULL: the usual skip-list search, top level first. */
static const struct node *find(const sma_t *a, const struct list *l, uint64_t key)
{
	const struct node *x = node(a, l->head);
	int i;

	for (i = MAX_LEVEL - 1; i >= 0; i--) {
		sma_off_t n;

		while ((n = load(&x->next[i])) != 0 && node(a, n)->key <= key) {
			x = node(a, n);
			if (x->key == key)
				return x;
		}
	}
	return NULL;
}

/* Keys in [lo, hi) in the list: find the first, then walk level 0. */
static uint64_t range(const sma_t *a, const struct list *l, uint64_t lo, uint64_t hi)
{
	const struct node *x = node(a, l->head);
	uint64_t n = 0;
	sma_off_t off;
	int i;

	for (i = MAX_LEVEL - 1; i >= 0; i--)
		while ((off = load(&x->next[i])) != 0 && node(a, off)->key < lo)
			x = node(a, off);
	for (off = load(&x->next[0]); off != 0 && node(a, off)->key < hi;
	     off = load(&node(a, off)->next[0]))
		n++;
	return n;
}

/* One walk along level 0: the number of nodes, or -1 if it was not sorted. */
static long walk(const sma_t *a, const struct list *l)
{
	sma_off_t off = load(&node(a, l->head)->next[0]);
	uint64_t prev = 0;
	long seen = 0;

	for (; off != SMA_NULL; off = load(&node(a, off)->next[0]), seen++) {
		const struct node *x = node(a, off);

		if ((seen > 0 && x->key <= prev) || x->value != VALUE(x->key))
			return -1;
		prev = x->key;
	}
	return seen;
}

/*
 * A reader: exits with 0 if every check passed, else with a sum of
 * 1 (a walk found the list unsorted), 2 (a key or a range was wrong),
 * 4 (a write through the read-only handle did not fail with EROFS),
 * 8 (it could not attach or find the list).
 */
static int reader(int shmid, int id, int ready_fd)
{
	sma_t *ro = sma_open_id(shmid, SMA_RDONLY);
	const struct list *l;
	uint64_t lo, hi, i, want = 0;
	long n, walks = 0, first = -1, last = 0;
	pid_t writer = getppid();
	int rc = 0;
	sma_off_t off;

	if (!ro || (off = sma_named_find(ro, LIST_NAME)) == SMA_NULL)
		return 8;
	l = sma_ptr(ro, off);
	if (sma_alloc(ro, 16) != SMA_NULL || errno != EROFS)
		rc |= 4;
	(void)!write(ready_fd, "r", 1);	/* the writer goes on now */
	close(ready_fd);

	/* Walk again and again while the writer inserts. */
	do {
		int done = load(&l->done) != 0;

		if ((n = walk(ro, l)) < 0 || n < last)
			rc |= 1;
		if (first < 0)
			first = n;
		last = n;
		walks++;
		if (done)
			break;
	} while (getppid() == writer); /* stop if the writer died */
	if (last != NKEYS || load(&l->count) != NKEYS)
		rc |= 2;

	/* Every key is there with its value; a range holds what it should. */
	lo = (uint64_t)id << 61;
	hi = lo + ((uint64_t)1 << 60);
	for (i = 0; i < NKEYS; i++) {
		uint64_t k = key_of(i);
		const struct node *x = find(ro, l, k);

		if (!x || x->value != VALUE(k))
			rc |= 2;
		want += k >= lo && k < hi;
	}
	if (range(ro, l, lo, hi) != want)
		rc |= 2;
	printf("# reader %d (pid %d): %ld walks while the list grew from %ld to "
	       "%ld keys; %llu keys in [%#llx, %#llx)\n", id, (int)getpid(),
	       walks, first, last, (unsigned long long)want,
	       (unsigned long long)lo, (unsigned long long)hi);
	fflush(stdout);
	sma_close(ro);
	return rc;
}

/* Attaches read-only and stores into the arena: the kernel kills it. */
static int writer_through_rdonly(int shmid)
{
	sma_t *ro = sma_open_id(shmid, SMA_RDONLY);
	sma_off_t off;

	prctl(PR_SET_DUMPABLE, 0); /* no core file for the expected crash */
	signal(SIGSEGV, SIG_DFL);  /* not a sanitizer's handler: the signal */
	if (!ro || (off = sma_named_find(ro, LIST_NAME)) == SMA_NULL)
		return 8;
	((volatile struct list *)sma_ptr(ro, off))->done = 2; /* SIGSEGV */
	return 0;
}

/* ---- the program -------------------------------------------------------- */

/* Runs this program again as "--reader SHMID ID" (or "--store SHMID"). */
static pid_t spawn(const char *role, int shmid, int id, int keep_fd)
{
	char s_shmid[16], s_id[16], s_fd[16];
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) != 0) {
		guard_child(pid);
		return pid;
	}
	guard_in_child();
	snprintf(s_shmid, sizeof(s_shmid), "%d", shmid);
	snprintf(s_id, sizeof(s_id), "%d", id);
	snprintf(s_fd, sizeof(s_fd), "%d", keep_fd);
	execl("/proc/self/exe", "sorted", role, s_shmid, s_id, s_fd, (char *)NULL);
	_exit(127);
}

static int exit_code(pid_t pid)
{
	int ws;

	if (waitpid(pid, &ws, 0) < 0)
		return -1;
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return WEXITSTATUS(ws);
}

int main(int argc, char **argv)
{
	pid_t readers[NREADERS], store;
	int fds[2], i, rc, shmid, nfail = 0, why = 0, ok;
	uint64_t seed = 42, k;
	struct sma_stats st;
	sma_off_t off;
	struct list *l;
	char c;
	sma_t *a;

	if (argc == 5 && strcmp(argv[1], "--reader") == 0)
		return reader(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "--store") == 0)
		return writer_through_rdonly(atoi(argv[2]));

	printf("1..5\n");
	a = sma_open_key(IPC_PRIVATE, SMA_CREATE, (size_t)8 << 20, 0600);
	if (!a) {
		printf("Bail out! sma_open_key: %s\n", strerror(errno));
		return 1;
	}
	guard_arena(a, 120);
	shmid = sma_shmid(a);

	/* The list and its head, then a quarter of the keys. */
	off = sma_named_alloc(a, LIST_NAME, sizeof(struct list), NULL);
	l = sma_ptr(a, off);
	if (off == SMA_NULL || pipe(fds) != 0 ||
	    (l->head = sma_calloc(a, 1, sizeof(struct node) +
				  MAX_LEVEL * sizeof(uint64_t))) == SMA_NULL) {
		printf("Bail out! cannot set up: %s\n", strerror(errno));
		nfail++;
		goto out;
	}
	for (k = 0; k < NKEYS / 4; k++) {
		if (insert(a, l, key_of(k), &seed) != 0) {
			printf("Bail out! insert: %s\n", strerror(errno));
			nfail++;
			goto out;
		}
	}

	/* The readers attach; the rest of the keys go in while they walk. */
	for (i = 0; i < NREADERS; i++)
		readers[i] = spawn("--reader", shmid, i, fds[1]);
	close(fds[1]);
	for (i = 0; i < NREADERS && read(fds[0], &c, 1) == 1; i++)
		;
	close(fds[0]);
	for (; k < NKEYS; k++)
		if (insert(a, l, key_of(k), &seed) != 0)
			break;
	publish(&l->done, 1);

	ok = k == NKEYS && walk_check(a, l, NKEYS) == 0;
	printf("%s 1 - the writer's list holds %d keys in increasing order\n",
	       ok ? "ok" : "not ok", NKEYS);
	nfail += !ok;

	for (i = 0; i < NREADERS; i++)
		if ((rc = exit_code(readers[i])) != 0)
			why |= rc < 0 || rc > 15 ? 16 : rc;
	printf("%s 2 - %d readers attached read-only always found the list "
	       "sorted while it grew\n", why & (1 | 8 | 16) ? "not ok" : "ok",
	       NREADERS);
	printf("%s 3 - every reader found every key, and as many keys in its "
	       "range as there are\n", why & (2 | 8 | 16) ? "not ok" : "ok");
	nfail += (why & (1 | 8 | 16)) != 0;
	nfail += (why & (2 | 8 | 16)) != 0;

	store = spawn("--store", shmid, 0, -1);
	rc = exit_code(store);
	ok = !(why & (4 | 8 | 16)) && rc == 128 + SIGSEGV && l->done == 1;
	printf("%s 4 - through a read-only attachment sma_alloc fails with EROFS "
	       "and a store is killed by SIGSEGV\n", ok ? "ok" : "not ok");
	nfail += !ok;

	ok = free_list(a, l) == 0 && sma_stats(a, &st) == 0 && st.live == 0 &&
	     sma_check(a) == 0;
	printf("%s 5 - freeing the list leaves the arena empty and sma_check "
	       "clean\n", ok ? "ok" : "not ok");
	nfail += !ok;

out:
	if (sma_destroy(a) != 0) {
		printf("# sma_destroy: %s\n", strerror(errno));
		nfail++;
	}
	return nfail == 0 && why == 0 ? 0 : 1;
}
