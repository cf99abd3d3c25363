#!/usr/bin/env bash
# Measures the release profile's effect (docs/RELEASE.md, "Release profile"): the same sources built
# with three profiles, each in its own target folder, compared in ONE run on this machine:
#   current  Cargo.toml's [profile.release] (lto = true, codegen-units = 1, strip = true): target/
#   no-lto   lto = false, codegen-units = 16 (strip kept):       target/profile-no-lto/
#   no-strip strip = false (lto and codegen-units kept):          target/profile-no-strip/
# For each: the CLI's and the app's binary size, the .deb's size, `apppass --version` and
# `apppass get` (one item among --items, on a throwaway gnome-keyring) with hyperfine, and the app's
# start to its first screen painted (the app's own APPPASS_BENCH_READY report, under Xvfb; the
# vault holds the --items entries; --app-runs runs each, interleaved). Ratios are against `current`.
#
# Usage: bash bench/release-profile.sh [--build] [--items N] [--runs N] [--app-runs N] [--only "V ..."]
#   --build   first builds the missing variants' CLI, app and .deb with scripts/bundle.sh
#             --no-appimage (under nice; ~2 full release builds); `current` must have been built
#             by scripts/bundle.sh already.
#   --only    measure only these variants (e.g. "current" to try the script).
# Needs hyperfine, xvfb-run, xdotool and a gnome-keyring (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build=0
items=100
runs=30
app_runs=5
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=1; shift ;;
        --items) items="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --app-runs) app_runs="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        *) echo "usage: $0 [--build] [--items N] [--runs N] [--app-runs N] [--only \"V ...\"]" >&2; exit 2 ;;
    esac
done

variants=(current no-lto no-strip)
# shellcheck disable=SC2206 # a list of words
[ -z "$only" ] || variants=($only)
dir_of() {
    case "$1" in
        current) echo "$root/target" ;;
        *) echo "$root/target/profile-$1" ;;
    esac
}
env_of() {
    case "$1" in
        current) echo "" ;;
        no-lto) echo "CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16" ;;
        no-strip) echo "CARGO_PROFILE_RELEASE_STRIP=false" ;;
    esac
}

if [ "${APPPASS_TEST_SECRET_SERVICE:-}" != unlocked ]; then
    if [ "$build" = 1 ]; then
        for v in no-lto no-strip; do
            d=$(dir_of "$v")
            echo "[profile] building $v into $d"
            start=$(date +%s)
            # shellcheck disable=SC2046 # the variant's settings, word by word
            env CARGO_TARGET_DIR="$d" $(env_of "$v") bash scripts/bundle.sh --no-appimage --skip-ui >"$d.build.log" 2>&1 ||
                { tail -n 20 "$d.build.log"; exit 1; }
            echo "[profile]   $v built in $(($(date +%s) - start)) s"
        done
    fi
    exec scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x900x24" \
        bash "$0" --items "$items" --runs "$runs" --app-runs "$app_runs" --only "${variants[*]}"
fi

# The app binary of a variant: the newer of cargo's apppass-app and the bundle's apppass-desktop
# (a later plain cargo build of the app updates only apppass-app; it must embed the same ui/dist).
app_of() {
    # shellcheck disable=SC2012 # the newest by time
    ls -t "$1/release/apppass-app" "$1/release/apppass-desktop" 2>/dev/null | head -n 1
}
for v in "${variants[@]}"; do
    d=$(dir_of "$v")
    [ -x "$d/release/apppass" ] && [ -n "$(app_of "$d")" ] && continue
    echo "[profile] $v is not built in $d (run with --build; current: scripts/bundle.sh)" >&2
    exit 1
done

home=$(mktemp -d)
json=$(mktemp -d)
trap 'rm -rf "$home" "$json"' EXIT
export APPPASS_HOME="$home"
cli_current="$(dir_of current)/release/apppass"
echo "[profile] storing $items items"
for i in $(seq 1 "$items"); do
    printf 'pw-%05d-abcdefgh' "$i" | "$cli_current" add "entry $i" --provider custom \
        --account "user$i@example.com" --client msmtp 2>/dev/null
done
pick=$((items / 2))
want=$(printf 'pw-%05d-abcdefgh' "$pick")
for v in "${variants[@]}"; do
    [ "$("$(dir_of "$v")/release/apppass" get "entry $pick")" = "$want" ] ||
        { echo "[profile] $v: apppass get returned the wrong value" >&2; exit 1; }
done

version_cmds=()
get_cmds=()
for v in "${variants[@]}"; do
    bin="$(dir_of "$v")/release/apppass"
    version_cmds+=(-n "$v" "$bin --version")
    get_cmds+=(-n "$v" "$bin get 'entry $pick'")
done
hyperfine -N --warmup 5 --runs "$runs" --export-json "$json/version.json" "${version_cmds[@]}" >&2
hyperfine -N --warmup 5 --runs "$runs" --export-json "$json/get.json" "${get_cmds[@]}" >&2

