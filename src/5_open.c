/*
 * 5_open.c -- the arena's identity: creating, initialising, attaching,
 * closing and destroying the segment and its semaphore set.
 *
 * Whoever initialises a segment holds header.init_lock, a robust,
 * process-shared mutex, for as long as it does:
 *
 *   0. (a fresh segment is all zero; init_lock is made a robust mutex by
 *      one compare-and-swap of its kind word, so that two openers never
 *      both set it up)
 *   1. lock init_lock
 *   2. the rest of the header zeroed, then init = INIT_BUSY, magic
 *      (the mark: nobody ever writes a segment that lacks it, but for
 *      the one exception below)
 *   3. geometry, heap, the arena lock, the semaphore set (same key, same
 *      mode)
 *   4. init = INIT_READY (release); unlock init_lock
 *
 * An opener that finds the segment not ready tries init_lock: busy, a live
 * process is initialising (wait about a second, then EAGAIN); free or
 * "owner died", nobody is, and an SMA_CREATE opener initialises it afresh
 * while others fail with EPROTO.  A segment whose header is still all zero
 * is what a creator killed before step 1 leaves: an SMA_CREATE opener
 * takes it when the segment's creator (shm_cpid) no longer exists and
 * nobody else was attached.  Nothing else that lacks the mark is written.
 *
 * Invariants:
 *   G1  magic == SMA_MAGIC, layout == SMA_LAYOUT, size == shm_segsz.
 *   G2  header < slot table < page map < name index < heap, all inside the
 *       segment; heap_end + BLOCK_HDR == size.
 *   G3  an arena opened by path records that path's device and inode.
 *   G4  only the holder of init_lock writes a header that is not ready.
 */
#include "5_init.h"
#include "5_open.h"
#include "0_memcheck.h"
#include "0_proc.h"
#include "1_lock.h"
#include "1_sem.h"
#include "2_heap.h"
#include "3_cache.h"
#include "1_segs.h"
#include "3_registry.h"
#include "4_repair.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- initialisation --------------------------------------------------------- */

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* The most semaphores one set may have here (SEMMSL), at least 2. */
static unsigned sem_max(void)
{
	struct seminfo si;
	union semun u = { .info = &si };
	if (semctl(0, 0, IPC_INFO, u) < 0 || si.semmsl < 2)
		return 250;
	return (unsigned)si.semmsl;
}

