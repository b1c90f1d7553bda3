/*
 * pg_ingest.c
 *	  Server glue for the psql-only ingest path: decode_profile(data,
 *	  split_keys, source_name) turns pprof bytes (gzipped or raw) or folded
 *	  stacks into the rows stackhouse.profiles stores, one per distinct set
 *	  of split sample labels.  pprof_split() and the inbox trigger are SQL
 *	  wrappers around it (sql/parts/50_warehouse.sql).
 *
 * Content detection, the default split keys and profile type naming come
 * from ingest-cli/ingest_shared.h, the same code the stackhouse-ingest CLI
 * runs client-side, so both paths store the same rows.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "pg_stacktree.h"
#include "../ingest-cli/ingest_shared.h"

PG_FUNCTION_INFO_V1(stackhouse_decode_profile);

/* nanoseconds between the Unix epoch and PostgreSQL's (2000-01-01) */
#define UNIX_TO_PG_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

typedef struct DecodeCtx
{
	const char *name;
	StPprofResult *res;
} DecodeCtx;

static void
decode_error_context(void *arg)
{
	DecodeCtx  *ctx = (DecodeCtx *) arg;

	if (ctx->name)
		errcontext("decoding profile \"%s\"", ctx->name);
}

/* text[] -> C strings; NULL or empty elements are refused */
static const char **
split_keys_arg(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	const char **keys;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("split_keys must be a one-dimensional text array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	if (nelems > SH_MAX_SPLIT_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many split keys: %d, the limit is %d",
						nelems, SH_MAX_SPLIT_KEYS)));
	keys = palloc(sizeof(char *) * (nelems > 0 ? nelems : 1));
	for (int i = 0; i < nelems; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("split_keys must not contain NULL")));
		keys[i] = TextDatumGetCString(elems[i]);
		if (keys[i][0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("split_keys must not contain an empty key")));
	}
	*n = nelems;
	return keys;
}

static Datum
labels_jsonb(const StPprofPart *p)
{
	StBuf		b;
	char	   *s;

	st_buf_init(&b, 64);
	st_buf_putc(&b, '{');
	for (int i = 0; i < p->nlabels; i++)
	{
		if (i > 0)
			st_buf_putc(&b, ',');
		sh_json_string(&b, p->label_keys[i]);
		st_buf_putc(&b, ':');
		sh_json_string(&b, p->label_values[i]);
	}
	st_buf_putc(&b, '}');
	st_buf_putc(&b, '\0');
	if (b.oom)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	s = (char *) b.data;
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

Datum
stackhouse_decode_profile(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bytea	   *data;
	const char **keys = NULL;
	int			nkeys = 0;
	bool		split_all = true;
	StPprofResult res;
	ShKind		kind;
	StError		err;
	DecodeCtx	ctx;
	ErrorContextCallback cb;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	data = PG_GETARG_BYTEA_PP(0);
	if (!PG_ARGISNULL(1))
	{
		keys = split_keys_arg(PG_GETARG_ARRAYTYPE_P(1), &nkeys);
		split_all = false;
	}
	ctx.name = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	ctx.res = &res;
	cb.callback = decode_error_context;
	cb.arg = &ctx;
	cb.previous = error_context_stack;
	error_context_stack = &cb;

	memset(&err, 0, sizeof(err));
	if (!sh_decode((const uint8_t *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
				   split_all, keys, nkeys, &res, &kind, &err))
		st_pg_raise(&err);

	for (int i = 0; i < res.nparts; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		StTree	   *t = res.parts[i].tree;

		CHECK_FOR_INTERRUPTS();
		if (res.time_nanos > 0)
			values[0] = TimestampTzGetDatum(res.time_nanos / 1000 - UNIX_TO_PG_USECS);
		else
			nulls[0] = true;
		if (res.duration_nanos > 0)
		{
			Interval   *iv = palloc0(sizeof(Interval));

			iv->time = res.duration_nanos / 1000;
			values[1] = IntervalPGetDatum(iv);
		}
		else
			nulls[1] = true;
		values[2] = CStringGetTextDatum(sh_profile_type(t));
		values[3] = labels_jsonb(&res.parts[i]);
		values[4] = PointerGetDatum(st_pg_tree_varlena(t));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	st_pprof_result_free(&res);
	error_context_stack = cb.previous;
	return (Datum) 0;
}
