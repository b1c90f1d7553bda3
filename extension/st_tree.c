/*
 * st_tree.c
 *	  The mutable call tree: string interning, child lookup, stack insertion,
 *	  merging with column alignment, totals and cumulative values.
 */
#include "st_tree.h"

#include <stdio.h>
#include <string.h>

static char *
st_strdup(const char *s, StError *err)
{
	size_t		n = strlen(s);
	char	   *p = st_alloc(n + 1);

	if (p == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	memcpy(p, s, n + 1);
	return p;
}

static bool
valid_meta(const char *s, const char *what, StError *err)
{
	size_t		n = strlen(s);

	if (n == 0 || n > 256 || !st_valid_name(s, n))
		return st_fail(err, ST_ERR_ENCODING,
					   "invalid %s name: must be 1 to 256 bytes of UTF-8", what);
	for (size_t i = 0; i < n; i++)
		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ||
			s[i] == '/' || s[i] == '*')
			return st_fail(err, ST_ERR_ENCODING,
						   "invalid %s name \"%.64s\": spaces, '/' and '*' are not allowed",
						   what, s);
	return true;
}

StTree *
st_tree_new(int ncols, const char *const *types, const char *const *units,
			StError *err)
{
	StTree	   *t;

	if (ncols < 1 || ncols > ST_MAX_COLUMNS)
	{
		st_fail(err, ST_ERR_LIMIT, "a tree needs 1 to %d value columns, not %d",
				ST_MAX_COLUMNS, ncols);
		return NULL;
	}
	for (int i = 0; i < ncols; i++)
	{
		if (!valid_meta(types[i], "column type", err) ||
			!valid_meta(units[i], "column unit", err))
			return NULL;
		for (int j = 0; j < i; j++)
			if (strcmp(types[i], types[j]) == 0)
			{
				st_fail(err, ST_ERR_MISMATCH, "duplicate value column \"%s\"",
						types[i]);
				return NULL;
			}
	}
	t = st_alloc(sizeof(StTree));
	if (t == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	memset(t, 0, sizeof(StTree));
	t->ncols = ncols;
	t->default_col = -1;
	for (int i = 0; i < ncols; i++)
	{
		t->cols[i].type = st_strdup(types[i], err);
		t->cols[i].unit = st_strdup(units[i], err);
		if (!t->cols[i].type || !t->cols[i].unit)
			goto fail;
	}
	/* root node */
	if (!st_grow((void **) &t->parent, &t->nodes_cap, 64, sizeof(uint32_t), err))
		goto fail;
	t->frame = st_alloc(t->nodes_cap * sizeof(uint32_t));
	t->values = st_alloc(t->nodes_cap * ncols * sizeof(int64_t));
	if (!t->frame || !t->values)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}
	t->parent[0] = 0;
	t->frame[0] = ST_NO_FRAME;
	memset(t->values, 0, ncols * sizeof(int64_t));
	t->nnodes = 1;
	return t;

fail:
	st_tree_free(t);
	return NULL;
}

void
st_tree_free(StTree *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < t->ncols; i++)
	{
		st_free(t->cols[i].type);
		st_free(t->cols[i].unit);
	}
	st_free(t->period_type);
	st_free(t->period_unit);
	st_free(t->str_off);
	st_free(t->str_len);
	st_free(t->arena);
	st_free(t->str_index);
	st_free(t->parent);
	st_free(t->frame);
	st_free(t->values);
	st_free(t->child_index);
	st_free(t);
}

bool
st_tree_set_period(StTree *t, const char *type, const char *unit,
				   int64_t period, StError *err)
{
	char	   *pt = NULL,
			   *pu = NULL;

	if (period < 0)
		return st_fail(err, ST_ERR_OVERFLOW, "period must not be negative");
	if (type && *type)
	{
		if (!valid_meta(type, "period type", err) ||
			!valid_meta(unit && *unit ? unit : "?", "period unit", err))
			return false;
		pt = st_strdup(type, err);
		pu = st_strdup(unit && *unit ? unit : "count", err);
		if (!pt || !pu)
		{
			st_free(pt);
			st_free(pu);
			return false;
		}
	}
	st_free(t->period_type);
	st_free(t->period_unit);
	t->period_type = pt;
	t->period_unit = pu;
	t->period = period;
	return true;
}