/* Steps 2-4 of the top comment, init_lock held. */
static int initialise(struct sma *a, key_t key, mode_t mode, uint64_t dev, uint64_t ino)
{
	struct sma_header *h = a->h;
	uint64_t size = a->size;

	/* A set a dead initialiser made for this header goes first. */
	int old = atomic_load(&h->magic) == SMA_MAGIC ? LOAD(h->semid) : -1;
	if (old >= 0)
		semctl(old, 0, IPC_RMID);
	/* Everything past the init lock starts afresh (a takeover may find
	 * junk). */
	size_t keep = offsetof(struct sma_header, init_lock) + sizeof h->init_lock;
	memset((char *)h + keep, 0, HDR_BYTES - keep);
	STORE(h->semid, -1);
	h->init_pid = sma__getpid();
	h->layout = SMA_LAYOUT;
	h->ptr_bits = 64;
	h->size = size;
	h->path_dev = dev;
	h->path_ino = ino;
	h->key = (int32_t)key;
	h->mode = (uint32_t)mode;
	h->created = (int64_t)time(NULL);
	uint64_t id = 0;
	if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
		id = sma__self_id() ^ (uint64_t)h->created ^ (uint64_t)(uintptr_t)h;
	h->arena_id = id | 1;
	a->arena_id = h->arena_id;
	atomic_store(&h->init, INIT_BUSY);
	atomic_store_explicit(&h->magic, SMA_MAGIC, memory_order_release);
	STEP();

	uint32_t nslots = (uint32_t)(size / (256 * 1024));
	unsigned most = sem_max() - 1; /* a token each, and the mark */
	nslots = nslots < 4 ? 4 : nslots > MAX_SLOTS ? MAX_SLOTS : nslots;
	h->nslots = nslots < most ? nslots : most;
	uint32_t nb = 64;
	while (nb < MAX_BUCKETS && (uint64_t)nb * 16384 < size)
		nb <<= 1;
	h->nbuckets = nb;
	h->npages = size / PAGE;
	h->slots_off = HDR_BYTES;
	h->pmap_off = align_up(h->slots_off + (uint64_t)h->nslots * SLOT_BYTES, 64);
	h->buckets_off = align_up(h->pmap_off + h->npages * 4, 64);
	h->heap_off = align_up(h->buckets_off + (uint64_t)nb * 8, 64);
	h->heap_end = size - BLOCK_HDR;
	if (h->heap_end < h->heap_off + MIN_HEAP) {
		errno = EINVAL;
		return -1;
	}
	memset(at(a, h->slots_off), 0, h->heap_off - h->slots_off);
	h->segs[0] = (struct seg_rec){ .shmid = a->shmid, .npages = (uint32_t)h->npages, .size = size,
				       .pmap_off = h->pmap_off, .heap_off = h->heap_off, .heap_end = h->heap_end };
	for (unsigned k = 1; k < MAX_SEGS; k++)
		h->segs[k].shmid = -1;
	h->total_size = size;
	h->limit = 0;
	atomic_store(&h->nsegs, 1);
	sma__heap_init(a);
	/* Caches scale with the heap: 16 objects per small class at 4 MiB
	 * and below, 256 from 64 MiB. */
	uint64_t sc = 16;
	while (sc < 256 && sc * 256 * 1024 < h->heap_size)
		sc <<= 1;
	h->small_cap = sc;
	sma__cache_tables(a, sc);
	h->cache_bytes = CACHE_HDR_BYTES + 8ull * a->entries;
	h->cache_budget = h->heap_size / 64 > 65536 ? h->heap_size / 64 : 65536;
	h->names_seq = 0;

	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	int r = pthread_mutex_init(&h->lock, &at);
	pthread_mutexattr_destroy(&at);
	if (r) {
		errno = r;
		return -1;
	}

	h->nsems = 1 + h->nslots;
	int semid = sma__sem_create(key, mode, h->nsems);
	if (semid < 0)
		return -1;
	STORE(h->sem_ops, SEM_MADE_CALLS);
	STORE(h->semid, semid);
	a->semid = semid;
	STEP();
	atomic_store_explicit(&h->init, INIT_READY, memory_order_release);
	return 0;
}

/* ---- attaching ------------------------------------------------------------ */

static struct sma *attach(int shmid, int flags, struct shmid_ds *ds)
{
	if (shmctl(shmid, IPC_STAT, ds) < 0)
		return NULL;
	void *p = shmat(shmid, NULL, (flags & SMA_RDONLY) ? SHM_RDONLY : 0);
	if (p == (void *)-1)
		return NULL;
	struct sma *a = calloc(1, sizeof *a);
	if (!a) {
		shmdt(p);
		errno = ENOMEM;
		return NULL;
	}
	a->base = p;
	a->h = p;
	a->size = ds->shm_segsz;
	a->shmid = shmid;
	sma__segs_init(a);
	a->key = ds->shm_perm.__key;
	a->flags = flags & SMA_RDONLY;
	a->semid = -1;
	mc_handle_open(a);
	return a;
}

static void detach_free(struct sma *a)
{
	int e = errno;
	mc_handle_close(a);
	sma__segs_forget(a);
	shmdt(a->base);
	free(a);
	errno = e;
}

/* Did the process that created the segment (ds) exit?  Only a pid of
 * this namespace can say: shm_cpid is 0 when it is another's. */