# The app: from just before exec to its first screen painted, as the app itself reports it with
# APPPASS_BENCH_READY=1 ("ready <CLOCK_MONOTONIC ns>" on stdout, src-tauri/src/bench.rs), the
# variants interleaved; the window is closed and gone before the next start.
app_start_ms() { # BINARY -> ms from exec to the first screen painted
    python3 - "$1" <<'PY'
import os, select, subprocess, sys, time
env = dict(os.environ, APPPASS_BENCH_READY="1")
t0 = time.monotonic_ns()
p = subprocess.Popen([sys.argv[1]], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
ready, buf, deadline = None, b"", time.monotonic() + 60
while ready is None and time.monotonic() < deadline and p.poll() is None:
    if select.select([p.stdout], [], [], 0.5)[0]:
        chunk = os.read(p.stdout.fileno(), 4096)
        buf += chunk
        for line in buf.decode(errors="replace").splitlines():
            if line.startswith("ready "):
                ready = int(line.split()[1])
p.terminate()
try:
    p.wait(10)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
if ready is None:
    sys.exit(f"[profile] {sys.argv[1]}: no 'ready' line within 60 s")
print((ready - t0) // 1_000_000)
PY
    for _ in $(seq 1 50); do
        xdotool search --onlyvisible --name '^apppass$' >/dev/null 2>&1 || break
        sleep 0.1
    done
}
: >"$json/app.tsv"
for v in "${variants[@]}"; do echo "[profile] app of $v: $(app_of "$(dir_of "$v")")" >&2; done
for v in "${variants[@]}"; do app_start_ms "$(app_of "$(dir_of "$v")")" >/dev/null; done # warm-up
for r in $(seq 1 "$app_runs"); do
    for v in "${variants[@]}"; do
        printf '%s\t%s\n' "$v" "$(app_start_ms "$(app_of "$(dir_of "$v")")")" >>"$json/app.tsv"
    done
    echo "[profile] app run $r/$app_runs" >&2
done

sizes="$json/sizes.tsv"
: >"$sizes"
for v in "${variants[@]}"; do
    d=$(dir_of "$v")/release
    # shellcheck disable=SC2012 # the newest by time
    deb=$(ls -t "$d"/bundle/deb/apppass_*.deb | head -n 1)
    printf '%s\t%s\t%s\t%s\n' "$v" "$(stat -c %s "$d/apppass")" "$(stat -c %s "$(app_of "$(dirname "$d")")")" \
        "$(stat -c %s "$deb")" >>"$sizes"
done

python3 - "$json" "${variants[@]}" <<'PY'
import json, statistics, sys
d, variants = sys.argv[1], sys.argv[2:]
def hf(name):
    return {r["command"]: r for r in json.load(open(f"{d}/{name}.json"))["results"]}
ver, get = hf("version"), hf("get")
app = {}
for line in open(f"{d}/app.tsv"):
    v, ms = line.split()
    app.setdefault(v, []).append(int(ms))
sizes = {}
for line in open(f"{d}/sizes.tsv"):
    v, cli, appbin, deb = line.split()
    sizes[v] = (int(cli), int(appbin), int(deb))
base = "current"
def row(label, vals, unit, fmt):
    b = vals[base]
    cells = " | ".join(f"{fmt(vals[v])} ({vals[v] / b:.2f})" for v in variants)
    print(f"| {label} ({unit}) | {cells} |")
print(f"| metric | " + " | ".join(variants) + " |")
print("|---|" + "---|" * len(variants))
mib = lambda x: f"{x / 1048576:.2f}"
ms = lambda x: f"{x:.2f}"
row("CLI binary", {v: sizes[v][0] for v in variants}, "MiB", mib)
row("app binary", {v: sizes[v][1] for v in variants}, "MiB", mib)
row(".deb", {v: sizes[v][2] for v in variants}, "MiB", mib)
# Medians, and minimums: on a shared machine the minimum is the figure least moved by other load.
row("`apppass --version`, median", {v: ver[v]["median"] * 1e3 for v in variants}, "ms", ms)
row("`apppass --version`, min", {v: ver[v]["min"] * 1e3 for v in variants}, "ms", ms)
row("`apppass get`, median", {v: get[v]["median"] * 1e3 for v in variants}, "ms", ms)
row("`apppass get`, min", {v: get[v]["min"] * 1e3 for v in variants}, "ms", ms)
row("app exec → first screen painted, median", {v: statistics.median(app[v]) for v in variants}, "ms",
    lambda x: f"{x:.0f}")
row("app exec → first screen painted, min", {v: min(app[v]) for v in variants}, "ms", lambda x: f"{x:.0f}")
print()
print("app runs (ms): " + "; ".join(f"{v}: {app[v]}" for v in variants))
PY
