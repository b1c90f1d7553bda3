/*
 * pg_stacktree_views.c
 *	  Server glue for diffing, filtering and the outputs people look at:
 *	  diff / diff_normalized, focus / ignore / prune / scale, self_of /
 *	  total_of, top_functions_diff, flamegraph / flamegraph_diff (Grafana
 *	  rows), flamegraph_svg and stacktree_to_pprof.
 *
 * Regular expressions are PostgreSQL's own (RE_compile_and_execute, ARE
 * syntax, C collation): each distinct frame name is matched once per call
 * and the core filters get a per-string boolean mask.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_collation.h"
#include "regex/regex.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "pg_stacktree.h"
#include "st_diff.h"
#include "st_filter.h"
#include "st_flame.h"
#include "st_pprof_export.h"

PG_FUNCTION_INFO_V1(stacktree_diff);
PG_FUNCTION_INFO_V1(stacktree_diff_normalized);
PG_FUNCTION_INFO_V1(stacktree_focus);
PG_FUNCTION_INFO_V1(stacktree_ignore);
PG_FUNCTION_INFO_V1(stacktree_prune);
PG_FUNCTION_INFO_V1(stacktree_scale);
PG_FUNCTION_INFO_V1(stacktree_self_of);
PG_FUNCTION_INFO_V1(stacktree_total_of);
PG_FUNCTION_INFO_V1(stacktree_top_functions_diff);
PG_FUNCTION_INFO_V1(stacktree_flamegraph);
PG_FUNCTION_INFO_V1(stacktree_flamegraph_diff);
PG_FUNCTION_INFO_V1(stacktree_flamegraph_svg);
PG_FUNCTION_INFO_V1(stacktree_to_pprof);

/* mask[id] = name id of t matches the regex (PostgreSQL ARE, C collation) */
static bool *
regex_mask(const StTree *t, text *re)
{
	bool	   *mask = palloc0(sizeof(bool) * ((size_t) t->nstrings + 1));

	for (uint32_t i = 0; i < t->nstrings; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (t->str_len[i] > (uint32_t) PG_INT32_MAX)
			continue;
		mask[i] = RE_compile_and_execute(re, (char *) st_tree_string(t, i),
										 (int) t->str_len[i], REG_ADVANCED,
										 C_COLLATION_OID, 0, NULL);
	}
	return mask;
}

/* diff: column by name (NULL: base's default), same type in test */
static Datum
diff_common(FunctionCallInfo fcinfo, bool normalize)
{
	StTree	   *base = PG_GETARG_STTREE(0);
	StTree	   *test = PG_GETARG_STTREE(1);
	int			bcol,
				tcol;
	StTree	   *out;
	StError		err;

	bcol = st_pg_column_arg(base, fcinfo, 2);
	tcol = st_tree_column_by_name(test, base->cols[bcol].type);
	if (tcol < 0)
	{
		if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
			tcol = st_pg_column_arg(test, fcinfo, 2);	/* raises the error */
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("test stacktree has no value column \"%s\"",
						base->cols[bcol].type),
				 errhint("Diff profiles of the same profile type, or name the column.")));
	}
	out = st_tree_diff(base, bcol, test, tcol, normalize, &err);
	if (out == NULL)
		st_pg_raise(&err);
	PG_RETURN_STTREE(out);
}

Datum
stacktree_diff(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	return diff_common(fcinfo, false);
}

Datum
stacktree_diff_normalized(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	return diff_common(fcinfo, true);
}

Datum
stacktree_focus(PG_FUNCTION_ARGS)
{
	StTree	   *t = PG_GETARG_STTREE(0);
	bool		reroot = PG_GETARG_BOOL(2);
	bool	   *mask = regex_mask(t, PG_GETARG_TEXT_PP(1));
	StError		err;
	StTree	   *out = st_tree_focus(t, mask, reroot, &err);

	if (out == NULL)
		st_pg_raise(&err);
	PG_RETURN_STTREE(out);
}

