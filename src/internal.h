/*
 * internal.h -- the layout of an sma segment and what the modules share.
 *
 * The segment, at any address in any process:
 *
 *   0          hdr_size   slots_off       pmap_off        buckets_off  heap_off                 size
 *   +----------+----------+---------------+---------------+------------+------------ ... -------+
 *   | header   | (pad)    | slot table    | page map      | name index | heap: blocks, slabs    |
 *   | magic,   |          | nslots x 128B | u32 per page  | u64/bucket | (heap.c, slab.c)       |
 *   | lock,    |          | (cache.c)     | (heap.c)      | (named.c)  |                        |
 *   | counters |          |               |               |            |                        |
 *   +----------+----------+---------------+---------------+------------+------------ ... -------+
 *
 * Every field in the segment is a fixed-width integer; references are byte
 * offsets from the start of the segment, 0 meaning none (offset 0 is the
 * header, so no object has it).  An sma_off_t keeps its top 24 bits for a
 * segment number (always 0 for now: OFF_SEG_SHIFT), so that an arena can
 * later grow by segments without changing the API.
 *
 * Who owns what:
 *   segment.c  the header's identity and initialisation; open, close, destroy
 *   lock.c     the arena lock (System V semaphore with SEM_UNDO), its holder
 *              record and the repair of an operation whose holder died
 *   heap.c     the blocks of the heap: a two-level segregated fit (TLSF)
 *              with boundary tags, and the page map
 *   slab.c     small objects: size classes served from slabs with bitmaps
 *   cache.c    the slot table and the per-thread caches held in it
 *   alloc.c    the public allocation calls
 *   named.c    the named-object index
 *   inspect.c  stats, walk, check, recover, info
 *
 * Every change to this file's shared structures bumps SMA_LAYOUT.
 */
#ifndef SMA_INTERNAL_H
#define SMA_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "sma.h"

#define SMA_MAGIC 0x31414d5320414d53ULL /* "SMA SMA1" */
#define SMA_LAYOUT 3u

#define PAGE 4096u	/* granule of the page map and of slabs */
#define PAGE_SHIFT 12
#define ALIGN 16u	/* alignment of every object */

#define OFF_SEG_SHIFT 40 /* sma_off_t: segment << 40 | byte offset */
#define OFF_MASK ((UINT64_C(1) << OFF_SEG_SHIFT) - 1)

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#ifndef SMA_DEBUG
#define SMA_DEBUG 0
#endif
#define HIDDEN __attribute__((visibility("hidden")))
/* Thread-locals of the library: static TLS, reached without a call. */
#define TLS _Thread_local __attribute__((tls_model("initial-exec")))
HIDDEN void sma__assert_fail(const char *e, const char *file, int line);

