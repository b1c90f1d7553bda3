/*
 * st_codec.c
 *	  Canonical encoding of an StTree into the stored form, and the
 *	  validating decoder (into a new tree, or merged into an existing one).
 *
 * Payload fields, in order (varint = LEB128, zz = zigzag varint):
 *	 ncols; per column: type, unit (varint length + bytes)
 *	 default_col + 1
 *	 period_type, period_unit (length 0 = none); zz period
 *	 zz time_nanos; zz duration_nanos
 *	 root self values: ncols varints
 *	 nstrings; nstrings lengths; the string bytes back to back
 *	 nnodes (without the root)
 *	 depth column: nnodes varints, depth 1 = child of the root, each depth at
 *	   most one more than the previous node's
 *	 frame column: nnodes string ids
 *	 value columns: ncols times nnodes varints
 *
 * Nodes are in depth-first order, siblings sorted by name bytes; strings are
 * numbered in order of first use.  Columnar layout lets zstd find the
 * repetition in each column; typical CPU profiles shrink to a fraction of
 * their gzipped pprof size.
 */
#include "st_codec.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define ZSTD_LEVEL 3
#define MIN_COMPRESS 64

/*
 * One zstd context of each kind per process, made on first use and kept:
 * setting a context up costs more than decompressing a typical profile
 * (it probes the CPU), and merge decodes one value per row.  They are
 * allocated by zstd with malloc, outside any memory context, on purpose:
 * they live as long as the process.  NULL after a failed creation, in
 * which case the one-shot functions are used.
 */
static ZSTD_DCtx *dctx;
static ZSTD_CCtx *cctx;

static size_t
decompress(void *dst, size_t cap, const void *src, size_t len)
{
	if (dctx == NULL)
		dctx = ZSTD_createDCtx();
	if (dctx != NULL)
		return ZSTD_decompressDCtx(dctx, dst, cap, src, len);
	return ZSTD_decompress(dst, cap, src, len);
}

static size_t
compress(void *dst, size_t cap, const void *src, size_t len)
{
	if (cctx == NULL)
		cctx = ZSTD_createCCtx();
	if (cctx != NULL)
		return ZSTD_compressCCtx(cctx, dst, cap, src, len, ZSTD_LEVEL);
	return ZSTD_compress(dst, cap, src, len, ZSTD_LEVEL);
}

/* ---- canonical order ---- */

typedef struct StrRank
{
	const char *s;
	uint32_t	len;
	uint32_t	id;
} StrRank;

