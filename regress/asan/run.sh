#!/bin/bash
# regress/asan/run.sh -- the regression suite against an AddressSanitizer
# (+ UndefinedBehaviorSanitizer) build of the extension.
#
#   bash regress/asan/run.sh [--only NAME]...     (arguments go to run_tests.sh)
#
# 1. builds and installs the normal extension (make all install, unit tests);
# 2. builds the extension again in a copy of the tree under a temp dir with
#    gcc -fsanitize=address,undefined (PGXS's PROFILE variable), so the
#    normal build in the working tree is untouched;
# 3. replaces the installed stackhouse.so with that build, and puts the
#    normal one back when it exits (EXIT trap; also on failure or ^C);
# 4. runs regress/run_tests.sh (C unit tests, pg_regress suites, integration
#    tests, on its own throwaway cluster) with PGC_BINDIR (read by
#    regress/pg_cluster.sh) pointing at a bindir whose pg_ctl starts the
#    server through a wrapper that puts gcc's libasan in LD_PRELOAD (the
#    postgres binary is not instrumented, so the runtime must come first),
#    with ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=...  Only
#    the server runs under the sanitizers; clients (psql, python) do not;
# 5. fails if any test fails or any sanitizer report file appears.
#
# The instrumented stackhouse.so cannot be loaded without the ASAN runtime,
# so while this runs (about as long as `make test`) other servers on this
# machine cannot CREATE EXTENSION stackhouse or load the library: run it
# when nothing else tests against the same installation (CI runs it alone).
#
# Debian 12 quirk: a process with libasan preloaded hangs in its first
# bindtextdomain() (postgres calls it at startup) because a library
# constructor (libgpg-error's, pulled in through gnutls/libgcrypt) calls
# bindtextdomain before ASAN is initialized, and ASAN's interceptor leaves
# glibc's _nl_state_lock corrupted.  A one-function shim preloaded after
# libasan provides bindtextdomain (forwarding to glibc's), so the
# interceptor is never used.
#
# Caveat: in the server the core allocates with palloc, whose chunks live
# inside large malloc'd blocks; ASAN sees overruns of those blocks, of the
# stack and of globals, and everything in zstd/zlib buffers, but not an
# overrun from one palloc chunk into the next.  The libFuzzer targets
# (fuzz/run.sh) run the same core code on plain malloc, where it does.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT" || exit 1
PG_CONFIG=${PG_CONFIG:-pg_config}
export PG_CONFIG

die() {
	echo "asan/run.sh: $*" >&2
	exit 2
}

