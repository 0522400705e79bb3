/*
 * 0_layout.h -- the layout of an sma segment, and the arithmetic on it
 * that every floor shares.
 *
 * The segment, at any address in any process:
 *
 *   0          HDR_BYTES  slots_off       pmap_off        buckets_off  heap_off                 size
 *   +----------+----------+---------------+---------------+------------+------------ ... -------+
 *   | header   | (pad)    | slot table    | page map      | name index | heap: blocks, slabs    |
 *   | magic,   |          | nslots x 1 KiB| u32 per page  | u64/bucket | (2_heap.c, 2_slab.c)   |
 *   | lock,    |          | (3_cache.c)   | (2_heap.c)    | (3_names.c)|                        |
 *   | counters |          |               |               |            |                        |
 *   +----------+----------+---------------+---------------+------------+------------ ... -------+
 *
 * Every field in the segment is a fixed-width integer; references are byte
 * offsets from the start of the segment, 0 meaning none (offset 0 is the
 * header, so no object has it).  The arena lock and the init lock are the
 * exception: robust pthread mutexes (1_lock.c, 5_open.c).
 *
 * The files of src/ stand on floors, each using only those below it (the
 * number in a file's name is its floor):
 *   0  the layout (this file; 0_layout.c attaches added segments),
 *      0_base.h, the facts of processes (0_proc.c), the crash points of
 *      the test build (0_crash.c)
 *   1  the arena lock and its records (1_lock.c), adding segments
 *      (1_segs.c), the semaphore set and the liveness tokens (1_sem.c)
 *   2  the structures: the heap (2_heap.c), slabs (2_slab.c), the object
 *      layer (2_object.c)
 *   3  the caches (3_cache.c, 3_cache_fast.h), the handle registry
 *      (3_registry.c), the name index (3_names.c)
 *   4  repair: what the living do for the dead (4_repair.c, 4_sweep.c); it
 *      registers itself with the lock and the caches, which never call up
 *   5  the public calls: opening (5_open.c), allocation (5_alloc.c), named
 *      objects (5_named.c), growth (5_grow.c), figures (5_stats.c), the
 *      walk (5_walk.c), the checker (5_check.c, 5_check_caches.c,
 *      5_problems.c), sma_ls (5_ls.c), the mutex (5_mutex.c), the set-up
 *      of the library (5_init.c)
 *
 * Every change to this file's shared structures bumps SMA_LAYOUT.
 */
#ifndef SMA_LAYOUT_H
#define SMA_LAYOUT_H

#include "0_base.h"

#define SMA_MAGIC 0x31414d5320414d53ULL /* "SMA SMA1" */
#define SMA_LAYOUT 6u

#define PAGE 4096u	/* granule of the page map and of slabs */
#define PAGE_SHIFT 12
#define ALIGN 16u	/* alignment of every object */

/* The smallest heap, and the smallest segment, that make an arena. */
#define MIN_HEAP (64u * 1024)
#define MIN_SEGMENT (HDR_BYTES + MIN_HEAP)
#define MAX_SLOTS 256	/* slots of the largest arenas */
#define MAX_BUCKETS 65536u /* buckets of the name index, at most */

/* sma_off_t: segment << OFF_SEG_SHIFT | byte offset in the segment.  A
 * whole offset takes OFF_BITS bits; every packed word of the segment that
 * holds an offset (cache entries, the in-flight record) keeps all of them. */
#define OFF_SEG_SHIFT 40
#define OFF_SEG_BITS 12 /* up to 4096 segments (shmmni's default) */
#define OFF_BITS (OFF_SEG_SHIFT + OFF_SEG_BITS)
#define OFF_MASK ((UINT64_C(1) << OFF_SEG_SHIFT) - 1)

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

/* ---- the page map (2_heap.c) ----------------------------------------------
 * One u32 per page of the segment:
 *   0                       no block starts in this page
 *   PM_SLAB | page index    the page belongs to the slab starting at that page
 *   PM_FIRST | pos          the first block starting in this page starts at
 *                           page start + pos * 16
 */
#define PM_SLAB 0x80000000u
#define PM_FIRST 0x40000000u
#define PM_VAL 0x3fffffffu

/* ---- heap blocks (2_heap.c) -------------------------------------------------
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
#define BLOCK_HDR 16u	  /* from a block to its object */