static int
strrank_cmp(const void *a, const void *b)
{
	const StrRank *x = a;
	const StrRank *y = b;
	uint32_t	n = x->len < y->len ? x->len : y->len;
	int			c = memcmp(x->s, y->s, n);

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

typedef struct ChildKey
{
	uint64_t	key;			/* parent << 32 | name rank */
	uint32_t	node;
} ChildKey;

static int
childkey_cmp(const void *a, const void *b)
{
	const ChildKey *x = a;
	const ChildKey *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

uint32_t *
st_canonical_order(const StTree *t, uint32_t **depth_out, StError *err)
{
	uint32_t	n = t->nnodes;
	StrRank    *ranks = NULL;
	uint32_t   *rank = NULL;
	ChildKey   *keys = NULL;
	uint32_t   *first = NULL;	/* first[p] = index in keys of p's first
								 * child, n-1 entries */
	uint32_t   *nchild = NULL;
	uint32_t   *order = NULL;
	uint32_t   *depth = NULL;
	uint32_t   *stack = NULL;
	uint32_t   *stackdepth = NULL;
	uint32_t	sp = 0,
				out = 0;

	ranks = st_alloc((size_t) (t->nstrings + 1) * sizeof(StrRank));
	rank = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint32_t));
	keys = st_alloc((size_t) n * sizeof(ChildKey));
	first = st_alloc((size_t) n * sizeof(uint32_t));
	nchild = st_alloc((size_t) n * sizeof(uint32_t));
	order = st_alloc((size_t) n * sizeof(uint32_t));
	depth = st_alloc((size_t) n * sizeof(uint32_t));
	stack = st_alloc((size_t) n * sizeof(uint32_t));
	stackdepth = st_alloc((size_t) n * sizeof(uint32_t));
	if (!ranks || !rank || !keys || !first || !nchild || !order || !depth ||
		!stack || !stackdepth)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}

	for (uint32_t i = 0; i < t->nstrings; i++)
	{
		ranks[i].s = st_tree_string(t, i);
		ranks[i].len = t->str_len[i];
		ranks[i].id = i;
	}
	qsort(ranks, t->nstrings, sizeof(StrRank), strrank_cmp);
	for (uint32_t i = 0; i < t->nstrings; i++)
		rank[ranks[i].id] = i;

	for (uint32_t i = 1; i < n; i++)
	{
		keys[i - 1].key = ((uint64_t) t->parent[i] << 32) | rank[t->frame[i]];
		keys[i - 1].node = i;
	}
	st_check_interrupts();
	qsort(keys, n - 1, sizeof(ChildKey), childkey_cmp);
	memset(nchild, 0, (size_t) n * sizeof(uint32_t));
	for (uint32_t i = 0; i + 1 < n; i++)
	{
		uint32_t	p = (uint32_t) (keys[i].key >> 32);

		if (nchild[p]++ == 0)
			first[p] = i;
	}

	/* iterative DFS: push children in reverse so the first pops first */
	for (uint32_t c = nchild[0]; c > 0; c--)
	{
		stack[sp] = keys[first[0] + c - 1].node;
		stackdepth[sp++] = 1;
	}
	while (sp > 0)
	{
		uint32_t	node = stack[--sp];
		uint32_t	d = stackdepth[sp];

		if ((out & 16383) == 0)
			st_check_interrupts();
		order[out] = node;
		depth[out++] = d;
		for (uint32_t c = nchild[node]; c > 0; c--)
		{
			stack[sp] = keys[first[node] + c - 1].node;
			stackdepth[sp++] = d + 1;
		}
	}
	st_free(ranks);
	st_free(rank);
	st_free(keys);
	st_free(first);
	st_free(nchild);
	st_free(stack);
	st_free(stackdepth);
	*depth_out = depth;
	return order;

fail:
	st_free(ranks);
	st_free(rank);
	st_free(keys);
	st_free(first);
	st_free(nchild);
	st_free(order);
	st_free(depth);
	st_free(stack);
	st_free(stackdepth);
	return NULL;
}

/* ---- encoding ---- */

static void
put_str(StBuf *b, const char *s)
{
	size_t		n = s ? strlen(s) : 0;

	st_buf_varint(b, n);
	st_buf_put(b, s, n);
}

