/*
 * tests/common.c -- the registry of System V objects, the fixtures, the
 * leak check, temporary paths and the cleanup when a binary ends, shared
 * by the test binaries (see common.h).  Processes, pipes, data patterns
 * and the small checks are in tests/helpers.c; it reaches the list of
 * children kept here through tests/common_internal.h.
 *
 * The registry lives in fixed static arrays, not on the heap, so that the
 * handler of a fatal signal can walk it: that path uses only system calls
 * (open, read, shmctl, semctl, kill, write).
 *
 * Invariants:
 *  1. Only the process that made the registry (owner_pid) ever removes
 *     anything; children made by fork run none of the cleanup.
 *  2. An object listed in the snapshot is never removed or reported.
 *  3. An object is ours when its id was recorded, when its key is the key
 *     of a path handed out by t_path, or (segments only) when its creator
 *     is this process.
 */
#define _GNU_SOURCE
#include "common.h"
#include "common_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <stdatomic.h>

#define T_MAX_IDS 4096	    /* ids recorded per kind */
#define T_MAX_KEYS 1024	    /* keys recorded */
#define T_MAX_SNAP 8192	    /* ids in the snapshot per kind */
#define T_MAX_HANDLES 256   /* handles open at once */
#define T_MAX_CHILDREN 1024 /* children not yet waited for */
#define T_MAX_PATHS 1024    /* paths handed out */
#define T_PATH_LEN 512	    /* bytes of one path, with its NUL */

static pid_t owner_pid;	      /* the process that owns the registry, 0 = none */
static int in_child;	      /* set in processes made by t_fork */
static int snapshot_taken;    /* the snapshot below is valid */
static int watchdog_seconds;  /* seconds of the per-test watchdog */

static int shm_ids[T_MAX_IDS], n_shm_ids;
static int sem_ids[T_MAX_IDS], n_sem_ids;
static key_t keys[T_MAX_KEYS];
static int n_keys;
static int snap_shm[T_MAX_SNAP], n_snap_shm;
static int snap_sem[T_MAX_SNAP], n_snap_sem;

static sma_t *handles[T_MAX_HANDLES];
static int n_handles;
static pid_t children[T_MAX_CHILDREN];

/* Every process t_fork made, in any process of the test (shared memory):
 * a segment one of them created is the test's too (an arena grown by a
 * child adds segments the child creates). */
#define T_MAX_BORN 8192
struct born {
	_Atomic unsigned n;
	pid_t pid[T_MAX_BORN];
};
static struct born *born;

static int was_born(long pid)
{
	if (!born)
		return 0;
	unsigned n = atomic_load(&born->n);
	for (unsigned i = 0; i < n && i < T_MAX_BORN; i++)
		if (born->pid[i] == pid)
			return 1;
	return 0;
}
static int n_children;

static char paths[T_MAX_PATHS][T_PATH_LEN];
static int n_paths;
static char tmpdir[T_PATH_LEN]; /* "" until made */
static unsigned path_seq;       /* numbers the paths handed out */

/* ---- small things usable in a signal handler ------------------------- */

static void say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void say_long(long long v)
{
	char buf[32], *p = buf + sizeof(buf);
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;

	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	say(p);
}

static int in_list(const int *list, int n, int v)
{
	for (int i = 0; i < n; i++)
		if (list[i] == v)
			return 1;
	return 0;
}

static int key_recorded(key_t key)
{
	if (key == IPC_PRIVATE)
		return 0;
	for (int i = 0; i < n_keys; i++)
		if (keys[i] == key)
			return 1;
	return 0;
}

/*
 * Reads a /proc/sysvipc table and calls fn(key, id, cpid) for each line
 * (cpid is -1 when the table has none, as for semaphores).  Only system
 * calls and local parsing: safe in a signal handler.
 */
typedef void (*row_fn)(long key, long id, long cpid, void *arg);

