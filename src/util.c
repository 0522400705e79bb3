/*
 * util.c -- facts about processes and threads that the lock, the slots and
 * the crash tests need: thread ids, process start times (so that a reused
 * pid is not mistaken for a process that is gone), and a fork generation.
 */
#include "internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic uint32_t sma__fork_gen = 1;

static TLS pid_t t_tid;
static TLS uint32_t t_tid_gen;
static pid_t g_pid;
static uint32_t g_pid_gen;
static uint64_t g_start;

void sma__assert_fail(const char *e, const char *file, int line)
{
	/* Only debug builds get here. */
	fprintf(stderr, "sma: assertion failed: %s (%s:%d)\n", e, file, line);
	abort();
}

pid_t sma__gettid(void)
{
	uint32_t gen = atomic_load_explicit(&sma__fork_gen, memory_order_relaxed);
	if (t_tid_gen != gen) {
		t_tid = (pid_t)syscall(SYS_gettid);
		t_tid_gen = gen;
	}
	return t_tid;
}

pid_t sma__getpid(void)
{
	uint32_t gen = atomic_load_explicit(&sma__fork_gen, memory_order_acquire);
	if (g_pid_gen != gen) {
		g_pid = getpid();
		g_start = 0;
		g_pid_gen = gen;
	}
	return g_pid;
}

/*
 * Field 22 of /proc/PID/stat: the time the process started, in clock ticks
 * since boot.  With the pid it names one process for the life of the
 * machine.  0 when the process does not exist.
 */
uint64_t sma__proc_start(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++; /* at the space before field 3 */
	for (int field = 3; field < 22 && *p; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return 0;
	}
	if (!p || !*p)
		return 0;
	uint64_t v = strtoull(p + 1, NULL, 10);
	return v ? v : 1;
}

uint64_t sma__self_start(void)
{
	pid_t pid = sma__getpid();
	if (!g_start)
		g_start = sma__proc_start(pid);
	return g_start;
}

/* 1 if the process pid that started at start (0: any start) still runs. */
int sma__proc_alive(pid_t pid, uint64_t start)
{
	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	if (!start)
		return 1;
	uint64_t now = sma__proc_start(pid);
	if (now == 0) {
		/* No /proc entry: gone, unless /proc is not mounted. */
		return access("/proc/self/stat", F_OK) != 0;
	}
	return now == start;
}

static void atfork_child(void)
{
	atomic_fetch_add(&sma__fork_gen, 1);
	sma__tls_after_fork();
}

static void init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
	sma__slab_init();
}

void sma__init_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init);
}

#ifdef SMA_CRASH_POINTS
/*
 * The crash-test build (libsma_crash.la, for tests only): every STEP() in
 * an operation that changes the arena counts one step; after
 * sma__crash_after(n) the nth step _exits the process with status 77, as a
 * SIGKILL would stop it there.  sma__crash_steps() tells how many steps
 * were taken since the last sma__crash_after(), so that a test can learn
 * how many steps an operation has and then crash it at each.
 */
static long crash_left;
static long crash_count;
void sma__crash_after(long n)
{
	crash_left = n;
	crash_count = 0;
}
long sma__crash_steps(void)
{
	return crash_count;
}
void sma__step(void)
{
	crash_count++;
	if (crash_left > 0 && --crash_left == 0)
		_exit(77);
}
#endif
