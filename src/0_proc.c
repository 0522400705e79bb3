/*
 * 0_proc.c -- facts about this process and others: thread and process ids
 * (cached, and read again in a fork child), a random identity for this
 * process, its start time and PID namespace, and whether another process
 * has exited.
 *
 * Nothing of the arena's correctness rests on these pids: they are shown
 * by the tool, and they are the last resort of a liveness test only where
 * the kernel's own signs (a SEM_UNDO token, a robust mutex) cannot be
 * read.  A process is gone when it no longer exists, when it is a zombie
 * (it has exited; its parent has not reaped it yet), or when its pid
 * names a process that started at another time.  Pids of another PID
 * namespace mean nothing here: callers compare sma__self_pidns() first.
 */
#include "0_proc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic uint32_t sma__fork_gen = 1;

static TLS pid_t t_tid;
static TLS uint32_t t_tid_gen;

/* What this process knows of itself, valid while gen == sma__fork_gen. */
static struct {
	uint32_t gen;
	pid_t pid;
	uint64_t id;
	uint64_t start;
	uint64_t pidns;
} self;
static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;

pid_t sma__gettid(void)
{
	uint32_t gen = atomic_load_explicit(&sma__fork_gen, memory_order_relaxed);
	if (t_tid_gen != gen) {
		t_tid = (pid_t)syscall(SYS_gettid);
		t_tid_gen = gen;
	}
	return t_tid;
}

int sma__task_stat(pid_t pid, pid_t tid, struct task_stat *ts)
{
	char path[64], buf[1024];
	if (tid)
		snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	else
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	int e = errno;
	close(fd);
	if (n <= 0) {
		errno = n < 0 ? e : ENOENT;
		return -1;
	}
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	 * so fields are counted from the last ')', which closes field 2. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		goto bad;
	ts->state = p[2];
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			goto bad;
		p++;
	}
	char *end;
	ts->start = strtoull(p, &end, 10);
	if (end == p)
		goto bad;
	return 0;
bad:
	errno = EIO;
	return -1;
}

/* Fills self for this process (after a fork, anew). */
static void self_read(uint32_t gen)
{
	pthread_mutex_lock(&self_lock);
	if (self.gen != gen) {
		struct task_stat ts;
		struct stat st;
		uint64_t id = 0;
		self.pid = getpid();
		self.start = sma__task_stat(self.pid, 0, &ts) == 0 && ts.start ? ts.start : 1;
		self.pidns = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
		if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
			id = ((uint64_t)self.pid << 32) ^ self.start ^ (uint64_t)(uintptr_t)&id;
		self.id = id ? id : 1;
		atomic_store_explicit((_Atomic uint32_t *)&self.gen, gen, memory_order_release);
	}
	pthread_mutex_unlock(&self_lock);
}

static inline void self_fresh(void)
{
	uint32_t gen = atomic_load_explicit(&sma__fork_gen, memory_order_acquire);
	if (UNLIKELY(atomic_load_explicit((_Atomic uint32_t *)&self.gen, memory_order_acquire) != gen))
		self_read(gen);
}

pid_t sma__getpid(void)
{
	self_fresh();
	return self.pid;
}

uint64_t sma__self_id(void)
{
	self_fresh();
	return self.id;
}

uint64_t sma__self_start(void)
{
	self_fresh();
	return self.start;
}

uint64_t sma__self_pidns(void)
{
	self_fresh();
	return self.pidns;
}

int sma__proc_gone(pid_t pid, uint64_t start)
{
	if (pid <= 0)
		return 0; /* not a pid we can judge */
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	struct task_stat ts;
	if (sma__task_stat(pid, 0, &ts) < 0)
		/* No /proc entry although the pid exists: /proc is hidden
		 * from us (hidepid) or not mounted; we cannot tell. */
		return 0;
	if (ts.state == 'Z' || ts.state == 'X')
		return 1; /* exited, not reaped yet */
	return start && ts.start != start;
}

/* The boot time, seconds since the epoch (btime of /proc/stat), 0 if
 * unknown. */
static int64_t boot_time(void)
{
	static int64_t btime;
	if (btime)
		return btime;
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return 0;
	char line[256];
	long long v = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "btime %lld", &v) == 1)
			break;
	fclose(f);
	btime = v;
	return btime;
}

int sma__proc_started_after(pid_t pid, int64_t t)
{
	struct task_stat ts;
	int64_t bt = boot_time();
	long hz = sysconf(_SC_CLK_TCK);
	if (pid <= 0 || !bt || hz <= 0 || sma__task_stat(pid, 0, &ts) < 0)
		return 0;
	return bt + (int64_t)(ts.start / (uint64_t)hz) > t + 1;
}

