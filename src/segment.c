/*
 * segment.c -- the arena's identity: creating, initialising, attaching,
 * closing and destroying the segment and its semaphore set.
 *
 * Initialisation happens exactly once, by the process whose shmget(...,
 * IPC_CREAT | IPC_EXCL) made the segment:
 *
 *   1. init_pid, init_start, init = INIT_BUSY, semid = -1; then magic
 *      (the mark: nobody ever writes a segment that lacks it)
 *   2. geometry, heap, semaphore set (same key, same mode)
 *   3. init = INIT_READY (release)
 *
 * An opener waits about a second for INIT_READY.  INIT_BUSY by a creator
 * that is gone: an SMA_CREATE opener takes the initialisation over (one
 * wins a compare-and-swap on init_pid); other opens fail with EPROTO.
 *
 * Invariants:
 *   G1  magic == SMA_MAGIC, layout == SMA_LAYOUT, size == shm_segsz.
 *   G2  header < slot table < page map < name index < heap, all inside the
 *       segment; heap_end + 16 == size.
 *   G3  an arena opened by path records that path's device and inode.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

pthread_mutex_t sma__registry_lock = PTHREAD_MUTEX_INITIALIZER;
struct sma *sma__registry;
static uint64_t g_next_hid = 1;

/* Call with sma__registry_lock held. */
struct sma *sma__registry_find(uint64_t hid)
{
	for (struct sma *a = sma__registry; a; a = a->reg_next)
		if (a->hid == hid)
			return a;
	return NULL;
}

static void registry_add(struct sma *a)
{
	pthread_mutex_lock(&sma__registry_lock);
	a->hid = g_next_hid++;
	a->reg_next = sma__registry;
	sma__registry = a;
	pthread_mutex_unlock(&sma__registry_lock);
}

static void registry_remove(struct sma *a)
{
	pthread_mutex_lock(&sma__registry_lock);
	for (struct sma **p = &sma__registry; *p; p = &(*p)->reg_next)
		if (*p == a) {
			*p = a->reg_next;
			break;
		}
	pthread_mutex_unlock(&sma__registry_lock);
}

/* ---- the semaphore set ---------------------------------------------------- */

/* Is semid the lock of some attached arena?  (Looks at every segment the
 * caller can attach.) */
static int sem_in_use(int semid)
{
	struct shm_info info;
	int maxid = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
	for (int i = 0; i <= maxid; i++) {
		struct shmid_ds ds;
		int id = shmctl(i, SHM_STAT, &ds);
		if (id < 0 || ds.shm_segsz < sizeof(struct sma_header))
			continue;
		struct sma_header *h = shmat(id, NULL, SHM_RDONLY);
		if (h == (void *)-1)
			continue;
		int used = atomic_load(&h->magic) == SMA_MAGIC && h->semid == semid;
		sma__peek_detach(h, id);
		if (used)
			return 1;
	}
	return 0;
}

/*
 * Detaches a segment attached only to look at it (sma ls, the orphan
 * check).  If its arena was destroyed meanwhile and this was the last
 * attachment, its semaphore set goes too: the process that destroyed it
 * left that to the last one out.
 */
void sma__peek_detach(const struct sma_header *h, int shmid)
{
	struct shmid_ds ds;
	int semid = -1;
	if (atomic_load(&((struct sma_header *)h)->magic) == SMA_MAGIC)
		semid = h->semid;
	int last = shmctl(shmid, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST) && ds.shm_nattch <= 1;
	shmdt(h);
	if (last && semid >= 0)
		semctl(semid, 0, IPC_RMID);
}

static int sem_create(key_t key, mode_t mode)
{
	int semid = -1;
	if (key != IPC_PRIVATE) {
		semid = semget(key, 2, IPC_CREAT | IPC_EXCL | mode);
		if (semid < 0 && errno == EEXIST) {
			/* A set of an arena that was destroyed: an orphan if no
			 * segment uses it any more. */
			int old = semget(key, 0, 0);
			if (old >= 0 && !sem_in_use(old) && semctl(old, 0, IPC_RMID) == 0)
				semid = semget(key, 2, IPC_CREAT | IPC_EXCL | mode);
		}
	}
	if (semid < 0)
		semid = semget(IPC_PRIVATE, 2, IPC_CREAT | mode);
	if (semid < 0)
		return -1;
	unsigned short vals[2] = { 1, SEM_MARK };
	union semun arg = { .array = vals };
	struct sembuf touch[2] = { { 1, 1, 0 }, { 1, -1, 0 } }; /* sets sem_otime */
	if (semctl(semid, 0, SETALL, arg) < 0 || semop(semid, touch, 2) < 0) {
		int e = errno;
		semctl(semid, 0, IPC_RMID);
		errno = e;
		return -1;
	}
	return semid;
}

