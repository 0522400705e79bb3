/*
 * sma.h -- a shared heap over one System V shared memory segment.
 *
 * Cooperating processes on one machine attach the same arena and allocate,
 * free and read position-independent objects in it.  Objects are named by
 * offsets (sma_off_t), which mean the same object in every attached process
 * whatever address each process attached the segment at; sma_ptr() turns an
 * offset into an address in this process.
 *
 * Conventions: functions returning int return 0 on success and -1 with errno
 * set on failure, except the sma_mutex_* family, which returns an error
 * number like pthreads.  Functions returning a pointer or an offset return
 * NULL / SMA_NULL with errno set on failure.  Every function is safe to call
 * concurrently from any thread of any process attached to the same arena.
 *
 * This is the only public header of the library.
 */
#ifndef SMA_H
#define SMA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/ipc.h> /* key_t, which <sys/types.h> leaves out in strict modes */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(SMA_BUILDING)
#define SMA_API __attribute__((visibility("default")))
#else
#define SMA_API
#endif

#define SMA_VERSION_MAJOR 0
#define SMA_VERSION_MINOR 1
#define SMA_VERSION_PATCH 0
#define SMA_VERSION "0.1.0"

/* The project id handed to ftok(3) by sma_open(). */
#define SMA_PROJ_ID 0x53

/* The smallest segment sma_open() creates, in bytes. */
#define SMA_MIN_SIZE ((size_t)256 * 1024)

/* The longest name of a named object, in bytes, without the final NUL. */
#define SMA_NAME_MAX 63

typedef struct sma sma_t;   /* this process's handle on an attached arena */
typedef uint64_t sma_off_t; /* position-independent reference to an object */
#define SMA_NULL ((sma_off_t)0)

/* ---- Opening and closing ------------------------------------------------ */

enum {
	SMA_CREATE = 1 << 0, /* create the arena if it does not exist */
	SMA_EXCL = 1 << 1,   /* with SMA_CREATE: fail with EEXIST if it exists */
	SMA_RDONLY = 1 << 2  /* attach read-only (SHM_RDONLY) */
};

SMA_API sma_t *sma_open(const char *path, int flags, size_t size, mode_t mode);
SMA_API sma_t *sma_open_key(key_t key, int flags, size_t size, mode_t mode);
SMA_API sma_t *sma_open_id(int shmid, int flags);
/*
 * A read-only handle on a copy of a segment image (the bytes of an arena
 * saved to a file, say): sma_stats, sma_walk, sma_check, sma_info,
 * sma_named_find and sma_named_each work on it as on a read-only
 * attachment.  EPROTO if the image is not an arena this build can read.
 */
SMA_API sma_t *sma_open_image(const void *image, size_t len);
SMA_API int sma_close(sma_t *a);
SMA_API int sma_destroy(sma_t *a);
SMA_API int sma_shmid(const sma_t *a);
SMA_API key_t sma_key(const sma_t *a);
SMA_API int sma_semid(const sma_t *a);

/* ---- Allocation --------------------------------------------------------- */

SMA_API sma_off_t sma_alloc(sma_t *a, size_t size);
SMA_API sma_off_t sma_calloc(sma_t *a, size_t nmemb, size_t size);
SMA_API sma_off_t sma_realloc(sma_t *a, sma_off_t off, size_t size);
SMA_API sma_off_t sma_aligned_alloc(sma_t *a, size_t alignment, size_t size);
SMA_API int sma_free(sma_t *a, sma_off_t off);
SMA_API size_t sma_usable_size(sma_t *a, sma_off_t off);
SMA_API void *sma_ptr(const sma_t *a, sma_off_t off);
SMA_API sma_off_t sma_off(const sma_t *a, const void *p);

/*
 * Gives the calling thread's cache back to the arena, so that what it held
 * is free for every process.  Threads do this by themselves when they exit
 * and when the handle is closed; a long-lived thread that has finished a
 * burst of work may call it.  EROFS on a read-only handle.
 */
SMA_API int sma_flush(sma_t *a);

/* ---- Named objects ------------------------------------------------------ */

SMA_API sma_off_t sma_named_alloc(sma_t *a, const char *name, size_t size,
				  int *created);
