#!/bin/bash
# fuzz/run.sh -- build the libFuzzer targets and run each for a bounded time.
#
# Targets (one per decoder; see docs/testing.md):
#   folded  fuzz/fuzz_folded.c  folded text     (st_tree_from_folded)
#   codec   fuzz/fuzz_codec.c   stored/binary   (st_decode, st_decode_merge)
#   pprof   fuzz/fuzz_pprof.c   pprof           (st_pprof_decode, gunzip)
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]     run each target SECONDS (default 60)
#        fuzz/run.sh --build-only              just build
#        fuzz/run.sh --make-seeds              rewrite fuzz/seeds/{codec,folded}
#                                              from fuzz/seeds/{pprof,folded}
#        fuzz/run.sh --repro TARGET FILE...    run a target on saved inputs
#
# The targets are built with clang -fsanitize=fuzzer,address,undefined from
# the core sources (extension/st_*.c and the generated profile.pb-c.c),
# without PGXS.  Each run starts from a scratch copy of fuzz/seeds/TARGET
# (plus fresh codec/folded seeds written by fuzz/make_seeds.c) in
# $FUZZ_WORK (default fuzz/corpus-work, git-ignored).  A crash, leak,
# sanitizer report, timeout (10 s for one input) or out-of-memory
# (2048 MB) fails the run: the script prints the saved input's path and a
# command that reproduces it, and exits non-zero after running the rest.
#
# Environment: CLANG (default clang), FUZZ_WORK, FUZZ_FLAGS (extra libFuzzer
# flags, e.g. FUZZ_FLAGS=-jobs=2).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
CLANG=${CLANG:-clang}
WORK=${FUZZ_WORK:-$ROOT/fuzz/corpus-work}
BIN=$WORK/bin
ALL_TARGETS=(folded codec pprof)

SANITIZE=address,undefined
CFLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
	-fno-sanitize-recover=all -Iextension
	-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare)
LIBS=(-lzstd -lz -lprotobuf-c)

die() {
	echo "fuzz/run.sh: $*" >&2
	exit 2
}

max_len() {
	case "$1" in
	folded) echo 65536 ;;
	codec) echo 65536 ;;
	pprof) echo 65536 ;;
	esac
}

# ------------------------------------------------------------------ build
build() {
	local src obj objs=() t
	command -v "$CLANG" >/dev/null || die "$CLANG not found (install clang and libclang-rt-14-dev)"
	if [ ! -f extension/profile.pb-c.c ] || [ ! -f extension/profile.pb-c.h ] ||
		[ extension/profile.proto -nt extension/profile.pb-c.c ]; then
		make -s extension/profile.pb-c.c >/dev/null || die "make extension/profile.pb-c.c failed"
	fi
	mkdir -p "$BIN/obj" || exit 2
	# the core, instrumented for coverage and the sanitizers
	for src in extension/st_*.c extension/profile.pb-c.c; do
		obj=$BIN/obj/$(basename "${src%.c}").o
		if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find extension -name '*.h' -newer "$obj" 2>/dev/null | head -n 1)" ] ||
			[ "$0" -nt "$obj" ]; then
			"$CLANG" "${CFLAGS[@]}" -fsanitize=fuzzer-no-link,$SANITIZE -c -o "$obj" "$src" ||
				die "compiling $src failed"
		fi
		objs+=("$obj")
	done
	for t in "${ALL_TARGETS[@]}"; do
		"$CLANG" "${CFLAGS[@]}" -Werror -fsanitize=fuzzer,$SANITIZE -o "$BIN/fuzz_$t" \
			"fuzz/fuzz_$t.c" "${objs[@]}" "${LIBS[@]}" || die "building fuzz_$t failed"
	done
	"$CLANG" "${CFLAGS[@]}" -Werror -fsanitize=$SANITIZE -o "$BIN/make_seeds" \
		fuzz/make_seeds.c "${objs[@]}" "${LIBS[@]}" || die "building make_seeds failed"
	echo "built: $(printf 'fuzz_%s ' "${ALL_TARGETS[@]}")make_seeds in $BIN"
}

