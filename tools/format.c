/*
 * format.c -- numbers as text and text as numbers: sizes, keys, modes,
 * times, names, the width and character set of the output, and a small
 * JSON writer.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <langinfo.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

const char *fmt_size(char buf[32], uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	double v = (double)bytes;
	int u = 0;

	if (bytes < 1024) {
		snprintf(buf, 32, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= 1024.0 && u < 6) {
		v /= 1024.0;
		u++;
	}
	/* Three significant digits ("3.97 MiB", "12.5 MiB", "181 KiB"),
	 * without trailing zeros ("4 MiB"). */
	if (v < 9.995) {
		snprintf(buf, 32, "%.2f", v);
	} else if (v < 99.95) {
		snprintf(buf, 32, "%.1f", v);
	} else {
		snprintf(buf, 32, "%.0f", v);
	}
	if (strchr(buf, '.')) {
		size_t n = strlen(buf);

		while (buf[n - 1] == '0')
			buf[--n] = '\0';
		if (buf[n - 1] == '.')
			buf[--n] = '\0';
	}
	snprintf(buf + strlen(buf), 32 - strlen(buf), " %s", unit[u]);
	return buf;
}

const char *fmt_key(char buf[16], key_t key)
{
	snprintf(buf, 16, "0x%08x", (unsigned)(uint32_t)key);
	return buf;
}

const char *fmt_time(char buf[40], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !localtime_r(&tt, &tm) ||
	    strftime(buf, 40, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		snprintf(buf, 40, t ? "%" PRId64 : "never", t);
	return buf;
}

const char *fmt_mode(char buf[24], mode_t mode)
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	for (i = 0; i < 9; i++)
		buf[i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	snprintf(buf + 9, 15, " (%04o)", (unsigned)(mode & 07777));
	return buf;
}

const char *fmt_user(char buf[64], uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, 64, "%s (%u)", pw->pw_name, (unsigned)uid);
	else
		snprintf(buf, 64, "%u", (unsigned)uid);
	return buf;
}

const char *fmt_group(char buf[64], gid_t gid)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, 64, "%s (%u)", gr->gr_name, (unsigned)gid);
	else
		snprintf(buf, 64, "%u", (unsigned)gid);
	return buf;
}

const char *errstr(int err)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "%s", strerror(err));
	/* Only an ASCII capital: a message in another language is left as
	 * it is. */
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

const char *why(int err)
{
	return err == EBADMSG ? "the arena is inconsistent" : errstr(err);
}

double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int out_width(void)
{
	const char *s = getenv("COLUMNS");
	struct winsize ws;
	long w = 0;
	char *end;

	if (s && *s) {
		errno = 0;
		w = strtol(s, &end, 10);
		if (errno || *end || w <= 0 || w > 10000)
			w = 0;
	}
	if (w == 0 && isatty(STDOUT_FILENO) &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		w = ws.ws_col;
	return w > 80 ? (int)w : 80;
}

int utf8_locale(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

int parse_size(const char *s, size_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		goto fail;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		goto fail;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (shift && (end[0] == 'i' || end[0] == 'I') &&
	    (end[1] == 'B' || end[1] == 'b'))
		end += 2;
	else if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		goto fail;
	if (shift && v > (SIZE_MAX >> shift))
		goto fail;
	*out = (size_t)(v << shift);
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

int parse_seconds(const char *s, double *out)
{
	double v;
	char *end;

	if (!isdigit((unsigned char)*s) && *s != '.')
		goto fail;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > 86400)
		goto fail;
	*out = v;
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

int parse_count(const char *s, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		goto fail;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0)
		goto fail;
	*out = v;
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

int parse_key(const char *s, key_t *out)
{
	char *end;

	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		unsigned long long v;

		if (!isxdigit((unsigned char)s[2]))
			goto fail;
		v = strtoull(s + 2, &end, 16);
		if (errno || *end || v > UINT32_MAX)
			goto fail;
		*out = (key_t)(int32_t)(uint32_t)v;
	} else if (s[0] == '-') {
		long long v;

		if (!isdigit((unsigned char)s[1]))
			goto fail;
		v = strtoll(s, &end, 10);
		if (errno || *end || v < INT32_MIN)
			goto fail;
		*out = (key_t)v;
	} else {
		unsigned long long v;

		if (!isdigit((unsigned char)s[0]))
			goto fail;
		v = strtoull(s, &end, 10);
		if (errno || *end || v > UINT32_MAX)
			goto fail;
		*out = (key_t)(int32_t)(uint32_t)v;
	}
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

int parse_int(const char *s, int *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		goto fail;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > INT_MAX)
		goto fail;
	*out = (int)v;
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

int parse_mode(const char *s, mode_t *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '7')
		goto fail;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 0777)
		goto fail;
	*out = (mode_t)v;
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

/* The length of the valid UTF-8 sequence at p, 0 if it is not one. */
static int utf8_len(const unsigned char *p)
{
	int n, i;
	uint32_t c;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

void put_name(FILE *f, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	int n;

	while (*p) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			fprintf(f, "\\x%02x", *p++);
		} else if ((n = utf8_len(p)) > 0) {
			fwrite(p, 1, (size_t)n, f);
			p += n;
		} else {
			fprintf(f, "\\x%02x", *p++);
		}
	}
}

/* ---- JSON ---- */

/* Writes s as a JSON string.  A byte that is not part of valid UTF-8 is
 * written as the code point of the same value, so no name is lost. */
static void put_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	fputc('"', f);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p++, f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
		} else if ((n = utf8_len(p)) > 0) {
			fwrite(p, 1, (size_t)n, f);
			p += n;
		} else {
			fprintf(f, "\\u%04x", *p++);
		}
	}
	fputc('"', f);
}

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof *j);
	j->f = f;
}

static int json_level(const struct json *j)
{
	return j->depth < JSON_MAX_DEPTH ? j->depth : JSON_MAX_DEPTH - 1;
}

/* Writes the separator and indentation before a member, and its key. */
static void json_member(struct json *j, const char *key)
{
	int d = json_level(j);
	int i;

	if (j->depth > 0) {
		if (j->count[d])
			fputs(j->inl[d] ? ", " : ",", j->f);
		if (!j->inl[d]) {
			fputc('\n', j->f);
			for (i = 0; i < j->depth; i++)
				fputs("  ", j->f);
		}
		j->count[d] = 1;
	}
	if (key) {
		put_json_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *key, int inl, char open,
		      char close)
{
	int outer = json_level(j), d;

	json_member(j, key);
	fputc(open, j->f);
	j->depth++;
	d = json_level(j);
	j->count[d] = 0;
	j->close[d] = close;
	/* Everything inside an inline container is inline too. */
	j->inl[d] = (unsigned char)(inl || (j->depth > 1 && j->inl[outer]));
}

void json_obj(struct json *j, const char *key, int inl)
{
	json_open(j, key, inl, '{', '}');
}

void json_arr(struct json *j, const char *key, int inl)
{
	json_open(j, key, inl, '[', ']');
}

void json_end(struct json *j)
{
	int d = json_level(j);
	int i;

	if (j->count[d] && !j->inl[d]) {
		fputc('\n', j->f);
		for (i = 0; i < j->depth - 1; i++)
			fputs("  ", j->f);
	}
	fputc(j->close[d], j->f);
	j->depth--;
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_member(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	json_member(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, const char *key, int v)
{
	json_member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_dbl(struct json *j, const char *key, double v)
{
	json_member(j, key);
	fprintf(j->f, "%.4f", v);
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_member(j, key);
	put_json_string(j->f, s);
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
}
