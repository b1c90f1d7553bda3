/*
 * fuzz_common.h
 *	  Shared code of the libFuzzer targets (fuzz/fuzz_*.c).
 *
 * fuzz_exercise(t) takes a tree that a decoder accepted and runs everything
 * else the extension does with a tree, checking invariants that must hold
 * for every valid tree; a broken invariant is an abort(), which libFuzzer
 * reports as a crash and saves the input:
 *   - encode -> decode -> encode gives the same bytes, and decoding with
 *     st_decode_merge into an empty tree gives them too;
 *   - to_folded -> from_folded gives the same encoding, and to_folded of
 *     that gives the same text (text is canonical);
 *   - st_tree_copy gives the same encoding; merging a tree with a copy of
 *     itself doubles every total and agrees with st_decode_merge;
 *   - st_top_functions: self <= total <= column total, the selfs add up to
 *     the column total minus the root's self, sorted as documented.
 *
 * The allocation hooks count allocations, and can fail the Nth one: each
 * target runs its decoder once more with one allocation failing (chosen
 * from the input), so the out-of-memory paths are fuzzed too.  Everything
 * must be freed on every path: LeakSanitizer (on by default in libFuzzer
 * with AddressSanitizer) reports a leak as a crash.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_analysis.h"
#include "st_codec.h"
#include "st_folded.h"
#include "st_tree.h"

/* ---- failing an invariant ---- */

static void
fuzz_die(const char *file, int line, const char *cond, const char *fmt,...)
	__attribute__((format(printf, 4, 5), noreturn));

