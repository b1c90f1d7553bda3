/*
 * test_pprof.c
 *	  Unit tests of the pprof decoder (st_pprof.c) against the real corpus
 *	  in regress/data (Go runtime/pprof, @datadog/pprof, pprof merges) and
 *	  Google pprof's own reports of it, plus hostile input: truncation,
 *	  random bytes, gzip bombs, bad indices, negative values, deep stacks,
 *	  huge string tables, bad UTF-8 and NUL bytes, allocation failures.
 *
 * Run from the repository root: regress/unit/test_pprof
 * UNIT_SKIP_BIG=1 skips the one test that inflates 512 MB (for valgrind).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "st_pprof.h"
#include "profile.pb-c.h"
#include "unit.h"

#define DATA "regress/data"

/* ---- allocation accounting (leak check without valgrind) and failure ---- */

static long live_allocs = 0;
static long alloc_calls = 0;
static long fail_at = -1;		/* fail the alloc_calls == fail_at call */

static void *
count_alloc(size_t n)
{
	if (fail_at >= 0 && alloc_calls++ == fail_at)
		return NULL;
	if (fail_at < 0)
		alloc_calls++;
	live_allocs++;
	return malloc(n);
}

static void *
count_realloc(void *p, size_t n)
{
	if (fail_at >= 0 && alloc_calls++ == fail_at)
		return NULL;
	if (fail_at < 0)
		alloc_calls++;
	return realloc(p, n);
}

static void
count_free(void *p)
{
	live_allocs--;
	free(p);
}

