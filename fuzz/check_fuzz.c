/*
 * check_fuzz.c -- feeds mutated segment images to the checker, the walk,
 * the statistics and the name index (libFuzzer).
 *
 * Random bytes never look like an arena, so the fuzzer mutates a real one:
 * at start-up this makes a small arena, fills it with objects of every kind
 * (slabs, heap blocks, named objects, a thread's cache), frees some, and
 * keeps a copy of its bytes.  Each input is a list of patches, 12 bytes
 * each (a 32-bit position, 8 bytes to write there), applied to a copy of
 * that image, which is then opened with sma_open_image() and inspected.
 * Nothing may crash, hang or trip a sanitizer, whatever the bytes say.
 *
 *   fuzz/run.sh SECONDS      builds with clang and runs it
 */
#include <sma.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#define IMAGE_SIZE ((size_t)256 * 1024)

static unsigned char *g_image;
static size_t g_len;

static void make_image(void)
{
	sma_t *a = sma_open_key(0 /* IPC_PRIVATE */, SMA_CREATE, IMAGE_SIZE, 0600);
	if (!a) {
		perror("check_fuzz: sma_open_key");
		exit(1);
	}
	sma_off_t keep[64];
	for (int i = 0; i < 64; i++)
		keep[i] = sma_alloc(a, (size_t)(16 + (i * 37) % 3000));
	for (int i = 0; i < 64; i += 3)
		sma_free(a, keep[i]); /* some go to this thread's cache */
	int created;
	sma_named_alloc(a, "fuzz.root", 128, &created);
	sma_named_alloc(a, "fuzz.other", 900, &created);
	sma_alloc(a, 20000);
	g_len = IMAGE_SIZE;
	g_image = malloc(g_len);
	char *base = (char *)sma_ptr(a, 16) - 16;
	/* The objects in this thread's cache are poisoned (sma(3), DEBUGGING
	 * YOUR OWN MEMORY BUGS): the copy of the whole segment reads them on
	 * purpose, and the arena is destroyed right after. */
	ASAN_UNPOISON_MEMORY_REGION(base, g_len);
	memcpy(g_image, base, g_len);
	sma_destroy(a);
}

static int on_problem(const char *p, void *arg) { (void)p; (void)arg; return 0; }
static int on_block(sma_off_t off, size_t size, int in_use, void *arg)
{
	*(size_t *)arg += size + (size_t)off * (size_t)in_use;
	return 0;
}
static int on_name(const char *name, sma_off_t off, size_t size, void *arg)
{
	*(size_t *)arg += strlen(name) + size + off;
	return 0;
}
static int on_slot(const struct sma_slot_info *s, void *arg)
{
	*(size_t *)arg += s->cached;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_image)
		make_image();
	unsigned char *img = malloc(g_len);
	memcpy(img, g_image, g_len);
	for (size_t i = 0; i + 12 <= size; i += 12) {
		uint32_t pos;
		memcpy(&pos, data + i, 4);
		pos %= (uint32_t)(g_len - 8);
		memcpy(img + pos, data + i + 4, 8);
	}
	sma_t *a = sma_open_image(img, g_len);
	free(img);
	if (!a)
		return 0;
	size_t sum = 0;
	struct sma_stats st;
	struct sma_info in;
	struct sma_class_stats cs;
	sma_check_report(a, on_problem, NULL);
	sma_walk(a, on_block, &sum);
	sma_stats(a, &st);
	sma_info(a, &in);
	for (unsigned c = 0; c < in.nclasses + 1; c++)
		sma_class_stats(a, c, &cs);
	sma_slots_each(a, on_slot, &sum);
	sma_named_each(a, on_name, &sum);
	sma_named_find(a, "fuzz.root");
	sma_usable_size(a, (sma_off_t)sum % g_len);
	sma_close(a);
	return 0;
}