static int scan_sysvipc(const char *file, int cpid_field, row_fn fn, void *arg)
{
	static char buf[16384];
	char line[512];
	size_t len = 0;
	int first = 1;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = '\0';
			len = 0;
			if (first) { /* the column titles */
				first = 0;
				continue;
			}
			long f[8] = {0};
			int nf = 0;
			char *p = line;
			while (*p && nf < 8) {
				while (*p == ' ' || *p == '\t')
					p++;
				if (!*p)
					break;
				int neg = (*p == '-');
				long v = 0;
				if (neg)
					p++;
				while (*p >= '0' && *p <= '9')
					v = v * 10 + (*p++ - '0');
				while (*p && *p != ' ' && *p != '\t')
					p++;
				f[nf++] = neg ? -v : v;
			}
			if (nf >= 2)
				fn(f[0], f[1], cpid_field > 0 && nf > cpid_field ? f[cpid_field] : -1, arg);
		}
	}
	close(fd);
	return 0;
}

#define SHM_TABLE "/proc/sysvipc/shm"
#define SEM_TABLE "/proc/sysvipc/sem"
#define SHM_CPID_FIELD 4 /* key shmid perms size cpid ... */

struct leftover_scan {
	int is_shm;  /* scanning segments (1) or semaphore sets (0) */
	int remove;  /* IPC_RMID what is found */
	int quiet;   /* print nothing (the final sweep of a crash prints) */
	int found;   /* objects found */
};

static void leftover_row(long key, long id, long cpid, void *arg)
{
	struct leftover_scan *ls = arg;
	int ours;

	if (ls->is_shm) {
		if (in_list(snap_shm, n_snap_shm, (int)id))
			return;
		ours = in_list(shm_ids, n_shm_ids, (int)id) || key_recorded((key_t)key) ||
		       (owner_pid && cpid == owner_pid) || (cpid > 0 && was_born(cpid));
	} else {
		if (in_list(snap_sem, n_snap_sem, (int)id))
			return;
		ours = in_list(sem_ids, n_sem_ids, (int)id) || key_recorded((key_t)key);
	}
	if (!ours)
		return;
	ls->found++;
	if (!ls->quiet) {
		say(ls->is_shm ? "sma tests: segment left behind: shmid " :
				 "sma tests: semaphore set left behind: semid ");
		say_long(id);
		say(" key ");
		say_long(key);
		say(ls->remove ? " (removed)\n" : "\n");
	}
	if (ls->remove) {
		if (ls->is_shm)
			shmctl((int)id, IPC_RMID, NULL);
		else
			semctl((int)id, 0, IPC_RMID);
	}
}

static int leftovers(int remove, int quiet)
{
	struct leftover_scan ls = {.is_shm = 1, .remove = remove, .quiet = quiet};

	scan_sysvipc(SHM_TABLE, SHM_CPID_FIELD, leftover_row, &ls);
	ls.is_shm = 0;
	scan_sysvipc(SEM_TABLE, 0, leftover_row, &ls);
	return ls.found;
}

