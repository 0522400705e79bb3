/*
 * 5_check.c -- sma_check: every invariant of the arena, looked at up to
 * three times, and reported only when broken at every look.  This half
 * holds the driver and the heap's part (header, blocks, free lists, slabs,
 * classes); 5_check_caches.c the slots and the counters.
 *
 * Everything here reads the segment as untrusted input: every offset is
 * bounds-checked before it is followed, every loop is bounded, nothing
 * asserts.  On a read-only handle nothing takes the lock, so the picture
 * may move while it is read; on a writable handle the lock is taken with a
 * time limit, so that a stuck holder does not stop the checker.
 */
#include "5_problems.h"
#include "5_check_caches.h"
#include "1_lock.h"
#include "2_heap.h"
#include "4_sweep.h"
#include "3_cache.h"
#include "4_repair.h"
#include "5_open.h"

#include <stdlib.h>
#include <time.h>

#define report sma__ck_report

static void note_cached(struct ck *c, uint64_t off)
{
	if (c->ncached == c->capcached) {
		size_t n = c->capcached ? 2 * c->capcached : 1024;
		uint64_t *t = realloc(c->cached, n * sizeof *t);
		if (!t)
			return;
		c->cached = t;
		c->capcached = n;
	}
	c->cached[c->ncached++] = off;
}


static int check_header(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	if (atomic_load(&h->magic) != SMA_MAGIC || h->layout != SMA_LAYOUT || h->size != a->size) {
		report(c, "G1: header: magic, layout or size is wrong (size %llu, segment %llu)", X(h->size), X(a->size));
		return -1;
	}
	if (!geometry_ok(a)) {
		report(c, "G2: header: the geometry does not fit in the segment");
		return -1;
	}
	return 0;
}

/* The own-slab list heads of slot owner - 1 if it is held, else NULL. */
static const uint64_t *own_heads(const struct sma *a, uint32_t owner)
{
	if (!owner || owner > a->h->nslots)
		return NULL;
	const struct slot *s = slot_at(a, owner - 1);
	return atomic_load(&((struct slot *)s)->state) == SLOT_HELD ? s->own : NULL;
}

static void check_slab(struct ck *c, uint64_t p)
{
	const struct sma *a = c->a;
	const struct slab *s = (const struct slab *)at(a, p);
	unsigned cls = s->cls, idx;
	if (!slab_of(a, p + SLAB_HDR, &idx) || idx != 0) {
		report(c, "S1: slab at %#llx: bad header (magic %#x, class %u, objects %u)", X(p), s->magic, cls, s->nobj);
		return;
	}
	uint32_t want = PM_SLAB | (uint32_t)((p & OFF_MASK) >> PAGE_SHIFT);
	for (uint64_t pg = p >> PAGE_SHIFT; pg < (p + SLAB_SIZE) >> PAGE_SHIFT; pg++)
		if (pm_load(a, pg) != want)
			report(c, "S5: slab at %#llx: page %llu is not mapped to it", X(p), X(pg));
	unsigned nfree = 0;
	for (unsigned w = 0; w < SLAB_WORDS; w++) {
		uint64_t valid = s->nobj >= (w + 1) * 64 ? ~0ull
			: s->nobj > w * 64 ? (1ull << (s->nobj - w * 64)) - 1 : 0;
		uint64_t live = atomic_load(&s->live[w]), fr = s->free[w];
		if (fr & live)
			report(c, "S2: slab at %#llx: slots both free and live (word %u: %#llx)", X(p), w, X(fr & live));
		if ((fr | live) & ~valid)
			report(c, "S2: slab at %#llx: bits set past its %u slots", X(p), s->nobj);
		nfree += (unsigned)__builtin_popcountll(fr & valid);
		uint64_t size = class_size[cls];
		for (uint64_t m = valid; m; m &= m - 1) {
			unsigned i = (unsigned)__builtin_ctzll(m);
			uint64_t bit = 1ull << i, off = p + SLAB_HDR + (w * 64 + i) * size;
			if (live & bit) {
				c->live++;
				c->used += size;
			} else if (!(fr & bit)) {
				note_cached(c, off);
				c->cached_bytes += size;
				c->cached_objs++;
			}
		}
	}
	if (nfree != s->nfree)
		report(c, "S3: slab at %#llx: %u free slots, its count says %u", X(p), nfree, s->nfree);
	if ((nfree > 0) != (s->listed != 0))
		report(c, "S3: slab at %#llx: %u free slots but %son a list", X(p), nfree, s->listed ? "" : "not ");
	/* A full slab may keep an owner that has gone (it is nobody's the
	 * next time a slot is put back into it); a listed one may not. */
	if (s->owner && s->listed && !own_heads(c->a, s->owner))
		report(c, "S3: slab at %#llx: listed, owned by slot %u, which is not held", X(p), s->owner - 1);
	if (nfree == s->nobj && !s->owner)
		report(c, "S4: slab at %#llx: empty but kept", X(p));
	c->cls_slabs[cls]++;
	c->cls_slots[cls] += s->nobj;
	c->cls_free[cls] += nfree;
	if (s->listed)
		c->cls_listed[cls]++;
}

