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
#define SMA_LAYOUT 4u

#define PAGE 4096u	/* granule of the page map and of slabs */
#define PAGE_SHIFT 12
#define ALIGN 16u	/* alignment of every object */

#define MAX_SLOTS 256	/* slots of the largest arenas */
#define MAX_BUCKETS 65536u /* buckets of the name index, at most */

#define OFF_SEG_SHIFT 40 /* sma_off_t: segment << 40 | byte offset */
#define OFF_MASK ((UINT64_C(1) << OFF_SEG_SHIFT) - 1)

/* Words read by other threads (or processes) without the lock: relaxed
 * atomic accesses, which cost what plain ones do. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define LOAD_ACQ(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE_REL(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
/* x += v by the one writer of x */
#define BUMP(x, v) STORE(x, LOAD(x) + (v))

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
 * cache.  Its in-flight record and cache are written only by that thread
 * (or, once the thread is gone, by the holder of the arena lock).  Its
 * counters add up over every thread that ever held it: they are never
 * folded into the header, so giving a slot back has no counter to move.
 *
 * Liveness (C1): the owner raised semaphore 1 + index of the arena's set
 * with SEM_UNDO when it took the slot, in set generation set_gen; the
 * kernel lowers it when the process exits, before it is a zombie and
 * whatever its PID namespace.  A slot whose token is 0 in the current
 * set is dead (proc.c, sem.c).
 */
enum { SLOT_FREE = 0, SLOT_HELD = 1 };
enum { INF_NONE = 0, INF_POP = 1, INF_PUSH = 2 };
enum { SOP_NONE = 0, SOP_REFILL = 1, SOP_FLUSH = 2 };
struct slot {
	_Atomic uint32_t state; /* SLOT_FREE or SLOT_HELD */
	uint32_t gen;		/* odd while the slot is being taken or given
				   back; a reader without the lock that sees
				   it change (or odd) looks again */
	int32_t pid;		/* owner process, as its own namespace numbers it */
	int32_t tid;		/* owner thread, likewise */
	uint64_t owner_id;	/* random identity of the owner process */
	uint64_t start;		/* its start time (clock ticks since boot) */
	uint64_t pidns;		/* inode of its PID namespace, 0 = unknown */
	uint32_t set_gen;	/* semaphore-set generation of its token */
	uint32_t pad0;
	uint64_t cache;		/* offset of its cache block, 0 = none */
	uint64_t hid;		/* which handle of the process took it */
	/* What the thread is moving between its cache and a user, lock
	 * free: the object's whole offset with INF_POP or INF_PUSH in its
	 * low bits (objects are 16-byte aligned), 0 = nothing.  The class is
	 * the object's own (its slab's, or its usable size's). */
	_Atomic uint64_t inf;
	uint64_t inf_ctr;	/* allocs (pop) or frees (push) before the move */
	uint64_t inf_used;	/* used before the move */
	/* Counters of what threads did through this slot's cache. */
	uint64_t allocs;	/* objects handed out */
	uint64_t frees;		/* objects taken back */
	uint64_t used;		/* bytes handed out less bytes taken back (mod 2^64) */
	uint64_t cached_bytes;	/* bytes of the medium blocks its cache
				   holds (derived: the entries say) */
	/* A locked operation on the cache in flight (refill or flush). */
	uint32_t op;		/* SOP_* */
	uint32_t op_cls;	/* class */
	uint64_t op_a;		/* refill: slab; flush: count before */
	uint64_t op_b;		/* refill: word index << 32 | count before; flush: n */
	uint64_t op_c;		/* refill: mask of the slots taken */
	/* Heads of the lists of the owner's slabs with free slots, per
	 * small class (slab.c S3; derived: a rebuild clears them). */
	uint64_t own[NSMALL];
	/* Allocations asked per class through this slot, ever. */
	uint64_t req[NCLASSES];
};
#define SLOT_BYTES 1024u
_Static_assert(sizeof(struct slot) <= SLOT_BYTES, "slot fits");
#define INF_OFF(v) ((v) & ~(uint64_t)15)
#define INF_KIND(v) ((unsigned)((v) & 15))

