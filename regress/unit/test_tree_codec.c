/*
 * test_tree_codec.c
 *	  Unit tests of the mutable tree (st_tree.c) and the stored form
 *	  (st_codec.c): interning and its limits, child lookup, stack insertion,
 *	  value checks, column mapping, header merging, merge algebra on random
 *	  trees, totals and cumulative values; encode/decode round trips,
 *	  canonical bytes, both payload paths, decode_merge, and hostile input
 *	  (every truncation, every single-byte change, a newer version, a
 *	  hand-crafted payload with duplicate siblings).
 *
 * Expected values are written by hand or come from a naive oracle in this
 * file (a flat list of root-to-node paths), never from the code under test.
 * Run from anywhere: regress/unit/test_tree_codec
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_codec.h"
#include "unit.h"
#include "unit_tree.h"

/* ---------------------------------------------------------------- helpers */

static const char *T_SAMPLES[] = {"samples"};
static const char *U_COUNT[] = {"count"};
static const char *T2[] = {"samples", "cpu"};
static const char *U2[] = {"count", "nanoseconds"};
static const char *T2R[] = {"cpu", "samples"};
static const char *U2R[] = {"nanoseconds", "count"};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t) ((rng_state >> 33) % n);
}

static StTree *
tree1(void)
{
	StError		err;

	return st_tree_new(1, T_SAMPLES, U_COUNT, &err);
}

static StTree *
tree2(bool reversed)
{
	StError		err;

	return reversed ? st_tree_new(2, T2R, U2R, &err) : st_tree_new(2, T2, U2, &err);
}

static int64_t
self_at(const StTree *t, const char *path, int col)
{
	uint32_t	n = find_node(t, path);

	return n == UINT32_MAX ? -1 : t->values[(size_t) n * t->ncols + col];
}

/*
 * The oracle form of a tree: one line "path\tv0 v1 ...\n" per node, the
 * path built by walking parent links, values in the column order given by
 * column names, lines sorted.  Two trees are the same tree when these are
 * equal.
 */
static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *
flat_form(const StTree *t, const char *const *colorder, int ncols)
{
	char	  **lines = malloc(t->nnodes * sizeof(char *));
	size_t		total = 1;
	char	   *out;

	for (uint32_t n = 0; n < t->nnodes; n++)
	{
		char		path[8192] = "";
		uint32_t	chain[512];
		int			d = 0;
		char		buf[9000];
		size_t		off;

		for (uint32_t m = n; m != 0; m = t->parent[m])
			chain[d++] = m;
		off = 0;
		while (d-- > 0)
		{
			uint32_t	f = t->frame[chain[d]];

			off += snprintf(path + off, sizeof(path) - off, "|%.*s",
							(int) (t->str_len[f] > 60 ? 60 : t->str_len[f]),
							st_tree_string(t, f));
			if (t->str_len[f] > 60)
				off += snprintf(path + off, sizeof(path) - off, "..%u:%08llx",
								t->str_len[f],
								(unsigned long long) st_hash_bytes(st_tree_string(t, f), t->str_len[f]));
		}
		off = snprintf(buf, sizeof(buf), "%s\t", path);
		for (int c = 0; c < ncols; c++)
		{
			int			col = -1;

			for (int j = 0; j < t->ncols; j++)
				if (strcmp(t->cols[j].type, colorder[c]) == 0)
					col = j;
			off += snprintf(buf + off, sizeof(buf) - off, " %lld",
							col < 0 ? -1LL : (long long) t->values[(size_t) n * t->ncols + col]);
		}
		lines[n] = strdup(buf);
		total += strlen(buf) + 1;
	}
	qsort(lines, t->nnodes, sizeof(char *), cmpstr);
	out = malloc(total);
	out[0] = '\0';
	for (uint32_t n = 0; n < t->nnodes; n++)
	{
		strcat(out, lines[n]);
		strcat(out, "\n");
		free(lines[n]);
	}
	free(lines);
	return out;
}

static bool
same_tree(const StTree *a, const StTree *b)
{
	const char *order[ST_MAX_COLUMNS];
	char	   *fa,
			   *fb;
	bool		eq;

	if (a->ncols != b->ncols)
		return false;
	for (int c = 0; c < a->ncols; c++)
		order[c] = a->cols[c].type;
	fa = flat_form(a, order, a->ncols);
	fb = flat_form(b, order, a->ncols);
	eq = strcmp(fa, fb) == 0;
	if (!eq)
		fprintf(stderr, "--- tree a:\n%s--- tree b:\n%s", fa, fb);
	free(fa);
	free(fb);
	return eq;
}

static bool
same_header(const StTree *a, const StTree *b)
{
	if (a->ncols != b->ncols || a->default_col != b->default_col ||
		a->period != b->period || a->time_nanos != b->time_nanos ||
		a->duration_nanos != b->duration_nanos ||
		(a->period_type == NULL) != (b->period_type == NULL))
		return false;
	if (a->period_type && (strcmp(a->period_type, b->period_type) != 0 ||
						   strcmp(a->period_unit, b->period_unit) != 0))
		return false;
	for (int c = 0; c < a->ncols; c++)
		if (strcmp(a->cols[c].type, b->cols[c].type) != 0 ||
			strcmp(a->cols[c].unit, b->cols[c].unit) != 0)
			return false;
	return true;
}

/* structural invariants every tree must hold */
static bool
tree_valid(const StTree *t)
{
	if (t->nnodes < 1 || t->frame[0] != ST_NO_FRAME)
		return false;
	for (uint32_t n = 1; n < t->nnodes; n++)
	{
		if (t->parent[n] >= n || t->frame[n] >= t->nstrings)
			return false;
		if (st_tree_find_child(t, t->parent[n], t->frame[n]) != n)
			return false;
	}
	for (size_t i = 0; i < (size_t) t->nnodes * t->ncols; i++)
		if (t->values[i] < 0)
			return false;
	return true;
}

static bool
bytes_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

/* ---- random trees, with the oracle as a list of recorded stacks ---- */

