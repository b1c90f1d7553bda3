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

# load the profiles client side (\copy), so the server never reads our files
shopt -s nullglob
FILES=(regress/data/profiles/go/series/*.pb.gz)
[ ${#FILES[@]} -gt 0 ] || { echo "demo: no profiles in regress/data/profiles/go/series" >&2; exit 1; }
python3 - "${FILES[@]}" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "regress", "tests"))
import sthelper
paths = sys.argv[1:]
n = sthelper.load_files("demo_profiles", [(os.path.basename(p), p) for p in paths], db="demo")
print("== loaded %d pprof files into table demo_profiles (name text, data bytea)" % n)
EOF

MERGED="(SELECT stackhouse.merge(stackhouse.stacktree_from_pprof(data)) FROM demo_profiles)"
echo
echo "== SELECT * FROM stackhouse.top_functions($MERGED, 15);"
"${PSQL[@]}" -d demo -P footer=off -c "SELECT * FROM stackhouse.top_functions($MERGED, 15)"

# The SVG flame graph function comes with the flame graph work
# (stackhouse.flamegraph_svg); until it exists, write folded stacks, which any
# flame graph tool (flamegraph.pl, speedscope, inferno) reads.
has_svg=$("${PSQL[@]}" -d demo -A -t -c "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'stackhouse' AND p.proname = 'flamegraph_svg'")
rm -f "$OUT/flame.svg" "$OUT/flame.folded"
if [ "$has_svg" != 0 ]; then
	"${PSQL[@]}" -d demo -A -t -o "$OUT/flame.svg" -c "SELECT stackhouse.flamegraph_svg($MERGED)"
	echo
	echo "== flame graph: $OUT/flame.svg (open it in a browser)"
else
	# one value per stack (the profile's default column), as flamegraph.pl wants;
	# the type's own text form carries every column and a header
	"${PSQL[@]}" -d demo -A -t -o "$OUT/flame.folded" -c \
		"SELECT array_to_string(frames, ';') || ' ' || value FROM stackhouse.stacks($MERGED) WHERE value <> 0"
	echo
	echo "== folded stacks: $OUT/flame.folded ($(wc -l <"$OUT/flame.folded") stacks; feed it to flamegraph.pl or speedscope)"
fi

pgc_stop "$CLUSTER"
trap - EXIT
PORT=$(cat "$CLUSTER/port")
cat <<EOF

== the demo server is stopped.  To start it again and look around:
     source regress/pg_cluster.sh && pgc_start $CLUSTER && psql demo
   (pgc_start exports PGHOST=$CLUSTER PGPORT=$PORT PGUSER=postgres)
   and to stop it:  pgc_stop $CLUSTER
EOF
