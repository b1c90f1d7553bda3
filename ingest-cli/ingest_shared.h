/*
 * ingest_shared.h
 *	  Ingest rules shared by the stackhouse-ingest CLI and the server-side
 *	  ingest functions (extension/pg_ingest.c), so that both paths give the
 *	  same rows for the same input:
 *
 *	  - sh_decode(): content detection (pprof gzipped or raw, folded stacks
 *		plain or gzipped) and decoding into one or more parts (label split);
 *	  - sh_pprof_label_keys(): the string label keys used by a profile's
 *		samples (the default split keys), found by a bounded wire-level scan
 *		of the protobuf, much cheaper than unpacking it;
 *	  - sh_profile_type(): the profile_type name derived from sample types.
 *
 * Header-only (static functions) and PostgreSQL-independent: memory comes
 * from st_alloc/st_free, errors are StError, so the same text compiles into
 * the CLI (malloc) and the server (palloc).
 */
#ifndef INGEST_SHARED_H
#define INGEST_SHARED_H

#include <stdlib.h>
#include <string.h>

#include "st_core.h"
#include "st_folded.h"
#include "st_pprof.h"
#include "st_tree.h"

#define SH_MAX_SPLIT_KEYS	64	/* st_pprof's limit */

/* ---- wire-level scan of a raw (not gzipped) profile.proto ---- */

/* Skip one field value of wire type wt; false when malformed. */
static inline bool
sh_skip_field(StReader *r, int wt, const uint8_t **lenval, uint64_t *lenout)
{
	uint64_t	v;
	const uint8_t *p;

	switch (wt)
	{
		case 0:
			return st_read_varint(r, &v);
		case 1:
			return st_read_bytes(r, 8, &p);
		case 2:
			if (!st_read_varint(r, &v) || v > (uint64_t) (r->end - r->p))
				return false;
			if (!st_read_bytes(r, (size_t) v, &p))
				return false;
			if (lenval)
				*lenval = p;
			if (lenout)
				*lenout = v;
			return true;
		case 5:
			return st_read_bytes(r, 4, &p);
		default:
			return false;
	}
}

static inline int
sh_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The distinct keys of string-valued sample labels in a raw profile.proto,
 * sorted by name, as st_alloc'd strings in *keys_out (*nkeys_out of them).
 * Keys that are not valid UTF-8 are skipped (the decoder reports them if
 * they are used).  When there are more than SH_MAX_SPLIT_KEYS distinct keys
 * the first SH_MAX_SPLIT_KEYS by name are kept.  Returns false only on
 * malformed input or out of memory.
 */