static const char *NAMES[] = {
	"main", "runtime.mcall", "net/http.(*conn).serve", "a", "b",
	"h\xc3\xa9llo w\xc3\xb6rld", "\xe6\x97\xa5\xe6\x9c\xac", "x;y\\z",
};

#define NNAMES (sizeof(NAMES) / sizeof(NAMES[0]))

typedef struct Rec
{
	char		path[256];
	int64_t		v[2];
} Rec;

/* a random tree of ncols (1 or 2) columns with n stacks, recorded in recs */
static StTree *
random_tree(int ncols, bool reversed, int nstacks, Rec *recs, int *nrecs)
{
	StTree	   *t = ncols == 1 ? tree1() : tree2(reversed);
	StError		err;

	for (int s = 0; s < nstacks; s++)
	{
		uint32_t	frames[8];
		uint32_t	d = rnd(7);
		int64_t		v[2],
					vals[2];
		char		path[256] = "";

		for (uint32_t i = 0; i < d; i++)
		{
			const char *nm = NAMES[rnd(NNAMES)];

			frames[i] = st_tree_intern(t, nm, strlen(nm), &err);
			strcat(path, "|");
			strcat(path, nm);
		}
		v[0] = rnd(4) == 0 ? 0 : rnd(1000);
		v[1] = rnd(4) == 0 ? 0 : rnd(1000000);
		/* vals in the tree's own column order */
		vals[0] = reversed ? v[1] : v[0];
		vals[1] = reversed ? v[0] : v[1];
		CHECK(st_tree_add_stack(t, frames, d, vals, &err));
		if (recs)
		{
			strcpy(recs[*nrecs].path, path);
			recs[*nrecs].v[0] = v[0];
			recs[*nrecs].v[1] = ncols == 2 ? v[1] : 0;
			(*nrecs)++;
		}
	}
	if (rnd(2))
	{
		t->time_nanos = rnd(3) == 0 ? 0 : 1700000000000000000LL + rnd(1000);
		t->duration_nanos = rnd(1000000);
		CHECK(st_tree_set_period(t, "cpu", "nanoseconds", rnd(100), &err));
	}
	if (rnd(2))
		t->default_col = (int) rnd(ncols);
	return t;
}

/*
 * The oracle's flat form of recorded stacks: every prefix of every stack
 * is a node, each stack's values go to its full path (columns in the order
 * samples, cpu).
 */
static char *
oracle_flat(const Rec *recs, int nrecs, int ncols)
{
	char	  **paths = malloc((size_t) (nrecs * 8 + 1) * sizeof(char *));
	int64_t    *vals = calloc((size_t) (nrecs * 8 + 1) * 2, sizeof(int64_t));
	int			np = 0;
	size_t		total = 1;
	char	  **lines;
	char	   *out;

	paths[np++] = strdup("");
	for (int r = 0; r < nrecs; r++)
	{
		const char *p = recs[r].path;
		size_t		len = strlen(p);

		for (size_t i = 0; i <= len; i++)
		{
			if (i == len || (p[i] == '|' && i > 0))
			{
				char	   *pre = strndup(p, i);
				int			found = -1;

				for (int j = 0; j < np; j++)
					if (strcmp(paths[j], pre) == 0)
						found = j;
				if (found < 0)
				{
					found = np;
					paths[np++] = pre;
				}
				else
					free(pre);
				if (i == len)
				{
					vals[found * 2] += recs[r].v[0];
					vals[found * 2 + 1] += recs[r].v[1];
				}
			}
		}
	}
	lines = malloc(np * sizeof(char *));
	for (int j = 0; j < np; j++)
	{
		char		buf[512];

		if (ncols == 1)
			snprintf(buf, sizeof(buf), "%s\t %lld", paths[j], (long long) vals[j * 2]);
		else
			snprintf(buf, sizeof(buf), "%s\t %lld %lld", paths[j],
					 (long long) vals[j * 2], (long long) vals[j * 2 + 1]);
		lines[j] = strdup(buf);
		total += strlen(buf) + 1;
		free(paths[j]);
	}
	qsort(lines, np, sizeof(char *), cmpstr);
	out = malloc(total);
	out[0] = '\0';
	for (int j = 0; j < np; j++)
	{
		strcat(out, lines[j]);
		strcat(out, "\n");
		free(lines[j]);
	}
	free(lines);
	free(paths);
	free(vals);
	return out;
}

static bool
matches_oracle(const StTree *t, const Rec *recs, int nrecs)
{
	const char *order[2] = {"samples", "cpu"};
	char	   *a = flat_form(t, order, t->ncols);
	char	   *b = oracle_flat(recs, nrecs, t->ncols);
	bool		eq = strcmp(a, b) == 0;

	if (!eq)
		fprintf(stderr, "--- tree:\n%s--- oracle:\n%s", a, b);
	free(a);
	free(b);
	return eq;
}

static uint8_t *
enc(const StTree *t, size_t *len)
{
	StError		err;
	uint8_t    *b = st_encode(t, len, &err);

	CHECKF(b != NULL, "encode failed: %s", err.msg);
	return b;
}

/* ---------------------------------------------------------------- st_tree */