static int creator_gone(const struct shmid_ds *ds)
{
	pid_t cpid = ds->shm_cpid;
	if (cpid <= 0)
		return 0;
	if (sma__proc_gone(cpid, 0))
		return 1;
	/* The pid lives, but is it the creator's?  A process that started
	 * after the segment was made is not. */
	return sma__proc_started_after(cpid, (int64_t)ds->shm_ctime);
}

/* Checks a ready arena (G1-G3) and takes its geometry. */
static int adopt(struct sma *a, uint64_t dev, uint64_t ino)
{
	struct sma_header *h = a->h;
	if (h->layout != SMA_LAYOUT || h->ptr_bits != 64 || sma__cache_tables(a, h->small_cap) < 0 ||
	    !geometry_ok(a)) {
		errno = EPROTO;
		return -1;
	}
	if ((dev || ino) && (h->path_dev != dev || h->path_ino != ino)) {
		errno = EPROTO; /* made for another path: an ftok collision */
		return -1;
	}
	a->arena_id = h->arena_id;
	a->semid = LOAD(h->semid);
	return 0;
}

struct opening {
	int create;		/* SMA_CREATE was given */
	int made;		/* this call's shmget made the segment */
	mode_t mode;		/* for a set made now */
	key_t key;
	uint64_t dev, ino;	/* identity of the path, 0 = none */
	struct shmid_ds ds;	/* the segment as it was before we attached */
};

/* For a read-only attachment, which cannot take the init lock (a store):
 * 1 when a marked header is not ready and nobody holds its init lock, or
 * its holder died (glibc's robust mutex word: the holder's tid, and
 * FUTEX_OWNER_DIED once the kernel found it dead). */
static int nobody_initialises(const struct sma_header *h, uint64_t magic)
{
	int word = __atomic_load_n((const int *)&h->init_lock, __ATOMIC_ACQUIRE);
	return magic == SMA_MAGIC && (word == 0 || (word & 0x40000000)) &&
	       atomic_load_explicit(&((struct sma_header *)h)->init, memory_order_acquire) != INIT_READY;
}

/*
 * Waits for the segment to be a ready arena, initialising it when this
 * call may (the top comment), and checks it.  0, or -1 with errno.
 */
