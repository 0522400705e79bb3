/*
 * 5_problems.c -- the list of problems one look of the checker found, and
 * the invariant each names (its text up to the first ':').
 */
#include "5_problems.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int sma__ck_report(void *ctx, const char *fmt, ...)
{
	struct ck *c = ctx;
	if (c->problems >= MAX_PROBLEMS) {
		c->stop = 1;
		return 0;
	}
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	c->msg[c->problems++] = strdup(buf);
	return 0;
}

void sma__ck_free(struct ck *c)
{
	for (int i = 0; i < c->problems; i++)
		free(c->msg[i]);
	free(c->cached);
}

/* The invariant a problem names: its text up to the first ':'. */
static size_t tag_len(const char *m)
{
	const char *p = m ? strchr(m, ':') : NULL;
	return p ? (size_t)(p - m) : 0;
}

int sma__ck_has_tag(const struct ck *c, const char *m)
{
	size_t n = tag_len(m);
	for (int i = 0; i < c->problems; i++)
		if (c->msg[i] && tag_len(c->msg[i]) == n && strncmp(c->msg[i], m, n) == 0)
			return 1;
	return 0;
}

