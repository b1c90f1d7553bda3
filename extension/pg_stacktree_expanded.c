/*
 * pg_stacktree_expanded.c
 *	  The expanded (read-write, in-memory) form of a stacktree, used as the
 *	  state of the merge aggregate: the transition function mutates the tree
 *	  in place instead of decoding and re-encoding the state per row.  It is
 *	  flattened to the stored form only when it leaves the aggregate (or is
 *	  stored in a tuple), through the two methods below.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "pg_stacktree.h"
#include "st_codec.h"

static Size est_get_flat_size(ExpandedObjectHeader *eohptr);
static void est_flatten_into(ExpandedObjectHeader *eohptr,
							 void *result, Size allocated_size);

static const ExpandedObjectMethods est_methods =
{
	est_get_flat_size,
	est_flatten_into
};

ExpandedStacktree *
st_pg_expanded(Datum d)
{
	ExpandedObjectHeader *eoh;

	if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
		return NULL;
	eoh = DatumGetEOHP(d);
	if (eoh->eoh_methods != &est_methods ||
		((ExpandedStacktree *) eoh)->magic != EXPANDED_STACKTREE_MAGIC)
		return NULL;
	return (ExpandedStacktree *) eoh;
}

/*
 * Make a new expanded stacktree, a child of parent, holding a copy of the
 * tree in d (flat or expanded).
 */
ExpandedStacktree *
st_pg_expand(Datum d, MemoryContext parent)
{
	MemoryContext objcxt;
	MemoryContext oldcxt;
	ExpandedStacktree *est;
	ExpandedStacktree *src = st_pg_expanded(d);
	StError		err;

	objcxt = AllocSetContextCreate(parent, "expanded stacktree",
								   ALLOCSET_DEFAULT_SIZES);
	est = (ExpandedStacktree *) MemoryContextAlloc(objcxt, sizeof(ExpandedStacktree));
	EOH_init_header(&est->hdr, &est_methods, objcxt);
	est->magic = EXPANDED_STACKTREE_MAGIC;
	est->flat = NULL;
	est->flat_len = 0;

	oldcxt = MemoryContextSwitchTo(objcxt);
	if (src != NULL)
		est->tree = st_tree_copy(src->tree, &err);
	else
	{
		struct varlena *v = PG_DETOAST_DATUM(d);

		est->tree = st_decode((const uint8_t *) VARDATA_ANY(v),
							  VARSIZE_ANY_EXHDR(v), &err);
	}
	MemoryContextSwitchTo(oldcxt);
	if (est->tree == NULL)
		st_pg_raise(&err);
	return est;
}

/* Call after every mutation of est->tree: drops the cached flat form. */
void
st_pg_expanded_changed(ExpandedStacktree *est)
{
	if (est->flat)
		pfree(est->flat);
	est->flat = NULL;
	est->flat_len = 0;
}

static Size
est_get_flat_size(ExpandedObjectHeader *eohptr)
{
	ExpandedStacktree *est = (ExpandedStacktree *) eohptr;

	Assert(est->magic == EXPANDED_STACKTREE_MAGIC);
	if (est->flat == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(est->hdr.eoh_context);
		StError		err;

		est->flat = st_encode(est->tree, &est->flat_len, &err);
		MemoryContextSwitchTo(oldcxt);
		if (est->flat == NULL)
			st_pg_raise(&err);
		if (est->flat_len > MaxAllocSize - VARHDRSZ)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("merged stacktree of %zu bytes is too large",
							est->flat_len)));
	}
	return VARHDRSZ + est->flat_len;
}

static void
est_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	ExpandedStacktree *est = (ExpandedStacktree *) eohptr;
	struct varlena *v = (struct varlena *) result;

	Assert(est->flat != NULL);
	Assert(allocated_size == VARHDRSZ + est->flat_len);
	memset(result, 0, allocated_size);
	SET_VARSIZE(v, VARHDRSZ + est->flat_len);
	memcpy(VARDATA(v), est->flat, est->flat_len);
}
