/*
 * st_folded.c
 *	  The text form of a stacktree: folded stacks ("main;handler;parse 42"),
 *	  one stack a line, preceded by header lines when the tree carries more
 *	  than a single samples/count column.
 *
 *	  # stackhouse 1
 *	  # column samples count
 *	  # column cpu nanoseconds default
 *	  # period cpu nanoseconds 10000000
 *	  # time 1700000000000000000 3000000000
 *	  main;handler;parse 42 420000000
 *
 * With k columns the last k space-separated fields of a line are the values,
 * so frame names may contain spaces.  In names, '\' ';' newline, CR and tab
 * are escaped as \\ \; \n \r \t, and a '#' starting a line as \#.  A line
 * with no frames (only values) holds samples with an empty stack.  Output is
 * canonical (depth-first, siblings by name), so text -> tree -> text is the
 * identity on canonical text, and tree -> text -> tree always.
 */
#include "st_folded.h"
#include "st_codec.h"

#include <stdlib.h>
#include <string.h>

/* ---- output ---- */

static void
put_escaped(StBuf *b, const char *s, size_t len, bool line_start)
{
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		switch (c)
		{
			case '\\':
				st_buf_put(b, "\\\\", 2);
				break;
			case ';':
				st_buf_put(b, "\\;", 2);
				break;
			case '\n':
				st_buf_put(b, "\\n", 2);
				break;
			case '\r':
				st_buf_put(b, "\\r", 2);
				break;
			case '\t':
				st_buf_put(b, "\\t", 2);
				break;
			case '#':
				if (line_start && i == 0)
					st_buf_put(b, "\\#", 2);
				else
					st_buf_putc(b, '#');
				break;
			default:
				st_buf_putc(b, (uint8_t) c);
		}
	}
}

static bool
is_default_header(const StTree *t)
{
	return t->ncols == 1 && strcmp(t->cols[0].type, "samples") == 0 &&
		strcmp(t->cols[0].unit, "count") == 0 && t->default_col < 0 &&
		t->period_type == NULL && t->period == 0 && t->time_nanos == 0 &&
		t->duration_nanos == 0;
}

static void
put_values(StBuf *b, const StTree *t, uint32_t node, bool leading_space)
{
	for (int c = 0; c < t->ncols; c++)
	{
		if (c > 0 || leading_space)
			st_buf_putc(b, ' ');
		st_buf_printf(b, "%lld", (long long) t->values[(size_t) node * t->ncols + c]);
	}
}

static bool
has_value(const StTree *t, uint32_t node)
{
	for (int c = 0; c < t->ncols; c++)
		if (t->values[(size_t) node * t->ncols + c] != 0)
			return true;
	return false;
}

char *
st_tree_to_folded(const StTree *t, size_t *out_len, StError *err)
{
	StBuf		b;
	uint32_t   *order;
	uint32_t   *depth;
	uint32_t   *path;
	uint32_t	nn = t->nnodes - 1;

	order = st_canonical_order(t, &depth, err);
	if (order == NULL)
		return NULL;
	path = st_alloc((size_t) (ST_MAX_DEPTH + 2) * sizeof(uint32_t));
	if (path == NULL)
	{
		st_free(order);
		st_free(depth);
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	st_buf_init(&b, 256 + (size_t) nn * 32);
	if (!is_default_header(t))
	{
		st_buf_printf(&b, "# stackhouse 1\n");
		for (int c = 0; c < t->ncols; c++)
			st_buf_printf(&b, "# column %s %s%s\n", t->cols[c].type, t->cols[c].unit,
						  c == t->default_col ? " default" : "");
		if (t->period_type)
			st_buf_printf(&b, "# period %s %s %lld\n", t->period_type,
						  t->period_unit, (long long) t->period);
		else if (t->period != 0)
			st_buf_printf(&b, "# period - - %lld\n", (long long) t->period);
		if (t->time_nanos != 0 || t->duration_nanos != 0)
			st_buf_printf(&b, "# time %lld %lld\n", (long long) t->time_nanos,
						  (long long) t->duration_nanos);
	}
	if (has_value(t, 0))
	{
		put_values(&b, t, 0, false);
		st_buf_putc(&b, '\n');
	}
	for (uint32_t i = 0; i < nn; i++)
	{
		uint32_t	n = order[i];
		uint32_t	d = depth[i];
		bool		leaf = (i + 1 == nn || depth[i + 1] <= d);

		if ((i & 8191) == 0)
			st_check_interrupts();
		path[d] = n;
		if (!leaf && !has_value(t, n))
			continue;
		for (uint32_t j = 1; j <= d; j++)
		{
			uint32_t	f = t->frame[path[j]];

			if (j > 1)
				st_buf_putc(&b, ';');
			put_escaped(&b, st_tree_string(t, f), t->str_len[f], j == 1);
		}
		put_values(&b, t, n, true);
		st_buf_putc(&b, '\n');
		if (b.oom)
			break;
	}
	st_free(order);
	st_free(depth);
	st_free(path);
	if (b.oom)
	{
		st_buf_free(&b);
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	st_buf_putc(&b, '\0');
	if (b.oom)
	{
		st_buf_free(&b);
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	*out_len = b.len - 1;
	return (char *) b.data;
}

/* ---- input ---- */

typedef struct Line
{
	const char *s;
	size_t		len;
	long		lineno;
} Line;

static bool
parse_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t	v = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t) (s[i] - '0');
	}
	if (v > INT64_MAX)
		return false;
	*out = (int64_t) v;
	return true;
}