/* ---- files ---- */

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n ? n : 1);
	if (fread(buf, 1, n, f) != (size_t) n)
	{
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static char **profile_paths;
static int	nprofiles;

static int
collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	size_t		n = strlen(path);

	(void) sb;
	(void) ftw;
	if (type == FTW_F && n > 6 && strcmp(path + n - 6, ".pb.gz") == 0 &&
		(strstr(path, "/profiles/") || strstr(path, "/merges/")))
	{
		profile_paths = realloc(profile_paths, sizeof(char *) * (nprofiles + 1));
		profile_paths[nprofiles++] = strdup(path);
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* regress/data/profiles/go/mutex.pb.gz -> regress/data/oracle/go/mutex */
static void
oracle_dir(const char *profile, char *out, size_t size)
{
	const char *p = strstr(profile, "/profiles/");
	size_t		n;

	if (p)
		snprintf(out, size, DATA "/oracle/%s", p + strlen("/profiles/"));
	else
		snprintf(out, size, "%s", profile);
	n = strlen(out);
	if (strstr(profile, "/profiles/") == NULL && (p = strrchr(out, '/')) != NULL)
		out[p - out] = '\0';	/* merges/<name>/merged.pb.gz -> merges/<name> */
	else if (n > 6 && strcmp(out + n - 6, ".pb.gz") == 0)
		out[n - 6] = '\0';
}

/* ---- oracle readers ---- */

typedef struct Oracle
{
	int			ncols;
	char		type[ST_MAX_COLUMNS][64];
	char		unit[ST_MAX_COLUMNS][64];
	int			default_col;
	int64_t		total[ST_MAX_COLUMNS];
	int			nsamples;
	char		period_type[64];
	char		period_unit[64];
	int64_t		period;
} Oracle;

static bool
read_sample_types(const char *dir, Oracle *o)
{
	char		path[1024],
				line[512];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/sample_types.txt", dir);
	if (!(f = fopen(path, "r")))
		return false;
	o->ncols = 0;
	o->default_col = -1;
	while (fgets(line, sizeof(line), f) && o->ncols < ST_MAX_COLUMNS)
	{
		int			i;
		char		def[32] = "";

		if (sscanf(line, "%d %63s %63s %31s", &i, o->type[o->ncols],
				   o->unit[o->ncols], def) < 3)
			continue;
		if (strcmp(def, "default") == 0)
			o->default_col = o->ncols;
		o->ncols++;
	}
	fclose(f);
	return true;
}

/* sums of the values of every sample in pprof -raw output */
static bool
read_raw(const char *dir, Oracle *o)
{
	char		path[1024],
				line[8192];
	gzFile		gz;
	bool		in_samples = false,
				header = false;

	snprintf(path, sizeof(path), "%s/raw.txt.gz", dir);
	if (!(gz = gzopen(path, "rb")))
		return false;
	memset(o->total, 0, sizeof(o->total));
	o->nsamples = 0;
	o->period = 0;
	o->period_type[0] = o->period_unit[0] = '\0';
	while (gzgets(gz, line, sizeof(line)))
	{
		if (strncmp(line, "PeriodType: ", 12) == 0)
			sscanf(line + 12, "%63s %63s", o->period_type, o->period_unit);
		else if (strncmp(line, "Period: ", 8) == 0)
			o->period = strtoll(line + 8, NULL, 10);
		else if (strncmp(line, "Samples:", 8) == 0)
		{
			in_samples = true;
			header = true;
		}
		else if (strncmp(line, "Locations", 9) == 0)
			break;
		else if (in_samples && header)
			header = false;		/* the column names line */
		else if (in_samples)
		{
			char	   *p = line,
					   *end;
			int64_t		v[ST_MAX_COLUMNS];
			int			n = 0;

			/* "   v1  v2 ...: loc loc" ; label lines start with a key */
			for (;;)
			{
				while (*p == ' ')
					p++;
				if (*p == ':' || n >= ST_MAX_COLUMNS)
					break;
				v[n] = strtoll(p, &end, 10);
				if (end == p)
					break;
				p = end;
				n++;
			}
			if (*p != ':' || n == 0)
				continue;
			for (int i = 0; i < n; i++)
				o->total[i] += v[i];
			o->nsamples++;
		}
	}
	gzclose(gz);
	return true;
}

/* Walk a name path (root first) from the root; true when every node exists. */
static bool
tree_has_path(StTree *t, char **names, int n)
{
	uint32_t	node = 0;
	StError		err;

	for (int i = 0; i < n; i++)
	{
		uint32_t	id = st_tree_intern(t, names[i], strlen(names[i]), &err);

		if (id == UINT32_MAX)
			return false;
		node = st_tree_find_child(t, node, id);
		if (node == UINT32_MAX)
			return false;
	}
	return true;
}

/*
 * Every trace pprof -traces prints must be a root-to-node path of the tree.
 * Returns the number of traces checked (-1: no file); *maxdepth gets the
 * deepest one.
 */
static int
check_traces(StTree *t, const char *dir, int *maxdepth, int *bad)
{
	char		pattern[1024],
				line[8192];
	gzFile		gz = NULL;
	char	   *frames[ST_MAX_DEPTH];
	int			n = 0,
				ntraces = 0;
	bool		eof = false;

	*maxdepth = 0;
	*bad = 0;
	for (int i = 0; i < 8 && !gz; i++)
	{
		/* traces.<i>_<type>.txt.gz: any index gives the same paths */
		static const char *types[] = {"samples", "cpu", "alloc_objects", "goroutine",
		"contentions", "sample", "inuse_objects", NULL};

		for (int k = 0; types[k] && !gz; k++)
		{
			snprintf(pattern, sizeof(pattern), "%s/traces.%d_%s.txt.gz", dir, i, types[k]);
			gz = gzopen(pattern, "rb");
		}
	}
	if (!gz)
		return -1;
	while (!eof)
	{
		size_t		len;

		eof = gzgets(gz, line, sizeof(line)) == NULL;
		if (eof || strncmp(line, "-----------+", 12) == 0)
		{
			if (n > 0)
			{
				char	   *path[ST_MAX_DEPTH];

				for (int i = 0; i < n; i++)
					path[i] = frames[n - 1 - i];	/* leaf first -> root first */
				if (!tree_has_path(t, path, n))
				{
					if (*bad == 0)
						fprintf(stderr, "  trace not in tree (%s), leaf %s\n", dir, frames[0]);
					(*bad)++;
				}
				if (n > *maxdepth)
					*maxdepth = n;
				ntraces++;
			}
			for (int i = 0; i < n; i++)
				free(frames[i]);
			n = 0;
			continue;
		}
		len = strlen(line);
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len <= 13 || strncmp(line, "File:", 5) == 0 ||
			strncmp(line, "Type:", 5) == 0 || strncmp(line, "Time:", 5) == 0 ||
			strncmp(line, "Duration:", 9) == 0)
			continue;
		if (line[10] == ':')
			continue;			/* "      key:  value" label line */
		{
			char	   *p = line;

			if (strspn(line, " ") < 13)
			{
				/* first frame: "   value   name" */
				p += strspn(p, " ");
				p += strcspn(p, " ");
			}
			p += strspn(p, " ");
			len = strlen(p);
			if (len > 9 && strcmp(p + len - 9, " (inline)") == 0)
				p[len - 9] = '\0';
			if (n < ST_MAX_DEPTH)
				frames[n++] = strdup(p);
		}
	}
	gzclose(gz);
	return ntraces;
}

/*
 * Split by the string-label keys in tags.0_*.txt and compare every
 * key/value total of column 0 with pprof -tags.  Returns the number of
 * tag values checked, -1 on a mismatch.
 */
static int
check_tags(const uint8_t *data, size_t len, const char *dir, const StTree *whole)
{
	char		path[1024],
				line[512];
	FILE	   *f = NULL;
	char		keys[16][64];
	const char *keyp[16];
	int			nkeys = 0,
				checked = 0;
	StPprofOptions opts = {ST_PPROF_FUNCTIONS, 0, NULL};
	StPprofResult res;
	StError		err;
	char		curkey[64] = "";
	int64_t		sum0 = 0,
				whole0 = 0;

	snprintf(path, sizeof(path), "%s/tags.0_%s.txt", dir, whole->cols[0].type);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %63[^:]: Total", keys[nkeys]) == 1 && strstr(line, ": Total") &&
			strcmp(keys[nkeys], "bytes") != 0 && nkeys < 15)
		{
			keyp[nkeys] = keys[nkeys];
			nkeys++;
		}
	if (nkeys == 0)
	{
		fclose(f);
		return 0;
	}
	opts.nsplit_keys = nkeys;
	opts.split_keys = keyp;
	if (!st_pprof_decode(data, len, &opts, &res, &err))
	{
		fprintf(stderr, "  split decode failed: %s\n", err.msg);
		fclose(f);
		return -1;
	}
	/* parts partition the samples: totals add up */
	for (int i = 0; i < res.nparts; i++)
	{
		int64_t		v;

		st_tree_total(res.parts[i].tree, 0, &v, &err);
		sum0 += v;
	}
	st_tree_total(whole, 0, &whole0, &err);
	if (sum0 != whole0)
		checked = -1;
	rewind(f);
	while (checked >= 0 && fgets(line, sizeof(line), f))
	{
		char		key[64],
					val[256];
		double		expect;
		int64_t		got = 0;

		if (sscanf(line, " %63[^:]: Total", key) == 1 && strstr(line, ": Total"))
		{
			strcpy(curkey, key);
			continue;
		}
		if (strcmp(curkey, "bytes") == 0 ||
			sscanf(line, " %lf (%*[^)]): %255[^\n]", &expect, val) != 2)
			continue;
		for (int i = 0; i < res.nparts; i++)
			for (int k = 0; k < res.parts[i].nlabels; k++)
				if (strcmp(res.parts[i].label_keys[k], curkey) == 0 &&
					strcmp(res.parts[i].label_values[k], val) == 0)
				{
					int64_t		v;

					st_tree_total(res.parts[i].tree, 0, &v, &err);
					got += v;
				}
		if (got != (int64_t) (expect + 0.5))
		{
			fprintf(stderr, "  tag %s=%s: %lld, pprof says %.1f\n", curkey, val,
					(long long) got, expect);
			checked = -1;
		}
		else
			checked++;
	}
	fclose(f);
	/* labels list only the keys present, in split key order */
	for (int i = 0; i < res.nparts && checked >= 0; i++)
		for (int k = 1; k < res.parts[i].nlabels; k++)
		{
			int			a = -1,
						b = -1;

			for (int j = 0; j < nkeys; j++)
			{
				if (strcmp(keyp[j], res.parts[i].label_keys[k - 1]) == 0)
					a = j;
				if (strcmp(keyp[j], res.parts[i].label_keys[k]) == 0)
					b = j;
			}
			if (!(a >= 0 && b > a))
				checked = -1;
		}
	st_pprof_result_free(&res);
	return checked;
}

/* ---- the corpus ---- */

