/*
 * st_pprof.h
 *	  pprof (profile.proto, gzipped or raw) to StTree.
 *
 * Decoding is done with protobuf-c after a capped gunzip; every index into
 * the string, function and location tables is bounds-checked.  Frames are
 * functions by default; with ST_PPROF_LINES each frame is "function
 * file:line".  Inlined frames (several Line entries in one Location) become
 * frames of their own, the last Line being the outermost caller.
 */
#ifndef ST_PPROF_H
#define ST_PPROF_H

#include "st_tree.h"

typedef enum StGranularity
{
	ST_PPROF_FUNCTIONS = 0,		/* frame = function name */
	ST_PPROF_LINES				/* frame = "function file:line" */
} StGranularity;

typedef struct StPprofOptions
{
	StGranularity granularity;

	/*
	 * Label split (used by the ingest paths): when nsplit_keys > 0, samples
	 * are grouped by their values of these string label keys and one tree
	 * is produced per distinct combination.  When 0, one tree.
	 */
	int			nsplit_keys;
	const char *const *split_keys;
} StPprofOptions;

/* One output tree and the label values it was split by. */
typedef struct StPprofPart
{
	StTree	   *tree;
	int			nlabels;
	char	  **label_keys;		/* st_alloc'd */
	char	  **label_values;
} StPprofPart;

typedef struct StPprofResult
{
	int			nparts;
	StPprofPart *parts;
	/* profile-level facts the ingest path records */
	int64_t		time_nanos;
	int64_t		duration_nanos;
	int			nsamples;
} StPprofResult;

/* true when data looks like gzip or like an uncompressed profile.proto */
extern bool st_pprof_sniff(const uint8_t *data, size_t len);

/*
 * Decode a pprof profile into one tree (no label split).  Returns NULL with
 * err filled on bad input.
 */
extern StTree *st_tree_from_pprof(const uint8_t *data, size_t len,
								  const StPprofOptions *opts, StError *err);

/* Decode with label split; parts owned by result; free with the call below. */
extern bool st_pprof_decode(const uint8_t *data, size_t len,
							const StPprofOptions *opts,
							StPprofResult *result, StError *err);
extern void st_pprof_result_free(StPprofResult *result);

/*
 * gunzip with a hard cap on the output size (gzip bombs); plain input
 * (not gzip) is returned as a copy.  *out allocated with st_alloc.
 */
extern bool st_gunzip_capped(const uint8_t *data, size_t len, size_t cap,
							 uint8_t **out, size_t *out_len, StError *err);

#endif							/* ST_PPROF_H */
