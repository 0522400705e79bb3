/*
 * procs.c -- which processes map a System V segment.
 *
 * The kernel counts attachments (shm_nattch) but does not say whose they
 * are; /proc/PID/maps does: a System V segment shows as "/SYSV<key>" with
 * the segment id in the inode column.  Segment ids are per IPC namespace,
 * so a process counts only when its IPC namespace is ours.  Only
 * processes whose maps the caller may read are found.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* 1 if the maps file of pid has a System V mapping of shmid. */
static int maps_segment(pid_t pid, int shmid)
{
	char path[64], line[512];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof line, f)) {
		unsigned long ino;
		int name = 0;

		if (!strstr(line, " /SYSV"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %lu %n", &ino, &name) >= 1 &&
		    ino == (unsigned long)shmid)
			found = 1;
	}
	fclose(f);
	return found;
}

/* 1 if pid's IPC namespace is this process's (or cannot be told). */
static int same_ipc_ns(pid_t pid)
{
	char path[64], theirs[64], ours[64];
	ssize_t n, m;

	snprintf(path, sizeof path, "/proc/%d/ns/ipc", (int)pid);
	n = readlink(path, theirs, sizeof theirs - 1);
	m = readlink("/proc/self/ns/ipc", ours, sizeof ours - 1);
	if (n < 0 || m < 0)
		return 1;
	return n == m && memcmp(theirs, ours, (size_t)n) == 0;
}

static void read_comm(pid_t pid, char comm[32])
{
	char path[64];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	comm[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		n = fread(comm, 1, 31, f);
		fclose(f);
	}
	comm[n] = '\0';
	while (n > 0 && (comm[n - 1] == '\n' || comm[n - 1] == ' '))
		comm[--n] = '\0';
}

int procs_attached(int shmid, struct proc_ent **out)
{
	struct proc_ent *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dir;
	pid_t self = getpid();

	*out = NULL;
	dir = opendir("/proc");
	if (!dir)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		char *end;
		long pid;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid = strtol(d->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		if (!maps_segment((pid_t)pid, shmid) || !same_ipc_ns((pid_t)pid))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				free(v);
				closedir(dir);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		v[n].pid = (pid_t)pid;
		read_comm((pid_t)pid, v[n].comm);
		n++;
	}
	closedir(dir);
	*out = v;
	return (int)n;
}

int pid_alive(pid_t pid)
{
	if (pid <= 0)
		return 0;
	return kill(pid, 0) == 0 || errno == EPERM;
}