static inline bool
sh_pprof_label_keys(const uint8_t *raw, size_t len, char ***keys_out,
					int *nkeys_out, StError *err)
{
	StReader	r = {raw, raw + len};
	const uint8_t **sptr = NULL;
	uint32_t   *slen = NULL;
	size_t		nstr = 0,
				strcap = 0,
				strcap2 = 0;
	int64_t    *kidx = NULL;
	size_t		nk = 0,
				kcap = 0;
	char	  **keys = NULL;
	int			nkeys = 0;
	bool		ok = false;
	size_t		nfields = 0;

	*keys_out = NULL;
	*nkeys_out = 0;
	while (r.p < r.end)
	{
		uint64_t	tag,
					vlen = 0;
		const uint8_t *val = NULL;
		int			wt;

		if ((++nfields & 4095) == 0)
			st_check_interrupts();
		if (!st_read_varint(&r, &tag))
			goto bad;
		wt = (int) (tag & 7);
		if (!sh_skip_field(&r, wt, &val, &vlen))
			goto bad;
		if (wt != 2)
			continue;
		if ((tag >> 3) == 6)
		{
			/* string_table entry */
			if (vlen > UINT32_MAX)
				goto bad;
			if (!st_grow((void **) &sptr, &strcap, nstr + 1,
						 sizeof(*sptr), err) ||
				!st_grow((void **) &slen, &strcap2, nstr + 1,
						 sizeof(*slen), err))
				goto done;
			sptr[nstr] = val;
			slen[nstr] = (uint32_t) vlen;
			nstr++;
		}
		else if ((tag >> 3) == 2)
		{
			/* Sample: find field 3 (Label) */
			StReader	s = {val, val + vlen};

			while (s.p < s.end)
			{
				uint64_t	stag,
							llen = 0;
				const uint8_t *lval = NULL;
				int			swt;

				if (!st_read_varint(&s, &stag))
					goto bad;
				swt = (int) (stag & 7);
				if (!sh_skip_field(&s, swt, &lval, &llen))
					goto bad;
				if ((stag >> 3) == 3 && swt == 2)
				{
					StReader	l = {lval, lval + llen};
					int64_t		key = 0,
								str = 0;

					while (l.p < l.end)
					{
						uint64_t	ltag,
									v;

						if (!st_read_varint(&l, &ltag))
							goto bad;
						if ((ltag & 7) == 0)
						{
							if (!st_read_varint(&l, &v))
								goto bad;
							if ((ltag >> 3) == 1)
								key = (int64_t) v;
							else if ((ltag >> 3) == 2)
								str = (int64_t) v;
						}
						else if (!sh_skip_field(&l, (int) (ltag & 7), NULL, NULL))
							goto bad;
					}
					if (str != 0 && key > 0)
					{
						bool		seen = false;

						for (size_t i = 0; i < nk && !seen; i++)
							seen = kidx[i] == key;
						if (!seen && nk < 4096)
						{
							if (!st_grow((void **) &kidx, &kcap, nk + 1,
										 sizeof(*kidx), err))
								goto done;
							kidx[nk++] = key;
						}
					}
				}
			}
		}
	}

	/* resolve key indexes to names, dedupe by name, sort */
	if (nk > 0)
	{
		keys = st_alloc(sizeof(char *) * nk);
		if (keys == NULL)
		{
			st_fail(err, ST_ERR_NOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < nk; i++)
		{
			char	   *k;
			bool		dup = false;

			if (kidx[i] < 0 || (uint64_t) kidx[i] >= nstr)
				continue;		/* the decoder reports the bad index */
			if (slen[kidx[i]] == 0 ||
				!st_valid_name((const char *) sptr[kidx[i]], slen[kidx[i]]))
				continue;
			for (int j = 0; j < nkeys && !dup; j++)
				dup = strlen(keys[j]) == slen[kidx[i]] &&
					memcmp(keys[j], sptr[kidx[i]], slen[kidx[i]]) == 0;
			if (dup)
				continue;
			k = st_alloc((size_t) slen[kidx[i]] + 1);
			if (k == NULL)
			{
				st_fail(err, ST_ERR_NOMEM, "out of memory");
				goto done;
			}
			memcpy(k, sptr[kidx[i]], slen[kidx[i]]);
			k[slen[kidx[i]]] = '\0';
			keys[nkeys++] = k;
		}
		qsort(keys, (size_t) nkeys, sizeof(char *), sh_cmp_str);
		while (nkeys > SH_MAX_SPLIT_KEYS)
			st_free(keys[--nkeys]);
	}
	*keys_out = keys;
	*nkeys_out = nkeys;
	keys = NULL;
	ok = true;
	goto done;

bad:
	st_fail(err, ST_ERR_INVALID_BINARY, "invalid pprof protobuf");
	st_set_detail(err, "malformed field while scanning sample labels");
done:
	if (keys)
	{
		for (int j = 0; j < nkeys; j++)
			st_free(keys[j]);
		st_free(keys);
	}
	st_free(sptr);
	st_free(slen);
	st_free(kidx);
	return ok;
}

static inline void
sh_free_keys(char **keys, int nkeys)
{
	for (int i = 0; i < nkeys; i++)
		st_free(keys[i]);
	st_free(keys);
}

/* ---- profile type naming ---- */

static inline bool
sh_has_type(const StTree *t, const char *a)
{
	for (int c = 0; c < t->ncols; c++)
		if (strcmp(t->cols[c].type, a) == 0)
			return true;
	return false;
}

/*
 * The profile_type of a row, from the tree's sample types (first rule that
 * matches):
 *	 a "cpu" column                          -> "cpu"
 *	 a "wall" column                         -> "wall"
 *	 alloc_ / inuse_ space or objects        -> "heap"
 *	 "goroutine" / "goroutines"              -> "goroutine"
 *	 "contentions" or "delay"                -> "contention" (Go mutex and
 *	                                            block profiles look alike)
 *	 otherwise                               -> the default column's type
 *	                                            (folded stacks: "samples")
 * The result points into t or at a literal: copy it before freeing t.
 */
static inline const char *
sh_profile_type(const StTree *t)
{
	if (sh_has_type(t, "cpu"))
		return "cpu";
	if (sh_has_type(t, "wall"))
		return "wall";
	if (sh_has_type(t, "alloc_space") || sh_has_type(t, "inuse_space") ||
		sh_has_type(t, "alloc_objects") || sh_has_type(t, "inuse_objects"))
		return "heap";
	if (sh_has_type(t, "goroutine") || sh_has_type(t, "goroutines"))
		return "goroutine";
	if (sh_has_type(t, "contentions") || sh_has_type(t, "delay"))
		return "contention";
	return t->cols[st_tree_effective_default(t)].type;
}

/* ---- content detection and decoding ---- */

typedef enum ShKind
{
	SH_KIND_PPROF,
	SH_KIND_FOLDED
} ShKind;

/*
 * Decode one input (pprof gzipped or raw, or folded text gzipped or plain)
 * into result (parts + time).  split: keys to split pprof samples by;
 * split_all: ignore split and use every string label key of the profile.
 * Folded input always gives one part without labels and time 0.
 */
static inline bool
sh_decode(const uint8_t *data, size_t len, bool split_all,
		  const char *const *split, int nsplit, StPprofResult *result,
		  ShKind *kind, StError *err)
{
	uint8_t    *raw = NULL;
	size_t		rawlen = 0;
	StPprofOptions opts;
	char	  **keys = NULL;
	int			nkeys = 0;
	bool		ok;

	memset(result, 0, sizeof(*result));
	memset(&opts, 0, sizeof(opts));
	opts.granularity = ST_PPROF_FUNCTIONS;
	if (len == 0)
		return st_fail(err, ST_ERR_INVALID_TEXT, "empty input: neither pprof nor folded stacks");
	if (!st_gunzip_capped(data, len, ST_MAX_RAW_BYTES, &raw, &rawlen, err))
		return false;

	if (st_pprof_sniff(raw, rawlen))
	{
		*kind = SH_KIND_PPROF;
		if (split_all)
		{
			if (!sh_pprof_label_keys(raw, rawlen, &keys, &nkeys, err))
			{
				st_free(raw);
				return false;
			}
			opts.nsplit_keys = nkeys;
			opts.split_keys = (const char *const *) keys;
		}
		else
		{
			opts.nsplit_keys = nsplit;
			opts.split_keys = nsplit > 0 ? split : NULL;
		}
		ok = st_pprof_decode(raw, rawlen, &opts, result, err);
		sh_free_keys(keys, nkeys);
		st_free(raw);
		return ok;
	}

	*kind = SH_KIND_FOLDED;
	{
		StTree	   *t = st_tree_from_folded((const char *) raw, rawlen, err);

		st_free(raw);
		if (t == NULL)
		{
			st_set_hint(err, "The input is not a pprof profile (gzipped or raw "
						"profile.proto), so it was read as folded stacks.");
			return false;
		}
		result->parts = st_alloc(sizeof(StPprofPart));
		if (result->parts == NULL)
		{
			st_tree_free(t);
			return st_fail(err, ST_ERR_NOMEM, "out of memory");
		}
		memset(result->parts, 0, sizeof(StPprofPart));
		result->parts[0].tree = t;
		result->nparts = 1;
		result->time_nanos = t->time_nanos;
		result->duration_nanos = t->duration_nanos;
		return true;
	}
}

/*
 * Append s as a JSON string (quotes included) to b; s is valid UTF-8.
 */
static inline void
sh_json_string(StBuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	st_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (*p == '"' || *p == '\\')
		{
			st_buf_putc(b, '\\');
			st_buf_putc(b, *p);
		}
		else if (*p < 0x20)
		{
			st_buf_put(b, "\\u00", 4);
			st_buf_putc(b, (uint8_t) hex[*p >> 4]);
			st_buf_putc(b, (uint8_t) hex[*p & 15]);
		}
		else
			st_buf_putc(b, *p);
	}
	st_buf_putc(b, '"');
}

#endif							/* INGEST_SHARED_H */
