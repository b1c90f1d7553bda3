/*
 * test_folded.c
 *	  Unit tests of the folded-stack text form (st_folded.c): parsing and
 *	  printing with escapes, names with spaces, CRLF, comments, header lines
 *	  and empty-stack lines; every error with its line number and StErrCode;
 *	  text -> tree -> text identity on canonical text and tree -> text ->
 *	  tree on random trees.  Expected texts and values are written by hand.
 *
 * Run from anywhere: regress/unit/test_folded
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_codec.h"
#include "st_folded.h"
#include "unit.h"
#include "unit_tree.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t) ((rng_state >> 33) % n);
}

static StTree *
parse(const char *text, StError *err)
{
	err->code = ST_OK;
	err->msg[0] = '\0';
	return st_tree_from_folded(text, strlen(text), err);
}

static char *
print(const StTree *t)
{
	StError		err;
	size_t		len = 0;
	char	   *s = st_tree_to_folded(t, &len, &err);

	CHECKF(s != NULL, "print: %s", err.msg);
	if (s)
		CHECK(strlen(s) == len);
	return s;
}

/* node id of the stack given as NULL-terminated names, by a linear scan */
static uint32_t
node_of(const StTree *t, const char *const *names)
{
	uint32_t	node = 0;

	for (int i = 0; names[i]; i++)
	{
		uint32_t	next = UINT32_MAX;
		size_t		len = strlen(names[i]);

		for (uint32_t n = 1; n < t->nnodes; n++)
			if (t->parent[n] == node && t->str_len[t->frame[n]] == len &&
				memcmp(st_tree_string(t, t->frame[n]), names[i], len) == 0)
				next = n;
		if (next == UINT32_MAX)
			return UINT32_MAX;
		node = next;
	}
	return node;
}

/* self value of column col at the stack "a;b" (names without ';') */
static int64_t
self_at(const StTree *t, const char *path, int col)
{
	const char *names[64];
	char		buf[512];
	int			n = 0;
	uint32_t	node;

	strcpy(buf, path);
	for (char *p = strtok(buf, ";"); p; p = strtok(NULL, ";"))
		names[n++] = p;
	names[n] = NULL;
	node = node_of(t, names);
	return node == UINT32_MAX ? -1 : t->values[(size_t) node * t->ncols + col];
}

static bool
add_names(StTree *t, const char *const *names, int64_t v)
{
	uint32_t	f[16];
	uint32_t	n = 0;
	StError		err;
	int64_t		vals[ST_MAX_COLUMNS] = {0};

	for (; names[n]; n++)
		f[n] = st_tree_intern(t, names[n], strlen(names[n]), &err);
	vals[0] = v;
	return st_tree_add_stack(t, f, n, vals, &err);
}

/* parse, expect failure with code and every fragment in the message */
static void
expect_error(const char *text, size_t len, StErrCode code, const char *frag1,
			 const char *frag2, int line)
{
	StError		err;
	StTree	   *t;

	err.code = ST_OK;
	err.msg[0] = '\0';
	t = st_tree_from_folded(text, len, &err);
	CHECKF(t == NULL, "line %d: accepted", line);
	CHECKF(err.code == code, "line %d: code %d, want %d (%s)", line, err.code,
		   code, err.msg);
	if (frag1)
		CHECKF(strstr(err.msg, frag1) != NULL, "line %d: message \"%s\" lacks \"%s\"",
			   line, err.msg, frag1);
	if (frag2)
		CHECKF(strstr(err.msg, frag2) != NULL, "line %d: message \"%s\" lacks \"%s\"",
			   line, err.msg, frag2);
	st_tree_free(t);
}

#define EXPECT_ERROR(text, code, f1, f2) \
	expect_error((text), strlen(text), (code), (f1), (f2), __LINE__)

/* ------------------------------------------------------------------ tests */

