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
#   APPPASS_TEST_KEYRING_CTL      a small generated script that injects faults
#                                 into THIS session's keyring (never another):
#       $APPPASS_TEST_KEYRING_CTL lock     locks the login collection
#       $APPPASS_TEST_KEYRING_CTL unlock   unlocks it again, headless: gnome-keyring's
#                                          UnlockWithMasterPassword with the session's
#                                          throwaway password (a 0600 file in the temp dir)
#       $APPPASS_TEST_KEYRING_CTL stop     kills the daemon (SIGKILL): the Secret Service
#                                          disappears from the bus
#       $APPPASS_TEST_KEYRING_CTL start    starts it again on the same data and password,
#                                          so the stored items come back, unlocked
#       $APPPASS_TEST_KEYRING_CTL status   prints unlocked, locked or stopped
#     Each action checks that it took effect (the Locked property, the name on the
#     bus) and otherwise exits 1 with the reason on stderr. unlock needs
#     python3-dbus (the ctl looks for a python3 that can import dbus).
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

ss_on_bus() { # succeeds when some process owns the Secret Service name
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:$SS 2>/dev/null | grep -q 'boolean true'
}

# The daemon of the session in TMP: its pid is in TMP/gkd.pid, its log in
# TMP/gnome-keyring.log, the throwaway password in TMP/keyring-password (0600).
# GNOME_KEYRING_CONTROL from a desktop session would make the daemon talk to the
# user's real keyring instead of starting a new one: drop it.
start_daemon() { # TMP
    local tmp="$1"
    env -u GNOME_KEYRING_CONTROL XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/runtime" \
        gnome-keyring-daemon --foreground --unlock --components=secrets \
        <"$tmp/keyring-password" >>"$tmp/gnome-keyring.log" 2>&1 &
    echo $! >"$tmp/gkd.pid"
    # Not a job of this shell: a kill by the control script is not reported as one.
    disown $!
}

daemon_alive() { # TMP -> succeeds while the daemon runs (a zombie counts as dead)
    local pid state
    pid="$(cat "$1/gkd.pid" 2>/dev/null)" || return 1
    [ -n "$pid" ] || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

wait_for_name() { # TMP -> 0 once the daemon owns the name (up to ~10 s), 1 otherwise
    local i
    for i in $(seq 1000); do
        ss_on_bus && return 0
        daemon_alive "$1" || return 1
        sleep 0.01
    done
    return 1
}

kill_daemon() { # TMP SIGNAL -> waits (up to ~10 s) for the process to end
    local tmp="$1" sig="$2" pid i
    pid="$(cat "$tmp/gkd.pid" 2>/dev/null)" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1000); do
        daemon_alive "$tmp" || break
        sleep 0.01
    done
}

# The fault-injection control (APPPASS_TEST_KEYRING_CTL), run with the session's
# bus address and temp dir set by the generated script.
ctl() {
    local tmp="$_APPPASS_KEYRING_CTL" action="${1:-}" i
    cfail() {
        echo "[keyring-ctl] ERROR: $action: $*" >&2
        exit 1
    }
    case "$action" in
    status)
        if ! ss_on_bus; then
            echo stopped
        elif [ "$(collection_locked)" = true ]; then
            echo locked
        else
            echo unlocked
        fi
        ;;
    lock)
        ss_on_bus || cfail "the Secret Service is not running (stopped)"
        ss_send "$SS_PATH" org.freedesktop.Secret.Service.Lock array:objpath:$LOGIN >/dev/null ||
            cfail "Lock of the login collection failed"
        [ "$(collection_locked)" = true ] || cfail "the login collection is still unlocked after Lock"
        ;;
    unlock)
        ss_on_bus || cfail "the Secret Service is not running (stopped)"
        local py=""
        for i in /usr/bin/python3 python3; do
            if command -v "$i" >/dev/null 2>&1 && "$i" -c 'import dbus' 2>/dev/null; then
                py="$i"
                break
            fi
        done
        [ -n "$py" ] || cfail "no python3 with the dbus module: run 'bash scripts/setup.sh --test' (python3-dbus)"
        # A plain Secret Service session belongs to the connection that opened it, so the
        # session and the unlock go over one connection. The password is read from the
        # 0600 file, never from argv.
        "$py" - "$tmp/keyring-password" "$LOGIN" <<'PY' || cfail "UnlockWithMasterPassword failed"
