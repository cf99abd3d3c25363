#!/usr/bin/env bash
# Usage: scripts/test.sh
#
# The one entry point for the whole test suite (CI runs it through .ci/run).
# Installs what is missing (scripts/setup.sh --test), then runs every step
# below in order. A failing step fails the script, but the remaining steps
# still run. Each step's output is also saved in .test-run/logs/.
#
#   setup              scripts/setup.sh --test
#   fmt                cargo fmt --all -- --check
#   ui:npm-ci          npm ci in ui/ (only when node_modules is out of date)
#   ui:lint            npm run lint
#   ui:check           npm run check (only if package.json defines it)
#   ui:test            npm test (vitest)
#   ui:build           npm run build
#   clippy             cargo clippy --workspace --all-targets -- -D warnings
#   bindings           scripts/check-bindings.sh
#   keyring-harness    scripts/selftest-keyring.sh
#   cargo-test         scripts/with-keyring.sh cargo test --workspace
#   bench-bridge       bench/bridge.rs as a smoke run (APPPASS_BENCH_QUICK=1, test profile,
#                      ~10 s): fails only when a command fails through the bridge
#   fuzz-smoke         scripts/fuzz.sh --debug --seconds 15: every libFuzzer target on stable
#                      (~2 min with the build); fails on a crash
#   e2e                scripts/e2e.sh (skipped if absent)
#
# The UI is built before clippy because compiling the app crate embeds
# ui/dist (tauri::generate_context! fails when the frontendDist folder is
# missing). The last line printed is "N passed, M failed" (", K skipped").
set -uo pipefail
APPPASS_SCRIPT="test"
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT" || exit 1
ensure_cargo_on_path

if [ "${CI:-}" = true ]; then
    export CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0
fi

logdir="$APPPASS_ROOT/.test-run/logs"
rm -rf "$logdir"
mkdir -p "$logdir"

t0=$(date +%s.%N)
names=()
results=()
times=()

elapsed_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

# run_step NAME COMMAND... : runs COMMAND with no stdin, output to the
# terminal and to .test-run/logs/NN-NAME.log; records pass/fail and time.
run_step() {
    local name="$1"
    shift
    local n=$((${#names[@]} + 1))
    local log
    log="$logdir/$(printf '%02d' "$n")-${name//:/-}.log"
    printf '\n==== [%d] %s (at %ss): %s\n' "$n" "$name" "$(elapsed_since "$t0")" "$*"
    local s rc=0
    s=$(date +%s.%N)
    "$@" </dev/null 2>&1 | tee "$log" || rc=$?
    local d
    d=$(elapsed_since "$s")
    names+=("$name")
    times+=("$d")
    if [ "$rc" -eq 0 ]; then
        results+=(pass)
        printf '==== [%d] %s: PASS in %ss\n' "$n" "$name" "$d"
    else
        results+=(FAIL)
        printf '==== [%d] %s: FAIL (exit %d) in %ss; log: %s\n' "$n" "$name" "$rc" "$d" "${log#"$APPPASS_ROOT"/}"
    fi
}

skip_step() { # NAME REASON
    names+=("$1")
    results+=(skip)
    times+=(-)
    printf '\n==== [%d] %s: SKIPPED (%s)\n' "${#names[@]}" "$1" "$2"
}

has_npm_script() { # NAME: true if ui/package.json defines scripts.NAME
    node -e 'const s = require("./package.json").scripts || {}; process.exit(s[process.argv[1]] ? 0 : 1)' "$1" \
        2>/dev/null
}

in_ui() { (cd "$APPPASS_ROOT/ui" && "$@"); }

# --- the steps ----------------------------------------------------------------
run_step setup bash scripts/setup.sh --test
ensure_cargo_on_path # setup may just have made cargo available

run_step fmt cargo fmt --all -- --check

if [ -f ui/package.json ]; then
    if [ ! -f ui/package-lock.json ]; then
        run_step ui:npm-ci sh -c 'echo "ui/package-lock.json is missing: run npm install in ui/ and commit it" >&2; exit 1'
    elif ui_deps_fresh; then
        skip_step ui:npm-ci "ui/node_modules already matches package-lock.json"
    else
        run_step ui:npm-ci in_ui npm ci --no-audit --no-fund
    fi
    run_step ui:lint in_ui npm run lint
    if (cd ui && has_npm_script check); then
        run_step ui:check in_ui npm run check
    else
        skip_step ui:check "ui/package.json has no \"check\" script"
    fi
    run_step ui:test in_ui npm test
    run_step ui:build in_ui npm run build
else
    skip_step ui "ui/package.json does not exist yet"
fi

run_step clippy cargo clippy --workspace --all-targets -- -D warnings
run_step bindings bash scripts/check-bindings.sh
run_step keyring-harness bash scripts/selftest-keyring.sh
APPPASS_REQUIRE_KEYRING=1 run_step cargo-test scripts/with-keyring.sh cargo test --workspace
APPPASS_BENCH_QUICK=1 run_step bench-bridge cargo test -p apppass-core --bench bridge
run_step fuzz-smoke bash scripts/fuzz.sh --debug --seconds 15

if [ -f scripts/e2e.sh ]; then
    run_step e2e bash scripts/e2e.sh
else
    skip_step e2e "scripts/e2e.sh does not exist yet"
fi

# --- summary ------------------------------------------------------------------
passed=0
failed=0
skipped=0
printf '\n==== summary (total %ss)\n' "$(elapsed_since "$t0")"
printf '%-3s %-16s %-6s %9s\n' '#' step result seconds
for i in "${!names[@]}"; do
    printf '%-3d %-16s %-6s %9s\n' "$((i + 1))" "${names[$i]}" "${results[$i]}" "${times[$i]}"
    case "${results[$i]}" in
        pass) passed=$((passed + 1)) ;;
        FAIL) failed=$((failed + 1)) ;;
        skip) skipped=$((skipped + 1)) ;;
    esac
done
echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