static void
test_simple(void)
{
	StError		err;
	StTree	   *t = parse("main;b 4\nmain;a 3\n\nmain 1\nmain;a 2\n", &err);
	char	   *s;

	CHECKF(t != NULL, "%s", err.msg);
	if (!t)
		return;
	CHECK(t->ncols == 1 && strcmp(t->cols[0].type, "samples") == 0 &&
		  strcmp(t->cols[0].unit, "count") == 0 && t->default_col == -1);
	CHECK(t->nnodes == 4);
	CHECK(self_at(t, "main;a", 0) == 5 && self_at(t, "main;b", 0) == 4 &&
		  self_at(t, "main", 0) == 1 && t->values[0] == 0);
	s = print(t);
	CHECK(s && strcmp(s, "main 1\nmain;a 5\nmain;b 4\n") == 0);
	st_free(s);
	st_tree_free(t);

	/* no trailing newline, trailing blanks, CRLF */
	t = parse("a;b 1\r\nc 2   \r\na;b 3", &err);
	CHECKF(t != NULL, "%s", err.msg);
	CHECK(t && self_at(t, "a;b", 0) == 4 && self_at(t, "c", 0) == 2);
	s = t ? print(t) : NULL;
	CHECK(s && strcmp(s, "a;b 4\nc 2\n") == 0);
	st_free(s);
	st_tree_free(t);

	/* comments and a lone '#' */
	t = parse("# a comment\n#\n#column-like but not\na 1\n# late comment\n# period x y 5\nb 2\n",
			  &err);
	CHECKF(t != NULL, "%s", err.msg);
	CHECK(t && t->nnodes == 3 && self_at(t, "a", 0) == 1 && self_at(t, "b", 0) == 2 &&
		  t->period_type == NULL && t->period == 0);
	st_tree_free(t);

	/* empty input and header only: empty trees */
	t = parse("", &err);
	CHECK(t && t->nnodes == 1 && t->ncols == 1);
	s = t ? print(t) : NULL;
	CHECK(s && strcmp(s, "") == 0);
	st_free(s);
	st_tree_free(t);
	t = parse("# column cpu nanoseconds\n", &err);
	CHECK(t && t->nnodes == 1 && t->ncols == 1 && strcmp(t->cols[0].type, "cpu") == 0);
	st_tree_free(t);
}

static void
test_escapes(void)
{
	const char *s1[] = {"#hash", "in#side", NULL};
	const char *s2[] = {"a\\b", "x;y", NULL};
	const char *s3[] = {"foo bar", NULL};
	const char *s4[] = {"l\nm", "c\rd", "t\tu", NULL};
	const char *s5[] = {"x", "#y", NULL};
	const char *s6[] = {"x", " ", NULL};
	const char *s7[] = {"x", "end\\", NULL};
	const char *s8[] = {"\\#", NULL};
	const char *types[] = {"samples"};
	const char *units[] = {"count"};
	const char *want =
		"\\#hash;in#side 1\n"
		"\\\\# 8\n"
		"a\\\\b;x\\;y 2\n"
		"foo bar 3\n"
		"l\\nm;c\\rd;t\\tu 4\n"
		"x;  6\n"
		"x;#y 5\n"
		"x;end\\\\ 7\n";
	StError		err;
	StTree	   *t = st_tree_new(1, types, units, &err);
	StTree	   *back;
	char	   *s;

	CHECK(add_names(t, s4, 4) && add_names(t, s3, 3) && add_names(t, s2, 2) &&
		  add_names(t, s1, 1) && add_names(t, s5, 5) && add_names(t, s6, 6) &&
		  add_names(t, s7, 7) && add_names(t, s8, 8));
	s = print(t);
	CHECKF(s && strcmp(s, want) == 0, "got:\n%s", s ? s : "(null)");
	back = parse(want, &err);
	CHECKF(back != NULL, "%s", err.msg);
	if (back)
	{
		const char *const *all[] = {s1, s2, s3, s4, s5, s6, s7, s8};

		for (int i = 0; i < 8; i++)
		{
			uint32_t	n = node_of(back, all[i]);

			CHECKF(n != UINT32_MAX && back->values[n] == i + 1, "stack %d", i + 1);
		}
		CHECK(back->nnodes == t->nnodes);
		CHECK(same_bytes(t, back));
	}
	st_tree_free(back);
	st_free(s);
	st_tree_free(t);

	/* escapes in input that the printer never writes */
	t = parse("\\#a;b\\#c 1\nq\\z 2\nend\\ 3\n", &err);
	CHECKF(t != NULL, "%s", err.msg);
	if (t)
	{
		const char *a[] = {"#a", "b#c", NULL};
		const char *b[] = {"q\\z", NULL};	/* unknown escape kept */
		const char *c[] = {"end\\", NULL};	/* lone trailing backslash */
		uint32_t	na = node_of(t, a),
					nb = node_of(t, b),
					nc = node_of(t, c);

		CHECK(na != UINT32_MAX && t->values[na] == 1);
		CHECK(nb != UINT32_MAX && t->values[nb] == 2);
		CHECK(nc != UINT32_MAX && t->values[nc] == 3);
	}
	st_tree_free(t);
}