/* Kills the children not yet waited for, so that they detach. */
static void kill_children(void)
{
	for (int i = 0; i < n_children; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	n_children = 0;
}

/* ---- cleanup when the binary ends --------------------------------------- */

static void refresh_path_keys(void);
static void remove_tmpdir(void);
static void take_snapshot(void);

static void fatal_signal(int sig)
{
	if (getpid() != owner_pid || in_child) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	/* Standard output may be a pipe whose reader is gone (SIGPIPE, or
	 * the say() below): a write must not end the process before it has
	 * removed what the tests made. */
	signal(SIGPIPE, SIG_IGN);
	say("sma tests: ");
	say(sig == SIGALRM ? "watchdog: a test ran longer than allowed" : "fatal signal ");
	if (sig != SIGALRM)
		say_long(sig);
	say(", removing what the tests made\n");
	kill_children();
	leftovers(1, 0);
	for (int i = 0; i < n_paths; i++)
		unlink(paths[i]);
	if (tmpdir[0])
		rmdir(tmpdir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void at_exit(void)
{
	if (getpid() != owner_pid || in_child)
		return;
	kill_children();
	refresh_path_keys();
	int n = leftovers(1, 0);
	remove_tmpdir();
	if (n) {
		say("sma tests: System V objects were left behind at exit\n");
		fflush(NULL);
		_exit(1);
	}
}

static void t_init(void)
{
	static const int sigs[] = {SIGABRT, SIGALRM, SIGBUS, SIGFPE, SIGHUP, SIGILL,
				   SIGINT, SIGPIPE, SIGQUIT, SIGSEGV, SIGTERM};
	const char *s;

	if (owner_pid || in_child)
		return;
	owner_pid = getpid();
	born = mmap(NULL, sizeof(*born), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (born == MAP_FAILED)
		born = NULL;
	s = getenv("SMA_TEST_TIMEOUT");
	watchdog_seconds = s && atoi(s) > 0 ? atoi(s) : 600;
	take_snapshot();
	atexit(at_exit);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = fatal_signal;
		sa.sa_flags = SA_RESETHAND | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

static void snap_row(long key, long id, long cpid, void *arg)
{
	int is_shm = *(int *)arg;
	(void)key;
	(void)cpid;
	if (is_shm && n_snap_shm < T_MAX_SNAP)
		snap_shm[n_snap_shm++] = (int)id;
	else if (!is_shm && n_snap_sem < T_MAX_SNAP)
		snap_sem[n_snap_sem++] = (int)id;
}

static void take_snapshot(void)
{
	int is_shm;

	if (snapshot_taken)
		return;
	snapshot_taken = 1;
	is_shm = 1;
	scan_sysvipc(SHM_TABLE, SHM_CPID_FIELD, snap_row, &is_shm);
	is_shm = 0;
	scan_sysvipc(SEM_TABLE, 0, snap_row, &is_shm);
}

void t_ipc_snapshot(void)
{
	t_init(); /* the first call takes the snapshot */
}

/* ---- the registry ------------------------------------------------------- */

void t_track_shmid(int shmid)
{
	t_init();
	if (shmid >= 0 && !in_list(shm_ids, n_shm_ids, shmid) && n_shm_ids < T_MAX_IDS)
		shm_ids[n_shm_ids++] = shmid;
}

void t_track_semid(int semid)
{
	t_init();
	if (semid >= 0 && !in_list(sem_ids, n_sem_ids, semid) && n_sem_ids < T_MAX_IDS)
		sem_ids[n_sem_ids++] = semid;
}

void t_track_key(key_t key)
{
	t_init();
	if (key != IPC_PRIVATE && key != (key_t)-1 && !key_recorded(key) && n_keys < T_MAX_KEYS)
		keys[n_keys++] = key;
}

sma_t *t_track(sma_t *a)
{
	t_init();
	assert_non_null(a);
	t_track_shmid(sma_shmid(a));
	t_track_semid(sma_semid(a));
	t_track_key(sma_key(a));
	for (int i = 0; i < n_handles; i++)
		if (handles[i] == a)
			return a;
	if (n_handles < T_MAX_HANDLES)
		handles[n_handles++] = a;
	return a;
}

void t_untrack(sma_t *a)
{
	for (int i = 0; i < n_handles; i++)
		if (handles[i] == a) {
			handles[i] = handles[--n_handles];
			return;
		}
}

sma_t *t_open_private(size_t size)
{
	sma_t *a;

	t_init();
	a = sma_open_key(IPC_PRIVATE, SMA_CREATE, size, 0600);
	if (!a)
		fail_msg("sma_open_key(IPC_PRIVATE, SMA_CREATE, %zu, 0600): %s", size,
			 strerror(errno));
	return t_track(a);
}

void t_close(sma_t *a)
{
	int r = sma_close(a);

	if (r != 0)
		fail_msg("sma_close: %s", strerror(errno));
	t_untrack(a);
}

void t_destroy(sma_t *a)
{
	t_assert_check(a);
	t_untrack(a);
	if (sma_destroy(a) != 0)
		fail_msg("sma_destroy: %s", strerror(errno));
}

int t_ipc_leftovers(int remove)
{
	t_init();
	refresh_path_keys();
	/* Another process (sma ls, run by a test beside this one) may hold a
	 * segment the test destroyed for a moment; the last one out removes
	 * it and its semaphore set.  Give such peeks a second. */
	for (int i = 0; i < 20 && leftovers(0, 1); i++)
		usleep(50 * 1000);
	return leftovers(remove, 0);
}

struct id_query {
	long id;   /* the id looked for */
	int found; /* set when a row has it */
};

static void id_row(long key, long id, long cpid, void *arg)
{
	struct id_query *q = arg;
	(void)key;
	(void)cpid;
	if (id == q->id)
		q->found = 1;
}

int t_ipc_count(void)
{
	t_init();
	refresh_path_keys();
	return leftovers(0, 1);
}

static int id_in_table(const char *file, int id)
{
	struct id_query q = {id, 0};

	scan_sysvipc(file, 0, id_row, &q);
	return q.found;
}

struct by_creator {
	long pid;
	int *ids;
	int n, max;
};

static void creator_row(long key, long id, long cpid, void *arg)
{
	struct by_creator *q = arg;
	(void)key;
	if (cpid == q->pid && q->n < q->max)
		q->ids[q->n++] = (int)id;
}

int t_shm_created_by(pid_t pid, int *ids, int max)
{
	struct by_creator q = {pid, ids, 0, max};

	scan_sysvipc(SHM_TABLE, SHM_CPID_FIELD, creator_row, &q);
	return q.n;
}

int t_shm_exists(int shmid)
{
	return id_in_table(SHM_TABLE, shmid);
}

int t_sem_exists(int semid)
{
	return id_in_table(SEM_TABLE, semid);
}

/* ---- fixtures ------------------------------------------------------------ */

int t_ipc_setup(void **state)
{
	(void)state;
	t_init();
	return 0;
}

int t_ipc_teardown(void **state)
{
	(void)state;
	kill_children();
	if (t_ipc_leftovers(1)) {
		print_error("System V objects made by the tests remained; removed them\n");
		return -1;
	}
	return 0;
}

int t_test_setup(void **state)
{
	(void)state;
	t_init();
	alarm((unsigned)watchdog_seconds);
	return 0;
}

int t_test_teardown(void **state)
{
	int bad = 0;

	(void)state;
	if (n_children) {
		print_error("%d child process(es) not waited for; killed\n", n_children);
		kill_children();
		bad = 1;
	}
	if (n_handles) {
		print_error("%d handle(s) left open; destroying them\n", n_handles);
		while (n_handles)
			sma_destroy(handles[--n_handles]);
		bad = 1;
	}
	if (t_ipc_leftovers(1)) {
		print_error("System V objects made by the test remained; removed them\n");
		bad = 1;
	}
	alarm(0);
	return bad ? -1 : 0;
}

/* ---- paths ------------------------------------------------------------------ */

const char *t_tmpdir(void)
{
	const char *base;

	t_init();
	if (tmpdir[0])
		return tmpdir;
	base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/sma-%s-XXXXXX", base,
		 program_invocation_short_name);
	if (!mkdtemp(tmpdir)) {
		int e = errno;
		tmpdir[0] = '\0';
		fail_msg("mkdtemp under %s: %s", base, strerror(e));
	}
	return tmpdir;
}

const char *t_path(const char *name)
{
	char *p;

	t_tmpdir();
	if (n_paths >= T_MAX_PATHS)
		fail_msg("too many paths handed out");
	p = paths[n_paths++];
	if (snprintf(p, T_PATH_LEN, "%s/%u-%s", tmpdir, ++path_seq, name) >= T_PATH_LEN)
		fail_msg("path too long: %s/%s", tmpdir, name);
	return p;
}

key_t t_path_key(const char *path)
{
	key_t k = ftok(path, SMA_PROJ_ID);

	if (k != (key_t)-1)
		t_track_key(k);
	return k;
}

static void refresh_path_keys(void)
{
	for (int i = 0; i < n_paths; i++)
		t_path_key(paths[i]);
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char sub[T_PATH_LEN * 2];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(dir);
}

static void remove_tmpdir(void)
{
	if (tmpdir[0]) {
		chmod(tmpdir, 0700);
		remove_tree(tmpdir);
		tmpdir[0] = '\0';
	}
}

/* ---- the children, for t_fork and t_wait (common_internal.h) ------------------ */

int t_in_child(void)
{
	return in_child;
}

pid_t t__owner_pid(void)
{
	return owner_pid;
}

void t__child_room(void)
{
	t_init();
	if (n_children >= T_MAX_CHILDREN)
		fail_msg("too many children not waited for");
}

void t__child_start(void)
{
	in_child = 1;
	n_children = 0;
	n_handles = 0;
	alarm(0);
}

void t__child_born(pid_t pid)
{
	children[n_children++] = pid;
	if (born) {
		unsigned i = atomic_fetch_add(&born->n, 1);
		if (i < T_MAX_BORN)
			born->pid[i] = pid;
	}
}

void t__child_reaped(pid_t pid)
{
	for (int i = 0; i < n_children; i++)
		if (children[i] == pid) {
			children[i] = children[--n_children];
			return;
		}
}
