/*
 * st_diff.c
 *	  Two trees into one two-column diff tree, and the per-function view of
 *	  a diff tree (both sides of pprof -top side by side).
 */
#include "st_diff.h"
#include "st_analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool
st_scale_value(int64_t v, double factor, int64_t *out)
{
	double		r;

	if (v < 0 || !(factor >= 0.0) || isinf(factor))
		return false;
	if (factor == 1.0)
	{
		*out = v;
		return true;
	}
	/* v and factor are >= 0, so truncating r rounds half up (no libm) */
	r = (double) v * factor + 0.5;
	/* 2^63 as a double; anything at or above it does not fit */
	if (!(r < 9223372036854775808.0))
		return false;
	*out = (int64_t) r;
	return true;
}

bool
st_tree_is_diff(const StTree *t)
{
	return t->ncols == 2 &&
		strcmp(t->cols[0].type, ST_DIFF_BASE) == 0 &&
		strcmp(t->cols[1].type, ST_DIFF_TEST) == 0;
}

/* add column col of src, scaled, into column dcol of dst */
static bool
add_side(StTree *dst, int dcol, const StTree *src, int col, double factor,
		 StError *err)
{
	uint32_t   *nodemap = st_tree_map_nodes(dst, src, err);
	bool		ok = false;

	if (nodemap == NULL)
		return false;
	for (uint32_t n = 0; n < src->nnodes; n++)
	{
		int64_t		vals[2] = {0, 0};
		int64_t		v = src->values[(size_t) n * src->ncols + col];

		if (!st_scale_value(v, factor, &vals[dcol]))
		{
			st_fail(err, ST_ERR_OVERFLOW, "scaled value overflows 64 bits");
			goto done;
		}
		if (!st_tree_add_values(dst, nodemap[n], vals, err))
			goto done;
	}
	ok = true;
done:
	st_free(nodemap);
	return ok;
}

StTree *
st_tree_diff(const StTree *base, int base_col, const StTree *test,
			 int test_col, bool normalize, StError *err)
{
	const char *types[2] = {ST_DIFF_BASE, ST_DIFF_TEST};
	const char *units[2];
	const StTree *pt;
	double		factor = 1.0;
	StTree	   *out;

	if (base_col < 0 || base_col >= base->ncols ||
		test_col < 0 || test_col >= test->ncols)
	{
		st_fail(err, ST_ERR_ARGUMENT, "diff column out of range");
		return NULL;
	}
	if (strcmp(base->cols[base_col].unit, test->cols[test_col].unit) != 0)
	{
		st_fail(err, ST_ERR_MISMATCH, "cannot diff columns with different units");
		st_set_detail(err, "Base column %s/%s, test column %s/%s.",
					  base->cols[base_col].type, base->cols[base_col].unit,
					  test->cols[test_col].type, test->cols[test_col].unit);
		st_set_hint(err, "Pass the column to compare explicitly.");
		return NULL;
	}
	if (base->period_type && test->period_type &&
		(strcmp(base->period_type, test->period_type) != 0 ||
		 strcmp(base->period_unit, test->period_unit) != 0))
	{
		st_fail(err, ST_ERR_MISMATCH, "cannot diff stacktrees with different period types");
		st_set_detail(err, "Base has period type %s/%s, test %s/%s.",
					  base->period_type, base->period_unit,
					  test->period_type, test->period_unit);
		return NULL;
	}
	if (normalize)
	{
		int64_t		tb,
					tt;

		if (!st_tree_total(base, base_col, &tb, err) ||
			!st_tree_total(test, test_col, &tt, err))
			return NULL;
		/* as pprof's Normalize: a side with total 0 scales to 0 */
		factor = tt == 0 ? 0.0 : (double) tb / (double) tt;
	}
	units[0] = units[1] = base->cols[base_col].unit;
	out = st_tree_new(2, types, units, err);
	if (out == NULL)
		return NULL;
	pt = base->period_type ? base : test;
	if (pt->period_type &&
		!st_tree_set_period(out, pt->period_type, pt->period_unit,
							pt->period, err))
		goto fail;
	out->time_nanos = test->time_nanos;
	out->duration_nanos = test->duration_nanos;
	out->default_col = 1;
	if (!add_side(out, 0, base, base_col, 1.0, err) ||
		!add_side(out, 1, test, test_col, factor, err))
		goto fail;
	return out;

fail:
	st_tree_free(out);
	return NULL;
}

static const StTree *sort_tree;

static inline int64_t
absdiff(int64_t a, int64_t b)
{
	/* both are >= 0, so the difference cannot overflow */
	return a > b ? a - b : b - a;
}

static int
funcdiff_cmp(const void *a, const void *b)
{
	const StFuncDiff *x = a;
	const StFuncDiff *y = b;
	int64_t		dx = absdiff(x->test_self, x->base_self);
	int64_t		dy = absdiff(y->test_self, y->base_self);

	if (dx != dy)
		return dx > dy ? -1 : 1;
	dx = absdiff(x->test_total, x->base_total);
	dy = absdiff(y->test_total, y->base_total);
	if (dx != dy)
		return dx > dy ? -1 : 1;
	return strcmp(st_tree_string(sort_tree, x->name),
				  st_tree_string(sort_tree, y->name));
}

StFuncDiff *
st_top_functions_diff(const StTree *t, int bcol, int tcol, uint32_t *n,
					  StError *err)
{
	StFuncStat *bs = NULL,
			   *ts = NULL;
	uint32_t	nb = 0,
				nt = 0,
				nout = 0;
	uint32_t   *slot = NULL;
	StFuncDiff *out = NULL;

	*n = 0;
	err->code = ST_OK;
	bs = st_top_functions(t, bcol, &nb, err);
	if (bs == NULL && err->code != ST_OK)
		return NULL;
	ts = st_top_functions(t, tcol, &nt, err);
	if (ts == NULL && err->code != ST_OK)
		goto done;
	slot = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint32_t));
	out = st_alloc((size_t) (nb + nt + 1) * sizeof(StFuncDiff));
	if (!slot || !out)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		st_free(out);
		out = NULL;
		goto done;
	}
	memset(slot, 0xff, (size_t) (t->nstrings + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < nb; i++)
	{
		StFuncDiff *d = &out[nout];

		memset(d, 0, sizeof(*d));
		d->name = bs[i].name;
		d->base_self = bs[i].self;
		d->base_total = bs[i].total;
		slot[bs[i].name] = nout++;
	}
	for (uint32_t i = 0; i < nt; i++)
	{
		StFuncDiff *d;

		if (slot[ts[i].name] == UINT32_MAX)
		{
			d = &out[nout];
			memset(d, 0, sizeof(*d));
			d->name = ts[i].name;
			slot[ts[i].name] = nout++;
		}
		else
			d = &out[slot[ts[i].name]];
		d->test_self = ts[i].self;
		d->test_total = ts[i].total;
	}
	sort_tree = t;
	qsort(out, nout, sizeof(StFuncDiff), funcdiff_cmp);
	sort_tree = NULL;
	*n = nout;
	if (nout == 0)
	{
		st_free(out);
		out = NULL;
	}
done:
	st_free(bs);
	st_free(ts);
	st_free(slot);
	return out;
}