/* The cache block of a slot (cache.c) is a heap block of kind
 * KIND_INTERNAL: the count of each class, then the cached entries, class
 * cls at a->cbase[cls], a->ccap[cls] of them. */
struct cache_block {
	uint32_t count[NCLASSES];	/* objects cached per class */
	uint64_t entry[];		  /* cached entries (entry_make) */
};
#define CACHE_HDR_BYTES (4u * NCLASSES)
_Static_assert(sizeof(struct cache_block) == CACHE_HDR_BYTES, "cache block header");

/* The arena's System V semaphore set (sem.c): semaphore 0 holds SEM_MARK,
 * by which `sma ls` knows a set as sma's; semaphore 1 + i is the liveness
 * token of slot i. */
#define SEM_MARK 1453
#define SEM_TOKEN(i) ((unsigned short)(1 + (i)))

/* ---- the header -------------------------------------------------------- */

enum { INIT_NONE = 0, INIT_BUSY = 1, INIT_READY = 2 };

/*
 * The operation a lock holder is in, for the next holder to finish or undo
 * (lock.c writes it, repair.c reads it).  Each kind says which fields of
 * struct op_record it uses.
 */
enum {
	LOP_NONE = 0,
	LOP_ALLOC,	/* obj: the object once chosen (0 before) */
	LOP_FREE,	/* obj, usable: the object being freed */
	LOP_RESIZE,	/* obj: the object; usable: its size before */
	LOP_NAMED,	/* obj: the named object once published */
	LOP_NAMED_FREE,	/* obj, usable: the named object being freed */
	LOP_SLOT,	/* slot: a slot being taken, refilled, flushed, given
			   back or reclaimed (the slot keeps its own log);
			   block: its cache block once being given back */
	LOP_RECOVER,	/* a recovery of the whole arena */
};

struct op_record {
	uint32_t kind;		   /* LOP_*, LOP_NONE = nothing in flight */
	uint32_t slot;		   /* LOP_SLOT: the slot's index + 1 */
	uint64_t obj;		   /* the object, see above */
	uint64_t usable;	   /* its usable size, see above */
	uint64_t allocs;	   /* the header's allocs when the operation began */
	uint64_t frees;		   /* its frees then */
	uint64_t used;		   /* its used then */
	uint64_t named;		   /* its named then */
	uint64_t block;		   /* LOP_SLOT: the cache block being given back */
};

struct sma_header {
	/* identity: written first by the creator, checked by every open */
	_Atomic uint64_t magic;	   /* SMA_MAGIC once the creator marked it */
	uint32_t layout;	   /* SMA_LAYOUT */
	_Atomic uint32_t init;	   /* INIT_* */
	/* Held by whoever initialises the segment: a robust, process-shared
	 * mutex, so that an initialiser's death is known (segment.c). */
	pthread_mutex_t init_lock;
	int32_t init_pid;	   /* process that initialised it (shown) */
	uint32_t ptr_bits;	   /* 64 */
	uint64_t arena_id;	   /* random, names this arena in the process */
	uint64_t size;		   /* bytes of the segment */
	uint64_t path_dev;	   /* device of the ftok path, 0 = none */
	uint64_t path_ino;	   /* inode of the ftok path, 0 = none */
	int32_t key;		   /* System V key, 0 = IPC_PRIVATE */
	int32_t semid;		   /* the semaphore set (sem.c) */
	uint32_t set_gen;	   /* bumped each time the set is replaced */
	uint32_t sets_replaced;	   /* sets made after the first was removed */
	uint32_t mode;		   /* permission bits of the segment and set */
	uint32_t nsems;		   /* semaphores in the set */
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

	/* the arena lock (lock.c): a robust, process-shared mutex; the
	 * kernel releases it, marked, when its holder dies */
	uint8_t pad0[64];
	pthread_mutex_t lock;
	int32_t lock_pid;	   /* holder's pid (its namespace's), 0 = none */
	int32_t lock_tid;	   /* holder's thread */
	struct op_record op;	   /* the operation in flight */
	uint64_t lock_ops;	   /* lock acquisitions since creation */
	uint64_t lock_waits;	   /* of which had to wait for a holder */
	uint64_t sem_ops;	   /* operations on the semaphore set */
	uint64_t repairs;	   /* dead holders' operations repaired */
	uint8_t pad1[64];

