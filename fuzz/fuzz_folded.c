/*
 * fuzz_folded.c
 *	  libFuzzer target for the folded-stack text decoder (st_tree_from_folded,
 *	  what stacktree_in runs on every text value a client sends).
 *
 * An accepted input goes through fuzz_exercise (fuzz_common.h): encoding,
 * the text round trip, merging and top functions, with invariants checked.
 * Then the input is parsed once more with one allocation failing, which
 * must give ST_ERR_NOMEM and leak nothing.
 *
 * Build and run: fuzz/run.sh (see docs/testing.md).
 */
#include "fuzz_common.h"

/* parse, encode and print: the pipeline also run under allocation failure */
static void
pipeline(const uint8_t *data, size_t size, FuzzOutcome *o)
{
	StError		err;
	StTree	   *t = st_tree_from_folded((const char *) data, size, &err);
	uint8_t    *enc = NULL;
	char	   *text = NULL;
	size_t		len = 0,
				tlen;

	if (t != NULL)
	{
		text = st_tree_to_folded(t, &tlen, &err);
		if (text != NULL)
			enc = st_encode(t, &len, &err);
	}
	fuzz_outcome_set(o, enc, len, &err);
	st_free(text);
	st_tree_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StError		err;
	StTree	   *t;

	fuzz_hooks_count();
	t = st_tree_from_folded((const char *) data, size, &err);
	if (t == NULL)
		FUZZ_ASSERT_ERROR(&err);
	else
	{
		fuzz_exercise(t);
		st_tree_free(t);
	}

	/* the pipeline, then again with one allocation failing */
	fuzz_run_with_injection(data, size, pipeline, NULL);
	return 0;
}
