/*
 * fuzz_codec.c
 *	  libFuzzer target for the stored/binary form decoder (st_decode and
 *	  st_decode_merge): what binary recv runs on client bytes, and what
 *	  reading a value back from disk runs.
 *
 * Each input is decoded as is.  Because a mutation that inserts or deletes
 * bytes almost always breaks the length in the 6-byte header (and a mutated
 * zstd frame never decompresses), an input marked uncompressed is also
 * decoded with its length field fixed up, and once more after compressing
 * its payload with zstd: both must give the same result.  The seeds
 * (fuzz/seeds/codec, from fuzz/make_seeds.c) are uncompressed encodings of
 * real trees, so the fuzzer mutates the payload fields themselves.
 *
 * Accepted values go through fuzz_exercise (fuzz_common.h).  The payload is
 * also merged with st_decode_merge into a tree that already holds other
 * stacks, with its columns in reverse order, and that must agree with
 * st_tree_merge; inputs that st_decode refuses are merged into a
 * samples/count tree, which takes non-canonical input (duplicate siblings)
 * and must still leave a valid tree.  Finally the input is decoded with
 * one allocation failing.
 */
#include <zstd.h>

#include "fuzz_common.h"

/* folded stacks the merge targets start with */
static const char base_text[] = "a;b 1\na;c 2\nmain;run;work 3\nzz 4\n";

/* A tree with t's columns in reverse order holding base_text's stacks. */
static StTree *
reversed_base(const StTree *t)
{
	const char *types[ST_MAX_COLUMNS];
	const char *units[ST_MAX_COLUMNS];
	StError		err;
	StTree	   *b;
	const char *names[] = {"a", "b", "c", "main", "zz"};
	uint32_t	ids[5];
	int64_t		vals[ST_MAX_COLUMNS];

	for (int c = 0; c < t->ncols; c++)
	{
		types[c] = t->cols[t->ncols - 1 - c].type;
		units[c] = t->cols[t->ncols - 1 - c].unit;
		vals[c] = c + 1;
	}
	b = st_tree_new(t->ncols, types, units, &err);
	FUZZ_ASSERT(b != NULL, "st_tree_new failed: %s", err.msg);
	for (int i = 0; i < 5; i++)
	{
		ids[i] = st_tree_intern(b, names[i], strlen(names[i]), &err);
		FUZZ_ASSERT(ids[i] != UINT32_MAX, "st_tree_intern failed: %s", err.msg);
	}
	FUZZ_ASSERT(st_tree_add_stack(b, (uint32_t[]) {ids[0], ids[1]}, 2, vals, &err) &&
				st_tree_add_stack(b, (uint32_t[]) {ids[3], ids[2]}, 2, vals, &err) &&
				st_tree_add_stack(b, (uint32_t[]) {ids[4]}, 1, vals, &err),
				"st_tree_add_stack failed: %s", err.msg);
	return b;
}

/* st_decode_merge(base, data) must agree with st_tree_merge(base, t). */
static void
check_merge_into_base(const StTree *t, const uint8_t *data, size_t size)
{
	StTree	   *a = reversed_base(t);
	StTree	   *b = reversed_base(t);

	(void) fuzz_compare_merges(a, b, t, data, size,
							   "merge into a tree with reversed columns");
	st_tree_free(a);
	st_tree_free(b);
}

/* Merge into a samples/count tree whatever st_decode thought of the input. */
static void
check_merge_lenient(const uint8_t *data, size_t size)
{
	StError		err;
	StTree	   *b = st_tree_from_folded(base_text, sizeof(base_text) - 1, &err);

	FUZZ_ASSERT(b != NULL, "base tree: %s", err.msg);
	if (st_decode_merge(b, data, size, &err))
		fuzz_exercise(b);
	else
		FUZZ_ASSERT_ERROR(&err);
	st_tree_free(b);
}

