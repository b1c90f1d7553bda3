#!/bin/bash
# bench/merge/run.sh -- the merge benchmark: SQL merge vs `go tool pprof -proto`.
#
# Usage: bench/merge/run.sh [N ...]          (default: 100 1000 10000)
#
# Generates max(N) real-shaped CPU profiles (bench/merge/gen_profiles.py),
# starts a throwaway PostgreSQL cluster (regress/pg_cluster.sh) in a temp dir
# under /tmp, loads the profiles into t(id, tree stackhouse.stacktree) (not
# timed), then for each N:
#   sql_ms    best of 3 of  SELECT stackhouse.total(stackhouse.merge(tree))
#             FROM t WHERE id <= N   (serial: max_parallel_workers_per_gather=0),
#             wall time of the statement as measured by psql's \timing
#   pprof_ms  go tool pprof -proto -symbolize=none FILE... > /dev/null
#             (wall time; best of 3 for N <= 1000, 1 run above)
#   ratio     pprof_ms / sql_ms
# checks the merged totals of both columns against pprof's merged profile
# (summed from `go tool pprof -raw`), times the parallel plan (2 workers,
# Partial Aggregate) against the serial one, and reports stored bytes per
# profile vs the .pb.gz file.
#
# Needs the extension installed (`make install`), python3, go.
# STACKHOUSE_KEEP_TMP=1 keeps the temp dir (profiles, server log).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
NS=("$@")
[ ${#NS[@]} -gt 0 ] || NS=(100 1000 10000)
MAXN=0
for n in "${NS[@]}"; do
	case "$n" in ''|*[!0-9]*) echo "N must be a positive integer: $n" >&2; exit 2 ;; esac
	[ "$n" -gt 0 ] || { echo "N must be > 0" >&2; exit 2; }
	[ "$n" -gt "$MAXN" ] && MAXN=$n
done

# shellcheck source=regress/pg_cluster.sh
source "$ROOT/regress/pg_cluster.sh"

TMP=$(mktemp -d /tmp/stackhouse-bench-merge.XXXXXX)
chmod 0755 "$TMP"
CLUSTER=$TMP/pg
cleanup() {
	pgc_stop "$CLUSTER"
	if [ "${STACKHOUSE_KEEP_TMP:-}" = 1 ]; then
		echo "kept $TMP"
	else
		rm -rf -- "$TMP"
	fi
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
now_us() { echo $(( $(date +%s%N) / 1000 )); }

# ---- machine --------------------------------------------------------------
echo "== machine"
echo "cpus:       $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))"
echo "memory:     $(free -m | awk '/^Mem:/ {print $2}') MB"
echo "postgres:   $(pg_config --version)"
echo "go:         $(go version)"
echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- profiles -------------------------------------------------------------
echo
echo "== generating $MAXN profiles"
PROF=$TMP/profiles
t0=$(now_ms)
python3 "$ROOT/bench/merge/gen_profiles.py" "$PROF" "$MAXN"
echo "   ($(( $(now_ms) - t0 )) ms)"
mapfile -t FILES < <(printf '%s\n' "$PROF"/cpu_*.pb.gz | sort)
[ ${#FILES[@]} -eq "$MAXN" ] || { echo "expected $MAXN files, got ${#FILES[@]}" >&2; exit 1; }
# parse check: the first two files
for f in "${FILES[@]:0:2}"; do
	go tool pprof -raw "$f" >/dev/null 2>"$TMP/pprof.err" ||
		{ cat "$TMP/pprof.err" >&2; echo "go tool pprof cannot read $f" >&2; exit 1; }
done

# ---- server and load ------------------------------------------------------
echo
echo "== loading into a throwaway cluster (not timed)"
pgc_start "$CLUSTER" "shared_buffers = '1GB'" "max_parallel_workers_per_gather = 2" \
	"max_worker_processes = 8" "max_parallel_workers = 8" "jit = off"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d bench)
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE bench"
"${PSQL[@]}" -c "CREATE EXTENSION stackhouse"

python3 - "$TMP/load.copy" "${FILES[@]}" <<'EOF'
import sys
out = sys.argv[1]
with open(out, "w") as f:
    for i, p in enumerate(sys.argv[2:], 1):
        f.write("%d\t\\\\x%s\n" % (i, open(p, "rb").read().hex()))
EOF
t0=$(now_ms)
"${PSQL[@]}" <<EOF
CREATE TABLE staging (id integer PRIMARY KEY, data bytea);
\\copy staging (id, data) from '$TMP/load.copy'
CREATE TABLE t (id integer PRIMARY KEY, tree stackhouse.stacktree);
INSERT INTO t SELECT id, stackhouse.stacktree_from_pprof(data) FROM staging ORDER BY id;
CREATE TABLE filesizes AS SELECT id, length(data) AS gz_bytes FROM staging;
DROP TABLE staging;
VACUUM ANALYZE t;
VACUUM ANALYZE filesizes;
EOF
rm -f "$TMP/load.copy"
echo "   loaded $("${PSQL[@]}" -Atc "SELECT count(*) FROM t") rows in $(( $(now_ms) - t0 )) ms"
# warm the cache (shared buffers + OS) for every N
"${PSQL[@]}" -Atc "SELECT sum(stackhouse.node_count(tree)) FROM t" >/dev/null

# sql_best SETTINGS N RUNS: best \timing of the merge query, in ms
sql_best() {
	local settings=$1 n=$2 runs=$3 script
	script="$settings"$'\n'"\\timing on"$'\n'
	for _ in $(seq 1 "$runs"); do
		script+="SELECT stackhouse.total(stackhouse.merge(tree)) FROM t WHERE id <= $n;"$'\n'
	done
	"${PSQL[@]}" -At <<<"$script" | awk '/^Time: / { v = $2 + 0; if (best == "" || v < best) best = v } END { printf "%.1f\n", best }'
}
SERIAL="SET max_parallel_workers_per_gather = 0;"
PARALLEL="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"

# sum_raw FILE: "samples cpu" totals of a pprof file, from `go tool pprof -raw`
sum_raw() {
	go tool pprof -raw "$1" 2>/dev/null | awk '
		/^Samples:/ { s = 1; next }
		/^Locations/ { s = 0 }
		s && /^ *[0-9]+( +[0-9]+)*: / {
			sub(/:.*/, ""); n = split($0, v, " ")
			a += v[1]; if (n > 1) b += v[2]
		}
		END { printf "%.0f %.0f\n", a, b }'
}

# ---- serial merge vs pprof ------------------------------------------------
echo
printf '%s\n' '== merge: SQL (serial, best of 3, psql \timing) vs go tool pprof -proto (wall)'
declare -A SQL_MS PPROF_MS CHECK
for n in "${NS[@]}"; do
	SQL_MS[$n]=$(sql_best "$SERIAL" "$n" 3)
	runs=3
	[ "$n" -gt 1000 ] && runs=1
	best=""
	for _ in $(seq 1 "$runs"); do
		t0=$(now_us)
		go tool pprof -proto -symbolize=none "${FILES[@]:0:$n}" >/dev/null 2>"$TMP/pprof.err" ||
			{ cat "$TMP/pprof.err" >&2; exit 1; }
		el=$(( $(now_us) - t0 ))
		if [ -z "$best" ] || [ "$el" -lt "$best" ]; then best=$el; fi
	done
	PPROF_MS[$n]=$(awk -v u="$best" 'BEGIN { printf "%.1f\n", u / 1000 }')
	echo "   N=$n sql ${SQL_MS[$n]} ms, pprof ${PPROF_MS[$n]} ms ($runs run(s))"

	# correctness (untimed): both columns of SQL's merge vs pprof's merged profile
	go tool pprof -proto -symbolize=none "${FILES[@]:0:$n}" >"$TMP/merged.pb.gz" 2>/dev/null
	want=$(sum_raw "$TMP/merged.pb.gz")
	got=$("${PSQL[@]}" -At -F' ' -c "$SERIAL SELECT stackhouse.total(m, 'samples'), stackhouse.total(m, 'cpu')
		FROM (SELECT stackhouse.merge(tree) AS m FROM t WHERE id <= $n) s")
	if [ "$want" = "$got" ]; then
		CHECK[$n]="ok"
	else
		CHECK[$n]="MISMATCH(sql=$got pprof=$want)"
	fi
	echo "   N=$n totals samples,cpu: sql [$got] pprof [$want] -> ${CHECK[$n]}"
done

# pprof's fixed cost (process start via `go tool`, one file), for context
best=""
for _ in 1 2 3; do
	t0=$(now_us)
	go tool pprof -proto -symbolize=none "${FILES[0]}" >/dev/null 2>&1
	el=$(( $(now_us) - t0 ))
	if [ -z "$best" ] || [ "$el" -lt "$best" ]; then best=$el; fi
done
PPROF_ONE_MS=$(awk -v u="$best" 'BEGIN { printf "%.1f\n", u / 1000 }')

# ---- parallel -------------------------------------------------------------
echo
echo "== parallel merge (2 workers) at N=$MAXN"
"${PSQL[@]}" -At >"$TMP/plan.txt" <<EOF
$PARALLEL
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)
SELECT stackhouse.total(stackhouse.merge(tree)) FROM t WHERE id <= $MAXN;
EOF
sed 's/^/   /' "$TMP/plan.txt"
if grep -q "Partial Aggregate" "$TMP/plan.txt" && grep -q "Workers Launched: [12]" "$TMP/plan.txt"; then
	PLAN_OK="Partial Aggregate, $(grep -o 'Workers Launched: [0-9]*' "$TMP/plan.txt")"
else
	PLAN_OK="NOT PARALLEL"
fi
PAR_MS=$(sql_best "$PARALLEL" "$MAXN" 3)
par_total=$("${PSQL[@]}" -At <<<"$PARALLEL SELECT stackhouse.total(stackhouse.merge(tree)) FROM t WHERE id <= $MAXN;")
ser_total=$("${PSQL[@]}" -At <<<"$SERIAL SELECT stackhouse.total(stackhouse.merge(tree)) FROM t WHERE id <= $MAXN;")
[ "$par_total" = "$ser_total" ] && PAR_CHECK=ok || PAR_CHECK="MISMATCH($par_total vs $ser_total)"

# ---- storage --------------------------------------------------------------
read -r AVG_STORED AVG_GZ TABLE_BYTES <<<"$("${PSQL[@]}" -At -F' ' -c "
	SELECT round(avg(pg_column_size(t.tree))), round(avg(f.gz_bytes)),
	       pg_total_relation_size('t')
	FROM t JOIN filesizes f USING (id)")"
AVG_RAW=$(python3 - "${FILES[@]}" <<'EOF'
import gzip, sys
print(round(sum(len(gzip.decompress(open(p, "rb").read())) for p in sys.argv[1:]) / (len(sys.argv) - 1)))
EOF
)
AVG_GZ9=$(python3 - "${FILES[@]}" <<'EOF'
import gzip, sys
print(round(sum(len(gzip.compress(gzip.decompress(open(p, "rb").read()), 9)) for p in sys.argv[1:]) / (len(sys.argv) - 1)))
EOF
)

# ---- report ---------------------------------------------------------------
echo
echo "== results"
printf '%8s %12s %12s %10s  %s\n' N sql_ms pprof_ms ratio "totals check"
for n in "${NS[@]}"; do
	printf '%8s %12s %12s %9sx  %s\n' "$n" "${SQL_MS[$n]}" "${PPROF_MS[$n]}" \
		"$(awk -v a="${PPROF_MS[$n]}" -v b="${SQL_MS[$n]}" 'BEGIN { printf "%.1f", a / b }')" "${CHECK[$n]}"
done
echo "(go tool pprof -proto on 1 file: $PPROF_ONE_MS ms, i.e. its fixed start-up cost)"
echo
printf 'parallel (2 workers) N=%s: serial %s ms, parallel %s ms, speedup %sx  [%s; totals %s]\n' \
	"$MAXN" "${SQL_MS[$MAXN]}" "$PAR_MS" \
	"$(awk -v a="${SQL_MS[$MAXN]}" -v b="$PAR_MS" 'BEGIN { printf "%.2f", a / b }')" "$PLAN_OK" "$PAR_CHECK"
echo
echo "storage per profile (N=$MAXN):"
printf '   stored pg_column_size(tree)   %8s bytes\n' "$AVG_STORED"
printf '   .pb.gz file (gzip level 1)    %8s bytes   stored/file = %s\n' "$AVG_GZ" \
	"$(awk -v a="$AVG_STORED" -v b="$AVG_GZ" 'BEGIN { printf "%.3f", a / b }')"
printf '   same, recompressed gzip -9    %8s bytes   stored/file = %s\n' "$AVG_GZ9" \
	"$(awk -v a="$AVG_STORED" -v b="$AVG_GZ9" 'BEGIN { printf "%.3f", a / b }')"
printf '   uncompressed .pb              %8s bytes\n' "$AVG_RAW"
printf '   table t incl. TOAST + index   %8s bytes per row\n' "$(( TABLE_BYTES / MAXN ))"
echo
echo "load avg at end: $(cut -d' ' -f1-3 /proc/loadavg)  (other processes on the machine skew both sides)"
