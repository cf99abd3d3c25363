#!/usr/bin/env bash
# Usage: scripts/e2e.sh [node --test args...]
#
# End-to-end tests of the real desktop app: the debug binary runs under Xvfb, driven through
# WebDriver (tauri-driver + Debian's WebKitWebDriver), on a throwaway unlocked gnome-keyring
# (scripts/with-keyring.sh). Each test file launches the app with its own APPPASS_HOME.
# The tests live in tests/e2e/*.test.mjs and run with node's test runner.
set -euo pipefail
APPPASS_SCRIPT="e2e"
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT"
ensure_cargo_on_path

if [ "${APPPASS_TEST_SECRET_SERVICE:-}" != unlocked ]; then
    if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html -newer ui/dist/index.html -print -quit)" ]; then
        say "building the UI (ui/dist is missing or older than ui/src)"
        (cd ui && npm run build)
    fi
    say "building the app and the CLI (debug)"
    cargo build -q -p apppass-app -p apppass-cli
    e2e="$APPPASS_ROOT/tests/e2e"
    if [ ! -f "$e2e/node_modules/.package-lock.json" ] || [ "$e2e/package-lock.json" -nt "$e2e/node_modules/.package-lock.json" ]; then
        say "npm ci in tests/e2e"
        (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    # The sign-in test starts the real test OpenID provider (and the Graph emulator, stdlib only).
    if [ ! -d tests/harness/oidc/node_modules/oidc-provider ]; then
        say "npm ci in tests/harness/oidc"
        (cd tests/harness/oidc && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    fi
    command -v tauri-driver >/dev/null || die "tauri-driver is missing: run scripts/setup.sh --test"
    command -v xvfb-run >/dev/null || die "xvfb-run is missing: run scripts/setup.sh --test"
    exec scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x900x24" bash "$0" "$@"
fi

export APPPASS_APP_BIN="$APPPASS_ROOT/target/debug/apppass-app"
export APPPASS_CLI_BIN="$APPPASS_ROOT/target/debug/apppass"
say "running tests/e2e on display $DISPLAY"
cd tests/e2e
exec node --test --test-concurrency=1 "$@" ./*.test.mjs