/* decode + encode: the pipeline also run under allocation failure */
static void
pipeline(const uint8_t *data, size_t size, FuzzOutcome *o)
{
	StError		err;
	StTree	   *t = st_decode(data, size, &err);
	uint8_t    *enc = NULL;
	size_t		len = 0;

	if (t != NULL)
		enc = st_encode(t, &len, &err);
	fuzz_outcome_set(o, enc, len, &err);
	st_tree_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StError		err,
				err2;
	StTree	   *t;
	StTree	   *t2 = NULL;
	uint8_t    *fixed = NULL;
	uint8_t    *zbuf = NULL;

	fuzz_hooks_count();

	/* 1. as is */
	t = st_decode(data, size, &err);
	if (t == NULL)
		FUZZ_ASSERT_ERROR(&err);
	else
	{
		FUZZ_ASSERT(size >= ST_HEADER_BYTES && data[0] == ST_FORMAT_VERSION,
					"st_decode accepted a value without a valid header");
		fuzz_exercise(t);
		check_merge_into_base(t, data, size);
		st_tree_free(t);
	}

	/* 2. uncompressed: with the length fixed up, and compressed */
	if (size >= ST_HEADER_BYTES && data[0] == ST_FORMAT_VERSION && data[1] == 0 &&
		size - ST_HEADER_BYTES <= UINT32_MAX)
	{
		size_t		plen = size - ST_HEADER_BYTES;
		size_t		bound = ZSTD_compressBound(plen);
		size_t		zlen;
		StTree	   *t3;

		fixed = malloc(size);
		memcpy(fixed, data, size);
		fixed[2] = (uint8_t) (plen & 0xff);
		fixed[3] = (uint8_t) ((plen >> 8) & 0xff);
		fixed[4] = (uint8_t) ((plen >> 16) & 0xff);
		fixed[5] = (uint8_t) ((plen >> 24) & 0xff);
		if (memcmp(fixed, data, ST_HEADER_BYTES) != 0)
		{
			t2 = st_decode(fixed, size, &err);
			if (t2 == NULL)
				FUZZ_ASSERT_ERROR(&err);
			else
			{
				fuzz_exercise(t2);
				check_merge_into_base(t2, fixed, size);
			}
		}
		else
			t2 = st_decode(fixed, size, &err);	/* same as step 1 */

		zbuf = malloc(ST_HEADER_BYTES + bound);
		memcpy(zbuf, fixed, ST_HEADER_BYTES);
		zbuf[1] = ST_FLAG_ZSTD;
		zlen = ZSTD_compress(zbuf + ST_HEADER_BYTES, bound, fixed + ST_HEADER_BYTES,
							 plen, 1);
		FUZZ_ASSERT(!ZSTD_isError(zlen), "ZSTD_compress: %s", ZSTD_getErrorName(zlen));
		t3 = st_decode(zbuf, ST_HEADER_BYTES + zlen, &err2);
		FUZZ_ASSERT((t2 == NULL) == (t3 == NULL),
					"the uncompressed value %s but the compressed one %s (%s)",
					t2 ? "decodes" : "does not decode",
					t3 ? "decodes" : "does not decode", t2 ? err2.msg : err.msg);
		if (t2)
		{
			size_t		l2;
			uint8_t    *e2 = fuzz_encode(t2, &l2);

			if (e2)
			{
				fuzz_assert_encodes_to(t3, e2, l2, "compressed vs uncompressed payload");
				st_free(e2);
			}
		}
		else
			FUZZ_ASSERT(err.code == err2.code && strcmp(err.msg, err2.msg) == 0,
						"the uncompressed value fails with \"%s\", the compressed one with \"%s\"",
						err.msg, err2.msg);
		st_tree_free(t3);
		check_merge_lenient(fixed, size);
	}
	else
		check_merge_lenient(data, size);
	st_tree_free(t2);
	free(fixed);
	free(zbuf);

	/* 3. the pipeline, then again with one allocation failing */
	fuzz_run_with_injection(data, size, pipeline, NULL);
	return 0;
}
