#!/bin/bash
# regress/run_tests.sh -- the `make test` driver.
#
# Starts a throwaway PostgreSQL server (regress/pg_cluster.sh) in a temp dir
# under /tmp, then runs
#   1. C unit tests       regress/unit/test_*   (executables built by make)
#   2. pg_regress         regress/sql/*.sql vs regress/expected/*.out
#                         (database stackhouse_regress, --load-extension=stackhouse)
#   3. integration tests  regress/tests/test_*.py (python3) and test_*.sh (bash),
#                         with PGHOST PGPORT PGUSER PGDATABASE STACKHOUSE_ROOT
#                         STACKHOUSE_TMP STACKHOUSE_PG_CLUSTER exported
# and prints "N passed, N failed" (suites/files; pg_regress per test) last.
#
# Usage: regress/run_tests.sh [--only NAME]...   (substring match on test names;
#        repeatable).  STACKHOUSE_KEEP_TMP=1 keeps the temp dir (server log).
#
# No test has a wall-clock limit.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PG_CONFIG=${PG_CONFIG:-pg_config}
export PG_CONFIG

ONLY=()
while [ $# -gt 0 ]; do
	case "$1" in
	--only) [ $# -ge 2 ] || { echo "--only needs a NAME" >&2; exit 2; }; ONLY+=("$2"); shift 2 ;;
	--only=*) ONLY+=("${1#--only=}"); shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "unknown argument: $1 (usage: $0 [--only NAME]...)" >&2; exit 2 ;;
	esac
done

selected() {
	[ ${#ONLY[@]} -eq 0 ] && return 0
	local pat
	for pat in "${ONLY[@]}"; do
		case "$1" in *"$pat"*) return 0 ;; esac
	done
	return 1
}

PASSED=0
FAILED=0
FAILED_NAMES=()
pass() { PASSED=$((PASSED + 1)); echo "ok     $1"; }
fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); echo "FAILED $1${2:+ ($2)}"; }
section() { echo; echo "=== $* ==="; }

# shellcheck source=regress/pg_cluster.sh
source "$ROOT/regress/pg_cluster.sh"

TMP=$(mktemp -d /tmp/stackhouse-test.XXXXXX) || exit 1
chmod 0755 "$TMP"
CLUSTER=$TMP/pg

cleanup() {
	pgc_stop "$CLUSTER"
	if [ "${STACKHOUSE_KEEP_TMP:-}" = 1 ]; then
		echo "kept $TMP (server log: $CLUSTER/log)"
	else
		rm -rf -- "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$ROOT" || exit 1

# ---------------------------------------------------------------- unit tests
section "C unit tests (regress/unit)"
shopt -s nullglob
for src in regress/unit/test_*.c; do
	bin=${src%.c}
	name=unit/$(basename "$bin")
	selected "$name" || continue
	if [ ! -x "$bin" ]; then
		fail "$name" "not built: run make"
		continue
	fi
	echo "--- $name"
	out=$("./$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	nfail=$(printf '%s' "$summary" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed$/\1/p')
	if [ $rc -ne 0 ]; then
		fail "$name" "exit status $rc"
	elif [ -z "$summary" ]; then
		fail "$name" "no 'N passed, N failed' line"
	elif [ "$nfail" != 0 ]; then
		fail "$name" "$nfail failed"
	else
		pass "$name"
	fi
done

# ---------------------------------------------------------------- the server
section "server"
if ! pgc_start "$CLUSTER"; then
	fail "server start"
	echo
	echo "$PASSED passed, $FAILED failed"
	exit 1
fi
echo "server running: PGHOST=$PGHOST PGPORT=$PGPORT ($(psql -X -A -t -c 'SHOW server_version' 2>&1))"
export STACKHOUSE_ROOT=$ROOT STACKHOUSE_TMP=$TMP STACKHOUSE_PG_CLUSTER=$ROOT/regress/pg_cluster.sh
mkdir -p "$TMP/scratch" && chmod 0777 "$TMP/scratch"

# ---------------------------------------------------------------- pg_regress
section "pg_regress (regress/sql)"
PG_REGRESS=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
REGRESS_TESTS=()
for f in regress/sql/*.sql; do
	t=$(basename "$f" .sql)
	selected "$t" && REGRESS_TESTS+=("$t")
done
if [ ${#REGRESS_TESTS[@]} -gt 0 ]; then
	rm -rf regress/results regress/regression.diffs regress/regression.out
	"$PG_REGRESS" --inputdir=regress --outputdir=regress \
		--bindir="$("$PG_CONFIG" --bindir)" \
		--host="$PGHOST" --port="$PGPORT" --user=postgres \
		--dbname=stackhouse_regress --load-extension=stackhouse \
		"${REGRESS_TESTS[@]}" 2>&1 | tee "$TMP/pg_regress.out"
	rc=${PIPESTATUS[0]}
	counted=0
	for t in "${REGRESS_TESTS[@]}"; do
		# PG15 lines: "test NAME ... ok  12 ms" / "     NAME ... FAILED" (in parallel groups)
		line=$(grep -E "^(test | +)$t +\.\.\. " "$TMP/pg_regress.out" | tail -n 1)
		if [ -z "$line" ]; then
			continue
		fi
		counted=$((counted + 1))
		if printf '%s' "$line" | grep -qE '\.\.\. +ok( |$)'; then
			pass "regress/$t"
		else
			fail "regress/$t"
		fi
	done
	if [ $counted -eq 0 ] && [ $rc -ne 0 ]; then
		fail "pg_regress" "exit status $rc, no test ran"
	elif [ $counted -lt ${#REGRESS_TESTS[@]} ]; then
		fail "pg_regress" "only $counted of ${#REGRESS_TESTS[@]} tests reported"
	fi
	if [ -s regress/regression.diffs ]; then
		echo "--- regress/regression.diffs:"
		cat regress/regression.diffs
	fi
else
	echo "(no pg_regress tests selected)"
fi

# ---------------------------------------------------------------- integration
section "integration tests (regress/tests)"
for f in regress/tests/test_*.py regress/tests/test_*.sh; do
	name=tests/$(basename "$f")
	selected "$name" || continue
	echo "--- $name"
	case "$f" in
	*.py) python3 "$f" </dev/null ;;
	*.sh) bash "$f" </dev/null ;;
	esac
	rc=$?
	if [ $rc -eq 0 ]; then pass "$name"; else fail "$name" "exit status $rc"; fi
done

# ---------------------------------------------------------------- server health
section "server log"
SERVER_LOG=$(pgc_log "$CLUSTER")
if grep -qE 'terminated by signal (4|6|7|8|11)\b|was terminated by exception|PANIC:' "$SERVER_LOG" 2>/dev/null; then
	grep -nE -B2 -A2 'terminated by signal (4|6|7|8|11)\b|was terminated by exception|PANIC:' "$SERVER_LOG"
	fail "server log" "a backend crashed (see above)"
else
	echo "no backend crashes in the server log"
fi

if [ $FAILED -gt 0 ] || [ "${STACKHOUSE_SHOW_LOG:-}" = 1 ]; then
	echo "--- last 60 lines of the server log:"
	tail -n 60 "$SERVER_LOG"
fi

section "summary"
if [ $FAILED -gt 0 ]; then
	echo "failed: ${FAILED_NAMES[*]}"
fi
if [ $((PASSED + FAILED)) -eq 0 ]; then
	echo "no test ran${ONLY[0]:+ (nothing matched --only ${ONLY[*]})}"
	FAILED=1
fi
echo "$PASSED passed, $FAILED failed"
if [ $FAILED -gt 0 ]; then
	exit 1
fi
exit 0
