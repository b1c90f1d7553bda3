#!/bin/bash
# bench/ingest/run.sh -- ingest throughput: stackhouse-ingest (binary COPY)
# vs the psql-only path (COPY into stackhouse.inbox, decoded by the server),
# into a throwaway local server (regress/pg_cluster.sh).
#
# Usage: bench/ingest/run.sh [N_PROFILES] [--write]
#   N_PROFILES  how many profiles to load (default 3000): copies of the 30
#               real Go CPU profiles in regress/data/profiles/go/series
#   --write     replace the "## Ingest" section of docs/benchmarks.md with
#               the results (other sections are kept)
# The CLI is pinned to one core (taskset -c 0) when taskset exists; the
# server runs wherever the kernel puts it.  Run after `make && make install`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
N=3000
WRITE=0
for a in "$@"; do
	case "$a" in
	--write) WRITE=1 ;;
	[0-9]*) N=$a ;;
	*) echo "usage: $0 [N_PROFILES] [--write]" >&2; exit 2 ;;
	esac
done
CLI=$ROOT/ingest-cli/stackhouse-ingest
[ -x "$CLI" ] || { echo "build first: make" >&2; exit 2; }
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)

# shellcheck source=regress/pg_cluster.sh
source "$ROOT/regress/pg_cluster.sh"
TMP=$(mktemp -d /tmp/stackhouse-bench-ingest.XXXXXX)
chmod 0755 "$TMP"
trap 'pgc_stop "$TMP/pg"; rm -rf "$TMP"' EXIT
# BENCH_PG_CONF: extra postgresql.conf lines, e.g. "shared_preload_libraries='stackhouse'"
pgc_start "$TMP/pg" ${BENCH_PG_CONF:+"$BENCH_PG_CONF"} >/dev/null
psql -X -q -c "CREATE DATABASE bench" && export PGDATABASE=bench
psql -X -q -c "CREATE EXTENSION stackhouse"

mkdir "$TMP/files"
src=("$ROOT"/regress/data/profiles/go/series/*.pb.gz)
for ((i = 0; i < N; i++)); do
	cp "${src[i % ${#src[@]}]}" "$TMP/files/p$(printf %06d "$i").pb.gz"
done
MB=$(du -cb "$TMP"/files/* | tail -n 1 | awk '{printf "%.2f", $1 / 1048576}')

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
mbs() { awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", m / (b - a) }'; }

# 1. CLI, one row per profile
t0=$(now)
"${PIN[@]}" "$CLI" -q -s bench --split-labels none "$TMP/files"
t1=$(now)
CLI_RATE=$(rate "$N" "$t0" "$t1"); CLI_MBS=$(mbs "$MB" "$t0" "$t1")
# 2. CLI, default split by sample labels (shard: 4 rows per profile)
t0=$(now)
"${PIN[@]}" "$CLI" -q -s bench_split "$TMP/files"
t1=$(now)
SPLIT_RATE=$(rate "$N" "$t0" "$t1"); SPLIT_MBS=$(mbs "$MB" "$t0" "$t1")
# 3. psql only (docs/ci-recipe.md), one row per profile
t0=$(now)
for f in "$TMP"/files/*; do
	printf '%s\t%s\t{}\t{}\t\\\\x' "$f" bench_psql
	od -An -v -tx1 "$f" | tr -d ' \n'
	printf '\n'
done | psql -X -q -v ON_ERROR_STOP=1 -c '\copy stackhouse.inbox (name, service, labels, split_keys, data) FROM STDIN'
t1=$(now)
PSQL_RATE=$(rate "$N" "$t0" "$t1"); PSQL_MBS=$(mbs "$MB" "$t0" "$t1")

t0=$(now)
"${PIN[@]}" "$CLI" -q -n -s dry --split-labels none "$TMP/files" >/dev/null
t1=$(now)
DRY_RATE=$(rate "$N" "$t0" "$t1")

ROWS=$(psql -X -A -t -c "SELECT string_agg(service || '=' || n, ' ') FROM (SELECT service, count(*) n FROM stackhouse.profiles GROUP BY 1 ORDER BY 1) s")
RATIO=$(awk -v a="$CLI_RATE" -v b="$PSQL_RATE" 'BEGIN { printf "%.1f", a / b }')

REPORT=$(cat <<EOR
## Ingest

Command: \`${BENCH_PG_CONF:+BENCH_PG_CONF=\"$BENCH_PG_CONF\" }bash bench/ingest/run.sh $N --write\` (after \`make && make install\`), $(date -u +%Y-%m-%d),
$(nproc) cores, PostgreSQL $(psql -X -A -t -c 'SHOW server_version'), local server over a Unix socket,
CLI pinned to one core$( [ ${#PIN[@]} -eq 0 ] && echo " (no taskset: not pinned)").
Input: $N real Go CPU profiles (copies of the 30 in \`regress/data/profiles/go/series\`, $MB MB gzipped).

| path | profiles/s | MB/s (gzipped input) |
| --- | ---: | ---: |
| stackhouse-ingest, binary COPY, \`--split-labels none\` (1 row/profile) | $CLI_RATE | $CLI_MBS |
| stackhouse-ingest, binary COPY, default split (4 rows/profile) | $SPLIT_RATE | $SPLIT_MBS |
| psql only: COPY into stackhouse.inbox (server decodes) | $PSQL_RATE | $PSQL_MBS |

CLI / psql ratio (1 row per profile): **${RATIO}x**. Rows loaded: $ROWS.
Client CPU alone (\`stackhouse-ingest --dry-run --split-labels none\`, same files, one core):
$DRY_RATE profiles/s, so the CLI path is bounded by decoding on the client
(protobuf-c unpack and allocation dominate a perf profile) and by the server's
validating \`stacktree_recv\` + index maintenance, which run overlapped
(rows are streamed while the next files decode).
EOR
)
echo "$REPORT"
if [ "$WRITE" = 1 ]; then
	f=$ROOT/docs/benchmarks.md
	[ -f "$f" ] || printf '# Benchmarks\n' >"$f"
	# drop an old "## Ingest" section (up to the next "## "), keep the rest
	awk 'BEGIN { skip = 0 } /^## / { skip = ($0 == "## Ingest") } !skip' "$f" >"$f.tmp"
	printf '\n%s\n' "$REPORT" >>"$f.tmp"
	# no runs of blank lines
	cat -s "$f.tmp" >"$f" && rm -f "$f.tmp"
	echo "(written to docs/benchmarks.md)"
fi
