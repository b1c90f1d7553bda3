/*
 * pg_stacktree_io.c
 *	  Type I/O for stacktree: text (folded stacks), binary send/recv (the
 *	  stored form, validated and re-encoded canonically on receive), and
 *	  equality (same tree).
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pg_stacktree.h"
#include "st_codec.h"
#include "st_folded.h"

PG_FUNCTION_INFO_V1(stacktree_in);
PG_FUNCTION_INFO_V1(stacktree_out);
PG_FUNCTION_INFO_V1(stacktree_recv);
PG_FUNCTION_INFO_V1(stacktree_send);
PG_FUNCTION_INFO_V1(stacktree_eq);
PG_FUNCTION_INFO_V1(stacktree_ne);

Datum
stacktree_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	StError		err;
	StTree	   *t = st_tree_from_folded(str, strlen(str), &err);

	if (t == NULL)
		st_pg_raise(&err);
	PG_RETURN_STTREE(t);
}

Datum
stacktree_out(PG_FUNCTION_ARGS)
{
	StTree	   *t = PG_GETARG_STTREE(0);
	StError		err;
	size_t		len;
	char	   *s = st_tree_to_folded(t, &len, &err);

	if (s == NULL)
		st_pg_raise(&err);
	if (len >= MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stacktree text form of %zu bytes is too large", len)));
	PG_RETURN_CSTRING(s);
}

Datum
stacktree_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *bytes = pq_getmsgbytes(buf, len);
	StError		err;
	StTree	   *t = st_decode((const uint8_t *) bytes, (size_t) len, &err);

	if (t == NULL)
	{
		/* corrupt input from a client is a representation error */
		if (err.code == ST_ERR_CORRUPT)
			err.code = ST_ERR_INVALID_BINARY;
		st_pg_raise(&err);
	}
	PG_RETURN_STTREE(t);
}

Datum
stacktree_send(PG_FUNCTION_ARGS)
{
	ExpandedStacktree *est = st_pg_expanded(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	if (est != NULL)
	{
		(void) EOH_get_flat_size(&est->hdr);
		pq_sendbytes(&buf, (char *) est->flat, est->flat_len);
	}
	else
	{
		struct varlena *v = PG_DETOAST_DATUM(PG_GETARG_DATUM(0));

		pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Equal trees have equal canonical encodings: compare those. */
static bool
trees_equal(Datum a, Datum b)
{
	StError		err;
	size_t		la,
				lb;
	StTree	   *ta = st_pg_datum_tree(a);
	StTree	   *tb = st_pg_datum_tree(b);
	uint8_t    *ea = st_encode(ta, &la, &err);
	uint8_t    *eb;

	if (ea == NULL)
		st_pg_raise(&err);
	eb = st_encode(tb, &lb, &err);
	if (eb == NULL)
		st_pg_raise(&err);
	return la == lb && memcmp(ea, eb, la) == 0;
}

Datum
stacktree_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(trees_equal(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}

Datum
stacktree_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!trees_equal(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}
