/*
 * st_filter.c
 *	  focus / ignore / prune / scale and self_of / total_of.  Every pass is
 *	  a loop over node ids (parents come before children), never recursion.
 */
#include "st_filter.h"
#include "st_diff.h"

#include <math.h>
#include <string.h>

/* an empty tree with t's columns and header */
static StTree *
new_like(const StTree *t, StError *err)
{
	const char *types[ST_MAX_COLUMNS];
	const char *units[ST_MAX_COLUMNS];
	StTree	   *out;

	for (int i = 0; i < t->ncols; i++)
	{
		types[i] = t->cols[i].type;
		units[i] = t->cols[i].unit;
	}
	out = st_tree_new(t->ncols, types, units, err);
	if (out == NULL)
		return NULL;
	if (t->period_type &&
		!st_tree_set_period(out, t->period_type, t->period_unit, t->period, err))
	{
		st_tree_free(out);
		return NULL;
	}
	out->period = t->period;
	out->time_nanos = t->time_nanos;
	out->duration_nanos = t->duration_nanos;
	out->default_col = t->default_col;
	return out;
}

static bool
has_value(const StTree *t, uint32_t n)
{
	const int64_t *v = t->values + (size_t) n * t->ncols;

	for (int c = 0; c < t->ncols; c++)
		if (v[c] != 0)
			return true;
	return false;
}

/*
 * Build the tree holding the self values of the nodes with keep[n] set.
 * top == NULL: every kept node keeps its full stack.  Otherwise top[n] is
 * the node at which n's new stack starts (UINT32_MAX: none, n must not be
 * kept), i.e. top[n]'s frame becomes a child of the new root.
 */
static StTree *
rebuild(const StTree *t, const uint8_t *keep, const uint32_t *top,
		StError *err)
{
	StTree	   *out = NULL;
	uint8_t    *need = NULL;
	uint32_t   *map = NULL;
	uint32_t   *strmap = NULL;
	uint32_t	nn = t->nnodes;

	need = st_alloc(nn);
	map = st_alloc((size_t) nn * sizeof(uint32_t));
	strmap = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint32_t));
	if (!need || !map || !strmap)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}
	out = new_like(t, err);
	if (out == NULL)
		goto fail;
	memset(strmap, 0xff, (size_t) (t->nstrings + 1) * sizeof(uint32_t));
	for (uint32_t n = 0; n < nn; n++)
		need[n] = keep[n] && has_value(t, n);
	for (uint32_t n = nn - 1; n > 0; n--)
		if (need[n])
			need[t->parent[n]] = 1;
	map[0] = 0;
	for (uint32_t n = 1; n < nn; n++)
	{
		uint32_t	np;
		uint32_t	f = t->frame[n];

		if ((n & 4095) == 0)
			st_check_interrupts();
		map[n] = UINT32_MAX;
		if (!need[n])
			continue;
		if (top == NULL)
			np = map[t->parent[n]];
		else if (top[n] == UINT32_MAX)
			continue;			/* above the re-rooting frame */
		else if (top[n] == n)
			np = 0;
		else
			np = map[t->parent[n]];
		if (np == UINT32_MAX)
		{
			st_fail(err, ST_ERR_CORRUPT, "internal error: unmapped parent in filter");
			goto fail;
		}
		if (strmap[f] == UINT32_MAX)
		{
			strmap[f] = st_tree_intern(out, st_tree_string(t, f), t->str_len[f], err);
			if (strmap[f] == UINT32_MAX)
				goto fail;
		}
		map[n] = st_tree_child(out, np, strmap[f], err);
		if (map[n] == UINT32_MAX)
			goto fail;
	}
	for (uint32_t n = 0; n < nn; n++)
	{
		if (!keep[n] || map[n] == UINT32_MAX)
			continue;
		if (!st_tree_add_values(out, map[n], t->values + (size_t) n * t->ncols, err))
			goto fail;
	}
	out->max_depth = t->max_depth;
	st_free(need);
	st_free(map);
	st_free(strmap);
	return out;

fail:
	st_tree_free(out);
	st_free(need);
	st_free(map);
	st_free(strmap);
	return NULL;
}

