/*
 * ingest.h
 *	  Declarations shared by the stackhouse-ingest CLI's files: the input
 *	  list (inputs.c), the batch of rows and how it is sent to the server
 *	  (batch.c), time parsing (timeparse.c) and the driver (main.c).
 */
#ifndef INGEST_H
#define INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "st_core.h"

#define INGEST_VERSION "0.1"

/* exit codes (docs/cli.md) */
#define EXIT_ALL_LOADED		0
#define EXIT_SOME_BAD		1
#define EXIT_USAGE			2
#define EXIT_SERVER			3

/* ---- inputs.c ---- */
typedef struct InputList
{
	char	  **paths;			/* "-" = standard input */
	size_t		n;
	size_t		cap;
} InputList;

/*
 * Add an argument: "-", a file, or a directory (all regular files below
 * it, recursively, in name order).  Returns false with a message in
 * errbuf when the argument cannot be read at all.
 */
extern bool inputs_add(InputList *l, const char *arg, char *errbuf, size_t errlen);
extern void inputs_free(InputList *l);

/* Read a whole file ("-" = stdin) into *data (malloc'd). */
extern bool read_input(const char *path, uint8_t **data, size_t *len,
					   char *errbuf, size_t errlen);

/* ---- timeparse.c ---- */

/*
 * Parse a time: Unix seconds ("1700000000", "1700000000.25") or ISO 8601
 * "YYYY-MM-DD[THH:MM[:SS[.frac]]][Z|+HH:MM|-HH:MM]" (no zone = UTC).
 * Result in nanoseconds since the Unix epoch.
 */
extern bool parse_time(const char *s, int64_t *nanos);

/* Parse a duration: seconds ("30", "2.5") or with a unit suffix ms/s/m/h. */
extern bool parse_duration(const char *s, int64_t *nanos);

/* ---- batch.c ---- */
typedef enum SendMethod
{
	METHOD_AUTO,				/* COPY, INSERT when RLS refuses COPY */
	METHOD_COPY,
	METHOD_INSERT
} SendMethod;

typedef struct Batch
{
	StBuf		copy;			/* binary COPY data not yet sent */
	size_t		nrows;
	bool		header_done;	/* COPY header is in copy or sent */
	bool		copy_open;		/* COPY ... FROM STDIN in progress */
} Batch;

extern void batch_init(Batch *b);
extern void batch_reset(Batch *b);
extern void batch_free(Batch *b);

/*
 * Append one row; labels_json is a JSON object text, tree the st_encode
 * bytes.  False on out of memory.
 */
extern bool batch_add(Batch *b, int64_t ts_nanos, int64_t duration_nanos,
					  const char *service, const char *labels_json,
					  const char *profile_type, const uint8_t *tree,
					  size_t tree_len, int32_t source_count);

/*
 * Stream what the batch holds so far to the server (COPY methods only), so
 * that the server works while the next inputs are decoded.  Opens the COPY
 * on first use; with METHOD_AUTO a refusal because of row-level security
 * switches *method to METHOD_INSERT and keeps the rows buffered.
 */
extern bool batch_stream(PGconn *conn, Batch *b, SendMethod *method,
						 char *errbuf, size_t errlen);

/*
 * Finish the batch: one transaction (the COPY, or BEGIN/INSERTs/COMMIT).  *method may change from AUTO to
 * INSERT (row-level security refuses COPY FROM).  On failure returns false
 * and puts the server's message in errbuf.
 */
extern bool batch_send(PGconn *conn, Batch *b, SendMethod *method,
					   char *errbuf, size_t errlen);

#endif							/* INGEST_H */