/* TLSF geometry: 16 second-level lists per power of two from 256 bytes. */
#define SL_LOG2 4
#define SL_COUNT (1u << SL_LOG2)
#define SL_MASK ((1u << SL_COUNT) - 1)
#define FL_SHIFT (SL_LOG2 + 4) /* 256: below it, one list per 16 bytes */
#define FL_MAX 44
#define FL_COUNT (FL_MAX - FL_SHIFT + 1)

/* ---- slabs (2_slab.c) ---------------------------------------------------------
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
	/* The live bits share the first cache line with the fields every
	 * free reads (magic, cls, nobj): for classes of 32 bytes and more
	 * (at most 256 objects) a free touches one line of the header. */
	_Atomic uint64_t live[SLAB_WORDS]; /* 1 = slot handed to a user */
	uint64_t free[SLAB_WORDS];  /* 1 = slot free in the slab */
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

/* ---- the slot table (3_cache.c) --------------------------------------------
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
 * set is dead (0_proc.c, 1_sem.c).
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
	 * small class (2_slab.c S3; derived: a rebuild clears them). */
	uint64_t own[NSMALL];
	/* Allocations asked per class through this slot, ever. */
	uint64_t req[NCLASSES];
};
#define SLOT_BYTES 1024u
_Static_assert(sizeof(struct slot) <= SLOT_BYTES, "slot fits");
#define INF_OFF(v) ((v) & ~(uint64_t)15)
#define INF_KIND(v) ((unsigned)((v) & 15))

/* The cache block of a slot (3_cache.c) is a heap block of kind
 * KIND_INTERNAL: the count of each class, then the cached entries, class
 * cls at a->cbase[cls], a->ccap[cls] of them. */
struct cache_block {
	uint32_t count[NCLASSES];	/* objects cached per class */
	uint64_t entry[];		  /* cached entries (entry_make) */
};
#define CACHE_HDR_BYTES (4u * NCLASSES)
_Static_assert(sizeof(struct cache_block) == CACHE_HDR_BYTES, "cache block header");

/* The arena's System V semaphore set (1_sem.c): semaphore 0 holds SEM_MARK,
 * by which `sma ls` knows a set as sma's; semaphore 1 + i is the liveness
 * token of slot i. */
#define SEM_MARK 1453
#define SEM_TOKEN(i) ((unsigned short)(1 + (i)))

/* ---- the header -------------------------------------------------------- */

enum { INIT_NONE = 0, INIT_BUSY = 1, INIT_READY = 2 };

/*
 * The operation a lock holder is in, for the next holder to finish or undo
 * (1_lock.c writes it, 4_repair.c reads it).  Each kind says which fields of
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

/* ---- segments ----------------------------------------------------------------
 *
 * An arena is its first segment (the one with this header) and the
 * segments added as it grows (API.md, Growing): System V IPC_PRIVATE
 * segments, each opening with a seg_header and its page map, then its
 * heap of blocks (blocks never span two segments; each segment's heap ends
 * in its own sentinel).  An offset's top bits are its segment's index.
 *
 *   added segment k
 *   +------------+------------------+---------------------------- ... --+
 *   | seg_header | page map (u32/pg)| heap: blocks, slabs, sentinel     |
 *   +------------+------------------+---------------------------- ... --+
 *
 * Invariants:
 *   S1  segs[0] names this segment; for 0 < k < nsegs segs[k] names a
 *       segment whose seg_header carries SEG_MAGIC, arena_id and index k.
 *   S2  total_size is the sum of the published segments' sizes.
 *   S3  no segment made for the arena is unknown to it: a segment being
 *       added is named by the grow record from before shmget until it is
 *       published or removed.
 */