	/* counters kept under the lock (slots add theirs) */
	uint64_t allocs;	   /* objects created outside thread caches */
	uint64_t frees;		   /* objects released outside thread caches */
	uint64_t used;		   /* their bytes (mod 2^64) */
	uint64_t heap_free_bytes;  /* bytes of free heap blocks (derived) */
	uint64_t heap_free_blocks; /* free heap blocks (derived) */
	uint64_t named;		   /* named objects */
	/* Even when the name index is still; odd while a writer changes it
	 * (named.c): readers without the lock look again when it moved. */
	uint64_t names_seq;

	/* the heap's free lists (derived from the blocks) */
	uint64_t fl_bitmap;
	uint32_t sl_bitmap[FL_COUNT];
	uint64_t heads[FL_COUNT][SL_COUNT];

	struct class_state cls[NCLASSES];
};
_Static_assert(sizeof(pthread_mutex_t) == 40, "the glibc layout of pthread_mutex_t");

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
	uint64_t arena_id;	/* header.arena_id, read at open */
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

static inline _Atomic uint32_t *pmap(const struct sma *a)
{
	return (_Atomic uint32_t *)at(a, a->h->pmap_off);
}
static inline uint32_t pm_load(const struct sma *a, uint64_t pg)
{
	return atomic_load_explicit(&pmap(a)[pg], memory_order_acquire);
}
static inline void pm_store(struct sma *a, uint64_t pg, uint32_t v)
{
	atomic_store_explicit(&pmap(a)[pg], v, memory_order_release);
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
	return h->size == a->size && h->npages == h->size / PAGE && h->nslots <= MAX_SLOTS && h->nslots >= 1 &&
	       h->nbuckets && h->nbuckets <= MAX_BUCKETS && !(h->nbuckets & (h->nbuckets - 1)) &&
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

/* proc.c: facts about this process and others */
HIDDEN pid_t sma__gettid(void);
HIDDEN pid_t sma__getpid(void);			/* cached, fork-safe */
HIDDEN uint64_t sma__self_id(void);		/* random, new in a fork child */
HIDDEN uint64_t sma__self_start(void);
HIDDEN uint64_t sma__self_pidns(void);		/* 0 if unknown */
struct task_stat {
	char state;	 /* field 3 of /proc/PID/stat: R, S, D, Z, X, ... */
	uint64_t start;	 /* field 22: start time in clock ticks since boot */
};
/* The stat line of thread tid of process pid (tid 0: the process); 0, or
 * -1 with errno (ENOENT: no such task visible here). */
HIDDEN int sma__task_stat(pid_t pid, pid_t tid, struct task_stat *ts);
/* 1 when process pid (started at start, 0 = any) has exited, a zombie
 * included, or its pid names another process now; 0 when it may run. */
HIDDEN int sma__proc_gone(pid_t pid, uint64_t start);
/* 1 when process pid started after time t (seconds since the epoch). */
HIDDEN int sma__proc_started_after(pid_t pid, int64_t t);
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

/* lock.c: the arena lock and the record of the operation in flight */
HIDDEN int sma__lock(struct sma *a);		 /* 0, or -1 with errno */
HIDDEN int sma__lock_within(struct sma *a, int seconds); /* 0, or -1 (ETIMEDOUT) */
HIDDEN int sma__lock_look(struct sma *a);	 /* for a look: not in lock_ops */
/* pthread_mutex_lock of a robust mutex, waking now and then (lock.c). */
HIDDEN int sma__mutex_lock_sliced(pthread_mutex_t *m);
HIDDEN void sma__unlock(struct sma *a);
HIDDEN int sma__lock_held(const struct sma *a);
/* 1 when the lock word says its holder died and nobody has repaired yet
 * (readable on a read-only handle and an image). */
HIDDEN int sma__lock_holder_died(const struct sma *a);
/* The function the next holder runs when the previous one died. */
HIDDEN void sma__lock_on_death(void (*repair)(struct sma *a));
HIDDEN void sma__lock_after_fork(void);
HIDDEN void sma__op_begin(struct sma *a, uint32_t kind);
HIDDEN void sma__op_object(struct sma *a, uint64_t obj, uint64_t usable);
HIDDEN void sma__op_slot(struct sma *a, unsigned slot);
HIDDEN void sma__op_block(struct sma *a, uint64_t block);
HIDDEN void sma__op_end(struct sma *a);

/* sem.c: the semaphore set and the slots' liveness tokens */
enum { LIVE_FREE = 0, LIVE_ALIVE = 1, LIVE_DEAD = 2 };
HIDDEN int sma__sem_create(key_t key, mode_t mode, unsigned nsems);
HIDDEN int sma__token_raise_locked(struct sma *a, unsigned i);
HIDDEN void sma__token_drop_locked(struct sma *a, unsigned i);
HIDDEN int sma__slot_liveness(struct sma *a, unsigned i);
HIDDEN void sma__sem_follow(struct sma *a);
HIDDEN int sma__sem_gone(struct sma *a);
HIDDEN void sma__sem_heal_locked(struct sma *a);
HIDDEN void sma__sem_check_locked(struct sma *a);

/* heap.c */
HIDDEN void sma__heap_init(struct sma *a);
HIDDEN uint64_t sma__heap_alloc_locked(struct sma *a, uint64_t usable, uint64_t align, unsigned kind);
HIDDEN void sma__heap_free_locked(struct sma *a, uint64_t b);
HIDDEN int sma__heap_resize_locked(struct sma *a, uint64_t b, uint64_t usable);
HIDDEN uint64_t sma__heap_block_of(const struct sma *a, uint64_t off); /* block or 0 */
HIDDEN uint64_t sma__heap_largest_locked(const struct sma *a);
/* Rebuilds the heap's derived state by one walk; visit is called for each
 * block of kind KIND_SLAB (its payload offset) and returns -1 if the slab
 * is broken.  0, or -1 if the blocks are broken. */
HIDDEN int sma__heap_rebuild_locked(struct sma *a, int (*visit_slab)(struct sma *a, uint64_t p));

/* slab.c */
HIDDEN void sma__slab_init(void);
HIDDEN uint64_t sma__slab_alloc_locked(struct sma *a, unsigned cls);
HIDDEN void sma__slab_put_locked(struct sma *a, struct slab *s, unsigned idx);
HIDDEN unsigned sma__slab_take_locked(struct sma *a, unsigned cls, uint64_t *out, unsigned n, struct slot *log,
				      uint32_t owner);
HIDDEN void sma__slabs_disown_locked(struct sma *a, uint32_t owner);
HIDDEN void sma__slabs_reset_locked(struct sma *a);
HIDDEN int sma__slab_rebuild_locked(struct sma *a, uint64_t slab_off);
HIDDEN void sma__slabs_release_empty_locked(struct sma *a);
HIDDEN extern uint64_t sma__slab_inv[NSMALL];
/* The index of the object d bytes past the first of a slab of class cls. */
static inline unsigned sma__slab_index(unsigned cls, uint64_t d)
{
	return (unsigned)((d * sma__slab_inv[cls]) >> 32);
}
HIDDEN extern uint16_t sma__slab_nobj[NSMALL];

/* The slab holding the object at off, with its index, or NULL if off is
 * not the start of an object slot of a valid slab. */
static inline struct slab *sma__slab_of(const struct sma *a, uint64_t off, unsigned *idx)
{
	const struct sma_header *h = a->h;
	uint64_t pg = off >> PAGE_SHIFT;
	if (off >= h->heap_end || pg >= h->npages)
		return NULL;
	uint32_t e = pm_load(a, pg);
	if (!(e & PM_SLAB))
		return NULL;
	uint64_t p = (uint64_t)(e & PM_VAL) << PAGE_SHIFT;
	if (p < h->heap_off + 16 || p + SLAB_SIZE > h->heap_end || off < p + SLAB_HDR)
		return NULL;
	struct slab *s = (struct slab *)at(a, p);
	unsigned cls = LOAD(s->cls);
	if (cls >= NSMALL || LOAD(s->magic) != (SLAB_MAGIC | cls) || LOAD(s->nobj) != sma__slab_nobj[cls])
		return NULL;
	uint64_t d = off - p - SLAB_HDR;
	unsigned i = (unsigned)((d * sma__slab_inv[cls]) >> 32);
	if ((uint64_t)i * sma__class_size[cls] != d || i >= sma__slab_nobj[cls])
		return NULL;
	*idx = i;
	return s;
}

/* cache.c: the slot table and the per-thread caches */
/* Where an object's live flag is: a slab's bitmap word, or a block's
 * header word, and the bit in it. */
struct live_ref {
	_Atomic uint64_t *word;
	uint64_t bit;
};

HIDDEN void sma__cache_flush_self(struct sma *a);
HIDDEN void sma__cache_release_self_locked(struct sma *a);
HIDDEN void sma__slots_release_process(struct sma *a);
HIDDEN int sma__cache_tables(struct sma *a, uint64_t small_cap);
HIDDEN void sma__tls_forget(struct sma *a);
HIDDEN void sma__tls_after_fork(void);
HIDDEN struct cache_block *sma__cache_of(const struct sma *a, const struct slot *s);
HIDDEN void sma__give_back_locked(struct sma *a, uint64_t off, unsigned cls);
HIDDEN uint64_t sma__slot_cached_bytes(const struct sma *a, const struct slot *s);

static inline struct slot *sma__slot(const struct sma *a, unsigned i)
{
	return (struct slot *)at(a, a->h->slots_off + (uint64_t)i * SLOT_BYTES);
}
static inline unsigned sma__slot_index(const struct sma *a, const struct slot *s)
{
	return (unsigned)(((const char *)s - (const char *)sma__slot(a, 0)) / SLOT_BYTES);
}

/* The object a slot's in-flight record names, and what settling it
 * does (repair.c; the checker applies it to its picture, the recovery to
 * the slot). */
struct settle {
	uint64_t obj;	    /* the object in flight, 0 = none */
	unsigned cls;	    /* its class */
	int to_cache;	    /* it goes (back) on top of its class's list */
	uint64_t entry;	    /* the entry that puts it there */
	uint64_t d_allocs;  /* counts to add to the slot's */
	uint64_t d_frees;
	uint64_t d_used;    /* (mod 2^64) */
};
HIDDEN void sma__settle_inflight(const struct sma *a, const struct slot *s, const struct cache_block *c,
				 struct settle *out);

/* alloc.c (object layer) */
HIDDEN int sma__object_live(const struct sma *a, uint64_t off, uint64_t *usable, unsigned *kind);
HIDDEN int sma__free_object_locked(struct sma *a, uint64_t off);
HIDDEN uint64_t sma__object_class(const struct sma *a, uint64_t off);
HIDDEN void sma__make_room_locked(struct sma *a);

/* named.c */
HIDDEN int sma__named_check(struct sma *a, int (*report)(void *, const char *, ...), void *rarg);
HIDDEN unsigned sma__orphans_sweep_locked(struct sma *a);
HIDDEN int sma__named_unlinked(struct sma *a, uint64_t obj);

/* repair.c */
HIDDEN void sma__repair_init(void);
HIDDEN void sma__slot_recover_locked(struct sma *a, unsigned i);
HIDDEN unsigned sma__reclaim_dead_locked(struct sma *a);
HIDDEN void sma__repair_locked(struct sma *a);

/* segment.c */
HIDDEN struct sma *sma__registry_find(uint64_t hid);
HIDDEN void sma__peek_detach(const struct sma_header *h, int shmid);
HIDDEN struct sma *sma__image_of(const struct sma *a);
HIDDEN void sma__image_free(struct sma *a);
HIDDEN extern pthread_mutex_t sma__registry_lock;
HIDDEN extern struct sma *sma__registry;

#endif /* SMA_INTERNAL_H */