static void
test_corpus(void)
{
	int			ntraces_total = 0,
				ntags = 0;

	nftw(DATA "/profiles", collect, 16, FTW_PHYS);
	nftw(DATA "/oracle/merges", collect, 16, FTW_PHYS);
	qsort(profile_paths, nprofiles, sizeof(char *), cmp_str);
	CHECKF(nprofiles >= 57, "found %d profiles", nprofiles);

	for (int pi = 0; pi < nprofiles; pi++)
	{
		const char *path = profile_paths[pi];
		char		dir[1024];
		Oracle		o;
		size_t		len;
		uint8_t    *data = read_file(path, &len);
		StError		err;
		StTree	   *t;
		long		before = live_allocs;
		int			maxdepth,
					bad,
					n;

		CHECKF(data != NULL, "read %s", path);
		if (!data)
			continue;
		CHECK(st_pprof_sniff(data, len));
		oracle_dir(path, dir, sizeof(dir));
		memset(&o, 0, sizeof(o));
		CHECKF(read_sample_types(dir, &o) && read_raw(dir, &o), "oracle %s", dir);

		t = st_tree_from_pprof(data, len, NULL, &err);
		CHECKF(t != NULL, "%s: %s (%s)", path, t ? "" : err.msg, t ? "" : err.detail);
		if (!t)
		{
			free(data);
			continue;
		}
		CHECKF(t->ncols == o.ncols, "%s: %d columns, oracle %d", path, t->ncols, o.ncols);
		for (int c = 0; c < t->ncols && c < o.ncols; c++)
		{
			int64_t		total = -1;

			CHECKF(strcmp(t->cols[c].type, o.type[c]) == 0 &&
				   strcmp(t->cols[c].unit, o.unit[c]) == 0,
				   "%s col %d: %s/%s vs %s/%s", path, c, t->cols[c].type,
				   t->cols[c].unit, o.type[c], o.unit[c]);
			CHECK(st_tree_total(t, c, &total, &err));
			CHECKF(total == o.total[c], "%s col %d: total %lld, pprof -raw %lld",
				   path, c, (long long) total, (long long) o.total[c]);
		}
		CHECKF(t->default_col == o.default_col, "%s: default col %d vs %d",
			   path, t->default_col, o.default_col);
		CHECKF(t->period == o.period && t->period_type &&
			   strcmp(t->period_type, o.period_type) == 0 &&
			   strcmp(t->period_unit, o.period_unit) == 0,
			   "%s: period %s/%s %lld vs %s/%s %lld", path,
			   t->period_type ? t->period_type : "-", t->period_unit ? t->period_unit : "-",
			   (long long) t->period, o.period_type, o.period_unit, (long long) o.period);
		CHECKF(t->time_nanos > 0, "%s: time_nanos", path);

		n = check_traces(t, dir, &maxdepth, &bad);
		CHECKF(n > 0 && bad == 0, "%s: %d traces, %d not found in the tree", path, n, bad);
		CHECKF(t->max_depth == (uint32_t) maxdepth, "%s: deepest stack %u frames, pprof %d",
			   path, t->max_depth, maxdepth);
		ntraces_total += n > 0 ? n : 0;
		if (strstr(path, "cpu_hashdeep"))
			CHECKF(maxdepth == 64, "hashdeep: deepest trace %d frames (Go's 64-frame limit)",
				   maxdepth);

		n = check_tags(data, len, dir, t);
		CHECKF(n >= 0, "%s: label split disagrees with pprof -tags", path);
		ntags += n > 0 ? n : 0;

		/*
		 * pprof merges samples with the same stack and labels when it loads
		 * a profile, so -raw may list fewer samples than the file holds.
		 */
		{
			StPprofResult res;

			CHECK(st_pprof_decode(data, len, NULL, &res, &err));
			CHECKF(res.nsamples >= o.nsamples && res.nparts == 1 &&
				   res.time_nanos == t->time_nanos &&
				   res.duration_nanos == t->duration_nanos,
				   "%s: %d samples, pprof -raw %d", path, res.nsamples, o.nsamples);
			st_pprof_result_free(&res);
		}

		/* line granularity: same totals, names "func file:line" */
		{
			StPprofOptions lo = {ST_PPROF_LINES, 0, NULL};
			StTree	   *lt = st_tree_from_pprof(data, len, &lo, &err);

			CHECKF(lt != NULL, "%s lines: %s", path, lt ? "" : err.msg);
			if (lt)
			{
				int64_t		a,
							b;
				int			c = t->ncols - 1;

				st_tree_total(t, c, &a, &err);
				st_tree_total(lt, c, &b, &err);
				CHECK(a == b);
				CHECK(lt->nnodes >= t->nnodes);
				CHECK(lt->nstrings > 1 && strchr(st_tree_string(lt, 1), ':') != NULL);
				st_tree_free(lt);
			}
		}
		st_tree_free(t);
		CHECKF(live_allocs == before, "%s: %ld allocations leaked", path, live_allocs - before);
		free(data);
	}
	printf("corpus: %d profiles, %d pprof traces found as tree paths, %d label values match pprof -tags\n",
		   nprofiles, ntraces_total, ntags);
}

/* hashdeep: one full stack, root first, against the first trace of the oracle */
static void
test_hashdeep_stack(void)
{
	size_t		len;
	uint8_t    *data = read_file(DATA "/profiles/go/cpu_hashdeep.pb.gz", &len);
	StError		err;
	StTree	   *t = data ? st_tree_from_pprof(data, len, NULL, &err) : NULL;
	gzFile		gz = gzopen(DATA "/oracle/go/cpu_hashdeep/traces.1_cpu.txt.gz", "rb");
	char		line[4096];
	char	   *frames[256];
	int			n = 0,
				seps = 0;
	uint32_t	node = 0;
	bool		ok = true;

	CHECK(t != NULL && gz != NULL);
	if (!t || !gz)
		return;
	/* the first trace: lines between the first and second separators */
	while (gzgets(gz, line, sizeof(line)) && seps < 2)
	{
		char	   *p = line;
		size_t		l;

		if (strncmp(line, "-----------+", 12) == 0)
		{
			seps++;
			continue;
		}
		if (seps != 1 || line[10] == ':')
			continue;
		if (strspn(p, " ") < 13)
		{
			p += strspn(p, " ");
			p += strcspn(p, " ");
		}
		p += strspn(p, " ");
		l = strcspn(p, "\n");
		p[l] = '\0';
		if (l > 9 && strcmp(p + l - 9, " (inline)") == 0)
			p[l - 9] = '\0';
		if (n < 256)
			frames[n++] = strdup(p);
	}
	gzclose(gz);
	CHECKF(n > 40, "first hashdeep trace has %d frames", n);
	/* walk down from the root, checking the leaf is where pprof says */
	for (int i = n - 1; i >= 0 && ok; i--)
	{
		uint32_t	child = UINT32_MAX;

		for (uint32_t c = 1; c < t->nnodes; c++)
			if (t->parent[c] == node && strcmp(st_tree_string(t, t->frame[c]), frames[i]) == 0)
				child = c;
		if (child == UINT32_MAX)
		{
			fprintf(stderr, "  hashdeep: frame %d (%s) missing\n", n - 1 - i, frames[i]);
			ok = false;
		}
		node = child;
	}
	CHECK(ok);
	if (ok)
	{
		/* leaf-most frame of the trace: crypto/md5.block, with self time */
		CHECK(strcmp(st_tree_string(t, t->frame[node]), frames[0]) == 0);
		CHECK(t->values[(size_t) node * t->ncols + 1] > 0);
	}
	for (int i = 0; i < n; i++)
		free(frames[i]);
	st_tree_free(t);
	free(data);
}