static void
test_intern(void)
{
	StTree	   *t = tree1();
	StError		err;
	char	   *big = malloc(ST_MAX_NAME_LEN + 1);
	uint32_t	a,
				b,
				a2,
				before;

	a = st_tree_intern(t, "alpha", 5, &err);
	b = st_tree_intern(t, "alphabet", 8, &err);
	a2 = st_tree_intern(t, "alphabet", 5, &err);	/* first 5 bytes only */
	CHECK(a == 0 && b == 1 && a2 == 0);
	CHECK(t->nstrings == 2);
	CHECK(strcmp(st_tree_string(t, 1), "alphabet") == 0 && t->str_len[1] == 8);
	/* many names: each id stable across index growth */
	for (int i = 0; i < 5000; i++)
	{
		char		nm[32];

		snprintf(nm, sizeof(nm), "f%d", i);
		st_tree_intern(t, nm, strlen(nm), &err);
	}
	CHECK(t->nstrings == 5002);
	CHECK(st_tree_intern(t, "f4321", 5, &err) == 2 + 4321);
	CHECK(st_tree_intern(t, "alpha", 5, &err) == 0);
	CHECK(find_string(t, "f17") == 19);

	/* length limit: exactly ST_MAX_NAME_LEN is fine, one more is not */
	memset(big, 'x', ST_MAX_NAME_LEN + 1);
	before = t->nstrings;
	CHECK(st_tree_intern(t, big, ST_MAX_NAME_LEN, &err) == before);
	CHECK(t->str_len[before] == ST_MAX_NAME_LEN);
	err.code = ST_OK;
	CHECK(st_tree_intern(t, big, ST_MAX_NAME_LEN + 1, &err) == UINT32_MAX);
	CHECK(err.code == ST_ERR_LIMIT);
	CHECK(t->nstrings == before + 1);

	/* invalid UTF-8 and NUL */
	{
		static const struct
		{
			const char *s;
			size_t		len;
		}			bad[] = {
			{"\xff", 1}, {"ab\xc3", 3}, {"\xc0\x80", 2}, {"\xe0\x80\x80", 3},
			{"\xed\xa0\x80", 3}, {"\xf4\x90\x80\x80", 4}, {"\x80", 1},
			{"a\0b", 3}, {"\0", 1}, {"\xc3\x28", 2},
		};

		before = t->nstrings;
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			err.code = ST_OK;
			CHECKF(st_tree_intern(t, bad[i].s, bad[i].len, &err) == UINT32_MAX &&
				   err.code == ST_ERR_ENCODING, "bad name %zu", i);
		}
		CHECK(t->nstrings == before);
		/* valid multi-byte names are accepted */
		CHECK(st_tree_intern(t, "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 9, &err) == before);
	}
	free(big);
	st_tree_free(t);
}

static void
test_child(void)
{
	StTree	   *t = tree1();
	StError		err;
	uint32_t	fa = st_tree_intern(t, "a", 1, &err);
	uint32_t	fb = st_tree_intern(t, "b", 1, &err);
	uint32_t	na,
				nb,
				nab;

	CHECK(st_tree_find_child(t, 0, fa) == UINT32_MAX);
	na = st_tree_child(t, 0, fa, &err);
	CHECK(na == 1 && t->nnodes == 2 && t->parent[1] == 0 && t->frame[1] == fa);
	CHECK(st_tree_child(t, 0, fa, &err) == na && t->nnodes == 2);
	CHECK(st_tree_find_child(t, 0, fa) == na);
	CHECK(st_tree_find_child(t, 0, fb) == UINT32_MAX);
	nb = st_tree_child(t, 0, fb, &err);
	nab = st_tree_child(t, na, fb, &err);
	CHECK(nb == 2 && nab == 3 && t->parent[nab] == na);
	CHECK(st_tree_find_child(t, na, fb) == nab);
	CHECK(st_tree_find_child(t, nb, fb) == UINT32_MAX);
	CHECK(t->values[nab] == 0);

	/* 3000 children of one node survive index growth and node array growth */
	for (uint32_t i = 0; i < 3000; i++)
	{
		char		nm[16];
		uint32_t	f;

		snprintf(nm, sizeof(nm), "c%u", i);
		f = st_tree_intern(t, nm, strlen(nm), &err);
		CHECK(st_tree_child(t, nb, f, &err) == 4 + i);
	}
	{
		bool		all = true;

		for (uint32_t i = 0; i < 3000; i++)
			all &= st_tree_find_child(t, nb, 2 + i) == 4 + i &&
				t->parent[4 + i] == nb;
		CHECK(all);
	}
	CHECK(t->nnodes == 3004);
	CHECK(tree_valid(t));
	st_tree_free(t);
}

static void
test_add_stack(void)
{
	StTree	   *t = tree1();
	StError		err;
	uint32_t   *frames = malloc((ST_MAX_DEPTH + 1) * sizeof(uint32_t));
	int64_t		one = 1,
				seven = 7;

	for (uint32_t i = 0; i <= ST_MAX_DEPTH; i++)
	{
		char		nm[16];

		snprintf(nm, sizeof(nm), "d%u", i % 50);
		frames[i] = st_tree_intern(t, nm, strlen(nm), &err);
	}
	CHECK(st_tree_add_stack(t, frames, ST_MAX_DEPTH, &one, &err));
	CHECK(t->nnodes == ST_MAX_DEPTH + 1);
	CHECK(t->max_depth == ST_MAX_DEPTH);
	CHECK(t->values[ST_MAX_DEPTH] == 1);
	/* the deepest node is the last one, its parent chain has depth 10000 */
	{
		uint32_t	d = 0;

		for (uint32_t m = ST_MAX_DEPTH; m != 0; m = t->parent[m])
			d++;
		CHECK(d == ST_MAX_DEPTH);
	}
	err.code = ST_OK;
	CHECK(!st_tree_add_stack(t, frames, ST_MAX_DEPTH + 1, &one, &err));
	CHECK(err.code == ST_ERR_LIMIT);
	CHECK(t->nnodes == ST_MAX_DEPTH + 1);

	/* the empty stack adds to the root */
	CHECK(st_tree_add_stack(t, NULL, 0, &seven, &err));
	CHECK(t->values[0] == 7);
	/* an unknown string id is refused */
	{
		uint32_t	f = t->nstrings;

		err.code = ST_OK;
		CHECK(!st_tree_add_stack(t, &f, 1, &one, &err) && err.code == ST_ERR_ARGUMENT);
	}
	/* adding the same stack twice sums */
	CHECK(add(t, "x;y", 3LL) && add(t, "x;y", 4LL) && add(t, "x", 5LL));
	CHECK(self_at(t, "x;y", 0) == 7 && self_at(t, "x", 0) == 5);
	free(frames);
	st_tree_free(t);
}

static void
test_add_values(void)
{
	StTree	   *t = tree2(false);
	StError		err;
	int64_t		v[2];

	CHECK(add(t, "a", 1LL, 2LL));
	v[0] = -1;
	v[1] = 0;
	err.code = ST_OK;
	CHECK(!st_tree_add_values(t, 1, v, &err) && err.code == ST_ERR_OVERFLOW);
	CHECK(t->values[2] == 1 && t->values[3] == 2);
	v[0] = 0;
	v[1] = INT64_MIN;
	err.code = ST_OK;
	CHECK(!st_tree_add_values(t, 1, v, &err) && err.code == ST_ERR_OVERFLOW);

	/* INT64_MAX is reachable, INT64_MAX + 1 is not */
	v[0] = INT64_MAX - 1;
	v[1] = 0;
	CHECK(st_tree_add_values(t, 1, v, &err));
	CHECK(t->values[2] == INT64_MAX);
	v[0] = 1;
	err.code = ST_OK;
	CHECK(!st_tree_add_values(t, 1, v, &err) && err.code == ST_ERR_OVERFLOW);
	CHECK(t->values[2] == INT64_MAX);
	/* a refused add changes no column, even when an earlier one was fine */
	v[0] = 0;
	v[1] = 5;
	CHECK(st_tree_add_values(t, 1, v, &err) && t->values[3] == 7);
	v[0] = 1;
	v[1] = 1;
	err.code = ST_OK;
	CHECK(!st_tree_add_values(t, 1, v, &err) && err.code == ST_ERR_OVERFLOW);
	CHECK(t->values[2] == INT64_MAX && t->values[3] == 7);
	v[0] = 0;
	v[1] = INT64_MAX - 7;
	CHECK(st_tree_add_values(t, 1, v, &err) && t->values[3] == INT64_MAX);
	v[1] = INT64_MAX;
	err.code = ST_OK;
	CHECK(!st_tree_add_values(t, 1, v, &err) && err.code == ST_ERR_OVERFLOW);
	CHECK(strstr(err.msg, "cpu") != NULL);
	st_tree_free(t);
}

static void
test_column_map(void)
{
	StTree	   *a = tree2(false);
	StTree	   *b = tree2(true);
	StTree	   *c1 = tree1();
	StError		err;
	int			map[ST_MAX_COLUMNS] = {-1, -1};
	const char *tu[] = {"samples", "cpu"};
	const char *uu[] = {"count", "microseconds"};
	const char *tx[] = {"samples", "alloc"};
	const char *ux[] = {"count", "nanoseconds"};
	StTree	   *du = st_tree_new(2, tu, uu, &err);
	StTree	   *ds = st_tree_new(2, tx, ux, &err);

	CHECK(st_tree_column_map(a, a->ncols, a->cols, map, &err));
	CHECK(map[0] == 0 && map[1] == 1);
	CHECK(st_tree_column_map(a, b->ncols, b->cols, map, &err));
	CHECK(map[0] == 1 && map[1] == 0);	/* b's cpu is a's column 1 */
	err.code = ST_OK;
	CHECK(!st_tree_column_map(a, du->ncols, du->cols, map, &err) &&
		  err.code == ST_ERR_MISMATCH);
	CHECK(strstr(err.detail, "microseconds") != NULL);
	err.code = ST_OK;
	CHECK(!st_tree_column_map(a, ds->ncols, ds->cols, map, &err) &&
		  err.code == ST_ERR_MISMATCH);
	err.code = ST_OK;
	CHECK(!st_tree_column_map(a, c1->ncols, c1->cols, map, &err) &&
		  err.code == ST_ERR_MISMATCH);
	err.code = ST_OK;
	CHECK(!st_tree_column_map(c1, a->ncols, a->cols, map, &err) &&
		  err.code == ST_ERR_MISMATCH);
	/* st_tree_merge refuses too, and leaves dst alone */
	CHECK(add(ds, "x", 1LL, 1LL));
	err.code = ST_OK;
	CHECK(!st_tree_merge(a, ds, &err) && err.code == ST_ERR_MISMATCH && a->nnodes == 1);
	st_tree_free(a);
	st_tree_free(b);
	st_tree_free(c1);
	st_tree_free(du);
	st_tree_free(ds);
}

static void
test_merge_header(void)
{
	StTree	   *d = tree2(false);
	StTree	   *s = tree2(false);
	StError		err;
	int			id[2] = {0, 1};
	int			swap[2] = {1, 0};

	/* time: earliest non-zero */
	s->time_nanos = 500;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->time_nanos == 500);
	s->time_nanos = 700;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->time_nanos == 500);
	s->time_nanos = 0;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->time_nanos == 500);
	s->time_nanos = 300;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->time_nanos == 300);

	/* duration: summed (four merges so far of 0) */
	d->duration_nanos = 10;
	s->duration_nanos = 32;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->duration_nanos == 42);
	CHECK(st_tree_merge_header(d, s, id, &err) && d->duration_nanos == 74);
	s->duration_nanos = INT64_MAX;
	err.code = ST_OK;
	CHECK(!st_tree_merge_header(d, s, id, &err) && err.code == ST_ERR_OVERFLOW);
	s->duration_nanos = 0;

	/* period: the largest; period type adopted when dst has none */
	CHECK(st_tree_set_period(s, "cpu", "nanoseconds", 10, &err));
	CHECK(st_tree_merge_header(d, s, id, &err));
	CHECK(d->period == 10 && d->period_type && strcmp(d->period_type, "cpu") == 0 &&
		  strcmp(d->period_unit, "nanoseconds") == 0);
	s->period = 5;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->period == 10);
	s->period = 20;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->period == 20);
	CHECK(st_tree_set_period(s, "wall", "nanoseconds", 1, &err));
	err.code = ST_OK;
	CHECK(!st_tree_merge_header(d, s, id, &err) && err.code == ST_ERR_MISMATCH);
	CHECK(st_tree_set_period(s, NULL, NULL, 0, &err));

	/*
	 * default column: a set one wins over none; between two different ones
	 * the type name that sorts first ("cpu" < "samples"), whatever the order
	 */
	CHECK(d->default_col == -1);
	CHECK(st_tree_merge_header(d, s, id, &err) && d->default_col == -1);
	s->default_col = 0;			/* samples */
	CHECK(st_tree_merge_header(d, s, id, &err) && d->default_col == 0);
	s->default_col = -1;
	CHECK(st_tree_merge_header(d, s, id, &err) && d->default_col == 0);
	s->default_col = 1;			/* cpu sorts first */
	CHECK(st_tree_merge_header(d, s, id, &err) && d->default_col == 1);
	s->default_col = 0;			/* samples does not replace cpu */
	CHECK(st_tree_merge_header(d, s, id, &err) && d->default_col == 1);
	/* through a column map: src default 0 is dst column 1 */
	d->default_col = -1;
	s->default_col = 0;
	CHECK(st_tree_merge_header(d, s, swap, &err) && d->default_col == 1);
	st_tree_free(d);
	st_tree_free(s);
}

