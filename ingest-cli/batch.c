/*
 * batch.c
 *	  A batch of stackhouse.profiles rows in PostgreSQL's binary COPY
 *	  format, and sending it in one transaction: binary COPY by default, or
 *	  prepared INSERTs with the same binary values when row-level security
 *	  refuses COPY FROM (PostgreSQL does not support COPY FROM into a table
 *	  whose policies apply to the current role).  When the server refuses
 *	  the batch because of some rows (a constraint, a trigger, a row-level
 *	  security WITH CHECK), the batch is sent again in halves until the
 *	  inputs at fault are found; the others are loaded.
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
#define COPY_HEADER_LEN 19
/* longest server DETAIL quoted in a refusal (a failing row can be huge) */
#define DETAIL_MAX 240

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
	b->sent = 0;
	b->nrows = 0;
	b->header_done = false;
	b->copy_open = false;
	b->ninputs = 0;
}

void
batch_free(Batch *b)
{
	st_buf_free(&b->copy);
	free(b->inputs);
	memset(b, 0, sizeof(*b));
}

bool
batch_end_input(Batch *b, size_t tag, size_t nrows, uint64_t in_bytes)
{
	BatchInput *in;

	if (b->ninputs == b->cap_inputs)
	{
		size_t		cap = b->cap_inputs ? b->cap_inputs * 2 : 64;
		BatchInput *n;

		if (cap > SIZE_MAX / sizeof(BatchInput))
			return false;
		n = realloc(b->inputs, cap * sizeof(BatchInput));
		if (n == NULL)
			return false;
		b->inputs = n;
		b->cap_inputs = cap;
	}
	in = &b->inputs[b->ninputs++];
	in->end = b->copy.len;
	in->nrows = nrows;
	in->tag = tag;
	in->in_bytes = in_bytes;
	in->state = INPUT_PENDING;
	return true;
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

/* one line: control characters (a trigger's message may hold newlines) become spaces */
static void
one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void
set_err(char *errbuf, size_t errlen, const char *what, PGconn *conn, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	size_t		l;

	snprintf(errbuf, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
	l = strlen(errbuf);
	while (l > 0 && (errbuf[l - 1] == '\n' || errbuf[l - 1] == ' '))
		errbuf[--l] = '\0';
}

/*
 * The server's reason for refusing rows, on one line: "refused by the
 * server (SQLSTATE): message (detail)", the detail cut at DETAIL_MAX bytes
 * (a CHECK violation's detail is the whole failing row, tree included).
 */
static void
set_refused(char *errbuf, size_t errlen, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	char		d[DETAIL_MAX + 8];

	d[0] = '\0';
	if (detail && *detail)
	{
		size_t		l = strlen(detail);

		if (l > DETAIL_MAX)
		{
			l = DETAIL_MAX;
			while (l > 0 && ((unsigned char) detail[l] & 0xC0) == 0x80)
				l--;			/* not inside a UTF-8 sequence */
		}
		snprintf(d, sizeof(d), " (%.*s%s)", (int) l, detail,
				 l < strlen(detail) ? "..." : "");
	}
	snprintf(errbuf, errlen, "refused by the server (SQLSTATE %s): %s%s",
			 state ? state : "?", msg ? msg : "unknown error", d);
	one_line(errbuf);
}

/*
 * A statement sending rows failed: is the error about those rows (the
 * other inputs may still load), or about the connection, the server, the
 * table as a whole (stop)?  Data errors: classes 22 (data exception), 23
 * (integrity constraint: CHECK, NOT NULL, unique, no partition for the
 * row...), 44 (WITH CHECK OPTION), 54 (program limit: a value too large),
 * P0 (raised by a PL/pgSQL trigger) and 42501 insufficient_privilege when
 * it is a row-level security WITH CHECK violation.  A missing privilege on
 * the table (raised by the server's aclcheck_error, whatever the message
 * language) would refuse every row alike: that stops the run.
 */
static SendResult
refused_or_failed(PGconn *conn, const PGresult *res, const char *what,
				  char *errbuf, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	bool		data = false;

	if (PQstatus(conn) == CONNECTION_OK && state && strlen(state) == 5)
	{
		if (strcmp(state, "42501") == 0)
		{
			const char *fn = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);

			data = !(fn && strcmp(fn, "aclcheck_error") == 0);
		}
		else
			data = strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
				strncmp(state, "44", 2) == 0 || strncmp(state, "54", 2) == 0 ||
				strncmp(state, "P0", 2) == 0;
	}
	if (data)
	{
		set_refused(errbuf, errlen, res);
		return SEND_REFUSED;
	}
	set_err(errbuf, errlen, what, conn, res);
	return SEND_FAILED;
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

/*
 * The open COPY has been sent its rows (ok) or not: send the trailer, end
 * the COPY and classify its result.  (A server error during COPY IN is
 * only seen here: the server discards the data that follows it.)
 */
static SendResult
end_copy(PGconn *conn, bool ok, char *errbuf, size_t errlen)
{
	static const uint8_t trailer[2] = {0xff, 0xff};
	SendResult	r = SEND_OK;
	PGresult   *res;

	ok = ok && put_data(conn, trailer, 2, errbuf, errlen);
	if (!ok)
		r = SEND_FAILED;
	if (PQputCopyEnd(conn, ok ? NULL : "stackhouse-ingest: aborted") != 1)
	{
		if (ok)
			set_err(errbuf, errlen, "COPY end", conn, NULL);
		r = SEND_FAILED;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && r == SEND_OK)
			r = refused_or_failed(conn, res, "COPY", errbuf, errlen);
		PQclear(res);
	}
	return r;
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
	if (!put_data(conn, b->copy.data + b->sent, b->copy.len - b->sent, errbuf, errlen))
		return false;
	b->sent = b->copy.len;
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

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/*
 * Send the rows in copy.data[from, to) (whole rows, as batch_add wrote
 * them) as prepared INSERTs in one transaction.
 */
static SendResult
send_insert(PGconn *conn, Batch *b, size_t from, size_t to, char *errbuf, size_t errlen)
{
	static PGconn *prepared_on = NULL;
	const uint8_t *p = b->copy.data + from;
	const uint8_t *end = b->copy.data + to;
	const char *vals[NCOLS];
	int			lens[NCOLS];
	static const int formats[NCOLS] = {1, 1, 1, 1, 1, 1, 1};
	PGresult   *res;
	SendResult	r;

	if (prepared_on != conn)
	{
		res = PQprepare(conn, "stackhouse_insert", insert_sql, NCOLS, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			set_err(errbuf, errlen, "INSERT (prepare)", conn, res);
			PQclear(res);
			return SEND_FAILED;
		}
		PQclear(res);
		prepared_on = conn;
	}
	if (!exec_ok(conn, "BEGIN", errbuf, errlen))
		return SEND_FAILED;
	while (p < end)
	{
		p += 2;					/* field count */
		for (int f = 0; f < NCOLS; f++)
		{
			int32_t		l = (int32_t) get32(p);

			p += 4;
			vals[f] = (const char *) p;
			lens[f] = l;
			p += l;
		}
		res = PQexecPrepared(conn, "stackhouse_insert", NCOLS, vals, lens, formats, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			r = refused_or_failed(conn, res, "INSERT", errbuf, errlen);
			PQclear(res);
			res = PQexec(conn, "ROLLBACK");
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				r = SEND_FAILED;	/* the message of the INSERT stays */
			PQclear(res);
			return r;
		}
		PQclear(res);
	}
	res = PQexec(conn, "COMMIT");
	/* a deferred constraint fails here; the transaction is then over */
	r = PQresultStatus(res) == PGRES_COMMAND_OK ? SEND_OK :
		refused_or_failed(conn, res, "COMMIT", errbuf, errlen);
	PQclear(res);
	return r;
}

static void
mark(Batch *b, size_t lo, size_t hi, InputState state)
{
	for (size_t i = lo; i < hi; i++)
		b->inputs[i].state = state;
}

SendResult
batch_send(PGconn *conn, Batch *b, SendMethod *method, char *errbuf, size_t errlen)
{
	SendResult	r;

	if (b->nrows == 0 && !b->copy_open)
	{
		mark(b, 0, b->ninputs, INPUT_LOADED);
		return SEND_OK;
	}
	if (b->copy.oom)
	{
		snprintf(errbuf, errlen, "out of memory building the batch");
		if (b->copy_open)
		{
			PQputCopyEnd(conn, "stackhouse-ingest: out of memory");
			drain(conn);
			b->copy_open = false;
		}
		return SEND_FAILED;
	}
	if (*method != METHOD_INSERT && !b->copy_open &&
		!batch_stream(conn, b, method, errbuf, errlen))
		return SEND_FAILED;
	if (b->copy_open)
	{
		bool		ok = put_data(conn, b->copy.data + b->sent, b->copy.len - b->sent,
								  errbuf, errlen);

		b->sent = b->copy.len;
		b->copy_open = false;
		r = end_copy(conn, ok, errbuf, errlen);
	}
	else						/* INSERT (AUTO may have just switched) */
		r = send_insert(conn, b, COPY_HEADER_LEN, b->copy.len, errbuf, errlen);
	if (r == SEND_OK)
		mark(b, 0, b->ninputs, INPUT_LOADED);
	return r;
}

/* the rows of inputs [lo, hi) are copy.data[*from, *to) */
static void
input_range(const Batch *b, size_t lo, size_t hi, size_t *from, size_t *to)
{
	*from = lo == 0 ? COPY_HEADER_LEN : b->inputs[lo - 1].end;
	*to = b->inputs[hi - 1].end;
	if (*from < COPY_HEADER_LEN)
		*from = COPY_HEADER_LEN;
	if (*to < *from)
		*to = *from;			/* no rows (and maybe no header yet) */
}

/* send the rows of inputs [lo, hi) in one transaction */
static SendResult
send_inputs(PGconn *conn, Batch *b, SendMethod *method, size_t lo, size_t hi,
			char *errbuf, size_t errlen)
{
	size_t		from,
				to;
	bool		ok;

	input_range(b, lo, hi, &from, &to);
	if (from == to)
		return SEND_OK;
	if (*method != METHOD_INSERT)
	{
		int			rc = open_copy(conn, errbuf, errlen);

		if (rc == -1 && *method == METHOD_AUTO)
			*method = METHOD_INSERT;	/* row-level security */
		else if (rc != 1)
			return SEND_FAILED;
		else
		{
			ok = put_data(conn, b->copy.data, COPY_HEADER_LEN, errbuf, errlen) &&
				put_data(conn, b->copy.data + from, to - from, errbuf, errlen);
			return end_copy(conn, ok, errbuf, errlen);
		}
	}
	return send_insert(conn, b, from, to, errbuf, errlen);
}

SendResult
batch_send_parts(PGconn *conn, Batch *b, SendMethod *method,
				 RefusedFn refused, void *arg, char *errbuf, size_t errlen)
{
	/*
	 * Ranges of inputs still to send, the next on top.  A refused range of
	 * two or more is replaced by its halves, so the stack holds at most one
	 * pending half per level of halving (64 levels at most) plus two.
	 */
	size_t		lo_stack[2 * 64 + 4],
				hi_stack[2 * 64 + 4];
	int			top = 0;
	char		why[1024];

	if (b->ninputs == 0)
		return SEND_OK;
	if (b->ninputs == 1)
	{
		/* the batch was this input: errbuf holds the reason already */
		b->inputs[0].state = INPUT_REFUSED;
		refused(&b->inputs[0], errbuf, arg);
		return SEND_OK;
	}
	lo_stack[top] = b->ninputs / 2;
	hi_stack[top++] = b->ninputs;
	lo_stack[top] = 0;
	hi_stack[top++] = b->ninputs / 2;
	while (top > 0)
	{
		size_t		lo = lo_stack[--top],
					hi = hi_stack[top];
		SendResult	r = send_inputs(conn, b, method, lo, hi, why, sizeof(why));

		if (r == SEND_OK)
			mark(b, lo, hi, INPUT_LOADED);
		else if (r == SEND_FAILED)
		{
			snprintf(errbuf, errlen, "%s", why);
			return SEND_FAILED;
		}
		else if (hi - lo == 1)
		{
			b->inputs[lo].state = INPUT_REFUSED;
			refused(&b->inputs[lo], why, arg);
		}
		else if (top + 2 > (int) (sizeof(lo_stack) / sizeof(lo_stack[0])))
		{
			snprintf(errbuf, errlen, "internal error: too many batch parts");
			return SEND_FAILED;	/* cannot happen: see above */
		}
		else
		{
			size_t		mid = lo + (hi - lo) / 2;

			lo_stack[top] = mid;
			hi_stack[top++] = hi;
			lo_stack[top] = lo;
			hi_stack[top++] = mid;
		}
	}
	return SEND_OK;
}