static void
fuzz_die(const char *file, int line, const char *cond, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "\n%s:%d: invariant failed: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FUZZ_ASSERT(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_die(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

/* Failures a valid tree may still meet: resources and int64 overflow. */
static inline bool
fuzz_resource_error(const StError *err)
{
	return err->code == ST_ERR_NOMEM || err->code == ST_ERR_LIMIT ||
		err->code == ST_ERR_OVERFLOW;
}

/* A failing decoder must say what went wrong. */
#define FUZZ_ASSERT_ERROR(err) \
	FUZZ_ASSERT((err)->code != ST_OK && (err)->msg[0] != '\0', \
				"a decoder failed without an error code/message (code %d)", \
				(int) (err)->code)

/* ---- allocation hooks: counting, and failing one allocation ---- */

static long fuzz_alloc_calls = 0;
static long fuzz_fail_at = -1;	/* fail the call with this number */

static void *
fuzz_alloc(size_t n)
{
	if (fuzz_alloc_calls++ == fuzz_fail_at)
		return NULL;
	return malloc(n);
}

static void *
fuzz_realloc(void *p, size_t n)
{
	if (fuzz_alloc_calls++ == fuzz_fail_at)
		return NULL;
	return realloc(p, n);
}

static void
fuzz_free(void *p)
{
	free(p);
}

/* Install the hooks and start counting (no failure). */
static inline void
fuzz_hooks_count(void)
{
	st_hooks.alloc = fuzz_alloc;
	st_hooks.realloc = fuzz_realloc;
	st_hooks.free = fuzz_free;
	st_hooks.check_interrupts = NULL;
	fuzz_alloc_calls = 0;
	fuzz_fail_at = -1;
}

/* Fail allocation number n from now on (counted from 0). */
static inline void
fuzz_hooks_fail_at(long n)
{
	fuzz_hooks_count();
	fuzz_fail_at = n;
}

/* Back to plain counting (no failure). */
static inline void
fuzz_hooks_reset(void)
{
	fuzz_hooks_count();
}

/* A number derived from the input, to pick the allocation to fail. */
static inline uint64_t
fuzz_input_hash(const uint8_t *data, size_t size)
{
	return st_hash_bytes(data, size);
}

static inline bool
fuzz_same_bytes(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	return la == lb && (la == 0 || memcmp(a, b, la) == 0);
}

/*
 * What a decode pipeline produced: the encoding of its result, or its error.
 * Under an injected allocation failure a pipeline must either report
 * ST_ERR_NOMEM or produce exactly what it produces without the failure
 * (some allocations are allowed to fail silently and report later, e.g. a
 * StBuf's oom flag, and then the input's own error may come first).
 */
typedef struct FuzzOutcome
{
	bool		ok;
	uint8_t    *enc;			/* malloc'd (not st_alloc'd) */
	size_t		len;
	StError		err;
} FuzzOutcome;

/* Record success with a copy of enc (st_free'd here), or failure. */
static inline void
fuzz_outcome_set(FuzzOutcome *o, uint8_t *enc, size_t len, const StError *err)
{
	memset(o, 0, sizeof(*o));
	if (enc != NULL)
	{
		o->ok = true;
		o->enc = malloc(len ? len : 1);
		memcpy(o->enc, enc, len);
		o->len = len;
		st_free(enc);
	}
	else
		o->err = *err;
}

static inline void
fuzz_outcome_free(FuzzOutcome *o)
{
	free(o->enc);
	o->enc = NULL;
}

/*
 * Compare the outcome under an injected allocation failure with the normal
 * one.  also_ok lets a target accept another error for a failed allocation
 * (protobuf-c reports one as a malformed message).
 */
static inline void
fuzz_check_injected(const FuzzOutcome *normal, const FuzzOutcome *inj,
					bool (*also_ok) (const StError *))
{
	if (inj->ok)
	{
		FUZZ_ASSERT(normal->ok, "succeeds with an allocation failing, fails without (%s)",
					normal->err.msg);
		FUZZ_ASSERT(fuzz_same_bytes(normal->enc, normal->len, inj->enc, inj->len),
					"an allocation failed and the result changed");
		return;
	}
	FUZZ_ASSERT_ERROR(&inj->err);
	if (inj->err.code == ST_ERR_NOMEM || (also_ok && also_ok(&inj->err)))
		return;
	FUZZ_ASSERT(!normal->ok && normal->err.code == inj->err.code &&
				strcmp(normal->err.msg, inj->err.msg) == 0,
				"with an allocation failing the error is \"%s\" (code %d), "
				"without it %s \"%s\"", inj->err.msg, (int) inj->err.code,
				normal->ok ? "success" : "the error", normal->ok ? "" : normal->err.msg);
}

/* ---- encodings ---- */

/* st_encode that must succeed on a valid tree (a resource limit aside). */
static inline uint8_t *
fuzz_encode(const StTree *t, size_t *len)
{
	StError		err;
	uint8_t    *e = st_encode(t, len, &err);

	if (e == NULL)
		FUZZ_ASSERT(err.code == ST_ERR_LIMIT || err.code == ST_ERR_NOMEM,
					"st_encode failed on a valid tree: %s", err.msg);
	return e;
}

/* Die unless t encodes to exactly e[0..elen). */
static inline void
fuzz_assert_encodes_to(const StTree *t, const uint8_t *e, size_t elen,
					   const char *what)
{
	size_t		len;
	uint8_t    *e2 = fuzz_encode(t, &len);

	if (e2 == NULL)
		return;
	FUZZ_ASSERT(fuzz_same_bytes(e, elen, e2, len),
				"%s: encodings differ (%zu vs %zu bytes)", what, elen, len);
	st_free(e2);
}

/* ---- the checks ---- */

static void
fuzz_check_top_functions(const StTree *t, int col)
{
	StError		err;
	uint32_t	n = 0;
	StFuncStat *fs = st_top_functions(t, col, &n, &err);
	int64_t		total;
	int64_t		root = t->values[col];
	__int128	sum = 0;

	if (fs == NULL)
	{
		FUZZ_ASSERT(err.code == ST_OK || fuzz_resource_error(&err),
					"st_top_functions failed: %s", err.msg);
		if (err.code != ST_OK)
			return;
	}
	if (!st_tree_total(t, col, &total, &err))
	{
		FUZZ_ASSERT(err.code == ST_ERR_OVERFLOW, "st_tree_total failed: %s", err.msg);
		st_free(fs);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
	{
		FUZZ_ASSERT(fs[i].name < t->nstrings, "top_functions: name id %u out of range",
					fs[i].name);
		FUZZ_ASSERT(fs[i].self >= 0 && fs[i].self <= fs[i].total &&
					fs[i].total > 0 && fs[i].total <= total - root,
					"top_functions: function %u has self %lld, total %lld (column total %lld, root %lld)",
					i, (long long) fs[i].self, (long long) fs[i].total,
					(long long) total, (long long) root);
		sum += fs[i].self;
		if (i > 0)
		{
			const StFuncStat *a = &fs[i - 1];
			const StFuncStat *b = &fs[i];
			bool		ordered = a->self > b->self ||
				(a->self == b->self && (a->total > b->total ||
										(a->total == b->total &&
										 strcmp(st_tree_string(t, a->name),
												st_tree_string(t, b->name)) < 0)));

			FUZZ_ASSERT(ordered, "top_functions: rows %u and %u are out of order", i - 1, i);
		}
	}
	FUZZ_ASSERT(sum == (__int128) total - root,
				"top_functions: the selfs add up to %lld, expected %lld",
				(long long) sum, (long long) (total - root));
	st_free(fs);
}

/* to_folded -> from_folded -> same encoding; text is canonical. */
static void
fuzz_check_folded(const StTree *t, const uint8_t *enc, size_t enclen)
{
	StError		err;
	size_t		len,
				len2;
	char	   *text = st_tree_to_folded(t, &len, &err);
	char	   *text2;
	StTree	   *t2;

	if (text == NULL)
	{
		FUZZ_ASSERT(fuzz_resource_error(&err), "st_tree_to_folded failed: %s", err.msg);
		return;
	}
	FUZZ_ASSERT(strlen(text) == len, "st_tree_to_folded: length %zu but a NUL at %zu",
				len, strlen(text));
	t2 = st_tree_from_folded(text, len, &err);
	FUZZ_ASSERT(t2 != NULL, "the text form of a valid tree does not parse back: %s (%s)",
				err.msg, err.detail);
	fuzz_assert_encodes_to(t2, enc, enclen, "to_folded -> from_folded");
	text2 = st_tree_to_folded(t2, &len2, &err);
	FUZZ_ASSERT(text2 != NULL, "st_tree_to_folded failed the second time: %s", err.msg);
	FUZZ_ASSERT(len == len2 && memcmp(text, text2, len) == 0,
				"text -> tree -> text is not the identity on canonical text");
	st_free(text);
	st_free(text2);
	st_tree_free(t2);
}

/* copy; merge with itself (in memory and from the encoding). */
/*
 * Merge t into a (in memory) and its encoding enc into b (decoding straight
 * into the tree); a and b start out equal.  Both paths must agree: both
 * fail the same way (only an overflow is acceptable) or give the same
 * tree.  Returns whether the merges succeeded.
 */
static bool
fuzz_compare_merges(StTree *a, StTree *b, const StTree *t,
					const uint8_t *enc, size_t enclen, const char *what)
{
	StError		err,
				err2;
	bool		ok_a = st_tree_merge(a, t, &err);
	bool		ok_b = st_decode_merge(b, enc, enclen, &err2);

	FUZZ_ASSERT(ok_a || err.code == ST_ERR_OVERFLOW, "st_tree_merge failed: %s", err.msg);
	FUZZ_ASSERT(ok_a == ok_b, "st_tree_merge %s but st_decode_merge %s (%s)",
				ok_a ? "succeeded" : "failed", ok_b ? "succeeded" : "failed",
				ok_a ? err2.msg : err.msg);
	if (ok_a)
	{
		size_t		la;
		uint8_t    *ea = fuzz_encode(a, &la);

		if (ea)
		{
			fuzz_assert_encodes_to(b, ea, la, what);
			st_free(ea);
		}
	}
	return ok_a;
}

static void
fuzz_check_merge(const StTree *t, const uint8_t *enc, size_t enclen)
{
	StError		err;
	StTree	   *a = st_tree_copy(t, &err);
	StTree	   *b;

	if (a == NULL)
	{
		FUZZ_ASSERT(fuzz_resource_error(&err), "st_tree_copy failed: %s", err.msg);
		return;
	}
	fuzz_assert_encodes_to(a, enc, enclen, "st_tree_copy");
	b = st_tree_copy(t, &err);
	FUZZ_ASSERT(b != NULL, "the second st_tree_copy failed: %s", err.msg);

	if (fuzz_compare_merges(a, b, t, enc, enclen, "st_tree_merge vs st_decode_merge"))
	{
		FUZZ_ASSERT(a->duration_nanos / 2 == t->duration_nanos,
					"merged duration %lld is not twice %lld",
					(long long) a->duration_nanos, (long long) t->duration_nanos);
		for (int c = 0; c < t->ncols; c++)
		{
			int64_t		tot,
						tot2;

			if (st_tree_total(t, c, &tot, &err) && st_tree_total(a, c, &tot2, &err))
				FUZZ_ASSERT((__int128) tot2 == (__int128) tot * 2,
							"column %d: merged total %lld is not twice %lld",
							c, (long long) tot2, (long long) tot);
		}
	}
	st_tree_free(a);
	st_tree_free(b);
}

/* decode_merge of t's encoding into an empty tree with t's columns */
static void
fuzz_check_merge_into_empty(const StTree *t, const uint8_t *enc, size_t enclen)
{
	const char *types[ST_MAX_COLUMNS];
	const char *units[ST_MAX_COLUMNS];
	StError		err;
	StTree	   *e;

	for (int c = 0; c < t->ncols; c++)
	{
		types[c] = t->cols[c].type;
		units[c] = t->cols[c].unit;
	}
	e = st_tree_new(t->ncols, types, units, &err);
	FUZZ_ASSERT(e != NULL, "st_tree_new with the columns of a valid tree failed: %s", err.msg);
	FUZZ_ASSERT(st_decode_merge(e, enc, enclen, &err),
				"st_decode_merge into an empty tree failed: %s", err.msg);
	fuzz_assert_encodes_to(e, enc, enclen, "st_decode_merge into an empty tree");
	st_tree_free(e);
}

/* Everything above, on a tree some decoder accepted. */
static void
fuzz_exercise(const StTree *t)
{
	StError		err;
	size_t		len,
				len2;
	uint8_t    *enc;
	uint8_t    *enc2;
	StTree	   *t2;
	int64_t    *cum;

	FUZZ_ASSERT(t->ncols >= 1 && t->ncols <= ST_MAX_COLUMNS, "bad ncols %d", t->ncols);
	FUZZ_ASSERT(t->default_col >= -1 && t->default_col < t->ncols, "bad default column %d",
				t->default_col);
	FUZZ_ASSERT(t->period >= 0 && t->duration_nanos >= 0,
				"negative period %lld or duration %lld",
				(long long) t->period, (long long) t->duration_nanos);
	for (uint32_t n = 0; n < t->nnodes; n++)
	{
		FUZZ_ASSERT(n == 0 || (t->parent[n] < n && t->frame[n] < t->nstrings),
					"node %u: parent %u, frame %u", n, t->parent[n], t->frame[n]);
		for (int c = 0; c < t->ncols; c++)
			FUZZ_ASSERT(t->values[(size_t) n * t->ncols + c] >= 0,
						"node %u column %d is negative", n, c);
	}

	enc = fuzz_encode(t, &len);
	if (enc == NULL)
		return;
	t2 = st_decode(enc, len, &err);
	FUZZ_ASSERT(t2 != NULL, "the encoding of a valid tree does not decode: %s (%s)",
				err.msg, err.detail);
	enc2 = fuzz_encode(t2, &len2);
	FUZZ_ASSERT(enc2 != NULL, "re-encoding failed");
	FUZZ_ASSERT(fuzz_same_bytes(enc, len, enc2, len2),
				"encode -> decode -> encode is not stable (%zu vs %zu bytes)", len, len2);
	st_free(enc2);
	st_tree_free(t2);

	fuzz_check_merge_into_empty(t, enc, len);
	fuzz_check_folded(t, enc, len);
	fuzz_check_merge(t, enc, len);
	for (int c = 0; c < t->ncols && c < 4; c++)
		fuzz_check_top_functions(t, c);
	cum = st_tree_cumulative(t, &err);
	if (cum == NULL)
		FUZZ_ASSERT(err.code == ST_ERR_OVERFLOW, "st_tree_cumulative failed: %s", err.msg);
	else
	{
		for (int c = 0; c < t->ncols; c++)
		{
			int64_t		tot;

			if (st_tree_total(t, c, &tot, &err))
				FUZZ_ASSERT(cum[c] == tot, "column %d: root cumulative %lld, total %lld",
							c, (long long) cum[c], (long long) tot);
		}
		st_free(cum);
	}
	st_free(enc);
}


/*
 * Run a target's pipeline normally, then again with one allocation (chosen
 * from the input) failing, and check that the second run either reports
 * out-of-memory or gives exactly the first run's result, without leaks.
 */
static void
fuzz_run_with_injection(const uint8_t *data, size_t size,
						void (*pipeline) (const uint8_t *, size_t, FuzzOutcome *),
						bool (*also_ok) (const StError *))
{
	FuzzOutcome normal;
	FuzzOutcome inj;
	long		ncalls;

	memset(&normal, 0, sizeof(normal));
	memset(&inj, 0, sizeof(inj));
	fuzz_hooks_count();
	pipeline(data, size, &normal);
	ncalls = fuzz_alloc_calls;
	if (ncalls > 0)
	{
		fuzz_hooks_fail_at((long) (fuzz_input_hash(data, size) % (uint64_t) ncalls));
		pipeline(data, size, &inj);
		fuzz_hooks_reset();
		fuzz_check_injected(&normal, &inj, also_ok);
		fuzz_outcome_free(&inj);
	}
	fuzz_outcome_free(&normal);
}

#endif							/* FUZZ_COMMON_H */