Datum
stacktree_ignore(PG_FUNCTION_ARGS)
{
	StTree	   *t = PG_GETARG_STTREE(0);
	bool	   *mask = regex_mask(t, PG_GETARG_TEXT_PP(1));
	StError		err;
	StTree	   *out = st_tree_ignore(t, mask, &err);

	if (out == NULL)
		st_pg_raise(&err);
	PG_RETURN_STTREE(out);
}

Datum
stacktree_prune(PG_FUNCTION_ARGS)
{
	StTree	   *t;
	float8		frac;
	int			col;
	StError		err;
	StTree	   *out;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	t = PG_GETARG_STTREE(0);
	frac = PG_GETARG_FLOAT8(1);
	if (!(frac >= 0.0 && frac <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("prune fraction must be between 0 and 1, not %g", frac)));
	col = st_pg_column_arg(t, fcinfo, 2);
	out = st_tree_prune(t, frac, col, &err);
	if (out == NULL)
		st_pg_raise(&err);
	PG_RETURN_STTREE(out);
}

Datum
stacktree_scale(PG_FUNCTION_ARGS)
{
	StTree	   *t = PG_GETARG_STTREE(0);
	float8		factor = PG_GETARG_FLOAT8(1);
	StError		err;
	StTree	   *out;

	if (!(factor >= 0.0) || isinf(factor))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scale factor must be a finite number >= 0, not %g", factor)));
	out = st_tree_scale(t, factor, &err);
	if (out == NULL)
		st_pg_raise(&err);
	PG_RETURN_STTREE(out);
}

static Datum
of_common(FunctionCallInfo fcinfo, bool total)
{
	StTree	   *t;
	bool	   *mask;
	int			col;
	int64_t		v;
	StError		err;
	bool		ok;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	t = PG_GETARG_STTREE(0);
	col = st_pg_column_arg(t, fcinfo, 2);
	mask = regex_mask(t, PG_GETARG_TEXT_PP(1));
	ok = total ? st_tree_total_of(t, mask, col, &v, &err)
		: st_tree_self_of(t, mask, col, &v, &err);
	if (!ok)
		st_pg_raise(&err);
	PG_RETURN_INT64(v);
}

Datum
stacktree_self_of(PG_FUNCTION_ARGS)
{
	return of_common(fcinfo, false);
}

Datum
stacktree_total_of(PG_FUNCTION_ARGS)
{
	return of_common(fcinfo, true);
}

static void
require_diff(const StTree *t, const char *fn)
{
	if (!st_tree_is_diff(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs a diff stacktree", fn),
				 errdetail("A diff stacktree has exactly the value columns base and test."),
				 errhint("Build one with stackhouse.diff(base, test).")));
}