/* H1-H3, H6, H7 and the slabs of one segment's heap [lo, end), by one
 * walk. */
static int check_seg_blocks(struct ck *c, uint64_t lo, uint64_t end)
{
	const struct sma *a = c->a;
	uint64_t b = lo, prev_size = 0;
	int prev_free = 0;
	uint64_t last_page = (uint64_t)-1;
	while (b < end && !c->stop) {
		uint64_t w = hw_load(a, b), size = hw_size(w);
		if (!hw_tag_ok(b, w) || size < MIN_BLOCK || b + size > end) {
			report(c, "H1: block at %#llx: header %#llx is not a valid block (walk stops here)", X(b), X(w));
			return -1;
		}
		uint64_t pg = b >> PAGE_SHIFT;
		if (pg != last_page && pm_load(a, pg) != (PM_FIRST | (uint32_t)((b & (PAGE - 1)) >> 4)))
			report(c, "H7: page %llu: map entry %#x, but its first block starts at %#llx", X(pg), pm_load(a, pg), X(b));
		last_page = pg;
		uint64_t end_pg = (b + size) >> PAGE_SHIFT;
		for (uint64_t q = pg + 1; q < end_pg; q++)
			if (pm_load(a, q) & PM_FIRST) {
				report(c, "H7: page %llu: map names a first block, but block %#llx covers it", X(q), X(b));
				break;
			}
		if (((w & BF_PREV_FREE) != 0) != prev_free)
			report(c, "H3: block at %#llx: prev-free flag is %d, the block before is %s", X(b),
			       (w & BF_PREV_FREE) != 0, prev_free ? "free" : "in use");
		else if (prev_free && *(const uint64_t *)at(a, b) != prev_size)
			report(c, "H3: block at %#llx: prev size %llu, the block before has %llu", X(b),
			       X(*(const uint64_t *)at(a, b)), X(prev_size));
		unsigned k = hw_kind(w);
		if (w & BF_FREE) {
			if (prev_free)
				report(c, "H2: block at %#llx: free, and so is the block before", X(b));
			if ((w & BF_LIVE) || k != KIND_USER)
				report(c, "H6: free block at %#llx: marked live or of kind %u", X(b), k);
			c->free_bytes += size;
			c->free_blocks++;
		} else if (k == KIND_USER || k == KIND_NAMED) {
			if (w & BF_LIVE) {
				c->live++;
				c->used += size - BLOCK_OVERHEAD;
			} else if (k == KIND_USER) {
				note_cached(c, b + BLOCK_HDR);
				c->cached_bytes += size - BLOCK_OVERHEAD;
				c->cached_objs++;
			} else {
				report(c, "N2: named block at %#llx is not live", X(b));
			}
		} else if (k == KIND_SLAB) {
			if ((b + BLOCK_HDR) & (PAGE - 1))
				report(c, "S5: slab block at %#llx: payload not on a page boundary", X(b));
			else
				check_slab(c, b + BLOCK_HDR);
		}
		prev_free = (w & BF_FREE) != 0;
		prev_size = size;
		b += size;
	}
	if (c->stop)
		return 0;
	uint64_t w = hw_load(a, end);
	if (!hw_tag_ok(end, w) || hw_size(w) != 0)
		report(c, "H1: the sentinel at %#llx is damaged", X(end));
	else if (((w & BF_PREV_FREE) != 0) != prev_free)
		report(c, "H3: the sentinel at %#llx: its prev-free flag is wrong", X(end));
	return 0;
}