/* A debug assertion: compiled always, checked only in debug builds. */
#define DASSERT(e)                                                        \
	do {                                                              \
		if (SMA_DEBUG && !(e))                                    \
			sma__assert_fail(#e, __FILE__, __LINE__);         \
	} while (0)


/* ---- size classes --------------------------------------------------------
 *
 * Classes 0..15 are small (16..256 bytes in 16-byte steps) and are served
 * from slabs.  Classes 16..79 are medium (8 per doubling from 288 bytes to
 * 64 KiB): served from the heap at the exact size asked, and cached per
 * thread in the class of the block's usable size (the smallest class at
 * least that size), with the usable size kept in the cache entry.
 */
#define NSMALL 16
#define SMALL_MAX 256u
#define NCLASSES 80
#define CACHE_MAX 65536u

/* ---- the page map (heap.c) ----------------------------------------------
 * One u32 per page of the segment:
 *   0                       no block starts in this page
 *   PM_SLAB | page index    the page belongs to the slab starting at that page
 *   PM_FIRST | pos          the first block starting in this page starts at
 *                           page start + pos * 16
 */
#define PM_SLAB 0x80000000u
#define PM_FIRST 0x40000000u
#define PM_VAL 0x3fffffffu

/* ---- heap blocks (heap.c) -------------------------------------------------
 *
 *   B+0       B+8        B+16                              B+size   B+size+8
 *   +---------+----------+--- payload (usable = size-8) ---+--------+
 *   |prev_phys| hdr word | next_free | prev_free | ...     |prev_phys of next
 *   +---------+----------+---------------------------------+--------+
 *
 * prev_phys (the size of the previous block) is valid only when this
 * block's BF_PREV_FREE is set; it lies in the previous block's payload.
 * The object's offset is B + 16.  The hdr word:
 *   bits 0-3   flags BF_FREE, BF_PREV_FREE, BF_LIVE
 *   bits 4-47  size in bytes (a multiple of 16, at least MIN_BLOCK)
 *   bits 48-49 kind: user object, slab, named object, library structure
 *   bits 50-63 tag: a check of the block's offset, so that a scribbled
 *              header is told from a real one
 */
#define BF_FREE 0x1ull
#define BF_PREV_FREE 0x2ull
#define BF_LIVE 0x4ull
#define BF_FLAGS 0xfull
#define B_SIZE_MASK 0x0000fffffffffff0ull
#define B_KIND_SHIFT 48
#define B_KIND_MASK (3ull << B_KIND_SHIFT)
#define B_TAG_SHIFT 50
#define B_TAG_MASK (0x3fffull << B_TAG_SHIFT)
enum { KIND_USER = 0, KIND_SLAB = 1, KIND_NAMED = 2, KIND_INTERNAL = 3 };
#define MIN_BLOCK 32u
#define BLOCK_OVERHEAD 8u /* size - usable */

/* TLSF geometry: 16 second-level lists per power of two from 256 bytes. */
#define SL_LOG2 4
#define SL_COUNT (1u << SL_LOG2)
#define SL_MASK ((1u << SL_COUNT) - 1)
#define FL_SHIFT (SL_LOG2 + 4) /* 256: below it, one list per 16 bytes */
#define FL_MAX 44
#define FL_COUNT (FL_MAX - FL_SHIFT + 1)

/* ---- slabs (slab.c) ---------------------------------------------------------
 *
 *   P (page aligned)                                   P + SLAB_SIZE
 *   +-------------+------+------+------+-- ... --+------+------+
 *   | struct slab | obj0 | obj1 | obj2 |         | objN | tail |
 *   +-------------+------+------+------+-- ... --+------+------+
 *
 * A slab is a heap block of kind KIND_SLAB whose payload starts at a page
 * boundary.  Each object slot is in exactly one state:
 *   free in the slab   bit set in free[]       (changed under the lock)
 *   live               bit set in live[]       (changed atomically)
 *   cached             neither: held in one thread's cache, or in flight
 */
#define SLAB_SIZE 8192u
#define SLAB_WORDS 8 /* 512 bits: SLAB_SIZE / 16 */
#define SLAB_HDR 192u
#define SLAB_MAGIC 0x51ab0000u
struct slab {
	uint32_t magic;		    /* SLAB_MAGIC | cls */
	uint16_t cls;		    /* size class, 0..NSMALL-1 */
	uint16_t nobj;		    /* object slots in this slab */
	uint16_t nfree;		    /* bits set in free[] (derived) */
	uint16_t listed;	    /* 1 when on its class's partial list */
	uint32_t owner;		    /* slot + 1 of the thread that owns it, 0 =
				       none (derived: a rebuild clears it) */
	uint64_t next;		    /* next slab on the partial list, 0 = end */
	uint64_t prev;		    /* previous slab on the partial list, 0 = head */
	uint64_t free[SLAB_WORDS];  /* 1 = slot free in the slab */
	_Atomic uint64_t live[SLAB_WORDS]; /* 1 = slot handed to a user */
};
_Static_assert(sizeof(struct slab) <= SLAB_HDR, "slab header fits");

/* Per size class, in the header. */
struct class_state {
	uint64_t partial;   /* first slab with a free slot, 0 = none */
	uint64_t slabs;	    /* slabs of this class */
	uint64_t slots;	    /* object slots in them */
	uint64_t free;	    /* of which free in the slabs */
	uint64_t requests;  /* allocations asked of this class */
	uint64_t failures;  /* of which failed for want of memory */
};

/* ---- the slot table (cache.c) --------------------------------------------
 *
 * A slot belongs to one thread of one process while that thread uses a
 * cache.  Its counters and its in-flight record are written only by that
 * thread (or, once the process is dead, by the holder of the arena lock).
 */
enum { SLOT_FREE = 0, SLOT_HELD = 1 };
enum { INF_NONE = 0, INF_POP = 1, INF_PUSH = 2 };
#define INF_PACK(off, cls, kind) ((off) | (uint64_t)(cls) << 40 | (uint64_t)(kind) << 48)
#define INF_OFF(v) ((v) & OFF_MASK)
#define INF_CLS(v) ((unsigned)((v) >> 40) & 0xff)
#define INF_KIND(v) ((unsigned)((v) >> 48) & 0x3)
enum { SOP_NONE = 0, SOP_REFILL = 1, SOP_FLUSH = 2 };
struct slot {
	_Atomic uint32_t state; /* SLOT_FREE or SLOT_HELD */
	int32_t pid;		/* process holding it */
	int32_t tid;		/* thread holding it */
	uint32_t gen;		/* bumped each time the slot is taken */
	uint64_t start;		/* start time of the process (clock ticks) */
	uint64_t cache;		/* offset of its cache block, 0 = none */
	uint64_t hid;		/* which handle of the process took it */
	/* What a thread is moving between its cache and a user, lock free:
	 * INF_PACK(object, class, INF_POP or INF_PUSH), 0 = nothing. */
	_Atomic uint64_t inf;
	uint64_t inf_ctr;	/* allocs (pop) or frees (push) before the move */
	uint64_t inf_used;	/* used before the move */
	/* Counters of what this slot's thread did through its cache. */
	uint64_t allocs;	/* objects handed out */
	uint64_t frees;		/* objects taken back */
	uint64_t used;		/* bytes handed out less bytes taken back (mod 2^64) */
	uint64_t cached_bytes;	/* bytes held in the cache's medium classes
				   (small ones: count x class size) */
	/* A locked operation on the cache in flight (refill or flush). */
	uint32_t op;		/* SOP_* */
	uint32_t op_cls;	/* class */
	uint64_t op_a;		/* refill: slab; flush: count before */
	uint64_t op_b;		/* refill: word index << 32 | count before; flush: n */
	uint64_t op_c;		/* refill: mask of the slots taken */
};
#define SLOT_BYTES 128u
_Static_assert(sizeof(struct slot) <= SLOT_BYTES, "slot fits");

/* The cache block of a slot (cache.c) is a heap block of kind
 * KIND_INTERNAL: u32 count[NCLASSES], u64 req[NCLASSES], u64 own[NSMALL]
 * (heads of the lists of the thread's slabs with free slots), then the
 * cached offsets,
 * class cls at a->cbase[cls], a->ccap[cls] of them (cache.c). */
#define CACHE_HDR_BYTES (12u * NCLASSES + 8u * NSMALL)

#define SEM_MARK 1453 /* value of semaphore 1 of every sma semaphore set */

/* ---- the header -------------------------------------------------------- */

enum { INIT_NONE = 0, INIT_BUSY = 1, INIT_READY = 2 };

/* The operation a lock holder is in, for the next holder to repair. */
enum {
	LOP_NONE = 0,
	LOP_ALLOC,	/* heap or slab allocation; a = class or 0 */
	LOP_FREE,	/* a = object being freed */
	LOP_SLOT,	/* a slot's refill or flush (the slot has the log) */
	LOP_NAMED,	/* a named-object allocation */
	LOP_NAMED_FREE,	/* a named-object free; a = the object */
	LOP_RECOVER,	/* a recovery */
	LOP_RESIZE,	/* an in-place realloc; a = object, b = old usable, ctr = used */
};

struct sma_header {
	/* identity: written first by the creator, checked by every open */
	_Atomic uint64_t magic;	   /* SMA_MAGIC once the creator marked it */
	uint32_t layout;	   /* SMA_LAYOUT */
	_Atomic uint32_t init;	   /* INIT_* */
	int32_t init_pid;	   /* process initialising (or that did) */
	uint32_t ptr_bits;	   /* 64 */
	uint64_t init_start;	   /* its start time (clock ticks) */
	uint64_t size;		   /* bytes of the segment */
	uint64_t path_dev;	   /* device of the ftok path, 0 = none */
	uint64_t path_ino;	   /* inode of the ftok path, 0 = none */
	int32_t key;		   /* System V key, 0 = IPC_PRIVATE */
	int32_t semid;		   /* semaphore set of the arena lock */
	int64_t created;	   /* time of initialisation, seconds */

	/* geometry */
	uint64_t slots_off;	   /* slot table */
	uint32_t nslots;	   /* slots in it */
	uint32_t nbuckets;	   /* buckets of the name index (a power of 2) */
	uint64_t pmap_off;	   /* page map: one u32 per page of the segment */
	uint64_t npages;	   /* pages of the segment */
	uint64_t buckets_off;	   /* name index */
	uint64_t heap_off;	   /* first block of the heap */
	uint64_t heap_end;	   /* the sentinel block (size 0) */
	uint64_t heap_size;	   /* usable bytes of the heap when empty */
	uint64_t cache_budget;	   /* bytes one slot's cache may hold */
	uint64_t cache_bytes;	   /* size of a cache block */
	uint64_t small_cap;	   /* objects a thread caches per small class:
				      16..256, a power of 2, by heap size */

	/* the arena lock: written only by its holder */
	uint8_t pad0[64];
	int32_t lock_pid;	   /* holder's pid, 0 = none */
	int32_t lock_tid;	   /* holder's thread */
	uint32_t lock_op;	   /* LOP_* in progress, 0 = none */
	uint32_t lock_slot;	   /* holder's slot + 1, 0 = none */
	uint64_t lock_a;	   /* operation argument: the object */
	uint64_t lock_b;	   /* its usable size */
	uint64_t lock_ctr;	   /* counter value before the operation */
	uint64_t lock_new;	   /* a library block being set up, 0 = none */
	uint64_t lock_used;	   /* used before the operation */
	uint64_t lock_ops;	   /* semaphore operations since creation */
	uint64_t repairs;	   /* dead holders' operations repaired */
	uint64_t recovered_slots;  /* dead slots reclaimed */
	uint8_t pad1[64];

	/* counters kept under the lock (slots add theirs) */
	uint64_t allocs;	   /* objects created outside thread caches */
	uint64_t frees;		   /* objects released outside thread caches */
	uint64_t used;		   /* their bytes (mod 2^64) */
	uint64_t heap_free_bytes;  /* bytes of free heap blocks (derived) */
	uint64_t heap_free_blocks; /* free heap blocks (derived) */
	uint64_t named;		   /* named objects */

	/* the heap's free lists (derived from the blocks) */
	uint64_t fl_bitmap;
	uint32_t sl_bitmap[FL_COUNT];
	uint64_t heads[FL_COUNT][SL_COUNT];

	struct class_state cls[NCLASSES];
};

#define HDR_BYTES (((sizeof(struct sma_header) + PAGE - 1) / PAGE) * PAGE)
_Static_assert(sizeof(struct sma_header) <= 16384, "header stays small");

/* ---- the handle: what lives in this process ---------------------------- */

struct sma {
	char *base;		/* where this handle attached the segment */
	struct sma_header *h;	/* == base */
	uint64_t size;		/* bytes mapped */
	int shmid;
	int semid;
	key_t key;
	int flags;		/* SMA_RDONLY */
	uint64_t hid;		/* unique among this process's handles */
	int destroyed;		/* sma_destroy was called through this handle */
	int image;		/* base is a private copy, not an attachment */
	/* The layout of this arena's cache blocks (from header.small_cap). */
	uint32_t ccap[NCLASSES];  /* entries per class */
	uint32_t cbase[NCLASSES]; /* first entry of each class */
	uint32_t entries;	/* entries in all */
	uint32_t refill;	/* small objects a refill takes */
	struct sma *reg_next;	/* the process's list of open handles */
};

/* ---- offsets and addresses ------------------------------------------------
 * The only place that turns an offset into an address and back. */
static inline void *at(const struct sma *a, uint64_t off)
{
	DASSERT(off < a->size);
	return a->base + off;
}
static inline uint64_t off_of(const struct sma *a, const void *p)
{
	return (uint64_t)((const char *)p - a->base);
}

/* ---- heap block helpers ---------------------------------------------------- */

static inline _Atomic uint64_t *bhdr(const struct sma *a, uint64_t b)
{
	return (_Atomic uint64_t *)at(a, b + 8);
}
static inline uint64_t *bprev(const struct sma *a, uint64_t b)
{
	return (uint64_t *)at(a, b);
}
static inline uint64_t btag(uint64_t b)
{
	return (((b >> 4) * 0x9E3779B97F4A7C15ull) >> 50) << B_TAG_SHIFT;
}
static inline uint64_t hw_size(uint64_t w) { return w & B_SIZE_MASK; }
static inline unsigned hw_kind(uint64_t w) { return (unsigned)((w & B_KIND_MASK) >> B_KIND_SHIFT); }
static inline uint64_t hw_make(uint64_t b, uint64_t size, unsigned kind, uint64_t flags)
{
	return btag(b) | ((uint64_t)kind << B_KIND_SHIFT) | size | flags;
}
static inline uint64_t hw_load(const struct sma *a, uint64_t b)
{
	return atomic_load_explicit(bhdr(a, b), memory_order_acquire);
}
static inline int hw_tag_ok(uint64_t b, uint64_t w)
{
	return (w & B_TAG_MASK) == btag(b);
}

/* The most blocks the heap can hold: a bound for any loop over blocks or
 * lists, whatever a scribbled counter says. */
static inline uint64_t max_blocks(const struct sma *a)
{
	return (a->h->heap_end - a->h->heap_off) / MIN_BLOCK + 1;
}

/* 1 if [off, off + len) lies in the heap (no sum that could wrap). */
static inline int in_heap(const struct sma *a, uint64_t off, uint64_t len)
{
	const struct sma_header *h = a->h;
	return off >= h->heap_off && off <= h->heap_end && len <= h->heap_end - off;
}

static inline uint32_t *pmap(const struct sma *a)
{
	return (uint32_t *)at(a, a->h->pmap_off);
}

/* ---- size classes ------------------------------------------------------------ */

HIDDEN extern const uint32_t sma__class_size[NCLASSES];

/* G2: the geometry in the header fits the segment (internal.h so that the
 * open and the checker use the same test). */
static inline int geometry_ok(const struct sma *a)
{
	const struct sma_header *h = a->h;
	/* Each offset inside the segment first, so that no sum below wraps. */
	if (h->slots_off >= a->size || h->pmap_off >= a->size || h->buckets_off >= a->size ||
	    h->heap_off >= a->size || h->heap_end >= a->size || h->npages > a->size)
		return 0;
	return h->size == a->size && h->npages == h->size / PAGE && h->nslots <= 4096 &&
	       h->nbuckets && h->nbuckets <= (1u << 20) && !(h->nbuckets & (h->nbuckets - 1)) &&
	       h->slots_off >= HDR_BYTES && !(h->slots_off & 15) &&
	       h->pmap_off >= h->slots_off + (uint64_t)h->nslots * SLOT_BYTES && !(h->pmap_off & 3) &&
	       h->buckets_off >= h->pmap_off + h->npages * 4 && !(h->buckets_off & 7) &&
	       h->heap_off >= h->buckets_off + (uint64_t)h->nbuckets * 8 && !(h->heap_off & 15) &&
	       h->heap_off + MIN_BLOCK < h->heap_end && h->heap_end + 16 == h->size &&
	       h->heap_size < h->size &&
	       h->cache_bytes == CACHE_HDR_BYTES + 8ull * a->entries;
}

static inline unsigned msb64(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* The smallest class whose size is at least n (n <= CACHE_MAX). */
static inline unsigned size_class(size_t n)
{
	if (n <= SMALL_MAX)
		return n ? (unsigned)((n + 15) >> 4) - 1 : 0;
	unsigned d = msb64(n - 1) - 8;
	uint64_t base = (uint64_t)256 << d, step = (uint64_t)32 << d;
	return NSMALL + d * 8 + (unsigned)((n - base + step - 1) / step) - 1;
}
/* A cache entry: the object's offset, and for a medium class its usable
 * size in the top bits (so that a fitting block is chosen without reading
 * its header). */
#define ENTRY_SHIFT OFF_SEG_SHIFT
static inline uint64_t entry_off(uint64_t e) { return e & OFF_MASK; }
static inline uint64_t entry_usable(uint64_t e) { return e >> ENTRY_SHIFT; }
static inline uint64_t entry_make(uint64_t off, uint64_t usable) { return off | usable << ENTRY_SHIFT; }

/* ---- module interfaces -------------------------------------------------- */

/* util.c */
HIDDEN pid_t sma__gettid(void);
HIDDEN uint64_t sma__proc_start(pid_t pid);	/* 0 if gone */
HIDDEN uint64_t sma__self_start(void);
HIDDEN int sma__proc_alive(pid_t pid, uint64_t start);
HIDDEN pid_t sma__getpid(void);			/* cached, fork-safe */
HIDDEN extern _Atomic uint32_t sma__fork_gen;
HIDDEN void sma__init_once(void);

/* crash points: in the crash-test build, the Nth step _exits */
#ifdef SMA_CRASH_POINTS
HIDDEN void sma__step(void);
void sma__crash_after(long n);	/* the nth step from now _exits (status 77) */
long sma__crash_steps(void);	/* steps since sma__crash_after */
#define STEP() sma__step()
#else
#define STEP() ((void)0)
#endif

/* lock.c */
HIDDEN int sma__lock(struct sma *a);		 /* 0, or -1 with errno */
HIDDEN void sma__unlock(struct sma *a);
HIDDEN int sma__lock_held(const struct sma *a);
HIDDEN void sma__op_begin(struct sma *a, uint32_t op, uint64_t arg, uint64_t ctr);
HIDDEN void sma__op_end(struct sma *a);
HIDDEN void sma__repair_locked(struct sma *a);

/* heap.c */
HIDDEN void sma__heap_init(struct sma *a);
HIDDEN uint64_t sma__heap_alloc_locked(struct sma *a, uint64_t usable, uint64_t align, unsigned kind);
HIDDEN void sma__heap_free_locked(struct sma *a, uint64_t b);
HIDDEN int sma__heap_resize_locked(struct sma *a, uint64_t b, uint64_t usable);
HIDDEN uint64_t sma__heap_block_of(const struct sma *a, uint64_t off); /* block or 0 */
HIDDEN uint64_t sma__heap_largest_locked(const struct sma *a);
HIDDEN int sma__heap_rebuild_locked(struct sma *a);

/* slab.c */
HIDDEN void sma__slab_init(void);
HIDDEN uint64_t sma__slab_alloc_locked(struct sma *a, unsigned cls);
HIDDEN void sma__slab_put_locked(struct sma *a, struct slab *s, unsigned idx);
HIDDEN unsigned sma__slab_take_locked(struct sma *a, unsigned cls, uint64_t *out, unsigned n, struct slot *log,
				      uint32_t owner);
HIDDEN void sma__slabs_disown_locked(struct sma *a, uint32_t owner);
HIDDEN uint64_t *sma__own_heads(const struct sma *a, uint32_t owner);
HIDDEN int sma__slab_rebuild_locked(struct sma *a, struct slab *s, uint64_t slab_off);
HIDDEN void sma__slabs_release_empty_locked(struct sma *a);
HIDDEN void sma__slabs_forget_owners_locked(struct sma *a);
HIDDEN extern uint64_t sma__slab_inv[NSMALL];
/* The index of the object d bytes past the first of a slab of class cls. */
static inline unsigned sma__slab_index(unsigned cls, uint64_t d)
{
	return (unsigned)((d * sma__slab_inv[cls]) >> 32);
}
HIDDEN extern uint16_t sma__slab_nobj[NSMALL];
HIDDEN extern const uint32_t sma__class_size[NCLASSES];

/* The slab holding the object at off, with its index, or NULL if off is
 * not the start of an object slot of a valid slab. */
static inline struct slab *sma__slab_of(const struct sma *a, uint64_t off, unsigned *idx)
{
	const struct sma_header *h = a->h;
	uint64_t pg = off >> PAGE_SHIFT;
	if (off >= h->heap_end || pg >= h->npages)
		return NULL;
	uint32_t e = pmap(a)[pg];
	if (!(e & PM_SLAB))
		return NULL;
	uint64_t p = (uint64_t)(e & PM_VAL) << PAGE_SHIFT;
	if (p < h->heap_off + 16 || p + SLAB_SIZE > h->heap_end || off < p + SLAB_HDR)
		return NULL;
	struct slab *s = (struct slab *)at(a, p);
	unsigned cls = s->cls;
	if (cls >= NSMALL || s->magic != (SLAB_MAGIC | cls) || s->nobj != sma__slab_nobj[cls])
		return NULL;
	uint64_t d = off - p - SLAB_HDR;
	unsigned i = (unsigned)((d * sma__slab_inv[cls]) >> 32);
	if ((uint64_t)i * sma__class_size[cls] != d || i >= s->nobj)
		return NULL;
	*idx = i;
	return s;
}

/* cache.c */
/* Where an object's live flag is: a slab's bitmap word, or a block's
 * header word, and the bit in it. */
struct live_ref {
	_Atomic uint64_t *word;
	uint64_t bit;
};

HIDDEN void sma__cache_flush_self(struct sma *a);
HIDDEN void sma__slots_release_process(struct sma *a);
HIDDEN void sma__slot_recover_locked(struct sma *a, struct slot *s);
HIDDEN unsigned sma__reclaim_dead_locked(struct sma *a);
HIDDEN struct slot *sma__slot(const struct sma *a, unsigned i);
HIDDEN int sma__cache_tables(struct sma *a, uint64_t small_cap);
HIDDEN void sma__tls_forget(struct sma *a);
HIDDEN void sma__tls_after_fork(void);
HIDDEN uint64_t sma__slot_cached_bytes(const struct sma *a, const struct slot *s);

/* alloc.c */
HIDDEN int sma__object_live(const struct sma *a, uint64_t off, uint64_t *usable, unsigned *kind);
HIDDEN int sma__free_object_locked(struct sma *a, uint64_t off);

/* named.c */
HIDDEN int sma__named_check(struct sma *a, int (*report)(void *, const char *, ...), void *rarg);
HIDDEN unsigned sma__orphans_sweep_locked(struct sma *a);
HIDDEN int sma__named_unlinked(struct sma *a, uint64_t obj);

/* segment.c */
HIDDEN struct sma *sma__registry_find(uint64_t hid);
HIDDEN void sma__peek_detach(const struct sma_header *h, int shmid);
HIDDEN extern pthread_mutex_t sma__registry_lock;
HIDDEN extern struct sma *sma__registry;

#endif /* SMA_INTERNAL_H */