uint8_t *
st_encode(const StTree *t, size_t *out_len, StError *err)
{
	StBuf		b;
	uint32_t   *order;
	uint32_t   *depth = NULL;
	uint32_t   *newid = NULL;
	uint32_t   *byid = NULL;
	uint32_t	nused = 0;
	uint32_t	nn = t->nnodes - 1;
	uint8_t    *result = NULL;

	order = st_canonical_order(t, &depth, err);
	if (order == NULL)
		return NULL;
	newid = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint32_t));
	byid = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint32_t));
	if (!newid || !byid)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	memset(newid, 0xff, (size_t) (t->nstrings + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < nn; i++)
	{
		uint32_t	f = t->frame[order[i]];

		if (newid[f] == UINT32_MAX)
		{
			newid[f] = nused;
			byid[nused++] = f;
		}
	}

	st_buf_init(&b, 1024 + (size_t) nn * (4 + 2 * t->ncols) + t->arena_len);
	st_buf_varint(&b, t->ncols);
	for (int c = 0; c < t->ncols; c++)
	{
		put_str(&b, t->cols[c].type);
		put_str(&b, t->cols[c].unit);
	}
	st_buf_varint(&b, (uint64_t) (t->default_col + 1));
	put_str(&b, t->period_type);
	put_str(&b, t->period_type ? t->period_unit : NULL);
	st_buf_varint(&b, st_zigzag(t->period));
	st_buf_varint(&b, st_zigzag(t->time_nanos));
	st_buf_varint(&b, st_zigzag(t->duration_nanos));
	for (int c = 0; c < t->ncols; c++)
		st_buf_varint(&b, (uint64_t) t->values[c]);
	st_buf_varint(&b, nused);
	for (uint32_t i = 0; i < nused; i++)
		st_buf_varint(&b, t->str_len[byid[i]]);
	for (uint32_t i = 0; i < nused; i++)
		st_buf_put(&b, st_tree_string(t, byid[i]), t->str_len[byid[i]]);
	st_buf_varint(&b, nn);
	for (uint32_t i = 0; i < nn; i++)
		st_buf_varint(&b, depth[i]);
	for (uint32_t i = 0; i < nn; i++)
		st_buf_varint(&b, newid[t->frame[order[i]]]);
	for (int c = 0; c < t->ncols; c++)
		for (uint32_t i = 0; i < nn; i++)
			st_buf_varint(&b, (uint64_t) t->values[(size_t) order[i] * t->ncols + c]);
	if (b.oom)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		st_buf_free(&b);
		goto done;
	}
	if (b.len > ST_MAX_RAW_BYTES)
	{
		st_fail(err, ST_ERR_LIMIT, "encoded stacktree of %zu bytes exceeds the limit of %zu bytes",
				b.len, ST_MAX_RAW_BYTES);
		st_buf_free(&b);
		goto done;
	}

	if (b.len >= MIN_COMPRESS)
	{
		size_t		bound = ZSTD_compressBound(b.len);
		size_t		clen;

		result = st_alloc(ST_HEADER_BYTES + bound);
		if (result == NULL)
		{
			st_fail(err, ST_ERR_NOMEM, "out of memory");
			st_buf_free(&b);
			goto done;
		}
		st_check_interrupts();
		clen = compress(result + ST_HEADER_BYTES, bound, b.data, b.len);
		if (ZSTD_isError(clen))
		{
			st_fail(err, ST_ERR_CORRUPT, "zstd compression failed: %s", ZSTD_getErrorName(clen));
			st_free(result);
			result = NULL;
			st_buf_free(&b);
			goto done;
		}
		result[1] = ST_FLAG_ZSTD;
		*out_len = ST_HEADER_BYTES + clen;
	}
	else
	{
		result = st_alloc(ST_HEADER_BYTES + b.len);
		if (result == NULL)
		{
			st_fail(err, ST_ERR_NOMEM, "out of memory");
			st_buf_free(&b);
			goto done;
		}
		memcpy(result + ST_HEADER_BYTES, b.data, b.len);
		result[1] = 0;
		*out_len = ST_HEADER_BYTES + b.len;
	}
	result[0] = ST_FORMAT_VERSION;
	result[2] = (uint8_t) (b.len & 0xff);
	result[3] = (uint8_t) ((b.len >> 8) & 0xff);
	result[4] = (uint8_t) ((b.len >> 16) & 0xff);
	result[5] = (uint8_t) ((b.len >> 24) & 0xff);
	st_buf_free(&b);

done:
	st_free(order);
	st_free(depth);
	st_free(newid);
	st_free(byid);
	return result;
}

/* ---- decoding ---- */