/* S1, S2: the segment table; then every segment's blocks, and H5. */
static int check_blocks(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	uint32_t n = atomic_load(&((struct sma_header *)h)->nsegs);
	uint64_t total = h->size;
	for (unsigned k = 1; k < n && k < MAX_SEGS; k++) {
		uint64_t lo, end;
		if (!seg_k_heap(a, k, &lo, &end)) {
			report(c, "S1: segment %u (shmid %d, %llu bytes) cannot be reached", k, h->segs[k].shmid,
			       X(h->segs[k].size));
			return -1;
		}
		total += h->segs[k].size;
	}
	if (total != h->total_size)
		report(c, "S2: the segments hold %llu bytes, the header counts %llu", X(total), X(h->total_size));
	for (unsigned k = 0; k < n && k < MAX_SEGS && !c->stop; k++) {
		uint64_t lo, end;
		if (!seg_k_heap(a, k, &lo, &end) || check_seg_blocks(c, lo, end) < 0)
			return -1;
	}
	if (c->stop)
		return 0;
	if (c->free_bytes != h->heap_free_bytes || c->free_blocks != h->heap_free_blocks)
		report(c, "H5: %llu free blocks of %llu bytes, the header counts %llu of %llu", X(c->free_blocks),
		       X(c->free_bytes), X(h->heap_free_blocks), X(h->heap_free_bytes));
	return 0;
}

/* H4: the lists and bitmaps. */
static void check_lists(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	uint64_t budget = c->free_blocks + 1, seen = 0;
	for (unsigned fl = 0; fl < FL_COUNT && !c->stop; fl++) {
		if (!!(h->fl_bitmap & (1ull << fl)) != !!h->sl_bitmap[fl])
			report(c, "H4: first-level bitmap bit %u disagrees with its second level", fl);
		for (unsigned sl = 0; sl < SL_COUNT; sl++) {
			uint64_t b = h->heads[fl][sl], prev = 0;
			if (!!b != !!(h->sl_bitmap[fl] & (1u << sl)))
				report(c, "H4: list %u/%u: bitmap says %s", fl, sl, b ? "empty" : "non-empty");
			while (b) {
				if (!budget--) {
					report(c, "H4: list %u/%u: longer than the free blocks (a cycle?)", fl, sl);
					return;
				}
				uint64_t w;
				if (!in_heap(a, b, MIN_BLOCK) || (b & 15) ||
				    sma__heap_block_of(a, b + BLOCK_HDR) != b || !((w = hw_load(a, b)) & BF_FREE)) {
					report(c, "H4: list %u/%u: %#llx is not a free block", fl, sl, X(b));
					break;
				}
				uint64_t size = hw_size(w);
				unsigned f, s;
				tlsf_mapping(size, &f, &s);
				if (f != fl || s != sl)
					report(c, "H4: free block %#llx of %llu bytes is on list %u/%u, not %u/%u", X(b),
					       X(size), fl, sl, f, s);
				if (*(const uint64_t *)at(a, b + 24) != prev)
					report(c, "H4: free block %#llx: back link %#llx, expected %#llx", X(b),
					       X(*(const uint64_t *)at(a, b + 24)), X(prev));
				seen++;
				prev = b;
				b = *(const uint64_t *)at(a, b + BLOCK_HDR);
			}
		}
	}
	if (!c->stop && seen != c->free_blocks)
		report(c, "H4: the lists hold %llu blocks, the heap %llu free blocks", X(seen), X(c->free_blocks));
}

/* Walks one list of slabs of class cls (a class's partial list, or a
 * thread's own list when owner is not 0); how many it holds. */