#define MAX_SEGS 64u
#define SEG_MAGIC 0x7365672d616d73ull /* "sma-ges" */
#define SEG_HDR_BYTES 64u
struct seg_header {
	uint64_t magic;		/* SEG_MAGIC */
	uint64_t arena_id;	/* the arena's header.arena_id */
	uint32_t index;		/* k */
	uint32_t pad;
	uint64_t size;		/* bytes of the segment */
};
struct seg_rec {
	int32_t shmid;		/* the segment, -1 = none */
	uint32_t npages;	/* its pages */
	uint64_t size;		/* its bytes */
	uint64_t pmap_off;	/* its page map (a whole offset) */
	uint64_t heap_off;	/* its first block (a whole offset) */
	uint64_t heap_end;	/* its sentinel (a whole offset) */
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

/* A segment being added (1_lock.c writes it, beside the operation record,
 * since growth happens inside other operations): from before shmget until
 * the segment is published (header.nsegs > seg) or removed. */
struct grow_record {
	uint32_t active;	   /* 1 while a segment is being added */
	uint32_t seg;		   /* its index */
	int32_t shmid;		   /* its id once shmget returned, -1 before */
	int32_t pid;		   /* the holder (its namespace's pid) */
	uint64_t size;		   /* its bytes */
	int64_t time;		   /* when it was asked for (seconds) */
	uint64_t pidns;		   /* the holder's PID namespace, 0 = unknown */
};

struct sma_header {
	/* identity: written first by the creator, checked by every open */
	_Atomic uint64_t magic;	   /* SMA_MAGIC once the creator marked it */
	uint32_t layout;	   /* SMA_LAYOUT */
	_Atomic uint32_t init;	   /* INIT_* */
	/* Held by whoever initialises the segment: a robust, process-shared
	 * mutex, so that an initialiser's death is known (5_open.c). */
	pthread_mutex_t init_lock;
	int32_t init_pid;	   /* process that initialised it (shown) */
	uint32_t ptr_bits;	   /* 64 */
	uint64_t arena_id;	   /* random, names this arena in the process */
	uint64_t size;		   /* bytes of the segment */
	uint64_t path_dev;	   /* device of the ftok path, 0 = none */
	uint64_t path_ino;	   /* inode of the ftok path, 0 = none */
	int32_t key;		   /* System V key, 0 = IPC_PRIVATE */
	int32_t semid;		   /* the semaphore set (1_sem.c) */
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

	/* the arena lock (1_lock.c): a robust, process-shared mutex; the
	 * kernel releases it, marked, when its holder dies */
	uint8_t pad0[64];
	pthread_mutex_t lock;
	int32_t lock_pid;	   /* holder's pid (its namespace's), 0 = none */
	int32_t lock_tid;	   /* holder's thread */
	struct op_record op;	   /* the operation in flight */
	struct grow_record grow;   /* a segment being added */
	uint64_t lock_ops;	   /* lock acquisitions since creation */
	uint64_t lock_seq;	   /* every acquisition, looks included: a
				      reader without the lock knows by it
				      that nobody held it meanwhile */
	uint64_t lock_waits;	   /* of which had to wait for a holder
				      (slept in the kernel) */
	uint64_t sem_ops;	   /* system calls on the semaphore set
				      for the arena's users (1_sem.c) */
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
	 * (5_named.c): readers without the lock look again when it moved. */
	uint64_t names_seq;

	/* the heap's free lists (derived from the blocks) */
	uint64_t fl_bitmap;
	uint32_t sl_bitmap[FL_COUNT];
	uint64_t heads[FL_COUNT][SL_COUNT];

	struct class_state cls[NCLASSES];