static int settle(struct sma *a, struct opening *o)
{
	struct sma_header *h = a->h;
	if (a->size < MIN_SEGMENT) {
		errno = EPROTO;
		return -1;
	}
	struct timespec t0, now, nap = { 0, 2 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ours = o->made; /* may we write to a header without the mark? */
	for (;;) {
		uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
		if (magic != 0 && magic != SMA_MAGIC) {
			errno = EPROTO;
			return -1;
		}
		if (magic == SMA_MAGIC && atomic_load_explicit(&h->init, memory_order_acquire) == INIT_READY)
			break;
		if (a->image) {
			errno = EPROTO; /* an image does not finish initialising */
			return -1;
		}
		if (a->flags & SMA_RDONLY) {
			if (nobody_initialises(h, magic)) {
				errno = EPROTO; /* left half-initialised by a dead creator */
				return -1;
			}
		} else {
			int dead = 0;
			if (magic == 0 && !ours && h->init_lock.__data.__kind == 0)
				/* All zero: a creator killed before it began leaves
				 * this; take it only when that creator is gone and
				 * nobody else was here. */
				ours = o->create && o->ds.shm_nattch == 0 && creator_gone(&o->ds);
			if (magic == SMA_MAGIC || ours || h->init_lock.__data.__kind != 0) {
				if (sma__init_lock_ready(&h->init_lock) < 0) {
					errno = EPROTO;
					return -1;
				}
				int r = o->made ? sma__mutex_lock_sliced(&h->init_lock) : pthread_mutex_trylock(&h->init_lock);
				if (r == EOWNERDEAD) {
					pthread_mutex_consistent(&h->init_lock);
					dead = 1;
				} else if (r != 0 && r != EBUSY) {
					errno = EPROTO;
					return -1;
				}
				if (r != EBUSY) {
					/* G4: nobody initialises but us now. */
					int ready = atomic_load(&h->magic) == SMA_MAGIC && atomic_load(&h->init) == INIT_READY;
					int rc = 0;
					if (!ready && (o->create || o->made))
						rc = initialise(a, o->key, o->mode, o->dev, o->ino);
					int e = errno;
					pthread_mutex_unlock(&h->init_lock);
					errno = e;
					if (rc < 0)
						return -1;
					if (ready || o->create || o->made)
						break;
					if (dead || atomic_load(&h->magic) == SMA_MAGIC) {
						/* Begun by a process that is gone. */
						errno = EPROTO;
						return -1;
					}
				}
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double waited = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (waited > 1.0) {
			errno = magic == SMA_MAGIC ? EAGAIN : EPROTO;
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	if (adopt(a, o->dev, o->ino) < 0)
		return -1;
	if (!(a->flags & SMA_RDONLY) && sma__sem_gone(a) && sma__lock(a) == 0) {
		/* Its set was removed: the arena heals (1_sem.c). */
		sma__sem_heal_locked(a);
		sma__unlock(a);
	}
	return 0;
}

static sma_t *open_impl(key_t key, int flags, size_t size, mode_t mode, uint64_t dev, uint64_t ino)
{
	sma__init_once();
	if (flags & ~(SMA_CREATE | SMA_EXCL | SMA_RDONLY)) {
		errno = EINVAL;
		return NULL;
	}
	int create = flags & SMA_CREATE;
	if (create && (flags & SMA_EXCL) && size < SMA_MIN_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	if (create && (flags & SMA_RDONLY)) {
		errno = EINVAL;
		return NULL;
	}
	mode = mode ? (mode & 0777) : 0600;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t segsize = align_up(size < PAGE ? PAGE : size, pg > (long)PAGE ? (uint64_t)pg : PAGE);

	if (create && key == IPC_PRIVATE && size < SMA_MIN_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	for (int tries = 0; tries < 8; tries++) {
		int shmid = -1, made = 0;
		if (create) {
			if (key == IPC_PRIVATE || size >= SMA_MIN_SIZE) {
				shmid = shmget(key, segsize, IPC_CREAT | IPC_EXCL | (int)mode);
				if (shmid >= 0)
					made = 1;
				else if (errno != EEXIST || key == IPC_PRIVATE)
					return NULL; /* EINVAL past shmmax, ENOSPC, ENOMEM, EACCES */
				else if (flags & SMA_EXCL)
					return NULL;
			}
		}
		if (!made) {
			if (key == IPC_PRIVATE) {
				errno = ENOENT;
				return NULL;
			}
			shmid = shmget(key, 0, 0);
			if (shmid < 0) {
				if (errno == ENOENT && create && size < SMA_MIN_SIZE)
					errno = EINVAL;
				if (errno == ENOENT && create)
					continue; /* removed in between: create it */
				return NULL;
			}
		}
		struct opening o = { .create = create, .made = made, .mode = mode, .key = key, .dev = dev, .ino = ino };
		struct sma *a = attach(shmid, made ? 0 : flags, &o.ds);
		if (!a) {
			int e = errno;
			if (made)
				shmctl(shmid, IPC_RMID, NULL);
			if (e == EINVAL || e == EIDRM)
				continue; /* removed in between */
			errno = e;
			return NULL;
		}
		if (key != IPC_PRIVATE)
			a->key = key;
		if (!made)
			o.mode = o.ds.shm_perm.mode & 0777; /* the segment's, for its set */
		if (settle(a, &o) < 0) {
			int e = errno;
			if (made)
				shmctl(shmid, IPC_RMID, NULL);
			errno = e;
			detach_free(a);
			return NULL;
		}
		sma__registry_add(a);
		return a;
	}
	errno = EAGAIN;
	return NULL;
}

sma_t *sma_open_key(key_t key, int flags, size_t size, mode_t mode)
{
	return open_impl(key, flags, size, mode, 0, 0);
}

/*
 * The path's file, opened and share-locked (flock) while an SMA_CREATE
 * open runs, so that a caller whose create failed removes the file it
 * made only when no other caller is using it: the path of an arena
 * another caller made is never removed.  -1 if the path is gone or was
 * replaced between the stat and the lock (the caller looks again).
 */
static int path_hold(const char *path, mode_t mode, int *made, struct stat *st)
{
	*made = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, mode);
		*made = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			return -2; /* made by another caller meanwhile: again */
	}
	if (fd < 0)
		return -1;
	struct stat now;
	if (flock(fd, LOCK_SH) < 0 || fstat(fd, st) < 0 || stat(path, &now) < 0 || now.st_ino != st->st_ino ||
	    now.st_dev != st->st_dev) {
		close(fd);
		*made = 0;
		return -2;
	}
	return fd;
}

/* A create that made the path failed: the file goes, unless another caller
 * holds it or an arena lives on its key. */
static void path_release_failed(const char *path, int fd, key_t key, const struct stat *st)
{
	struct stat now;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && (key == (key_t)-1 || shmget(key, 0, 0) < 0) &&
	    stat(path, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev)
		unlink(path);
}

sma_t *sma_open(const char *path, int flags, size_t size, mode_t mode)
{
	struct stat st;
	if (!path || !*path || (flags & ~(SMA_CREATE | SMA_EXCL | SMA_RDONLY))) {
		errno = EINVAL;
		return NULL;
	}
	if ((flags & SMA_CREATE) && (flags & SMA_EXCL) && size < SMA_MIN_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	if (!(flags & SMA_CREATE)) {
		if (stat(path, &st) < 0)
			return NULL;
		key_t key = ftok(path, SMA_PROJ_ID);
		return key == (key_t)-1 ? NULL
			: open_impl(key, flags, size, mode, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	}
	int fd, made = 0;
	for (int tries = 0;; tries++) {
		fd = path_hold(path, mode ? (mode & 0777) : 0600, &made, &st);
		if (fd >= 0)
			break;
		if (fd == -1 || tries == 100) {
			if (fd == -2)
				errno = EAGAIN;
			/* A file we cannot open (no read permission): go on
			 * without the lock, and never remove it. */
			if (errno != EACCES || stat(path, &st) < 0)
				return NULL;
			fd = -1;
			break;
		}
	}
	key_t key = ftok(path, SMA_PROJ_ID);
	sma_t *a = key == (key_t)-1 ? NULL
		: open_impl(key, flags, size, mode, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	if (fd >= 0) {
		int e = errno;
		if (!a && made)
			path_release_failed(path, fd, key, &st);
		close(fd);
		errno = e;
	}
	return a;
}

sma_t *sma_open_id(int shmid, int flags)
{
	sma__init_once();
	if (flags & ~(SMA_RDONLY | SMA_CREATE | SMA_EXCL)) {
		errno = EINVAL;
		return NULL;
	}
	struct opening o = { 0 };
	if (shmctl(shmid, IPC_STAT, &o.ds) < 0) {
		if (errno == EINVAL || errno == EIDRM)
			errno = ENOENT;
		return NULL;
	}
	if (o.ds.shm_perm.mode & SHM_DEST) {
		errno = ENOENT; /* destroyed: nobody may open it any more */
		return NULL;
	}
	struct sma *a = attach(shmid, flags & SMA_RDONLY, &o.ds);
	if (!a)
		return NULL;
	if (settle(a, &o) < 0) {
		detach_free(a);
		return NULL;
	}
	sma__registry_add(a);
	return a;
}

/* ---- images ------------------------------------------------------------------- */

static struct sma *image_new(const void *image, size_t len)
{
	struct sma *a = calloc(1, sizeof *a);
	void *copy = NULL;
	if (!a || posix_memalign(&copy, PAGE, len) != 0) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(copy, image, len);
	a->base = copy;
	a->h = copy;
	a->size = len;
	a->shmid = -1;
	sma__segs_init(a);
	a->semid = -1;
	a->key = IPC_PRIVATE;
	a->flags = SMA_RDONLY;
	a->image = 1;
	return a;
}

sma_t *sma_open_image(const void *image, size_t len)
{
	sma__init_once();
	if (!image || len < MIN_SEGMENT || len % PAGE) {
		errno = image ? EPROTO : EINVAL;
		return NULL;
	}
	struct sma *a = image_new(image, len);
	if (!a)
		return NULL;
	struct opening o = { 0 };
	if (settle(a, &o) < 0) {
		int e = errno == EAGAIN ? EPROTO : errno;
		sma__image_free(a);
		errno = e;
		return NULL;
	}
	if (atomic_load(&a->h->nsegs) != 1) {
		/* An image is one segment: a grown arena's first alone
		 * names memory it does not hold. */
		sma__image_free(a);
		errno = EPROTO;
		return NULL;
	}
	sma__registry_add(a);
	return a;
}

/* A private copy of the arena a has attached, as an image: the checker
 * repairs a copy where it may not repair the arena.  NULL with errno. */
struct sma *sma__image_of(const struct sma *a)
{
	struct sma *c = image_new(a->base, a->size);
	if (!c)
		return NULL;
	/* The added segments too, as private copies. */
	uint32_t n = atomic_load(&a->h->nsegs);
	for (unsigned k = 1; k < n && k < MAX_SEGS; k++) {
		const char *src = sma__seg_attach(a, k);
		void *copy = NULL;
		if (!src || posix_memalign(&copy, PAGE, a->seg_size[k]) != 0) {
			sma__image_free(c);
			errno = ENOMEM;
			return NULL;
		}
		memcpy(copy, src, a->seg_size[k]);
		c->seg_size[k] = a->seg_size[k];
		atomic_fetch_add(&c->mapped, a->seg_size[k]);
		atomic_store(&c->seg_base[k], (char *)copy);
	}
	if (adopt(c, 0, 0) < 0) {
		sma__image_free(c);
		return NULL;
	}
	c->hid = (uint64_t)-1; /* in no registry: no thread has a slot in it */
	return c;
}

void sma__image_free(struct sma *a)
{
	sma__segs_forget(a);
	free(a->base);
	free(a);
}

/* ---- closing -------------------------------------------------------------- */

int sma_close(sma_t *a)
{
	if (!a) {
		errno = EINVAL;
		return -1;
	}
	if (a->image) {
		sma__registry_remove(a);
		sma__image_free(a);
		return 0;
	}
	sma__slots_release_process(a);
	sma__tls_forget(a);
	sma__registry_remove(a);
	mc_handle_close(a);
	sma__segs_forget(a);
	/* The last one out of a destroyed arena removes its semaphore set:
	 * once the segment is gone, nobody else will (sma__peek_detach). */
	sma__peek_detach(a->h, a->shmid);
	free(a);
	return 0;
}

int sma_destroy(sma_t *a)
{
	if (!handle_writable(a))
		return -1;
	if (shmctl(a->shmid, IPC_RMID, NULL) < 0)
		return -1;
	sma__segs_remove(a);
	a->destroyed = 1;
	return sma_close(a);
}

int sma_shmid(const sma_t *a) { return a ? a->shmid : -1; }
key_t sma_key(const sma_t *a) { return a ? a->key : IPC_PRIVATE; }
int sma_semid(const sma_t *a) { return a ? (a->image ? a->semid : LOAD(a->h->semid)) : -1; }
const char *sma_version(void) { return SMA_VERSION; }
