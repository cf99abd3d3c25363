#!/usr/bin/env bash
# Usage: scripts/without-keyring.sh [--no-bus] CMD [ARGS...]
#
# Runs CMD where NO Secret Service exists, for "keyring unavailable" tests.
#
# Default: a private D-Bus session bus (dbus-run-session) with no keyring
# daemon and no service activation, so a call to org.freedesktop.secrets fails
# at once with org.freedesktop.DBus.Error.ServiceUnknown. (With the standard
# session bus configuration, that call would instead auto-start
# gnome-keyring-daemon.)
#
# --no-bus: no session bus at all. DBUS_SESSION_BUS_ADDRESS points at a socket
# that does not exist, so connecting fails (and libdbus cannot fall back to
# X11 autolaunch, which an unset address would allow when DISPLAY is set).
#
# CMD sees APPPASS_TEST_SECRET_SERVICE=absent (or "no-bus").
set -euo pipefail
APPPASS_SCRIPT=without-keyring
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_bus=0
if [ "${1:-}" = --no-bus ]; then
    no_bus=1
    shift
fi
[ $# -gt 0 ] || die "usage: scripts/without-keyring.sh [--no-bus] CMD [ARGS...]"

tmp="$(mktemp -d /tmp/apppass-nokeyring.XXXXXXXX)"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rc=0
if [ "$no_bus" = 1 ]; then
    env -u GNOME_KEYRING_CONTROL DBUS_SESSION_BUS_ADDRESS="unix:path=$tmp/no-such-bus" \
        APPPASS_TEST_SECRET_SERVICE=no-bus "$@" || rc=$?
else
    require_dbus_tools
    mapfile -t bus_opts < <(private_bus_options "$tmp")
    env -u GNOME_KEYRING_CONTROL APPPASS_TEST_SECRET_SERVICE=absent \
        dbus-run-session "${bus_opts[@]}" -- "$@" || rc=$?
fi
exit "$rc"
