/*
 * test_views.c
 *	  Unit tests of the read-only views of a tree on small hand-computed
 *	  trees: per-function top (st_analysis.c, incl. recursion), diff and its
 *	  per-function view (st_diff.c), focus/ignore/prune/scale and
 *	  self_of/total_of (st_filter.c), flame graph rows (st_flame.c), and the
 *	  pprof export (st_pprof_export.c) read back by the pprof decoder.
 *
 * Every expected number is worked out by hand in the comments.
 * Run from anywhere: regress/unit/test_views
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_analysis.h"
#include "st_codec.h"
#include "st_diff.h"
#include "st_filter.h"
#include "st_flame.h"
#include "st_pprof.h"
#include "st_pprof_export.h"
#include "unit.h"
#include "unit_tree.h"

/* ---------------------------------------------------------------- helpers */

static StTree *
new_tree(int ncols, const char *t0, const char *u0, const char *t1,
		 const char *u1)
{
	const char *types[2] = {t0, t1};
	const char *units[2] = {u0, u1};
	StError		err;
	StTree	   *t = st_tree_new(ncols, types, units, &err);

	CHECKF(t != NULL, "%s", err.msg);
	return t;
}

static StTree *
samples_tree(void)
{
	return new_tree(1, "samples", "count", NULL, NULL);
}

/* match mask of t's strings from a NULL-terminated list of names */
static bool *
mask(const StTree *t, ...)
{
	bool	   *m = calloc(t->nstrings + 1, sizeof(bool));
	va_list		ap;
	const char *nm;

	va_start(ap, t);
	while ((nm = va_arg(ap, const char *)) != NULL)
	{
		uint32_t	id = find_string(t, nm);

		if (id != UINT32_MAX)
			m[id] = true;
	}
	va_end(ap);
	return m;
}

/*
 * The tree as text "path=v0,v1 ..." for every node with a non-zero value,
 * sorted by path, by walking parents: compared with hand-written strings.
 */