SMA_API sma_off_t sma_named_find(sma_t *a, const char *name);
SMA_API int sma_named_free(sma_t *a, const char *name);
SMA_API int sma_named_each(sma_t *a,
			   int (*fn)(const char *name, sma_off_t off,
				     size_t size, void *arg),
			   void *arg);

/* ---- A mutex for shared data structures --------------------------------- */

/* All-zero bytes are an unlocked mutex. */
typedef struct sma_mutex {
	uint32_t opaque[4];
} sma_mutex_t;

SMA_API int sma_mutex_lock(sma_mutex_t *m);
SMA_API int sma_mutex_trylock(sma_mutex_t *m);
SMA_API int sma_mutex_unlock(sma_mutex_t *m);

/* ---- Inspecting --------------------------------------------------------- */

/*
 * The structs below end in reserved words that the library fills with
 * zeros.  A later version puts new fields there, in place of as many
 * reserved words, so that the size of each struct (and the offset of every
 * field) never changes: a program built against this header keeps working
 * with a newer library, and one built against a newer header reads 0 for
 * what an older library does not know.  Never use reserved.
 */

struct sma_stats {
	size_t size;	      /* bytes of the shared segment */
	size_t heap_size;     /* bytes available to objects when empty */
	size_t used;	      /* bytes in live objects (usable sizes) */
	size_t free;	      /* bytes free for objects, caches included */
	size_t largest_free;  /* the largest object one sma_alloc can return now */
	uint64_t live;	      /* live objects, named ones included */
	uint64_t allocs;      /* objects created by any call since creation */
	uint64_t frees;	      /* objects released by any call since creation */
	uint32_t nattch;      /* shm_nattch now: one per handle, fork copies too */
	uint64_t reserved[7]; /* 0: room for later fields */
};

/*
 * On a writable handle, sma_stats, sma_walk and sma_check first give back
 * the calling thread's cache (as sma_flush does), and sma_stats also
 * reclaims the slots of processes that no longer exist, so that what they
 * report is free is free for every process.  On a read-only handle they
 * change nothing and take no lock.
 */
SMA_API int sma_stats(sma_t *a, struct sma_stats *st);
SMA_API int sma_check(sma_t *a);
SMA_API int sma_walk(sma_t *a,
		     int (*fn)(sma_off_t off, size_t size, int in_use,
			       void *arg),
		     void *arg);
SMA_API int sma_recover(sma_t *a);
SMA_API const char *sma_version(void); /* "MAJOR.MINOR.PATCH", as SMA_VERSION */

/*
 * sma_check_report: as sma_check, and calls fn once for each problem found
 * with one line saying what is wrong and where (no trailing newline).  A
 * non-zero return from fn stops the check early.
 */
SMA_API int sma_check_report(sma_t *a,
			     int (*fn)(const char *problem, void *arg),
			     void *arg);

/* What only the arena itself knows, beside shmctl(IPC_STAT). */
struct sma_info {
	int shmid;		  /* segment id */
	key_t key;		  /* System V key, IPC_PRIVATE for private arenas */
	int semid;		  /* id of the semaphore set (slot tokens) */
	uint32_t layout_version;  /* layout of the segment */
	int readonly;		  /* this handle is attached read-only */
	int destroyed;		  /* marked for removal (sma_destroy, IPC_RMID) */
	uid_t uid, gid;		  /* owner */
	uid_t cuid, cgid;	  /* creator */
	mode_t mode;		  /* permission bits of the segment */
	pid_t cpid;		  /* pid that created the segment */
	pid_t lpid;		  /* pid of the last shmat/shmdt */
	int64_t atime, dtime, ctime; /* last attach, detach, change (seconds) */
	size_t size;		  /* bytes of the segment */
	uint32_t nattch;	  /* shm_nattch now */
	uint64_t path_dev;	  /* device of the ftok path, 0 if none */
	uint64_t path_ino;	  /* inode of the ftok path, 0 if none */
	int64_t created;	  /* time of initialisation (seconds) */
	pid_t lock_holder;	  /* pid holding the arena lock, 0 if none */
	int lock_in_op;		  /* the holder is inside an operation */
	uint64_t lock_ops;	  /* arena lock acquisitions since creation; one
				     that did not wait made no system call */
	uint64_t repairs;	  /* operations of dead holders repaired */
	uint32_t nslots;	  /* process slots in the segment */
	uint32_t slots_used;	  /* slots held now, by live or dead threads */
	unsigned nclasses;	  /* size classes, for sma_class_stats */
	size_t cached;		  /* bytes held in thread caches */
	int sem_gone;		  /* the set semid names was removed from outside */
	uint32_t sets_replaced;	  /* sets made in place of removed ones */
	uint32_t nsegs;		  /* segments, the first included */
	size_t limit;		  /* growth limit, 0 = never grows */
	uint64_t lock_waits;	  /* of lock_ops, those that had to wait (slept
				     in the kernel) */
	uint64_t sem_ops;	  /* System V semaphore system calls made on the
				     arena's set since creation (slot tokens
				     taken and given back, checks that the
				     set is there) */
	uint64_t reserved[22];	  /* 0: room for later fields */
};
SMA_API int sma_info(sma_t *a, struct sma_info *info);

