/*
 * st_analysis.h
 *	  Read-only questions asked of a tree: per-function self and total
 *	  ("pprof -top"), computed exactly as pprof does.
 */
#ifndef ST_ANALYSIS_H
#define ST_ANALYSIS_H

#include "st_tree.h"

typedef struct StFuncStat
{
	uint32_t	name;			/* string id in the tree */
	int64_t		self;			/* flat: samples whose leaf is the function */
	int64_t		total;			/* cum: samples with the function anywhere
								 * on the stack, counted once per stack */
} StFuncStat;

/*
 * Per-function self and total of column col, for every function whose
 * total is non-zero, sorted by self desc, total desc, name.  *n gets the
 * count; the array is allocated with st_alloc (possibly with n == 0).
 * NULL with err filled on error.
 */
extern StFuncStat *st_top_functions(const StTree *t, int col, uint32_t *n,
									StError *err);

#endif							/* ST_ANALYSIS_H */