static void
test_header(void)
{
	const char *text =
		"# stackhouse 1\n"
		"# column samples count\n"
		"# column cpu nanoseconds default\n"
		"# period cpu nanoseconds 10000000\n"
		"# time 1700000000000000000 3000000000\n"
		"7 70\n"
		"main;handler;parse 42 420000000\n"
		"main;idle 0 0\n";
	StError		err;
	StTree	   *t = parse(text, &err);
	char	   *s;

	CHECKF(t != NULL, "%s", err.msg);
	if (!t)
		return;
	CHECK(t->ncols == 2 && strcmp(t->cols[1].type, "cpu") == 0 &&
		  strcmp(t->cols[1].unit, "nanoseconds") == 0 && t->default_col == 1);
	CHECK(t->period_type && strcmp(t->period_type, "cpu") == 0 &&
		  strcmp(t->period_unit, "nanoseconds") == 0 && t->period == 10000000);
	CHECK(t->time_nanos == 1700000000000000000LL && t->duration_nanos == 3000000000LL);
	CHECK(t->values[0] == 7 && t->values[1] == 70);
	CHECK(self_at(t, "main;handler;parse", 0) == 42 &&
		  self_at(t, "main;handler;parse", 1) == 420000000);
	CHECK(self_at(t, "main;idle", 0) == 0 && t->nnodes == 5);
	s = print(t);
	CHECKF(s && strcmp(s, text) == 0, "got:\n%s", s ? s : "(null)");
	st_free(s);
	st_tree_free(t);

	/* period without a type, negative start time */
	text = "# stackhouse 1\n"
		"# column samples count\n"
		"# period - - 5\n"
		"# time -5 0\n"
		"a 1\n";
	t = parse(text, &err);
	CHECKF(t != NULL, "%s", err.msg);
	CHECK(t && t->period_type == NULL && t->period == 5 && t->time_nanos == -5);
	s = t ? print(t) : NULL;
	CHECK(s && strcmp(s, text) == 0);
	st_free(s);
	st_tree_free(t);

	/* a default samples/count column prints a header */
	text = "# stackhouse 1\n"
		"# column samples count default\n"
		"a 1\n";
	t = parse(text, &err);
	s = t ? print(t) : NULL;
	CHECK(t && t->default_col == 0 && s && strcmp(s, text) == 0);
	st_free(s);
	st_tree_free(t);

	/* header lines are optional; values are taken as columns in order */
	t = parse("# column alloc_space bytes\n# column alloc_objects count\nx 10 1\n", &err);
	CHECK(t && t->ncols == 2 && self_at(t, "x", 0) == 10 && self_at(t, "x", 1) == 1);
	st_tree_free(t);

	/* names with spaces: with k columns only the last k fields are values */
	t = parse("# column a count\n# column b count\nfunc (x int) 1 2 3\n", &err);
	{
		const char *n[] = {"func (x int) 1", NULL};
		uint32_t	id = t ? node_of(t, n) : UINT32_MAX;

		CHECK(id != UINT32_MAX && t->values[id * 2] == 2 && t->values[id * 2 + 1] == 3);
	}
	st_tree_free(t);
}