static uint64_t check_slab_list(struct ck *c, unsigned cls, uint64_t p, uint32_t owner)
{
	const struct sma *a = c->a;
	uint64_t prev = 0, n = 0;
	while (p) {
		unsigned idx;
		const struct slab *s = slab_of(a, p + SLAB_HDR, &idx);
		if (!s || idx || s->cls != cls || n > c->cls_listed[cls]) {
			report(c, "S3: class %u: a list reaches %#llx, not a listed slab of the class", cls, X(p));
			break;
		}
		if (s->owner != owner)
			report(c, "S3: slab %#llx: owned by slot %u but on the list of %s", X(p), s->owner - 1,
			       owner ? "another slot" : "the class");
		if (s->prev != prev)
			report(c, "S3: slab %#llx: back link %#llx, expected %#llx", X(p), X(s->prev), X(prev));
		n++;
		prev = p;
		p = s->next;
	}
	return n;
}

/* S3, S6: the lists of slabs and the classes' counts. */
static void check_classes(struct ck *c)
{
	const struct sma *a = c->a;
	const struct sma_header *h = a->h;
	for (unsigned cls = 0; cls < NSMALL && !c->stop; cls++) {
		const struct class_state *cs = &h->cls[cls];
		uint64_t n = check_slab_list(c, cls, cs->partial, 0);
		for (uint32_t o = 1; o <= h->nslots; o++) {
			const uint64_t *own = own_heads(a, o);
			if (own)
				n += check_slab_list(c, cls, own[cls], o);
		}
		if (n != c->cls_listed[cls])
			report(c, "S3: class %u: %llu slabs on lists, %llu marked listed", cls, X(n), X(c->cls_listed[cls]));
		if (cs->slabs != c->cls_slabs[cls] || cs->slots != c->cls_slots[cls] || cs->free != c->cls_free[cls])
			report(c, "S6: class %u: header counts %llu slabs/%llu slots/%llu free, the slabs %llu/%llu/%llu", cls,
			       X(cs->slabs), X(cs->slots), X(cs->free), X(c->cls_slabs[cls]), X(c->cls_slots[cls]),
			       X(c->cls_free[cls]));
	}
}


static int check_pass(struct ck *c)
{
	c->motion = sma__ck_motion(c->a);
	if (check_header(c) < 0)
		return c->problems;
	if (check_blocks(c) == 0 && !c->stop) {
		check_lists(c);
		check_classes(c);
		sma__ck_slots(c);
		if (!c->stop)
			sma__named_check((struct sma *)c->a, report, c);
	}
	return c->problems;
}

/* Takes the lock waiting at most two seconds; 1 if taken.  A dead
 * holder's operation is repaired on the way in. */
static int check_lock(struct sma *a)
{
	if ((a->flags & SMA_RDONLY) || sma__lock_held(a))
		return 0;
	return sma__lock_within(a, 2) == 0;
}

#define MAX_LOOKS 25

/* Whether anything moved while a look was taken, as far as one can tell:
 * the lock changed hands or was held by someone else, or a thread moved
 * an object through its cache. */
struct stillness {
	uint64_t seq, motion;
	int32_t pid;
};

static void still_begin(const struct sma *a, struct stillness *s)
{
	s->seq = LOAD_ACQ(a->h->lock_seq);
	s->pid = LOAD(a->h->lock_pid);
	s->motion = sma__ck_motion(a);
}

/* 2 when nothing moved during the look; 1 when nobody was inside the lock
 * at either end of it (others may have come and gone); 0 otherwise. */
static int still_end(const struct sma *a, int locked, const struct stillness *s)
{
	int outside = locked || a->image || (s->pid == 0 && LOAD(a->h->lock_pid) == 0);
	if (!outside)
		return 0;
	if (sma__ck_motion(a) != s->motion)
		return 1;
	return locked || a->image || LOAD_ACQ(a->h->lock_seq) == s->seq ? 2 : 1;
}

/* 1 when problem m appears word for word in look c. */
static int has_text(const struct ck *c, const char *m)
{
	for (int i = 0; i < c->problems; i++)
		if (c->msg[i] && strcmp(c->msg[i], m) == 0)
			return 1;
	return 0;
}

/* Reports the problems of look c that the rule keeps; how many. */
static int report_kept(const struct ck *c, const struct ck *other, const struct ck *third, int by_text,
		       int (*fn)(const char *problem, void *arg), void *arg)
{
	int reported = 0;
	for (int i = 0; i < c->problems; i++) {
		const char *m = c->msg[i];
		if (!m)
			continue;
		if (other && !(by_text ? has_text(other, m) : sma__ck_has_tag(other, m)))
			continue;
		/* By its text, only a problem that names a place. */
		if (third && (!has_text(third, m) || !strstr(m, "0x")))
			continue;
		reported++;
		if (fn && fn(m, arg))
			break;
	}
	return reported;
}

