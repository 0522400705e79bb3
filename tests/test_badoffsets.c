/*
 * tests/test_badoffsets.c -- offsets that are not live objects: freed
 * (twice, from a cache or not), interior, misaligned, out of range, in the
 * header and tables before the heap, in the library's own blocks, and free
 * memory; sma_free, sma_realloc and sma_usable_size refuse each with
 * EINVAL and nothing changes, from this process and from another.  Then
 * the translation of offsets and addresses both ways: sma_ptr and sma_off,
 * and addresses outside the mapping.
 *
 * The number of bad inputs tried is printed at the end as a TAP comment.
 */
#define _GNU_SOURCE
#include "common.h"
#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARENA T_MIB(4)	    /* bytes of most arenas here */
#define ARENA_1M T_MIB(1)   /* the arena of the population of digest.h */

/* ---- offsets that are not live objects -------------------------------------------- */

struct visit {
	sma_off_t off;
	size_t size;
	int in_use;
};

struct visits {
	struct visit v[2048];
	size_t n;
};

static int record_visit(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct visits *vs = arg;

	if (vs->n < 2048)
		vs->v[vs->n++] = (struct visit){off, size, in_use};
	return 0;
}

static void add(sma_off_t *list, size_t *n, size_t cap, sma_off_t off)
{
	if (*n < cap)
		list[(*n)++] = off;
}

/*
 * Offsets that name no live object: freed ones, interior, misaligned, out
 * of range, in the header and tables before the heap, and in the library's
 * own blocks (slab headers, caches, name records), which the walk does not
 * show: the gaps between its visits.
 */
static size_t bad_offsets(sma_t *a, const struct population *p, const sma_off_t *freed,
			  size_t nfreed, sma_off_t *list, size_t cap)
{
	static struct visits vs;
	struct sma_stats st = t_stats(a);
	size_t n = 0;
	sma_off_t first;

	for (size_t i = 0; i < nfreed; i++)
		add(list, &n, cap, freed[i]);
	add(list, &n, cap, p->small + 16);
	add(list, &n, cap, p->small + 48);
	add(list, &n, cap, p->medium + 16);
	add(list, &n, cap, p->medium + 512);
	add(list, &n, cap, p->large + 16);
	add(list, &n, cap, p->large + 4096);
	add(list, &n, cap, p->large + T_KIB(100));
	add(list, &n, cap, p->named + 16);
	add(list, &n, cap, p->small + 1);
	add(list, &n, cap, p->small + 8);
	add(list, &n, cap, p->medium + 3);
	add(list, &n, cap, p->large + 15);
	add(list, &n, cap, st.size);
	add(list, &n, cap, st.size + 16);
	add(list, &n, cap, st.size + 4096);
	add(list, &n, cap, (sma_off_t)st.size * 2);
	add(list, &n, cap, ((sma_off_t)1 << 40) | p->small);
	add(list, &n, cap, ((sma_off_t)1 << 40) | p->medium);
	add(list, &n, cap, (sma_off_t)1 << 45);
	add(list, &n, cap, (sma_off_t)1 << 63);
	add(list, &n, cap, UINT64_MAX & ~(sma_off_t)15);
	add(list, &n, cap, UINT64_MAX);
	vs.n = 0;
	assert_int_equal(sma_walk(a, record_visit, &vs), 0);
	assert_true(vs.n > 0);
	first = vs.v[0].off;
	/* The header and the tables before the heap. */
	for (sma_off_t off = 16; off + 16 < first; off = off < 4096 ? off * 2 : off + 4096)
		add(list, &n, cap, off);
	add(list, &n, cap, first - 16);
	/* The library's blocks between the visits (a heap visit ends 8 bytes
	 * before the next block's payload: its header). */
	for (size_t i = 1; i < vs.n; i++) {
		sma_off_t end = vs.v[i - 1].off + vs.v[i - 1].size;
		sma_off_t start = (end + 8 + 15) & ~(sma_off_t)15;
		if (vs.v[i].off <= start)
			continue;
		for (sma_off_t off = start; off < vs.v[i].off; off += off - start < 256 ? 16 : 4096)
			add(list, &n, cap, off);
	}
	/* Free memory in the walk is not an object either. */
	for (size_t i = 0, k = 0; i < vs.n && k < 8; i++)
		if (!vs.v[i].in_use) {
			add(list, &n, cap, vs.v[i].off);
			k++;
		}
	return n;
}