/*
 * The start time may be negative (before 1970): the stored form and pprof
 * carry any int64 there, and the text form must round-trip it.
 */
static bool
parse_time(const char *s, size_t len, int64_t *out)
{
	int64_t		v;

	if (len == 20 && memcmp(s, "-9223372036854775808", 20) == 0)
	{
		*out = INT64_MIN;
		return true;
	}
	if (len > 1 && s[0] == '-')
	{
		if (!parse_int64(s + 1, len - 1, &v))
			return false;
		*out = -v;
		return true;
	}
	return parse_int64(s, len, out);
}

/* split the next whitespace-separated word off a header line */
static bool
next_word(const char **p, const char *end, const char **w, size_t *wl)
{
	while (*p < end && **p == ' ')
		(*p)++;
	if (*p >= end)
		return false;
	*w = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	*wl = (size_t) (*p - *w);
	return true;
}

static bool
word_eq(const char *w, size_t wl, const char *lit)
{
	return wl == strlen(lit) && memcmp(w, lit, wl) == 0;
}

#define MAX_WORD 257

static bool
copy_word(char *dst, const char *w, size_t wl)
{
	if (wl >= MAX_WORD)
		return false;
	memcpy(dst, w, wl);
	dst[wl] = '\0';
	return true;
}

typedef struct Header
{
	int			ncols;
	char		types[ST_MAX_COLUMNS][MAX_WORD];
	char		units[ST_MAX_COLUMNS][MAX_WORD];
	int			default_col;
	bool		has_period;
	char		ptype[MAX_WORD];
	char		punit[MAX_WORD];
	int64_t		period;
	int64_t		time_nanos;
	int64_t		duration_nanos;
} Header;

static bool
parse_header_line(Header *h, const Line *ln, StError *err)
{
	const char *p = ln->s + 1;
	const char *end = ln->s + ln->len;
	const char *w;
	size_t		wl;

	if (!next_word(&p, end, &w, &wl))
		return true;			/* a lone '#' is a comment */
	if (word_eq(w, wl, "stackhouse"))
	{
		if (!next_word(&p, end, &w, &wl) || !word_eq(w, wl, "1"))
			return st_fail(err, ST_ERR_INVALID_TEXT,
						   "unsupported folded text version at line %ld", ln->lineno);
		return true;
	}
	if (word_eq(w, wl, "column"))
	{
		const char *t,
				   *u;
		size_t		tl,
					ul;

		if (h->ncols >= ST_MAX_COLUMNS)
			return st_fail(err, ST_ERR_LIMIT, "more than %d columns at line %ld",
						   ST_MAX_COLUMNS, ln->lineno);
		if (!next_word(&p, end, &t, &tl) || !next_word(&p, end, &u, &ul) ||
			!copy_word(h->types[h->ncols], t, tl) ||
			!copy_word(h->units[h->ncols], u, ul))
			return st_fail(err, ST_ERR_INVALID_TEXT,
						   "invalid column header at line %ld: expected \"# column TYPE UNIT [default]\"",
						   ln->lineno);
		if (next_word(&p, end, &w, &wl))
		{
			if (!word_eq(w, wl, "default") || h->default_col >= 0)
				return st_fail(err, ST_ERR_INVALID_TEXT,
							   "invalid column header at line %ld: unexpected \"%.*s\"",
							   ln->lineno, (int) (wl > 40 ? 40 : wl), w);
			h->default_col = h->ncols;
		}
		h->ncols++;
		return true;
	}
	if (word_eq(w, wl, "period"))
	{
		const char *t,
				   *u,
				   *v;
		size_t		tl,
					ul,
					vl;

		if (!next_word(&p, end, &t, &tl) || !next_word(&p, end, &u, &ul) ||
			!next_word(&p, end, &v, &vl) || !parse_int64(v, vl, &h->period) ||
			!copy_word(h->ptype, t, tl) || !copy_word(h->punit, u, ul))
			return st_fail(err, ST_ERR_INVALID_TEXT,
						   "invalid period header at line %ld: expected \"# period TYPE UNIT N\"",
						   ln->lineno);
		h->has_period = !(word_eq(t, tl, "-") && word_eq(u, ul, "-"));
		return true;
	}
	if (word_eq(w, wl, "time"))
	{
		const char *a,
				   *b;
		size_t		al,
					bl;

		if (!next_word(&p, end, &a, &al) || !next_word(&p, end, &b, &bl) ||
			!parse_time(a, al, &h->time_nanos) ||
			!parse_int64(b, bl, &h->duration_nanos))
			return st_fail(err, ST_ERR_INVALID_TEXT,
						   "invalid time header at line %ld: expected \"# time START_NANOS DURATION_NANOS\"",
						   ln->lineno);
		return true;
	}
	return true;				/* other '#' lines are comments */
}

