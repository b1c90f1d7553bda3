/*
 * st_pprof_export.c
 *	  Build a Perftools__Profiles__Profile from a tree with the protobuf-c
 *	  generated code, pack it and gzip it with zlib.
 */
#include "st_pprof_export.h"
#include "profile.pb-c.h"

#include <string.h>
#include <zlib.h>

/* ids into the profile string table */
typedef struct StrTab
{
	ProtobufCBinaryData *s;
	size_t		n;
	size_t		cap;
} StrTab;

static int64_t
strtab_add(StrTab *st, const char *s, size_t len, StError *err)
{
	if (!st_grow((void **) &st->s, &st->cap, st->n + 1, sizeof(ProtobufCBinaryData), err))
		return -1;
	st->s[st->n].data = (uint8_t *) s;
	st->s[st->n].len = len;
	return (int64_t) st->n++;
}

/* small strings the header needs; returns the id, or 0 for NULL */
static int64_t
strtab_find_or_add(StrTab *st, const char *s, StError *err)
{
	size_t		len;

	if (s == NULL)
		return 0;
	len = strlen(s);
	/* header strings are few: a linear scan over them is fine, but do not
	 * scan the frame names (they are added after the header) */
	for (size_t i = 0; i < st->n; i++)
		if (st->s[i].len == len && memcmp(st->s[i].data, s, len) == 0)
			return (int64_t) i;
	return strtab_add(st, s, len, err);
}

static bool
gzip_bytes(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
		   StError *err)
{
	z_stream	zs;
	size_t		cap;
	uint8_t    *buf;
	int			rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return st_fail(err, ST_ERR_NOMEM, "cannot initialize gzip compression");
	cap = deflateBound(&zs, len) + 64;
	buf = st_alloc(cap);
	if (buf == NULL)
	{
		deflateEnd(&zs);
		return st_fail(err, ST_ERR_NOMEM, "out of memory");
	}
	zs.next_in = (Bytef *) in;
	zs.next_out = buf;
	/* avail_in/avail_out are 32-bit: feed the input in chunks */
	{
		size_t		left_in = len;
		size_t		left_out = cap;

		do
		{
			uInt		ci = left_in > (1u << 30) ? (1u << 30) : (uInt) left_in;
			uInt		co = left_out > (1u << 30) ? (1u << 30) : (uInt) left_out;

			zs.avail_in = ci;
			zs.avail_out = co;
			rc = deflate(&zs, ci == left_in ? Z_FINISH : Z_NO_FLUSH);
			left_in -= ci - zs.avail_in;
			left_out -= co - zs.avail_out;
			st_check_interrupts();
		} while (rc == Z_OK);
	}
	if (rc != Z_STREAM_END)
	{
		deflateEnd(&zs);
		st_free(buf);
		return st_fail(err, ST_ERR_NOMEM, "gzip compression failed (zlib status %d)", rc);
	}
	*out_len = (size_t) zs.total_out;
	deflateEnd(&zs);
	*out = buf;
	return true;
}

