/*
 * cmd_map.c -- sma map: a picture of the arena for a person.
 *
 * The segment is cut into cells of one block each (a power of two, chosen
 * so that the picture is 64 cells wide and 16 to 32 rows high), and each
 * cell is shaded by the share of its usable memory held by live objects:
 *
 *     used / (used + free)   of the cell's bytes that sma_walk reports
 *
 * Bytes the walk reports neither as used nor as free are the library's own
 * (the header, the slot table, page maps, slab headers, boundary tags); a
 * cell made mostly of them is drawn with a mark of its own.  An extent that
 * spans cells is shared out among them.
 *
 * The picture is drawn with Unicode block and box characters when the
 * locale's character set is UTF-8, and with ASCII otherwise (or --ascii).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define MAP_COLS 64	/* cells per row */
#define MAP_MAX_ROWS 32 /* rows at most */
#define MAP_MIN_BLOCK 16 /* bytes, the smallest cell */

struct map {
	uint64_t base;	 /* offset of the segment's first byte */
	uint64_t size;	 /* bytes of the segment */
	uint64_t block;	 /* bytes per cell, a power of two */
	size_t ncells;	 /* cells, the last one maybe partial */
	uint64_t *used;	 /* bytes of live objects, per cell */
	uint64_t *free;	 /* free bytes, per cell */
	uint64_t outside; /* bytes the walk reported beyond the segment */
};

/* The bytes cell i covers. */
static uint64_t cell_bytes(const struct map *m, size_t i)
{
	uint64_t lo = (uint64_t)i * m->block;

	return m->size - lo < m->block ? m->size - lo : m->block;
}

static int map_add(sma_off_t off, size_t size, int in_use, void *arg)
{
	struct map *m = arg;
	uint64_t lo, hi, end;

	/* Another segment's: drawn in its own map. */
	if ((off >> SEG_SHIFT) != (m->base >> SEG_SHIFT))
		return 0;
	lo = off - m->base;
	/* Never trust an extent: clip it to the segment. */
	if (lo >= m->size || size == 0) {
		m->outside += size;
		return 0;
	}
	end = size > m->size - lo ? m->size : lo + size;
	m->outside += size - (end - lo);
	while (lo < end) {
		size_t i = (size_t)(lo / m->block);

		hi = ((uint64_t)i + 1) * m->block;
		if (hi > end)
			hi = end;
		if (in_use)
			m->used[i] += hi - lo;
		else
			m->free[i] += hi - lo;
		lo = hi;
	}
	return 0;
}

/* A cell made mostly of the library's own structures, holding no live
 * object. */
static int cell_own(const struct map *m, size_t i)
{
	return m->used[i] == 0 && m->free[i] * 2 < cell_bytes(m, i);
}

/* Kinds of cell: 0 nothing in use, 1..levels-1 partly, levels full,
 * and CELL_OWN mostly the library's own structures. */
#define CELL_OWN (-1)

static int cell_level(const struct map *m, size_t i, int levels)
{
	uint64_t u = m->used[i], f = m->free[i];
	int l;

	if (cell_own(m, i))
		return CELL_OWN;
	if (u == 0)
		return 0;
	if (f == 0)
		return levels;
	/* Partly used: 1 .. levels-1, never 0 nor full. */
	l = 1 + (int)((double)u / (double)(u + f) * (levels - 1));
	return l > levels - 1 ? levels - 1 : l;
}

/* The glyphs of the terminal picture. */
static const char *const uni_glyph[] = { " ", "\u2591", "\u2592", "\u2593",
					 "\u2588" };
static const char ascii_glyph[] = " .:-=+*#%@";
#define UNI_LEVELS 4   /* uni_glyph[0..4] */
#define ASCII_LEVELS 9 /* ascii_glyph[0..9] */
#define UNI_OWN "\u00d7"
#define ASCII_OWN "x"