/* ---- synthetic profiles built with protobuf-c ---- */

typedef struct Builder
{
	Perftools__Profiles__Profile p;
	Perftools__Profiles__ValueType vt[4];
	Perftools__Profiles__ValueType *vtp[4];
	Perftools__Profiles__ValueType period_type;
	Perftools__Profiles__Function fn[8];
	Perftools__Profiles__Function *fnp[8];
	Perftools__Profiles__Location loc[8];
	Perftools__Profiles__Location *locp[8];
	Perftools__Profiles__Line line[16];
	Perftools__Profiles__Line *linep[16];
	Perftools__Profiles__Sample smp[8];
	Perftools__Profiles__Sample *smpp[8];
	Perftools__Profiles__Label lab[8];
	Perftools__Profiles__Label *labp[8];
	uint64_t	locids[8][8];
	int64_t		vals[8][4];
	ProtobufCBinaryData str[32];
} Builder;

static int
bstr(Builder *b, const char *s, size_t len)
{
	int			i = (int) b->p.n_string_table++;

	b->str[i].data = (uint8_t *) s;
	b->str[i].len = len;
	return i;
}

#define S(b, lit) bstr((b), (lit), sizeof(lit) - 1)

/*
 * strings: 0 "", 1 samples, 2 count, 3 cpu, 4 nanoseconds, 5 main, 6 f,
 * 7 g, 8 main.go, 9 key, 10 v1, 11 v2
 * functions: 1 main, 2 f (inlined into main), 3 g
 * locations: 10 = [f, main] (inline), 20 = [g]
 * samples: [20, 10] -> main;f;g  (1, 100), [10] -> main;f (2, 200), label key=v1
 */
static void
build(Builder *b)
{
	memset(b, 0, sizeof(*b));
	perftools__profiles__profile__init(&b->p);
	b->p.string_table = b->str;
	S(b, "");
	S(b, "samples");
	S(b, "count");
	S(b, "cpu");
	S(b, "nanoseconds");
	S(b, "main");
	S(b, "f");
	S(b, "g");
	S(b, "main.go");
	S(b, "key");
	S(b, "v1");
	S(b, "v2");

	for (int i = 0; i < 2; i++)
	{
		perftools__profiles__value_type__init(&b->vt[i]);
		b->vtp[i] = &b->vt[i];
	}
	b->vt[0].type = 1;
	b->vt[0].unit = 2;
	b->vt[1].type = 3;
	b->vt[1].unit = 4;
	b->p.n_sample_type = 2;
	b->p.sample_type = b->vtp;
	perftools__profiles__value_type__init(&b->period_type);
	b->period_type.type = 3;
	b->period_type.unit = 4;
	b->p.period_type = &b->period_type;
	b->p.period = 10000000;
	b->p.time_nanos = 1234;
	b->p.duration_nanos = 5678;
	b->p.default_sample_type = 3;

	for (int i = 0; i < 3; i++)
	{
		perftools__profiles__function__init(&b->fn[i]);
		b->fnp[i] = &b->fn[i];
		b->fn[i].id = i + 1;
		b->fn[i].name = 5 + i;
		b->fn[i].filename = 8;
	}
	b->p.n_function = 3;
	b->p.function = b->fnp;

	for (int i = 0; i < 3; i++)
	{
		perftools__profiles__line__init(&b->line[i]);
		b->linep[i] = &b->line[i];
	}
	b->line[0].function_id = 2;
	b->line[0].line = 7;		/* f, inlined ... */
	b->line[1].function_id = 1;
	b->line[1].line = 3;		/* ... into main */
	b->line[2].function_id = 3;
	b->line[2].line = 12;
	for (int i = 0; i < 2; i++)
	{
		perftools__profiles__location__init(&b->loc[i]);
		b->locp[i] = &b->loc[i];
	}
	b->loc[0].id = 10;
	b->loc[0].address = 0x1000;
	b->loc[0].n_line = 2;
	b->loc[0].line = &b->linep[0];
	b->loc[1].id = 20;
	b->loc[1].address = 0x2000;
	b->loc[1].n_line = 1;
	b->loc[1].line = &b->linep[2];
	b->p.n_location = 2;
	b->p.location = b->locp;

	for (int i = 0; i < 2; i++)
	{
		perftools__profiles__sample__init(&b->smp[i]);
		b->smpp[i] = &b->smp[i];
		b->smp[i].location_id = b->locids[i];
		b->smp[i].value = b->vals[i];
		b->smp[i].n_value = 2;
		b->vals[i][0] = i + 1;
		b->vals[i][1] = (i + 1) * 100;
	}
	b->locids[0][0] = 20;
	b->locids[0][1] = 10;
	b->smp[0].n_location_id = 2;
	b->locids[1][0] = 10;
	b->smp[1].n_location_id = 1;
	perftools__profiles__label__init(&b->lab[0]);
	b->labp[0] = &b->lab[0];
	b->lab[0].key = 9;
	b->lab[0].str = 10;
	b->smp[1].n_label = 1;
	b->smp[1].label = &b->labp[0];
	b->p.n_sample = 2;
	b->p.sample = b->smpp;
}

static uint8_t *
pack(const Builder *b, size_t *len)
{
	size_t		n = perftools__profiles__profile__get_packed_size(&b->p);
	uint8_t    *buf = malloc(n ? n : 1);

	*len = perftools__profiles__profile__pack(&b->p, buf);
	return buf;
}

