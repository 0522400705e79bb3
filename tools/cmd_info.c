/*
 * cmd_info.c -- sma info and sma stats: what an arena is, and how its
 * memory is spent.
 *
 * Both attach read-only and take no lock: the figures are a snapshot that
 * may be moving while other processes work.  The segment is stat'ed before
 * the tool attaches, so that the last attach time and pid shown are those
 * of the arena's users, not the tool's; nattch is shown less the tool's
 * own attachment.  On an image (--image) only what the bytes say is
 * shown: an image has no segment, so no ids, owner, times or processes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "tool.h"

/* A label and a value, aligned. */
static void kv(const char *label, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void kv(const char *label, const char *fmt, ...)
{
	va_list ap;

	printf("%-16s ", label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* shm_nattch less this tool's attachment. */
static uint32_t others(uint32_t nattch)
{
	return nattch > 0 ? nattch - 1 : 0;
}

struct slots {
	struct sma_slot_info *v;
	size_t n, cap;
};

static int slots_add(const struct sma_slot_info *s, void *arg)
{
	struct slots *sl = arg;

	if (sl->n == sl->cap) {
		size_t cap = sl->cap ? 2 * sl->cap : 16;
		struct sma_slot_info *v = realloc(sl->v, cap * sizeof *v);

		if (!v)
			return ENOMEM;
		sl->v = v;
		sl->cap = cap;
	}
	sl->v[sl->n++] = *s;
	return 0;
}

static int proc_cmp(const void *x, const void *y)
{
	const struct proc_ent *a = x, *b = y;

	return (a->pid > b->pid) - (a->pid < b->pid);
}

/* The stat of the segment before the tool attaches; 0 or -1. */
static int pre_stat(const struct opts *o, struct shmid_ds *ds, int *shmid)
{
	*shmid = target_shmid(o);
	if (*shmid < 0)
		return -1;
	return shmctl(*shmid, IPC_STAT, ds);
}

static void json_stats(struct json *j, const struct sma_stats *st)
{
	json_u64(j, "size", st->size);
	json_u64(j, "heap_size", st->heap_size);
	json_u64(j, "used", st->used);
	json_u64(j, "free", st->free);
	json_u64(j, "largest_free", st->largest_free);
	json_u64(j, "live", st->live);
	json_u64(j, "allocs", st->allocs);
	json_u64(j, "frees", st->frees);
	json_u64(j, "nattch", others(st->nattch));
}

/* Opens the JSON object that info and stats print: the arena's identity,
 * then the figures of struct sma_stats under their own names. */
static void json_open_arena(struct json *j, const struct opts *o, const struct sma_info *in,
			    const struct sma_stats *st)
{
	char k[16];

	json_init(j, stdout);
	json_obj(j, NULL, 0);
	if (o->path)
		json_str(j, "path", o->path);
	json_i64(j, "shmid", in->shmid);
	json_i64(j, "key", in->key);
	json_str(j, "key_hex", fmt_key(k, in->key));
	json_stats(j, st);
}

/* The arena's segments, the first first (sma_segment). */
static struct {
	int shmid;
	size_t size;
} segs[64];
static unsigned nsegs;

static void read_segments(sma_t *a)
{
	for (nsegs = 0; nsegs < 64 && sma_segment(a, nsegs, &segs[nsegs].shmid,
						  &segs[nsegs].size) == 0;)
		nsegs++;
}

static void info_json(const struct opts *o, const struct sma_info *in,
		      const struct sma_stats *st, const struct slots *sl,
		      const struct proc_ent *pv, int np)
{
	struct json j;
	char m[24];
	size_t i;

	json_open_arena(&j, o, in, st);
	if (o->image)
		json_str(&j, "image", o->image);
	json_i64(&j, "semid", in->semid);
	json_u64(&j, "layout_version", in->layout_version);
	json_bool(&j, "destroyed", in->destroyed);
	json_u64(&j, "uid", in->uid);
	json_u64(&j, "gid", in->gid);
	json_u64(&j, "cuid", in->cuid);
	json_u64(&j, "cgid", in->cgid);
	json_u64(&j, "mode", in->mode & 0777);
	snprintf(m, sizeof m, "%04o", (unsigned)(in->mode & 0777));
	json_str(&j, "mode_octal", m);
	json_i64(&j, "cpid", in->cpid);
	json_i64(&j, "lpid", in->lpid);
	json_i64(&j, "atime", in->atime);
	json_i64(&j, "dtime", in->dtime);
	json_i64(&j, "ctime", in->ctime);
	json_i64(&j, "created", in->created);
	json_u64(&j, "path_dev", in->path_dev);
	json_u64(&j, "path_ino", in->path_ino);
	json_obj(&j, "lock", 1);
	json_i64(&j, "holder", in->lock_holder);
	json_bool(&j, "holder_alive", pid_alive(in->lock_holder));
	json_bool(&j, "in_op", in->lock_in_op);
	json_end(&j);
	json_u64(&j, "lock_ops", in->lock_ops);
	json_u64(&j, "lock_waits", in->lock_waits);
	json_u64(&j, "sem_ops", in->sem_ops);
	json_u64(&j, "repairs", in->repairs);
	json_u64(&j, "limit", in->limit);
	json_arr(&j, "segments", 0);
	for (unsigned k = 0; k < nsegs; k++) {
		json_obj(&j, NULL, 1);
		json_i64(&j, "shmid", segs[k].shmid);
		json_u64(&j, "size", segs[k].size);
		json_end(&j);
	}
	json_end(&j);
	json_bool(&j, "sem_gone", in->sem_gone);
	json_u64(&j, "sets_replaced", in->sets_replaced);
	json_u64(&j, "nslots", in->nslots);
	json_u64(&j, "slots_used", in->slots_used);
	json_u64(&j, "nclasses", in->nclasses);
	json_u64(&j, "cached", in->cached);
	json_arr(&j, "slots", 0);
	for (i = 0; i < sl->n; i++) {
		const struct sma_slot_info *s = &sl->v[i];

		json_obj(&j, NULL, 1);
		json_u64(&j, "slot", s->slot);
		json_i64(&j, "pid", s->pid);
		json_i64(&j, "tid", s->tid);
		json_bool(&j, "alive", s->alive);
		json_u64(&j, "cached", s->cached);
		json_u64(&j, "cached_bytes", s->cached_bytes);
		json_u64(&j, "allocs", s->allocs);
		json_u64(&j, "frees", s->frees);
		json_end(&j);
	}
	json_end(&j);
	json_arr(&j, "attached", 0);
	for (i = 0; i < (size_t)(np > 0 ? np : 0); i++) {
		json_obj(&j, NULL, 1);
		json_i64(&j, "pid", pv[i].pid);
		json_str(&j, "command", pv[i].comm);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	json_finish(&j);
}

static void info_text(const struct opts *o, const struct sma_info *in,
		      const struct sma_stats *st, const struct slots *sl,
		      const struct proc_ent *pv, int np)
{
	char b1[64], b2[64], b3[40];
	size_t i;
	unsigned dead = 0;

	if (o->image)
		kv("image", "%s (a copy: no segment, ids, owner or times)",
		   o->image);
	else if (o->path)
		kv("arena", "%s", o->path);
	else if (in->key == IPC_PRIVATE)
		kv("arena", "private (key IPC_PRIVATE: reached by its shmid)");
	if (!o->image) {
		kv("key", "%s", fmt_key(b1, in->key));
		kv("shmid", "%d", in->shmid);
		if (in->sem_gone)
			kv("semid", "%d, removed from outside (the next lock "
				    "makes a new one)", in->semid);
		else
			kv("semid", "%d", in->semid);
	}
	if (in->sets_replaced)
		kv("sets replaced", "%" PRIu32 " (made in place of sets removed "
				    "from outside)", in->sets_replaced);
	kv("layout version", "%" PRIu32, in->layout_version);
	if (!o->image) {
		kv("state", "%s", in->destroyed
			? "destroyed: gone when the last process detaches"
			: "in service");
		kv("permissions", "%s", fmt_mode(b1, in->mode));
		kv("owner", "%s / %s", fmt_user(b1, in->uid),
		   fmt_group(b2, in->gid));
		kv("creator", "%s / %s, pid %d (%s)", fmt_user(b1, in->cuid),
		   fmt_group(b2, in->cgid), (int)in->cpid,
		   pid_alive(in->cpid) ? "running" : "exited");
	}
	kv("created", "%s", fmt_time(b3, in->created));
	if (!o->image) {
		kv("last attach", "%s", fmt_time(b3, in->atime));
		kv("last detach", "%s", fmt_time(b3, in->dtime));
		kv("last change", "%s", fmt_time(b3, in->ctime));
		kv("last pid", "%d (of the last attach or detach)",
		   (int)in->lpid);
	}
	if (in->path_ino)
		kv("path identity", "device %" PRIu64 ", inode %" PRIu64,
		   in->path_dev, in->path_ino);
	kv("size", "%s (%zu bytes)", fmt_size(b1, st->size), st->size);
	if (in->limit)
		kv("growth limit", "%s (%zu bytes)%s", fmt_size(b1, in->limit),
		   in->limit, in->limit <= st->size ? ": it does not grow" : "");
	else
		kv("growth limit", "none: it never grows");
	for (unsigned k = 0; k < nsegs; k++)
		kv(k ? "added segment" : "first segment", "shmid %d, %s",
		   segs[k].shmid, fmt_size(b1, segs[k].size));
	kv("heap", "%s available to objects when empty",
	   fmt_size(b1, st->heap_size));
	kv("used", "%s in %" PRIu64 " live %s (%.1f%% of the heap)",
	   fmt_size(b1, st->used), st->live,
	   plural(st->live, "object", "objects"),
	   percent(st->used, st->heap_size));
	kv("free", "%s, of which %s in thread caches",
	   fmt_size(b1, st->free), fmt_size(b2, in->cached));
	kv("largest free", "%s (the largest object one allocation can get "
			   "now)", fmt_size(b1, st->largest_free));
	kv("allocs, frees", "%" PRIu64 ", %" PRIu64, st->allocs, st->frees);
	if (!o->image)
		kv("attached", "%" PRIu32 " (this tool not counted%s)",
		   others(in->nattch),
		   others(in->nattch) ? "; the figures may be moving" : "");
	if (in->lock_holder == 0)
		kv("lock", "free");
	else if (o->image)
		kv("lock", "held by pid %d when the image was made%s",
		   (int)in->lock_holder,
		   in->lock_in_op ? ", inside an operation" : "");
	else if (pid_alive(in->lock_holder))
		kv("lock", "held by pid %d%s", (int)in->lock_holder,
		   in->lock_in_op ? ", inside an operation" : "");
	else
		kv("lock", "held by pid %d, gone%s: the next locker repairs",
		   (int)in->lock_holder,
		   in->lock_in_op ? " (in an operation)" : "");
	kv("lock taken", "%" PRIu64 " time%s, %" PRIu64 " of them after a wait "
			 "(a sleep in the kernel)", in->lock_ops,
	   in->lock_ops == 1 ? "" : "s", in->lock_waits);
	kv("semaphore calls", "%" PRIu64 " (system calls on the set: slot tokens, "
			      "checks)", in->sem_ops);
	kv("repairs", "%" PRIu64 " (operations of dead holders repaired)",
	   in->repairs);
	kv("slots", "%" PRIu32 " of %" PRIu32 " in use", in->slots_used,
	   in->nslots);

	if (sl->n) {
		printf("\nprocess slots (threads that hold or held a cache)\n");
		printf("  %5s %8s %8s %5s %8s %11s %10s %10s\n", "SLOT", "PID",
		       "TID", "ALIVE", "CACHED", "CACHED SIZE", "ALLOCS",
		       "FREES");
		for (i = 0; i < sl->n; i++) {
			const struct sma_slot_info *s = &sl->v[i];

			dead += !s->alive;
			printf("  %5u %8d %8d %5s %8" PRIu64 " %11s %10" PRIu64
			       " %10" PRIu64 "\n",
			       s->slot, (int)s->pid, (int)s->tid,
			       s->alive ? "yes" : "no", s->cached,
			       fmt_size(b1, s->cached_bytes), s->allocs,
			       s->frees);
		}
		if (dead)
			printf("  %u slot%s of dead threads: sma recover "
			       "returns what they hold\n",
			       dead, dead == 1 ? "" : "s");
	}
	if (o->image)
		return;
	printf("\nprocesses attached (those whose maps this user may read)\n");
	if (np <= 0) {
		printf("  none\n");
		return;
	}
	printf("  %8s  %s\n", "PID", "COMMAND");
	for (i = 0; i < (size_t)np; i++)
		printf("  %8d  %s\n", (int)pv[i].pid, pv[i].comm);
}

int cmd_info(const struct cmd *c, const struct opts *o)
{
	struct shmid_ds ds;
	struct sma_info in;
	struct sma_stats st;
	struct slots sl = { 0 };
	struct proc_ent *pv = NULL;
	int shmid, have_ds, np, r = EXIT_FAIL;
	sma_t *a;

	/* Before attaching: the times and the last pid are the users'. */
	have_ds = !o->image && pre_stat(o, &ds, &shmid) == 0;
	a = open_target(c, o, SMA_RDONLY);
	if (!a)
		return EXIT_FAIL;
	if (sma_info(a, &in) < 0) {
		fail(c, "%s: reading the header: %s", target_name(o),
		     errstr(errno));
		goto out;
	}
	if (sma_stats(a, &st) < 0) {
		fail(c, "%s: reading the figures: %s", target_name(o),
		     errstr(errno));
		goto out;
	}
	if (have_ds && shmid == in.shmid) {
		in.atime = ds.shm_atime;
		in.dtime = ds.shm_dtime;
		in.lpid = ds.shm_lpid;
	}
	if (sma_slots_each(a, slots_add, &sl) != 0) {
		fail(c, "%s: reading the process slots: %s", target_name(o),
		     errstr(errno ? errno : ENOMEM));
		goto out;
	}
	read_segments(a);
	np = o->image ? 0 : procs_attached(in.shmid, &pv);
	if (np > 0)
		qsort(pv, (size_t)np, sizeof *pv, proc_cmp);
	if (o->json)
		info_json(o, &in, &st, &sl, pv, np);
	else
		info_text(o, &in, &st, &sl, pv, np);
	r = EXIT_OK;
out:
	free(sl.v);
	free(pv);
	sma_close(a);
	return r;
}

/* ---- stats ---- */

static void hist_bucket_range(int k, uint64_t *lo, uint64_t *hi)
{
	*lo = k == 0 ? 0 : (uint64_t)1 << k;
	*hi = k >= 63 ? UINT64_MAX : ((uint64_t)1 << (k + 1)) - 1;
}

static void stats_json(const struct opts *o, const struct sma_info *in,
		       const struct sma_stats *st, sma_t *a,
		       const struct hist *h)
{
	struct json j;
	unsigned cls;
	int b;

	json_open_arena(&j, o, in, st);
	json_u64(&j, "cached", in->cached);
	json_arr(&j, "classes", 0);
	for (cls = 0; cls < in->nclasses; cls++) {
		struct sma_class_stats cs;

		if (sma_class_stats(a, cls, &cs) < 0)
			break;
		if (!o->all && cs.slabs == 0 && cs.requests == 0)
			continue;
		json_obj(&j, NULL, 1);
		json_u64(&j, "class", cls);
		json_u64(&j, "size", cs.size);
		json_bool(&j, "slab", cs.slab);
		json_u64(&j, "slabs", cs.slabs);
		json_u64(&j, "used", cs.used);
		json_u64(&j, "total", cs.total);
		json_u64(&j, "requests", cs.requests);
		json_u64(&j, "failures", cs.failures);
		json_u64(&j, "cached", cs.cached);
		json_end(&j);
	}
	json_end(&j);
	json_obj(&j, "free_extents", 0);
	json_u64(&j, "count", h->extents);
	json_u64(&j, "bytes", h->free);
	json_u64(&j, "largest", h->largest);
	json_arr(&j, "buckets", 0);
	for (b = 0; b < HIST_BUCKETS; b++) {
		uint64_t lo, hi;

		if (!h->count[b])
			continue;
		hist_bucket_range(b, &lo, &hi);
		json_obj(&j, NULL, 1);
		json_u64(&j, "min", lo);
		json_u64(&j, "max", hi);
		json_u64(&j, "count", h->count[b]);
		json_u64(&j, "bytes", h->bytes[b]);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	json_end(&j);
	json_finish(&j);
}

/* The class table; returns how many classes were left out. */
static unsigned stats_classes(const struct opts *o, const struct sma_info *in,
			      sma_t *a)
{
	unsigned cls, shown = 0, hidden = 0;
	char b1[32];

	for (cls = 0; cls < in->nclasses; cls++) {
		struct sma_class_stats cs;

		if (sma_class_stats(a, cls, &cs) < 0)
			break;
		if (!o->all && cs.slabs == 0 && cs.requests == 0) {
			hidden++;
			continue;
		}
		/* 78 columns, as long as the counts keep to their widths. */
		if (!shown++)
			printf("  %5s %8s %4s %6s %8s %8s %4s %9s %8s %7s\n",
			       "CLASS", "SIZE", "KIND", "SLABS", "USED",
			       "TOTAL", "FILL", "REQUESTS", "FAILURES",
			       "CACHED");
		if (cs.slab)
			printf("  %5u %8s %4s %6" PRIu64 " %8" PRIu64
			       " %8" PRIu64 " %3.0f%%",
			       cls, fmt_size(b1, cs.size), "slab", cs.slabs,
			       cs.used, cs.total, percent(cs.used, cs.total));
		else /* served by the page heap: no slabs to count */
			printf("  %5u %8s %4s %6s %8s %8s %4s", cls,
			       fmt_size(b1, cs.size), "page", "-", "-", "-",
			       "-");
		printf(" %9" PRIu64 " %8" PRIu64 " %7" PRIu64 "\n",
		       cs.requests, cs.failures, cs.cached);
	}
	if (!shown)
		printf("  no class has served a request yet\n");
	return hidden;
}

static void stats_hist(const struct hist *h, const struct sma_stats *st)
{
	uint64_t maxb = 0;
	char b1[32], b2[32], b3[32];
	/* The bar fills the rest of the line: 53 columns come before it. */
	int b, w, bar = out_width() - 53;

	if (bar > 80)
		bar = 80;
	if (!h->extents) {
		printf("  no free memory\n");
		return;
	}
	for (b = 0; b < HIST_BUCKETS; b++)
		if (h->bytes[b] > maxb)
			maxb = h->bytes[b];
	printf("  %21s %10s %10s %6s\n", "EXTENT SIZE", "COUNT", "BYTES",
	       "SHARE");
	for (b = 0; b < HIST_BUCKETS; b++) {
		uint64_t lo, hi;
		char range[48];

		if (!h->count[b])
			continue;
		hist_bucket_range(b, &lo, &hi);
		snprintf(range, sizeof range, "%s - %s", fmt_size(b1, lo),
			 fmt_size(b2, hi + 1));
		printf("  %21s %10" PRIu64 " %10s %5.1f%% ", range,
		       h->count[b], fmt_size(b3, h->bytes[b]),
		       percent(h->bytes[b], h->free));
		w = maxb ? (int)((h->bytes[b] * (uint64_t)bar + maxb - 1) / maxb) : 0;
		while (w-- > 0)
			putchar('#');
		putchar('\n');
	}
	printf("  largest free extent %s; largest allocation possible now %s\n",
	       fmt_size(b1, h->largest), fmt_size(b2, st->largest_free));
}

static void stats_text(const struct opts *o, const struct sma_info *in,
		       const struct sma_stats *st, sma_t *a,
		       const struct hist *h, int walk_err)
{
	char b1[32], b2[32];
	unsigned hidden;

	printf("%s\n\n", arena_heading(o, a));
	kv("size", "%s", fmt_size(b1, st->size));
	kv("heap", "%s (available to objects when empty)",
	   fmt_size(b1, st->heap_size));
	kv("used", "%s (%.1f%% of the heap) in %" PRIu64 " live %s",
	   fmt_size(b1, st->used), percent(st->used, st->heap_size),
	   st->live, plural(st->live, "object", "objects"));
	kv("free", "%s (%.1f%%), of which %s in thread caches",
	   fmt_size(b1, st->free), percent(st->free, st->heap_size),
	   fmt_size(b2, in->cached));
	kv("largest free", "%s", fmt_size(b1, st->largest_free));
	kv("fragmentation", "%.1f%% (1 - largest free / free)",
	   st->free ? 100.0 - percent(st->largest_free, st->free) : 0.0);
	kv("allocs", "%" PRIu64, st->allocs);
	kv("frees", "%" PRIu64, st->frees);
	if (!o->image)
		kv("attached", "%" PRIu32 " (this tool not counted%s)",
		   others(st->nattch),
		   others(st->nattch) ? "; the figures may be moving" : "");

	printf("\nsize classes\n");
	hidden = stats_classes(o, in, a);
	if (hidden)
		printf("  (%u class%s with no slab and no request not shown: "
		       "--all shows them)\n", hidden, hidden == 1 ? "" : "es");

	printf("\nfree extents by size\n");
	if (!walk_err)
		stats_hist(h, st);
	else
		printf("  the walk stopped early: %s (try sma check)\n",
		       why(walk_err));
}

int cmd_stats(const struct cmd *c, const struct opts *o)
{
	struct sma_info in;
	struct sma_stats st;
	struct hist *h;
	int r = EXIT_FAIL, walk_err = 0;
	sma_t *a;

	h = malloc(sizeof *h);
	if (!h) {
		fail(c, "%s", errstr(ENOMEM));
		return EXIT_FAIL;
	}
	a = open_figures(c, o, &st, &in);
	if (!a) {
		free(h);
		return EXIT_FAIL;
	}
	if (o->has_interval) {
		r = stats_watch(c, o, a);
		goto out;
	}
	if (hist_load(a, h) != 0)
		walk_err = errno ? errno : EBADMSG;
	if (o->json) {
		if (walk_err) {
			fail(c, "%s: walking the arena: %s (try sma check)",
			     target_name(o), why(walk_err));
			goto out;
		}
		stats_json(o, &in, &st, a, h);
	} else {
		stats_text(o, &in, &st, a, h, walk_err);
		if (walk_err) {
			fail(c, "%s: walking the arena: %s (try sma check)",
			     target_name(o), why(walk_err));
			goto out;
		}
	}
	r = EXIT_OK;
out:
	sma_close(a);
	free(h);
	return r;
}