/* Tries every bad offset with sma_free, sma_realloc and sma_usable_size;
 * returns the number of wrong answers (printed). */
static int try_bad_offsets(sma_t *a, const sma_off_t *list, size_t n, const char *who)
{
	int wrong = 0;

	for (size_t i = 0; i < n; i++) {
		sma_off_t off = list[i], r;
		size_t u;
		int rc;

		errno = 0;
		rc = sma_free(a, off);
		if (rc != -1 || errno != EINVAL) {
			fprintf(stderr, "%s: sma_free(%#llx) returned %d, errno %d (%s); expected EINVAL\n",
				who, (unsigned long long)off, rc, errno, strerror(errno));
			wrong++;
		}
		errno = 0;
		r = sma_realloc(a, off, 100);
		if (r != SMA_NULL || errno != EINVAL) {
			fprintf(stderr, "%s: sma_realloc(%#llx, 100) returned %#llx, errno %d (%s); "
				"expected EINVAL\n", who, (unsigned long long)off,
				(unsigned long long)r, errno, strerror(errno));
			wrong++;
		}
		errno = 0;
		u = sma_usable_size(a, off);
		if (u != 0 || errno != EINVAL) {
			fprintf(stderr, "%s: sma_usable_size(%#llx) returned %zu, errno %d (%s); "
				"expected EINVAL\n", who, (unsigned long long)off, u, errno,
				strerror(errno));
			wrong++;
		}
	}
	return wrong;
}

struct child_offsets {
	sma_t *a;
	const sma_off_t *list;
	size_t n;
};

static int bad_offsets_in_a_new_process(void *arg)
{
	struct child_offsets *c = arg;

	alarm(60);
	return try_bad_offsets(c->a, c->list, c->n, "a new process") ? 1 : 0;
}

static void test_offsets_that_are_not_live_objects_fail_with_einval_and_change_nothing(
	void **state)
{
	static sma_off_t list[1024];
	sma_t *a = t_open_private(ARENA_1M);
	struct population pop;
	struct digest before;
	sma_off_t freed[6];
	struct child_offsets c;
	size_t n;
	int wrong;

	(void)state;
	populate(a, &pop);
	/* Freed objects: in this thread's cache, flushed back, and large. */
	freed[0] = t_alloc_ok(a, 64);
	freed[1] = t_alloc_ok(a, 1000);
	freed[2] = t_alloc_ok(a, T_KIB(100));
	freed[3] = t_alloc_ok(a, 48);
	freed[4] = t_alloc_ok(a, 2000);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sma_free(a, freed[i]), 0);
	assert_int_equal(sma_flush(a), 0);
	freed[3] = t_alloc_ok(a, 48); /* a warm cache again, with freed[5] in it */
	freed[5] = t_alloc_ok(a, 48);
	assert_int_equal(sma_free(a, freed[5]), 0);
	assert_int_equal(sma_free(a, freed[3]), 0);
	n = bad_offsets(a, &pop, freed, 6, list, 1024);
	before = digest_of(a);

	wrong = try_bad_offsets(a, list, n, "this process");
	n_bad += 3 * (long)n;
	if (wrong)
		fail_msg("%d of %zu answers to bad offsets were wrong (listed above)", wrong, 3 * n);
	assert_unchanged(a, &before, "bad offsets");

	/* The same from a process with no cache of its own. */
	c = (struct child_offsets){a, list, n};
	t_wait_ok(t_fork(bad_offsets_in_a_new_process, &c));
	n_bad += 3 * (long)n;
	assert_unchanged(a, &before, "bad offsets from another process");

	/* SMA_NULL: free does nothing; usable_size fails. */
	assert_int_equal(sma_free(a, SMA_NULL), 0);
	errno = 0;
	assert_int_equal(sma_usable_size(a, SMA_NULL), 0);
	assert_int_equal(errno, EINVAL);
	n_bad += 2;

	/* A named object is freed by name only. */
	BAD_INT(sma_free(a, pop.named), EBUSY);
	n_bad++; /* the realloc below */
	errno = 0;
	if (sma_realloc(a, pop.named, 5000) != SMA_NULL || (errno != EBUSY && errno != EINVAL))
		fail_msg("sma_realloc of a named object: errno %d (%s); expected EBUSY or EINVAL",
			 errno, strerror(errno));
	assert_true(sma_usable_size(a, pop.named) >= 300);
	assert_unchanged(a, &before, "frees of a named object");
	printf("# %zu offsets that are not live objects, each tried with sma_free, sma_realloc "
	       "and sma_usable_size, from two processes\n", n);
	free_all(a);
	t_destroy(a);
}

