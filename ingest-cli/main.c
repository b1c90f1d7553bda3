/*
 * main.c
 *	  stackhouse-ingest: load pprof profiles (gzipped or raw) and folded
 *	  stacks into stackhouse.profiles.  Decoding happens here, with the same
 *	  core code as the extension (ingest-cli/ingest_shared.h); rows go to the
 *	  server as binary COPY batches, one transaction per batch; inputs whose
 *	  rows the server refuses are found and reported, the others loaded.
 *	  Reference: docs/cli.md (options, exit codes).
 */
#include "ingest.h"
#include "ingest_shared.h"

#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "st_codec.h"

typedef struct Options
{
	const char *conninfo;
	const char *host;
	const char *port;
	const char *user;
	const char *service;
	const char *type;
	char	  **lkeys;
	char	  **lvals;
	int			nlabels;
	bool		split_all;
	char	  **split;
	int			nsplit;
	bool		have_time;
	int64_t		time_nanos;
	bool		have_duration;
	int64_t		duration_nanos;
	long		batch_rows;
	size_t		batch_bytes;
	bool		dry_run;
	bool		quiet;
	int			progress;		/* -1 auto, 0 off, 1 on */
	const char *ensure_ahead;
	SendMethod	method;
	PasswordPrompt password;
} Options;

typedef struct Stats
{
	size_t		files;			/* inputs seen */
	size_t		files_loaded;
	size_t		files_bad;
	size_t		args_bad;		/* arguments that could not be listed */
	size_t		rows;			/* rows committed (or decoded, dry run) */
	uint64_t	bytes;			/* input bytes of loaded files */
	size_t		pending_files;	/* in the current batch */
	size_t		pending_rows;
	uint64_t	pending_bytes;
} Stats;

static const char *progname = "stackhouse-ingest";

/* stream a batch's rows to the server in pieces of this size */
#define STREAM_BYTES (256 * 1024)

