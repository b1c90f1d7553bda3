/*
 * st_flame.h
 *	  Flame graphs of a stacktree: the rows of Grafana's flame graph data
 *	  frame (nested-set order), and a self-contained interactive SVG.
 */
#ifndef ST_FLAME_H
#define ST_FLAME_H

#include "st_tree.h"

/*
 * One row of Grafana's flame graph frame.  Rows come in depth-first
 * pre-order (children sorted by name), the root first with level 0; value
 * is cumulative, self the node's own.  For a diff, value/self are the left
 * (base) side and value_right/self_right the right (test) side, as Grafana
 * reads them (a block's width is value + valueRight).
 */
typedef struct StFlameRow
{
	uint32_t	node;			/* node id in the tree, 0 = root */
	uint32_t	level;
	int64_t		value;
	int64_t		self;
	int64_t		value_right;	/* 0 unless col_right >= 0 */
	int64_t		self_right;
} StFlameRow;

/*
 * Rows for column col (and col_right, or -1).  Nodes whose cumulative
 * values are all zero are left out (so are their descendants, which are
 * zero too); the root is always there.  NULL with err on error.
 */
extern StFlameRow *st_flame_rows(const StTree *t, int col, int col_right,
								 uint32_t *n, StError *err);

typedef struct StSvgOptions
{
	const char *title;			/* NULL: "Flame Graph" / "Differential Flame
								 * Graph" */
	int			width;			/* pixels, 200..100000 */
	int			col;
	int			col_right;		/* -1: not a diff */
	double		min_width;		/* frames narrower (pixels) are omitted */
} StSvgOptions;

/* NUL-terminated SVG document, allocated with st_alloc. */
extern char *st_flame_svg(const StTree *t, const StSvgOptions *opts,
						  size_t *out_len, StError *err);

#endif							/* ST_FLAME_H */