static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *
dump(const StTree *t)
{
	char	  **lines = malloc(t->nnodes * sizeof(char *));
	uint32_t	nl = 0;
	char	   *out = malloc(t->nnodes * 128 + 1);

	for (uint32_t n = 0; n < t->nnodes; n++)
	{
		char		path[512] = "";
		char		buf[640];
		uint32_t	chain[64];
		int			d = 0;
		bool		any = false;
		size_t		off = 0;

		for (int c = 0; c < t->ncols; c++)
			any |= t->values[(size_t) n * t->ncols + c] != 0;
		if (!any)
			continue;
		for (uint32_t m = n; m != 0; m = t->parent[m])
			chain[d++] = m;
		while (d-- > 0)
			off += snprintf(path + off, sizeof(path) - off, "%s%s",
							off ? ";" : "", st_tree_string(t, t->frame[chain[d]]));
		/* a tab sorts a path before its children (';' comes later) */
		off = snprintf(buf, sizeof(buf), "%s\t", path);
		for (int c = 0; c < t->ncols; c++)
			off += snprintf(buf + off, sizeof(buf) - off, "%s%lld", c ? "," : "",
							(long long) t->values[(size_t) n * t->ncols + c]);
		lines[nl++] = strdup(buf);
	}
	qsort(lines, nl, sizeof(char *), cmpstr);
	out[0] = '\0';
	for (uint32_t i = 0; i < nl; i++)
	{
		if (i)
			strcat(out, " ");
		*strchr(lines[i], '\t') = '=';
		strcat(out, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return out;
}

static void
check_dump(const StTree *t, const char *want, int line)
{
	char	   *got = t ? dump(t) : strdup("(null)");

	CHECKF(strcmp(got, want) == 0, "line %d: got \"%s\", want \"%s\"", line, got, want);
	free(got);
}

#define CHECK_DUMP(t, want) check_dump((t), (want), __LINE__)

/*
 * The tree of the tests below (samples):
 *   main;a;b 3, main;a 2, main;c 4, main 1, other;b 5    total 15
 * cumulative: main 10, main;a 5, main;a;b 3, main;c 4, other 5, other;b 5
 */
static StTree *
tree_t(void)
{
	StTree	   *t = samples_tree();

	CHECK(add(t, "main;a;b", 3LL) && add(t, "main;a", 2LL) && add(t, "main;c", 4LL) &&
		  add(t, "main", 1LL) && add(t, "other;b", 5LL));
	return t;
}

/* --------------------------------------------------------------- analysis */

static void
check_top(const StFuncStat *s, uint32_t n, const StTree *t, const char *want,
		  int line)
{
	char		got[512] = "";
	size_t		off = 0;

	for (uint32_t i = 0; i < n; i++)
		off += snprintf(got + off, sizeof(got) - off, "%s%s:%lld/%lld", i ? " " : "",
						st_tree_string(t, s[i].name), (long long) s[i].self,
						(long long) s[i].total);
	CHECKF(strcmp(got, want) == 0, "line %d: got \"%s\", want \"%s\"", line, got, want);
}

static void
test_top_functions(void)
{
	StTree	   *t = tree_t();
	StError		err;
	uint32_t	n;
	StFuncStat *s;

	/*
	 * self: b 3+5, c 4, a 2, main 1, other 0; total: main 10, a 5, b 8, c 4,
	 * other 5; by self desc, total desc, name
	 */
	s = st_top_functions(t, 0, &n, &err);
	check_top(s, n, t, "b:8/8 c:4/4 a:2/5 main:1/10 other:0/5", __LINE__);
	st_free(s);
	st_tree_free(t);

	/* recursion: a;b;a;b 1, a;b 2, a 3 -> a self 3 total 6, b self 3 total 3 */
	t = samples_tree();
	CHECK(add(t, "a;b;a;b", 1LL) && add(t, "a;b", 2LL) && add(t, "a", 3LL));
	/* functions with a zero total are left out; so are unused names */
	CHECK(add(t, "z;y", 0LL));
	st_tree_intern(t, "unused", 6, &err);
	/* ties on self and total are broken by name */
	CHECK(add(t, "q", 1LL) && add(t, "p", 1LL));
	s = st_top_functions(t, 0, &n, &err);
	check_top(s, n, t, "a:3/6 b:3/3 p:1/1 q:1/1", __LINE__);
	st_free(s);

	/* a recursive chain a;a;a;a 4 counts 4 once */
	st_tree_free(t);
	t = samples_tree();
	CHECK(add(t, "a;a;a;a", 4LL) && add(t, "a;a", 1LL) && add(t, "", 9LL));
	s = st_top_functions(t, 0, &n, &err);
	check_top(s, n, t, "a:5/5", __LINE__);
	st_free(s);

	/* column argument and an empty result */
	err.code = ST_OK;
	CHECK(st_top_functions(t, 1, &n, &err) == NULL && err.code == ST_ERR_ARGUMENT);
	st_tree_free(t);
	t = samples_tree();
	CHECK(add(t, "", 3LL));
	s = st_top_functions(t, 0, &n, &err);
	/* (st_analysis.h says NULL here; the code returns an empty array) */
	CHECK(n == 0 && err.code == ST_OK);
	st_free(s);
	st_tree_free(t);

	/* the column is chosen: second column has other figures */
	t = new_tree(2, "samples", "count", "cpu", "nanoseconds");
	CHECK(add(t, "x;y", 1LL, 100LL) && add(t, "x", 5LL, 10LL));
	s = st_top_functions(t, 1, &n, &err);
	check_top(s, n, t, "y:100/100 x:10/110", __LINE__);
	st_free(s);
	st_tree_free(t);
}

/* ------------------------------------------------------------------- diff */

static void
test_scale_value(void)
{
	int64_t		v = -7;

	CHECK(st_scale_value(5, 0.5, &v) && v == 3);	/* 2.5 -> 3 */
	CHECK(st_scale_value(4, 0.5, &v) && v == 2);
	CHECK(st_scale_value(1, 0.49, &v) && v == 0);
	CHECK(st_scale_value(3, 0.0, &v) && v == 0);
	CHECK(st_scale_value(INT64_MAX, 1.0, &v) && v == INT64_MAX);
	CHECK(st_scale_value(1000000007, 3.0, &v) && v == 3000000021LL);
	CHECK(!st_scale_value(-1, 1.0, &v));
	CHECK(!st_scale_value(INT64_MAX, 2.0, &v));
	CHECK(!st_scale_value(INT64_MAX / 2 + 1, 2.0, &v));	/* exactly 2^63 */
	CHECK(!st_scale_value(1, NAN, &v));
	CHECK(!st_scale_value(1, INFINITY, &v));
	CHECK(!st_scale_value(1, -0.5, &v));
}

static void
test_diff(void)
{
	StTree	   *b = samples_tree();
	StTree	   *t = samples_tree();
	StTree	   *d;
	StError		err;

	/* base: main;a 10, main;b 5 (15)   test: main;a 4, main;c 6, main 2 (12) */
	CHECK(add(b, "main;a", 10LL) && add(b, "main;b", 5LL));
	CHECK(add(t, "main;a", 4LL) && add(t, "main;c", 6LL) && add(t, "main", 2LL));
	CHECK(st_tree_set_period(b, "cpu", "nanoseconds", 10, &err));
	t->time_nanos = 1000;
	t->duration_nanos = 60;
	b->time_nanos = 5;
	d = st_tree_diff(b, 0, t, 0, false, &err);
	CHECKF(d != NULL, "%s", err.msg);
	if (d)
	{
		CHECK(st_tree_is_diff(d));
		CHECK(strcmp(d->cols[0].unit, "count") == 0 && d->default_col == 1);
		CHECK(d->time_nanos == 1000 && d->duration_nanos == 60);
		CHECK(d->period_type && strcmp(d->period_type, "cpu") == 0 && d->period == 10);
		CHECK_DUMP(d, "main=0,2 main;a=10,4 main;b=5,0 main;c=0,6");
	}
	/* per-function: base main 0/15 a 10/10 b 5/5; test main 2/12 a 4/4 c 6/6 */
	{
		uint32_t	n;
		StFuncDiff *f = st_top_functions_diff(d, 0, 1, &n, &err);
		char		got[256] = "";
		size_t		off = 0;

		for (uint32_t i = 0; f && i < n; i++)
			off += snprintf(got + off, sizeof(got) - off, "%s%s:%lld/%lld:%lld/%lld",
							i ? " " : "", st_tree_string(d, f[i].name),
							(long long) f[i].base_self, (long long) f[i].base_total,
							(long long) f[i].test_self, (long long) f[i].test_total);
		/* |d self|: a 6, c 6 (|d total| 6 both, then name), b 5, main 2 */
		CHECKF(strcmp(got, "a:10/10:4/4 c:0/0:6/6 b:5/5:0/0 main:0/15:2/12") == 0,
			   "got %s", got);
		st_free(f);
	}
	st_tree_free(d);

	/* normalized: factor 15/12 = 1.25: a 5, c 7.5 -> 8, main 2.5 -> 3 */
	d = st_tree_diff(b, 0, t, 0, true, &err);
	CHECK_DUMP(d, "main=0,3 main;a=10,5 main;b=5,0 main;c=0,8");
	st_tree_free(d);
	/* with base total 24 the factor is 2 and the test side totals 24 */
	CHECK(add(b, "main;b", 9LL));
	d = st_tree_diff(b, 0, t, 0, true, &err);
	CHECK_DUMP(d, "main=0,4 main;a=10,8 main;b=14,0 main;c=0,12");
	{
		int64_t		tb = 0,
					tt = 0;

		CHECK(d && st_tree_total(d, 0, &tb, &err) && st_tree_total(d, 1, &tt, &err) &&
			  tb == 24 && tt == 24);
	}
	st_tree_free(d);

	/* diff(a, a): equal sides on every node */
	d = st_tree_diff(b, 0, b, 0, false, &err);
	if (d)
	{
		bool		eq = d->nnodes == b->nnodes;

		for (uint32_t n = 0; n < d->nnodes; n++)
			eq &= d->values[n * 2] == d->values[n * 2 + 1];
		CHECK(eq);
	}
	else
		CHECK(d != NULL);
	st_tree_free(d);

	/* normalizing against an empty test side scales it to 0 */
	{
		StTree	   *e = samples_tree();

		d = st_tree_diff(b, 0, e, 0, true, &err);
		CHECK_DUMP(d, "main;a=10,0 main;b=14,0");
		st_tree_free(d);
		st_tree_free(e);
	}

	/* columns picked by index; units must agree; period types too */
	{
		StTree	   *m = new_tree(2, "alloc", "bytes", "samples", "count");
		StTree	   *w = samples_tree();

		CHECK(add(m, "main;a", 100LL, 1LL) && add(m, "x", 50LL, 7LL));
		d = st_tree_diff(m, 1, t, 0, false, &err);
		CHECK_DUMP(d, "main=0,2 main;a=1,4 main;c=0,6 x=7,0");
		st_tree_free(d);
		err.code = ST_OK;
		CHECK(st_tree_diff(m, 0, t, 0, false, &err) == NULL && err.code == ST_ERR_MISMATCH);
		err.code = ST_OK;
		CHECK(st_tree_diff(m, 2, t, 0, false, &err) == NULL && err.code == ST_ERR_ARGUMENT);
		CHECK(st_tree_set_period(w, "wall", "nanoseconds", 1, &err));
		err.code = ST_OK;
		CHECK(st_tree_diff(b, 0, w, 0, false, &err) == NULL && err.code == ST_ERR_MISMATCH);
		st_tree_free(m);
		st_tree_free(w);
	}
	st_tree_free(b);
	st_tree_free(t);
}

/* ---------------------------------------------------------------- filters */

static void
test_filters(void)
{
	StTree	   *t = tree_t();
	StTree	   *r;
	StError		err;
	bool	   *mb = mask(t, "b", NULL);
	bool	   *ma = mask(t, "a", NULL);
	bool	   *mm = mask(t, "main", NULL);
	bool	   *mma = mask(t, "main", "a", NULL);
	int64_t		v = -1;

	t->time_nanos = 11;
	t->duration_nanos = 22;
	t->default_col = 0;
	CHECK(st_tree_set_period(t, "cpu", "nanoseconds", 33, &err));

	/* focus b: the samples with b on the stack */
	r = st_tree_focus(t, mb, false, &err);
	CHECK_DUMP(r, "main;a;b=3 other;b=5");
	CHECK(r && r->time_nanos == 11 && r->duration_nanos == 22 && r->default_col == 0 &&
		  r->period == 33 && r->period_type && strcmp(r->period_type, "cpu") == 0);
	st_tree_free(r);
	/* focus b re-rooted at b: one node b 8 */
	r = st_tree_focus(t, mb, true, &err);
	CHECK_DUMP(r, "b=8");
	CHECK(r && r->nnodes == 2);
	st_tree_free(r);
	r = st_tree_focus(t, ma, true, &err);
	CHECK_DUMP(r, "a=2 a;b=3");
	st_tree_free(r);
	r = st_tree_focus(t, mm, false, &err);
	CHECK_DUMP(r, "main=1 main;a=2 main;a;b=3 main;c=4");
	CHECK(r && r->nnodes == 5);
	st_tree_free(r);

	/* ignore b: main;a 2, main;c 4, main 1; other has nothing left */
	r = st_tree_ignore(t, mb, &err);
	CHECK_DUMP(r, "main=1 main;a=2 main;c=4");
	CHECK(r && r->nnodes == 4 && find_node(r, "other") == UINT32_MAX);
	st_tree_free(r);

	/* samples with an empty stack: focus drops them, ignore keeps them */
	{
		StTree	   *u = st_tree_copy(t, &err);
		bool	   *m = mask(u, "b", NULL);

		CHECK(add(u, "", 7LL));
		r = st_tree_focus(u, m, false, &err);
		CHECK_DUMP(r, "main;a;b=3 other;b=5");
		st_tree_free(r);
		r = st_tree_ignore(u, m, &err);
		CHECK_DUMP(r, "=7 main=1 main;a=2 main;c=4");
		st_tree_free(r);
		free(m);
		st_tree_free(u);
	}

	/*
	 * prune 0.25: threshold 3.75; main;a;b (3) folds into main;a (2 + 3 = 5)
	 */
	r = st_tree_prune(t, 0.25, 0, &err);
	CHECK_DUMP(r, "main=1 main;a=5 main;c=4 other;b=5");
	CHECK(r && r->nnodes == 6);
	st_tree_free(r);
	/*
	 * prune 0.34: threshold 5.1; main;a (5) and main;c (4) fold into main
	 * (1 + 5 + 4), other (5) into the root
	 */
	r = st_tree_prune(t, 0.34, 0, &err);
	CHECK_DUMP(r, "=5 main=10");
	CHECK(r && r->nnodes == 2 && r->time_nanos == 11);
	st_tree_free(r);
	/* prune 1: nothing reaches the whole total of 15 but the root */
	r = st_tree_prune(t, 1.0, 0, &err);
	CHECK_DUMP(r, "=15");
	st_tree_free(r);
	/* prune 0 keeps every node with a value, drops zero subtrees */
	{
		StTree	   *u = st_tree_copy(t, &err);

		CHECK(add(u, "main;zero;deeper", 0LL));
		r = st_tree_prune(u, 0.0, 0, &err);
		CHECK_DUMP(r, "main=1 main;a=2 main;a;b=3 main;c=4 other;b=5");
		CHECK(r && r->nnodes == 7 && find_node(r, "main;zero") == UINT32_MAX);
		st_tree_free(r);
		st_tree_free(u);
	}
	/* prune by the second column moves both columns */
	{
		StTree	   *u = new_tree(2, "samples", "count", "cpu", "nanoseconds");

		/* cpu total 100: x;y 10 < 0.2 * 100 folds into x; x;z 90 stays */
		CHECK(add(u, "x;y", 5LL, 10LL) && add(u, "x;z", 1LL, 90LL));
		r = st_tree_prune(u, 0.2, 1, &err);
		CHECK_DUMP(r, "x=5,10 x;z=1,90");
		st_tree_free(r);
		st_tree_free(u);
	}
	err.code = ST_OK;
	CHECK(st_tree_prune(t, 1.5, 0, &err) == NULL && err.code == ST_ERR_ARGUMENT);
	err.code = ST_OK;
	CHECK(st_tree_prune(t, NAN, 0, &err) == NULL && err.code == ST_ERR_ARGUMENT);
	err.code = ST_OK;
	CHECK(st_tree_prune(t, 0.5, 1, &err) == NULL && err.code == ST_ERR_ARGUMENT);

	/* scale 0.5, half away from zero: 1.5 -> 2, 1 -> 1, 2 -> 1, 0.5 -> 1, 2.5 -> 3 */
	r = st_tree_scale(t, 0.5, &err);
	CHECK_DUMP(r, "main=1 main;a=1 main;a;b=2 main;c=2 other;b=3");
	CHECK(r && r->time_nanos == 11 && r->duration_nanos == 22 && r->default_col == 0 &&
		  r->period == 33);
	st_tree_free(r);
	r = st_tree_scale(t, 3.0, &err);
	CHECK_DUMP(r, "main=3 main;a=6 main;a;b=9 main;c=12 other;b=15");
	st_tree_free(r);
	err.code = ST_OK;
	CHECK(st_tree_scale(t, -1.0, &err) == NULL && err.code == ST_ERR_ARGUMENT);
	err.code = ST_OK;
	CHECK(st_tree_scale(t, INFINITY, &err) == NULL && err.code == ST_ERR_ARGUMENT);
	{
		StTree	   *u = samples_tree();

		CHECK(add(u, "a", (long long) (INT64_MAX / 2 + 1)));
		err.code = ST_OK;
		CHECK(st_tree_scale(u, 2.0, &err) == NULL && err.code == ST_ERR_OVERFLOW);
		st_tree_free(u);
	}

	/* self_of / total_of */
	CHECK(st_tree_self_of(t, mb, 0, &v, &err) && v == 8);
	CHECK(st_tree_total_of(t, mb, 0, &v, &err) && v == 8);
	CHECK(st_tree_self_of(t, ma, 0, &v, &err) && v == 2);
	CHECK(st_tree_total_of(t, ma, 0, &v, &err) && v == 5);
	CHECK(st_tree_self_of(t, mm, 0, &v, &err) && v == 1);
	CHECK(st_tree_total_of(t, mm, 0, &v, &err) && v == 10);
	CHECK(st_tree_total_of(t, mma, 0, &v, &err) && v == 10);	/* once each */
	err.code = ST_OK;
	CHECK(!st_tree_total_of(t, mb, 1, &v, &err) && err.code == ST_ERR_ARGUMENT);
	{
		/* recursion: a;b;a;b 1, a;b 2, a 3: total of a is 6, self 3 */
		StTree	   *u = samples_tree();
		bool	   *m;

		CHECK(add(u, "a;b;a;b", 1LL) && add(u, "a;b", 2LL) && add(u, "a", 3LL));
		m = mask(u, "a", NULL);
		CHECK(st_tree_total_of(u, m, 0, &v, &err) && v == 6);
		CHECK(st_tree_self_of(u, m, 0, &v, &err) && v == 3);
		free(m);
		st_tree_free(u);
	}
	free(mb);
	free(ma);
	free(mm);
	free(mma);
	st_tree_free(t);
}

/* ------------------------------------------------------------------ flame */

static void
check_rows(const StTree *t, const StFlameRow *rows, uint32_t n, const char *want,
		   int line)
{
	char		got[1024] = "";
	size_t		off = 0;

	for (uint32_t i = 0; i < n; i++)
		off += snprintf(got + off, sizeof(got) - off, "%s%u:%s:%lld/%lld:%lld/%lld",
						i ? " " : "", rows[i].level,
						rows[i].node ? st_tree_string(t, t->frame[rows[i].node]) : "total",
						(long long) rows[i].value, (long long) rows[i].self,
						(long long) rows[i].value_right, (long long) rows[i].self_right);
	CHECKF(strcmp(got, want) == 0, "line %d: got \"%s\", want \"%s\"", line, got, want);
}

static void
test_flame(void)
{
	StTree	   *t = samples_tree();
	StFlameRow *rows;
	uint32_t	n;
	StError		err;

	/*
	 * z;b 0 and z... inserted first to make insertion order differ from the
	 * name order; the zero subtree z is left out.  root 4 + 3 + 2 + 1 = 10
	 */
	CHECK(add(t, "z;q", 0LL) && add(t, "main;b;c", 2LL) && add(t, "main;a", 3LL) &&
		  add(t, "main", 1LL) && add(t, "", 4LL));
	rows = st_flame_rows(t, 0, -1, &n, &err);
	CHECK(n == 5);
	check_rows(t, rows, n,
			   "0:total:10/4:0/0 1:main:6/1:0/0 2:a:3/3:0/0 2:b:2/0:0/0 3:c:2/2:0/0",
			   __LINE__);
	st_free(rows);
	err.code = ST_OK;
	CHECK(st_flame_rows(t, 1, -1, &n, &err) == NULL && err.code == ST_ERR_ARGUMENT);
	err.code = ST_OK;
	CHECK(st_flame_rows(t, 0, 0 + 1, &n, &err) == NULL && err.code == ST_ERR_ARGUMENT);
	st_tree_free(t);

	/* diff rows: a node shows when either side is non-zero */
	t = new_tree(2, "base", "count", "test", "count");
	CHECK(add(t, "main;b", 0LL, 5LL) && add(t, "main;a", 3LL, 0LL) && add(t, "x", 0LL, 0LL));
	rows = st_flame_rows(t, 0, 1, &n, &err);
	check_rows(t, rows, n,
			   "0:total:3/0:5/0 1:main:3/0:5/0 2:a:3/3:0/0 2:b:0/0:5/5", __LINE__);
	st_free(rows);
	st_tree_free(t);

	/* the empty tree: the root alone */
	t = samples_tree();
	rows = st_flame_rows(t, 0, -1, &n, &err);
	CHECK(rows != NULL && n == 1 && rows[0].level == 0 && rows[0].value == 0);
	st_free(rows);
	st_tree_free(t);
}

/* ----------------------------------------------------------- pprof export */

static StTree *
pprof_round_trip(const StTree *t)
{
	StError		err;
	size_t		len = 0;
	uint8_t    *pb = st_tree_to_pprof(t, &len, &err);
	StPprofOptions opts = {ST_PPROF_FUNCTIONS, 0, NULL};
	StTree	   *back;

	CHECKF(pb != NULL, "export: %s", err.msg);
	if (!pb)
		return NULL;
	CHECK(len > 2 && pb[0] == 0x1f && pb[1] == 0x8b);	/* gzip */
	back = st_tree_from_pprof(pb, len, &opts, &err);
	CHECKF(back != NULL, "re-decode: %s", err.msg);
	st_free(pb);
	return back;
}

static void
test_pprof_export(void)
{
	StTree	   *t = new_tree(2, "samples", "count", "cpu", "nanoseconds");
	StTree	   *back;
	StError		err;

	CHECK(add(t, "main;a;b", 3LL, 30LL) && add(t, "main;a", 2LL, 0LL) &&
		  add(t, "main;a;main;a", 1LL, 10LL) && add(t, "other;b", 0LL, 50LL) &&
		  add(t, "", 4LL, 40LL) && add(t, "w\xc3\xb6rd x;y\\z", 6LL, 60LL));
	CHECK(st_tree_set_period(t, "cpu", "nanoseconds", 10000000, &err));
	t->time_nanos = 1700000000123456789LL;
	t->duration_nanos = 10000000000LL;
	t->default_col = 1;
	back = pprof_round_trip(t);
	if (back)
	{
		CHECK(same_bytes(t, back));
		CHECK_DUMP(back, "=4,40 main;a=2,0 main;a;b=3,30 main;a;main;a=1,10 "
				   "other;b=0,50 w\xc3\xb6rd x;y\\z=6,60");
		CHECK(back->default_col == 1 && back->period == 10000000 &&
			  back->time_nanos == 1700000000123456789LL &&
			  back->duration_nanos == 10000000000LL);
	}
	st_tree_free(back);

	/* zero-valued leaves carry no sample: they do not come back */
	CHECK(add(t, "main;zero", 0LL, 0LL));
	back = pprof_round_trip(t);
	CHECK(back && find_node(back, "main;zero") == UINT32_MAX && find_node(back, "main;a;b") != UINT32_MAX);
	st_tree_free(back);
	st_tree_free(t);

	/* no default column, no period: neither appears */
	t = samples_tree();
	CHECK(add(t, "f;g", 1LL));
	back = pprof_round_trip(t);
	CHECK(back && same_bytes(t, back) && back->default_col == -1 &&
		  back->period_type == NULL);
	st_tree_free(back);
	st_tree_free(t);

	/* random trees whose every stack has a non-zero value */
	{
		uint64_t	state = 12345;

		for (int round = 0; round < 30; round++)
		{
			static const char *names[] = {"main", "a", "b", "c", "runtime.goexit", "x y"};

			t = new_tree(2, "alloc_objects", "count", "alloc_space", "bytes");
			for (int k = 0; k < 40; k++)
			{
				char		stack[256] = "";
				int			d;

				state = state * 6364136223846793005ULL + 1442695040888963407ULL;
				d = (int) ((state >> 33) % 7);
				for (int j = 0; j < d; j++)
				{
					state = state * 6364136223846793005ULL + 1442695040888963407ULL;
					if (j)
						strcat(stack, ";");
					strcat(stack, names[(state >> 33) % 6]);
				}
				CHECK(add(t, stack, (long long) (1 + k), (long long) (state >> 40)));
			}
			back = pprof_round_trip(t);
			CHECKF(back && same_bytes(t, back), "round %d", round);
			st_tree_free(back);
			st_tree_free(t);
		}
	}
}

int
main(void)
{
	test_top_functions();
	test_scale_value();
	test_diff();
	test_filters();
	test_flame();
	test_pprof_export();
	return unit_summary();
}
