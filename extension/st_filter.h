/*
 * st_filter.h
 *	  Tree-to-tree filters (focus, ignore, prune, scale) and the scalar
 *	  "how much of this tree is in functions matching X" questions.
 *
 * Name matching is the caller's business: the filters take a mask with one
 * bool per string id of the tree (match[id] true when the name matches),
 * so this code stays independent of any regex engine.
 */
#ifndef ST_FILTER_H
#define ST_FILTER_H

#include "st_tree.h"

/*
 * Keep the samples whose stack has a matching frame (pprof -focus).  With
 * reroot, each kept stack starts at its root-most matching frame and the
 * frames above it are dropped (pprof -show_from).
 */
extern StTree *st_tree_focus(const StTree *t, const bool *match, bool reroot,
							 StError *err);

/* Drop the samples whose stack has a matching frame (pprof -ignore). */
extern StTree *st_tree_ignore(const StTree *t, const bool *match,
							  StError *err);

/*
 * Fold every node whose cumulative value in column col is below
 * min_fraction of the tree's total into its nearest kept ancestor (its
 * subtree's values, all columns, become that ancestor's self).  Totals are
 * unchanged.
 */
extern StTree *st_tree_prune(const StTree *t, double min_fraction, int col,
							 StError *err);

/* Every value times factor (>= 0, finite), rounded half away from zero. */
extern StTree *st_tree_scale(const StTree *t, double factor, StError *err);

/* Sum of the self values of column col in matching frames. */
extern bool st_tree_self_of(const StTree *t, const bool *match, int col,
							int64_t *out, StError *err);

/*
 * Sum of column col over the samples whose stack has a matching frame
 * (each sample once, however many matching frames it has).
 */
extern bool st_tree_total_of(const StTree *t, const bool *match, int col,
							 int64_t *out, StError *err);

#endif							/* ST_FILTER_H */