ASAN_LIB=$(gcc -print-file-name=libasan.so)
case "$ASAN_LIB" in
/*) [ -e "$ASAN_LIB" ] || die "gcc's libasan.so not found ($ASAN_LIB); install gcc (build-essential)" ;;
*) die "gcc's libasan.so not found; install gcc (build-essential)" ;;
esac
ASAN_LIB=$(readlink -f "$ASAN_LIB")
LIBDIR=$("$PG_CONFIG" --pkglibdir) || die "pg_config failed"
REAL_BINDIR=$("$PG_CONFIG" --bindir) || die "pg_config failed"
[ -n "$LIBDIR" ] && [ -n "$REAL_BINDIR" ] && [ -x "$REAL_BINDIR/postgres" ] ||
	die "no PostgreSQL server binaries (pg_config --bindir = '$REAL_BINDIR'); install postgresql-15"
INSTALLED=$LIBDIR/stackhouse.so

TMP=$(mktemp -d /tmp/stackhouse-asan.XXXXXX) || exit 2
[ -d "$TMP" ] || exit 2
chmod 0755 "$TMP"
REPORTS=$TMP/reports
WRAP=$TMP/bin
BACKUP=$TMP/stackhouse.so.normal
mkdir -p "$REPORTS" "$WRAP" && chmod 1777 "$REPORTS" || exit 2

# put a library in place atomically (new inode: running servers keep the old one)
put_library() {
	cp "$1" "$LIBDIR/.stackhouse.so.asan-tmp" &&
		chmod 0755 "$LIBDIR/.stackhouse.so.asan-tmp" &&
		mv -f "$LIBDIR/.stackhouse.so.asan-tmp" "$INSTALLED"
}

RESTORE=0
cleanup() {
	if [ $RESTORE = 1 ]; then
		if put_library "$BACKUP"; then
			echo "asan/run.sh: normal stackhouse.so reinstalled in $LIBDIR"
		else
			echo "asan/run.sh: COULD NOT reinstall the normal stackhouse.so: run make install" >&2
		fi
	fi
	if [ "${STACKHOUSE_KEEP_TMP:-}" = 1 ]; then
		echo "kept $TMP"
	else
		rm -rf -- "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. normal build
echo "=== normal build and install"
make -s all install >"$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; die "make all install failed"; }
UNIT_BINS=()
for src in regress/unit/test_*.c; do
	[ -f "$src" ] && UNIT_BINS+=("${src%.c}")
done
if [ ${#UNIT_BINS[@]} -gt 0 ]; then
	make -s "${UNIT_BINS[@]}" >"$TMP/make-unit.log" 2>&1 ||
		{ cat "$TMP/make-unit.log"; die "building the unit tests failed"; }
fi
[ -f "$INSTALLED" ] || die "$INSTALLED is not installed after make install"

# ---------------------------------------------------------------- 2. ASAN build
echo "=== AddressSanitizer + UBSan build in $TMP/build"
mkdir -p "$TMP/build"
tar -C "$ROOT" --exclude=./.git --exclude=./fuzz/corpus-work --exclude=./.demo \
	--exclude='*.o' --exclude='*.bc' --exclude='*.so' -cf - . | tar -C "$TMP/build" -xf - ||
	die "copying the tree failed"
SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
make -s -C "$TMP/build" PROFILE="$SANFLAGS" all-lib >"$TMP/make-asan.log" 2>&1 ||
	{ cat "$TMP/make-asan.log"; die "the ASAN build failed"; }
ldd "$TMP/build/stackhouse.so" | grep -q libasan ||
	die "the ASAN build of stackhouse.so does not link libasan"

# ---------------------------------------------------------------- 3. the server wrapper
cat >"$TMP/nls_shim.c" <<'SHIM_SOURCE'
/* bindtextdomain without ASAN's interceptor (see regress/asan/run.sh) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

char *
bindtextdomain(const char *domain, const char *dir)
{
	static char *(*real) (const char *, const char *);

	if (real == NULL)
	{
		void	   *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);

		if (libc != NULL)
			real = (char *(*) (const char *, const char *)) dlsym(libc, "bindtextdomain");
		if (real == NULL)
			return NULL;
	}
	return real(domain, dir);
}
SHIM_SOURCE
gcc -shared -fPIC -O1 -o "$TMP/nls_shim.so" "$TMP/nls_shim.c" -ldl || die "building the NLS shim failed"

# a bindir like the real one, except for postgres and pg_ctl
for f in "$REAL_BINDIR"/*; do
	case "$(basename "$f")" in
	postgres | pg_ctl) ;;
	*) ln -s "$f" "$WRAP/$(basename "$f")" ;;
	esac
done
# the server: the real binary (so that it finds its share and lib dirs)
# under the sanitizers; backends are forked from it and inherit all this
{
	echo '#!/bin/sh'
	echo "LD_PRELOAD='$ASAN_LIB $TMP/nls_shim.so'"
	# quarantine_size_mb: ASAN keeps freed memory out of reuse to catch
	# use-after-free; its default 256 MB would dominate the backend's peak
	# memory, which test_server_safety.py bounds.  4 MB still catches frees
	# of the last few megabytes of allocations.
	echo "ASAN_OPTIONS='detect_leaks=0:quarantine_size_mb=4:abort_on_error=1:print_stacktrace=1:log_path=$REPORTS/asan'"
	echo "UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan'"
	echo 'export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS'
	echo "exec '$REAL_BINDIR/postgres' \"\$@\""
} >"$WRAP/postgres"
# pg_ctl starts that one
{
	echo '#!/bin/sh'
	echo "exec '$REAL_BINDIR/pg_ctl' -p '$WRAP/postgres' \"\$@\""
} >"$WRAP/pg_ctl"
chmod 0755 "$WRAP/postgres" "$WRAP/pg_ctl"
"$WRAP/postgres" -V >/dev/null || die "postgres does not start under ASAN ($WRAP/postgres)"

# ---------------------------------------------------------------- 4. install, run
cp -p "$INSTALLED" "$BACKUP" || die "cannot back up $INSTALLED"
RESTORE=1
put_library "$TMP/build/stackhouse.so" || die "cannot install the ASAN build into $LIBDIR"
echo "installed the ASAN build as $INSTALLED (the normal one is put back at exit)"

# positive control: a backend that ran stackhouse code has both the ASAN
# runtime and the instrumented library mapped
echo "=== probe: is the server really running the ASAN build?"
(
	export PGC_BINDIR=$WRAP
	# shellcheck source=regress/pg_cluster.sh
	source "$ROOT/regress/pg_cluster.sh"
	trap 'pgc_stop "$TMP/probe"' EXIT
	pgc_start "$TMP/probe" >"$TMP/probe.log" 2>&1 || { cat "$TMP/probe.log"; exit 1; }
	out=$(psql -X -A -t -v ON_ERROR_STOP=1 -c "CREATE EXTENSION stackhouse" \
		-c "SELECT stackhouse.total('a;b 2'::stackhouse.stacktree)" \
		-c "SELECT pg_read_file('/proc/self/maps') ~ 'libasan', pg_read_file('/proc/self/maps') ~ '$INSTALLED'" 2>&1)
	[ "$(echo "$out" | tail -n 1)" = "t|t" ] || {
		echo "a backend does not map both libasan and $INSTALLED: $out"
		exit 1
	}
	echo "a backend maps $(basename "$ASAN_LIB") and the instrumented $(basename "$INSTALLED")"
) || die "the probe server did not run the ASAN build (see above)"

echo "=== regress/run_tests.sh $* (server under ASAN + UBSan: PGC_BINDIR=$WRAP)"
PGC_BINDIR=$WRAP bash regress/run_tests.sh "$@"
rc=$?

# ---------------------------------------------------------------- 5. verdict
echo
echo "=== sanitizer reports ($REPORTS)"
shopt -s nullglob
reports=("$REPORTS"/*)
if [ ${#reports[@]} -gt 0 ]; then
	for f in "${reports[@]}"; do
		echo "--- $f"
		head -n 80 "$f"
	done
	echo "asan/run.sh: ${#reports[@]} sanitizer report(s) (above)"
	rc=1
else
	echo "none"
fi
if [ $rc -ne 0 ]; then
	echo "asan/run.sh: FAILED"
	exit 1
fi
echo "asan/run.sh: the suite passed with the server under AddressSanitizer + UBSan, no reports"
exit 0