/* merge a copy: a + b as a new tree */
static StTree *
merged(const StTree *a, const StTree *b)
{
	StError		err;
	StTree	   *m = st_tree_copy(a, &err);

	CHECKF(m != NULL, "copy: %s", err.msg);
	CHECKF(st_tree_merge(m, b, &err), "merge: %s", err.msg);
	return m;
}

/* the default column does not depend on merge order or column order */
static void
test_merge_default_associative(void)
{
	StTree	   *a = tree2(false);	/* samples, cpu; no default */
	StTree	   *b = tree2(true);	/* cpu, samples; default cpu */
	StTree	   *c = tree2(false);	/* samples, cpu; default samples */
	StTree	   *ab,
			   *ab_c,
			   *bc,
			   *a_bc;

	b->default_col = 0;
	c->default_col = 0;
	ab = merged(a, b);
	ab_c = merged(ab, c);
	bc = merged(b, c);
	a_bc = merged(a, bc);
	CHECK(ab_c->default_col >= 0 && a_bc->default_col >= 0);
	CHECK(strcmp(ab_c->cols[ab_c->default_col].type, "cpu") == 0);
	CHECK(strcmp(a_bc->cols[a_bc->default_col].type, "cpu") == 0);
	st_tree_free(a);
	st_tree_free(b);
	st_tree_free(c);
	st_tree_free(ab);
	st_tree_free(ab_c);
	st_tree_free(bc);
	st_tree_free(a_bc);
}