static void
usage(FILE *f)
{
	fprintf(f,
			"stackhouse-ingest loads profiles into stackhouse.profiles.\n"
			"\n"
			"Usage:\n"
			"  stackhouse-ingest [OPTION]... FILE|DIR|- ...\n"
			"\n"
			"Inputs: pprof profiles (gzipped or raw profile.proto) and folded stacks\n"
			"(\"main;f;g 42\" lines, plain or gzipped), detected by content.  A directory\n"
			"is read recursively; \"-\" reads one profile from standard input.\n"
			"\n"
			"What is stored:\n"
			"  -s, --service=NAME       service column (or --label service=NAME)\n"
			"  -l, --label=KEY=VALUE    add a label to every row (repeatable; wins over\n"
			"                           labels taken from the profile)\n"
			"      --split-labels=MODE  split pprof samples into one row per distinct set of\n"
			"                           label values: \"all\" (default: every string label\n"
			"                           key the samples use), \"none\", or KEY[,KEY...]\n"
			"  -t, --type=NAME          profile_type (default: derived from the sample types:\n"
			"                           cpu, wall, heap, goroutine, contention, or the\n"
			"                           default sample type's name)\n"
			"      --time=TIME          ts of every row, overriding the profile's time_nanos\n"
			"                           (Unix seconds or ISO 8601, UTC unless an offset is\n"
			"                           given); profiles without a time get the current time\n"
			"      --duration=DUR       duration of every row (seconds, or 500ms, 2m, 1h),\n"
			"                           overriding the profile's duration_nanos\n"
			"\n"
			"Connection (libpq: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, .pgpass...):\n"
			"  -d, --dbname=CONNINFO    database name or connection string / URI\n"
			"  -h, --host=HOST          server host or socket directory\n"
			"  -p, --port=PORT          server port\n"
			"  -U, --username=USER      database user\n"
			"  -w, --no-password        never prompt for a password\n"
			"  -W, --password           prompt for a password before connecting (default:\n"
			"                           prompt when the server asks for one and standard\n"
			"                           input is a terminal)\n"
			"\n"
			"Loading:\n"
			"      --batch-rows=N       rows per COPY batch / transaction (default 1000)\n"
			"      --batch-mb=N         flush a batch at N MB of encoded rows (default 32)\n"
			"      --method=M           auto (default: binary COPY, INSERT when row-level\n"
			"                           security refuses COPY), copy, or insert\n"
			"      --ensure-partitions[=AHEAD]  call stackhouse.ensure_partitions(AHEAD,\n"
			"                           default '7 days') first (needs table ownership)\n"
			"  -n, --dry-run            decode only, print one line per row (input, ts,\n"
			"                           duration s, service, type, labels, default total)\n"
			"  -q, --quiet              no progress line, no summary\n"
			"      --progress / --no-progress  force the progress line on or off (default:\n"
			"                           on when standard error is a terminal)\n"
			"  -V, --version            print the version and exit\n"
			"  -?, --help               print this help and exit\n"
			"\n"
			"Exit status: 0 all inputs loaded; 1 some inputs were bad or refused by the\n"
			"server (each one reported, the others loaded); 2 usage error; 3 connection\n"
			"or server error (batches committed before the error stay loaded).\n");
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t
wall_nanos(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
report_bad(const char *path, const char *msg, const char *detail)
{
	fprintf(stderr, "%s: %s: %s%s%s%s\n", progname,
			strcmp(path, "-") == 0 ? "(standard input)" : path, msg,
			detail && *detail ? " (" : "", detail ? detail : "",
			detail && *detail ? ")" : "");
}

/* --label KEY=VALUE: 1 added, 0 invalid, -1 out of memory */
static int
add_label(Options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char	  **k,
			  **v;
	char	   *key,
			   *val;

	if (eq == NULL || eq == arg)
		return 0;
	if (!st_valid_name(arg, (size_t) (eq - arg)) || !st_valid_name(eq + 1, strlen(eq + 1)))
		return 0;
	if (strncmp(arg, "service=", 8) == 0)
	{
		if (o->service == NULL)
			o->service = eq + 1;
		return 1;
	}
	k = realloc(o->lkeys, sizeof(char *) * (o->nlabels + 1));
	if (k)
		o->lkeys = k;
	v = realloc(o->lvals, sizeof(char *) * (o->nlabels + 1));
	if (v)
		o->lvals = v;
	if (!k || !v)
		return -1;
	key = strndup(arg, (size_t) (eq - arg));
	val = strdup(eq + 1);
	if (key == NULL || val == NULL)
	{
		free(key);
		free(val);
		return -1;
	}
	o->lkeys[o->nlabels] = key;
	o->lvals[o->nlabels] = val;
	o->nlabels++;
	return 1;
}

/* --split-labels: 1 parsed, 0 invalid, -1 out of memory */
static int
parse_split(Options *o, const char *arg)
{
	char	   *copy,
			   *tok,
			   *save = NULL;

	o->split_all = false;
	o->nsplit = 0;
	if (strcmp(arg, "all") == 0)
	{
		o->split_all = true;
		return 1;
	}
	if (strcmp(arg, "none") == 0)
		return 1;
	/* the keys point into copy, which lives as long as the options */
	copy = strdup(arg);
	if (o->split == NULL)
		o->split = calloc(SH_MAX_SPLIT_KEYS, sizeof(char *));
	if (copy == NULL || o->split == NULL)
	{
		free(copy);
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		if (*tok == '\0')
			continue;
		if (o->nsplit >= SH_MAX_SPLIT_KEYS)
			return 0;
		o->split[o->nsplit++] = tok;
	}
	return o->nsplit > 0 ? 1 : 0;
}

/* JSON object: the part's sample labels, then --label pairs (later wins) */
static char *
labels_json(const Options *o, const StPprofPart *p)
{
	StBuf		b;
	bool		first = true;

	st_buf_init(&b, 128);
	st_buf_putc(&b, '{');
	for (int i = 0; i < p->nlabels; i++)
	{
		bool		overridden = false;

		for (int j = 0; j < o->nlabels && !overridden; j++)
			overridden = strcmp(o->lkeys[j], p->label_keys[i]) == 0;
		if (overridden)
			continue;
		if (!first)
			st_buf_putc(&b, ',');
		first = false;
		sh_json_string(&b, p->label_keys[i]);
		st_buf_putc(&b, ':');
		sh_json_string(&b, p->label_values[i]);
	}
	for (int j = 0; j < o->nlabels; j++)
	{
		if (!first)
			st_buf_putc(&b, ',');
		first = false;
		sh_json_string(&b, o->lkeys[j]);
		st_buf_putc(&b, ':');
		sh_json_string(&b, o->lvals[j]);
	}
	st_buf_putc(&b, '}');
	st_buf_putc(&b, '\0');
	if (b.oom)
	{
		st_buf_free(&b);
		return NULL;
	}
	return (char *) b.data;
}

static void
format_time(int64_t nanos, char *buf, size_t len)
{
	time_t		s = (time_t) (nanos / 1000000000LL);
	struct tm	tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int) ((nanos % 1000000000LL) / 1000));
}