/* ---- initialisation --------------------------------------------------------- */

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static int initialise(struct sma *a, key_t key, mode_t mode, uint64_t dev, uint64_t ino)
{
	struct sma_header *h = a->h;
	uint64_t size = a->size;

	/* Everything past the mark starts afresh (a takeover may find junk). */
	memset((char *)h + offsetof(struct sma_header, layout) + sizeof h->layout, 0,
	       HDR_BYTES - offsetof(struct sma_header, layout) - sizeof h->layout);
	h->init_pid = sma__getpid();
	h->init_start = sma__self_start();
	atomic_store(&h->init, INIT_BUSY);
	h->semid = -1;
	h->layout = SMA_LAYOUT;
	h->ptr_bits = 64;
	h->size = size;
	h->path_dev = dev;
	h->path_ino = ino;
	h->key = (int32_t)key;
	h->created = (int64_t)time(NULL);

	uint32_t nslots = (uint32_t)(size / (256 * 1024));
	h->nslots = nslots < 4 ? 4 : nslots > 256 ? 256 : nslots;
	uint32_t nb = 64;
	while (nb < 65536 && (uint64_t)nb * 16384 < size)
		nb <<= 1;
	h->nbuckets = nb;
	h->npages = size / PAGE;
	h->slots_off = HDR_BYTES;
	h->pmap_off = align_up(h->slots_off + (uint64_t)h->nslots * SLOT_BYTES, 64);
	h->buckets_off = align_up(h->pmap_off + h->npages * 4, 64);
	h->heap_off = align_up(h->buckets_off + (uint64_t)nb * 8, 64);
	h->heap_end = size - 16;
	if (h->heap_end < h->heap_off + 64 * 1024) {
		errno = EINVAL;
		return -1;
	}
	memset(at(a, h->slots_off), 0, h->heap_off - h->slots_off);
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

	int semid = sem_create(key, mode);
	if (semid < 0)
		return -1;
	h->semid = semid;
	a->semid = semid;
	atomic_store_explicit(&h->init, INIT_READY, memory_order_release);
	return 0;
}

/* ---- attaching ------------------------------------------------------------ */

static struct sma *attach(int shmid, int flags)
{
	struct shmid_ds ds;
	if (shmctl(shmid, IPC_STAT, &ds) < 0)
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
	a->size = ds.shm_segsz;
	a->shmid = shmid;
	a->key = ds.shm_perm.__key;
	a->flags = flags & SMA_RDONLY;
	a->semid = -1;
	return a;
}

static void detach_free(struct sma *a)
{
	int e = errno;
	shmdt(a->base);
	free(a);
	errno = e;
}

/*
 * Waits for the segment to be a ready arena and checks it (G1, G3).
 * 0, or -1 with errno (and then a takeover may have been done: *init is
 * set when the caller must initialise).
 */
