/*
 * st_analysis.c
 *	  Per-function self and total ("pprof -top").  Self sums the self values
 *	  of every node of a function.  Total adds a node's cumulative value only
 *	  when no ancestor belongs to the same function, so a recursive function
 *	  counts each sample once, as pprof does.
 */
#include "st_analysis.h"
#include "st_codec.h"

#include <stdlib.h>
#include <string.h>

static const StTree *sort_tree;

static int
funcstat_cmp(const void *a, const void *b)
{
	const StFuncStat *x = a;
	const StFuncStat *y = b;

	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(st_tree_string(sort_tree, x->name),
				  st_tree_string(sort_tree, y->name));
}

StFuncStat *
st_top_functions(const StTree *t, int col, uint32_t *n, StError *err)
{
	uint32_t	nn = t->nnodes - 1;
	uint32_t   *order = NULL;
	uint32_t   *depth = NULL;
	uint32_t   *path = NULL;
	uint32_t   *active = NULL;
	int64_t    *cum = NULL;
	StFuncStat *stats = NULL;
	StFuncStat *out = NULL;
	uint32_t	cur = 0,
				nout = 0;

	*n = 0;
	err->code = ST_OK;
	if (col < 0 || col >= t->ncols)
	{
		st_fail(err, ST_ERR_ARGUMENT, "column %d out of range", col);
		return NULL;
	}
	order = st_canonical_order(t, &depth, err);
	if (order == NULL)
		return NULL;
	path = st_alloc((size_t) (ST_MAX_DEPTH + 2) * sizeof(uint32_t));
	active = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint32_t));
	cum = st_alloc((size_t) t->nnodes * sizeof(int64_t));
	stats = st_alloc((size_t) (t->nstrings + 1) * sizeof(StFuncStat));
	if (!path || !active || !cum || !stats)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	memset(active, 0, (size_t) (t->nstrings + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < t->nstrings; i++)
	{
		stats[i].name = i;
		stats[i].self = 0;
		stats[i].total = 0;
	}
	for (uint32_t i = 0; i < t->nnodes; i++)
		cum[i] = t->values[(size_t) i * t->ncols + col];
	for (uint32_t i = t->nnodes - 1; i > 0; i--)
		if (__builtin_add_overflow(cum[t->parent[i]], cum[i], &cum[t->parent[i]]))
		{
			st_fail(err, ST_ERR_OVERFLOW, "cumulative value overflows 64 bits");
			goto done;
		}

	for (uint32_t i = 0; i < nn; i++)
	{
		uint32_t	node = order[i];
		uint32_t	d = depth[i];
		uint32_t	f = t->frame[node];

		if ((i & 16383) == 0)
			st_check_interrupts();
		/* leave the nodes at depth >= d */
		while (cur >= d)
		{
			active[t->frame[path[cur]]]--;
			cur--;
		}
		path[d] = node;
		cur = d;
		if (active[f]++ == 0)
			stats[f].total += cum[node];	/* cannot overflow: <= root cum */
		stats[f].self += t->values[(size_t) node * t->ncols + col];
	}

	for (uint32_t i = 0; i < t->nstrings; i++)
		if (stats[i].total != 0)
			stats[nout++] = stats[i];
	sort_tree = t;
	qsort(stats, nout, sizeof(StFuncStat), funcstat_cmp);
	sort_tree = NULL;
	out = stats;
	stats = NULL;
	*n = nout;

done:
	st_free(order);
	st_free(depth);
	st_free(path);
	st_free(active);
	st_free(cum);
	st_free(stats);
	return out;
}