/*
 * Looks at a until the picture is trustworthy; reports what broke and
 * returns how many problems.  A look with no problem ends it (consistent).
 * A look taken while nothing moved is true: two such looks that break the
 * same invariant report it (one, for an image).  While the arena moves, a
 * problem is reported only when three looks in a row, none begun or ended
 * with someone inside the lock, give it word for word and it names a
 * place (a damaged block stays where it is; counts and chains of a moving
 * arena do not).  An arena that never stood still for MAX_LOOKS looks is
 * not reported: a moving picture is no evidence of damage.
 */
static int check_looks(struct sma *a, int (*fn)(const char *problem, void *arg), void *arg)
{
	int locked = check_lock(a), reported = 0;
	struct ck last[2] = { { .a = a }, { .a = a } }, still = { .a = a };
	int have_still = 0;
	for (int n = 0; n < MAX_LOOKS; n++) {
		struct stillness st;
		struct ck c = { .a = a };
		still_begin(a, &st);
		check_pass(&c);
		int stillness = still_end(a, locked, &st), quiet = stillness == 2;
		if (!c.problems) {
			sma__ck_free(&c);
			break;
		}
		if (!stillness) {
			/* someone was inside the lock: no look of the three */
			sma__ck_free(&last[0]);
			sma__ck_free(&last[1]);
			last[0] = (struct ck){ .a = a };
			last[1] = (struct ck){ .a = a };
		}
		if (quiet && (a->image || have_still)) {
			reported = report_kept(&c, a->image ? NULL : &still, NULL, 0, fn, arg);
			sma__ck_free(&c);
			break;
		}
		if (stillness && last[0].problems && last[1].problems) {
			reported = report_kept(&c, &last[1], &last[0], 1, fn, arg);
			if (reported) {
				sma__ck_free(&c);
				break;
			}
		}
		if (quiet) {
			sma__ck_free(&still);
			still = c;
			have_still = 1;
			c = (struct ck){ .a = a };
			/* the look is kept as the still one; the rows below
			 * keep an empty one in its place */
		}
		sma__ck_free(&last[0]);
		last[0] = last[1];
		last[1] = c;
		if (!stillness) {
			sma__ck_free(&last[1]);
			last[1] = (struct ck){ .a = a };
		}
		struct timespec nap = { 0, 20 * 1000 * 1000 };
		if (locked)
			sma__unlock(a);
		nanosleep(&nap, NULL);
		locked = check_lock(a);
	}
	sma__ck_free(&last[0]);
	sma__ck_free(&last[1]);
	sma__ck_free(&still);
	if (locked)
		sma__unlock(a);
	return reported;
}

/*
 * Under the lock the blocks, lists and slabs do not move, but thread
 * caches and their counters do (they change without the lock), and on a
 * read-only handle everything may: a problem is reported only if the
 * invariant it names is broken at every look.  Where a holder of the lock
 * died and nobody may repair (a read-only handle, an image), the repair
 * runs on a private copy and the copy is checked: what a death leaves is
 * consistent when its repair makes it so.
 */
int sma_check_report(sma_t *a, int (*fn)(const char *problem, void *arg), void *arg)
{
	if (!a) {
		errno = EINVAL;
		return -1;
	}
	if (!(a->flags & SMA_RDONLY) && !sma__lock_held(a))
		sma__cache_flush_self(a);
	int reported;
	if ((a->flags & SMA_RDONLY) && atomic_load(&a->h->magic) == SMA_MAGIC && sma__lock_holder_died(a)) {
		struct sma *copy = sma__image_of(a);
		if (!copy)
			return -1;
		sma__lock(copy);
		sma__repair_locked(copy);
		sma__unlock(copy);
		reported = check_looks(copy, fn, arg);
		sma__image_free(copy);
	} else {
		reported = check_looks(a, fn, arg);
	}
	if (reported) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int sma_check(sma_t *a)
{
	return sma_check_report(a, NULL, NULL);
}

