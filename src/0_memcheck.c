/*
 * 0_memcheck.c -- telling Valgrind's memcheck and AddressSanitizer what
 * becomes of the objects of an arena in this process (the rules are in
 * 0_memcheck.h).  Runs only when a tool watches: the hooks of the public
 * calls test the handle's field mc before they call here.
 *
 * Under memcheck each handle has a mempool and a table of the chunks it
 * holds (address -> bytes), kept in the process:
 *
 *   struct mc_chunks
 *   +----+-----+---+-------------------------------------------+
 *   | mu | cap | n | slot[cap]: { address, bytes }, 0 = empty |
 *   +----+-----+---+-------------------------------------------+
 *
 * Invariants:
 *   K1  the table holds exactly the chunks of the handle's pool, each
 *       with the bytes it was given to the pool with.
 *   K2  linear probing from the hash of the address, no tombstones (a
 *       removal shifts the run after it back).
 * The table is what lets a stale chunk (M3) be dropped with nothing of it
 * left inaccessible: memcheck marks all of a freed chunk inaccessible, and
 * only the table says how far it reached.
 */
#include "0_memcheck.h"

#if HAVE_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

/* AddressSanitizer's interface (sanitizer/asan_interface.h), weak: NULL
 * unless the process has the runtime, whether or not libsma is built
 * with it. */
void __asan_poison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak, visibility("default")));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak, visibility("default")));

struct mc_slot {
	uintptr_t p;	/* the chunk's address, 0 = empty */
	uint64_t bytes; /* its size in the pool */
};

struct mc_chunks {
	pthread_mutex_t mu; /* guards the table and the pool's requests */
	size_t cap;	    /* slots, a power of two */
	size_t n;	    /* slots in use, at most 3/4 of cap */
	struct mc_slot *slot;
};

unsigned sma__mc_tools(void)
{
	unsigned mc = 0;
#if HAVE_VALGRIND
	/* Only memcheck keeps the books the requests feed; under another
	 * tool (callgrind measuring the library, say) they would only cost.
	 * Valgrind preloads the tool's own library: its name tells. */
	const char *pre = getenv("LD_PRELOAD");
	if (RUNNING_ON_VALGRIND && pre && strstr(pre, "vgpreload_memcheck"))
		mc |= MC_VALGRIND;
#endif
	if (__asan_poison_memory_region && __asan_unpoison_memory_region)
		mc |= MC_ASAN;
	return mc;
}

void sma__mc_range(unsigned mc, void *p, uint64_t n, int accessible)
{
	if (!n)
		return;
#if HAVE_VALGRIND
	if (mc & MC_VALGRIND) {
		if (accessible)
			VALGRIND_MAKE_MEM_DEFINED(p, n);
		else
			VALGRIND_MAKE_MEM_NOACCESS(p, n);
	}
#endif
	if (mc & MC_ASAN) {
		if (accessible)
			__asan_unpoison_memory_region(p, n);
		else
			__asan_poison_memory_region(p, n);
	}
}

/* ---- the table of chunks ------------------------------------------------ */
#if HAVE_VALGRIND

static size_t home(const struct mc_chunks *t, uintptr_t p)
{
	return (size_t)(((uint64_t)p >> 4) * 0x9e3779b97f4a7c15ull >> 20) & (t->cap - 1);
}

/* Removes p; the bytes it had, or 0 if the pool has no chunk there. */
static uint64_t take(struct mc_chunks *t, uintptr_t p)
{
	if (!t->cap)
		return 0;
	size_t i = home(t, p);
	while (t->slot[i].p != p) {
		if (!t->slot[i].p)
			return 0;
		i = (i + 1) & (t->cap - 1);
	}
	uint64_t bytes = t->slot[i].bytes;
	t->n--;
	/* K2: shift back what the hole would cut off from its home. */
	for (size_t j = (i + 1) & (t->cap - 1); t->slot[j].p; j = (j + 1) & (t->cap - 1)) {
		size_t h = home(t, t->slot[j].p);
		if (((j - h) & (t->cap - 1)) >= ((j - i) & (t->cap - 1))) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i].p = 0;
	return bytes;
}

/* Adds p (not in the table); -1 if no memory for it. */
static int put(struct mc_chunks *t, uintptr_t p, uint64_t bytes)
{
	if ((t->n + 1) * 4 > t->cap * 3) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct mc_slot *s = calloc(cap, sizeof *s), *old = t->slot;
		if (!s)
			return -1;
		size_t ocap = t->cap;
		t->slot = s;
		t->cap = cap;
		t->n = 0;
		for (size_t k = 0; k < ocap; k++)
			if (old[k].p)
				put(t, old[k].p, old[k].bytes);
		free(old);
	}
	size_t i = home(t, p);
	while (t->slot[i].p)
		i = (i + 1) & (t->cap - 1);
	t->slot[i].p = p;
	t->slot[i].bytes = bytes;
	t->n++;
	return 0;
}
#endif

