#!/usr/bin/env bash
# Usage: scripts/run-app.sh [--throwaway-keyring] [-- APP-ARGS...]
#
# Installs what the desktop app needs (scripts/setup.sh --app), builds the UI
# (npm ci + npm run build in ui/), then starts the app: cargo run -p apppass-app.
#
# Needs a display (X11 or Wayland). Without one, run it under a virtual X
# server:  xvfb-run -a bash scripts/run-app.sh
#
# --throwaway-keyring runs the app inside scripts/with-keyring.sh: a fresh,
# unlocked, empty keyring that is thrown away when the app exits. Use it on a
# machine with no desktop session (no Secret Service); never for real secrets.
set -euo pipefail
APPPASS_SCRIPT=run-app
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT"

throwaway=0
while [ $# -gt 0 ]; do
    case "$1" in
        --throwaway-keyring) throwaway=1 ;;
        --) shift; break ;;
        -h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (app arguments go after --)" ;;
    esac
    shift
done

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    die "no display: neither DISPLAY nor WAYLAND_DISPLAY is set, so the app's window cannot open.
  Run it from a desktop session, or under a virtual X server:
      xvfb-run -a bash scripts/run-app.sh"
fi

bash scripts/setup.sh --app
ensure_cargo_on_path

if [ -f ui/package.json ]; then
    # setup.sh --app has already run npm ci when node_modules was out of date.
    say "ui: npm run build"
    (cd ui && npm run build)
else
    say "ui: ui/package.json does not exist yet, nothing to build"
fi

# Is there a Secret Service (running or startable) on the session bus? Only
# asked when a bus exists, so that dbus-send does not X11-autolaunch one.
secret_service_reachable() {
    [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/bus" ] || return 1
    command -v dbus-send >/dev/null 2>&1 || return 1
    local m
    for m in ListNames ListActivatableNames; do
        dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            "org.freedesktop.DBus.$m" 2>/dev/null | grep -q '"org.freedesktop.secrets"' && return 0
    done
    return 1
}
if [ "$throwaway" = 0 ] && ! secret_service_reachable; then
    say "note: no Secret Service (keyring) on a D-Bus session bus: saving passwords will fail."
    say "      For a trial run with a throwaway keyring: bash scripts/run-app.sh --throwaway-keyring"
fi

say "cargo run -p apppass-app"
if [ "$throwaway" = 1 ]; then
    exec scripts/with-keyring.sh cargo run -p apppass-app -- "$@"
fi
exec cargo run -p apppass-app -- "$@"
