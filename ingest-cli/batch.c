/*
 * batch.c
 *	  A batch of stackhouse.profiles rows in PostgreSQL's binary COPY
 *	  format, and sending it in one transaction: binary COPY by default, or
 *	  prepared INSERTs with the same binary values when row-level security
 *	  refuses COPY FROM (PostgreSQL does not support COPY FROM into a table
 *	  whose policies apply to the current role).
 *
 * Binary encodings: timestamptz = int64 microseconds since 2000-01-01 UTC;
 * interval = int64 microseconds, int32 days, int32 months; jsonb = version
 * byte 1 + JSON text; stacktree = the st_encode bytes (what stacktree_recv
 * accepts); integers big-endian.
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS 7
#define UNIX_TO_PG_USECS INT64_C(946684800000000)

static const char copy_sql[] =
"COPY stackhouse.profiles (ts, duration, service, labels, profile_type, tree, source_count) "
"FROM STDIN (FORMAT binary)";
static const char insert_sql[] =
"INSERT INTO stackhouse.profiles (ts, duration, service, labels, profile_type, tree, source_count) "
"VALUES ($1, $2, $3, $4, $5, $6, $7)";

static void
put16(StBuf *b, int16_t v)
{
	uint8_t		x[2] = {(uint8_t) ((uint16_t) v >> 8), (uint8_t) v};

	st_buf_put(b, x, 2);
}

static void
put32(StBuf *b, int32_t v)
{
	uint32_t	u = (uint32_t) v;
	uint8_t		x[4] = {(uint8_t) (u >> 24), (uint8_t) (u >> 16), (uint8_t) (u >> 8), (uint8_t) u};

	st_buf_put(b, x, 4);
}

static void
put64(StBuf *b, int64_t v)
{
	put32(b, (int32_t) ((uint64_t) v >> 32));
	put32(b, (int32_t) (uint32_t) v);
}

void
batch_init(Batch *b)
{
	memset(b, 0, sizeof(*b));
	st_buf_init(&b->copy, 1 << 20);
}

void
batch_reset(Batch *b)
{
	b->copy.len = 0;
	b->nrows = 0;
	b->header_done = false;
	b->copy_open = false;
}

void
batch_free(Batch *b)
{
	st_buf_free(&b->copy);
	memset(b, 0, sizeof(*b));
}

static void
put_field(StBuf *b, const void *p, size_t n)
{
	put32(b, (int32_t) n);
	st_buf_put(b, p, n);
}

bool
batch_add(Batch *b, int64_t ts_nanos, int64_t duration_nanos,
		  const char *service, const char *labels_json,
		  const char *profile_type, const uint8_t *tree, size_t tree_len,
		  int32_t source_count)
{
	StBuf	   *c = &b->copy;
	size_t		ll = strlen(labels_json);

	if (tree_len > INT32_MAX - 16 || ll > INT32_MAX - 16)
		return false;
	if (!b->header_done)
	{
		static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

		st_buf_put(c, sig, sizeof(sig));
		put32(c, 0);			/* flags */
		put32(c, 0);			/* header extension length */
		b->header_done = true;
	}
	put16(c, NCOLS);
	put32(c, 8);
	put64(c, ts_nanos / 1000 - UNIX_TO_PG_USECS);
	put32(c, 16);
	put64(c, duration_nanos / 1000);
	put32(c, 0);				/* days */
	put32(c, 0);				/* months */
	put_field(c, service, strlen(service));
	put32(c, (int32_t) ll + 1);
	st_buf_putc(c, 1);			/* jsonb version */
	st_buf_put(c, labels_json, ll);
	put_field(c, profile_type, strlen(profile_type));
	put_field(c, tree, tree_len);
	put32(c, 4);
	put32(c, source_count);
	if (c->oom)
		return false;
	b->nrows++;
	return true;
}

static void
set_err(char *errbuf, size_t errlen, const char *what, PGconn *conn, PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	size_t		l;

	snprintf(errbuf, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
	l = strlen(errbuf);
	while (l > 0 && (errbuf[l - 1] == '\n' || errbuf[l - 1] == ' '))
		errbuf[--l] = '\0';
}

/* drain any remaining results (after COPY or an error) */
static void
drain(PGconn *conn)
{
	PGresult   *r;

	while ((r = PQgetResult(conn)) != NULL)
		PQclear(r);
}

/* COPY ... FROM STDIN: 1 open, 0 error, -1 refused because of row-level security */
static int
open_copy(PGconn *conn, char *errbuf, size_t errlen)
{
	PGresult   *res = PQexec(conn, copy_sql);
	int			rc;

	if (PQresultStatus(res) == PGRES_COPY_IN)
	{
		PQclear(res);
		return 1;
	}
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		rc = (state && strcmp(state, "0A000") == 0 &&
			  strstr(PQresultErrorMessage(res), "row-level security")) ? -1 : 0;
	}
	set_err(errbuf, errlen, "COPY", conn, res);
	PQclear(res);
	drain(conn);
	return rc;
}