/* ---- string table ---- */

static bool
str_index_rebuild(StTree *t, uint32_t newsize, StError *err)
{
	uint32_t   *idx = st_alloc((size_t) newsize * sizeof(uint32_t));

	if (idx == NULL)
		return st_fail(err, ST_ERR_NOMEM, "out of memory");
	memset(idx, 0, (size_t) newsize * sizeof(uint32_t));
	for (uint32_t i = 0; i < t->nstrings; i++)
	{
		uint32_t	h = (uint32_t) st_hash_bytes(t->arena + t->str_off[i],
												 t->str_len[i]) & (newsize - 1);

		while (idx[h])
			h = (h + 1) & (newsize - 1);
		idx[h] = i + 1;
	}
	st_free(t->str_index);
	t->str_index = idx;
	t->str_index_mask = newsize - 1;
	return true;
}

uint32_t
st_tree_intern(StTree *t, const char *name, size_t len, StError *err)
{
	uint64_t	hv;
	uint32_t	h;
	size_t		cap;

	if (len > ST_MAX_NAME_LEN)
	{
		st_fail(err, ST_ERR_LIMIT, "frame name of %zu bytes exceeds the limit of %d bytes",
				len, ST_MAX_NAME_LEN);
		return UINT32_MAX;
	}
	if (t->str_index == NULL || (uint64_t) (t->nstrings + 1) * 2 > (uint64_t) t->str_index_mask + 1)
	{
		uint32_t	size = t->str_index ? (t->str_index_mask + 1) * 2 : 256;

		if (!str_index_rebuild(t, size, err))
			return UINT32_MAX;
	}
	hv = st_hash_bytes(name, len);
	h = (uint32_t) hv & t->str_index_mask;
	while (t->str_index[h])
	{
		uint32_t	id = t->str_index[h] - 1;

		if (t->str_len[id] == len &&
			memcmp(t->arena + t->str_off[id], name, len) == 0)
			return id;
		h = (h + 1) & t->str_index_mask;
	}
	/* new string */
	if (t->nstrings >= ST_MAX_STRINGS)
	{
		st_fail(err, ST_ERR_LIMIT, "more than %d distinct frame names", ST_MAX_STRINGS);
		return UINT32_MAX;
	}
	if (!st_valid_name(name, len))
	{
		st_fail(err, ST_ERR_ENCODING, "frame name is not valid UTF-8 or contains a NUL byte");
		st_set_detail(err, "name starts with \"%.*s\"", (int) (len < 40 ? len : 40), name);
		return UINT32_MAX;
	}
	cap = t->strings_cap;
	if (!st_grow((void **) &t->str_off, &cap, t->nstrings + 1, sizeof(uint64_t), err))
		return UINT32_MAX;
	cap = t->strings_cap;
	if (!st_grow((void **) &t->str_len, &cap, t->nstrings + 1, sizeof(uint32_t), err))
		return UINT32_MAX;
	t->strings_cap = cap;
	if (!st_grow((void **) &t->arena, &t->arena_cap, t->arena_len + len + 1, 1, err))
		return UINT32_MAX;
	memcpy(t->arena + t->arena_len, name, len);
	t->arena[t->arena_len + len] = '\0';
	t->str_off[t->nstrings] = t->arena_len;
	t->str_len[t->nstrings] = (uint32_t) len;
	t->arena_len += len + 1;
	t->str_index[h] = t->nstrings + 1;
	return t->nstrings++;
}

/* ---- nodes ---- */

static inline uint32_t
child_hash(uint32_t parent, uint32_t frame)
{
	return (uint32_t) st_hash_u64(((uint64_t) parent << 32) | frame);
}