import sys
import dbus

password_file, collection = sys.argv[1], sys.argv[2]
with open(password_file, "rb") as f:
    password = f.read()
bus = dbus.SessionBus()
service = bus.get_object("org.freedesktop.secrets", "/org/freedesktop/secrets")
_, session = dbus.Interface(service, "org.freedesktop.Secret.Service").OpenSession(
    "plain", dbus.String("", variant_level=1)
)
internal = dbus.Interface(
    service, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
)
internal.UnlockWithMasterPassword(
    dbus.ObjectPath(collection),
    dbus.Struct(
        (session, dbus.ByteArray(b""), dbus.ByteArray(password), "text/plain"),
        signature="oayays",
    ),
)
PY
        [ "$(collection_locked)" = false ] || cfail "the login collection is still locked after UnlockWithMasterPassword"
        ;;
    stop)
        ss_on_bus || cfail "the Secret Service is not running (already stopped)"
        daemon_alive "$tmp" || cfail "this session's gnome-keyring-daemon is not running"
        kill_daemon "$tmp" KILL
        if daemon_alive "$tmp"; then cfail "gnome-keyring-daemon survived SIGKILL"; fi
        for i in $(seq 1000); do
            ss_on_bus || break
            sleep 0.01
        done
        if ss_on_bus; then cfail "$SS is still on the bus after the daemon was killed"; fi
        ;;
    start)
        if ss_on_bus; then cfail "$SS is already on the bus"; fi
        start_daemon "$tmp"
        wait_for_name "$tmp" || cfail "gnome-keyring-daemon did not claim $SS within ~10 s (log: $(tail -n 5 "$tmp/gnome-keyring.log" | tr '\n' ' '))"
        [ "$(collection_locked)" = false ] || cfail "the login collection is locked after the restart"
        ;;
    *)
        echo "usage: \$APPPASS_TEST_KEYRING_CTL lock|unlock|stop|start|status" >&2
        exit 2
        ;;
    esac
}

inner() {
    local tmp="$_APPPASS_KEYRING_TMP" mode="$1"
    shift
    unset _APPPASS_KEYRING_TMP # so that CMD may itself use with-keyring.sh
    local log="$tmp/gnome-keyring.log"
    mkdir -p "$tmp/data" "$tmp/runtime"
    chmod 700 "$tmp/runtime"
    (
        umask 077
        printf '%s' "apppass-throwaway-$$-$RANDOM-$RANDOM" >"$tmp/keyring-password"
    )
    start_daemon "$tmp"

    fail() {
        echo "[with-keyring] ERROR: $*" >&2
        sed 's/^/[with-keyring]   gnome-keyring: /' "$log" >&2 || true
        kill_daemon "$tmp" TERM
        exit 70
    }

    # Wait (up to 10 s) for the daemon to own the Secret Service name.
    if ! wait_for_name "$tmp"; then
        daemon_alive "$tmp" || fail "gnome-keyring-daemon exited during startup"
        fail "gnome-keyring-daemon did not claim $SS within ~10 s"
    fi

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

    # The control script: this session's bus and temp dir, baked in.
    cat >"$tmp/keyring-ctl" <<EOF
#!/bin/sh
exec env DBUS_SESSION_BUS_ADDRESS='$DBUS_SESSION_BUS_ADDRESS' _APPPASS_KEYRING_CTL='$tmp' \\
    bash '$APPPASS_ROOT/scripts/with-keyring.sh' "\$@"
EOF
    chmod 700 "$tmp/keyring-ctl"

    local rc=0
    APPPASS_TEST_SECRET_SERVICE="$mode" APPPASS_TEST_KEYRING_CTL="$tmp/keyring-ctl" "$@" || rc=$?

    # The daemon may have been restarted by the control script: stop whichever runs now.
    kill_daemon "$tmp" TERM
    exit "$rc"
}

if [ -n "${_APPPASS_KEYRING_CTL:-}" ]; then
    unset _APPPASS_KEYRING_TMP
    ctl "$@"
    exit 0
fi

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