/*
 * Decode one input and add its rows to the batch (or print them, dry run).
 * Returns the number of rows, or -1 when the input is bad (reported).
 */
static long
load_one(const Options *o, const char *path, const uint8_t *data, size_t len,
		 int64_t default_time, Batch *batch)
{
	StPprofResult res;
	ShKind		kind;
	StError		err;
	long		nrows = 0;

	memset(&err, 0, sizeof(err));
	if (!sh_decode(data, len, o->split_all, (const char *const *) o->split,
				   o->nsplit, &res, &kind, &err))
	{
		report_bad(path, err.msg, err.detail);
		return -1;
	}
	for (int i = 0; i < res.nparts; i++)
	{
		StTree	   *t = res.parts[i].tree;
		int64_t		ts = o->have_time ? o->time_nanos :
			res.time_nanos > 0 ? res.time_nanos : default_time;
		int64_t		dur = o->have_duration ? o->duration_nanos :
			res.duration_nanos > 0 ? res.duration_nanos : 0;
		const char *type = o->type ? o->type : sh_profile_type(t);
		char	   *labels = labels_json(o, &res.parts[i]);
		uint8_t    *enc;
		size_t		enclen;

		if (labels == NULL)
		{
			report_bad(path, "out of memory", NULL);
			nrows = -1;
			break;
		}
		enc = st_encode(t, &enclen, &err);
		if (enc == NULL)
		{
			report_bad(path, err.msg, err.detail);
			free(labels);
			nrows = -1;
			break;
		}
		if (o->dry_run)
		{
			char		tbuf[64];
			int64_t		total = 0;
			StError		e2;

			format_time(ts, tbuf, sizeof(tbuf));
			st_tree_total(t, st_tree_effective_default(t), &total, &e2);
			printf("%s\t%s\t%.3f\t%s\t%s\t%s\t%s=%lld\n",
				   strcmp(path, "-") == 0 ? "(standard input)" : path, tbuf,
				   dur / 1e9, o->service ? o->service : "", type, labels,
				   t->cols[st_tree_effective_default(t)].type, (long long) total);
		}
		else if (!batch_add(batch, ts, dur, o->service, labels, type, enc, enclen, 1))
		{
			report_bad(path, "out of memory", NULL);
			st_free(enc);
			free(labels);
			nrows = -1;
			break;
		}
		st_free(enc);
		free(labels);
		nrows++;
	}
	st_pprof_result_free(&res);
	return nrows;
}

static void
progress(const Stats *s, size_t total, double start, bool final)
{
	double		el = now_seconds() - start;

	fprintf(stderr, "\r%s: %zu/%zu files, %zu rows, %.1f MB, %.0f files/s%s",
			progname, s->files, total, s->rows + s->pending_rows,
			(s->bytes + s->pending_bytes) / 1048576.0,
			el > 0 ? s->files / el : 0.0, final ? "\n" : "  ");
	fflush(stderr);
}

/* the rows of an input were refused by the server: say which and why */
static void
report_refused(const BatchInput *in, const char *why, void *arg)
{
	const InputList *inputs = (const InputList *) arg;

	report_bad(inputs->paths[in->tag], why, NULL);
}

static bool
ensure_partitions(PGconn *conn, const char *ahead)
{
	const char *params[1] = {ahead};
	PGresult   *res = PQexecParams(conn,
								   "SELECT stackhouse.ensure_partitions($1::interval)",
								   1, NULL, params, NULL, NULL, 0);
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "%s: stackhouse.ensure_partitions failed: %s", progname,
				PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}

enum
{
	OPT_SPLIT = 256, OPT_TIME, OPT_DURATION, OPT_BATCH_ROWS, OPT_BATCH_MB,
	OPT_METHOD, OPT_ENSURE, OPT_PROGRESS, OPT_NO_PROGRESS
};