static bool
child_index_rebuild(StTree *t, uint32_t newsize, StError *err)
{
	uint32_t   *idx = st_alloc((size_t) newsize * sizeof(uint32_t));

	if (idx == NULL)
		return st_fail(err, ST_ERR_NOMEM, "out of memory");
	memset(idx, 0, (size_t) newsize * sizeof(uint32_t));
	for (uint32_t n = 1; n < t->nnodes; n++)
	{
		uint32_t	h = child_hash(t->parent[n], t->frame[n]) & (newsize - 1);

		while (idx[h])
			h = (h + 1) & (newsize - 1);
		idx[h] = n + 1;
	}
	st_free(t->child_index);
	t->child_index = idx;
	t->child_index_mask = newsize - 1;
	return true;
}

uint32_t
st_tree_find_child(const StTree *t, uint32_t parent, uint32_t frame)
{
	uint32_t	h;

	if (t->child_index == NULL)
		return UINT32_MAX;
	h = child_hash(parent, frame) & t->child_index_mask;
	while (t->child_index[h])
	{
		uint32_t	n = t->child_index[h] - 1;

		if (t->parent[n] == parent && t->frame[n] == frame)
			return n;
		h = (h + 1) & t->child_index_mask;
	}
	return UINT32_MAX;
}

uint32_t
st_tree_child(StTree *t, uint32_t parent, uint32_t frame, StError *err)
{
	uint32_t	h;
	uint32_t	n;

	if (t->child_index == NULL || (uint64_t) (t->nnodes + 1) * 2 > (uint64_t) t->child_index_mask + 1)
	{
		uint32_t	size = t->child_index ? (t->child_index_mask + 1) * 2 : 256;

		if (!child_index_rebuild(t, size, err))
			return UINT32_MAX;
	}
	h = child_hash(parent, frame) & t->child_index_mask;
	while (t->child_index[h])
	{
		n = t->child_index[h] - 1;
		if (t->parent[n] == parent && t->frame[n] == frame)
			return n;
		h = (h + 1) & t->child_index_mask;
	}
	if (t->nnodes >= ST_MAX_NODES)
	{
		st_fail(err, ST_ERR_LIMIT, "tree exceeds the limit of %d nodes", ST_MAX_NODES);
		return UINT32_MAX;
	}
	if (t->nnodes + 1 > t->nodes_cap)
	{
		size_t		cap = t->nodes_cap * 2;
		void	   *p;

		p = st_realloc(t->parent, cap * sizeof(uint32_t));
		if (!p)
			goto oom;
		t->parent = p;
		p = st_realloc(t->frame, cap * sizeof(uint32_t));
		if (!p)
			goto oom;
		t->frame = p;
		p = st_realloc(t->values, cap * t->ncols * sizeof(int64_t));
		if (!p)
			goto oom;
		t->values = p;
		t->nodes_cap = cap;
	}
	n = t->nnodes++;
	t->parent[n] = parent;
	t->frame[n] = frame;
	memset(t->values + (size_t) n * t->ncols, 0, t->ncols * sizeof(int64_t));
	t->child_index[h] = n + 1;
	return n;

oom:
	st_fail(err, ST_ERR_NOMEM, "out of memory");
	return UINT32_MAX;
}

bool
st_tree_add_values(StTree *t, uint32_t node, const int64_t *vals, StError *err)
{
	int64_t    *dst = t->values + (size_t) node * t->ncols;
	int64_t		sum;

	/* check every column first: a refused add leaves the node unchanged */
	for (int c = 0; c < t->ncols; c++)
	{
		if (vals[c] < 0)
			return st_fail(err, ST_ERR_OVERFLOW,
						   "negative value %lld in column \"%s\"",
						   (long long) vals[c], t->cols[c].type);
		if (__builtin_add_overflow(dst[c], vals[c], &sum))
			return st_fail(err, ST_ERR_OVERFLOW,
						   "value overflows 64 bits in column \"%s\"",
						   t->cols[c].type);
	}
	for (int c = 0; c < t->ncols; c++)
		dst[c] += vals[c];
	return true;
}

