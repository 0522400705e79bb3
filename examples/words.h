/*
 * words.h -- the words of a text, for the word-count examples.
 *
 * A word is a run of ASCII letters, with apostrophes allowed between
 * letters ("don't"), folded to lower case and cut at WORD_MAX bytes.
 */
#ifndef WORDS_H
#define WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"

#define WORD_MAX 31

struct word_count {
	char word[WORD_MAX + 1];
	int64_t count;
};

/* Reads a whole file into a NUL-terminated malloc'd buffer; NULL with errno. */
char *words_load(const char *path, size_t *len);

/* Lines in text (a last line without a newline counts). */
long words_lines(const char *text, size_t len);

/*
 * Adds 1 to the counter of every word of lines first, first + step,
 * first + 2 * step, ... (lines count from 0) in hm, or only counts them
 * when hm is NULL.  Returns the number of words and, in *created when not
 * NULL, how many keys this call added to the map; -1 with errno on failure.
 */
long words_count(hm_t *hm, const char *text, size_t len, unsigned first,
		 unsigned step, long *created);

/*
 * Fills top[0..n) with the n most frequent words of hm, most frequent first
 * (ties in alphabetical order); returns how many it found, -1 with errno.
 */
int words_top(hm_t *hm, struct word_count *top, int n);

#endif /* WORDS_H */