static void
test_merge_algebra(void)
{
	for (int round = 0; round < 60; round++)
	{
		Rec		   *recs = malloc(sizeof(Rec) * 300);
		int			nrecs = 0;
		int			ncols = 1 + round % 2;
		bool		rev = ncols == 2 && round % 4 == 3;
		StTree	   *a = random_tree(ncols, false, 1 + rnd(40), recs, &nrecs);
		StTree	   *b = random_tree(ncols, rev, rnd(40), recs, &nrecs);
		StTree	   *c = random_tree(ncols, false, 1 + rnd(40), recs, &nrecs);
		StTree	   *ab = merged(a, b),
				   *ba = merged(b, a),
				   *bc = merged(b, c);
		StTree	   *ab_c = merged(ab, c),
				   *a_bc = merged(a, bc);
		uint8_t    *e1,
				   *e2,
				   *e3,
				   *e4;
		size_t		l1,
					l2,
					l3,
					l4;

		/* merged values are the sums of every recorded stack */
		CHECK(matches_oracle(ab_c, recs, nrecs));
		CHECK(tree_valid(ab_c));
		e1 = enc(ab, &l1);
		e2 = enc(ba, &l2);
		e3 = enc(ab_c, &l3);
		e4 = enc(a_bc, &l4);
		if (!rev)
		{
			CHECKF(bytes_eq(e1, l1, e2, l2), "a+b != b+a in round %d", round);
			CHECKF(bytes_eq(e3, l3, e4, l4), "(a+b)+c != a+(b+c) in round %d", round);
		}
		else
		{
			/*
			 * b's columns in the other order: the result takes the first
			 * operand's column order, so compare column-aligned
			 */
			CHECK(strcmp(ba->cols[0].type, "cpu") == 0);
			CHECK(same_tree(ab, ba) && same_tree(ab_c, a_bc));
			CHECK(ab->period == ba->period && ab->time_nanos == ba->time_nanos &&
				  ab->duration_nanos == ba->duration_nanos);
		}
		/* header rules, computed from the inputs by hand */
		{
			int64_t		tmin = 0;
			const StTree *in[3] = {a, b, c};

			for (int i = 0; i < 3; i++)
				if (in[i]->time_nanos && (!tmin || in[i]->time_nanos < tmin))
					tmin = in[i]->time_nanos;
			CHECK(ab_c->time_nanos == tmin);
			CHECK(ab_c->duration_nanos ==
				  a->duration_nanos + b->duration_nanos + c->duration_nanos);
		}
		st_free(e1);
		st_free(e2);
		st_free(e3);
		st_free(e4);
		st_tree_free(a);
		st_tree_free(b);
		st_tree_free(c);
		st_tree_free(ab);
		st_tree_free(ba);
		st_tree_free(bc);
		st_tree_free(ab_c);
		st_tree_free(a_bc);
		free(recs);
	}
}

