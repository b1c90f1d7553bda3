/*
 * st_core.h
 *	  Shared plumbing for the PostgreSQL-independent stackhouse code: memory
 *	  and interrupt hooks, the error record, varint helpers and hard limits.
 *
 * Nothing in this header (or in any st_*.c file) includes postgres.h: the
 * extension, the ingest CLI and the C unit tests all link the same code.
 * The extension points the hooks at palloc/CHECK_FOR_INTERRUPTS; the CLI
 * and the tests use the malloc defaults.
 */
#ifndef ST_CORE_H
#define ST_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- hard limits (every decoder enforces them) ---- */
#define ST_MAX_DEPTH		10000	/* frames in one stack */
#define ST_MAX_COLUMNS		64		/* value columns in one tree */
#define ST_MAX_NAME_LEN		(64 * 1024)	/* bytes in one frame name */
#define ST_MAX_STRINGS		(4 * 1024 * 1024)	/* distinct names in a tree */
#define ST_MAX_NODES		(32 * 1024 * 1024)	/* nodes in a tree */
#define ST_MAX_RAW_BYTES	((size_t) 512 * 1024 * 1024)	/* any decompressed
															 * input */

/* ---- error record ---- */
typedef enum StErrCode
{
	ST_OK = 0,
	ST_ERR_INVALID_TEXT,		/* malformed folded text */
	ST_ERR_INVALID_BINARY,		/* malformed binary or pprof input */
	ST_ERR_CORRUPT,				/* stored form fails validation */
	ST_ERR_LIMIT,				/* a hard limit above was exceeded */
	ST_ERR_OVERFLOW,			/* int64 value overflow, negative value */
	ST_ERR_ENCODING,			/* invalid UTF-8 or NUL in a name */
	ST_ERR_MISMATCH,			/* incompatible columns / period types */
	ST_ERR_ARGUMENT,			/* bad argument (unknown column...) */
	ST_ERR_NOMEM				/* allocation failed (CLI only) */
} StErrCode;

typedef struct StError
{
	StErrCode	code;
	char		msg[256];		/* what was wrong */
	char		detail[256];	/* where, or the offending value */
	char		hint[256];		/* what to do about it, may be empty */
} StError;

/* Fill *err; always returns false so callers can "return st_fail(...)". */
extern bool st_fail(StError *err, StErrCode code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void st_set_detail(StError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void st_set_hint(StError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* ---- hooks ---- */
typedef struct StHooks
{
	void	   *(*alloc) (size_t size); /* NULL only on failure (CLI) */
	void	   *(*realloc) (void *ptr, size_t size);
	void		(*free) (void *ptr);
	void		(*check_interrupts) (void);	/* may longjmp in the server */
} StHooks;

extern StHooks st_hooks;

static inline void *
st_alloc(size_t size)
{
	return st_hooks.alloc(size ? size : 1);
}

static inline void *
st_realloc(void *ptr, size_t size)
{
	return ptr ? st_hooks.realloc(ptr, size ? size : 1) : st_alloc(size);
}

static inline void
st_free(void *ptr)
{
	if (ptr)
		st_hooks.free(ptr);
}

static inline void
st_check_interrupts(void)
{
	if (st_hooks.check_interrupts)
		st_hooks.check_interrupts();
}

/* Grow an array so that it holds at least need elements; false on OOM. */
extern bool st_grow(void **arr, size_t *cap, size_t need, size_t elemsize,
					StError *err);

/* ---- byte buffers and varints ---- */
typedef struct StBuf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	bool		oom;
} StBuf;

extern void st_buf_init(StBuf *b, size_t initial);
extern void st_buf_reserve(StBuf *b, size_t extra);
extern void st_buf_put(StBuf *b, const void *p, size_t n);
extern void st_buf_putc(StBuf *b, uint8_t c);
extern void st_buf_varint(StBuf *b, uint64_t v);
extern void st_buf_printf(StBuf *b, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void st_buf_free(StBuf *b);

/* Bounded reader over untrusted bytes. */
typedef struct StReader
{
	const uint8_t *p;
	const uint8_t *end;
} StReader;

extern bool st_read_varint_slow(StReader *r, uint64_t *out);

/* Read one LEB128 varint; false when truncated or longer than 64 bits. */
static inline bool
st_read_varint(StReader *r, uint64_t *out)
{
	if (r->p < r->end && *r->p < 0x80)
	{
		*out = *r->p++;
		return true;
	}
	return st_read_varint_slow(r, out);
}
extern bool st_read_bytes(StReader *r, size_t n, const uint8_t **out);

static inline uint64_t
st_zigzag(int64_t v)
{
	return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static inline int64_t
st_unzigzag(uint64_t v)
{
	return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}

/* true when [s, s+len) is valid UTF-8 with no NUL byte */
extern bool st_valid_name(const char *s, size_t len);

/* 64-bit hash of bytes (FNV-1a variant mixed with a finalizer). */
extern uint64_t st_hash_bytes(const void *p, size_t len);

static inline uint64_t
st_hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

#endif							/* ST_CORE_H */
