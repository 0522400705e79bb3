/*
 * words.c -- the words of a text, for the word-count examples.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "words.h"

char *words_load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	if (!(buf = malloc((size_t)n + 1)))
		goto fail;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		errno = EIO;
		goto fail;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return buf;

fail:
	n = errno;
	free(buf);
	fclose(f);
	errno = (int)n;
	return NULL;
}

long words_lines(const char *text, size_t len)
{
	long lines = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (text[i] == '\n')
			lines++;
	return lines + (len > 0 && text[len - 1] != '\n');
}

static int is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

long words_count(hm_t *hm, const char *text, size_t len, unsigned first,
		 unsigned step, long *created)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;
	long words = 0, added = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		if (line % step == first % step) {
			while (p < eol) {
				char word[WORD_MAX + 1];
				size_t n = 0;
				int rc;

				if (!is_letter(*p)) {
					p++;
					continue;
				}
				for (; p < eol && (is_letter(*p) ||
						   (*p == '\'' && p + 1 < eol &&
						    is_letter(p[1])));
				     p++)
					if (n < WORD_MAX)
						word[n++] = lower(*p);
				word[n] = '\0';
				words++;
				if (!hm)
					continue;
				if ((rc = hm_add(hm, word, 1)) < 0)
					return -1;
				added += rc;
			}
		}
		p = eol + 1;
		line++;
	}
	if (created)
		*created = added;
	return words;
}

struct top {
	struct word_count *v;
	int n, len;
};

/* a comes before b: more frequent, or as frequent and first in order */
static int before(const char *aw, int64_t ac, const struct word_count *b)
{
	return ac > b->count || (ac == b->count && strcmp(aw, b->word) < 0);
}

static int keep_top(const char *key, int64_t value, void *arg)
{
	struct top *t = arg;
	int i;

	if (t->len == t->n && !before(key, value, &t->v[t->n - 1]))
		return 0;
	if (t->len < t->n)
		t->len++;
	/* insertion into the sorted array, dropping the last */
	for (i = t->len - 1; i > 0 && before(key, value, &t->v[i - 1]); i--)
		t->v[i] = t->v[i - 1];
	snprintf(t->v[i].word, sizeof(t->v[i].word), "%s", key);
	t->v[i].count = value;
	return 0;
}

int words_top(hm_t *hm, struct word_count *top, int n)
{
	struct top t = { top, n, 0 };

	if (n <= 0)
		return 0;
	if (hm_each(hm, keep_top, &t) != 0)
		return -1;
	return t.len;
}
