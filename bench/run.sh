#!/usr/bin/env bash
# Usage: bash bench/run.sh [--runs N] [--entries N] [--keystrokes N] [--get-items N] [--no-build]
#
# The app benchmarks of bench/README.md in one run, apppass against a bare Tauri 2 app
# (bench/baseline-app) built the same way, on this machine, then a table of the figures:
#   - start-up: exec -> vault list painted, cold (page cache dropped; needs root) and warm;
#   - memory: RSS and PSS of the whole process tree 2 s after ready;
#   - sizes: release binaries, installed size (.deb Installed-Size), the CLI binary;
#   - `apppass get` vs `secret-tool lookup` (bench/get-vs-secret-tool.sh);
#   - typing in the search box with 10,000 entries vs 20 (WebDriver, real keystrokes).
# Builds (unless --no-build), under `nice -n 10`: the UI, the app and the baseline in release with
# `--features tauri/custom-protocol` (what `tauri build` passes), the CLI, and the fill-vault
# example. Then runs everything on a throwaway gnome-keyring (scripts/with-keyring.sh) under Xvfb.
# The JSON files and the table land in target/bench/. Takes about 10 minutes here.
set -euo pipefail
APPPASS_SCRIPT=bench
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$APPPASS_ROOT"
ensure_cargo_on_path

runs=10
entries=10000
keystrokes=56
get_items=1000
build=1
args=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --entries) entries="$2"; shift 2 ;;
        --keystrokes) keystrokes="$2"; shift 2 ;;
        --get-items) get_items="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

release="$APPPASS_ROOT/target/release"
out="$APPPASS_ROOT/target/bench"
app="$release/apppass-app"
baseline="$release/tauri-baseline"
cli="$release/apppass"
fill="$release/examples/fill-vault"