static void
test_errors(void)
{
	/* empty frames */
	EXPECT_ERROR("a 1\na;;b 2\n", ST_ERR_INVALID_TEXT, "line 2", "empty frame");
	EXPECT_ERROR(";a 1\n", ST_ERR_INVALID_TEXT, "line 1", "empty frame");
	EXPECT_ERROR("# c\n\na; 1\n", ST_ERR_INVALID_TEXT, "line 3", "empty frame");
	/* missing or malformed values */
	EXPECT_ERROR("a 1\nb 2\na;b\n", ST_ERR_INVALID_TEXT, "line 3", NULL);
	EXPECT_ERROR("a 1x\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("a 1.5\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("# column a count\n# column b count\nx 1\n", ST_ERR_INVALID_TEXT,
				 "line 3", NULL);
	EXPECT_ERROR("# column a count\n# column b count\n5\n", ST_ERR_INVALID_TEXT,
				 "line 3", NULL);
	/* negative and out of range */
	EXPECT_ERROR("a 1\na -1\n", ST_ERR_OVERFLOW, "line 2", "negative");
	EXPECT_ERROR("a 9223372036854775808\n", ST_ERR_OVERFLOW, "line 1", NULL);
	EXPECT_ERROR("a 99999999999999999999\n", ST_ERR_OVERFLOW, "line 1", NULL);
	EXPECT_ERROR("a 9223372036854775807\na 1\n", ST_ERR_OVERFLOW, NULL, NULL);
	{
		StError		err;
		StTree	   *t = parse("a 9223372036854775807\n", &err);

		CHECK(t && self_at(t, "a", 0) == INT64_MAX);
		st_tree_free(t);
	}
	/* headers */
	EXPECT_ERROR("# column cpu ns\n# column cpu ns\na 1 2\n", ST_ERR_INVALID_TEXT,
				 "duplicate", NULL);
	EXPECT_ERROR("a 1\n# column cpu ns\nb 2\n", ST_ERR_INVALID_TEXT, "line 2", "column");
	EXPECT_ERROR("# stackhouse 2\na 1\n", ST_ERR_INVALID_TEXT, "line 1", "version");
	EXPECT_ERROR("# comment\n# stackhouse\n", ST_ERR_INVALID_TEXT, "line 2", "version");
	EXPECT_ERROR("# column cpu\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("# column a x default\n# column b y default\n", ST_ERR_INVALID_TEXT,
				 "line 2", NULL);
	EXPECT_ERROR("# column a x extra\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("# period cpu ns\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("# period cpu ns -1\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("# time 5\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("# time 5 -1\n", ST_ERR_INVALID_TEXT, "line 1", NULL);
	EXPECT_ERROR("# column c/x count\n", ST_ERR_INVALID_TEXT, NULL, NULL);
	/* encoding */
	EXPECT_ERROR("a 1\nb\xff 2\n", ST_ERR_ENCODING, NULL, NULL);
	expect_error("a 1\nb\0c 2\n", 10, ST_ERR_ENCODING, "line 2", "NUL", __LINE__);
	/* 65 columns */
	{
		char	   *buf = malloc(65 * 40);
		size_t		off = 0;

		for (int i = 0; i < 65; i++)
			off += sprintf(buf + off, "# column c%d count\n", i);
		EXPECT_ERROR(buf, ST_ERR_LIMIT, "line 65", NULL);
		free(buf);
	}
}

static void
test_limits(void)
{
	/* depth: ST_MAX_DEPTH frames parse, one more does not */
	size_t		cap = (size_t) (ST_MAX_DEPTH + 1) * 2 + 64;
	char	   *buf = malloc(cap > ST_MAX_NAME_LEN * 2 + 64 ? cap : ST_MAX_NAME_LEN * 2 + 64);
	size_t		off = 0;
	StError		err;
	StTree	   *t;

	off += sprintf(buf, "x 1\n");
	for (int i = 0; i < ST_MAX_DEPTH; i++)
	{
		buf[off++] = 'f';
		buf[off++] = ';';
	}
	off--;
	off += sprintf(buf + off, " 1\n");
	t = st_tree_from_folded(buf, off, &err);
	CHECKF(t != NULL, "%s", err.msg);
	CHECK(t && t->nnodes == ST_MAX_DEPTH + 2 && t->max_depth == ST_MAX_DEPTH);
	st_tree_free(t);
	off = sprintf(buf, "x 1\n");
	for (int i = 0; i <= ST_MAX_DEPTH; i++)
	{
		buf[off++] = 'f';
		buf[off++] = ';';
	}
	off--;
	off += sprintf(buf + off, " 1\n");
	expect_error(buf, off, ST_ERR_LIMIT, "line 2", "10000", __LINE__);

	/* name length: ST_MAX_NAME_LEN bytes parse, one more does not */
	off = sprintf(buf, "x 1\n");
	memset(buf + off, 'n', ST_MAX_NAME_LEN);
	off += ST_MAX_NAME_LEN;
	off += sprintf(buf + off, " 3\n");
	t = st_tree_from_folded(buf, off, &err);
	CHECKF(t != NULL, "%s", err.msg);
	CHECK(t && t->nnodes == 3 && t->str_len[1] == ST_MAX_NAME_LEN);
	st_tree_free(t);
	off = sprintf(buf, "x 1\n");
	memset(buf + off, 'n', ST_MAX_NAME_LEN + 1);
	off += ST_MAX_NAME_LEN + 1;
	off += sprintf(buf + off, " 3\n");
	expect_error(buf, off, ST_ERR_LIMIT, "line 2", NULL, __LINE__);

	/*
	 * A name of ST_MAX_NAME_LEN bytes with characters that need escapes is
	 * longer than the limit in text, and must still round-trip.
	 */
	{
		const char *types[] = {"samples"};
		const char *units[] = {"count"};
		StTree	   *src = st_tree_new(1, types, units, &err);
		char	   *name = malloc(ST_MAX_NAME_LEN);
		uint32_t	f;
		int64_t		v = 9;
		char	   *s;
		size_t		len;

		memset(name, 'e', ST_MAX_NAME_LEN);
		for (int i = 0; i < 100; i++)
			name[i * 7] = ';';
		f = st_tree_intern(src, name, ST_MAX_NAME_LEN, &err);
		CHECK(st_tree_add_stack(src, &f, 1, &v, &err));
		s = st_tree_to_folded(src, &len, &err);
		CHECK(s != NULL && len == ST_MAX_NAME_LEN + 100 + 2 + 1);
		t = s ? st_tree_from_folded(s, len, &err) : NULL;
		CHECKF(t != NULL, "escaped long name: %s", err.msg);
		CHECK(t && same_bytes(src, t));
		st_tree_free(t);
		/* and an unescaped name that is too long is still refused */
		memcpy(buf, "x 1\n", 4);
		off = 4;
		memset(buf + off, 'a', ST_MAX_NAME_LEN + 1);
		buf[off + 5] = '\\';
		buf[off + 6] = ';';
		off += ST_MAX_NAME_LEN + 1;
		off += sprintf(buf + off, " 3\n");
		t = st_tree_from_folded(buf, off, &err);	/* 65536 bytes unescaped */
		CHECKF(t != NULL, "%s", err.msg);
		st_tree_free(t);
		memset(buf + 4, 'a', ST_MAX_NAME_LEN + 2);
		buf[4 + 5] = '\\';
		buf[4 + 6] = ';';
		off = 4 + ST_MAX_NAME_LEN + 2;
		off += sprintf(buf + off, " 3\n");
		expect_error(buf, off, ST_ERR_LIMIT, NULL, NULL, __LINE__);
		st_free(s);
		free(name);
		st_tree_free(src);
	}
	free(buf);
}

static void
test_identity(void)
{
	/* canonical text: header, root line, siblings by name bytes */
	const char *canon =
		"# stackhouse 1\n"
		"# column alloc_objects count\n"
		"# column alloc_space bytes default\n"
		"# period space bytes 524288\n"
		"# time 1 2\n"
		"1 2\n"
		"A 0 0\n"
		"Z;a 3 4\n"
		"a;b c;d 5 6\n"
		"a;b c;e\\;f 7 8\n"
		"a;bb 9 10\n"
		"\xc3\xa9 11 12\n";
	const char *plain =
		"\\#x;y 1\n"
		"main 2\n"
		"main;a 3\n"
		"main;a;a 4\n"
		"main;b\\\\;c 5\n";
	const char *texts[] = {canon, plain};

	for (int i = 0; i < 2; i++)
	{
		StError		err;
		StTree	   *t = parse(texts[i], &err);
		char	   *s = t ? print(t) : NULL;

		CHECKF(t != NULL, "%s", err.msg);
		CHECKF(s && strcmp(s, texts[i]) == 0, "text %d came back as:\n%s", i,
			   s ? s : "(null)");
		st_free(s);
		st_tree_free(t);
	}

	/* random trees: tree -> text -> tree keeps every byte of the tree */
	for (int round = 0; round < 100; round++)
	{
		static const char *names[] = {
			"main", "a", "b", "x y", "#h", "semi;colon", "back\\slash", "nl\nx",
			"tab\t", "cr\r", "\xe2\x82\xac", "7", "-", " lead",
		};
		const char *types[] = {"samples", "cpu"};
		const char *units[] = {"count", "nanoseconds"};
		int			ncols = 1 + round % 2;
		StError		err;
		StTree	   *t = st_tree_new(ncols, types, units, &err);
		StTree	   *back;
		char	   *s,
				   *s2;

		for (int k = rnd(30); k > 0; k--)
		{
			uint32_t	f[6];
			uint32_t	d = rnd(6);
			int64_t		v[2] = {rnd(3) ? rnd(100) : 0, rnd(100000)};

			for (uint32_t j = 0; j < d; j++)
			{
				const char *nm = names[rnd(sizeof(names) / sizeof(names[0]))];

				f[j] = st_tree_intern(t, nm, strlen(nm), &err);
			}
			CHECK(st_tree_add_stack(t, f, d, v, &err));
		}
		if (round % 3 == 0)
		{
			t->default_col = ncols - 1;
			t->time_nanos = -1 - (int64_t) rnd(1000);
			t->duration_nanos = rnd(1000);
		}
		if (round % 4 == 0)
			CHECK(st_tree_set_period(t, "cpu", "nanoseconds", rnd(1000), &err));
		if (round % 5 == 0)
			t->period = 3;
		s = print(t);
		back = s ? parse(s, &err) : NULL;
		CHECKF(back != NULL, "round %d: %s", round, err.msg);
		CHECK(back && same_bytes(t, back));
		s2 = back ? print(back) : NULL;
		CHECK(s && s2 && strcmp(s, s2) == 0);
		st_free(s);
		st_free(s2);
		st_tree_free(back);
		st_tree_free(t);
	}
}

int
main(void)
{
	test_simple();
	test_escapes();
	test_header();
	test_errors();
	test_limits();
	test_identity();
	return unit_summary();
}
