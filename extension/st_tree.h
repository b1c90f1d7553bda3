/*
 * st_tree.h
 *	  The in-memory, mutable call tree behind the stacktree datatype.
 *
 * A tree has a string table (each frame name once), k named value columns
 * (type/unit, as pprof sample types), header metadata (period, time span,
 * default column) and nodes.  Node 0 is the root: it has no frame, and its
 * self values hold samples whose stack was empty.  Every other node has a
 * parent, a frame (string id) and k int64 self values, all >= 0.  Siblings
 * have distinct frames; a hash index on (parent, frame) finds a child in O(1),
 * so inserting a stack and merging trees are linear in their size.
 *
 * The canonical (stored, printed) order is defined by the codec: depth
 * first, children sorted by name bytes.  The in-memory order is insertion
 * order, with parent index < child index always.
 */
#ifndef ST_TREE_H
#define ST_TREE_H

#include "st_core.h"

#define ST_NO_FRAME UINT32_MAX

typedef struct StColumn
{
	char	   *type;			/* e.g. "cpu" */
	char	   *unit;			/* e.g. "nanoseconds" */
} StColumn;

typedef struct StTree
{
	/* header */
	int			ncols;
	StColumn	cols[ST_MAX_COLUMNS];
	int			default_col;	/* -1: unset (pprof then uses the last) */
	char	   *period_type;	/* NULL when unknown */
	char	   *period_unit;
	int64_t		period;
	int64_t		time_nanos;		/* 0 when unknown */
	int64_t		duration_nanos; /* 0 when unknown */

	/* string table: names are stored NUL-terminated in one arena */
	uint32_t	nstrings;
	size_t		strings_cap;
	uint64_t   *str_off;		/* offset of string i in arena */
	uint32_t   *str_len;
	char	   *arena;
	size_t		arena_len;
	size_t		arena_cap;
	uint32_t   *str_index;		/* open addressing: string id + 1, 0 =
								 * empty */
	uint32_t	str_index_mask;

	/* nodes; node 0 is the root */
	uint32_t	nnodes;
	size_t		nodes_cap;
	uint32_t   *parent;
	uint32_t   *frame;
	int64_t    *values;			/* nnodes * ncols, row major */
	uint32_t   *child_index;	/* open addressing on (parent, frame): node
								 * id + 1 */
	uint32_t	child_index_mask;

	uint32_t	max_depth;		/* deepest stack seen (for limits) */
} StTree;

/*
 * Create an empty tree with the given columns (types[i]/units[i]).  ncols
 * must be 1..ST_MAX_COLUMNS.  Returns NULL and fills err on failure.
 */
extern StTree *st_tree_new(int ncols, const char *const *types,
						   const char *const *units, StError *err);
extern void st_tree_free(StTree *t);

/* Header setters (copy their strings). */
extern bool st_tree_set_period(StTree *t, const char *type, const char *unit,
							   int64_t period, StError *err);

/* Intern a name; returns its id or UINT32_MAX with err filled. */
extern uint32_t st_tree_intern(StTree *t, const char *name, size_t len,
							   StError *err);

static inline const char *
st_tree_string(const StTree *t, uint32_t id)
{
	return t->arena + t->str_off[id];
}

/*
 * Find or create the child of parent with the given frame; returns the
 * node id or UINT32_MAX on error.
 */
extern uint32_t st_tree_child(StTree *t, uint32_t parent, uint32_t frame,
							  StError *err);

/* Look up an existing child; UINT32_MAX when absent. */
extern uint32_t st_tree_find_child(const StTree *t, uint32_t parent,
								   uint32_t frame);

/*
 * Add vals[0..ncols) to the self values of node; values must be >= 0 and
 * the sums must not overflow.
 */
extern bool st_tree_add_values(StTree *t, uint32_t node,
							   const int64_t *vals, StError *err);

/*
 * Insert one stack, frames[0] = root-most ... frames[n-1] = leaf, as
 * string ids, with ncols values.  n == 0 adds to the root's self.
 */
extern bool st_tree_add_stack(StTree *t, const uint32_t *frames, uint32_t n,
							  const int64_t *vals, StError *err);

/*
 * Column mapping: for each column of src, the index of the column with
 * the same type in dst.  Fails with ST_ERR_MISMATCH unless both trees have
 * the same set of (type, unit) columns (in any order) and compatible
 * period types.
 */
extern bool st_tree_column_map(const StTree *dst, int src_ncols,
							   const StColumn *src_cols, int *map,
							   StError *err);

/*
 * Merge the header of src into dst as pprof's merge does: earliest
 * time_nanos, summed duration, largest period, first set default column.
 */
extern bool st_tree_merge_header(StTree *dst, const StTree *src,
								 const int *colmap, StError *err);

/*
 * Make every node of src exist in dst (same frame path; names interned into
 * dst) and return, for each src node, the dst node id (st_alloc'd array of
 * src->nnodes entries).  Values are not touched.  NULL with err on error.
 */
extern uint32_t *st_tree_map_nodes(StTree *dst, const StTree *src,
								   StError *err);

/* Merge all of src into dst (columns aligned by name). */
extern bool st_tree_merge(StTree *dst, const StTree *src, StError *err);

/* Deep copy. */
extern StTree *st_tree_copy(const StTree *src, StError *err);

/* Column index by type name, or -1. */
extern int	st_tree_column_by_name(const StTree *t, const char *type);

/* The column pprof shows by default: default_col, else the last one. */
static inline int
st_tree_effective_default(const StTree *t)
{
	return t->default_col >= 0 ? t->default_col : t->ncols - 1;
}

/* Sum of all self values of column col (checked for overflow). */
extern bool st_tree_total(const StTree *t, int col, int64_t *out,
						  StError *err);

/*
 * Cumulative values: cum[n*ncols + c] = self of n plus all descendants.
 * Caller frees with st_free.  NULL on error.
 */
extern int64_t *st_tree_cumulative(const StTree *t, StError *err);

#endif							/* ST_TREE_H */
