/*
 * guard.c -- remove an arena's System V objects if the program is stopped.
 *
 * The handler uses only async-signal-safe calls: kill, shmctl, semctl,
 * unlink, rmdir, write, _exit.
 */
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "guard.h"

#define GUARD_MAX_CHILDREN 64

static int g_shmid = -1, g_semid = -1;
static char g_file[PATH_MAX], g_dir[PATH_MAX];
static pid_t g_children[GUARD_MAX_CHILDREN];
static volatile sig_atomic_t g_nchildren;

static const int g_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };

static void on_signal(int sig)
{
	static const char stopped[] = "\nstopped by a signal: arena removed\n";
	static const char timeout[] = "\ntime limit reached: arena removed\n";
	int i;

	for (i = 0; i < g_nchildren; i++)
		kill(g_children[i], SIGKILL);
	if (g_shmid >= 0)
		shmctl(g_shmid, IPC_RMID, NULL);
	if (g_semid >= 0)
		semctl(g_semid, 0, IPC_RMID);
	if (g_file[0])
		unlink(g_file);
	if (g_dir[0])
		rmdir(g_dir);
	if (sig == SIGALRM)
		(void)!write(2, timeout, sizeof(timeout) - 1);
	else
		(void)!write(2, stopped, sizeof(stopped) - 1);
	_exit(128 + sig);
}

void guard_arena(sma_t *a, unsigned seconds)
{
	struct sigaction sa;
	size_t i;

	g_shmid = sma_shmid(a);
	g_semid = sma_semid(a);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(g_signals) / sizeof(g_signals[0]); i++)
		sigaddset(&sa.sa_mask, g_signals[i]);
	for (i = 0; i < sizeof(g_signals) / sizeof(g_signals[0]); i++)
		sigaction(g_signals[i], &sa, NULL);
	if (seconds > 0)
		alarm(seconds);
}

void guard_files(const char *file, const char *dir)
{
	if (file && strlen(file) < sizeof(g_file))
		strcpy(g_file, file);
	if (dir && strlen(dir) < sizeof(g_dir))
		strcpy(g_dir, dir);
}

void guard_child(pid_t pid)
{
	if (pid > 0 && g_nchildren < GUARD_MAX_CHILDREN) {
		g_children[g_nchildren] = pid;
		g_nchildren = g_nchildren + 1;
	}
}

void guard_in_child(void)
{
	size_t i;

	alarm(0);
	for (i = 0; i < sizeof(g_signals) / sizeof(g_signals[0]); i++)
		signal(g_signals[i], SIG_DFL);
	g_nchildren = 0;
}
