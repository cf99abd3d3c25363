#!/usr/bin/env bash
# Usage: scripts/with-keyring.sh [--locked] CMD [ARGS...]
#
# Runs CMD inside a private D-Bus session bus (dbus-run-session) on which a
# throwaway gnome-keyring-daemon provides the Secret Service
# (org.freedesktop.secrets). Nothing of the user's own keyring is touched:
# the daemon gets a fresh XDG_DATA_HOME / XDG_RUNTIME_DIR in a temp dir, is fed
# a throwaway password on stdin (--unlock), and so creates a new "login"
# collection, which is checked to be the "default" alias and UNLOCKED: storing
# works with no prompt.
#
# APPPASS_KEYRING_LOCKED=1 (or --locked) starts the same keyring and then
# LOCKS the login collection (org.freedesktop.Secret.Service.Lock). Unlocking
# needs a prompt, and this bus cannot start a prompter, so every unlock attempt
# is dismissed at once: reading a secret returns nothing and storing fails with
# "Cannot create an item in a locked collection". Nothing hangs.
#
# CMD sees its own environment unchanged except for:
#   DBUS_SESSION_BUS_ADDRESS      the private bus
#   APPPASS_TEST_SECRET_SERVICE   "unlocked" or "locked" (tests may use it to
#                                 decide whether a real keyring is available)
# The bus has no service activation (see private_bus_options in lib.sh).
# APPPASS_KEYRING_DEBUG=1 prints the daemons' logs at the end.
# Exit status: CMD's, or 70 if the keyring could not be set up.
set -euo pipefail
APPPASS_SCRIPT=with-keyring
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SS=org.freedesktop.secrets
SS_PATH=/org/freedesktop/secrets
LOGIN=/org/freedesktop/secrets/collection/login

ss_send() { # OBJECT METHOD ARGS...  -> dbus-send's reply on stdout
    local obj="$1" method="$2"
    shift 2
    dbus-send --session --print-reply --reply-timeout=5000 --dest="$SS" "$obj" "$method" "$@"
}

collection_locked() { # prints true/false
    ss_send "$LOGIN" org.freedesktop.DBus.Properties.Get \
        string:org.freedesktop.Secret.Collection string:Locked |
        awk '/boolean/ {print $NF}'
}

inner() {
    local tmp="$_APPPASS_KEYRING_TMP" mode="$1"
    shift
    unset _APPPASS_KEYRING_TMP # so that CMD may itself use with-keyring.sh
    local log="$tmp/gnome-keyring.log"
    mkdir -p "$tmp/data" "$tmp/runtime"
    chmod 700 "$tmp/runtime"

    # GNOME_KEYRING_CONTROL from a desktop session would make the daemon talk
    # to the user's real keyring instead of starting a new one: drop it.
    printf '%s' "apppass-throwaway-$$-$RANDOM" |
        env -u GNOME_KEYRING_CONTROL XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/runtime" \
            gnome-keyring-daemon --foreground --unlock --components=secrets >"$log" 2>&1 &
    local gkd=$!

    fail() {
        echo "[with-keyring] ERROR: $*" >&2
        sed 's/^/[with-keyring]   gnome-keyring: /' "$log" >&2 || true
        kill "$gkd" 2>/dev/null || true
        wait "$gkd" 2>/dev/null || true
        exit 70
    }

    # Wait (up to 10 s) for the daemon to own the Secret Service name.
    local i
    for i in $(seq 1000); do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:$SS 2>/dev/null | grep -q 'boolean true'; then
            break
        fi
        kill -0 "$gkd" 2>/dev/null || fail "gnome-keyring-daemon exited during startup"
        [ "$i" -lt 1000 ] || fail "gnome-keyring-daemon did not claim $SS within ~10 s"
        sleep 0.01
    done

    # The login collection must exist and be the default one.
    local alias
    alias="$(ss_send "$SS_PATH" org.freedesktop.Secret.Service.ReadAlias string:default |
        awk '/object path/ {gsub(/"/, "", $NF); print $NF}')" || fail "ReadAlias failed"
    if [ "$alias" != "$LOGIN" ]; then
        [ -n "$(collection_locked 2>/dev/null)" ] || fail "no login collection (default alias is '$alias')"
        ss_send "$SS_PATH" org.freedesktop.Secret.Service.SetAlias string:default objpath:$LOGIN \
            >/dev/null || fail "SetAlias default -> login failed"
    fi
    [ "$(collection_locked)" = false ] || fail "login collection is locked after --unlock"

    if [ "$mode" = locked ]; then
        ss_send "$SS_PATH" org.freedesktop.Secret.Service.Lock array:objpath:$LOGIN >/dev/null ||
            fail "Lock of the login collection failed"
        [ "$(collection_locked)" = true ] || fail "login collection still unlocked after Lock"
    fi

    local rc=0
    APPPASS_TEST_SECRET_SERVICE="$mode" "$@" || rc=$?

    kill "$gkd" 2>/dev/null || true
    wait "$gkd" 2>/dev/null || true
    exit "$rc"
}

if [ -n "${_APPPASS_KEYRING_TMP:-}" ]; then
    inner "$@"
fi

mode=unlocked
case "${APPPASS_KEYRING_LOCKED:-0}" in 1 | true | yes) mode=locked ;; esac
if [ "${1:-}" = --locked ]; then
    mode=locked
    shift
fi
[ $# -gt 0 ] || die "usage: scripts/with-keyring.sh [--locked] CMD [ARGS...]"
require_dbus_tools
command -v gnome-keyring-daemon >/dev/null 2>&1 ||
    die "gnome-keyring-daemon not found: run 'bash scripts/setup.sh --test'"

tmp="$(mktemp -d /tmp/apppass-keyring.XXXXXXXX)"
cleanup() {
    if [ "${APPPASS_KEYRING_DEBUG:-0}" = 1 ]; then
        for f in "$tmp"/*.log; do
            [ -f "$f" ] && sed "s|^|[with-keyring] $(basename "$f"): |" "$f" >&2
        done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mapfile -t bus_opts < <(private_bus_options "$tmp")

rc=0
_APPPASS_KEYRING_TMP="$tmp" dbus-run-session "${bus_opts[@]}" -- \
    bash "$APPPASS_ROOT/scripts/with-keyring.sh" "$mode" "$@" || rc=$?
exit "$rc"