#define CORRUPT(what) \
	do { st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: %s", (what)); goto fail; } while (0)

/* Read a length-prefixed metadata string into buf (NUL-terminated). */
static bool
get_meta(StReader *r, char *buf, size_t size, StError *err)
{
	uint64_t	n;
	const uint8_t *p;

	if (!st_read_varint(r, &n) || n >= size || !st_read_bytes(r, (size_t) n, &p))
		return st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: bad header string");
	memcpy(buf, p, (size_t) n);
	buf[n] = '\0';
	if (!st_valid_name(buf, (size_t) n))
		return st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: header string is not valid UTF-8");
	return true;
}

/*
 * Unwrap the 6-byte header; returns the payload (decompressed into *owned
 * when compressed).
 */
static bool
unwrap(const uint8_t *data, size_t len, const uint8_t **payload,
	   size_t *plen, uint8_t **owned, StError *err)
{
	size_t		rawlen;

	*owned = NULL;
	if (len < ST_HEADER_BYTES)
		return st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: %zu bytes is too short", len);
	if (data[0] != ST_FORMAT_VERSION)
	{
		st_fail(err, ST_ERR_CORRUPT, "unsupported stacktree format version %d", data[0]);
		st_set_detail(err, "This build reads format version %d.", ST_FORMAT_VERSION);
		st_set_hint(err, "The value was written by a newer stackhouse, or is not a stacktree.");
		return false;
	}
	if (data[1] & ~ST_FLAG_ZSTD)
		return st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: unknown flags 0x%02x", data[1]);
	rawlen = (size_t) data[2] | ((size_t) data[3] << 8) |
		((size_t) data[4] << 16) | ((size_t) data[5] << 24);
	if (rawlen > ST_MAX_RAW_BYTES)
		return st_fail(err, ST_ERR_LIMIT, "stacktree value claims %zu bytes, over the limit of %zu",
					   rawlen, ST_MAX_RAW_BYTES);
	if (data[1] & ST_FLAG_ZSTD)
	{
		unsigned long long fcs = ZSTD_getFrameContentSize(data + ST_HEADER_BYTES,
														  len - ST_HEADER_BYTES);
		size_t		got;

		if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN ||
			fcs != rawlen)
			return st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: bad compressed frame");
		*owned = st_alloc(rawlen);
		if (*owned == NULL)
			return st_fail(err, ST_ERR_NOMEM, "out of memory");
		got = decompress(*owned, rawlen, data + ST_HEADER_BYTES, len - ST_HEADER_BYTES);
		if (ZSTD_isError(got) || got != rawlen)
		{
			st_free(*owned);
			*owned = NULL;
			return st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: decompression failed");
		}
		*payload = *owned;
		*plen = rawlen;
	}
	else
	{
		if (len - ST_HEADER_BYTES != rawlen)
			return st_fail(err, ST_ERR_CORRUPT, "corrupt stacktree value: length mismatch");
		*payload = data + ST_HEADER_BYTES;
		*plen = rawlen;
	}
	return true;
}

/*
 * The decoder proper.  When *dst is NULL a new tree is created from the
 * header (strict mode: duplicate siblings are corruption); otherwise the
 * value is merged into *dst.
 */
