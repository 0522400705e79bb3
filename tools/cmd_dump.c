/*
 * cmd_dump.c -- sma dump, sma check and sma recover: the arena object by
 * object, its soundness, and its repair.
 *
 * dump and check attach read-only and take no lock; recover attaches
 * read-write, since it changes the arena.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

struct dump_ctx {
	const struct names *names; /* the named objects, by offset */
	struct json *j;		   /* NULL for text */
	int offw;		   /* hex digits of an offset */
	uint64_t nused, used;	   /* live objects seen, their bytes */
	uint64_t nfree, free;	   /* free extents seen, their bytes */
	/* Text only: a run of free extents, each ending where the next
	 * begins (a slab's free slots), shown as one line. */
	uint64_t run_off, run_size, run_n;
};

/* Writes the pending run of free extents, if any. */
static void dump_flush_run(struct dump_ctx *d)
{
	char b[32];

	if (!d->run_n)
		return;
	printf("  0x%0*" PRIx64 " %12" PRIu64 " %10s  free", d->offw,
	       d->run_off, d->run_size, fmt_size(b, d->run_size));
	if (d->run_n > 1)
		printf("  (%" PRIu64 " free extents)", d->run_n);
	putchar('\n');
	d->run_n = 0;
}

static int dump_one(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct dump_ctx *d = arg;
	const char *name = in_use ? names_find(d->names, off) : NULL;
	char b[32];

	if (in_use) {
		d->nused++;
		d->used += size;
	} else {
		d->nfree++;
		d->free += size;
	}
	if (d->j) {
		json_obj(d->j, NULL, 1);
		json_u64(d->j, "offset", off);
		json_u64(d->j, "size", size);
		json_str(d->j, "state", in_use ? "used" : "free");
		if (name)
			json_str(d->j, "name", name);
		json_end(d->j);
		return 0;
	}
	if (!in_use) {
		if (d->run_n && d->run_off + d->run_size == off) {
			d->run_size += size;
			d->run_n++;
			return 0;
		}
		dump_flush_run(d);
		d->run_off = off;
		d->run_size = size;
		d->run_n = 1;
		return 0;
	}
	dump_flush_run(d);
	printf("  0x%0*" PRIx64 " %12zu %10s  %-4s", d->offw, off, size,
	       fmt_size(b, size), "used");
	if (name) {
		fputs("  ", stdout);
		put_name(stdout, name);
	}
	putchar('\n');
	return 0;
}

/* Hex digits needed for offsets below size. */
static int hex_width(uint64_t size)
{
	int w = 1;

	while (w < 16 && (size >> (4 * w)) != 0)
		w++;
	return w < 6 ? 6 : w;
}

int cmd_dump(const struct cmd *c, const struct opts *o)
{
	struct dump_ctx d = { 0 };
	struct names names;
	struct sma_stats st;
	struct json j;
	char b1[32], b2[32], k[16];
	int r = EXIT_FAIL, wr, werr = 0;
	sma_t *a;

	a = open_figures(c, o, &st, NULL);
	if (!a)
		return EXIT_FAIL;
	if (names_load(a, &names) < 0) {
		fail(c, "%s: reading the names: %s", target_name(o),
		     errstr(errno));
		goto out_close;
	}
	d.names = &names;
	d.offw = hex_width(st.size);
	if (o->json) {
		json_init(&j, stdout);
		d.j = &j;
		json_obj(&j, NULL, 0);
		if (o->path)
			json_str(&j, "path", o->path);
		if (o->image)
			json_str(&j, "image", o->image);
		json_i64(&j, "shmid", sma_shmid(a));
		json_i64(&j, "key", sma_key(a));
		json_str(&j, "key_hex", fmt_key(k, sma_key(a)));
		json_u64(&j, "size", st.size);
		json_arr(&j, "objects", 0);
	} else {
		printf("%s  size %s\n\n", arena_heading(o, a),
		       fmt_size(b1, st.size));
		printf("  %-*s %12s %10s  %-4s  %s\n", d.offw + 2, "OFFSET",
		       "BYTES", "SIZE", "STATE", "NAME");
	}
	wr = sma_walk(a, dump_one, &d);
	if (wr != 0)
		werr = errno ? errno : EBADMSG;
	if (o->json) {
		json_end(&j);
		/* What the walk saw: the used sizes add up to "used", the
		 * free ones to "free". */
		json_u64(&j, "live", d.nused);
		json_u64(&j, "used", d.used);
		json_u64(&j, "free_extents", d.nfree);
		json_u64(&j, "free", d.free);
		json_bool(&j, "complete", wr == 0);
		json_end(&j);
		json_finish(&j);
	} else {
		dump_flush_run(&d);
		printf("\n  %" PRIu64 " object%s in use, %s; %" PRIu64
		       " free extent%s, %s\n",
		       d.nused, d.nused == 1 ? "" : "s", fmt_size(b1, d.used),
		       d.nfree, d.nfree == 1 ? "" : "s", fmt_size(b2, d.free));
	}
	if (wr != 0) {
		fail(c, "%s: the walk stopped early: %s (try sma check)",
		     target_name(o), why(werr));
		goto out;
	}
	r = EXIT_OK;
out:
	names_free(&names);
out_close:
	sma_close(a);
	return r;
}

