#!/usr/bin/env bash
# Times `apppass get NAME` against `secret-tool lookup` for one item among 1,000, in one run, on
# the same throwaway gnome-keyring, and prints the ratio. Target: at most 1.5x.
#
# Usage: bash bench/get-vs-secret-tool.sh [--items N] [--runs N] [--json FILE]
# Needs hyperfine (scripts/setup.sh installs it). Builds the CLI in release mode (not with
# APPPASS_BENCH_NO_BUILD=1).
set -euo pipefail
cd "$(dirname "$0")/.."
items=1000
runs=50
json_out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --items) items="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --json) json_out="$2"; shift 2 ;;
        *) echo "usage: $0 [--items N] [--runs N] [--json FILE]" >&2; exit 2 ;;
    esac
done
if [ "${APPPASS_TEST_SECRET_SERVICE:-}" != unlocked ]; then
    exec scripts/with-keyring.sh bash "$0" --items "$items" --runs "$runs" ${json_out:+--json "$json_out"}
fi
command -v hyperfine >/dev/null || { echo "hyperfine is missing: run scripts/setup.sh --test" >&2; exit 1; }

if [ "${APPPASS_BENCH_NO_BUILD:-}" != 1 ]; then # bench/run.sh has built it already
    echo "[bench] building apppass (release)"
    cargo build -q --release -p apppass-cli
fi
bin="$PWD/target/release/apppass"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export APPPASS_HOME="$home"

echo "[bench] storing $items items with apppass and with secret-tool"
start=$(date +%s)
for i in $(seq 1 "$items"); do
    printf 'pw-%05d-abcdefgh' "$i" | "$bin" add "entry $i" --provider custom --account "user$i@example.com" --client msmtp 2>/dev/null
    printf 'pw-%05d-abcdefgh' "$i" | secret-tool store --label "bench $i" service apppass-bench username "user$i"
    if [ $((i % 200)) -eq 0 ]; then echo "[bench]   $i/$items ($(( $(date +%s) - start )) s)"; fi
done
pick=$(( items / 2 ))
want=$(printf 'pw-%05d-abcdefgh' "$pick")
[ "$("$bin" get "entry $pick")" = "$want" ] || { echo "apppass get returned the wrong value" >&2; exit 1; }
[ "$(secret-tool lookup service apppass-bench username "user$pick")" = "$want" ] || { echo "secret-tool returned the wrong value" >&2; exit 1; }

json=$(mktemp)
hyperfine -N --warmup 5 --runs "$runs" --export-json "$json" \
    -n "apppass get" "$bin get 'entry $pick'" \
    -n "secret-tool lookup" "secret-tool lookup service apppass-bench username user$pick" >&2
python3 - "$json" "$json_out" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
a, s = r["apppass get"], r["secret-tool lookup"]
ratio = a["median"] / s["median"]
print(f"one lookup among the stored items (median of {len(a['times'])} runs):")
print(f"  apppass get        : {a['median']*1e3:7.2f} ms (mean {a['mean']*1e3:.2f})")
print(f"  secret-tool lookup : {s['median']*1e3:7.2f} ms (mean {s['mean']*1e3:.2f})")
print(f"  ratio              : {ratio:7.2f}  (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")
if sys.argv[2]:
    json.dump({"get_median_ms": a["median"] * 1e3, "secret_tool_median_ms": s["median"] * 1e3,
               "ratio": ratio, "runs": len(a["times"])}, open(sys.argv[2], "w"))
PY
rm -f "$json"