static bool
put_data(PGconn *conn, const uint8_t *p, size_t len, char *errbuf, size_t errlen)
{
	for (size_t off = 0; off < len;)
	{
		size_t		n = len - off;

		if (n > (1 << 20))
			n = 1 << 20;
		if (PQputCopyData(conn, (const char *) p + off, (int) n) != 1)
		{
			set_err(errbuf, errlen, "COPY data", conn, NULL);
			return false;
		}
		off += n;
	}
	return true;
}

/* send the rest, the trailer, end the COPY and collect its result */
static bool
finish_copy(PGconn *conn, Batch *b, char *errbuf, size_t errlen)
{
	static const uint8_t trailer[2] = {0xff, 0xff};
	PGresult   *res;
	bool		ok = put_data(conn, b->copy.data, b->copy.len, errbuf, errlen) &&
		put_data(conn, trailer, 2, errbuf, errlen);

	b->copy.len = 0;
	if (PQputCopyEnd(conn, ok ? NULL : "stackhouse-ingest: aborted") != 1)
	{
		if (ok)
			set_err(errbuf, errlen, "COPY end", conn, NULL);
		ok = false;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && ok)
		{
			set_err(errbuf, errlen, "COPY", conn, res);
			ok = false;
		}
		PQclear(res);
	}
	b->copy_open = false;
	return ok;
}

bool
batch_stream(PGconn *conn, Batch *b, SendMethod *method, char *errbuf, size_t errlen)
{
	if (*method == METHOD_INSERT || b->nrows == 0)
		return true;
	if (b->copy.oom)
	{
		snprintf(errbuf, errlen, "out of memory building the batch");
		return false;
	}
	if (!b->copy_open)
	{
		int			rc = open_copy(conn, errbuf, errlen);

		if (rc == -1 && *method == METHOD_AUTO)
		{
			*method = METHOD_INSERT;	/* row-level security */
			return true;
		}
		if (rc != 1)
			return false;
		b->copy_open = true;
	}
	if (!put_data(conn, b->copy.data, b->copy.len, errbuf, errlen))
		return false;
	b->copy.len = 0;
	return true;
}

static bool
exec_ok(PGconn *conn, const char *sql, char *errbuf, size_t errlen)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		set_err(errbuf, errlen, sql, conn, res);
	PQclear(res);
	return ok;
}

/* walk the COPY buffer and send each row as a prepared INSERT */
static bool
send_insert(PGconn *conn, Batch *b, char *errbuf, size_t errlen)
{
	static PGconn *prepared_on = NULL;
	const uint8_t *p = b->copy.data + 19;	/* past the COPY header */
	const char *vals[NCOLS];
	int			lens[NCOLS];
	static const int formats[NCOLS] = {1, 1, 1, 1, 1, 1, 1};

	if (prepared_on != conn)
	{
		PGresult   *res = PQprepare(conn, "stackhouse_insert", insert_sql, NCOLS, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			set_err(errbuf, errlen, "INSERT (prepare)", conn, res);
			PQclear(res);
			return false;
		}
		PQclear(res);
		prepared_on = conn;
	}
	if (!exec_ok(conn, "BEGIN", errbuf, errlen))
		return false;
	for (size_t r = 0; r < b->nrows; r++)
	{
		PGresult   *res;

		p += 2;					/* field count */
		for (int f = 0; f < NCOLS; f++)
		{
			int32_t		l = (int32_t) (((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
									   ((uint32_t) p[2] << 8) | p[3]);

			p += 4;
			vals[f] = (const char *) p;
			lens[f] = l;
			p += l;
		}
		res = PQexecPrepared(conn, "stackhouse_insert", NCOLS, vals, lens, formats, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			set_err(errbuf, errlen, "INSERT", conn, res);
			PQclear(res);
			PQclear(PQexec(conn, "ROLLBACK"));
			return false;
		}
		PQclear(res);
	}
	return exec_ok(conn, "COMMIT", errbuf, errlen);
}

bool
batch_send(PGconn *conn, Batch *b, SendMethod *method, char *errbuf, size_t errlen)
{
	if (b->nrows == 0 && !b->copy_open)
		return true;
	if (b->copy.oom)
	{
		snprintf(errbuf, errlen, "out of memory building the batch");
		if (b->copy_open)
		{
			PQputCopyEnd(conn, "stackhouse-ingest: out of memory");
			drain(conn);
			b->copy_open = false;
		}
		return false;
	}
	if (*method != METHOD_INSERT)
	{
		if (!b->copy_open)
		{
			if (!batch_stream(conn, b, method, errbuf, errlen))
				return false;
		}
		if (b->copy_open)
			return finish_copy(conn, b, errbuf, errlen);
		/* AUTO switched to INSERT: the rows are still all in the buffer */
	}
	return send_insert(conn, b, errbuf, errlen);
}