/* ---- check ---- */

struct check_ctx {
	unsigned problems;
	int json;	/* keep the problems for the JSON, print nothing */
	char **v;	/* --json: the problems, malloc'd */
	size_t cap;
	int nomem;	/* a problem could not be kept */
};

static int check_one(const char *problem, void *arg)
{
	struct check_ctx *cc = arg;
	const char *p = problem ? problem : "(no description)";

	if (!cc->json) {
		cc->problems++;
		put_name(stdout, p);
		putchar('\n');
		return 0;
	}
	if (cc->problems == cc->cap) {
		size_t cap = cc->cap ? 2 * cc->cap : 16;
		char **v = realloc(cc->v, cap * sizeof *v);

		if (!v) {
			cc->nomem = 1;
			return 0;
		}
		cc->v = v;
		cc->cap = cap;
	}
	cc->v[cc->problems] = strdup(p);
	if (!cc->v[cc->problems]) {
		cc->nomem = 1;
		return 0;
	}
	cc->problems++;
	return 0;
}

static int count_dead(const struct sma_slot_info *s, void *arg)
{
	unsigned *dead = arg;

	if (!s->alive)
		(*dead)++;
	return 0;
}

/* Says what sma recover would do: dead slots, a dead lock holder. */
static void check_notes(const struct opts *o, sma_t *a)
{
	struct sma_info in;
	unsigned dead = 0;

	if (o->image) /* nothing to recover in a copy */
		return;

	if (sma_slots_each(a, count_dead, &dead) == 0 && dead)
		printf("note: %u %s held by dead threads: sma recover returns "
		       "what they hold\n", dead, plural(dead, "slot", "slots"));
	if (sma_info(a, &in) == 0 && in.lock_holder &&
	    !pid_alive(in.lock_holder))
		printf("note: the lock is held by pid %d, which is gone: the "
		       "next locker takes it over\n", (int)in.lock_holder);
	if (sma_info(a, &in) == 0 && in.sem_gone)
		printf("note: semaphore set %d was removed from outside;\n"
		       "      the next lock makes a new one (sma recover does "
		       "it now)\n", in.semid);
}

/* "; key 0x..., shmid N" after the figures, or nothing for an image. */
static const char *check_ids(const struct opts *o, sma_t *a)
{
	static char buf[64];
	char k[16];

	if (o->image)
		return "";
	snprintf(buf, sizeof buf, "; key %s, shmid %d", fmt_key(k, sma_key(a)),
		 sma_shmid(a));
	return buf;
}

/* check --json: {"ok": BOOL, "problems": [...]}, beside what was checked
 * and, when it is sound, its live objects and used bytes. */
static void check_json(const struct opts *o, sma_t *a, int ok,
		       const struct check_ctx *cc)
{
	struct sma_stats st;
	struct json j;
	char k[16];
	size_t i;

	json_init(&j, stdout);
	json_obj(&j, NULL, 0);
	if (o->path)
		json_str(&j, "path", o->path);
	if (o->image)
		json_str(&j, "image", o->image);
	json_i64(&j, "shmid", sma_shmid(a));
	json_i64(&j, "key", sma_key(a));
	json_str(&j, "key_hex", fmt_key(k, sma_key(a)));
	json_bool(&j, "ok", ok);
	if (ok && sma_stats(a, &st) == 0) {
		json_u64(&j, "live", st.live);
		json_u64(&j, "used", st.used);
	}
	json_arr(&j, "problems", 0);
	for (i = 0; i < cc->problems; i++)
		json_str(&j, NULL, cc->v[i]);
	if (!ok && cc->problems == 0)
		json_str(&j, NULL, "the arena is inconsistent (the checker "
				   "named no problem)");
	json_end(&j);
	json_end(&j);
	json_finish(&j);
}

