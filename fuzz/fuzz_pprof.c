/*
 * fuzz_pprof.c
 *	  libFuzzer target for the pprof decoder (st_tree_from_pprof,
 *	  st_pprof_decode, st_gunzip_capped): what stacktree_from_pprof and the
 *	  ingest CLI run on profiles from anywhere.
 *
 * Seeds (fuzz/seeds/pprof) are small real Go and Node profiles, mostly
 * gunzipped so that mutations reach the protobuf decoder; a few stay
 * gzipped for the capped gunzip.  Each input is decoded three ways:
 *   - function granularity: the result goes through fuzz_exercise
 *     (fuzz_common.h); a profile that decodes must also be sniffed as pprof;
 *   - line granularity: every column total must equal the function one
 *     (same samples, different frame names);
 *   - split by the labels "tenant" and "component": merging all parts must
 *     give exactly the unsplit tree (durations aside: each part carries the
 *     profile's).
 * Then once more with one allocation failing.
 */
#include "fuzz_common.h"
#include "st_pprof.h"

static const char *const split_keys[] = {"tenant", "component"};

static void
check_same_totals(const StTree *a, const StTree *b, const char *what)
{
	StError		err;

	FUZZ_ASSERT(a->ncols == b->ncols, "%s: %d vs %d columns", what, a->ncols, b->ncols);
	for (int c = 0; c < a->ncols; c++)
	{
		int64_t		x,
					y;
		bool		okx = st_tree_total(a, c, &x, &err);
		bool		oky = st_tree_total(b, c, &y, &err);

		FUZZ_ASSERT(okx == oky, "%s: column %d total overflows in one tree only", what, c);
		if (okx)
			FUZZ_ASSERT(x == y, "%s: column %d totals %lld vs %lld",
						what, c, (long long) x, (long long) y);
	}
}

static void
check_lines(const uint8_t *data, size_t size, const StTree *t,
			const StError *plain)
{
	StPprofOptions opts = {ST_PPROF_LINES, 0, NULL};
	StError		err;
	StTree	   *tl = st_tree_from_pprof(data, size, &opts, &err);

	if (tl == NULL)
	{
		FUZZ_ASSERT_ERROR(&err);
		/* names get longer: only a name can fail where functions did not */
		FUZZ_ASSERT(t == NULL || err.code == ST_ERR_ENCODING || err.code == ST_ERR_LIMIT,
					"line granularity fails (%s) where function granularity does not",
					err.msg);
		return;
	}
	/* merged frames can overflow where finer ones do not */
	FUZZ_ASSERT(t != NULL || plain->code == ST_ERR_OVERFLOW,
				"line granularity decodes a profile function granularity refuses (%s)",
				plain->msg);
	if (t != NULL)
		check_same_totals(t, tl, "lines vs functions");
	fuzz_exercise(tl);
	st_tree_free(tl);
}

static void
check_split(const uint8_t *data, size_t size, const StTree *t,
			const StError *plain)
{
	StPprofOptions opts = {ST_PPROF_FUNCTIONS, 2, split_keys};
	StPprofResult res;
	StError		err;
	StTree	   *m;

	if (!st_pprof_decode(data, size, &opts, &res, &err))
	{
		FUZZ_ASSERT_ERROR(&err);
		/* label values are checked only when splitting */
		FUZZ_ASSERT(t == NULL || err.code == ST_ERR_ENCODING || fuzz_resource_error(&err),
					"the split decode fails (%s) where the plain one does not", err.msg);
		return;
	}
	/* one tree can overflow where its parts do not */
	FUZZ_ASSERT(t != NULL || plain->code == ST_ERR_OVERFLOW,
				"the split decode accepts a profile the plain one refuses (%s)", plain->msg);
	FUZZ_ASSERT(res.nparts >= 1 && res.parts != NULL, "split decode gave %d parts", res.nparts);
	for (int i = 0; i < res.nparts; i++)
	{
		const StPprofPart *p = &res.parts[i];

		FUZZ_ASSERT(p->tree != NULL && p->nlabels >= 0 && p->nlabels <= 2,
					"part %d: tree %p, %d labels", i, (void *) p->tree, p->nlabels);
		for (int k = 0; k < p->nlabels; k++)
			FUZZ_ASSERT(st_valid_name(p->label_values[k], strlen(p->label_values[k])) &&
						(strcmp(p->label_keys[k], "tenant") == 0 ||
						 strcmp(p->label_keys[k], "component") == 0),
						"part %d: bad label %d", i, k);
		for (int j = 0; j < i; j++)
		{
			const StPprofPart *q = &res.parts[j];
			bool		same = p->nlabels == q->nlabels;

			for (int k = 0; same && k < p->nlabels; k++)
				same = strcmp(p->label_keys[k], q->label_keys[k]) == 0 &&
					strcmp(p->label_values[k], q->label_values[k]) == 0;
			FUZZ_ASSERT(!same, "parts %d and %d have the same labels", j, i);
		}
		p->tree->duration_nanos = 0;
	}
	if (t == NULL)
	{
		st_pprof_result_free(&res);
		return;
	}
	m = st_tree_copy(res.parts[0].tree, &err);
	FUZZ_ASSERT(m != NULL, "st_tree_copy: %s", err.msg);
	for (int i = 1; i < res.nparts; i++)
		FUZZ_ASSERT(st_tree_merge(m, res.parts[i].tree, &err),
					"merging the parts of a split profile: %s", err.msg);
	m->duration_nanos = t->duration_nanos;
	{
		size_t		len;
		uint8_t    *e = fuzz_encode(t, &len);

		if (e)
		{
			fuzz_assert_encodes_to(m, e, len, "merged parts vs unsplit tree");
			st_free(e);
		}
	}
	st_tree_free(m);
	st_pprof_result_free(&res);
}

/* decode, encode, split: the pipeline also run under allocation failure */
static void
pipeline(const uint8_t *data, size_t size, FuzzOutcome *o)
{
	StPprofOptions opts = {ST_PPROF_FUNCTIONS, 2, split_keys};
	StPprofResult res;
	StError		err;
	StTree	   *t = st_tree_from_pprof(data, size, NULL, &err);
	uint8_t    *enc = NULL;
	size_t		len = 0;

	if (t != NULL)
	{
		enc = st_encode(t, &len, &err);
		st_tree_free(t);
	}
	if (enc != NULL)
	{
		if (st_pprof_decode(data, size, &opts, &res, &err))
			st_pprof_result_free(&res);
		else
		{
			st_free(enc);
			enc = NULL;
		}
	}
	fuzz_outcome_set(o, enc, len, &err);
}

/* protobuf-c reports a failed allocation as a message it cannot unpack */
static bool
unpack_failed(const StError *err)
{
	return err->code == ST_ERR_INVALID_BINARY &&
		strcmp(err->msg, "invalid pprof protobuf") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StError		err;
	StTree	   *t;

	memset(&err, 0, sizeof(err));
	fuzz_hooks_count();
	t = st_tree_from_pprof(data, size, NULL, &err);
	if (t == NULL)
		FUZZ_ASSERT_ERROR(&err);
	else
	{
		FUZZ_ASSERT(st_pprof_sniff(data, size), "a profile that decodes is not sniffed as pprof");
		fuzz_exercise(t);
	}
	check_lines(data, size, t, &err);
	check_split(data, size, t, &err);
	st_tree_free(t);

	/* the pipeline, then again with one allocation failing */
	fuzz_run_with_injection(data, size, pipeline, unpack_failed);
	return 0;
}