static void
out_of_memory(void)
{
	fprintf(stderr, "%s: out of memory\n", progname);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"service", required_argument, NULL, 's'},
		{"label", required_argument, NULL, 'l'},
		{"split-labels", required_argument, NULL, OPT_SPLIT},
		{"type", required_argument, NULL, 't'},
		{"time", required_argument, NULL, OPT_TIME},
		{"duration", required_argument, NULL, OPT_DURATION},
		{"dbname", required_argument, NULL, 'd'},
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"username", required_argument, NULL, 'U'},
		{"no-password", no_argument, NULL, 'w'},
		{"password", no_argument, NULL, 'W'},
		{"batch-rows", required_argument, NULL, OPT_BATCH_ROWS},
		{"batch-mb", required_argument, NULL, OPT_BATCH_MB},
		{"method", required_argument, NULL, OPT_METHOD},
		{"ensure-partitions", optional_argument, NULL, OPT_ENSURE},
		{"dry-run", no_argument, NULL, 'n'},
		{"quiet", no_argument, NULL, 'q'},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
	Options		o;
	Stats		st;
	InputList	inputs;
	Batch		batch;
	PGconn	   *conn = NULL;
	char		errbuf[2048];
	int			c,
				rc;
	int			exit_code = EXIT_ALL_LOADED;
	bool		server_failed = false;
	bool		show_progress;
	double		start,
				last_progress = 0;
	int64_t		default_time = wall_nanos();
	size_t		batch_bytes = 0;	/* encoded bytes in the current batch */

	/*
	 * Decoding a profile allocates and frees many small and a few large
	 * blocks; keep freed memory in the process instead of trimming and
	 * re-mapping it for every input (measured: ~15% of the CPU time).
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	mallopt(M_TOP_PAD, 16 << 20);

	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	memset(&inputs, 0, sizeof(inputs));
	o.split_all = true;
	o.batch_rows = 1000;
	o.batch_bytes = (size_t) 32 << 20;
	o.progress = -1;
	o.method = METHOD_AUTO;
	o.password = PROMPT_AUTO;

	/* "-?" and "--help" before anything else, as PostgreSQL's tools do */
	while ((c = getopt_long(argc, argv, "s:l:t:d:h:p:U:wWnqV?", longopts, NULL)) != -1)
	{
		char	   *end;

		switch (c)
		{
			case 's':
				o.service = optarg;
				break;
			case 'l':
				rc = add_label(&o, optarg);
				if (rc < 0)
				{
					out_of_memory();
					return EXIT_USAGE;
				}
				if (rc == 0)
				{
					fprintf(stderr, "%s: invalid --label \"%s\": expected KEY=VALUE (UTF-8, non-empty key)\n",
							progname, optarg);
					return EXIT_USAGE;
				}
				break;
			case OPT_SPLIT:
				rc = parse_split(&o, optarg);
				if (rc < 0)
				{
					out_of_memory();
					return EXIT_USAGE;
				}
				if (rc == 0)
				{
					fprintf(stderr, "%s: invalid --split-labels \"%s\": all, none, or up to %d comma-separated keys\n",
							progname, optarg, SH_MAX_SPLIT_KEYS);
					return EXIT_USAGE;
				}
				break;
			case 't':
				o.type = optarg;
				break;
			case OPT_TIME:
				if (!parse_time(optarg, &o.time_nanos))
				{
					fprintf(stderr, "%s: invalid --time \"%s\": Unix seconds or ISO 8601 (2024-05-01T12:00:00Z)\n",
							progname, optarg);
					return EXIT_USAGE;
				}
				o.have_time = true;
				break;
			case OPT_DURATION:
				if (!parse_duration(optarg, &o.duration_nanos))
				{
					fprintf(stderr, "%s: invalid --duration \"%s\": seconds, or a number with ms, s, m or h\n",
							progname, optarg);
					return EXIT_USAGE;
				}
				o.have_duration = true;
				break;
			case 'd':
				o.conninfo = optarg;
				break;
			case 'h':
				o.host = optarg;
				break;
			case 'p':
				o.port = optarg;
				break;
			case 'U':
				o.user = optarg;
				break;
			case 'w':
				o.password = PROMPT_NEVER;
				break;
			case 'W':
				o.password = PROMPT_ALWAYS;
				break;
			case OPT_BATCH_ROWS:
				o.batch_rows = strtol(optarg, &end, 10);
				if (*end || o.batch_rows < 1 || o.batch_rows > 1000000)
				{
					fprintf(stderr, "%s: invalid --batch-rows \"%s\": 1 to 1000000\n", progname, optarg);
					return EXIT_USAGE;
				}
				break;
			case OPT_BATCH_MB:
				{
					long		mb = strtol(optarg, &end, 10);

					if (*end || mb < 1 || mb > 1024)
					{
						fprintf(stderr, "%s: invalid --batch-mb \"%s\": 1 to 1024\n", progname, optarg);
						return EXIT_USAGE;
					}
					o.batch_bytes = (size_t) mb << 20;
				}
				break;
			case OPT_METHOD:
				if (strcmp(optarg, "auto") == 0)
					o.method = METHOD_AUTO;
				else if (strcmp(optarg, "copy") == 0)
					o.method = METHOD_COPY;
				else if (strcmp(optarg, "insert") == 0)
					o.method = METHOD_INSERT;
				else
				{
					fprintf(stderr, "%s: invalid --method \"%s\": auto, copy or insert\n", progname, optarg);
					return EXIT_USAGE;
				}
				break;
			case OPT_ENSURE:
				o.ensure_ahead = optarg ? optarg : "7 days";
				break;
			case 'n':
				o.dry_run = true;
				break;
			case 'q':
				o.quiet = true;
				break;
			case OPT_PROGRESS:
				o.progress = 1;
				break;
			case OPT_NO_PROGRESS:
				o.progress = 0;
				break;
			case 'V':
				printf("stackhouse-ingest (stackhouse) %s\n", INGEST_VERSION);
				return EXIT_ALL_LOADED;
			case '?':
				if (optopt == 0 || optopt == '?')
				{
					/* -? / --help (getopt also returns '?' for errors: optopt set) */
					if (strcmp(argv[optind - 1], "-?") == 0 ||
						strcmp(argv[optind - 1], "--help") == 0)
					{
						usage(stdout);
						return EXIT_ALL_LOADED;
					}
				}
				fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
				return EXIT_USAGE;
			default:
				fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
				return EXIT_USAGE;
		}
	}
	if (optind >= argc)
	{
		fprintf(stderr, "%s: no input: give files, directories, or - for standard input\n"
				"Try \"%s --help\" for more information.\n", progname, progname);
		return EXIT_USAGE;
	}
	if (o.service == NULL && !o.dry_run)
	{
		fprintf(stderr, "%s: no service: give --service NAME or --label service=NAME\n"
				"Try \"%s --help\" for more information.\n", progname, progname);
		return EXIT_USAGE;
	}
	if (o.service && !st_valid_name(o.service, strlen(o.service)))
	{
		fprintf(stderr, "%s: the service name is not valid UTF-8\n", progname);
		return EXIT_USAGE;
	}
	if (o.type && (o.type[0] == '\0' || !st_valid_name(o.type, strlen(o.type))))
	{
		fprintf(stderr, "%s: invalid --type\n", progname);
		return EXIT_USAGE;
	}
	{
		int			nstdin = 0;

		for (int i = optind; i < argc; i++)
			nstdin += strcmp(argv[i], "-") == 0;
		if (nstdin > 1)
		{
			fprintf(stderr, "%s: \"-\" (standard input) can be given only once\n", progname);
			return EXIT_USAGE;
		}
	}

	for (int i = optind; i < argc; i++)
	{
		if (!inputs_add(&inputs, argv[i], errbuf, sizeof(errbuf)))
		{
			report_bad(argv[i], errbuf[0] ? errbuf : "out of memory", NULL);
			st.files_bad++;
			st.args_bad++;
			exit_code = EXIT_SOME_BAD;
		}
	}

	show_progress = !o.quiet && !o.dry_run &&
		(o.progress == 1 || (o.progress == -1 && isatty(STDERR_FILENO)));

	if (!o.dry_run)
	{
		conn = connect_db(progname, o.conninfo, o.host, o.port, o.user, o.password);
		if (conn == NULL)
			return EXIT_SERVER;
		if (o.ensure_ahead && !ensure_partitions(conn, o.ensure_ahead))
		{
			PQfinish(conn);
			return EXIT_SERVER;
		}
	}

	batch_init(&batch);
	start = now_seconds();
	for (size_t i = 0; i <= inputs.n && !server_failed; i++)
	{
		const char *path;
		uint8_t    *data;
		size_t		len;
		size_t		before,
					before_rows;
		bool		before_header;
		long		n;

		if (i == inputs.n)
			goto flush;			/* after the last input: send what is left */
		path = inputs.paths[i];
		st.files++;
		if (!read_input(path, &data, &len, errbuf, sizeof(errbuf)))
		{
			report_bad(path, errbuf, NULL);
			st.files_bad++;
			exit_code = EXIT_SOME_BAD;
			continue;
		}
		before = batch.copy.len;
		before_rows = batch.nrows;
		before_header = batch.header_done;
		n = load_one(&o, path, data, len, default_time, &batch);
		free(data);
		if (n >= 0 && !o.dry_run && !batch_end_input(&batch, i, (size_t) n, len))
		{
			report_bad(path, "out of memory", NULL);
			n = -1;
		}
		if (n < 0)
		{
			/* drop the rows a bad input had added before it failed */
			batch.copy.len = before;
			batch.nrows = before_rows;
			batch.header_done = before_header;
			st.files_bad++;
			exit_code = EXIT_SOME_BAD;
			continue;
		}
		batch_bytes += batch.copy.len - before;
		st.pending_files++;
		st.pending_rows += (size_t) n;
		st.pending_bytes += len;
		if (!o.dry_run && batch.copy.len - batch.sent >= STREAM_BYTES &&
			!batch_stream(conn, &batch, &o.method, errbuf, sizeof(errbuf)))
		{
			if (show_progress)
				fputc('\n', stderr);
			fprintf(stderr, "%s: %s\n%s: %zu inputs of the failed batch were not loaded\n",
					progname, errbuf, progname, st.pending_files);
			server_failed = true;
			exit_code = EXIT_SERVER;
			break;
		}

flush:
		if (o.dry_run || i == inputs.n ||
			batch.nrows >= (size_t) o.batch_rows || batch_bytes >= o.batch_bytes)
		{
			if (o.dry_run)
			{
				st.files_loaded += st.pending_files;
				st.rows += st.pending_rows;
				st.bytes += st.pending_bytes;
			}
			else
			{
				SendResult	r = batch_send(conn, &batch, &o.method, errbuf, sizeof(errbuf));
				size_t		not_loaded = 0;

				/*
				 * The server refused some rows: send the batch again in
				 * parts to find the inputs at fault (each reported), and
				 * load the others.
				 */
				if (r == SEND_REFUSED)
					r = batch_send_parts(conn, &batch, &o.method, report_refused,
										 &inputs, errbuf, sizeof(errbuf));
				for (size_t k = 0; k < batch.ninputs; k++)
				{
					const BatchInput *in = &batch.inputs[k];

					if (in->state == INPUT_LOADED)
					{
						st.files_loaded++;
						st.rows += in->nrows;
						st.bytes += in->in_bytes;
					}
					else if (in->state == INPUT_REFUSED)
					{
						st.files_bad++;
						exit_code = EXIT_SOME_BAD;
					}
					else
						not_loaded++;
				}
				if (r == SEND_FAILED)
				{
					if (show_progress)
						fputc('\n', stderr);
					fprintf(stderr, "%s: %s\n%s: %zu inputs of the failed batch were not loaded\n",
							progname, errbuf, progname, not_loaded);
					server_failed = true;
					exit_code = EXIT_SERVER;
				}
			}
			st.pending_files = st.pending_rows = 0;
			st.pending_bytes = 0;
			batch_bytes = 0;
			batch_reset(&batch);
		}
		if (show_progress && now_seconds() - last_progress > 0.2)
		{
			progress(&st, inputs.n, start, false);
			last_progress = now_seconds();
		}
	}
	if (show_progress)
		progress(&st, inputs.n, start, true);

	if (!o.quiet)
	{
		double		el = now_seconds() - start;

		if (el <= 0)
			el = 1e-9;
		fprintf(stderr,
				"%s: %s %zu of %zu inputs (%zu bad), %zu rows, %.2f MB in %.3f s: "
				"%.1f profiles/s, %.2f MB/s\n",
				progname, o.dry_run ? "decoded" : "loaded", st.files_loaded,
				st.files + st.args_bad, st.files_bad, st.rows,
				st.bytes / 1048576.0, el, st.files_loaded / el,
				st.bytes / 1048576.0 / el);
	}
	batch_free(&batch);
	inputs_free(&inputs);
	if (conn)
		PQfinish(conn);
	return exit_code;
}