# the inputs make_seeds turns into codec and folded seeds
seed_sources() {
	ls fuzz/seeds/pprof/*.pb fuzz/seeds/folded/*.txt 2>/dev/null | grep -vE '/(invalid|regress)_'
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ------------------------------------------------------------------ modes
case "${1:-}" in
--build-only)
	build
	exit 0
	;;
--make-seeds)
	build
	# regress_*: inputs that once found a bug, kept by hand
	find fuzz/seeds/codec -type f ! -name 'regress_*' -delete
	rm -f fuzz/seeds/folded/*.seed.txt
	tmp=$(mktemp -d) || exit 2
	# shellcheck disable=SC2046
	"$BIN/make_seeds" fuzz/seeds/codec "$tmp" $(seed_sources) || die "make_seeds failed"
	# folded text of the pprof seeds (the folded seeds are their own text)
	for f in "$tmp"/*.txt; do
		case "$(basename "$f")" in
		go_* | node_*) cp "$f" "fuzz/seeds/folded/$(basename "${f%.txt}").seed.txt" ;;
		esac
	done
	rm -rf "$tmp"
	du -sh fuzz/seeds fuzz/seeds/*
	exit 0
	;;
--repro)
	shift
	[ $# -ge 2 ] || die "usage: fuzz/run.sh --repro TARGET FILE..."
	t=$1
	shift
	build >/dev/null
	exec "$BIN/fuzz_$t" -rss_limit_mb=2048 -timeout=10 "$@"
	;;
-h | --help)
	sed -n '2,26p' "$0"
	exit 0
	;;
esac

SECONDS_EACH=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	SECONDS_EACH=$1
	shift
fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
	[ -f "fuzz/fuzz_$t.c" ] || die "unknown target '$t' (targets: ${ALL_TARGETS[*]})"
done

build || exit 2

# fresh seeds from the current code (the committed codec seeds may be stale)
GEN=$WORK/generated
rm -rf "$GEN"
mkdir -p "$GEN/codec" "$GEN/folded"
# shellcheck disable=SC2046
"$BIN/make_seeds" "$GEN/codec" "$GEN/folded" $(seed_sources) ||
	die "make_seeds failed on the seed profiles (a sanitizer report above is a bug)"

FAILED=()
SUMMARY=()
for t in "${TARGETS[@]}"; do
	corpus=$WORK/corpus/$t
	crashes=$WORK/crashes/$t
	log=$WORK/fuzz_$t.log
	rm -rf "$corpus" "$crashes"
	mkdir -p "$corpus" "$crashes"
	cp fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null
	[ -d "$GEN/$t" ] && cp "$GEN/$t"/* "$corpus"/ 2>/dev/null
	dict=()
	[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
	echo
	echo "=== fuzz_$t: ${SECONDS_EACH}s from $(ls "$corpus" | wc -l) seeds (log: $log)"
	# shellcheck disable=SC2086
	"$BIN/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" \
		-rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "${dict[@]}" ${FUZZ_FLAGS:-} \
		"$corpus" >"$log" 2>&1
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	[ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
	eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
	cov=$(printf '%s' "$done_line" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
	ft=$(printf '%s' "$done_line" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
	corp=$(printf '%s' "$done_line" | sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p')
	line="fuzz_$t: ${runs:-?} runs, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
	artifacts=$(ls "$crashes" 2>/dev/null)
	if [ $rc -ne 0 ] || [ -n "$artifacts" ]; then
		FAILED+=("$t")
		SUMMARY+=("FAILED $line")
		echo "FAILED fuzz_$t (exit status $rc); end of its log:"
		grep -nE 'ERROR: |invariant failed|runtime error:|SUMMARY:' "$log" | head -n 20
		tail -n 40 "$log"
		for a in $artifacts; do
			echo "crash input: $crashes/$a"
			echo "  reproduce: bash fuzz/run.sh --repro $t $crashes/$a"
		done
	else
		SUMMARY+=("ok     $line")
		echo "ok     $line"
	fi
done

echo
echo "=== fuzz summary (${SECONDS_EACH}s each)"
printf '%s\n' "${SUMMARY[@]}"
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "failed: ${FAILED[*]}"
	exit 1
fi
exit 0
