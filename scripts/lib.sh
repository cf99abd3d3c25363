# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.

APPPASS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export APPPASS_ROOT

# One line per step, prefixed with the calling script's name.
say() { printf '[%s] %s\n' "${APPPASS_SCRIPT:-apppass}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${APPPASS_SCRIPT:-apppass}" "$*" >&2; exit 1; }

# rustup installs into ~/.cargo/bin; a non-login shell may not have it on PATH.
ensure_cargo_on_path() {
    if ! command -v cargo >/dev/null 2>&1; then
        local bin="${CARGO_HOME:-$HOME/.cargo}/bin"
        if [ -x "$bin/cargo" ]; then
            PATH="$bin:$PATH"
            export PATH
        fi
    fi
}

# True when ui/node_modules was installed from the current ui/package-lock.json
# (npm writes node_modules/.package-lock.json at the end of every install).
ui_deps_fresh() {
    local ui="$APPPASS_ROOT/ui"
    local stamp="$ui/node_modules/.package-lock.json"
    [ -f "$stamp" ] || return 1
    [ "$stamp" -nt "$ui/package-lock.json" ] || return 1
    [ "$stamp" -nt "$ui/package.json" ] || return 1
}

# Writes a private D-Bus session configuration into DIR and prints the
# dbus-run-session options that use it. The bus has NO service activation:
# with the standard session.conf, asking for org.freedesktop.secrets would
# auto-start the desktop's gnome-keyring-daemon, and a locked keyring would pop
# up a gcr-prompter window (which hangs forever under Xvfb). Here every such
# request fails at once with ServiceUnknown instead.
# The dbus-daemon wrapper sends the daemon's own chatter (as root it always
# warns "Failed to set fd limit") to DIR/dbus-daemon.log.
private_bus_options() {
    local dir="$1"
    mkdir -p "$dir/no-services"
    cat >"$dir/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir=$dir</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$dir/no-services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
    local daemon
    daemon="$(command -v dbus-daemon || echo /usr/bin/dbus-daemon)"
    cat >"$dir/dbus-daemon" <<EOF
#!/bin/sh
exec "$daemon" "\$@" 2>>"$dir/dbus-daemon.log"
EOF
    chmod +x "$dir/dbus-daemon"
    printf '%s\n' "--config-file=$dir/bus.conf" "--dbus-daemon=$dir/dbus-daemon"
}

# need_apt COMMAND PACKAGE: installs the Debian package when its command is missing (as root, or
# through sudo), so that a script brings its own tools like setup.sh does; dies with what to run
# when that is not possible.
need_apt() {
    command -v "$1" >/dev/null 2>&1 && return 0
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo -n)
    say "installing $2 (for $1)"
    { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 ||
        { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1; }; } ||
        die "$1 is missing and $2 could not be installed: run 'sudo apt-get install $2'"
    command -v "$1" >/dev/null 2>&1 || die "$2 is installed but $1 is still not on PATH"
}

require_dbus_tools() {
    local t
    for t in dbus-run-session dbus-daemon dbus-send; do
        command -v "$t" >/dev/null 2>&1 ||
            die "$t not found: run 'bash scripts/setup.sh --test' (Debian packages dbus, dbus-bin, dbus-daemon)"
    done
}