static void
test_total_cumulative(void)
{
	StTree	   *t = tree2(false);
	StError		err;
	int64_t		tot = -1;
	int64_t    *cum;

	CHECK(add(t, "a;b", 3LL, 30LL) && add(t, "a;c", 4LL, 40LL) &&
		  add(t, "a", 1LL, 10LL) && add(t, "d", 2LL, 0LL) &&
		  add(t, "", 5LL, 50LL) && add(t, "d;e", 0LL, 0LL));
	CHECK(st_tree_total(t, 0, &tot, &err) && tot == 15);
	CHECK(st_tree_total(t, 1, &tot, &err) && tot == 130);
	err.code = ST_OK;
	CHECK(!st_tree_total(t, 2, &tot, &err) && err.code == ST_ERR_ARGUMENT);
	err.code = ST_OK;
	CHECK(!st_tree_total(t, -1, &tot, &err) && err.code == ST_ERR_ARGUMENT);
	cum = st_tree_cumulative(t, &err);
	CHECK(cum != NULL);
	if (cum)
	{
		struct
		{
			const char *path;
			int64_t		v0,
						v1;
		}			want[] = {
			{"", 15, 130}, {"a", 8, 80}, {"a;b", 3, 30}, {"a;c", 4, 40},
			{"d", 2, 0}, {"d;e", 0, 0},
		};

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		{
			uint32_t	n = find_node(t, want[i].path);

			CHECKF(n != UINT32_MAX && cum[n * 2] == want[i].v0 &&
				   cum[n * 2 + 1] == want[i].v1, "cum of %s", want[i].path);
		}
		st_free(cum);
	}
	/* overflow in total and in cumulative */
	{
		StTree	   *o = tree1();

		CHECK(add(o, "a", (long long) INT64_MAX) && add(o, "b", 1LL));
		err.code = ST_OK;
		CHECK(!st_tree_total(o, 0, &tot, &err) && err.code == ST_ERR_OVERFLOW);
		err.code = ST_OK;
		CHECK(st_tree_cumulative(o, &err) == NULL && err.code == ST_ERR_OVERFLOW);
		st_tree_free(o);
	}
	st_tree_free(t);
}

/* --------------------------------------------------------------- st_codec */

static void
test_round_trip(void)
{
	StError		err;

	for (int round = 0; round < 80; round++)
	{
		int			ncols = 1 + round % 2;
		StTree	   *t = random_tree(ncols, round % 4 == 3, rnd(60), NULL, NULL);
		uint8_t    *e,
				   *e2;
		size_t		l,
					l2;
		StTree	   *d;

		if (round % 5 == 0)
		{
			int64_t		v[2] = {rnd(9) + 1, rnd(9)};

			CHECK(st_tree_add_values(t, 0, v, &err));	/* root self */
		}
		if (round % 7 == 0)
		{
			/* long names, one exactly at the limit */
			char	   *big = malloc(ST_MAX_NAME_LEN);
			uint32_t	f[2];
			int64_t		v[2] = {1, 2};

			memset(big, 'q', ST_MAX_NAME_LEN);
			big[0] = 'Q';
			f[0] = st_tree_intern(t, big, ST_MAX_NAME_LEN, &err);
			f[1] = st_tree_intern(t, big, 5000, &err);
			CHECK(st_tree_add_stack(t, f, 2, v, &err));
			free(big);
		}
		if (round % 3 == 0)
		{
			t->time_nanos = -12345;		/* before 1970 is allowed */
			t->duration_nanos = INT64_MAX;
			CHECK(st_tree_set_period(t, "space", "bytes", INT64_MAX, &err));
		}
		e = enc(t, &l);
		d = st_decode(e, l, &err);
		CHECKF(d != NULL, "decode round %d: %s", round, err.msg);
		if (d)
		{
			CHECK(same_tree(t, d));
			CHECK(same_header(t, d));
			CHECK(tree_valid(d));
			e2 = enc(d, &l2);
			CHECK(bytes_eq(e, l, e2, l2));
			st_free(e2);
			st_tree_free(d);
		}
		st_free(e);
		st_tree_free(t);
	}
	/* the empty tree and a tree with only zero leaves */
	{
		StTree	   *t = tree1();
		uint8_t    *e = enc(t, &(size_t) {0});
		size_t		l;
		StTree	   *d;

		st_free(e);
		CHECK(add(t, "z;zz", 0LL) && add(t, "y", 0LL));
		e = enc(t, &l);
		d = st_decode(e, l, &err);
		CHECK(d != NULL && d->nnodes == 4 && self_at(d, "z;zz", 0) == 0 &&
			  self_at(d, "y", 0) == 0);
		st_tree_free(d);
		st_free(e);
		st_tree_free(t);
	}
}

static void
test_canonical(void)
{
	const char *stacks[] = {
		"main;b;c", "main;a", "zeta", "main;b", "\xc3\xa9t\xc3\xa9;x", "main;a;q",
		"Main", "main;b;c", "",
	};
	int			n = sizeof(stacks) / sizeof(stacks[0]);
	uint8_t    *first = NULL;
	size_t		firstlen = 0;

	for (int perm = 0; perm < 20; perm++)
	{
		StTree	   *t = tree2(false);
		int			idx[16];
		StError		err;
		uint8_t    *e;
		size_t		l;

		for (int i = 0; i < n; i++)
			idx[i] = i;
		for (int i = n - 1; i > 0 && perm > 0; i--)
		{
			int			j = (int) rnd(i + 1);
			int			tmp = idx[i];

			idx[i] = idx[j];
			idx[j] = tmp;
		}
		/* unused names interned first must not change the bytes */
		if (perm % 2)
			st_tree_intern(t, "unused", 6, &err);
		for (int i = 0; i < n; i++)
			CHECK(add(t, stacks[idx[i]], (long long) idx[i] + 1, 10LL));
		e = enc(t, &l);
		if (first == NULL)
		{
			first = e;
			firstlen = l;
		}
		else
		{
			CHECKF(bytes_eq(first, firstlen, e, l), "permutation %d", perm);
			st_free(e);
		}
		st_tree_free(t);
	}
	st_free(first);
}

static void
test_payload_paths(void)
{
	StTree	   *small = tree1();
	StTree	   *big = tree2(false);
	StError		err;
	uint8_t    *e;
	size_t		l;
	StTree	   *d;

	CHECK(add(small, "a;b", 3LL));
	e = enc(small, &l);
	CHECK(l < 64 + ST_HEADER_BYTES);
	CHECK(e[0] == 1 && e[1] == 0);
	/* uncompressed: the length field is the payload length */
	CHECK((size_t) (e[2] | e[3] << 8 | e[4] << 16 | e[5] << 24) == l - ST_HEADER_BYTES);
	d = st_decode(e, l, &err);
	CHECK(d && same_tree(small, d));
	st_tree_free(d);
	st_free(e);

	for (int i = 0; i < 200; i++)
	{
		char		nm[64];

		snprintf(nm, sizeof(nm), "main;handler;func%03d;leaf", i % 40);
		CHECK(add(big, nm, (long long) i, (long long) i * 1000));
	}
	e = enc(big, &l);
	CHECK(e[0] == 1 && e[1] == ST_FLAG_ZSTD);
	CHECK((size_t) (e[2] | e[3] << 8 | e[4] << 16 | e[5] << 24) > l - ST_HEADER_BYTES);
	d = st_decode(e, l, &err);
	CHECK(d && same_tree(big, d));
	st_tree_free(d);
	st_free(e);
	st_tree_free(small);
	st_tree_free(big);
}

