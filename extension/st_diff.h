/*
 * st_diff.h
 *	  Diff of two stacktrees: one two-column tree ("base", "test") over the
 *	  union of both trees' stacks, raw (as pprof -diff_base) or normalized
 *	  (test scaled to the base's total, as pprof -normalize), and the
 *	  per-function comparison of such a tree.
 */
#ifndef ST_DIFF_H
#define ST_DIFF_H

#include "st_tree.h"

#define ST_DIFF_BASE "base"
#define ST_DIFF_TEST "test"

/*
 * Diff column base_col of base against column test_col of test.  Both
 * columns must have the same unit.  With normalize, every test value is
 * multiplied by total(base) / total(test) and rounded to the nearest
 * integer (half away from zero).  The result has columns base and test
 * (unit of the inputs), base's period type if set (else test's; different
 * ones are refused), test's time and duration, and default column test.
 */
extern StTree *st_tree_diff(const StTree *base, int base_col,
							const StTree *test, int test_col,
							bool normalize, StError *err);

/* true when t has exactly the two columns base and test */
extern bool st_tree_is_diff(const StTree *t);

/* Per-function comparison of a diff tree (pprof -top of both sides). */
typedef struct StFuncDiff
{
	uint32_t	name;			/* string id in the tree */
	int64_t		base_self;
	int64_t		base_total;
	int64_t		test_self;
	int64_t		test_total;
} StFuncDiff;

/*
 * Every function with a non-zero total on either side, sorted by
 * |test_self - base_self| desc, |test_total - base_total| desc, name (the
 * order of pprof -top -diff_base).  Columns bcol/tcol are the two sides.
 * NULL with err->code == ST_OK for an empty result.
 */
extern StFuncDiff *st_top_functions_diff(const StTree *t, int bcol, int tcol,
										 uint32_t *n, StError *err);

/* v * factor rounded half away from zero; false on overflow or v < 0 */
extern bool st_scale_value(int64_t v, double factor, int64_t *out);

#endif							/* ST_DIFF_H */