/* ---- bad frees ------------------------------------------------------------------ */

static const size_t kinds[] = {32, 3000, 300000}; /* a small, a medium, a large object */
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static void test_free_twice_fails_with_einval_and_changes_nothing(void **state)
{
	enum { N = 12 };
	sma_t *a = t_open_private(ARENA);

	for (size_t k = 0; k < NKINDS; k++) {
		sma_off_t neighbour = t_alloc_ok(a, kinds[k]);
		sma_off_t x = t_alloc_ok(a, kinds[k]);
		sma_off_t again[N + 1];
		struct sma_stats before;

		assert_int_equal(sma_free(a, x), 0);
		before = t_settled_stats(a);
		/* While it may sit in this thread's cache... */
		T_ASSERT_INT_FAILS(sma_free(a, x), EINVAL);
		t_assert_stats_equal(t_stats(a), before);
		t_assert_check(a);
		/* ...and once the cache is given back. */
		assert_int_equal(sma_flush(a), 0);
		T_ASSERT_INT_FAILS(sma_free(a, x), EINVAL);
		t_assert_check(a);
		/* The object is handed out once at most. */
		again[0] = neighbour;
		for (int i = 1; i <= N; i++)
			again[i] = kinds[k] < 100000 || i < 4 ? t_alloc_ok(a, kinds[k]) : t_alloc_ok(a, 16);
		t_assert_distinct(again, N + 1);
		for (int i = 0; i <= N; i++)
			assert_int_equal(sma_free(a, again[i]), 0);
	}
	t_assert_all_free(a);
	t_destroy(a);
}

/* Frees each of bad[] expecting EINVAL and no change, then frees off. */
static void assert_bad_frees_change_nothing(sma_t *a, sma_off_t off, size_t size,
					    const sma_off_t *bad, size_t nbad)
{
	struct sma_stats before;
	size_t usable = sma_usable_size(a, off);

	t_fill(sma_ptr(a, off), size, off);
	before = t_settled_stats(a);
	for (size_t i = 0; i < nbad; i++) {
		errno = 0;
		int r = sma_free(a, bad[i]);
		int e = errno;
		if (r != -1 || e != EINVAL)
			fail_msg("sma_free(%#llx) near the object at %#llx (%zu bytes) returned "
				 "%d, errno %d (%s); expected EINVAL",
				 (unsigned long long)bad[i], (unsigned long long)off, size, r, e,
				 strerror(e));
		errno = 0;
		if (sma_usable_size(a, bad[i]) != 0 || errno != EINVAL)
			fail_msg("sma_usable_size(%#llx) is not 0 with EINVAL",
				 (unsigned long long)bad[i]);
	}
	t_assert_stats_equal(t_stats(a), before);
	t_assert_check(a);
	assert_int_equal(sma_usable_size(a, off), usable);
	assert_true(t_verify(sma_ptr(a, off), size, off));
	assert_int_equal(sma_free(a, off), 0);
}

