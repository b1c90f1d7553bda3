/*
 * pg_stacktree.h
 *	  Server-side helpers shared by the extension's pg_*.c files: turning
 *	  core errors into ereport, getting a tree out of a Datum (flat or
 *	  expanded), and building a Datum from a tree.
 */
#ifndef PG_STACKTREE_H
#define PG_STACKTREE_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/expandeddatum.h"

#include "st_tree.h"

/* ereport(ERROR) for a core error; never returns */
extern void st_pg_raise(const StError *err) pg_attribute_noreturn();

/*
 * The tree in a stacktree Datum.  For an expanded value the tree is the
 * object's own (read it, do not modify or free it); otherwise the value is
 * detoasted, validated and decoded into CurrentMemoryContext.
 */
extern StTree *st_pg_datum_tree(Datum d);

#define PG_GETARG_STTREE(n) st_pg_datum_tree(PG_GETARG_DATUM(n))

/* Encode a tree as a flat stacktree varlena in CurrentMemoryContext. */
extern struct varlena *st_pg_tree_varlena(const StTree *t);

#define PG_RETURN_STTREE(t) PG_RETURN_POINTER(st_pg_tree_varlena(t))

/* Column index for a column-name argument (NULL: the default column). */
extern int	st_pg_column_arg(const StTree *t, FunctionCallInfo fcinfo, int argno);

/* ---- the expanded representation (pg_stacktree_expanded.c) ---- */
typedef struct ExpandedStacktree
{
	ExpandedObjectHeader hdr;
	int			magic;
	StTree	   *tree;			/* lives in hdr.eoh_context */
	uint8	   *flat;			/* cached encoding, or NULL */
	size_t		flat_len;
} ExpandedStacktree;

#define EXPANDED_STACKTREE_MAGIC 0x53544b31	/* "STK1" */

extern ExpandedStacktree *st_pg_expanded(Datum d);	/* NULL if not ours */
extern ExpandedStacktree *st_pg_expand(Datum d, MemoryContext parent);
extern void st_pg_expanded_changed(ExpandedStacktree *est);

#endif							/* PG_STACKTREE_H */