/* One size class: the sizes one cache list or one kind of slab serves. */
struct sma_class_stats {
	size_t size;	   /* the largest request the class serves, bytes */
	int slab;	   /* 1 when served from slabs, 0 from the page heap */
	uint64_t slabs;	   /* slabs of this class now */
	uint64_t used;	   /* objects live in them */
	uint64_t total;	   /* object slots in them */
	uint64_t requests; /* allocations made in this class since creation */
	uint64_t failures; /* of which failed for want of memory */
	uint64_t cached;   /* objects of this class held in thread caches */
	uint64_t reserved[8]; /* 0: room for later fields */
};
SMA_API int sma_class_stats(sma_t *a, unsigned cls,
			    struct sma_class_stats *cs);

/* A thread that holds, or held, a slot in the arena's table. */
struct sma_slot_info {
	unsigned slot;	      /* index in the table */
	pid_t pid;	      /* process */
	pid_t tid;	      /* thread */
	int alive;	      /* the process still exists */
	uint64_t cached;      /* objects held in its cache */
	size_t cached_bytes;  /* bytes held in its cache */
	uint64_t allocs;      /* objects it allocated */
	uint64_t frees;	      /* objects it freed */
	uint64_t reserved[10]; /* 0: room for later fields */
};
SMA_API int sma_slots_each(sma_t *a,
			   int (*fn)(const struct sma_slot_info *s, void *arg),
			   void *arg);

/* An arena, or an orphaned semaphore set, found on this machine. */
struct sma_ls_entry {
	int orphan;	   /* 1: a semaphore set with no arena */
	key_t key;	   /* System V key */
	int shmid;	   /* segment id, -1 for an orphan */
	int semid;	   /* semaphore set id */
	size_t size;	   /* bytes of the segment */
	uint32_t nattch;   /* shm_nattch */
	uid_t uid;	   /* owner */
	mode_t mode;	   /* permission bits */
	pid_t cpid;	   /* creator */
	int destroyed;	   /* marked for removal */
	size_t used;	   /* bytes in live objects */
	uint64_t live;	   /* live objects */
	uint64_t reserved[8]; /* 0: room for later fields */
};
/* Calls fn for every arena the caller may read and every orphaned
 * semaphore set; a non-zero return stops it and is returned. */
SMA_API int sma_ls(int (*fn)(const struct sma_ls_entry *e, void *arg),
		   void *arg);
/* Removes every orphaned semaphore set the caller may remove; returns how
 * many, or -1 with errno. */
SMA_API int sma_rm_orphans(void);

/* Growing (API.md): with a limit above its size, an arena that finds no
 * room adds a segment, as long as all its segments then total at most
 * the limit.  0 (the default) never grows. */
SMA_API int sma_set_limit(sma_t *a, size_t bytes);
SMA_API size_t sma_limit(const sma_t *a);
/* Segment k of the arena (0 is the first, the one sma_shmid names): its
 * shmid and size; 0, or -1 with ENOENT past the last. */
SMA_API int sma_segment(sma_t *a, unsigned k, int *shmid, size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* SMA_H */