static void test_free_of_an_interior_offset_fails_with_einval_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);

	for (size_t k = 0; k < NKINDS; k++) {
		sma_off_t before_it = t_alloc_ok(a, kinds[k]);
		sma_off_t off = t_alloc_ok(a, kinds[k]);
		sma_off_t after_it = t_alloc_ok(a, kinds[k]);
		size_t u = sma_usable_size(a, off);
		sma_off_t bad[] = {off + 16, off + 8, off + 32, off + (u - 16) / 16 * 16,
				   off + (u > 4096 + 16 ? 4096 : 16),
				   off + (u > 4096 + 16 ? 4096 + 16 : 48)};
		size_t nbad = u > 48 ? sizeof(bad) / sizeof(bad[0]) : 2;

		assert_bad_frees_change_nothing(a, off, kinds[k], bad, nbad);
		assert_int_equal(sma_free(a, before_it), 0);
		assert_int_equal(sma_free(a, after_it), 0);
	}
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_free_of_a_misaligned_offset_fails_with_einval_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);

	for (size_t k = 0; k < NKINDS; k++) {
		sma_off_t before_it = t_alloc_ok(a, kinds[k]);
		sma_off_t off = t_alloc_ok(a, kinds[k]);
		sma_off_t bad[] = {off + 1, off + 2, off + 4, off + 15, off - 1, off - 8, off + 17};

		assert_bad_frees_change_nothing(a, off, kinds[k], bad, sizeof(bad) / sizeof(bad[0]));
		assert_int_equal(sma_free(a, before_it), 0);
	}
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_free_of_an_out_of_range_offset_fails_with_einval_and_changes_nothing(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_off_t off = t_alloc_ok(a, 64);
	size_t size = t_stats(a).size;
	sma_off_t bad[] = {size,
			   size + 16,
			   size * 2,
			   (sma_off_t)1 << 39,
			   ((sma_off_t)1 << 40) | off,
			   ((sma_off_t)7 << 40) | off,
			   (sma_off_t)1 << 62,
			   UINT64_MAX,
			   UINT64_MAX & ~(sma_off_t)15,
			   16};

	assert_bad_frees_change_nothing(a, off, 64, bad, sizeof(bad) / sizeof(bad[0]));
	t_assert_all_free(a);
	t_destroy(a);
}

/*
 * The strongest form: with objects of every kind live (and some freed,
 * perhaps held in a cache), every 16-byte step of the segment and beyond
 * that is not a live object is refused.
 */
static void test_free_of_any_offset_but_a_live_object_fails_with_einval_and_changes_nothing(
	void **state)
{
	static const size_t sizes[] = {1,    16,   17,   48,   100,	 256,	700,   1024,
				       2000, 4000, 5000, 9000, 20000, 65536, 100000};
	enum { NS = sizeof(sizes) / sizeof(sizes[0]), NL = 3 * NS + 3 };
	sma_t *a = t_open_private(T_MIB(2));
	sma_off_t live[NL];
	size_t lsize[NL];
	size_t n = 0, size, checked = 0;
	unsigned char *is_live;
	struct sma_stats before;

	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < NS; i++) {
			lsize[n] = sizes[i];
			live[n] = t_alloc_ok(a, sizes[i]);
			n++;
		}
	lsize[n] = 300000;
	live[n++] = t_alloc_ok(a, 300000);
	lsize[n] = 100;
	live[n++] = sma_aligned_alloc(a, 4096, 100);
	lsize[n] = 3000;
	live[n++] = sma_aligned_alloc(a, 256, 3000);
	assert_int_not_equal(live[n - 1], SMA_NULL);
	assert_int_not_equal(live[n - 2], SMA_NULL);
	/* Free every third: those are offsets that were objects once. */
	for (size_t i = 0; i < n; i += 3) {
		assert_int_equal(sma_free(a, live[i]), 0);
		live[i] = SMA_NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (live[i])
			t_fill(sma_ptr(a, live[i]), lsize[i], live[i]);

	before = t_settled_stats(a);
	size = before.size;
	is_live = calloc(size / 16 + 1, 1);
	assert_non_null(is_live);
	for (size_t i = 0; i < n; i++)
		if (live[i])
			is_live[live[i] / 16] = 1;

	for (sma_off_t off = 16; off < size + T_KIB(64); off += 16) {
		if (off < size && is_live[off / 16])
			continue;
		errno = 0;
		int r = sma_free(a, off);
		int e = errno;
		if (r != -1 || e != EINVAL) {
			free(is_live);
			fail_msg("sma_free(%#llx), not a live object, returned %d, errno %d (%s)",
				 (unsigned long long)off, r, e, strerror(e));
		}
		errno = 0;
		if (sma_usable_size(a, off) != 0 || errno != EINVAL) {
			free(is_live);
			fail_msg("sma_usable_size(%#llx), not a live object, is not 0 with EINVAL",
				 (unsigned long long)off);
		}
		checked++;
	}
	free(is_live);
	assert_true(checked > size / 16 - NL);
	t_assert_stats_equal(t_stats(a), before);
	t_assert_check(a);
	for (size_t i = 0; i < n; i++)
		if (live[i]) {
			assert_true(t_verify(sma_ptr(a, live[i]), lsize[i], live[i]));
			assert_int_equal(sma_free(a, live[i]), 0);
		}
	t_assert_all_free(a);
	t_destroy(a);
}