/* Unescape one frame name into buf; returns its length or -1. */
static long
unescape(const char *s, size_t len, char *buf)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '\\' && i + 1 < len)
		{
			char		c = s[++i];

			switch (c)
			{
				case 'n':
					buf[o++] = '\n';
					break;
				case 'r':
					buf[o++] = '\r';
					break;
				case 't':
					buf[o++] = '\t';
					break;
				case '\\':
				case ';':
				case '#':
					buf[o++] = c;
					break;
				default:
					/* unknown escape: keep it literally */
					buf[o++] = '\\';
					buf[o++] = c;
			}
		}
		else
			buf[o++] = s[i];
	}
	return (long) o;
}

static bool
parse_stack_line(StTree *t, const Line *ln, uint32_t *frames, char *namebuf,
				 StError *err)
{
	int64_t		vals[ST_MAX_COLUMNS];
	size_t		end = ln->len;
	const char *s = ln->s;
	uint32_t	n = 0;
	size_t		start;

	/* values: the last ncols space-separated fields */
	for (int c = t->ncols - 1; c >= 0; c--)
	{
		size_t		sp = end;

		while (sp > 0 && s[sp - 1] != ' ')
			sp--;
		if (sp < end && s[sp] == '-')
			return st_fail(err, ST_ERR_OVERFLOW, "negative value at line %ld", ln->lineno);
		if (!parse_int64(s + sp, end - sp, &vals[c]))
		{
			bool		digits = end > sp;

			for (size_t i = sp; i < end; i++)
				if (s[i] < '0' || s[i] > '9')
					digits = false;
			if (digits)
				st_fail(err, ST_ERR_OVERFLOW,
						"value at line %ld is out of range for a 64-bit integer", ln->lineno);
			else
				st_fail(err, ST_ERR_INVALID_TEXT,
						"invalid folded stack at line %ld: expected %d integer value%s at the end of the line",
						ln->lineno, t->ncols, t->ncols > 1 ? "s" : "");
			st_set_detail(err, "Line starts with \"%.*s\".",
						  (int) (ln->len > 60 ? 60 : ln->len), ln->s);
			return false;
		}
		if (sp == 0)
		{
			if (c != 0)
				return st_fail(err, ST_ERR_INVALID_TEXT,
							   "invalid folded stack at line %ld: expected %d values",
							   ln->lineno, t->ncols);
			end = 0;
			break;
		}
		end = sp - 1;			/* drop the separating space */
	}

	/* frames: split on unescaped ';' */
	start = 0;
	if (end > 0)
	{
		for (size_t i = 0; i <= end; i++)
		{
			if (i + 1 < end && s[i] == '\\')
			{
				i++;
				continue;
			}
			if (i == end || s[i] == ';')
			{
				long		nl;

				if (i == start)
					return st_fail(err, ST_ERR_INVALID_TEXT,
								   "invalid folded stack at line %ld: empty frame name",
								   ln->lineno);
				if (n >= ST_MAX_DEPTH)
					return st_fail(err, ST_ERR_LIMIT,
								   "stack at line %ld is deeper than the limit of %d frames",
								   ln->lineno, ST_MAX_DEPTH);
				/*
				 * The limit is on the name, not its escaped text (up to twice
				 * as long); namebuf holds 2 * ST_MAX_NAME_LEN bytes.
				 */
				if (i - start > 2 * (size_t) ST_MAX_NAME_LEN)
					return st_fail(err, ST_ERR_LIMIT,
								   "frame name at line %ld exceeds %d bytes",
								   ln->lineno, ST_MAX_NAME_LEN);
				nl = unescape(s + start, (i > end ? end : i) - start, namebuf);
				if (nl > ST_MAX_NAME_LEN)
					return st_fail(err, ST_ERR_LIMIT,
								   "frame name at line %ld exceeds %d bytes",
								   ln->lineno, ST_MAX_NAME_LEN);
				frames[n] = st_tree_intern(t, namebuf, (size_t) nl, err);
				if (frames[n] == UINT32_MAX)
				{
					if (err->code == ST_ERR_ENCODING)
						st_set_detail(err, "At line %ld.", ln->lineno);
					return false;
				}
				n++;
				start = i + 1;
			}
		}
	}
	return st_tree_add_stack(t, frames, n, vals, err);
}