/* ---- the handle ------------------------------------------------------------ */

void sma__mc_open(struct sma *a)
{
	a->mc = sma__mc_tools();
	a->mct = NULL;
#if HAVE_VALGRIND
	if (a->mc & MC_VALGRIND) {
		struct mc_chunks *t = calloc(1, sizeof *t);
		if (!t) {
			a->mc &= ~MC_VALGRIND; /* no stacks, rather than wrong ones */
			return;
		}
		pthread_mutex_init(&t->mu, NULL);
		a->mct = t;
		VALGRIND_CREATE_MEMPOOL(a, 0, 0);
	}
#endif
}

void sma__mc_mapping(struct sma *a)
{
	for (unsigned k = 0; k < MAX_SEGS; k++) {
		char *b = atomic_load(&a->seg_base[k]);
		if (b)
			sma__mc_range(a->mc, b, a->seg_size[k], 1);
	}
}

/* In a fork child: a thread of the parent may have held the table's
 * mutex, and the parent's caches are not the child's. */
void sma__mc_after_fork(struct sma *a)
{
	if (a->mct)
		pthread_mutex_init(&a->mct->mu, NULL);
	sma__mc_mapping(a);
}

/* Forgets the pool (which makes its chunks inaccessible), then opens the
 * whole mapping.  The table stays (a thread may be in a hook) but for
 * sma__mc_close. */
static void pool_end(struct sma *a)
{
	struct mc_chunks *t = a->mct;
	if (t)
		pthread_mutex_lock(&t->mu);
#if HAVE_VALGRIND
	if (a->mc & MC_VALGRIND)
		VALGRIND_DESTROY_MEMPOOL(a);
#endif
	a->mc &= ~MC_VALGRIND;
	if (t)
		pthread_mutex_unlock(&t->mu);
	sma__mc_mapping(a);
}

void sma__mc_exit(struct sma *a)
{
	if (a->mc & MC_VALGRIND)
		pool_end(a);
}

void sma__mc_close(struct sma *a)
{
	pool_end(a);
	a->mc = 0;
	struct mc_chunks *t = a->mct;
	a->mct = NULL;
	if (t) {
		pthread_mutex_destroy(&t->mu);
		free(t->slot);
		free(t);
	}
}

/* ---- the objects ----------------------------------------------------------- */

#if HAVE_VALGRIND
/* Drops the chunk at p, if the pool has one; the bytes it covered (all
 * of them now inaccessible to memcheck), or 0.  With t->mu held. */
static uint64_t chunk_drop(struct sma *a, struct mc_chunks *t, void *p)
{
	uint64_t bytes = take(t, (uintptr_t)p);
	if (bytes)
		VALGRIND_MEMPOOL_FREE(a, p);
	return bytes;
}

/* A chunk of usable bytes at p, after dropping the one there was; the
 * bytes the dropped one covered. */
static uint64_t chunk_new(struct sma *a, void *p, uint64_t usable)
{
	struct mc_chunks *t = a->mct;
	uint64_t was = 0;
	pthread_mutex_lock(&t->mu);
	if (a->mc & MC_VALGRIND) {
		was = chunk_drop(a, t, p);
		if (put(t, (uintptr_t)p, usable) == 0)
			VALGRIND_MEMPOOL_ALLOC(a, p, usable);
	}
	pthread_mutex_unlock(&t->mu);
	return was;
}
#endif

void sma__mc_alloc(struct sma *a, void *p, uint64_t usable)
{
	uint64_t was = 0;
#if HAVE_VALGRIND
	if (a->mc & MC_VALGRIND)
		was = chunk_new(a, p, usable);
#endif
	sma__mc_range(a->mc, p, was > usable ? was : usable, 1);
}

void sma__mc_free(struct sma *a, void *p, uint64_t usable, int cached)
{
	uint64_t was = 0;
#if HAVE_VALGRIND
	struct mc_chunks *t = a->mct;
	if ((a->mc & MC_VALGRIND) && t) {
		pthread_mutex_lock(&t->mu);
		if (a->mc & MC_VALGRIND)
			was = chunk_drop(a, t, p);
		pthread_mutex_unlock(&t->mu);
	}
#endif
	if (cached) {
		sma__mc_range(a->mc, p, usable, 0);
		if (was > usable) /* a stale chunk, larger than the object */
			sma__mc_range(a->mc, (char *)p + usable, was - usable, 1);
	} else {
		sma__mc_range(a->mc, p, was > usable ? was : usable, 1);
	}
}