bool
st_tree_add_stack(StTree *t, const uint32_t *frames, uint32_t n,
				  const int64_t *vals, StError *err)
{
	uint32_t	node = 0;

	if (n > ST_MAX_DEPTH)
		return st_fail(err, ST_ERR_LIMIT,
					   "stack of %u frames exceeds the depth limit of %d",
					   n, ST_MAX_DEPTH);
	for (uint32_t i = 0; i < n; i++)
	{
		if (frames[i] >= t->nstrings)
			return st_fail(err, ST_ERR_ARGUMENT, "frame id %u out of range", frames[i]);
		node = st_tree_child(t, node, frames[i], err);
		if (node == UINT32_MAX)
			return false;
	}
	if (n > t->max_depth)
		t->max_depth = n;
	return st_tree_add_values(t, node, vals, err);
}

/* ---- merging ---- */

int
st_tree_column_by_name(const StTree *t, const char *type)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].type, type) == 0)
			return i;
	return -1;
}

static void
describe_columns(char *buf, size_t size, int ncols, const StColumn *cols)
{
	size_t		off = 0;

	buf[0] = '\0';
	for (int i = 0; i < ncols && off + 1 < size; i++)
	{
		int			n = snprintf(buf + off, size - off, "%s%s/%s",
								 i ? ", " : "", cols[i].type, cols[i].unit);

		if (n < 0)
			break;
		off += (size_t) n;
	}
}

bool
st_tree_column_map(const StTree *dst, int src_ncols, const StColumn *src_cols,
				   int *map, StError *err)
{
	bool		ok = (src_ncols == dst->ncols);

	for (int i = 0; ok && i < src_ncols; i++)
	{
		int			j = st_tree_column_by_name(dst, src_cols[i].type);

		if (j < 0 || strcmp(dst->cols[j].unit, src_cols[i].unit) != 0)
			ok = false;
		else
			map[i] = j;
	}
	if (!ok)
	{
		char		a[120],
					b[120];

		describe_columns(a, sizeof(a), dst->ncols, dst->cols);
		describe_columns(b, sizeof(b), src_ncols, src_cols);
		st_fail(err, ST_ERR_MISMATCH, "cannot merge stacktrees with different value columns");
		st_set_detail(err, "One has (%s), the other (%s).", a, b);
		st_set_hint(err, "Merge profiles of one profile type at a time.");
		return false;
	}
	return true;
}

bool
st_tree_merge_header(StTree *dst, const StTree *src, const int *colmap,
					 StError *err)
{
	if (src->period_type && dst->period_type &&
		(strcmp(src->period_type, dst->period_type) != 0 ||
		 strcmp(src->period_unit, dst->period_unit) != 0))
	{
		st_fail(err, ST_ERR_MISMATCH, "cannot merge stacktrees with different period types");
		st_set_detail(err, "One has period type %s/%s, the other %s/%s.",
					  dst->period_type, dst->period_unit,
					  src->period_type, src->period_unit);
		return false;
	}
	if (src->period_type && !dst->period_type)
	{
		if (!st_tree_set_period(dst, src->period_type, src->period_unit,
								src->period, err))
			return false;
	}
	if (src->period > dst->period)
		dst->period = src->period;
	if (src->time_nanos != 0 &&
		(dst->time_nanos == 0 || src->time_nanos < dst->time_nanos))
		dst->time_nanos = src->time_nanos;
	if (__builtin_add_overflow(dst->duration_nanos, src->duration_nanos,
							   &dst->duration_nanos))
		return st_fail(err, ST_ERR_OVERFLOW, "summed duration overflows 64 bits");
	/*
	 * A set default wins over none (as in pprof); between two different ones
	 * the type name that sorts first wins, which does not depend on the
	 * inputs' column order, so merging stays commutative and associative.
	 */
	if (src->default_col >= 0)
	{
		int			d = colmap[src->default_col];

		if (dst->default_col < 0 ||
			strcmp(dst->cols[d].type, dst->cols[dst->default_col].type) < 0)
			dst->default_col = d;
	}
	return true;
}

