/*
 * pg_stacktree_agg.c
 *	  merge(stacktree): transition/combine function (one function serves
 *	  both, since the state type is stacktree itself), final function, and
 *	  the two-argument scalar merge(a, b).
 *
 * In an aggregate the state is an expanded stacktree owned by the
 * aggregate's memory context; each row is decoded straight into it.  The
 * state is a real type (not internal), so parallel query and Citus can ship
 * partial states through its binary or text I/O.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/memutils.h"

#include "pg_stacktree.h"
#include "st_codec.h"

PG_FUNCTION_INFO_V1(stacktree_merge_trans);
PG_FUNCTION_INFO_V1(stacktree_merge_final);
PG_FUNCTION_INFO_V1(stacktree_merge2);

/* Merge the stacktree Datum d into est's tree. */
static void
merge_into(ExpandedStacktree *est, Datum d)
{
	ExpandedStacktree *other = st_pg_expanded(d);
	MemoryContext oldcxt;
	StError		err;
	bool		ok;

	if (other != NULL)
	{
		oldcxt = MemoryContextSwitchTo(est->hdr.eoh_context);
		ok = st_tree_merge(est->tree, other->tree, &err);
		MemoryContextSwitchTo(oldcxt);
	}
	else
	{
		struct varlena *v = PG_DETOAST_DATUM(d);

		oldcxt = MemoryContextSwitchTo(est->hdr.eoh_context);
		ok = st_decode_merge(est->tree, (const uint8_t *) VARDATA_ANY(v),
							 VARSIZE_ANY_EXHDR(v), &err);
		MemoryContextSwitchTo(oldcxt);
		if ((Pointer) v != DatumGetPointer(d))
			pfree(v);
	}
	st_pg_expanded_changed(est);
	if (!ok)
		st_pg_raise(&err);
}

Datum
stacktree_merge_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ExpandedStacktree *state;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stacktree_merge_trans called in non-aggregate context"),
				 errhint("Use merge(a, b) to merge two values.")));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		state = st_pg_expand(PG_GETARG_DATUM(1), aggcxt);
		PG_RETURN_DATUM(EOHPGetRWDatum(&state->hdr));
	}
	state = st_pg_expanded(PG_GETARG_DATUM(0));
	if (state == NULL ||
		!VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(PG_GETARG_DATUM(0))))
		state = st_pg_expand(PG_GETARG_DATUM(0), aggcxt);
	merge_into(state, PG_GETARG_DATUM(1));
	PG_RETURN_DATUM(EOHPGetRWDatum(&state->hdr));
}

/* Final function: the flat, stored form, in the caller's context. */
Datum
stacktree_merge_final(PG_FUNCTION_ARGS)
{
	ExpandedStacktree *state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = st_pg_expanded(PG_GETARG_DATUM(0));
	if (state == NULL)
		PG_RETURN_DATUM(PointerGetDatum(PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0))));
	{
		Size		size = EOH_get_flat_size(&state->hdr);
		void	   *flat = palloc(size);

		EOH_flatten_into(&state->hdr, flat, size);
		PG_RETURN_POINTER(flat);
	}
}

/* merge(a, b): NULL inputs are ignored, as by the aggregate. */
Datum
stacktree_merge2(PG_FUNCTION_ARGS)
{
	StTree	   *t;
	StTree	   *b;
	StError		err;

	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	t = st_tree_copy(PG_GETARG_STTREE(0), &err);
	if (t == NULL)
		st_pg_raise(&err);
	b = PG_GETARG_STTREE(1);
	if (!st_tree_merge(t, b, &err))
		st_pg_raise(&err);
	PG_RETURN_STTREE(t);
}
