/*
 * cmd_admin.c -- sma create, sma ls and sma rm: making, finding and
 * removing arenas.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "tool.h"

/* ---- create ---- */

int cmd_create(const struct cmd *c, const struct opts *o)
{
	mode_t mode = o->has_mode && o->mode ? o->mode : 0600;
	struct sma_stats st;
	char b1[32], b2[32], k[16];
	key_t key = 0;
	sma_t *a;
	int err;

	if (o->has_id) {
		fail(c, "an arena is created by PATH or --key, not by --id");
		return EXIT_FAIL;
	}
	if (!o->has_size) {
		fail(c, "--size SIZE is required (for example --size 64M)");
		return EXIT_FAIL;
	}
	if (o->size < SMA_MIN_SIZE) {
		fail(c, "size %s is below the smallest arena, %s",
		     fmt_size(b1, o->size), fmt_size(b2, SMA_MIN_SIZE));
		return EXIT_FAIL;
	}
	if (o->path) {
		struct stat sb;

		if (stat(o->path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			fail(c, "%s: a directory: an arena is named by a file "
				"(made empty when it does not exist)", o->path);
			return EXIT_FAIL;
		}
	}
	if (o->path)
		a = sma_open(o->path, SMA_CREATE | SMA_EXCL, o->size, mode);
	else
		a = sma_open_key(o->key, SMA_CREATE | SMA_EXCL, o->size, mode);
	if (!a) {
		err = errno;
		if (o->path && ftok(o->path, SMA_PROJ_ID) != (key_t)-1)
			key = ftok(o->path, SMA_PROJ_ID);
		else if (!o->path)
			key = o->key;
		switch (err) {
		case EEXIST:
			fail(c, "%s: a segment with key %s exists already (sma "
				"info tells what it is; sma rm removes an "
				"arena, sma rm --force anything)",
			     target_name(o), fmt_key(k, key));
			break;
		case EINVAL:
			fail(c, "%s: size %s is larger than the system allows "
				"(see /proc/sys/kernel/shmmax)",
			     target_name(o), fmt_size(b1, o->size));
			break;
		case ENOSPC:
		case ENOMEM:
			fail(c, "%s: the system could not make a segment of %s: "
				"%s (see /proc/sys/kernel/shmall and shmmni)",
			     target_name(o), fmt_size(b1, o->size),
			     errstr(err));
			break;
		default:
			fail(c, "%s: %s", target_name(o), errstr(err));
		}
		return EXIT_FAIL;
	}
	if (o->has_limit && sma_set_limit(a, o->limit) < 0) {
		err = errno;
		fail(c, "%s: setting the limit %s: %s", target_name(o),
		     fmt_size(b1, o->limit), errstr(err));
		sma_destroy(a);
		return EXIT_FAIL;
	}
	if (sma_stats(a, &st) < 0)
		memset(&st, 0, sizeof st);
	printf("created %s: key %s, shmid %d, semid %d, size %s (heap %s), "
	       "mode %04o",
	       arena_label(o, sma_key(a)), fmt_key(k, sma_key(a)),
	       sma_shmid(a), sma_semid(a), fmt_size(b1, st.size),
	       fmt_size(b2, st.heap_size), (unsigned)mode);
	if (o->has_limit)
		printf(", may grow to %s", fmt_size(b1, o->limit));
	printf("\n");
	if (sma_close(a) < 0) {
		fail(c, "closing: %s", errstr(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* ---- ls ---- */

struct ls_list {
	struct sma_ls_entry *v;
	size_t n, cap;
};

static int ls_add(const struct sma_ls_entry *e, void *arg)
{
	struct ls_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct sma_ls_entry *v = realloc(l->v, cap * sizeof *v);

		if (!v)
			return ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
	return 0;
}

/* Arenas first, then orphans; each by id. */
static int ls_cmp(const void *x, const void *y)
{
	const struct sma_ls_entry *a = x, *b = y;

	if (a->orphan != b->orphan)
		return a->orphan - b->orphan;
	if (a->orphan)
		return (a->semid > b->semid) - (a->semid < b->semid);
	return (a->shmid > b->shmid) - (a->shmid < b->shmid);
}

static void ls_json(const struct ls_list *l)
{
	struct json j;
	char k[16], m[8];
	size_t i;

	json_init(&j, stdout);
	json_arr(&j, NULL, 0);
	for (i = 0; i < l->n; i++) {
		const struct sma_ls_entry *e = &l->v[i];

		json_obj(&j, NULL, 1);
		snprintf(m, sizeof m, "%04o", (unsigned)(e->mode & 0777));
		if (e->orphan) {
			json_bool(&j, "orphan", 1);
			json_i64(&j, "key", e->key);
			json_str(&j, "key_hex", fmt_key(k, e->key));
			json_i64(&j, "semid", e->semid);
			json_u64(&j, "uid", e->uid);
			json_u64(&j, "mode", e->mode & 0777);
			json_str(&j, "mode_octal", m);
		} else {
			json_i64(&j, "key", e->key);
			json_str(&j, "key_hex", fmt_key(k, e->key));
			json_i64(&j, "shmid", e->shmid);
			json_i64(&j, "semid", e->semid);
			json_u64(&j, "size", e->size);
			json_u64(&j, "nattch", e->nattch);
			json_u64(&j, "used", e->used);
			json_u64(&j, "live", e->live);
			json_u64(&j, "uid", e->uid);
			json_u64(&j, "mode", e->mode & 0777);
			json_str(&j, "mode_octal", m);
			json_i64(&j, "cpid", e->cpid);
			json_bool(&j, "destroyed", e->destroyed);
		}
		json_end(&j);
	}
	json_end(&j);
	json_finish(&j);
}

/* The owner in 8 columns at most: the user's name, or the uid. */
static const char *short_user(char buf[16], uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, 16, "%.8s", pw->pw_name);
	else
		snprintf(buf, 16, "%u", (unsigned)uid);
	return buf;
}

/* 80 columns: no mode, no creator, the owner's name only. */
static void ls_narrow(const struct ls_list *l)
{
	char k[16], b1[32], b2[32], u[16], lv[24];
	size_t i, orphans = 0, destroyed = 0;

	printf("%-10s %8s %8s %8s %8s %8s %4s %-8s %s\n", "KEY", "SHMID",
	       "SEMID", "SIZE", "USED", "LIVE", "NATT", "OWNER", "STATE");
	for (i = 0; i < l->n; i++) {
		const struct sma_ls_entry *e = &l->v[i];

		if (e->orphan) {
			orphans++;
			printf("%-10s %8s %8d %8s %8s %8s %4s %-8s %s\n",
			       fmt_key(k, e->key), "-", e->semid, "-", "-", "-",
			       "-", short_user(u, e->uid), "orphan");
			continue;
		}
		destroyed += e->destroyed != 0;
		/* Read without the lock while another process works, the
		 * figures can be torn: what cannot be is not shown. */
		if (e->used > e->size || e->live > e->size / 16)
			snprintf(b2, sizeof b2, "?");
		else
			fmt_size(b2, e->used);
		if (e->live > e->size / 16)
			snprintf(lv, sizeof lv, "?");
		else
			snprintf(lv, sizeof lv, "%" PRIu64, e->live);
		printf("%-10s %8d %8d %8s %8s %8s %4" PRIu32 " %-8s %s\n",
		       fmt_key(k, e->key), e->shmid, e->semid,
		       fmt_size(b1, e->size), b2, lv,
		       e->nattch, short_user(u, e->uid),
		       e->destroyed ? "destroyed"
				    : (e->key == IPC_PRIVATE ? "private" : "-"));
	}
	if (destroyed)
		printf("\ndestroyed: marked for removal, gone once the last "
		       "process detaches\n");
	if (orphans)
		printf("%s%zu orphaned semaphore %s: sma rm --orphans removes "
		       "%s\n", destroyed ? "" : "\n", orphans,
		       plural(orphans, "set", "sets"),
		       plural(orphans, "it", "them"));
}

static void ls_text(const struct ls_list *l)
{
	char k[16], b1[32], b2[32], u[64];
	size_t i, orphans = 0;

	if (l->n == 0) {
		printf("no sma arena on this machine that this user may "
		       "read\n");
		return;
	}
	/* The whole table takes some 135 columns. */
	if (out_width() < 135) {
		ls_narrow(l);
		return;
	}
	printf("%-10s %8s %8s %10s %10s %9s %6s %5s %8s  %-16s %s\n", "KEY",
	       "SHMID", "SEMID", "SIZE", "USED", "LIVE", "NATTCH", "MODE",
	       "CPID", "OWNER", "STATE");
	for (i = 0; i < l->n; i++) {
		const struct sma_ls_entry *e = &l->v[i];

		if (e->orphan) {
			orphans++;
			printf("%-10s %8s %8d %10s %10s %9s %6s %04o %8s  "
			       "%-16s %s\n",
			       fmt_key(k, e->key), "-", e->semid, "-", "-", "-",
			       "-", (unsigned)(e->mode & 0777), "-",
			       fmt_user(u, e->uid), "orphaned semaphore set");
			continue;
		}
		printf("%-10s %8d %8d %10s %10s %9" PRIu64 " %6" PRIu32
		       " %04o %8d  %-16s %s\n",
		       fmt_key(k, e->key), e->shmid, e->semid,
		       fmt_size(b1, e->size), fmt_size(b2, e->used), e->live,
		       e->nattch, (unsigned)(e->mode & 0777), (int)e->cpid,
		       fmt_user(u, e->uid),
		       e->destroyed ? "destroyed (until the last detach)"
				    : (e->key == IPC_PRIVATE ? "private"
							      : "-"));
	}
	if (orphans)
		printf("\n%zu orphaned semaphore %s: sma rm --orphans removes "
		       "%s\n", orphans, plural(orphans, "set", "sets"),
		       plural(orphans, "it", "them"));
}

int cmd_ls(const struct cmd *c, const struct opts *o)
{
	struct ls_list l = { 0 };
	struct shmid_ds ds;
	size_t i;
	int r;

	r = sma_ls(ls_add, &l);
	if (r != 0) {
		fail(c, "listing: %s", errstr(r == -1 ? errno : ENOMEM));
		free(l.v);
		return EXIT_FAIL;
	}
	/* nattch as the kernel has it once sma_ls has detached from every
	 * arena it read. */
	for (i = 0; i < l.n; i++)
		if (!l.v[i].orphan && shmctl(l.v[i].shmid, IPC_STAT, &ds) == 0)
			l.v[i].nattch = (uint32_t)ds.shm_nattch;
	qsort(l.v, l.n, sizeof *l.v, ls_cmp);
	if (o->json)
		ls_json(&l);
	else
		ls_text(&l);
	free(l.v);
	return EXIT_OK;
}

/* ---- rm ---- */

/* Removes whatever segment and semaphore set the target names. */
static int rm_force(const struct cmd *c, const struct opts *o)
{
	int shmid, semid = -1, ksem = -1, removed = 0, nadded = 0;
	int added[64];
	struct shmid_ds ds;
	char k[16];
	key_t key = IPC_PRIVATE;
	sma_t *a;

	if (o->has_id) {
		shmid = o->id;
		if (shmctl(shmid, IPC_STAT, &ds) < 0) {
			fail(c, "shmid %d: %s", shmid, errstr(errno));
			return EXIT_FAIL;
		}
		key = ds.shm_perm.__key;
	} else {
		if (target_key(o, &key) < 0) {
			fail(c, "%s: %s", target_name(o), errstr(errno));
			return EXIT_FAIL;
		}
		if (key == IPC_PRIVATE) {
			fail(c, "key 0 is IPC_PRIVATE, which names nothing: "
				"use --id SHMID");
			return EXIT_FAIL;
		}
		shmid = shmget(key, 0, 0);
	}
	/* The arena's own semaphore set, if the segment is an arena. */
	if (shmid >= 0) {
		a = sma_open_id(shmid, SMA_RDONLY);
		if (a) {
			semid = sma_semid(a);
			/* and the segments it grew by */
			for (unsigned i = 1; nadded < 64 &&
			     sma_segment(a, i, &added[nadded], NULL) == 0; i++)
				nadded++;
			sma_close(a);
		}
	}
	if (key != IPC_PRIVATE)
		ksem = semget(key, 0, 0);
	if (shmid >= 0) {
		if (shmctl(shmid, IPC_RMID, NULL) < 0) {
			fail(c, "%s: removing segment %d: %s", target_name(o),
			     shmid, errstr(errno));
			return EXIT_FAIL;
		}
		printf("removed segment shmid %d (key %s)\n", shmid,
		       fmt_key(k, key));
		removed++;
	}
	for (int i = 0; i < nadded; i++) {
		if (shmctl(added[i], IPC_RMID, NULL) == 0) {
			printf("removed added segment shmid %d\n", added[i]);
			removed++;
		} else if (errno != EINVAL && errno != EIDRM) {
			fail(c, "%s: removing added segment %d: %s",
			     target_name(o), added[i], errstr(errno));
			return EXIT_FAIL;
		}
	}
	if (semid >= 0) {
		if (semctl(semid, 0, IPC_RMID) == 0) {
			printf("removed semaphore set semid %d\n", semid);
			removed++;
		} else if (errno == EINVAL || errno == EIDRM) {
			printf("semaphore set semid %d, which the arena named, "
			       "was gone already\n", semid);
		} else {
			fail(c, "%s: removing semaphore set %d: %s",
			     target_name(o), semid, errstr(errno));
			return EXIT_FAIL;
		}
	}
	if (ksem >= 0 && ksem != semid) {
		if (semctl(ksem, 0, IPC_RMID) < 0) {
			fail(c, "%s: removing semaphore set %d: %s",
			     target_name(o), ksem, errstr(errno));
			return EXIT_FAIL;
		}
		printf("removed semaphore set semid %d (key %s)\n", ksem,
		       fmt_key(k, key));
		removed++;
	}
	if (!removed) {
		fail(c, "%s: no segment and no semaphore set has key %s",
		     target_name(o), fmt_key(k, key));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_rm(const struct cmd *c, const struct opts *o)
{
	struct sma_stats st;
	uint32_t others = 0;
	char k[16];
	sma_t *a;
	int n, shmid;
	key_t key;

	if (o->orphans) {
		n = sma_rm_orphans();
		if (n < 0) {
			fail(c, "removing orphaned semaphore sets: %s",
			     errstr(errno));
			return EXIT_FAIL;
		}
		printf("removed %d orphaned semaphore set%s\n", n,
		       n == 1 ? "" : "s");
		return EXIT_OK;
	}
	if (o->force)
		return rm_force(c, o);
	a = open_target(c, o, 0);
	if (!a)
		return EXIT_FAIL;
	if (sma_stats(a, &st) == 0 && st.nattch > 1)
		others = st.nattch - 1;
	shmid = sma_shmid(a);
	key = sma_key(a);
	if (sma_destroy(a) < 0) {
		fail(c, "%s: %s", target_name(o), errstr(errno));
		return EXIT_FAIL;
	}
	printf("destroyed %s (key %s, shmid %d)", arena_label(o, key),
	       fmt_key(k, key), shmid);
	if (others)
		printf(": %" PRIu32 " process%s still attached keep%s it until "
		       "they detach", others, others == 1 ? "" : "es",
		       others == 1 ? "s" : "");
	putchar('\n');
	return EXIT_OK;
}

/* ---- limit ---- */

int cmd_limit(const struct cmd *c, const struct opts *o)
{
	size_t limit = 0;
	char b1[32], b2[32];
	struct sma_stats st;
	sma_t *a;

	if (o->file && parse_size(o->file, &limit) < 0) {
		fail(c, "bad limit '%s': expected a number with an optional K, "
			"M, G or T suffix", o->file);
		return EXIT_FAIL;
	}
	a = open_target(c, o, o->file ? 0 : SMA_RDONLY);
	if (!a)
		return EXIT_FAIL;
	if (o->file && sma_set_limit(a, limit) < 0) {
		fail(c, "%s: setting the limit %s: %s", target_name(o),
		     fmt_size(b1, limit), errno == EINVAL
		     ? "more than the library can address" : errstr(errno));
		sma_close(a);
		return EXIT_FAIL;
	}
	if (sma_stats(a, &st) < 0)
		memset(&st, 0, sizeof st);
	limit = sma_limit(a);
	if (!limit)
		printf("%s: no limit: it never grows (size %s)\n",
		       target_name(o), fmt_size(b2, st.size));
	else
		printf("%s: limit %s (%zu bytes); size now %s%s\n",
		       target_name(o), fmt_size(b1, limit), limit,
		       fmt_size(b2, st.size),
		       limit <= st.size ? ": it does not grow" : "");
	sma_close(a);
	return EXIT_OK;
}
