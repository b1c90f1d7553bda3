/*
 * st_folded.h
 *	  Folded-stack text form of a stacktree (see st_folded.c for the grammar).
 */
#ifndef ST_FOLDED_H
#define ST_FOLDED_H

#include "st_tree.h"

/* Parse folded text (need not be NUL-terminated). NULL with err on error. */
extern StTree *st_tree_from_folded(const char *text, size_t len, StError *err);

/* Canonical folded text, NUL-terminated, allocated with st_alloc. */
extern char *st_tree_to_folded(const StTree *t, size_t *out_len, StError *err);

#endif							/* ST_FOLDED_H */