/* ---- translation ------------------------------------------------------------------ */

static void test_ptr_and_off_translate_every_byte_of_an_object_both_ways(void **state)
{
	static const size_t sizes[] = {1, 100, 5000, 300000};
	sma_t *a = t_open_private(ARENA);
	sma_t *b = t_track(sma_open_id(sma_shmid(a), 0));

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sma_off_t off = t_alloc_ok(a, sizes[i]);
		size_t u = sma_usable_size(a, off);
		char *pa = sma_ptr(a, off), *pb = sma_ptr(b, off);

		assert_ptr_not_equal(pa, pb);
		for (size_t k = 0; k < u; k++) {
			if (sma_ptr(a, off + k) != pa + k || sma_off(a, pa + k) != off + k ||
			    sma_ptr(b, off + k) != pb + k || sma_off(b, pb + k) != off + k)
				fail_msg("translation of byte %zu of the object at %#llx is wrong", k,
					 (unsigned long long)off);
		}
		assert_int_equal(sma_free(b, off), 0);
	}
	t_close(b);
	t_assert_all_free(a);
	t_destroy(a);
}

static void test_ptr_of_null_is_null(void **state)
{
	sma_t *a = t_open_private(ARENA);

	assert_null(sma_ptr(a, SMA_NULL));
	t_destroy(a);
}

static void test_off_of_null_or_an_address_outside_the_mapping_is_null(void **state)
{
	sma_t *a = t_open_private(ARENA);
	sma_t *b = t_track(sma_open_id(sma_shmid(a), 0));
	sma_t *c = t_open_private(ARENA);
	sma_off_t off = t_alloc_ok(a, 64);
	sma_off_t other = t_alloc_ok(c, 64);
	int local;
	static char heap[64]; /* memory of this process outside any arena */

	assert_int_equal(sma_off(a, NULL), SMA_NULL);
	assert_int_equal(sma_off(a, &local), SMA_NULL);
	assert_int_equal(sma_off(a, heap), SMA_NULL);
	assert_int_equal(sma_off(a, sma_ptr(c, other)), SMA_NULL);
	assert_int_equal(sma_off(a, sma_ptr(b, off)), SMA_NULL);
	assert_int_equal(sma_off(b, sma_ptr(a, off)), SMA_NULL);
	assert_int_equal(sma_off(a, sma_ptr(a, off)), off);
	assert_int_equal(sma_off(b, sma_ptr(b, off)), off);
	assert_int_equal(sma_free(c, other), 0);
	assert_int_equal(sma_free(a, off), 0);
	t_close(b);
	t_destroy(c);
	t_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_TEST(test_offsets_that_are_not_live_objects_fail_with_einval_and_change_nothing),
		T_TEST(test_free_twice_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_an_interior_offset_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_a_misaligned_offset_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_an_out_of_range_offset_fails_with_einval_and_changes_nothing),
		T_TEST(test_free_of_any_offset_but_a_live_object_fails_with_einval_and_changes_nothing),
		T_TEST(test_ptr_and_off_translate_every_byte_of_an_object_both_ways),
		T_TEST(test_ptr_of_null_is_null),
		T_TEST(test_off_of_null_or_an_address_outside_the_mapping_is_null),
	};
	int rc = T_RUN_GROUP(tests);

	printf("# bad inputs tried: %ld\n", n_bad);
	return rc;
}