static void
test_decode_merge(void)
{
	StError		err;

	for (int round = 0; round < 30; round++)
	{
		StTree	   *x = random_tree(2, false, rnd(30), NULL, NULL);
		StTree	   *y = random_tree(2, round % 2 == 1, rnd(30), NULL, NULL);
		StTree	   *x1 = st_tree_copy(x, &err);
		StTree	   *x2 = st_tree_copy(x, &err);
		StTree	   *yd;
		uint8_t    *ey,
				   *e1,
				   *e2;
		size_t		ly,
					l1,
					l2;

		ey = enc(y, &ly);
		CHECKF(st_decode_merge(x1, ey, ly, &err), "decode_merge: %s", err.msg);
		yd = st_decode(ey, ly, &err);
		CHECK(yd && st_tree_merge(x2, yd, &err));
		e1 = enc(x1, &l1);
		e2 = enc(x2, &l2);
		CHECK(bytes_eq(e1, l1, e2, l2));
		CHECK(same_header(x1, x2));
		st_free(ey);
		st_free(e1);
		st_free(e2);
		st_tree_free(x);
		st_tree_free(y);
		st_tree_free(x1);
		st_tree_free(x2);
		st_tree_free(yd);
	}
	/* an overflowing merge is refused and leaves no negative value */
	{
		StTree	   *x = tree1();
		StTree	   *y = tree1();
		uint8_t    *e;
		size_t		l;

		CHECK(add(x, "a", (long long) INT64_MAX) && add(y, "a", 1LL));
		e = enc(y, &l);
		err.code = ST_OK;
		CHECK(!st_decode_merge(x, e, l, &err) && err.code == ST_ERR_OVERFLOW);
		CHECK(self_at(x, "a", 0) == INT64_MAX && tree_valid(x));
		err.code = ST_OK;
		CHECK(!st_tree_merge(x, y, &err) && err.code == ST_ERR_OVERFLOW);
		CHECK(self_at(x, "a", 0) == INT64_MAX && tree_valid(x));
		st_free(e);
		st_tree_free(x);
		st_tree_free(y);
	}
	/* columns that do not match are refused */
	{
		StTree	   *x = tree2(false);
		StTree	   *y = tree1();
		uint8_t    *e;
		size_t		l;

		CHECK(add(y, "a", 1LL));
		e = enc(y, &l);
		err.code = ST_OK;
		CHECK(!st_decode_merge(x, e, l, &err) && err.code == ST_ERR_MISMATCH);
		st_free(e);
		st_tree_free(x);
		st_tree_free(y);
	}
}

/* decode of a damaged value: false with CORRUPT/LIMIT, or a valid tree */
static int	n_refused,
			n_accepted;

static void
check_damaged(const uint8_t *data, size_t len, const char *what, size_t pos)
{
	StError		err;
	StTree	   *d;

	err.code = ST_OK;
	d = st_decode(data, len, &err);
	if (d == NULL)
	{
		n_refused++;
		CHECKF(err.code == ST_ERR_CORRUPT || err.code == ST_ERR_LIMIT,
			   "%s at %zu: code %d (%s)", what, pos, err.code, err.msg);
		return;
	}
	n_accepted++;
	CHECKF(tree_valid(d), "%s at %zu: invalid tree accepted", what, pos);
	/* whatever was accepted encodes and decodes again */
	{
		size_t		l;
		uint8_t    *e = st_encode(d, &l, &err);
		StTree	   *d2 = e ? st_decode(e, l, &err) : NULL;

		CHECKF(d2 != NULL && same_tree(d, d2), "%s at %zu: re-encode", what, pos);
		st_tree_free(d2);
		st_free(e);
	}
	st_tree_free(d);
}

static void
test_corruption(void)
{
	StTree	   *trees[3];
	StError		err;

	trees[0] = tree1();
	CHECK(add(trees[0], "a;b", 3LL) && add(trees[0], "c", 1LL));
	trees[1] = tree1();
	CHECK(add(trees[1], "main;x", 2LL) && add(trees[1], "", 4LL));
	CHECK(st_tree_set_period(trees[1], "cpu", "ns", 100, &err));
	trees[1]->time_nanos = 77;
	trees[1]->duration_nanos = 88;
	trees[1]->default_col = 0;
	trees[2] = tree2(false);
	for (int i = 0; i < 60; i++)
	{
		char		nm[64];

		snprintf(nm, sizeof(nm), "main;f%d;g%d", i % 7, i % 5);
		CHECK(add(trees[2], nm, (long long) i, (long long) i * 3));
	}
	n_refused = n_accepted = 0;
	for (int k = 0; k < 3; k++)
	{
		size_t		l;
		uint8_t    *e = enc(trees[k], &l);
		uint8_t    *m = malloc(l);

		if (k < 2)
			CHECK(e[1] == 0);	/* cover the uncompressed path ... */
		else
			CHECK(e[1] == ST_FLAG_ZSTD);	/* ... and the zstd path */
		for (size_t cut = 0; cut < l; cut++)
		{
			StTree	   *d;

			memcpy(m, e, cut);
			err.code = ST_OK;
			d = st_decode(m, cut, &err);
			CHECKF(d == NULL && (err.code == ST_ERR_CORRUPT || err.code == ST_ERR_LIMIT),
				   "tree %d truncated to %zu: code %d", k, cut, err.code);
			st_tree_free(d);
		}
		for (size_t pos = 0; pos < l; pos++)
			for (int b = 0; b < 256; b++)
			{
				if (b == e[pos])
					continue;
				memcpy(m, e, l);
				m[pos] = (uint8_t) b;
				check_damaged(m, l, k == 2 ? "zstd byte" : "byte", pos);
			}
		/* decode_merge of damaged bytes never crashes either */
		for (size_t pos = 0; pos < l; pos++)
		{
			StTree	   *dst = k < 2 ? tree1() : tree2(false);

			memcpy(m, e, l);
			m[pos] ^= 0x5a;
			(void) st_decode_merge(dst, m, l, &err);
			CHECK(tree_valid(dst));
			st_tree_free(dst);
		}
		free(m);
		st_free(e);
		st_tree_free(trees[k]);
	}
	printf("damaged values: %d refused, %d accepted as valid trees\n",
		   n_refused, n_accepted);
	CHECK(n_refused > 0 && n_accepted > 0);
}