/* The empty tree the header lines describe (samples/count without any). */
static StTree *
tree_for_header(Header *h, StError *err)
{
	const char *types[ST_MAX_COLUMNS];
	const char *units[ST_MAX_COLUMNS];
	StTree	   *t;

	if (h->ncols == 0)
	{
		h->ncols = 1;
		strcpy(h->types[0], "samples");
		strcpy(h->units[0], "count");
	}
	for (int c = 0; c < h->ncols; c++)
	{
		types[c] = h->types[c];
		units[c] = h->units[c];
	}
	t = st_tree_new(h->ncols, types, units, err);
	if (t == NULL && err->code != ST_ERR_NOMEM)
		err->code = ST_ERR_INVALID_TEXT;
	return t;
}

StTree *
st_tree_from_folded(const char *text, size_t len, StError *err)
{
	Header		h;
	StTree	   *t = NULL;
	uint32_t   *frames = NULL;
	char	   *namebuf = NULL;
	size_t		pos = 0;
	long		lineno = 0;

	memset(&h, 0, sizeof(h));
	h.default_col = -1;
	frames = st_alloc((size_t) (ST_MAX_DEPTH + 1) * sizeof(uint32_t));
	namebuf = st_alloc(2 * (size_t) ST_MAX_NAME_LEN + 2);
	if (!frames || !namebuf)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}
	while (pos < len)
	{
		Line		ln;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t		e = nl ? (size_t) (nl - text) : len;

		ln.s = text + pos;
		ln.len = e - pos;
		ln.lineno = ++lineno;
		pos = e + 1;
		if ((lineno & 4095) == 0)
			st_check_interrupts();
		/* tolerate CRLF and trailing blanks */
		while (ln.len > 0 && (ln.s[ln.len - 1] == '\r' || ln.s[ln.len - 1] == ' ' ||
							  ln.s[ln.len - 1] == '\t'))
			ln.len--;
		if (ln.len == 0)
			continue;
		if (memchr(ln.s, '\0', ln.len))
		{
			st_fail(err, ST_ERR_ENCODING, "NUL byte in folded text at line %ld", lineno);
			goto fail;
		}
		if (ln.s[0] == '#')
		{
			if (t != NULL)
			{
				/* header lines after the first stack are comments, but a
				 * column header there would silently change the meaning */
				if (ln.len > 8 && memcmp(ln.s, "# column", 8) == 0)
				{
					st_fail(err, ST_ERR_INVALID_TEXT,
							"column header at line %ld comes after the first stack", lineno);
					goto fail;
				}
				continue;
			}
			if (!parse_header_line(&h, &ln, err))
				goto fail;
			continue;
		}
		if (t == NULL)
		{
			t = tree_for_header(&h, err);
			if (t == NULL)
				goto fail;
		}
		if (!parse_stack_line(t, &ln, frames, namebuf, err))
			goto fail;
	}
	if (t == NULL)
	{
		/* header only, or empty input: an empty tree */
		t = tree_for_header(&h, err);
		if (t == NULL)
			goto fail;
	}
	t->default_col = h.default_col;
	if (h.has_period)
	{
		if (!st_tree_set_period(t, h.ptype, h.punit, h.period, err))
			goto fail;
	}
	else
		t->period = h.period;
	t->time_nanos = h.time_nanos;
	t->duration_nanos = h.duration_nanos;
	st_free(frames);
	st_free(namebuf);
	return t;

fail:
	st_tree_free(t);
	st_free(frames);
	st_free(namebuf);
	return NULL;
}