static bool
decode_into(StTree **dstp, const uint8_t *data, size_t len, StError *err)
{
	const uint8_t *payload = NULL;
	size_t		plen = 0;
	uint8_t    *owned = NULL;
	StReader	r;
	uint64_t	v,
				ncols,
				nstr,
				nn;
	StColumn	cols[ST_MAX_COLUMNS];
	char		colbuf[ST_MAX_COLUMNS][2][260];
	char		ptype[260],
				punit[260];
	int			map[ST_MAX_COLUMNS];
	int64_t		rootvals[ST_MAX_COLUMNS];
	int64_t		vals[ST_MAX_COLUMNS];
	StTree		src_hdr;
	StTree	   *dst = *dstp;
	bool		fresh = (dst == NULL);
	uint32_t   *strmap = NULL;
	uint32_t   *nodemap = NULL;
	uint32_t   *path = NULL;
	const uint8_t *lens_start;
	const uint8_t *bytes;
	uint32_t	maxdepth = 0;

	if (!unwrap(data, len, &payload, &plen, &owned, err))
		return false;
	r.p = payload;
	r.end = payload + plen;

	if (!st_read_varint(&r, &ncols) || ncols < 1 || ncols > ST_MAX_COLUMNS)
		CORRUPT("bad column count");
	for (uint64_t c = 0; c < ncols; c++)
	{
		if (!get_meta(&r, colbuf[c][0], sizeof(colbuf[c][0]), err) ||
			!get_meta(&r, colbuf[c][1], sizeof(colbuf[c][1]), err))
			goto fail;
		cols[c].type = colbuf[c][0];
		cols[c].unit = colbuf[c][1];
	}
	memset(&src_hdr, 0, sizeof(src_hdr));
	src_hdr.ncols = (int) ncols;
	if (!st_read_varint(&r, &v) || v > ncols)
		CORRUPT("bad default column");
	src_hdr.default_col = (int) v - 1;
	if (!get_meta(&r, ptype, sizeof(ptype), err) ||
		!get_meta(&r, punit, sizeof(punit), err))
		goto fail;
	src_hdr.period_type = ptype[0] ? ptype : NULL;
	src_hdr.period_unit = ptype[0] ? punit : NULL;
	if (!st_read_varint(&r, &v))
		CORRUPT("bad period");
	src_hdr.period = st_unzigzag(v);
	if (!st_read_varint(&r, &v))
		CORRUPT("bad time");
	src_hdr.time_nanos = st_unzigzag(v);
	if (!st_read_varint(&r, &v))
		CORRUPT("bad duration");
	src_hdr.duration_nanos = st_unzigzag(v);
	if (src_hdr.period < 0 || src_hdr.duration_nanos < 0)
		CORRUPT("negative period or duration");
	for (uint64_t c = 0; c < ncols; c++)
	{
		if (!st_read_varint(&r, &v) || v > INT64_MAX)
			CORRUPT("bad root value");
		rootvals[c] = (int64_t) v;
	}

	if (fresh)
	{
		const char *types[ST_MAX_COLUMNS];
		const char *units[ST_MAX_COLUMNS];

		for (uint64_t c = 0; c < ncols; c++)
		{
			types[c] = cols[c].type;
			units[c] = cols[c].unit;
		}
		dst = st_tree_new((int) ncols, types, units, err);
		if (dst == NULL)
		{
			if (err->code != ST_ERR_NOMEM)
				err->code = ST_ERR_CORRUPT;
			goto fail;
		}
		*dstp = dst;
	}
	for (int c = 0; c < (int) ncols; c++)
		cols[c].type = colbuf[c][0];
	if (!st_tree_column_map(dst, (int) ncols, cols, map, err) ||
		!st_tree_merge_header(dst, &src_hdr, map, err))
	{
		/* a period type st_tree_set_period refuses: the value is corrupt */
		if (err->code == ST_ERR_ENCODING)
			err->code = ST_ERR_CORRUPT;
		goto fail;
	}
	for (uint64_t c = 0; c < ncols; c++)
		vals[map[c]] = rootvals[c];
	if (!st_tree_add_values(dst, 0, vals, err))
		goto fail;

	/* strings */
	if (!st_read_varint(&r, &nstr))
		CORRUPT("bad string count");
	if (nstr > ST_MAX_STRINGS || nstr > (uint64_t) (r.end - r.p))
		CORRUPT("string count out of range");
	strmap = st_alloc((size_t) (nstr + 1) * sizeof(uint32_t));
	if (strmap == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}
	lens_start = r.p;
	{
		uint64_t	total = 0;

		for (uint64_t i = 0; i < nstr; i++)
		{
			if (!st_read_varint(&r, &v) || v > ST_MAX_NAME_LEN)
				CORRUPT("bad string length");
			total += v;
		}
		if (!st_read_bytes(&r, (size_t) total, &bytes))
			CORRUPT("string table truncated");
	}
	{
		StReader	lr = {lens_start, r.end};
		const uint8_t *p = bytes;

		for (uint64_t i = 0; i < nstr; i++)
		{
			(void) st_read_varint(&lr, &v);
			if (v == 0)
				CORRUPT("empty frame name");
			strmap[i] = st_tree_intern(dst, (const char *) p, (size_t) v, err);
			if (strmap[i] == UINT32_MAX)
			{
				if (err->code == ST_ERR_ENCODING)
					err->code = ST_ERR_CORRUPT;
				goto fail;
			}
			p += v;
		}
	}

	/* nodes */
	if (!st_read_varint(&r, &nn))
		CORRUPT("bad node count");
	if (nn >= ST_MAX_NODES || nn > (uint64_t) (r.end - r.p))
		CORRUPT("node count out of range");
	nodemap = st_alloc((size_t) (nn + 1) * sizeof(uint32_t));
	path = st_alloc((size_t) (ST_MAX_DEPTH + 2) * sizeof(uint32_t));
	if (!nodemap || !path)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto fail;
	}
	{
		StReader	dr = r;
		uint64_t	prev = 0;

		/* depth column first, frame column follows it */
		for (uint64_t i = 0; i < nn; i++)
		{
			if (!st_read_varint(&r, &v) || v < 1 || v > prev + 1)
				CORRUPT("bad node depth");
			if (v > ST_MAX_DEPTH)
			{
				st_fail(err, ST_ERR_LIMIT, "stacktree value is deeper than the limit of %d frames",
						ST_MAX_DEPTH);
				goto fail;
			}
			prev = v;
		}
		path[0] = 0;
		for (uint64_t i = 0; i < nn; i++)
		{
			uint64_t	d,
						f;
			uint32_t	before = dst->nnodes;

			if ((i & 8191) == 0)
				st_check_interrupts();
			(void) st_read_varint(&dr, &d);
			if (!st_read_varint(&r, &f) || f >= nstr)
				CORRUPT("frame id out of range");
			nodemap[i] = st_tree_child(dst, path[d - 1], strmap[f], err);
			if (nodemap[i] == UINT32_MAX)
				goto fail;
			if (fresh && dst->nnodes == before)
				CORRUPT("duplicate sibling frames");
			path[d] = nodemap[i];
			if (d > maxdepth)
				maxdepth = (uint32_t) d;
		}
	}
	for (uint64_t c = 0; c < ncols; c++)
	{
		int			dc = map[c];

		for (uint64_t i = 0; i < nn; i++)
		{
			int64_t    *cell;
			int64_t		sum;

			if (!st_read_varint(&r, &v) || v > INT64_MAX)
				CORRUPT("bad node value");
			cell = dst->values + (size_t) nodemap[i] * dst->ncols + dc;
			/* on overflow the cell keeps its (non-negative) value */
			if (__builtin_add_overflow(*cell, (int64_t) v, &sum))
			{
				st_fail(err, ST_ERR_OVERFLOW, "value overflows 64 bits in column \"%s\"",
						dst->cols[dc].type);
				goto fail;
			}
			*cell = sum;
		}
	}
	if (r.p != r.end)
		CORRUPT("trailing bytes");
	if (maxdepth > dst->max_depth)
		dst->max_depth = maxdepth;

	st_free(owned);
	st_free(strmap);
	st_free(nodemap);
	st_free(path);
	return true;

fail:
	st_free(owned);
	st_free(strmap);
	st_free(nodemap);
	st_free(path);
	if (fresh && *dstp)
	{
		st_tree_free(*dstp);
		*dstp = NULL;
	}
	return false;
}

StTree *
st_decode(const uint8_t *data, size_t len, StError *err)
{
	StTree	   *t = NULL;

	if (!decode_into(&t, data, len, err))
		return NULL;
	return t;
}

bool
st_decode_merge(StTree *dst, const uint8_t *data, size_t len, StError *err)
{
	return decode_into(&dst, data, len, err);
}