/* anc[n]: some node on the path root..n (inclusive) matches */
static uint8_t *
ancestor_match(const StTree *t, const bool *match, StError *err)
{
	uint8_t    *anc = st_alloc(t->nnodes);

	if (anc == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	anc[0] = 0;
	for (uint32_t n = 1; n < t->nnodes; n++)
		anc[n] = anc[t->parent[n]] || match[t->frame[n]];
	return anc;
}

StTree *
st_tree_focus(const StTree *t, const bool *match, bool reroot, StError *err)
{
	uint8_t    *anc = ancestor_match(t, match, err);
	uint32_t   *top = NULL;
	StTree	   *out;

	if (anc == NULL)
		return NULL;
	if (reroot)
	{
		top = st_alloc((size_t) t->nnodes * sizeof(uint32_t));
		if (top == NULL)
		{
			st_free(anc);
			st_fail(err, ST_ERR_NOMEM, "out of memory");
			return NULL;
		}
		top[0] = UINT32_MAX;
		for (uint32_t n = 1; n < t->nnodes; n++)
		{
			uint32_t	pt = top[t->parent[n]];

			top[n] = pt != UINT32_MAX ? pt : (match[t->frame[n]] ? n : UINT32_MAX);
		}
	}
	out = rebuild(t, anc, top, err);
	st_free(anc);
	st_free(top);
	return out;
}

StTree *
st_tree_ignore(const StTree *t, const bool *match, StError *err)
{
	uint8_t    *anc = ancestor_match(t, match, err);
	StTree	   *out;

	if (anc == NULL)
		return NULL;
	for (uint32_t n = 0; n < t->nnodes; n++)
		anc[n] = !anc[n];
	out = rebuild(t, anc, NULL, err);
	st_free(anc);
	return out;
}

StTree *
st_tree_prune(const StTree *t, double min_fraction, int col, StError *err)
{
	int64_t    *cum = NULL;
	uint32_t   *target = NULL;
	uint32_t   *strmap = NULL;
	StTree	   *out = NULL;
	double		thr;
	int			k = t->ncols;

	if (!(min_fraction >= 0.0 && min_fraction <= 1.0))
	{
		st_fail(err, ST_ERR_ARGUMENT, "prune fraction must be between 0 and 1");
		return NULL;
	}
	if (col < 0 || col >= k)
	{
		st_fail(err, ST_ERR_ARGUMENT, "column %d out of range", col);
		return NULL;
	}
	cum = st_tree_cumulative(t, err);
	if (cum == NULL)
		return NULL;
	target = st_alloc((size_t) t->nnodes * sizeof(uint32_t));
	strmap = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint32_t));
	if (!target || !strmap)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}
	out = new_like(t, err);
	if (out == NULL)
		goto fail;
	memset(strmap, 0xff, (size_t) (t->nstrings + 1) * sizeof(uint32_t));
	thr = min_fraction * (double) cum[col];
	target[0] = 0;
	for (uint32_t n = 1; n < t->nnodes; n++)
	{
		uint32_t	p = t->parent[n];
		uint32_t	f = t->frame[n];
		int64_t		c = cum[(size_t) n * k + col];

		if ((n & 4095) == 0)
			st_check_interrupts();
		/*
		 * A node is kept when it is big enough; cumulative values never grow
		 * from parent to child, so its parent is then kept too and target[p]
		 * is the parent's own copy.  A folded node's values go wherever its
		 * parent's went.
		 */
		target[n] = target[p];
		if (c == 0 || (double) c < thr)
			continue;
		if (strmap[f] == UINT32_MAX)
		{
			strmap[f] = st_tree_intern(out, st_tree_string(t, f), t->str_len[f], err);
			if (strmap[f] == UINT32_MAX)
				goto fail;
		}
		target[n] = st_tree_child(out, target[p], strmap[f], err);
		if (target[n] == UINT32_MAX)
			goto fail;
	}
	for (uint32_t n = 0; n < t->nnodes; n++)
		if (!st_tree_add_values(out, target[n], t->values + (size_t) n * k, err))
			goto fail;
	out->max_depth = t->max_depth;
	st_free(cum);
	st_free(target);
	st_free(strmap);
	return out;

fail:
	st_tree_free(out);
	st_free(cum);
	st_free(target);
	st_free(strmap);
	return NULL;
}

StTree *
st_tree_scale(const StTree *t, double factor, StError *err)
{
	StTree	   *out;
	size_t		nv;

	if (!(factor >= 0.0) || isinf(factor))
	{
		st_fail(err, ST_ERR_ARGUMENT, "scale factor must be a finite number >= 0");
		return NULL;
	}
	out = st_tree_copy(t, err);
	if (out == NULL)
		return NULL;
	/* st_tree_copy sums durations into zero: restore the header */
	out->time_nanos = t->time_nanos;
	out->duration_nanos = t->duration_nanos;
	out->default_col = t->default_col;
	nv = (size_t) out->nnodes * out->ncols;
	for (size_t i = 0; i < nv; i++)
	{
		if ((i & 16383) == 0)
			st_check_interrupts();
		if (!st_scale_value(out->values[i], factor, &out->values[i]))
		{
			st_tree_free(out);
			st_fail(err, ST_ERR_OVERFLOW, "scaled value overflows 64 bits");
			return NULL;
		}
	}
	return out;
}

bool
st_tree_self_of(const StTree *t, const bool *match, int col, int64_t *out,
				StError *err)
{
	int64_t		sum = 0;

	if (col < 0 || col >= t->ncols)
		return st_fail(err, ST_ERR_ARGUMENT, "column %d out of range", col);
	for (uint32_t n = 1; n < t->nnodes; n++)
		if (match[t->frame[n]] &&
			__builtin_add_overflow(sum, t->values[(size_t) n * t->ncols + col], &sum))
			return st_fail(err, ST_ERR_OVERFLOW, "sum overflows 64 bits");
	*out = sum;
	return true;
}

bool
st_tree_total_of(const StTree *t, const bool *match, int col, int64_t *out,
				 StError *err)
{
	uint8_t    *anc;
	int64_t		sum = 0;
	bool		ok = true;

	if (col < 0 || col >= t->ncols)
		return st_fail(err, ST_ERR_ARGUMENT, "column %d out of range", col);
	anc = ancestor_match(t, match, err);
	if (anc == NULL)
		return false;
	for (uint32_t n = 1; n < t->nnodes; n++)
		if (anc[n] &&
			__builtin_add_overflow(sum, t->values[(size_t) n * t->ncols + col], &sum))
		{
			ok = st_fail(err, ST_ERR_OVERFLOW, "sum overflows 64 bits");
			break;
		}
	st_free(anc);
	if (ok)
		*out = sum;
	return ok;
}
