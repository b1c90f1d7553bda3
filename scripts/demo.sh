#!/bin/bash
# scripts/demo.sh -- `make demo`: a throwaway server with the extension, the
# 30-profile Go CPU series loaded, the top functions of their merge, and a
# flame graph.  Run `make demo` (it builds and installs first).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
# shellcheck source=regress/pg_cluster.sh
source "$ROOT/regress/pg_cluster.sh"

OUT=$ROOT/.demo
mkdir -p "$OUT"

# The cluster lives in .demo/pg, unless the server's OS user (postgres, when
# we are root) cannot reach the project folder -- e.g. a clone under /root.
CLUSTER=$OUT/pg
if ! pgc_owner_can_use "$CLUSTER" 2>/dev/null; then
	CLUSTER=/tmp/stackhouse-demo
	echo "note: the 'postgres' OS user cannot reach $ROOT;"
	echo "      the demo server lives in $CLUSTER instead (outputs still go to $OUT)"
fi

# throwaway: start from scratch every time
pgc_destroy "$CLUSTER"
trap 'pgc_stop "$CLUSTER"' EXIT

echo "== starting a throwaway PostgreSQL server in $CLUSTER"
pgc_start "$CLUSTER"

PSQL=(psql -X -v ON_ERROR_STOP=1 -q)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE demo"
"${PSQL[@]}" -d demo -c "CREATE EXTENSION stackhouse"
echo "== database demo, extension stackhouse $("${PSQL[@]}" -d demo -A -t -c "SELECT extversion FROM pg_extension WHERE extname = 'stackhouse'")"

# load the profiles with the ingest CLI (decoded client side, binary COPY)
shopt -s nullglob
FILES=(regress/data/profiles/go/series/*.pb.gz)
[ ${#FILES[@]} -gt 0 ] || { echo "demo: no profiles in regress/data/profiles/go/series" >&2; exit 1; }
echo "== stackhouse-ingest -d demo --service demo-api --label env=demo regress/data/profiles/go/series"
"$ROOT/ingest-cli/stackhouse-ingest" -d demo --service demo-api --label env=demo regress/data/profiles/go/series

echo
echo "== rows in stackhouse.profiles, per profile type and shard label"
"${PSQL[@]}" -d demo -P footer=off -c "SELECT profile_type, labels->>'shard' AS shard, count(*) AS rows, min(ts) AS first, max(ts) AS last FROM stackhouse.profiles GROUP BY 1, 2 ORDER BY 1, 2"

MERGED="(SELECT stackhouse.merge(tree) FROM stackhouse.profiles WHERE service = 'demo-api' AND profile_type = 'cpu')"
echo
echo "== the CPU of service demo-api by function, all 30 profiles merged:"
echo "   SELECT function, self, total, round(total_pct::numeric, 1) AS total_pct"
echo "   FROM stackhouse.top_functions($MERGED, 15, 'cpu');"
"${PSQL[@]}" -d demo -P footer=off -c "SELECT function, self, total, round(total_pct::numeric, 1) AS total_pct FROM stackhouse.top_functions($MERGED, 15, 'cpu')"

rm -f "$OUT/flame.svg"
"${PSQL[@]}" -d demo -A -t -o "$OUT/flame.svg" -c "SELECT stackhouse.flamegraph_svg($MERGED, 'demo-api: CPU, 30 profiles')"
echo
echo "== flame graph: $OUT/flame.svg ($(wc -c <"$OUT/flame.svg") bytes; open it in a browser)"

pgc_stop "$CLUSTER"
trap - EXIT
PORT=$(cat "$CLUSTER/port")
cat <<EOF

== the demo server is stopped.  To start it again and look around:
     source regress/pg_cluster.sh && pgc_start $CLUSTER && psql demo
   (pgc_start exports PGHOST=$CLUSTER PGPORT=$PORT PGUSER=postgres)
   and to stop it:  pgc_stop $CLUSTER
EOF