int cmd_check(const struct cmd *c, const struct opts *o)
{
	struct check_ctx cc = { 0 };
	struct sma_stats st;
	char b[32];
	size_t i;
	int r, err;
	sma_t *a;

	a = open_target(c, o, SMA_RDONLY);
	if (!a)
		return EXIT_FAIL;
	cc.json = o->json;
	r = sma_check_report(a, check_one, &cc);
	err = errno;
	if (r != 0 && err != EBADMSG) {
		fail(c, "%s: the check could not run: %s", target_name(o),
		     errstr(err));
		r = EXIT_FAIL;
	} else if (cc.nomem) {
		fail(c, "%s: keeping the problems: %s", target_name(o),
		     errstr(ENOMEM));
		r = EXIT_FAIL;
	} else if (o->json) {
		check_json(o, a, r == 0, &cc);
		r = r == 0 ? EXIT_OK : EXIT_PROBLEMS;
	} else if (r == 0) {
		/* Two lines: the path may be long. */
		printf("ok: %s is consistent\n", target_name(o));
		if (sma_stats(a, &st) == 0)
			printf("    %" PRIu64 " live %s, %s used%s\n", st.live,
			       plural(st.live, "object", "objects"),
			       fmt_size(b, st.used), check_ids(o, a));
		check_notes(o, a);
		r = EXIT_OK;
	} else {
		if (cc.problems == 0)
			printf("the arena is inconsistent (the checker named "
			       "no problem)\n");
		printf("%u %s found in %s\n    %s\n", cc.problems ? cc.problems : 1,
		       plural(cc.problems ? cc.problems : 1, "problem",
			      "problems"), target_name(o),
		       o->image ? "an image: sma check on the arena tells whether "
				  "it is still so"
				: check_ids(o, a) + 2);
		check_notes(o, a);
		r = EXIT_PROBLEMS;
	}
	for (i = 0; i < cc.problems && cc.json; i++)
		free(cc.v[i]);
	free(cc.v);
	sma_close(a);
	return r;
}

/* ---- recover ---- */

int cmd_recover(const struct cmd *c, const struct opts *o)
{
	struct sma_info in0, in1;
	struct sma_stats st0, st1;
	unsigned dead = 0;
	char b1[32], b2[32];
	int r = EXIT_FAIL;
	sma_t *a;

	/* The figures before, through a read-only handle: on a writable one
	 * reading the figures already reclaims what dead threads held. */
	a = open_target(c, o, SMA_RDONLY);
	if (!a)
		return EXIT_FAIL;
	if (sma_slots_each(a, count_dead, &dead) != 0 ||
	    sma_info(a, &in0) < 0 || sma_stats(a, &st0) < 0) {
		fail(c, "%s: reading the figures: %s", target_name(o),
		     errstr(errno));
		sma_close(a);
		return EXIT_FAIL;
	}
	sma_close(a);

	a = open_target(c, o, 0);
	if (!a)
		return EXIT_FAIL;
	if (sma_recover(a) < 0) {
		if (errno == EBADMSG) {
			/* Damage that no dead process explains: nothing to
			 * repair it from. */
			fail(c, "%s: the arena is inconsistent, and no recovery "
				"can repair it (sma check lists the problems)",
			     target_name(o));
			r = EXIT_PROBLEMS;
		} else {
			fail(c, "%s: %s", target_name(o), errstr(errno));
		}
		goto out;
	}
	if (sma_info(a, &in1) < 0 || sma_stats(a, &st1) < 0) {
		fail(c, "%s: reading the figures: %s", target_name(o),
		     errstr(errno));
		goto out;
	}
	printf("recovered %s\n", target_name(o));
	printf("  %-14s %u held by threads that no longer exist; %" PRIu32
	       " -> %" PRIu32 " in use\n", "slots", dead, in0.slots_used,
	       in1.slots_used);
	printf("  %-14s %s -> %s\n", "free", fmt_size(b1, st0.free),
	       fmt_size(b2, st1.free));
	printf("  %-14s %s -> %s\n", "cached", fmt_size(b1, in0.cached),
	       fmt_size(b2, in1.cached));
	printf("  %-14s %" PRIu64 " -> %" PRIu64 "\n", "live objects",
	       st0.live, st1.live);
	printf("  %-14s %" PRIu64 " -> %" PRIu64 "\n", "repairs", in0.repairs,
	       in1.repairs);
	if (in0.sem_gone || in1.sets_replaced != in0.sets_replaced)
		printf("  %-14s %d (removed from outside) -> %d, a new one\n",
		       "semaphore set", in0.semid, in1.semid);
	if (sma_check(a) == 0) {
		printf("  %-14s ok\n", "check");
		r = EXIT_OK;
	} else {
		printf("  %-14s problems remain: run sma check\n", "check");
		fail(c, "%s: the arena is still inconsistent after the recovery "
			"(sma check lists the problems)", target_name(o));
		r = EXIT_PROBLEMS;
	}
out:
	sma_close(a);
	return r;
}
