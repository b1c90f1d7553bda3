/*
 * pg_stackhouse.c
 *	  Module entry point: points the core's memory and interrupt hooks at
 *	  palloc and CHECK_FOR_INTERRUPTS, maps core errors to ereport, and
 *	  converts between Datums and trees.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pg_retention.h"
#include "pg_stacktree.h"
#include "st_codec.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static void *
pg_hook_alloc(size_t size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, size, MCXT_ALLOC_HUGE);
}

static void *
pg_hook_realloc(void *ptr, size_t size)
{
	return repalloc_huge(ptr, size);
}

static void
pg_hook_free(void *ptr)
{
	pfree(ptr);
}

static void
pg_hook_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

void
_PG_init(void)
{
	st_hooks.alloc = pg_hook_alloc;
	st_hooks.realloc = pg_hook_realloc;
	st_hooks.free = pg_hook_free;
	st_hooks.check_interrupts = pg_hook_interrupts;
	stackhouse_retention_init();
}

/* errdetail/errhint only when the core gave one */
static int
opt_detail(const char *s)
{
	return s[0] ? errdetail("%s", s) : 0;
}

static int
opt_hint(const char *s)
{
	return s[0] ? errhint("%s", s) : 0;
}

void
st_pg_raise(const StError *err)
{
	int			code;

	switch (err->code)
	{
		case ST_ERR_INVALID_TEXT:
			code = ERRCODE_INVALID_TEXT_REPRESENTATION;
			break;
		case ST_ERR_INVALID_BINARY:
			code = ERRCODE_INVALID_BINARY_REPRESENTATION;
			break;
		case ST_ERR_CORRUPT:
			code = ERRCODE_DATA_CORRUPTED;
			break;
		case ST_ERR_LIMIT:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case ST_ERR_OVERFLOW:
			code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
			break;
		case ST_ERR_ENCODING:
			code = ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
			break;
		case ST_ERR_MISMATCH:
			code = ERRCODE_DATATYPE_MISMATCH;
			break;
		case ST_ERR_ARGUMENT:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case ST_ERR_NOMEM:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		default:
			code = ERRCODE_INTERNAL_ERROR;
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("%s", err->msg[0] ? err->msg : "stacktree error"),
			 opt_detail(err->detail),
			 opt_hint(err->hint)));
	pg_unreachable();
}

StTree *
st_pg_datum_tree(Datum d)
{
	ExpandedStacktree *est = st_pg_expanded(d);
	struct varlena *v;
	StError		err;
	StTree	   *t;

	if (est != NULL)
		return est->tree;
	v = PG_DETOAST_DATUM(d);
	t = st_decode((const uint8_t *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &err);
	if (t == NULL)
		st_pg_raise(&err);
	return t;
}

struct varlena *
st_pg_tree_varlena(const StTree *t)
{
	StError		err;
	size_t		len;
	uint8_t    *bytes = st_encode(t, &len, &err);
	struct varlena *v;

	if (bytes == NULL)
		st_pg_raise(&err);
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stacktree of %zu bytes is too large", len)));
	v = (struct varlena *) palloc(VARHDRSZ + len);
	SET_VARSIZE(v, VARHDRSZ + len);
	memcpy(VARDATA(v), bytes, len);
	pfree(bytes);
	return v;
}

int
st_pg_column_arg(const StTree *t, FunctionCallInfo fcinfo, int argno)
{
	char	   *name;
	int			col;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return st_tree_effective_default(t);
	name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	col = st_tree_column_by_name(t, name);
	if (col < 0)
	{
		StringInfoData cols;

		initStringInfo(&cols);
		for (int i = 0; i < t->ncols; i++)
			appendStringInfo(&cols, "%s%s", i ? ", " : "", t->cols[i].type);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stacktree has no value column \"%s\"", name),
				 errdetail("Its columns are: %s.", cols.data)));
	}
	return col;
}