	/* growth (1_segs.c): every segment of the arena, this one first */
	_Atomic uint32_t nsegs;	   /* segments published (1 + added) */
	uint32_t pad2;
	uint64_t limit;		   /* bytes all segments may total, 0 = never grow */
	uint64_t total_size;	   /* bytes of the published segments */
	struct seg_rec segs[MAX_SEGS];
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
	unsigned mc;		/* the tools watching this process (0_memcheck.h) */
	struct mc_chunks *mct;	/* under memcheck: the chunks of its pool */
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
	/* Where this handle attached each added segment (NULL until it needs
	 * it; [0] is base), and their bytes; attached under seg_mu. */
	char *_Atomic seg_base[MAX_SEGS];
	uint64_t seg_size[MAX_SEGS];
	_Atomic uint64_t mapped;	/* bytes of the added segments attached */
	_Atomic uint32_t seg_seen;	/* segments 1.. attached, from the first */
	pthread_mutex_t seg_mu;
};

/* ---- offsets and addresses ------------------------------------------------
 * The only place that turns an offset into an address and back. */
static inline unsigned seg_index(uint64_t off) { return (unsigned)(off >> OFF_SEG_SHIFT); }
static inline uint64_t seg_start(uint64_t off) { return off & ~OFF_MASK; }

/* The address of off, whose segment this handle has attached (the lock
 * holder has them all; a reader checks with seg_ok() first). */
static inline void *at(const struct sma *a, uint64_t off)
{
	if (LIKELY(off <= OFF_MASK)) {
		DASSERT(off < a->size);
		return a->base + off;
	}
	char *b = atomic_load_explicit(&((struct sma *)a)->seg_base[seg_index(off) % MAX_SEGS],
				       memory_order_acquire);
	DASSERT(b != NULL);
	return b + (off & OFF_MASK);
}

/* Attaches segment k of the arena (0_layout.c): its address, or NULL. */
HIDDEN char *sma__seg_attach(const struct sma *a, unsigned k);
/* Attaches every published segment; 0, or -1 if one could not be. */
HIDDEN int sma__segs_attach_all(struct sma *a);
/* A new handle's table (only base); detaching (or freeing, for an image)
 * every added segment. */
HIDDEN void sma__segs_init(struct sma *a);
HIDDEN void sma__segs_forget(struct sma *a);
/* The offset of an address in an added segment this handle attached, or
 * 0 when p is in none. */
HIDDEN uint64_t sma__off_slow(const struct sma *a, const void *p);

/* 1 when segment k is published and this handle has it (attaching it the
 * first time), so that at() may be used in it. */
static inline int seg_ok(const struct sma *a, unsigned k)
{
	if (LIKELY(k == 0))
		return 1;
	if (k >= MAX_SEGS)
		return 0;
	if (LIKELY(atomic_load_explicit(&((struct sma *)a)->seg_base[k], memory_order_acquire) != NULL))
		return 1;
	return sma__seg_attach(a, k) != NULL;
}

/* The address in this process of an offset taken from outside (at() is
 * for offsets the arena holds): NULL when its segment cannot be had. */
static inline void *at_checked(const struct sma *a, uint64_t off)
{
	return seg_ok(a, seg_index(off)) ? at(a, off) : NULL;
}

static inline uint64_t off_of(const struct sma *a, const void *p)
{
	const char *c = p;
	if (LIKELY(c >= a->base && c < a->base + a->size))
		return (uint64_t)(c - a->base);
	return sma__off_slow(a, p);
}

/* 1 when a is a handle that may change its arena; 0 with errno EINVAL (no
 * handle) or EROFS (a read-only one). */
static inline int handle_writable(const struct sma *a)
{
	if (UNLIKELY(!a)) {
		errno = EINVAL;
		return 0;
	}
	if (UNLIKELY(a->flags & SMA_RDONLY)) {
		errno = EROFS;
		return 0;
	}
	return 1;
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
/* More blocks than the segments this handle has attached can hold: a
 * bound for every walk of a chain. */
static inline uint64_t mapped_bytes(const struct sma *a)
{
	return atomic_load_explicit(&((struct sma *)a)->mapped, memory_order_relaxed);
}
static inline uint64_t max_blocks(const struct sma *a)
{
	return (a->h->heap_end - a->h->heap_off + mapped_bytes(a)) / MIN_BLOCK + 1;
}

/* The heap of off's segment: [*lo, *hi) with the sentinel at *hi; 0 when
 * off's segment is not one this handle can reach. */
HIDDEN int sma__seg_heap_slow(const struct sma *a, uint64_t off, uint64_t *lo, uint64_t *hi);
static inline int seg_heap(const struct sma *a, uint64_t off, uint64_t *lo, uint64_t *hi)
{
	if (LIKELY(off <= OFF_MASK)) {
		*lo = a->h->heap_off;
		*hi = a->h->heap_end;
		return 1;
	}
	return sma__seg_heap_slow(a, off, lo, hi);
}

/* Segments published (at least 1, at most MAX_SEGS whatever the header
 * says), and the heap of segment k: 1 with [*lo, *hi) when this handle
 * reaches it. */
static inline unsigned nsegs_of(const struct sma *a)
{
	uint32_t n = atomic_load_explicit(&a->h->nsegs, memory_order_acquire);
	return n < 1 ? 1 : n > MAX_SEGS ? MAX_SEGS : n;
}
static inline int seg_k_heap(const struct sma *a, unsigned k, uint64_t *lo, uint64_t *hi)
{
	return seg_heap(a, (uint64_t)k << OFF_SEG_SHIFT, lo, hi);
}

/* 1 if [off, off + len) lies in the heap of one segment (no sum that could
 * wrap); its segment is then attached. */
static inline int in_heap(const struct sma *a, uint64_t off, uint64_t len)
{
	uint64_t lo, hi;
	return seg_heap(a, off, &lo, &hi) && off >= lo && off <= hi && len <= hi - off;
}

/* The page map: one word per page of each segment, reached by the page's
 * whole number (off >> PAGE_SHIFT); callers have checked the page lies in
 * a heap (in_heap). */
#define PG_SEG_SHIFT (OFF_SEG_SHIFT - PAGE_SHIFT)
static inline _Atomic uint32_t *pm_word(const struct sma *a, uint64_t pg)
{
	unsigned k = (unsigned)(pg >> PG_SEG_SHIFT);
	if (LIKELY(k == 0))
		return (_Atomic uint32_t *)(a->base + a->h->pmap_off) + pg;
	return (_Atomic uint32_t *)at(a, a->h->segs[k % MAX_SEGS].pmap_off) + (pg & ((1ull << PG_SEG_SHIFT) - 1));
}
static inline uint32_t pm_load(const struct sma *a, uint64_t pg)
{
	return atomic_load_explicit(pm_word(a, pg), memory_order_acquire);
}
static inline void pm_store(struct sma *a, uint64_t pg, uint32_t v)
{
	atomic_store_explicit(pm_word(a, pg), v, memory_order_release);
}

/* ---- size classes ------------------------------------------------------------ */

/* The size of each class, and for the small ones the objects of a slab
 * and the reciprocal that turns a distance in a slab into an index. */
#define C16(d, j) ((256u << (d)) + ((j) + 1u) * (32u << (d)))
#define CD(d) C16(d, 0), C16(d, 1), C16(d, 2), C16(d, 3), C16(d, 4), C16(d, 5), C16(d, 6), C16(d, 7)
static const uint32_t class_size[NCLASSES] = {
	16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	CD(0), CD(1), CD(2), CD(3), CD(4), CD(5), CD(6), CD(7),
};
_Static_assert(C16(7, 7) == CACHE_MAX, "the last class is CACHE_MAX");
#define SLAB_NOBJ(c) ((SLAB_SIZE - SLAB_HDR) / (16u * ((c) + 1u)))
#define SLAB_INV(c) (((1ull << 32) + 16u * ((c) + 1u) - 1) / (16u * ((c) + 1u)))
#define SMALL16(X) X(0), X(1), X(2), X(3), X(4), X(5), X(6), X(7), X(8), X(9), X(10), X(11), X(12), X(13), X(14), X(15)
static const uint16_t slab_nobj[NSMALL] = { SMALL16(SLAB_NOBJ) };
static const uint64_t slab_inv[NSMALL] = { SMALL16(SLAB_INV) };

/* G2: the geometry in the header fits the segment (here so that the open
 * and the checker use the same test). */
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
	       h->heap_off + MIN_BLOCK < h->heap_end && h->heap_end + BLOCK_HDR == h->size &&
	       atomic_load(&((struct sma_header *)h)->nsegs) >= 1 &&
	       atomic_load(&((struct sma_header *)h)->nsegs) <= MAX_SEGS &&
	       h->cache_bytes == CACHE_HDR_BYTES + 8ull * a->entries;
}

static inline unsigned msb64(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* The TLSF list (first level fl, second level sl) of a free block of size
 * bytes: the heap files blocks by it, the checker verifies it (H4). */
static inline void tlsf_mapping(uint64_t size, unsigned *fl, unsigned *sl)
{
	if (size < (1u << FL_SHIFT)) {
		*fl = 0;
		*sl = (unsigned)(size >> 4);
	} else {
		unsigned f = msb64(size);
		*sl = (unsigned)(size >> (f - SL_LOG2)) ^ SL_COUNT;
		*fl = f - (FL_SHIFT - 1);
	}
}

/* The smallest class whose size is at least n (n <= CACHE_MAX). */
static inline unsigned size_class(size_t n)
{
	if (n <= SMALL_MAX)
		return n ? (unsigned)((n + 15) >> 4) - 1 : 0;
	unsigned d = msb64(n - 1) - 8;
	uint64_t base = (uint64_t)256 << d, step = (uint64_t)32 << d;
	return NSMALL + d * 8 + (unsigned)((n - base + step - 1) / step) - 1;
}
/* A cache entry: the object's whole offset, and for a medium class its
 * usable size in the bits above it (so that a fitting block is chosen
 * without reading its header).  A medium usable size is 16 k - 8 for k in
 * 17..4096: k - 1 takes the 12 bits from OFF_BITS up. */
#define ENTRY_OFF_MASK ((UINT64_C(1) << OFF_BITS) - 1)
static inline uint64_t entry_off(uint64_t e) { return e & ENTRY_OFF_MASK; }
static inline uint64_t entry_usable(uint64_t e) { return ((e >> OFF_BITS) + 1) * 16 - BLOCK_OVERHEAD; }
static inline uint64_t entry_make(uint64_t off, uint64_t usable)
{
	return off | ((usable + BLOCK_OVERHEAD) / 16 - 1) << OFF_BITS;
}
_Static_assert(OFF_BITS + 12 <= 64, "a medium entry fits a word");

/* ---- bitmaps ------------------------------------------------------------------ */

/* Word and bit of index i in a bitmap of 64-bit words. */
static inline unsigned bit_word(unsigned i) { return i >> 6; }
static inline uint64_t bit_of(unsigned i) { return 1ull << (i & 63); }

/* The bits of word w that stand for one of nobj slots of a slab. */
static inline uint64_t slab_valid(unsigned nobj, unsigned w)
{
	return nobj >= (w + 1) * 64 ? ~0ull : nobj > w * 64 ? (1ull << (nobj - w * 64)) - 1 : 0;
}

/* The index of the object d bytes past the first of a slab of class cls. */
static inline unsigned slab_index(unsigned cls, uint64_t d)
{
	return (unsigned)((d * slab_inv[cls]) >> 32);
}

HIDDEN struct slab *sma__slab_of_slow(const struct sma *a, uint64_t off, unsigned *idx);

/* The slab holding the object at off, with its index, or NULL if off is
 * not the start of an object slot of a valid slab.  Reads only what it
 * has bounds-checked; takes no lock.  The first segment inline, the others
 * out of line (0_layout.c). */
FAST struct slab *slab_of(const struct sma *a, uint64_t off, unsigned *idx)
{
	if (UNLIKELY(off > OFF_MASK))
		return sma__slab_of_slow(a, off, idx);
	const struct sma_header *h = a->h;
	if (off >= h->heap_end || off < h->heap_off)
		return NULL;
	uint32_t e = atomic_load_explicit((_Atomic uint32_t *)(a->base + h->pmap_off) + (off >> PAGE_SHIFT),
					  memory_order_acquire);
	if (!(e & PM_SLAB))
		return NULL;
	uint64_t p = (uint64_t)(e & PM_VAL) << PAGE_SHIFT;
	if (p < h->heap_off + BLOCK_HDR || p + SLAB_SIZE > h->heap_end || off < p + SLAB_HDR)
		return NULL;
	struct slab *s = (struct slab *)(a->base + p);
	unsigned cls = LOAD(s->cls);
	if (cls >= NSMALL || LOAD(s->magic) != (SLAB_MAGIC | cls) || LOAD(s->nobj) != slab_nobj[cls])
		return NULL;
	uint64_t d = off - p - SLAB_HDR;
	unsigned i = slab_index(cls, d);
	if ((uint64_t)i * class_size[cls] != d || i >= slab_nobj[cls])
		return NULL;
	*idx = i;
	return s;
}

/* The live bit of slot idx of slab s. */
static inline _Atomic uint64_t *slab_live_word(struct slab *s, unsigned idx)
{
	return &s->live[bit_word(idx)];
}

/* The slot table and its slots. */
static inline struct slot *slot_at(const struct sma *a, unsigned i)
{
	return (struct slot *)at(a, a->h->slots_off + (uint64_t)i * SLOT_BYTES);
}
static inline unsigned slot_index(const struct sma *a, const struct slot *s)
{
	return (unsigned)(((const char *)s - (const char *)slot_at(a, 0)) / SLOT_BYTES);
}

#endif /* SMA_LAYOUT_H */