if [ "${APPPASS_TEST_SECRET_SERVICE:-}" != unlocked ]; then
    for tool in xvfb-run tauri-driver hyperfine secret-tool node python3; do
        command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh --test"
    done
    [ -d tests/e2e/node_modules/webdriverio ] || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
    if [ "$build" = 1 ]; then
        nice_cmd=(nice -n "${APPPASS_NICE:-10}")
        say "building the UI"
        (cd ui && npm run build >/dev/null)
        say "building the app and the baseline (release, tauri/custom-protocol), the CLI and fill-vault"
        "${nice_cmd[@]}" cargo build --release --locked -p apppass-app --features tauri/custom-protocol
        "${nice_cmd[@]}" cargo build --release --locked -p apppass-bench-baseline --features tauri/custom-protocol
        "${nice_cmd[@]}" cargo build --release --locked -p apppass-cli
        "${nice_cmd[@]}" cargo build --release --locked -p apppass-core --example fill-vault
    fi
    for f in "$app" "$baseline" "$cli" "$fill"; do [ -x "$f" ] || die "$f is missing: run without --no-build"; done
    rm -rf "$out"
    mkdir -p "$out"
    {
        echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
        echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$out/machine.txt"
    # The baseline's .deb (its binary as built above): the Tauri CLI's bundler, nothing rebuilt.
    (cd bench/baseline-app && ../../ui/node_modules/.bin/tauri bundle --ci --bundles deb >/dev/null 2>&1) ||
        say "the baseline's .deb could not be bundled; installed sizes are left out"
    say "get vs secret-tool ($get_items items, its own keyring)"
    APPPASS_BENCH_NO_BUILD=1 bash bench/get-vs-secret-tool.sh --items "$get_items" --json "$out/get.json" >"$out/get.txt"
    exec scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x900x24" bash "$0" "${args[@]}"
fi

# ---- inside a throwaway keyring session and an X display ----
small=$(mktemp -d)
trap 'rm -rf "$small"' EXIT

say "profile of 20 entries (apppass add, real keyring)"
for i in $(seq 1 20); do
    printf 'pw-%05d-abcdefgh' "$i" |
        APPPASS_HOME="$small" "$cli" add "entry $i" --provider custom --account "user$i@example.com" --client msmtp >/dev/null 2>&1
done
[ "$(APPPASS_HOME="$small" "$cli" list | grep -c .)" -ge 20 ] || die "the small profile does not list 20 entries"

# The 10,000 entries' passwords go to an encrypted file store: adding them to gnome-keyring took
# about 50 s per 1,000 here (10,000: over 8 minutes), and one attempt lost the daemon after 1,000
# (bench/README.md). The typing benchmark only reads the list, which is the same for both stores.
# Filling takes 10 minutes or more here, so the profile is kept for the next run, in
# target/bench-profile-N/ (delete it to make it again); it needs no keyring.
big="$APPPASS_ROOT/target/bench-profile-$entries"
pass="$big.passphrase"
if [ ! -f "$big/.complete" ]; then
    say "profile of $entries entries (fill-vault, encrypted file store) in $big"
    rm -rf "$big" "$pass"
    mkdir -p "$big"
    (umask 077 && printf 'apppass bench %s passphrase\n' "$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" >"$pass")
    APPPASS_HOME="$big" APPPASS_PASSPHRASE_FD=3 "$cli" store use-file 3<"$pass" >/dev/null
    t0=$(date +%s)
    APPPASS_HOME="$big" "$fill" "$entries" <"$pass" 2>&1 | tail -n 1
    echo "$entries entries added by fill-vault (encrypted file store) in $(($(date +%s) - t0)) s" >"$big/.complete"
else
    say "profile of $entries entries: kept from an earlier run ($big)"
fi
cat "$big/.complete" >>"$out/machine.txt"
[ "$(APPPASS_HOME="$big" APPPASS_PASSPHRASE_FD=3 "$cli" list 3<"$pass" | grep -c .)" -ge "$entries" ] || die "$big does not list $entries entries"

say "start-up and memory ($runs runs each, cold and warm)"
python3 bench/apps.py --app "$app" --baseline "$baseline" --home "$small" --runs "$runs" --json "$out/startup.json" >/dev/null

say "typing: $keystrokes keystrokes with $entries entries, then with 20"
APPPASS_BENCH_PASSPHRASE_FILE="$pass" node bench/typing.mjs "$app" "$big" "$keystrokes" >"$out/typing-big.raw"
node bench/typing.mjs "$app" "$small" "$keystrokes" >"$out/typing-small.raw"
python3 - "$out" "$entries" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for name, count in (("big", n), ("small", 20)):
    r = json.load(open(f"{d}/typing-{name}.raw"))
    r["entries"] = count
    json.dump(r, open(f"{d}/typing-{name}.json", "w"))
PY

deb_size() { [ -n "$1" ] && [ -f "$1" ] && dpkg-deb -f "$1" Installed-Size; }
app_deb=$(ls -t "$release"/bundle/deb/apppass_*.deb 2>/dev/null | head -n 1 || true)
base_deb=$(ls -t "$release"/bundle/deb/tauri-baseline_*.deb 2>/dev/null | head -n 1 || true)
python3 - "$out/sizes.json" "$app" "$baseline" "$cli" "$(deb_size "$app_deb" || true)" "$(deb_size "$base_deb" || true)" "$app_deb" <<'PY'
import json, os, sys
out, app, base, cli, app_kib, base_kib, app_deb = sys.argv[1:]
json.dump({"app_binary": os.path.getsize(app), "baseline_binary": os.path.getsize(base),
           "cli_binary": os.path.getsize(cli),
           "app_installed_kib": int(app_kib) if app_kib else None,
           "baseline_installed_kib": int(base_kib) if base_kib else None,
           "installed_how": ".deb Installed-Size; apppass's holds the CLI and completions too",
           "app_deb": app_deb}, open(out, "w"))
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 bench/table.py "$out" | tee "$out/table.md"
cat "$out/machine.txt"