static int await_ready(struct sma *a, int create, uint64_t dev, uint64_t ino, int *must_init)
{
	struct sma_header *h = a->h;
	*must_init = 0;
	if (a->size < HDR_BYTES + 64 * 1024) {
		errno = EPROTO;
		return -1;
	}
	struct timespec t0, now, nap = { 0, 2 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
		if (magic != 0 && magic != SMA_MAGIC) {
			errno = EPROTO;
			return -1;
		}
		uint32_t st = atomic_load_explicit(&h->init, memory_order_acquire);
		if (magic == SMA_MAGIC && st == INIT_READY)
			break;
		if (a->image) {
			errno = EPROTO; /* an image does not finish initialising */
			return -1;
		}
		if (magic == SMA_MAGIC && st == INIT_BUSY) {
			int32_t pid = atomic_load((_Atomic int32_t *)&h->init_pid);
			if (pid && !sma__proc_alive(pid, h->init_start)) {
				if (!create || (a->flags & SMA_RDONLY)) {
					errno = EPROTO;
					return -1;
				}
				int32_t expect = pid;
				if (atomic_compare_exchange_strong((_Atomic int32_t *)&h->init_pid, &expect,
								   sma__getpid())) {
					h->init_start = sma__self_start();
					if (h->semid >= 0)
						semctl(h->semid, 0, IPC_RMID);
					*must_init = 1;
					return 0;
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
	if (h->layout != SMA_LAYOUT || h->ptr_bits != 64 || sma__cache_tables(a, h->small_cap) < 0 ||
	    !geometry_ok(a)) {
		errno = EPROTO;
		return -1;
	}
	if ((dev || ino) && (h->path_dev != dev || h->path_ino != ino)) {
		errno = EPROTO; /* made for another path: an ftok collision */
		return -1;
	}
	a->semid = h->semid;
	if (!(a->flags & SMA_RDONLY)) {
		struct semid_ds sds;
		union semun arg = { .buf = &sds };
		if (semctl(a->semid, 0, IPC_STAT, arg) < 0) {
			if (errno == EINVAL || errno == EIDRM)
				errno = EIDRM; /* the lock was removed under the arena */
			return -1;
		}
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
				shmid = shmget(key, segsize, IPC_CREAT | IPC_EXCL | mode);
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
		struct sma *a = attach(shmid, made ? 0 : flags);
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
		int must_init = made;
		if (made) {
			struct sma_header *h = a->h;
			h->init_pid = sma__getpid();
			h->init_start = sma__self_start();
			h->semid = -1;
			atomic_store(&h->init, INIT_BUSY);
			atomic_store_explicit(&h->magic, SMA_MAGIC, memory_order_release);
			STEP();
		} else if (await_ready(a, create, dev, ino, &must_init) < 0) {
			detach_free(a);
			return NULL;
		}
		if (must_init && initialise(a, key, mode, dev, ino) < 0) {
			int e = errno;
			if (made)
				shmctl(shmid, IPC_RMID, NULL);
			errno = e;
			detach_free(a);
			return NULL;
		}
		a->semid = a->h->semid;
		registry_add(a);
		return a;
	}
	errno = EAGAIN;
	return NULL;
}

sma_t *sma_open_key(key_t key, int flags, size_t size, mode_t mode)
{
	return open_impl(key, flags, size, mode, 0, 0);
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
	int made = 0;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT || !(flags & SMA_CREATE))
			return NULL;
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode ? (mode & 0777) : 0600);
		if (fd < 0 && errno != EEXIST)
			return NULL;
		made = fd >= 0;
		if (fd >= 0)
			close(fd);
		if (stat(path, &st) < 0)
			return NULL;
	}
	key_t key = ftok(path, SMA_PROJ_ID);
	sma_t *a = key == (key_t)-1 ? NULL
		: open_impl(key, flags, size, mode, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	if (!a && made) {
		int e = errno;
		unlink(path); /* a failed create leaves nothing behind */
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
	struct shmid_ds ds;
	if (shmctl(shmid, IPC_STAT, &ds) < 0) {
		if (errno == EINVAL || errno == EIDRM)
			errno = ENOENT;
		return NULL;
	}
	if (ds.shm_perm.mode & SHM_DEST) {
		errno = ENOENT; /* destroyed: nobody may open it any more */
		return NULL;
	}
	struct sma *a = attach(shmid, flags & SMA_RDONLY);
	if (!a)
		return NULL;
	int must_init;
	if (await_ready(a, 0, 0, 0, &must_init) < 0) {
		detach_free(a);
		return NULL;
	}
	registry_add(a);
	return a;
}

/* ---- closing -------------------------------------------------------------- */

sma_t *sma_open_image(const void *image, size_t len)
{
	sma__init_once();
	if (!image || len < HDR_BYTES + 64 * 1024 || len % PAGE) {
		errno = image ? EPROTO : EINVAL;
		return NULL;
	}
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
	a->semid = -1;
	a->key = IPC_PRIVATE;
	a->flags = SMA_RDONLY;
	a->image = 1;
	int must_init;
	if (await_ready(a, 0, 0, 0, &must_init) < 0) {
		int e = errno == EAGAIN ? EPROTO : errno;
		free(copy);
		free(a);
		errno = e;
		return NULL;
	}
	a->semid = a->h->semid;
	registry_add(a);
	return a;
}

int sma_close(sma_t *a)
{
	if (!a) {
		errno = EINVAL;
		return -1;
	}
	if (a->image) {
		registry_remove(a);
		free(a->base);
		free(a);
		return 0;
	}
	sma__slots_release_process(a);
	sma__tls_forget(a);
	registry_remove(a);

	/* The last one out of a destroyed arena removes its semaphore set. */
	struct shmid_ds ds;
	int locked = !(a->flags & SMA_RDONLY) && sma__lock(a) == 0;
	if (shmctl(a->shmid, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST) && ds.shm_nattch <= 1) {
		semctl(a->semid, 0, IPC_RMID);
		locked = 0;
	}
	if (locked) {
		a->h->lock_tid = 0;
		atomic_store((_Atomic int32_t *)&a->h->lock_pid, 0);
	}
	int semid = a->semid;
	shmdt(a->base);
	if (locked) {
		struct sembuf op = { 0, 1, SEM_UNDO };
		semop(semid, &op, 1);
	}
	free(a);
	return 0;
}

int sma_destroy(sma_t *a)
{
	if (!a) {
		errno = EINVAL;
		return -1;
	}
	if (a->flags & SMA_RDONLY) {
		errno = EROFS;
		return -1;
	}
	if (shmctl(a->shmid, IPC_RMID, NULL) < 0)
		return -1;
	a->destroyed = 1;
	return sma_close(a);
}

int sma_shmid(const sma_t *a) { return a ? a->shmid : -1; }
key_t sma_key(const sma_t *a) { return a ? a->key : IPC_PRIVATE; }
int sma_semid(const sma_t *a) { return a ? a->semid : -1; }
const char *sma_version(void) { return SMA_VERSION; }