static void map_text(const struct opts *o, const struct map *m, sma_t *a,
		     const struct sma_stats *st)
{
	int ascii = o->ascii || !utf8_locale();
	int levels = ascii ? ASCII_LEVELS : UNI_LEVELS;
	size_t rows = (m->ncells + MAP_COLS - 1) / MAP_COLS, r, i;
	const char *h = ascii ? "-" : "\u2500";
	const char *v = ascii ? "|" : "\u2502";
	/* The legend on one line when the output is that wide. */
	const char *sep = out_width() >= 120 ? "   " : "\n  ";
	int w = 1, l;
	char b1[32], b2[32], b3[32];

	while (w < 16 && ((m->base + m->size) >> (4 * w)) != 0)
		w++;
	if (m->base)
		printf("\nsegment %" PRIu64 " (added)  size %s\n",
		       m->base >> SEG_SHIFT, fmt_size(b1, m->size));
	else
		printf("%s  size %s\n", arena_heading(o, a), fmt_size(b1, m->size));
	printf("one cell = %s, one row = %s\n\n", fmt_size(b1, m->block),
	       fmt_size(b2, m->block * MAP_COLS));
	printf("%*s%s", w + 3, "", ascii ? "+" : "\u250c");
	for (i = 0; i < MAP_COLS; i++)
		fputs(h, stdout);
	puts(ascii ? "+" : "\u2510");
	for (r = 0; r < rows; r++) {
		printf("0x%0*" PRIx64 " %s", w,
		       m->base + (uint64_t)r * MAP_COLS * m->block, v);
		for (i = r * MAP_COLS; i < (r + 1) * MAP_COLS; i++) {
			if (i >= m->ncells) {
				putchar(' ');
				continue;
			}
			l = cell_level(m, i, levels);
			if (l == CELL_OWN)
				fputs(ascii ? ASCII_OWN : UNI_OWN, stdout);
			else if (ascii)
				putchar(ascii_glyph[l]);
			else
				fputs(uni_glyph[l], stdout);
		}
		puts(v);
	}
	printf("%*s%s", w + 3, "", ascii ? "+" : "\u2514");
	for (i = 0; i < MAP_COLS; i++)
		fputs(h, stdout);
	puts(ascii ? "+" : "\u2518");

	printf("\nshare of a cell's usable memory in live objects:\n  ");
	if (ascii) {
		printf("' ' none  '.' under 1/8  ':-=+*#' more by eighths  "
		       "'%%' over 7/8  '@' all%s'" ASCII_OWN
		       "' the library's own (header, tables)\n", sep);
	} else {
		printf("' ' none  '%s' under 1/3  '%s' under 2/3  '%s' over 2/3  "
		       "'%s' all%s'" UNI_OWN "' the library's own (header, "
		       "tables)\n",
		       uni_glyph[1], uni_glyph[2], uni_glyph[3], uni_glyph[4], sep);
	}
	printf("used %s (%.1f%% of the heap)  free %s  largest free %s\n",
	       fmt_size(b1, st->used), percent(st->used, st->heap_size),
	       fmt_size(b2, st->free), fmt_size(b3, st->largest_free));
}

/* ---- SVG ---- */

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

/* The fill of a cell: a light grey-blue when free, through to a dark blue
 * when full (frac in [0, 1]); grey for the library's own. */
static void svg_colour(char buf[8], double frac)
{
	static const unsigned lo[3] = { 0xf1, 0xf5, 0xf9 }; /* empty */
	static const unsigned hi[3] = { 0x08, 0x30, 0x6b }; /* full */
	unsigned c[3];
	int i;

	for (i = 0; i < 3; i++)
		c[i] = (unsigned)(lo[i] + (hi[i] - (double)lo[i]) * frac + 0.5);
	snprintf(buf, 8, "#%02x%02x%02x", c[0] & 0xff, c[1] & 0xff,
		 c[2] & 0xff);
}

#define SVG_CELL 12 /* px, a cell's side */
#define SVG_GAP 1   /* px between cells */
#define SVG_LEFT 96 /* px, room for the offsets */
#define SVG_TOP 56  /* px, room for the title */
#define SVG_OWN "#9e9e9e"

