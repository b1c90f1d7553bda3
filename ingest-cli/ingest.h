/*
 * ingest.h
 *	  Declarations shared by the stackhouse-ingest CLI's files: the input
 *	  list (inputs.c), the batch of rows and how it is sent to the server
 *	  (batch.c), connecting (connect.c), time parsing (timeparse.c) and the
 *	  driver (main.c).
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

/* ---- connect.c ---- */
typedef enum PasswordPrompt
{
	PROMPT_AUTO,				/* when the server asks and stdin is a tty */
	PROMPT_NEVER,				/* -w */
	PROMPT_ALWAYS				/* -W: before connecting */
} PasswordPrompt;

/*
 * Connect (dbname may be a connection string or URI; NULLs are left to
 * libpq's defaults), prompting for a password as mode says.  NULL after
 * printing why on stderr.
 */
extern PGconn *connect_db(const char *progname, const char *dbname,
						  const char *host, const char *port,
						  const char *user, PasswordPrompt mode);

/* prompt on /dev/tty, read a line with echo off; NULL + errbuf on failure */
extern char *prompt_password(const char *prompt, char *errbuf, size_t errlen);

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

/* what became of a batch, or of one part of it */
typedef enum SendResult
{
	SEND_OK,					/* committed */
	SEND_REFUSED,				/* rolled back: the server refused the data
								 * (constraint, trigger, row-level security
								 * WITH CHECK...); the connection is fine */
	SEND_FAILED					/* connection or server error: stop */
} SendResult;

typedef enum InputState
{
	INPUT_PENDING,				/* not committed (yet) */
	INPUT_LOADED,				/* committed */
	INPUT_REFUSED				/* its rows were refused by the server */
} InputState;

/* the rows one input added to a batch: copy.data[previous end, end) */
typedef struct BatchInput
{
	size_t		end;
	size_t		nrows;
	size_t		tag;			/* the caller's: index of the input */
	uint64_t	in_bytes;		/* the caller's: size of the input */
	InputState	state;
} BatchInput;

typedef struct Batch
{
	StBuf		copy;			/* binary COPY data of the whole batch, kept
								 * until it is committed (to resend parts) */
	size_t		sent;			/* bytes of copy already streamed */
	size_t		nrows;
	bool		header_done;	/* COPY header is in copy */
	bool		copy_open;		/* COPY ... FROM STDIN in progress */
	BatchInput *inputs;			/* one per input with rows in the batch */
	size_t		ninputs;
	size_t		cap_inputs;
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
 * Close the rows added since the previous call as one input's (tag and
 * in_bytes are the caller's).  False on out of memory.
 */
extern bool batch_end_input(Batch *b, size_t tag, size_t nrows, uint64_t in_bytes);

/*
 * Stream what the batch holds so far to the server (COPY methods only), so
 * that the server works while the next inputs are decoded.  Opens the COPY
 * on first use; with METHOD_AUTO a refusal because of row-level security
 * switches *method to METHOD_INSERT and keeps the rows buffered.  False
 * (SEND_FAILED) with the message in errbuf.
 */
extern bool batch_stream(PGconn *conn, Batch *b, SendMethod *method,
						 char *errbuf, size_t errlen);

/*
 * Finish the batch: one transaction (the COPY, or BEGIN/INSERTs/COMMIT).
 * *method may change from AUTO to INSERT (row-level security refuses COPY
 * FROM).  SEND_OK marks every input INPUT_LOADED.  Otherwise errbuf holds
 * the server's message: SEND_REFUSED when the error is about the data
 * (then batch_send_parts finds the inputs at fault), SEND_FAILED when not.
 */
extern SendResult batch_send(PGconn *conn, Batch *b, SendMethod *method,
							 char *errbuf, size_t errlen);

/* called for each input the server refuses, in input order */
typedef void (*RefusedFn) (const BatchInput *in, const char *why, void *arg);

/*
 * After batch_send returned SEND_REFUSED (errbuf still holding its
 * message): send the batch again in halves, each one transaction, halving
 * refused parts down to single inputs.  Every input ends INPUT_LOADED or
 * INPUT_REFUSED (reported through refused) and SEND_OK is returned, unless
 * the connection fails (SEND_FAILED, errbuf; the inputs still
 * INPUT_PENDING were not loaded).
 */
extern SendResult batch_send_parts(PGconn *conn, Batch *b, SendMethod *method,
								   RefusedFn refused, void *arg,
								   char *errbuf, size_t errlen);

#endif							/* INGEST_H */
