#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [--seconds N] [--debug] [TARGET ...]
#
# Runs apppass's libFuzzer targets (fuzz/fuzz_targets/*.rs) on the STABLE toolchain: the
# targets are built with LLVM's SanitizerCoverage instrumentation (-Cpasses=sancov-module, the
# flags cargo-fuzz uses) but without a sanitizer, which is what needs nightly. libFuzzer itself
# comes from the libfuzzer-sys crate (built with the C++ compiler of build-essential).
# Each target runs for N seconds (default 30) over a copy of its corpus (fuzz/corpus/TARGET),
# so the checked-in corpus never changes; new inputs stay in the copy. A crash stops the run
# with libFuzzer's report and the crashing input's path; turn that input into a regression test.
# Prints the executions per target. --debug builds without optimisation (faster to build, for
# a smoke run). With nightly and cargo-fuzz, `cargo +nightly fuzz run TARGET` works as usual.
set -euo pipefail
APPPASS_SCRIPT=fuzz
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT"
ensure_cargo_on_path

seconds=30
profile=release
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --debug) profile=debug; shift ;;
        -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) die "unknown option '$1'" ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$APPPASS_ROOT/target/fuzz"
# --target keeps these flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
build=(cargo build --manifest-path fuzz/Cargo.toml --target "$triple")
[ "$profile" = release ] && build+=(--release)
for t in "${targets[@]}"; do build+=(--bin "$t"); done
say "building ${targets[*]} ($profile, $triple)"
"${build[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/apppass-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$work/$t/"
    say "running $t for ${seconds}s"
    log="$work/$t.log"
    if ! "$CARGO_TARGET_DIR/$triple/$profile/$t" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$work/$t-" "$work/$t" >"$log" 2>&1; then
        tail -40 "$log" >&2
        crash=$(ls "$work/$t-"* 2>/dev/null | head -1 || true)
        if [ -n "$crash" ]; then
            mkdir -p target/fuzz-crashes
            cp "$crash" target/fuzz-crashes/
            die "$t found a crash: target/fuzz-crashes/$(basename "$crash") (make it a regression test)"
        fi
        die "$t failed"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    corpus=$(find "$work/$t" -type f | wc -l)
    say "$t: ${runs:-?} executions in ${seconds}s, no crash; corpus ${corpus} inputs"
done