static uint8_t *
gzip_buf(const uint8_t *data, size_t len, size_t *outlen)
{
	z_stream	zs;
	size_t		cap = len + len / 10 + 1024;
	uint8_t    *out = malloc(cap);

	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = (Bytef *) data;
	zs.avail_in = (uInt) len;
	zs.next_out = out;
	zs.avail_out = (uInt) cap;
	deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/* Decode; expect failure with code, a message, and no leaked allocation. */
static void
expect_fail_(const uint8_t *data, size_t len, const StPprofOptions *opts,
			 StErrCode code, const char *needle, const char *what, int lineno)
{
	StError		err;
	long		before = live_allocs;
	StTree	   *t;

	memset(&err, 0, sizeof(err));
	t = st_tree_from_pprof(data, len, opts, &err);
	CHECKF(t == NULL && err.code == code && err.msg[0] != '\0' &&
		   (needle == NULL || strstr(err.msg, needle) != NULL),
		   "line %d, %s: got %s code %d \"%s\"", lineno, what,
		   t ? "success" : "failure", (int) err.code, err.msg);
	if (t)
		st_tree_free(t);
	CHECKF(live_allocs == before, "line %d, %s: %ld allocations leaked", lineno, what,
		   live_allocs - before);
}

#define expect_fail(b, code, needle, what) \
	do { \
		size_t		len_; \
		uint8_t    *buf_ = pack((b), &len_); \
		expect_fail_(buf_, len_, NULL, (code), (needle), (what), __LINE__); \
		free(buf_); \
	} while (0)

static StTree *
decode_builder(const Builder *b, const StPprofOptions *opts)
{
	size_t		len;
	uint8_t    *buf = pack(b, &len);
	StError		err;
	StTree	   *t = st_tree_from_pprof(buf, len, opts, &err);

	if (!t)
		fprintf(stderr, "  decode failed: %s (%s)\n", err.msg, err.detail);
	free(buf);
	return t;
}

/* path of names from the root; NULL-terminated */
static uint32_t
find_path(StTree *t, const char *const *names)
{
	uint32_t	node = 0;
	StError		err;

	for (int i = 0; names[i] && node != UINT32_MAX; i++)
	{
		uint32_t	id = st_tree_intern(t, names[i], strlen(names[i]), &err);

		node = id == UINT32_MAX ? UINT32_MAX : st_tree_find_child(t, node, id);
	}
	return node;
}

static void
test_synthetic(void)
{
	Builder    *b = malloc(sizeof(Builder));
	StTree	   *t;
	StError		err;

	/* the valid base profile */
	build(b);
	t = decode_builder(b, NULL);
	CHECK(t != NULL);
	if (t)
	{
		static const char *const p1[] = {"main", "f", "g", NULL};
		static const char *const p2[] = {"main", "f", NULL};
		uint32_t	n1 = find_path(t, p1),
					n2 = find_path(t, p2);

		CHECK(t->ncols == 2 && strcmp(t->cols[1].type, "cpu") == 0);
		CHECK(t->default_col == 1);
		CHECK(t->period == 10000000 && strcmp(t->period_type, "cpu") == 0 &&
			  strcmp(t->period_unit, "nanoseconds") == 0);
		CHECK(t->time_nanos == 1234 && t->duration_nanos == 5678);
		CHECK(n1 != UINT32_MAX && n2 != UINT32_MAX);
		CHECK(n1 != UINT32_MAX && t->values[n1 * 2] == 1 && t->values[n1 * 2 + 1] == 100);
		CHECK(n2 != UINT32_MAX && t->values[n2 * 2] == 2 && t->values[n2 * 2 + 1] == 200);
		CHECK(t->nnodes == 4);
		st_tree_free(t);
	}

	/* the same, gzipped, and sniffed */
	{
		size_t		len,
					glen;
		uint8_t    *raw = pack(b, &len);
		uint8_t    *gz = gzip_buf(raw, len, &glen);

		CHECK(st_pprof_sniff(raw, len));
		CHECK(st_pprof_sniff(gz, glen));
		t = st_tree_from_pprof(gz, glen, NULL, &err);
		CHECK(t != NULL && t->nnodes == 4);
		st_tree_free(t);
		free(raw);
		free(gz);
	}
	CHECK(!st_pprof_sniff((const uint8_t *) "main;foo 1\n", 11));
	CHECK(!st_pprof_sniff((const uint8_t *) "java;Foo.bar 10\n", 16));
	CHECK(!st_pprof_sniff((const uint8_t *) "2 main;x\n", 9));
	CHECK(!st_pprof_sniff((const uint8_t *) "", 0));

	/* line granularity */
	{
		StPprofOptions lo = {ST_PPROF_LINES, 0, NULL};
		static const char *const p1[] = {"main main.go:3", "f main.go:7", "g main.go:12", NULL};

		b->fn[2].filename = 0;
		t = decode_builder(b, &lo);
		CHECK(t != NULL);
		if (t)
		{
			static const char *const p2[] = {"main main.go:3", "f main.go:7", "g:12", NULL};

			CHECK(find_path(t, p2) != UINT32_MAX);
			st_tree_free(t);
		}
		build(b);
		t = decode_builder(b, &lo);
		CHECK(t != NULL && find_path(t, p1) != UINT32_MAX);
		st_tree_free(t);
	}

	/* label split: sample 0 has no label (absent, not ""), sample 1 key=v1 */
	{
		static const char *const keys[] = {"key", "other"};
		StPprofOptions so = {ST_PPROF_FUNCTIONS, 2, keys};
		StPprofResult res;
		size_t		len;
		uint8_t    *buf = pack(b, &len);
		long		before = live_allocs;

		CHECK(st_pprof_decode(buf, len, &so, &res, &err));
		CHECK(res.nparts == 2 && res.nsamples == 2 && res.time_nanos == 1234);
		if (res.nparts == 2)
		{
			CHECK(res.parts[0].nlabels == 0);
			CHECK(res.parts[1].nlabels == 1 &&
				  strcmp(res.parts[1].label_keys[0], "key") == 0 &&
				  strcmp(res.parts[1].label_values[0], "v1") == 0);
			CHECK(res.parts[0].tree->nnodes == 4 && res.parts[1].tree->nnodes == 3);
			/* parts' string tables hold only what they use */
			CHECK(res.parts[1].tree->nstrings == 2);
			CHECK(res.parts[1].tree->default_col == 1 && res.parts[1].tree->period == 10000000);
		}
		st_pprof_result_free(&res);
		CHECK(live_allocs == before);
		free(buf);
	}

	/* sparse, huge ids; unsymbolized location; system_name fallback */
	build(b);
	b->loc[0].id = UINT64_C(0xfedcba9876543210);
	b->locids[0][1] = b->loc[0].id;
	b->locids[1][0] = b->loc[0].id;
	b->loc[1].n_line = 0;		/* 0x2000, unsymbolized */
	b->fn[1].id = UINT64_C(1) << 63;
	b->line[0].function_id = b->fn[1].id;
	b->fn[0].name = 0;
	b->fn[0].system_name = 7;	/* main -> "g" */
	t = decode_builder(b, NULL);
	CHECK(t != NULL);
	if (t)
	{
		static const char *const p[] = {"g", "f", "0x2000", NULL};

		CHECK(find_path(t, p) != UINT32_MAX);
		st_tree_free(t);
	}
	/* no name at all: the address */
	build(b);
	b->fn[0].name = 0;
	t = decode_builder(b, NULL);
	if (t)
	{
		static const char *const p[] = {"0x1000", "f", "g", NULL};

		CHECK(find_path(t, p) != UINT32_MAX);
		st_tree_free(t);
	}
	else
		CHECK(t != NULL);

	/* exactly ST_MAX_DEPTH frames is fine, one more is not */
	{
		uint64_t   *ids = malloc(sizeof(uint64_t) * 100000);

		build(b);
		for (int i = 0; i < 100000; i++)
			ids[i] = 20;
		b->smp[0].location_id = ids;
		b->smp[0].n_location_id = ST_MAX_DEPTH;
		b->p.n_sample = 1;
		t = decode_builder(b, NULL);
		CHECK(t != NULL && t->max_depth == ST_MAX_DEPTH);
		st_tree_free(t);
		ids[0] = 10;			/* its 2 inlined lines make one frame too many */
		expect_fail(b, ST_ERR_LIMIT, "depth", "depth limit + 1 via inlining");
		b->smp[0].n_location_id = 100000;
		expect_fail(b, ST_ERR_LIMIT, "depth", "100000-deep stack");
		free(ids);
	}

	/* hostile indices and values */
	build(b);
	b->locids[0][1] = 99;
	expect_fail(b, ST_ERR_INVALID_BINARY, "unknown location id 99", "unknown location");
	build(b);
	b->fn[1].name = 100;
	expect_fail(b, ST_ERR_INVALID_BINARY, "string index 100", "function name out of range");
	build(b);
	b->fn[1].filename = -1;
	expect_fail(b, ST_ERR_INVALID_BINARY, "out of range", "negative string index");
	build(b);
	b->vt[1].unit = 12;
	expect_fail(b, ST_ERR_INVALID_BINARY, "out of range", "sample type unit out of range");
	build(b);
	b->lab[0].str = 50;
	expect_fail(b, ST_ERR_INVALID_BINARY, "out of range", "label value out of range");
	build(b);
	b->period_type.type = 77;
	expect_fail(b, ST_ERR_INVALID_BINARY, "out of range", "period type out of range");
	build(b);
	b->p.default_sample_type = 31;
	expect_fail(b, ST_ERR_INVALID_BINARY, "out of range", "default_sample_type out of range");
	build(b);
	b->vals[1][1] = -5;
	expect_fail(b, ST_ERR_OVERFLOW, "negative", "negative value");
	{
		size_t		len;
		uint8_t    *buf = pack(b, &len);
		StError		e2;

		CHECK(st_tree_from_pprof(buf, len, NULL, &e2) == NULL && strstr(e2.hint, "diff()"));
		free(buf);
	}
	build(b);
	b->vals[0][0] = INT64_MAX;
	b->vals[1][0] = INT64_MAX;
	b->locids[1][0] = 20;
	b->locids[0][0] = 20;
	b->smp[0].n_location_id = 1;
	expect_fail(b, ST_ERR_OVERFLOW, NULL, "sum overflows int64");
	build(b);
	b->smp[1].n_value = 1;
	expect_fail(b, ST_ERR_INVALID_BINARY, "values", "value count mismatch");
	build(b);
	b->line[2].function_id = 42;
	expect_fail(b, ST_ERR_INVALID_BINARY, "unknown function id 42", "unknown function");
	build(b);
	b->loc[1].id = 10;
	expect_fail(b, ST_ERR_INVALID_BINARY, "duplicate location", "duplicate location id");
	build(b);
	b->fn[2].id = 1;
	expect_fail(b, ST_ERR_INVALID_BINARY, "duplicate function", "duplicate function id");
	build(b);
	b->str[0].data = (uint8_t *) "x";
	b->str[0].len = 1;
	expect_fail(b, ST_ERR_INVALID_BINARY, "string_table[0]", "string_table[0] not empty");
	build(b);
	b->p.n_string_table = 0;
	b->p.n_sample = 0;
	expect_fail(b, ST_ERR_INVALID_BINARY, "string_table[0]", "no string table");
	build(b);
	b->p.n_sample_type = 0;
	expect_fail(b, ST_ERR_INVALID_BINARY, "no sample types", "no sample types");
	build(b);
	b->vt[1].type = 1;
	expect_fail(b, ST_ERR_MISMATCH, "duplicate", "duplicate sample type");
	build(b);
	b->p.period = -1;
	expect_fail(b, ST_ERR_OVERFLOW, NULL, "negative period");

	/* invalid UTF-8 and NUL in a function name: the error names the function */
	build(b);
	b->str[7].data = (uint8_t *) "g\xff\xfe";
	b->str[7].len = 3;
	expect_fail(b, ST_ERR_ENCODING, "function id 3", "invalid UTF-8 name");
	build(b);
	b->str[7].data = (uint8_t *) "g\0x";
	b->str[7].len = 3;
	expect_fail(b, ST_ERR_ENCODING, "function id 3", "NUL in a name");
	build(b);
	b->str[8].data = (uint8_t *) "a\xc0\x80.go";	/* overlong NUL in a file name */
	b->str[8].len = 6;
	{
		StPprofOptions lo = {ST_PPROF_LINES, 0, NULL};
		size_t		len;
		uint8_t    *buf = pack(b, &len);

		expect_fail_(buf, len, &lo, ST_ERR_ENCODING, "function id", "bad file name", __LINE__);
		/* unused by function granularity: fine */
		t = st_tree_from_pprof(buf, len, NULL, &err);
		CHECK(t != NULL);
		st_tree_free(t);
		free(buf);
	}
	build(b);
	b->str[10].data = (uint8_t *) "v\xff";
	b->str[10].len = 2;
	{
		static const char *const keys[] = {"key"};
		StPprofOptions so = {ST_PPROF_FUNCTIONS, 1, keys};
		StPprofResult res;
		size_t		len;
		uint8_t    *buf = pack(b, &len);
		long		before = live_allocs;

		CHECK(!st_pprof_decode(buf, len, &so, &res, &err) && err.code == ST_ERR_ENCODING &&
			  strstr(err.msg, "label"));
		CHECK(live_allocs == before && res.nparts == 0 && res.parts == NULL);
		free(buf);
	}
	build(b);
	b->str[3].data = (uint8_t *) "c\0u";
	b->str[3].len = 3;
	expect_fail(b, ST_ERR_ENCODING, NULL, "NUL in a sample type");

	/* a string table with 5,000,000 entries */
	{
		ProtobufCBinaryData *big = calloc(5000000, sizeof(ProtobufCBinaryData));

		build(b);
		memcpy(big, b->str, sizeof(b->str[0]) * b->p.n_string_table);
		b->p.string_table = big;
		b->p.n_string_table = 5000000;
		expect_fail(b, ST_ERR_LIMIT, "huge string table", "5M strings");
		free(big);
	}
	free(b);
}

/* ---- hostile bytes ---- */

static void
test_truncation_and_noise(void)
{
	size_t		len,
				rawlen;
	uint8_t    *gz = read_file(DATA "/profiles/go/mutex.pb.gz", &len);
	uint8_t    *raw;
	StError		err;
	int			ok_prefixes = 0,
				clean = 1;
	unsigned	seed = 12345;

	CHECK(gz != NULL);
	if (!gz)
		return;
	CHECK(st_gunzip_capped(gz, len, ST_MAX_RAW_BYTES, &raw, &rawlen, &err));

	/* every prefix of the gzip file: truncated gzip */
	for (size_t n = 0; n < len; n++)
	{
		long		before = live_allocs;
		StTree	   *t = st_tree_from_pprof(gz, n, NULL, &err);

		if (t != NULL || err.msg[0] == '\0' || live_allocs != before ||
			(n >= 10 && err.code != ST_ERR_INVALID_BINARY))
		{
			if (clean)
				fprintf(stderr, "  gzip prefix %zu: code %d %s\n", n, err.code, err.msg);
			clean = 0;
			st_tree_free(t);
		}
	}
	CHECK(clean);

	/* every prefix of the raw protobuf: a clean error or a (shorter) profile */
	clean = 1;
	for (size_t n = 0; n < rawlen; n++)
	{
		long		before = live_allocs;
		StTree	   *t = st_tree_from_pprof(raw, n, NULL, &err);

		if (t)
		{
			ok_prefixes++;
			st_tree_free(t);
		}
		else if (err.msg[0] == '\0' || err.code == ST_OK)
			clean = 0;
		if (live_allocs != before)
			clean = 0;
	}
	CHECK(clean);
	printf("truncation: %zu gzip prefixes fail, %zu raw prefixes: %d decode (end at a field boundary), the rest fail cleanly\n",
		   len, rawlen, ok_prefixes);

	/* bit flips in the raw and the gzip form, random buffers */
	clean = 1;
	for (int i = 0; i < 3000; i++)
	{
		uint8_t    *copy = malloc(rawlen);
		long		before = live_allocs;
		StTree	   *t;

		memcpy(copy, raw, rawlen);
		for (int k = 0; k < 1 + i % 4; k++)
		{
			seed = seed * 1103515245 + 12345;
			copy[(seed >> 8) % rawlen] ^= (uint8_t) (1 << ((seed >> 4) % 8));
		}
		t = st_tree_from_pprof(copy, rawlen, NULL, &err);
		if (!t && err.msg[0] == '\0')
			clean = 0;
		st_tree_free(t);
		if (live_allocs != before)
			clean = 0;
		free(copy);
	}
	for (int i = 0; i < 2000; i++)
	{
		size_t		n = (i * 37) % 700;
		uint8_t    *buf = malloc(n + 1);
		long		before = live_allocs;
		StTree	   *t;

		for (size_t k = 0; k < n; k++)
		{
			seed = seed * 1103515245 + 12345;
			buf[k] = (uint8_t) (seed >> 16);
		}
		if (i % 3 == 0 && n > 2)
		{
			buf[0] = 0x1f;		/* gzip header, garbage body */
			buf[1] = 0x8b;
		}
		else if (i % 3 == 1 && n > 0)
			buf[0] = 0x0a;		/* looks like a Profile */
		t = st_tree_from_pprof(buf, n, NULL, &err);
		if (!t && err.msg[0] == '\0')
			clean = 0;
		st_tree_free(t);
		if (live_allocs != before)
			clean = 0;
		free(buf);
	}
	CHECK(clean);

	/* allocation failure at every step: a clean error, nothing leaked */
	{
		long		calls;
		int			nomem = 0;

		clean = 1;
		alloc_calls = 0;
		st_tree_free(st_tree_from_pprof(gz, len, NULL, &err));
		calls = alloc_calls;
		for (long k = 0; k < calls; k++)
		{
			long		before = live_allocs;
			StTree	   *t;

			alloc_calls = 0;
			fail_at = k;
			t = st_tree_from_pprof(gz, len, NULL, &err);
			fail_at = -1;
			if (t)
				st_tree_free(t);	/* the failed call was not needed */
			else if (err.code == ST_ERR_NOMEM)
				nomem++;
			else
			{
				fprintf(stderr, "  allocation %ld failed: code %d %s\n", k, err.code, err.msg);
				clean = 0;
			}
			if (live_allocs != before)
			{
				if (clean)
					fprintf(stderr, "  leak when allocation %ld fails\n", k);
				clean = 0;
			}
		}
		CHECK(clean);
		CHECK(nomem > 0);
		printf("allocation failures: %ld injected, %d reported as out of memory\n",
			   calls, nomem);
	}
	st_free(raw);
	free(gz);

	/* the same with a label split and line granularity (goroutine profile) */
	gz = read_file(DATA "/profiles/go/goroutine.pb.gz", &len);
	CHECK(gz != NULL);
	if (gz)
	{
		static const char *const keys[] = {"tenant", "component"};
		StPprofOptions so = {ST_PPROF_LINES, 2, keys};
		StPprofResult res;
		long		calls;
		int			nomem = 0;

		clean = 1;
		alloc_calls = 0;
		CHECK(st_pprof_decode(gz, len, &so, &res, &err) && res.nparts == 4);
		st_pprof_result_free(&res);
		calls = alloc_calls;
		for (long k = 0; k < calls; k++)
		{
			long		before = live_allocs;

			alloc_calls = 0;
			fail_at = k;
			if (st_pprof_decode(gz, len, &so, &res, &err))
				st_pprof_result_free(&res);
			else if (err.code == ST_ERR_NOMEM && res.nparts == 0)
				nomem++;
			else
				clean = 0;
			fail_at = -1;
			if (live_allocs != before)
			{
				if (clean)
					fprintf(stderr, "  split: leak when allocation %ld fails\n", k);
				clean = 0;
			}
		}
		CHECK(clean);
		CHECK(nomem == calls);
		free(gz);
	}
}

static void
test_gzip(void)
{
	z_stream	zs;
	size_t		cap = 1 << 20,
				gzlen;
	uint8_t    *gz = malloc(cap);
	uint8_t    *zeros = calloc(1, 1 << 20);
	uint8_t    *out;
	size_t		outlen;
	StError		err;

	/* 10 MB of zeros -> about 10 kB of gzip */
	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
	zs.next_out = gz;
	zs.avail_out = (uInt) cap;
	for (int i = 0; i < 10; i++)
	{
		zs.next_in = zeros;
		zs.avail_in = 1 << 20;
		deflate(&zs, i == 9 ? Z_FINISH : Z_NO_FLUSH);
	}
	gzlen = zs.total_out;
	deflateEnd(&zs);

	CHECK(st_gunzip_capped(gz, gzlen, 10 << 20, &out, &outlen, &err) && outlen == 10 << 20);
	st_free(out);
	CHECK(!st_gunzip_capped(gz, gzlen, (10 << 20) - 1, &out, &outlen, &err) &&
		  err.code == ST_ERR_LIMIT && strstr(err.msg, "exceeds") && out == NULL);
	CHECK(!st_gunzip_capped(gz, gzlen, 1 << 20, &out, &outlen, &err) &&
		  err.code == ST_ERR_LIMIT && strstr(err.msg, "decompressed pprof exceeds 1048576 bytes"));
	/* truncated and corrupt */
	CHECK(!st_gunzip_capped(gz, gzlen / 2, 1 << 30, &out, &outlen, &err) &&
		  err.code == ST_ERR_INVALID_BINARY && strstr(err.msg, "truncated"));
	gz[gzlen - 6] ^= 0x55;		/* CRC-32 in the trailer */
	CHECKF(!st_gunzip_capped(gz, gzlen, 1 << 30, &out, &outlen, &err) &&
		   err.code == ST_ERR_INVALID_BINARY && strstr(err.msg, "corrupt"),
		   "corrupt: %s", err.msg);
	gz[gzlen - 6] ^= 0x55;
	gz[3] = 0xe0;				/* reserved flag bits */
	CHECK(!st_gunzip_capped(gz, gzlen, 1 << 30, &out, &outlen, &err) &&
		  err.code == ST_ERR_INVALID_BINARY);
	gz[3] = 0;
	/* plain input is copied */
	CHECK(st_gunzip_capped((const uint8_t *) "abc", 3, 100, &out, &outlen, &err) &&
		  outlen == 3 && memcmp(out, "abc", 3) == 0);
	st_free(out);

	/* two concatenated members */
	{
		size_t		l1;
		uint8_t    *m = gzip_buf((const uint8_t *) "hello ", 6, &l1);
		uint8_t    *two = malloc(2 * l1 + 1);

		memcpy(two, m, l1);
		memcpy(two + l1, m, l1);
		CHECK(st_gunzip_capped(two, 2 * l1, 100, &out, &outlen, &err) &&
			  outlen == 12 && memcmp(out, "hello hello ", 12) == 0);
		st_free(out);
		two[2 * l1] = 'x';		/* trailing garbage */
		CHECK(!st_gunzip_capped(two, 2 * l1 + 1, 100, &out, &outlen, &err) &&
			  err.code == ST_ERR_INVALID_BINARY);
		free(m);
		free(two);
	}

	/*
	 * A 600 MB bomb through the full decoder: the 512 MB cap stops it.  It
	 * needs 512 MB of memory while it runs.
	 */
	if (getenv("UNIT_SKIP_BIG") == NULL)
	{
		memset(&zs, 0, sizeof(zs));
		deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
		zs.next_out = gz;
		zs.avail_out = (uInt) cap;
		for (int i = 0; i < 600; i++)
		{
			zs.next_in = zeros;
			zs.avail_in = 1 << 20;
			deflate(&zs, i == 599 ? Z_FINISH : Z_NO_FLUSH);
		}
		gzlen = zs.total_out;
		deflateEnd(&zs);
		{
			long		before = live_allocs;
			StTree	   *t = st_tree_from_pprof(gz, gzlen, NULL, &err);

			CHECKF(t == NULL && err.code == ST_ERR_LIMIT &&
				   strstr(err.msg, "decompressed pprof exceeds 536870912 bytes"),
				   "600 MB bomb (%zu bytes): %s", gzlen, err.msg);
			CHECK(live_allocs == before);
		}
	}
	free(zeros);
	free(gz);
}

/* the pprof diff of the A/B pair has negative values: refused with a hint */
static void
test_diff_profile(void)
{
	size_t		len;
	uint8_t    *data = read_file(DATA "/oracle/diff/go_ab/diff.pb.gz", &len);

	CHECK(data != NULL);
	if (!data)
		return;
	expect_fail_(data, len, NULL, ST_ERR_OVERFLOW, "negative sample value", "diff.pb.gz",
				 __LINE__);
	free(data);
}

int
main(void)
{
	st_hooks.alloc = count_alloc;
	st_hooks.realloc = count_realloc;
	st_hooks.free = count_free;

	test_corpus();
	test_hashdeep_stack();
	test_synthetic();
	test_truncation_and_noise();
	test_gzip();
	test_diff_profile();
	for (int i = 0; i < nprofiles; i++)
		free(profile_paths[i]);
	free(profile_paths);
	CHECKF(live_allocs == 0, "%ld allocations leaked", live_allocs);
	return unit_summary();
}