static void
test_version(void)
{
	StTree	   *t = tree1();
	StError		err;
	size_t		l;
	uint8_t    *e;

	CHECK(add(t, "a", 1LL));
	e = enc(t, &l);
	e[0] = 2;
	err.code = ST_OK;
	CHECK(st_decode(e, l, &err) == NULL);
	CHECK(err.code == ST_ERR_CORRUPT);
	CHECKF(strstr(err.msg, "version 2") != NULL, "message: %s", err.msg);
	e[0] = 0;
	CHECK(st_decode(e, l, &err) == NULL && strstr(err.msg, "version 0") != NULL);
	st_free(e);
	st_tree_free(t);
}

/* wrap a hand-made payload in the 6-byte uncompressed header */
static size_t
wrap(uint8_t *out, const uint8_t *payload, size_t plen)
{
	out[0] = 1;
	out[1] = 0;
	out[2] = (uint8_t) plen;
	out[3] = (uint8_t) (plen >> 8);
	out[4] = 0;
	out[5] = 0;
	memcpy(out + 6, payload, plen);
	return plen + 6;
}

static void
test_handmade(void)
{
	/*
	 * ncols 1, "samples" "count", default+1 = 0, period type "" unit "",
	 * zz period 0, zz time 0, zz duration 0, root value 0; then the
	 * strings, the node count and the columns below.
	 */
	static const uint8_t head[] = {
		1, 7, 's', 'a', 'm', 'p', 'l', 'e', 's', 5, 'c', 'o', 'u', 'n', 't',
		0, 0, 0, 0, 0, 0, 0,
	};
	/* strings: 1 string "a"; 2 nodes; depth 1 1; frames 0 0; values 1 2 */
	static const uint8_t dup[] = {1, 1, 'a', 2, 1, 1, 0, 0, 1, 2};
	/* the same with depth 1 2: a;a, valid */
	static const uint8_t ok[] = {1, 1, 'a', 2, 1, 2, 0, 0, 1, 2};
	/* two equal strings "a" "a" used by two sibling nodes */
	static const uint8_t dup2[] = {2, 1, 1, 'a', 'a', 2, 1, 1, 0, 1, 1, 2};
	/* depth jumps from 1 to 3 */
	static const uint8_t jump[] = {1, 1, 'a', 2, 1, 3, 0, 0, 1, 2};
	/* frame id out of range */
	static const uint8_t badf[] = {1, 1, 'a', 2, 1, 2, 0, 1, 1, 2};
	/* trailing byte */
	static const uint8_t trail[] = {1, 1, 'a', 2, 1, 2, 0, 0, 1, 2, 9};
	uint8_t		payload[128],
				buf[160];
	size_t		l;
	StError		err;
	StTree	   *d;

#define BUILD(body) \
	(memcpy(payload, head, sizeof(head)), \
	 memcpy(payload + sizeof(head), body, sizeof(body)), \
	 wrap(buf, payload, sizeof(head) + sizeof(body)))

	l = BUILD(ok);
	d = st_decode(buf, l, &err);
	CHECKF(d != NULL, "hand-made valid payload: %s", err.msg);
	CHECK(d && d->nnodes == 3 && self_at(d, "a", 0) == 1 && self_at(d, "a;a", 0) == 2);
	st_tree_free(d);

	l = BUILD(dup);
	err.code = ST_OK;
	CHECK(st_decode(buf, l, &err) == NULL && err.code == ST_ERR_CORRUPT);
	CHECKF(strstr(err.msg, "duplicate") != NULL, "message: %s", err.msg);
	/* merging the same bytes into a tree adds the siblings up */
	{
		StTree	   *t = tree1();

		CHECK(st_decode_merge(t, buf, l, &err) && self_at(t, "a", 0) == 3 &&
			  t->nnodes == 2);
		st_tree_free(t);
	}
	l = BUILD(dup2);
	err.code = ST_OK;
	CHECK(st_decode(buf, l, &err) == NULL && err.code == ST_ERR_CORRUPT);
	l = BUILD(jump);
	err.code = ST_OK;
	CHECK(st_decode(buf, l, &err) == NULL && err.code == ST_ERR_CORRUPT);
	l = BUILD(badf);
	err.code = ST_OK;
	CHECK(st_decode(buf, l, &err) == NULL && err.code == ST_ERR_CORRUPT);
	l = BUILD(trail);
	err.code = ST_OK;
	CHECK(st_decode(buf, l, &err) == NULL && err.code == ST_ERR_CORRUPT);
	/* the encoder writes exactly the hand-made valid form */
	{
		StTree	   *t = tree1();
		uint8_t    *e;
		size_t		el;

		CHECK(add(t, "a", 1LL) && add(t, "a;a", 2LL));
		e = enc(t, &el);
		l = BUILD(ok);
		CHECK(bytes_eq(e, el, buf, l));
		st_free(e);
		st_tree_free(t);
	}
#undef BUILD
}

int
main(void)
{
	test_intern();
	test_child();
	test_add_stack();
	test_add_values();
	test_column_map();
	test_merge_header();
	test_merge_default_associative();
	test_merge_algebra();
	test_total_cumulative();
	test_round_trip();
	test_canonical();
	test_payload_paths();
	test_decode_merge();
	test_corruption();
	test_version();
	test_handmade();
	return unit_summary();
}
