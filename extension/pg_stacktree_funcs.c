/*
 * pg_stacktree_funcs.c
 *	  Looking inside a stacktree from SQL: total, sample_types, stacks,
 *	  top_functions, and loading one from pprof bytes.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "pg_stacktree.h"
#include "st_analysis.h"
#include "st_codec.h"
#include "st_pprof.h"

PG_FUNCTION_INFO_V1(stacktree_total);
PG_FUNCTION_INFO_V1(stacktree_sample_types);
PG_FUNCTION_INFO_V1(stacktree_stacks);
PG_FUNCTION_INFO_V1(stacktree_top_functions);
PG_FUNCTION_INFO_V1(stacktree_from_pprof);
PG_FUNCTION_INFO_V1(stacktree_node_count);

Datum
stacktree_total(PG_FUNCTION_ARGS)
{
	StTree	   *t;
	int			col;
	int64_t		total;
	StError		err;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = PG_GETARG_STTREE(0);
	col = st_pg_column_arg(t, fcinfo, 1);
	if (!st_tree_total(t, col, &total, &err))
		st_pg_raise(&err);
	PG_RETURN_INT64(total);
}

Datum
stacktree_node_count(PG_FUNCTION_ARGS)
{
	StTree	   *t = PG_GETARG_STTREE(0);

	PG_RETURN_INT64((int64) t->nnodes - 1);
}

Datum
stacktree_sample_types(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StTree	   *t = PG_GETARG_STTREE(0);
	int			def = st_tree_effective_default(t);

	InitMaterializedSRF(fcinfo, 0);
	for (int c = 0; c < t->ncols; c++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int32GetDatum(c);
		values[1] = CStringGetTextDatum(t->cols[c].type);
		values[2] = CStringGetTextDatum(t->cols[c].unit);
		values[3] = BoolGetDatum(c == def);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* One row per stack: root-first frames, the chosen column, all columns. */
Datum
stacktree_stacks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StTree	   *t;
	int			col;
	uint32_t   *order;
	uint32_t   *depth;
	uint32_t	nn;
	Datum	   *names;
	Datum	   *path;
	Datum	   *vals;
	StError		err;
	MemoryContext rowcxt;
	MemoryContext oldcxt;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	t = PG_GETARG_STTREE(0);
	col = st_pg_column_arg(t, fcinfo, 1);
	nn = t->nnodes - 1;
	order = st_canonical_order(t, &depth, &err);
	if (order == NULL)
		st_pg_raise(&err);
	names = palloc0(sizeof(Datum) * (t->nstrings + 1));
	path = palloc(sizeof(Datum) * (ST_MAX_DEPTH + 1));
	vals = palloc(sizeof(Datum) * t->ncols);

	/*
	 * The arrays of a row are built in a context reset after each row (the
	 * tuplestore keeps its own copy): the output is up to depth x stacks
	 * frames, which must not stay in memory (the tuplestore spills to disk).
	 */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "stacktree stacks row",
								   ALLOCSET_DEFAULT_SIZES);
	for (int64 i = -1; i < (int64) nn; i++)
	{
		uint32_t	node = i < 0 ? 0 : order[i];
		uint32_t	d = i < 0 ? 0 : depth[i];
		bool		leaf = i >= 0 && (i + 1 == nn || depth[i + 1] <= d);
		bool		any = false;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		CHECK_FOR_INTERRUPTS();
		if (i >= 0)
		{
			uint32_t	f = t->frame[node];

			if (names[f] == (Datum) 0)
				names[f] = CStringGetTextDatum(st_tree_string(t, f));
			path[d - 1] = names[f];
		}
		for (int c = 0; c < t->ncols; c++)
		{
			int64		v = t->values[(size_t) node * t->ncols + c];

			vals[c] = Int64GetDatum(v);
			any |= (v != 0);
		}
		if (!any && !leaf)
			continue;
		oldcxt = MemoryContextSwitchTo(rowcxt);
		values[0] = PointerGetDatum(construct_array(path, d, TEXTOID, -1, false,
													TYPALIGN_INT));
		values[1] = Int64GetDatum(t->values[(size_t) node * t->ncols + col]);
		values[2] = PointerGetDatum(construct_array(vals, t->ncols, INT8OID, 8,
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	return (Datum) 0;
}

Datum
stacktree_top_functions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StTree	   *t;
	int32		limit = PG_ARGISNULL(1) ? PG_INT32_MAX : PG_GETARG_INT32(1);
	int			col;
	int64_t		total;
	uint32_t	n;
	StFuncStat *stats;
	StError		err;

	if (limit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_functions limit must not be negative")));
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	t = PG_GETARG_STTREE(0);
	col = st_pg_column_arg(t, fcinfo, 2);
	if (!st_tree_total(t, col, &total, &err))
		st_pg_raise(&err);
	stats = st_top_functions(t, col, &n, &err);
	if (stats == NULL && err.code != ST_OK)
		st_pg_raise(&err);
	for (uint32_t i = 0; i < n && i < (uint32_t) limit; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(st_tree_string(t, stats[i].name));
		values[1] = Int64GetDatum(stats[i].self);
		values[2] = Int64GetDatum(stats[i].total);
		values[3] = Float8GetDatum(total ? 100.0 * stats[i].self / total : 0.0);
		values[4] = Float8GetDatum(total ? 100.0 * stats[i].total / total : 0.0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
stacktree_from_pprof(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	StPprofOptions opts;
	StError		err;
	StTree	   *t;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	data = PG_GETARG_BYTEA_PP(0);
	memset(&opts, 0, sizeof(opts));
	opts.granularity = ST_PPROF_FUNCTIONS;
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
	{
		char	   *g = text_to_cstring(PG_GETARG_TEXT_PP(1));

		if (strcmp(g, "functions") == 0)
			opts.granularity = ST_PPROF_FUNCTIONS;
		else if (strcmp(g, "lines") == 0)
			opts.granularity = ST_PPROF_LINES;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown granularity \"%s\"", g),
					 errhint("Use \"functions\" or \"lines\".")));
	}
	t = st_tree_from_pprof((const uint8_t *) VARDATA_ANY(data),
						   VARSIZE_ANY_EXHDR(data), &opts, &err);
	if (t == NULL)
		st_pg_raise(&err);
	PG_RETURN_STTREE(t);
}
