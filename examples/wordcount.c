/*
 * wordcount.c -- several processes count the words of a text into one
 * shared hash map, and the result is checked against one process alone.
 *
 * usage: wordcount [-w WORKERS] [-r ROUNDS] [-n TOP] [FILE]
 *
 * Each of WORKERS processes counts every WORKERS-th line of FILE, ROUNDS
 * times over, into the map "wordcount.words" of one private arena.  Then
 * the parent counts FILE once, alone, into a second map and checks that the
 * shared map holds every word exactly ROUNDS times as often: no update lost,
 * no word entered twice.  The output is TAP, with the TOP most frequent
 * words as comments.  FILE defaults to examples/genesis.txt in $SMA_SRCDIR
 * (which make check sets) or in the current directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guard.h"
#include "hashmap.h"
#include "words.h"

#define ARENA_SIZE ((size_t)4 << 20)
#define NBUCKETS 4096

/* One worker: open the map by name, count its lines, exit 0 on success. */
static int worker(sma_t *a, const char *text, size_t len, unsigned w,
		  unsigned workers, unsigned rounds)
{
	hm_t *hm = hm_open(a, "wordcount.words", NBUCKETS);
	unsigned r;

	if (!hm)
		return 1;
	for (r = 0; r < rounds; r++)
		if (words_count(hm, text, len, w, workers, NULL) < 0)
			return 1;
	hm_close(hm);
	return 0;
}

struct compare {
	hm_t *expected;	/* the parent's own count */
	int64_t rounds;
	long keys;	/* keys seen in the shared map */
	long wrong;	/* keys whose count is not rounds times the expected */
	int64_t total;	/* sum of the shared counters */
};

static int compare_one(const char *key, int64_t value, void *arg)
{
	struct compare *c = arg;
	int64_t want;

	c->keys++;
	c->total += value;
	if (hm_get(c->expected, key, &want) != 0 || value != c->rounds * want) {
		if (c->wrong++ < 5)
			printf("# %s: %lld, expected %lld\n", key,
			       (long long)value, (long long)(c->rounds * want));
	}
	return 0;
}

static int count_keys(const char *key, int64_t value, void *arg)
{
	++*(long *)arg;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned workers = 4, rounds = 3, w, failed = 0;
	int ntop = 10, opt, i, ok, status = 1;
	char deffile[4096];
	const char *file, *srcdir = getenv("SMA_SRCDIR");
	struct compare cmp = { 0 };
	struct word_count top[32];
	struct sma_stats st;
	hm_t *words = NULL, *expected = NULL;
	long nwords, nkeys = 0;
	char *text = NULL;
	sma_t *a = NULL;
	size_t len;

	while ((opt = getopt(argc, argv, "w:r:n:")) != -1) {
		switch (opt) {
		case 'w': workers = (unsigned)atoi(optarg); break;
		case 'r': rounds = (unsigned)atoi(optarg); break;
		case 'n': ntop = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (workers < 1 || workers > 32 || rounds < 1 || ntop < 0 || ntop > 32 ||
	    argc - optind > 1)
		goto usage;
	snprintf(deffile, sizeof(deffile), "%s%sexamples/genesis.txt",
		 srcdir ? srcdir : "", srcdir ? "/" : "");
	file = optind < argc ? argv[optind] : deffile;
	if (!(text = words_load(file, &len))) {
		fprintf(stderr, "wordcount: %s: %s\n", file, strerror(errno));
		return 2;
	}

	printf("1..3\n");
	a = sma_open_key(IPC_PRIVATE, SMA_CREATE, ARENA_SIZE, 0600);
	if (!a) {
		printf("Bail out! sma_open_key: %s\n", strerror(errno));
		goto out;
	}
	guard_arena(a, 120);

	/* 1. The workers, each a process that inherits the arena handle. */
	for (w = 0; w < workers; w++) {
		pid_t pid = fork();

		if (pid < 0) {
			failed++;
			break;
		}
		if (pid == 0) {
			guard_in_child();
			_exit(worker(a, text, len, w, workers, rounds));
		}
		guard_child(pid);
	}
	for (;;) {
		int ws;

		if (wait(&ws) < 0)
			break;
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			failed++;
	}
	nwords = words_count(NULL, text, len, 0, 1, NULL);
	words = hm_open(a, "wordcount.words", NBUCKETS);
	ok = failed == 0 && words != NULL;
	printf("%s 1 - %u processes counted %u rounds of %s (%ld words each)\n",
	       ok ? "ok" : "not ok", workers, rounds,
	       strrchr(file, '/') ? strrchr(file, '/') + 1 : file, nwords);
	if (!ok)
		goto out;

	/* 2. The same text counted by this process alone, then compared. */
	expected = hm_open(a, "wordcount.expected", NBUCKETS);
	ok = expected != NULL &&
	     words_count(expected, text, len, 0, 1, NULL) == nwords &&
	     hm_each(expected, count_keys, &nkeys) == 0;
	if (ok) {
		cmp.expected = expected;
		cmp.rounds = rounds;
		ok = hm_each(words, compare_one, &cmp) == 0 && cmp.wrong == 0 &&
		     cmp.keys == nkeys && cmp.total == (int64_t)rounds * nwords;
	}
	printf("%s 2 - every one of %ld distinct words counted %u times as often "
	       "as by one process (%ld keys, total %lld)\n", ok ? "ok" : "not ok",
	       nkeys, rounds, cmp.keys, (long long)cmp.total);
	if (!ok)
		goto out;
	if (ntop > 0) {
		int n = words_top(words, top, ntop);

		printf("# the %d most frequent words:\n", n);
		for (i = 0; i < n; i++)
			printf("#   %-12s %lld\n", top[i].word, (long long)top[i].count);
	}

	/* 3. Freeing both maps leaves nothing behind. */
	ok = hm_free_all(words) == 0;
	ok = hm_free_all(expected) == 0 && ok;
	words = expected = NULL;
	ok = ok && sma_stats(a, &st) == 0 && st.live == 0 && st.used == 0 &&
	     sma_check(a) == 0;
	printf("%s 3 - freeing both maps leaves the arena empty and sma_check "
	       "clean\n", ok ? "ok" : "not ok");
	status = ok ? 0 : 1;

out:
	if (words)
		hm_close(words);
	if (expected)
		hm_close(expected);
	if (a && sma_destroy(a) != 0) {
		printf("# sma_destroy: %s\n", strerror(errno));
		status = 1;
	}
	free(text);
	return status;

usage:
	fprintf(stderr, "usage: wordcount [-w WORKERS] [-r ROUNDS] [-n TOP] [FILE]\n");
	return 2;
}