uint32_t *
st_tree_map_nodes(StTree *dst, const StTree *src, StError *err)
{
	uint32_t   *strmap;
	uint32_t   *nodemap;

	strmap = st_alloc((size_t) (src->nstrings + 1) * sizeof(uint32_t));
	nodemap = st_alloc((size_t) src->nnodes * sizeof(uint32_t));
	if (!strmap || !nodemap)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < src->nstrings; i++)
	{
		strmap[i] = st_tree_intern(dst, st_tree_string(src, i), src->str_len[i], err);
		if (strmap[i] == UINT32_MAX)
			goto fail;
	}
	nodemap[0] = 0;
	for (uint32_t n = 1; n < src->nnodes; n++)
	{
		if ((n & 4095) == 0)
			st_check_interrupts();
		/* parent index < child index: the parent is mapped already */
		nodemap[n] = st_tree_child(dst, nodemap[src->parent[n]],
								   strmap[src->frame[n]], err);
		if (nodemap[n] == UINT32_MAX)
			goto fail;
	}
	if (src->max_depth > dst->max_depth)
		dst->max_depth = src->max_depth;
	st_free(strmap);
	return nodemap;

fail:
	st_free(strmap);
	st_free(nodemap);
	return NULL;
}

bool
st_tree_merge(StTree *dst, const StTree *src, StError *err)
{
	int			map[ST_MAX_COLUMNS];
	uint32_t   *nodemap;
	int64_t		vals[ST_MAX_COLUMNS];

	if (!st_tree_column_map(dst, src->ncols, src->cols, map, err) ||
		!st_tree_merge_header(dst, src, map, err))
		return false;
	nodemap = st_tree_map_nodes(dst, src, err);
	if (nodemap == NULL)
		return false;
	for (uint32_t n = 0; n < src->nnodes; n++)
	{
		const int64_t *sv = src->values + (size_t) n * src->ncols;

		for (int c = 0; c < src->ncols; c++)
			vals[map[c]] = sv[c];
		if (!st_tree_add_values(dst, nodemap[n], vals, err))
		{
			st_free(nodemap);
			return false;
		}
	}
	st_free(nodemap);
	return true;
}

StTree *
st_tree_copy(const StTree *src, StError *err)
{
	const char *types[ST_MAX_COLUMNS];
	const char *units[ST_MAX_COLUMNS];
	StTree	   *t;

	for (int i = 0; i < src->ncols; i++)
	{
		types[i] = src->cols[i].type;
		units[i] = src->cols[i].unit;
	}
	t = st_tree_new(src->ncols, types, units, err);
	if (t == NULL)
		return NULL;
	if (!st_tree_merge(t, src, err))
	{
		st_tree_free(t);
		return NULL;
	}
	/* merge_header summed durations into zero and took src's default */
	return t;
}

bool
st_tree_total(const StTree *t, int col, int64_t *out, StError *err)
{
	int64_t		sum = 0;

	if (col < 0 || col >= t->ncols)
		return st_fail(err, ST_ERR_ARGUMENT, "column %d out of range", col);
	for (uint32_t n = 0; n < t->nnodes; n++)
		if (__builtin_add_overflow(sum, t->values[(size_t) n * t->ncols + col], &sum))
			return st_fail(err, ST_ERR_OVERFLOW, "total overflows 64 bits");
	*out = sum;
	return true;
}

int64_t *
st_tree_cumulative(const StTree *t, StError *err)
{
	size_t		k = t->ncols;
	int64_t    *cum = st_alloc((size_t) t->nnodes * k * sizeof(int64_t));

	if (cum == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		return NULL;
	}
	memcpy(cum, t->values, (size_t) t->nnodes * k * sizeof(int64_t));
	/* parent index < child index, so one backwards pass suffices */
	for (uint32_t n = t->nnodes - 1; n > 0; n--)
	{
		int64_t    *p = cum + (size_t) t->parent[n] * k;
		int64_t    *c = cum + (size_t) n * k;

		for (size_t i = 0; i < k; i++)
			if (__builtin_add_overflow(p[i], c[i], &p[i]))
			{
				st_free(cum);
				st_fail(err, ST_ERR_OVERFLOW, "cumulative value overflows 64 bits");
				return NULL;
			}
	}
	return cum;
}