static int map_svg(FILE *f, const struct opts *o, const struct map *m,
		   sma_t *a, const struct sma_stats *st)
{
	size_t rows = (m->ncells + MAP_COLS - 1) / MAP_COLS, i;
	int pitch = SVG_CELL + SVG_GAP, w, hgt, lx, ly, n;
	char col[8], b1[32], b2[32], b3[32];
	static const double legend[] = { 0.0, 0.25, 0.5, 0.75, 1.0 };

	w = SVG_LEFT + MAP_COLS * pitch + 16;
	hgt = SVG_TOP + (int)rows * pitch + 90;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" viewBox=\"0 0 %d %d\" "
		   "font-family=\"monospace\" font-size=\"11\">\n",
		w, hgt, w, hgt);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"8\" y=\"18\" font-size=\"13\" "
		   "font-weight=\"bold\">sma ");
	xml_text(f, arena_heading(o, a));
	fprintf(f, "  size %s</text>\n", fmt_size(b1, m->size));
	fprintf(f, "<text x=\"8\" y=\"36\">one cell = %s, one row = %s; ",
		fmt_size(b1, m->block), fmt_size(b2, m->block * MAP_COLS));
	fprintf(f, "used %s (%.1f%% of the heap), free %s, largest free "
		   "%s</text>\n",
		fmt_size(b1, st->used), percent(st->used, st->heap_size),
		fmt_size(b2, st->free), fmt_size(b3, st->largest_free));
	for (i = 0; i < rows; i++)
		fprintf(f, "<text x=\"8\" y=\"%d\">0x%08" PRIx64 "</text>\n",
			SVG_TOP + (int)i * pitch + SVG_CELL - 2,
			(uint64_t)i * MAP_COLS * m->block);
	for (i = 0; i < m->ncells; i++) {
		uint64_t u = m->used[i], fr = m->free[i];
		int x = SVG_LEFT + (int)(i % MAP_COLS) * pitch;
		int y = SVG_TOP + (int)(i / MAP_COLS) * pitch;
		int own = cell_own(m, i);

		if (own)
			snprintf(col, sizeof col, "%s", SVG_OWN);
		else
			svg_colour(col, u + fr ? (double)u / (double)(u + fr)
					       : 1.0);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			   "fill=\"%s\"><title>0x%" PRIx64 ": %s used, %s "
			   "free</title></rect>\n",
			x, y, SVG_CELL, SVG_CELL, col,
			(uint64_t)i * m->block, fmt_size(b1, u),
			fmt_size(b2, fr));
	}
	/* The legend: the scale of fullness, and the library's own. */
	ly = SVG_TOP + (int)rows * pitch + 24;
	fprintf(f, "<text x=\"8\" y=\"%d\">share of a cell's usable memory "
		   "in live objects</text>\n", ly);
	ly += 10;
	lx = 8;
	for (n = 0; n < 5; n++) {
		svg_colour(col, legend[n]);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			   "fill=\"%s\" stroke=\"#777\" stroke-width=\"0.5\"/>"
			   "<text x=\"%d\" y=\"%d\">%.0f%%</text>\n",
			lx, ly, SVG_CELL, SVG_CELL, col, lx + SVG_CELL + 4,
			ly + SVG_CELL - 2, legend[n] * 100);
		lx += 70;
	}
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		   "fill=\"%s\"/><text x=\"%d\" y=\"%d\">the library's own "
		   "(header, tables)</text>\n",
		lx, ly, SVG_CELL, SVG_CELL, SVG_OWN, lx + SVG_CELL + 4,
		ly + SVG_CELL - 2);
	fprintf(f, "</svg>\n");
	return ferror(f) ? -1 : 0;
}

int cmd_map(const struct cmd *c, const struct opts *o)
{
	struct sma_stats st;
	struct sma_info in;
	struct map m = { 0 };
	int r = EXIT_FAIL, wr, werr = 0;
	sma_t *a;

	a = open_figures(c, o, &st, &in);
	if (!a)
		return EXIT_FAIL;
	/* The kernel's size of the first segment is the one to trust. */
	m.size = in.size ? in.size : st.size;
	for (unsigned k = 0;; k++) {
		size_t ssize = 0;
		if (k > 0) {
			/* the segments the arena grew by, one map each (text) */
			if (o->svg || sma_segment(a, k, NULL, &ssize) != 0)
				break;
			m.base = (uint64_t)k << SEG_SHIFT;
			m.size = ssize;
			free(m.used);
			free(m.free);
		}
		m.block = MAP_MIN_BLOCK;
		while (m.size / m.block >= MAP_COLS * MAP_MAX_ROWS)
			m.block *= 2;
		m.ncells = (size_t)((m.size + m.block - 1) / m.block);
		m.used = calloc(m.ncells ? m.ncells : 1, sizeof *m.used);
		m.free = calloc(m.ncells ? m.ncells : 1, sizeof *m.free);
		m.outside = 0;
		if (!m.used || !m.free) {
			fail(c, "%s", errstr(ENOMEM));
			goto out;
		}
		wr = sma_walk(a, map_add, &m);
		if (wr != 0)
			werr = errno ? errno : EBADMSG;
		if (o->svg) {
			FILE *f = strcmp(o->svg, "-") == 0 ? stdout
							   : fopen(o->svg, "w");

			if (!f) {
				fail(c, "%s: %s", o->svg, errstr(errno));
				goto out;
			}
			if (map_svg(f, o, &m, a, &st) < 0 ||
			    (f != stdout && fclose(f) != 0)) {
				fail(c, "writing %s: %s", o->svg, errstr(errno));
				goto out;
			}
			if (f != stdout)
				printf("wrote %s: %zu cells of %" PRIu64 " bytes, %d "
				       "a row (the first segment)\n", o->svg, m.ncells,
				       m.block, MAP_COLS);
		} else {
			map_text(o, &m, a, &st);
		}
		if (wr != 0)
			break;
	}
	if (wr != 0) {
		fail(c, "%s: the walk stopped early, the picture is partial: "
			"%s (try sma check)", target_name(o), why(werr));
		goto out;
	}
	r = EXIT_OK;
out:
	free(m.used);
	free(m.free);
	sma_close(a);
	return r;
}