Datum
stacktree_top_functions_diff(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StTree	   *t;
	int32		limit = PG_ARGISNULL(1) ? PG_INT32_MAX : PG_GETARG_INT32(1);
	uint32_t	n;
	StFuncDiff *d;
	StError		err;

	if (limit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_functions_diff limit must not be negative")));
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	t = PG_GETARG_STTREE(0);
	require_diff(t, "top_functions_diff");
	d = st_top_functions_diff(t, 0, 1, &n, &err);
	if (d == NULL && err.code != ST_OK)
		st_pg_raise(&err);
	for (uint32_t i = 0; i < n && i < (uint32_t) limit; i++)
	{
		Datum		values[8];
		bool		nulls[8] = {0};

		values[0] = CStringGetTextDatum(st_tree_string(t, d[i].name));
		values[1] = Int64GetDatum(d[i].base_self);
		values[2] = Int64GetDatum(d[i].base_total);
		values[3] = Int64GetDatum(d[i].test_self);
		values[4] = Int64GetDatum(d[i].test_total);
		/* both sides are >= 0: the differences cannot overflow */
		values[5] = Int64GetDatum(d[i].test_self - d[i].base_self);
		values[6] = Int64GetDatum(d[i].test_total - d[i].base_total);
		if (d[i].base_total == 0)
			nulls[7] = true;
		else
			values[7] = Float8GetDatum((double) d[i].test_total / (double) d[i].base_total);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

static void
flame_rows(FunctionCallInfo fcinfo, bool diff)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StTree	   *t;
	StFlameRow *rows;
	Datum	   *names;
	Datum		root;
	uint32_t	n;
	int			col,
				colr = -1;
	StError		err;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return;
	t = PG_GETARG_STTREE(0);
	if (diff)
	{
		require_diff(t, "flamegraph_diff");
		col = 0;
		colr = 1;
	}
	else
		col = st_pg_column_arg(t, fcinfo, 1);
	rows = st_flame_rows(t, col, colr, &n, &err);
	if (rows == NULL)
		st_pg_raise(&err);
	names = palloc0(sizeof(Datum) * ((size_t) t->nstrings + 1));
	root = CStringGetTextDatum("total");
	for (uint32_t i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {0};
		uint32_t	node = rows[i].node;

		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		values[0] = Int32GetDatum((int32) rows[i].level);
		values[1] = Int64GetDatum(rows[i].value);
		values[2] = Int64GetDatum(rows[i].self);
		if (node == 0)
			values[3] = root;
		else
		{
			uint32_t	f = t->frame[node];

			if (names[f] == (Datum) 0)
				names[f] = CStringGetTextDatum(st_tree_string(t, f));
			values[3] = names[f];
		}
		values[4] = Int64GetDatum(rows[i].value_right);
		values[5] = Int64GetDatum(rows[i].self_right);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

Datum
stacktree_flamegraph(PG_FUNCTION_ARGS)
{
	flame_rows(fcinfo, false);
	return (Datum) 0;
}

Datum
stacktree_flamegraph_diff(PG_FUNCTION_ARGS)
{
	flame_rows(fcinfo, true);
	return (Datum) 0;
}

Datum
stacktree_flamegraph_svg(PG_FUNCTION_ARGS)
{
	StTree	   *t;
	StSvgOptions o;
	char	   *svg;
	size_t		len;
	StError		err;
	text	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = PG_GETARG_STTREE(0);
	memset(&o, 0, sizeof(o));
	o.title = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	o.width = PG_ARGISNULL(2) ? 1200 : PG_GETARG_INT32(2);
	o.min_width = PG_ARGISNULL(4) ? 0.1 : PG_GETARG_FLOAT8(4);
	if (st_tree_is_diff(t) && PG_ARGISNULL(3))
	{
		o.col = 0;
		o.col_right = 1;
	}
	else
	{
		o.col = st_pg_column_arg(t, fcinfo, 3);
		o.col_right = -1;
	}
	if (o.width < 200 || o.width > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("flame graph width must be 200 to 100000 pixels, not %d", o.width)));
	if (!(o.min_width >= 0.0) || isinf(o.min_width))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_width must be a finite number >= 0")));
	svg = st_flame_svg(t, &o, &len, &err);
	if (svg == NULL)
		st_pg_raise(&err);
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("flame graph SVG of %zu bytes is too large", len),
				 errhint("Raise min_width or prune the tree first.")));
	result = cstring_to_text_with_len(svg, (int) len);
	PG_RETURN_TEXT_P(result);
}

Datum
stacktree_to_pprof(PG_FUNCTION_ARGS)
{
	StTree	   *t = PG_GETARG_STTREE(0);
	size_t		len;
	StError		err;
	uint8_t    *data = st_tree_to_pprof(t, &len, &err);
	bytea	   *out;

	if (data == NULL)
		st_pg_raise(&err);
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pprof export of %zu bytes is too large", len)));
	out = palloc(len + VARHDRSZ);
	SET_VARSIZE(out, len + VARHDRSZ);
	memcpy(VARDATA(out), data, len);
	PG_RETURN_BYTEA_P(out);
}
