/*
 * cmd_save.c -- sma save, and the images it writes: the bytes of a segment
 * in a file, which the read-only commands open with --image FILE (through
 * sma_open_image).
 *
 * save attaches the segment read-only and takes no lock, so a copy of an
 * arena in use may be torn: made of parts copied at slightly different
 * moments.  A copy is kept only once the checker passes on it; a torn one
 * is taken again.  An arena that is itself inconsistent never gives a
 * clean copy: its image is written as it is (that is what one wants to
 * look at), and the command exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define SAVE_TRIES 20	     /* copies taken before giving up on a clean one */
#define SAVE_PAUSE_NS 5000000 /* between two copies: 5 ms */

/* Reads all of fd into a malloc'd buffer; -1 with errno. */
static int read_all(int fd, unsigned char **out, size_t *len)
{
	size_t n = 0, cap = 1 << 20;
	unsigned char *buf = malloc(cap), *nb;
	ssize_t r;

	if (!buf)
		return -1;
	for (;;) {
		if (n == cap) {
			nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

sma_t *image_open(const char *file)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t len = 0;
	void *map;
	sma_t *a;
	int fd, err;

	fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		if (st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX) {
			errno = EPROTO;
			goto fail;
		}
		len = (size_t)st.st_size;
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			goto fail;
		a = sma_open_image(map, len);
		err = errno;
		munmap(map, len);
	} else {
		/* A pipe: sma check --image - < image. */
		if (read_all(fd, &buf, &len) < 0)
			goto fail;
		if (len == 0) {
			free(buf);
			errno = EPROTO;
			goto fail;
		}
		a = sma_open_image(buf, len);
		err = errno;
		free(buf);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	errno = err;
	return a;
fail:
	err = errno;
	if (fd != STDIN_FILENO)
		close(fd);
	errno = err;
	return NULL;
}

/* Writes len bytes of buf to fd; -1 with errno. */
static int write_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t r;

	while (len > 0) {
		r = write(fd, buf, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * Writes the image to file with permission mode (less the umask): through
 * a temporary file renamed into place, so that a failure leaves no half
 * image, unless file is something else than a regular file (a device, a
 * link), which is written through.  "-" is standard output.
 */
static int write_image(const char *file, const unsigned char *buf, size_t len,
		       mode_t mode)
{
	char tmp[4200];
	struct stat st;
	mode_t mask;
	int fd, err;

	if (strcmp(file, "-") == 0)
		return write_all(STDOUT_FILENO, buf, len);
	if (lstat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			return -1;
		}
		fd = open(file, O_WRONLY | O_TRUNC);
		if (fd < 0)
			return -1;
		if (write_all(fd, buf, len) < 0) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		return close(fd);
	}
	if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", file) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, mode & 0666 & ~mask) < 0 || write_all(fd, buf, len) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		errno = err;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, file) < 0) {
		err = errno;
		unlink(tmp);
		errno = err;
		return -1;
	}
	return 0;
}

/* Copies the segment into buf until a copy checks clean: 0 when one did,
 * 1 when none did in SAVE_TRIES, -1 with errno when an image of it cannot
 * be opened at all. */
static int copy_clean(const void *seg, unsigned char *buf, size_t len,
		      struct sma_stats *st)
{
	struct timespec pause = { 0, SAVE_PAUSE_NS };
	int i, r = 1, err = 0;
	sma_t *img;

	for (i = 0; i < SAVE_TRIES && r != 0; i++) {
		if (i)
			nanosleep(&pause, NULL);
		memcpy(buf, seg, len);
		img = sma_open_image(buf, len);
		if (!img) {
			/* A header caught in the middle of a change reads as
			 * no arena; another copy will tell. */
			err = errno;
			continue;
		}
		err = 0;
		if (sma_check(img) == 0) {
			r = 0;
			if (sma_stats(img, st) < 0)
				memset(st, 0, sizeof *st);
		}
		sma_close(img);
	}
	if (r != 0 && err) {
		errno = err;
		return -1;
	}
	return r;
}

int cmd_save(const struct cmd *c, const struct opts *o)
{
	struct shmid_ds ds;
	struct sma_stats st = { 0 };
	unsigned char *buf = NULL;
	char b1[32], b2[32], k[16];
	void *seg = (void *)-1;
	int r = EXIT_FAIL, clean, shmid;
	size_t len;
	sma_t *a;

	a = open_target(c, o, SMA_RDONLY);
	if (!a)
		return EXIT_FAIL;
	shmid = sma_shmid(a);
	if (shmctl(shmid, IPC_STAT, &ds) < 0) {
		fail(c, "%s: %s", target_name(o), errstr(errno));
		goto out;
	}
	len = ds.shm_segsz;
	seg = shmat(shmid, NULL, SHM_RDONLY);
	buf = malloc(len ? len : 1);
	if (seg == (void *)-1 || !buf) {
		fail(c, "%s: %s", target_name(o),
		     errstr(seg == (void *)-1 ? errno : ENOMEM));
		goto out;
	}
	clean = copy_clean(seg, buf, len, &st);
	if (clean < 0) {
		fail(c, "%s: a copy of the segment is not an image this build "
			"can read: %s", target_name(o), errstr(errno));
		goto out;
	}
	if (clean == 1 && sma_check(a) == 0) {
		fail(c, "%s: the arena kept changing while it was copied: no "
			"consistent copy in %d tries; try again",
		     target_name(o), SAVE_TRIES);
		goto out;
	}
	if (write_image(o->file, buf, len, ds.shm_perm.mode) < 0) {
		fail(c, "%s: %s", o->file, errstr(errno));
		goto out;
	}
	if (strcmp(o->file, "-") != 0) {
		if (clean == 0)
			printf("saved %s (key %s, shmid %d) to %s: %s, "
			       "consistent, %" PRIu64 " live %s in %s\n",
			       arena_label(o, sma_key(a)), fmt_key(k, sma_key(a)),
			       shmid, o->file, fmt_size(b1, len), st.live,
			       plural(st.live, "object", "objects"),
			       fmt_size(b2, st.used));
		else
			printf("saved %s (key %s, shmid %d) to %s: %s, "
			       "inconsistent\n",
			       arena_label(o, sma_key(a)), fmt_key(k, sma_key(a)),
			       shmid, o->file, fmt_size(b1, len));
	}
	if (clean == 0) {
		r = EXIT_OK;
	} else {
		fail(c, "%s: the arena is inconsistent; the image shows it as "
			"it is (sma check --image %s lists the problems)",
		     target_name(o), o->file);
		r = EXIT_PROBLEMS;
	}
out:
	if (seg != (void *)-1)
		shmdt(seg);
	free(buf);
	sma_close(a);
	return r;
}