uint8_t *
st_tree_to_pprof(const StTree *t, size_t *out_len, StError *err)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vts[ST_MAX_COLUMNS];
	Perftools__Profiles__ValueType *vtp[ST_MAX_COLUMNS];
	Perftools__Profiles__ValueType period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	StrTab		st = {0};
	int64_t    *fname = NULL;	/* string-table id per tree string */
	uint64_t   *funcid = NULL;	/* function id (1-based) per tree string */
	uint32_t   *depth = NULL;
	Perftools__Profiles__Function *funcs = NULL;
	Perftools__Profiles__Function **funcp = NULL;
	Perftools__Profiles__Location *locs = NULL;
	Perftools__Profiles__Location **locp = NULL;
	Perftools__Profiles__Line *lines = NULL;
	Perftools__Profiles__Line **linep = NULL;
	Perftools__Profiles__Sample *samples = NULL;
	Perftools__Profiles__Sample **samplep = NULL;
	uint64_t   *locids = NULL;
	uint8_t    *packed = NULL;
	uint8_t    *result = NULL;
	size_t		nfuncs = 0,
				nsamples = 0,
				nlocids = 0,
				plen;
	int			k = t->ncols;

	/* string table: "" first, then header strings, then frame names */
	if (strtab_add(&st, "", 0, err) < 0)
		goto done;
	for (int c = 0; c < k; c++)
	{
		Perftools__Profiles__ValueType init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;

		vts[c] = init;
		vts[c].type = strtab_find_or_add(&st, t->cols[c].type, err);
		vts[c].unit = strtab_find_or_add(&st, t->cols[c].unit, err);
		if (vts[c].type < 0 || vts[c].unit < 0)
			goto done;
		vtp[c] = &vts[c];
	}
	prof.n_sample_type = k;
	prof.sample_type = vtp;
	if (t->period_type)
	{
		period_type.type = strtab_find_or_add(&st, t->period_type, err);
		period_type.unit = strtab_find_or_add(&st, t->period_unit, err);
		if (period_type.type < 0 || period_type.unit < 0)
			goto done;
		prof.period_type = &period_type;
	}
	prof.period = t->period;
	prof.time_nanos = t->time_nanos;
	prof.duration_nanos = t->duration_nanos;
	if (t->default_col >= 0 && t->default_col < k)
		prof.default_sample_type = vts[t->default_col].type;

	/* which names are used by nodes with samples below them: all nodes */
	fname = st_alloc((size_t) (t->nstrings + 1) * sizeof(int64_t));
	funcid = st_alloc((size_t) (t->nstrings + 1) * sizeof(uint64_t));
	depth = st_alloc((size_t) t->nnodes * sizeof(uint32_t));
	if (!fname || !funcid || !depth)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	memset(funcid, 0, (size_t) (t->nstrings + 1) * sizeof(uint64_t));
	depth[0] = 0;
	for (uint32_t n = 1; n < t->nnodes; n++)
	{
		uint32_t	f = t->frame[n];

		depth[n] = depth[t->parent[n]] + 1;
		if (funcid[f] == 0)
		{
			fname[f] = strtab_add(&st, st_tree_string(t, f), t->str_len[f], err);
			if (fname[f] < 0)
				goto done;
			funcid[f] = ++nfuncs;
		}
	}
	/* samples: nodes with a non-zero self value */
	for (uint32_t n = 0; n < t->nnodes; n++)
	{
		const int64_t *v = t->values + (size_t) n * k;
		bool		any = false;

		for (int c = 0; c < k; c++)
			any |= (v[c] != 0);
		if (any)
		{
			nsamples++;
			nlocids += depth[n];
			if (nlocids > ((size_t) 1 << 31))
			{
				st_fail(err, ST_ERR_LIMIT, "tree too large to export as pprof");
				st_set_detail(err, "The samples would hold more than 2^31 location ids.");
				goto done;
			}
		}
	}
	funcs = st_alloc((nfuncs + 1) * sizeof(*funcs));
	funcp = st_alloc((nfuncs + 1) * sizeof(*funcp));
	locs = st_alloc((nfuncs + 1) * sizeof(*locs));
	locp = st_alloc((nfuncs + 1) * sizeof(*locp));
	lines = st_alloc((nfuncs + 1) * sizeof(*lines));
	linep = st_alloc((nfuncs + 1) * sizeof(*linep));
	samples = st_alloc((nsamples + 1) * sizeof(*samples));
	samplep = st_alloc((nsamples + 1) * sizeof(*samplep));
	locids = st_alloc((nlocids + 1) * sizeof(uint64_t));
	if (!funcs || !funcp || !locs || !locp || !lines || !linep || !samples ||
		!samplep || !locids)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (uint32_t f = 0; f < t->nstrings; f++)
	{
		Perftools__Profiles__Function fi = PERFTOOLS__PROFILES__FUNCTION__INIT;
		Perftools__Profiles__Location li = PERFTOOLS__PROFILES__LOCATION__INIT;
		Perftools__Profiles__Line ni = PERFTOOLS__PROFILES__LINE__INIT;
		size_t		i;

		if (funcid[f] == 0)
			continue;
		i = funcid[f] - 1;
		funcs[i] = fi;
		funcs[i].id = funcid[f];
		funcs[i].name = fname[f];
		funcs[i].system_name = fname[f];
		funcp[i] = &funcs[i];
		lines[i] = ni;
		lines[i].function_id = funcid[f];
		linep[i] = &lines[i];
		locs[i] = li;
		locs[i].id = funcid[f];
		locs[i].n_line = 1;
		locs[i].line = &linep[i];
		locp[i] = &locs[i];
	}
	{
		size_t		si = 0,
					off = 0;

		for (uint32_t n = 0; n < t->nnodes; n++)
		{
			Perftools__Profiles__Sample init = PERFTOOLS__PROFILES__SAMPLE__INIT;
			int64_t    *v = t->values + (size_t) n * k;
			bool		any = false;
			uint32_t	m;
			size_t		j = 0;

			if ((n & 4095) == 0)
				st_check_interrupts();
			for (int c = 0; c < k; c++)
				any |= (v[c] != 0);
			if (!any)
				continue;
			samples[si] = init;
			samples[si].n_value = k;
			samples[si].value = v;
			samples[si].n_location_id = depth[n];
			samples[si].location_id = locids + off;
			for (m = n; m != 0; m = t->parent[m])
				locids[off + j++] = funcid[t->frame[m]];
			off += j;
			samplep[si] = &samples[si];
			si++;
		}
	}
	prof.n_sample = nsamples;
	prof.sample = samplep;
	prof.n_function = nfuncs;
	prof.function = funcp;
	prof.n_location = nfuncs;
	prof.location = locp;
	prof.n_string_table = st.n;
	prof.string_table = st.s;

	plen = perftools__profiles__profile__get_packed_size(&prof);
	if (plen > ST_MAX_RAW_BYTES)
	{
		st_fail(err, ST_ERR_LIMIT, "pprof encoding of %zu bytes exceeds the limit of %zu bytes",
				plen, ST_MAX_RAW_BYTES);
		goto done;
	}
	packed = st_alloc(plen);
	if (packed == NULL)
	{
		st_fail(err, ST_ERR_NOMEM, "out of memory");
		goto done;
	}
	perftools__profiles__profile__pack(&prof, packed);
	if (!gzip_bytes(packed, plen, &result, out_len, err))
		result = NULL;

done:
	st_free(st.s);
	st_free(fname);
	st_free(funcid);
	st_free(depth);
	st_free(funcs);
	st_free(funcp);
	st_free(locs);
	st_free(locp);
	st_free(lines);
	st_free(linep);
	st_free(samples);
	st_free(samplep);
	st_free(locids);
	st_free(packed);
	return result;
}
