#!/usr/bin/env bash
# Usage: scripts/bundle-install-test.sh [path/to/apppass_*.deb]
#        scripts/bundle-install-test.sh --appimage [path/to/apppass_*.AppImage]
#
# Checks a bundle on a FRESH Debian 12 (bookworm) root as a user would meet it (docs/RELEASE.md,
# "Install test"). Needs root and the Debian mirror (installs debootstrap when it is missing); not
# part of CI.
#   1. a bookworm root: debootstrap --variant=minbase once, kept as a tarball under
#      target/install-test/ (reruns unpack it in seconds); a new root is unpacked for every run, with
#      /proc, /sys, /dev (with /dev/pts, /dev/shm) mounted and unmounted on exit, also on failure;
#      the downloaded packages are cached under target/install-test/apt-archives.
# The .deb:
#   2. `apt-get install ./apppass_*.deb` inside it (timed);
#   3. checks: `apppass --version` and `--help` from PATH, the three completion files, bash completing
#      `apppass ` to its commands, the desktop entry (desktop-file-validate) launching apppass-desktop,
#      the icon;
#   4. in a private D-Bus session with an unlocked throwaway gnome-keyring and a throwaway HOME: the
#      CLI stores a password and reads it back, then apppass-desktop starts under xvfb-run inside the
#      root; its window (title "apppass") must map, and a screenshot of the screen (the vault list
#      with that entry) is kept as target/install-test/first-screen.png.
#   Prints the .deb's size, its Installed-Size, what apt added in all, and the times.
# The AppImage (--appimage):
#   2. installs only what the AppImage leaves to the system (APPIMAGE_HOST below: glibc, the C++
#      runtime, GL/EGL, X11/xcb, Wayland's client libraries, fontconfig, FreeType, HarfBuzz) and
#      the test tools, and checks that no GTK, WebKitGTK or libsoup is installed;
#   3. checks: --appimage-version; every ELF file in the image finds all its libraries in the root;
#   4. in a private D-Bus session with a throwaway HOME (no keyring): the AppImage starts under
#      xvfb-run twice (the first start unpacks it), its window must map each time (both timed), and
#      a screenshot is kept as target/install-test/appimage-first-screen.png.
set -euo pipefail
APPPASS_SCRIPT=install-test
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT"

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
mode=deb
# shellcheck disable=SC2012 # the newest by time; the names have no odd characters
if [ "${1:-}" = --appimage ]; then
    mode=appimage
    shift
    bundle="${1:-$(ls -t target/release/bundle/appimage/apppass_*.AppImage 2>/dev/null | head -n 1 || true)}"
    [ -f "$bundle" ] || die "no AppImage given and none in target/release/bundle/appimage: run scripts/bundle.sh"
else
    bundle="${1:-$(ls -t target/release/bundle/deb/apppass_*.deb 2>/dev/null | head -n 1 || true)}"
    [ -f "$bundle" ] || die "no .deb given and none in target/release/bundle/deb: run scripts/bundle.sh"
fi
bundle="$(cd "$(dirname "$bundle")" && pwd)/$(basename "$bundle")"
mirror="${APPPASS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work="$APPPASS_ROOT/target/install-test"
tarball="$work/bookworm-minbase.tar"
archives="$work/apt-archives"
mkdir -p "$work" "$archives/partial"
t_start=$(date +%s)

if [ ! -s "$tarball" ]; then
    need_apt debootstrap debootstrap
    seed="$work/seed"
    if [ ! -x "$seed/usr/bin/apt-get" ]; then
        rm -rf "$seed"
        say "debootstrap --variant=minbase bookworm (once; kept as $tarball)"
        debootstrap --variant=minbase bookworm "$seed" "$mirror" >"$work/debootstrap.log" 2>&1 ||
            die "debootstrap failed: see $work/debootstrap.log"
    fi
    tar -C "$seed" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$seed"
fi

root="$(mktemp -d "$work/root.XXXXXX")"
mounts=()
cleanup() {
    local status=$?
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount -R "${mounts[$i]}" 2>/dev/null || umount -R -l "${mounts[$i]}" 2>/dev/null || true
    done
    # Never delete a folder that still has something mounted in it.
    if findmnt -rn -o TARGET | grep -q "^$root"; then
        say "WARNING: mounts left under $root; not deleting it"
    else
        rm -rf "$root"
    fi
    exit "$status"
}
trap cleanup EXIT INT TERM
mnt() { # mount ARGS... TARGET (the last argument)
    mount "$@"
    mounts+=("${!#}")
}

say "fresh root $root (from $tarball)"
tar -C "$root" -xf "$tarball"
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
# /dev with /dev/pts and /dev/shm; rslave so that nothing mounted under it reaches the host's /dev.
mnt --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mnt --bind "$archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
# Keep the downloaded packages (the cache is bind-mounted from target/).
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/01keep"
cp "$bundle" "$root/tmp/"
bundle_name="$(basename "$bundle")"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive HOME=/root "$@"; }

say "apt-get update"
in_root apt-get update -q >"$work/apt-update.log" 2>&1 || die "apt-get update failed: see $work/apt-update.log"

fail=0
check() { # DESCRIPTION CMD...
    local what="$1"
    shift
    if "$@" >"$work/check.out" 2>&1; then
        say "ok: $what"
    else
        say "FAILED: $what"
        sed 's/^/    /' "$work/check.out"
        fail=1
    fi
}

# Keeps the root's /tmp/NAME as $work/NAME and checks that it is not blank (more than 50 colours).
keep_screenshot() { # NAME
    [ -f "$root/tmp/$1" ] || return 0
    cp "$root/tmp/$1" "$work/$1"
    local colours
    colours=$(in_root convert "/tmp/$1" -format '%k' info:)
    say "screenshot: $work/$1 ($colours colours)"
    check "the screenshot is not blank (more than 50 colours)" test "$colours" -gt 50
}

if [ "$mode" = appimage ]; then
    # shellcheck source=scripts/appimage-install-test.sh
    . "$APPPASS_ROOT/scripts/appimage-install-test.sh"
    exit 0
fi
deb="$bundle"
debname="$bundle_name"

say "apt-get install ./$debname (with the Recommends, as apt does by default)"
t0=$(date +%s)
in_root apt-get install -y -q "/tmp/$debname" >"$work/apt-install.log" 2>&1 ||
    { tail -n 30 "$work/apt-install.log"; die "apt-get install of the .deb failed"; }
t_install=$(($(date +%s) - t0))
grep -E '^(The following NEW|Need to get|After this operation)' "$work/apt-install.log" | sed 's/^/    /' || true

check "apppass is on PATH at /usr/bin/apppass" test "$(in_root sh -c 'command -v apppass')" = /usr/bin/apppass
check "apppass --version" in_root apppass --version
say "    $(in_root apppass --version)"
check "apppass --help lists the commands" sh -c "chroot '$root' apppass --help | grep -q 'completions'"
for f in /usr/share/bash-completion/completions/apppass /usr/share/zsh/vendor-completions/_apppass \
    /usr/share/fish/vendor_completions.d/apppass.fish; do
    check "completion file $f" test -s "$root$f"
done
check "the app binary /usr/bin/apppass-desktop" test -x "$root/usr/bin/apppass-desktop"

say "installing the test tools in the root (not needed by apppass itself)"
in_root apt-get install -y -q --no-install-recommends bash-completion desktop-file-utils xvfb xauth \
    x11-utils xdotool imagemagick dbus dbus-x11 gnome-keyring procps >"$work/apt-tools.log" 2>&1 ||
    { tail -n 20 "$work/apt-tools.log"; die "installing the test tools failed"; }

cat >"$root/tmp/complete.sh" <<'EOF'
. /usr/share/bash-completion/bash_completion
_completion_loader apppass
complete -p apppass
COMP_WORDS=(apppass "")
COMP_CWORD=1
COMP_LINE="apppass "
COMP_POINT=${#COMP_LINE}
func=$(complete -p apppass | sed -n 's/.*-F \([^ ]*\).*/\1/p')
"$func" apppass "" apppass
printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
printf '%s\n' "${COMPREPLY[@]}" | grep -qx get && printf '%s\n' "${COMPREPLY[@]}" | grep -qx completions
EOF
check "bash completion loads and completes 'apppass ' to its commands (get, completions, ...)" \
    in_root bash /tmp/complete.sh
say "    $(tail -n 1 "$work/check.out")"

desktop="$root/usr/share/applications/apppass.desktop"
check "desktop entry $desktop" test -s "$desktop"
check "desktop-file-validate" in_root desktop-file-validate /usr/share/applications/apppass.desktop
check "the desktop entry launches apppass-desktop" grep -qx 'Exec=apppass-desktop' "$desktop"
icon=$(grep -m1 '^Icon=' "$desktop" | cut -d= -f2)
check "icon '$icon' in /usr/share/icons/hicolor" sh -c "ls '$root'/usr/share/icons/hicolor/*/apps/'$icon'.png"
sed 's/^/    /' "$work/check.out"

# The first start: a throwaway HOME, a private D-Bus session with an unlocked throwaway keyring, Xvfb.
cat >"$root/tmp/start.sh" <<'EOF'
set -u
export HOME=/tmp/apphome XDG_RUNTIME_DIR=/tmp/apprun
mkdir -p "$HOME" && mkdir -m 0700 -p "$XDG_RUNTIME_DIR"
printf 'throwaway\n' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
# The installed CLI stores and reads a password through the keyring (its run-time libraries).
printf 'install-test-pw' | apppass add "install test" --provider custom --account t@example.com \
    --client msmtp >/dev/null || { echo "apppass add failed"; exit 1; }
[ "$(apppass get "install test")" = install-test-pw ] || { echo "apppass get gave another value"; exit 1; }
echo "the CLI stored a password in the keyring and read it back"
t0=$(date +%s%N)
apppass-desktop >/tmp/app.log 2>&1 &
app=$!
win=$(timeout 60 xdotool search --sync --onlyvisible --name '^apppass$' | head -n 1)
t1=$(date +%s%N)
[ -n "$win" ] || { echo "no window titled apppass within 60 s"; cat /tmp/app.log; kill "$app"; exit 1; }
echo "window $win mapped $(( (t1 - t0) / 1000000 )) ms after exec"
xwininfo -id "$win" | grep -E 'xwininfo|Width|Height|Map State'
sleep 5   # let WebKit load and paint the first page (the vault list with the entry above)
import -window root /tmp/first-screen.png
kill -0 "$app" || { echo "the app exited"; cat /tmp/app.log; exit 1; }
kill "$app"; wait "$app" 2>/dev/null
exit 0
EOF
say "starting apppass-desktop under Xvfb in the root"
t0=$(date +%s)
# The session's own chatter (dbus-daemon, the portals it starts) goes to /tmp/session.log.
check "the CLI uses the keyring; the app starts and maps its window" in_root sh -c \
    'dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" bash /tmp/start.sh 2>/tmp/session.log'
t_app=$(($(date +%s) - t0))
sed 's/^/    /' "$work/check.out"
keep_screenshot first-screen.png

say "sizes: .deb $(stat -c %s "$deb") bytes; Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB;" \
    "with its dependencies and Recommends: $(grep -o 'After this operation, .*' "$work/apt-install.log")"
say "Depends: $(dpkg-deb -f "$deb" Depends)"
say "Recommends: $(dpkg-deb -f "$deb" Recommends)"
say "times: apt-get install ${t_install} s; the app check ${t_app} s; whole test $(($(date +%s) - t_start)) s"
[ "$fail" = 0 ] || die "some checks failed (above)"
say "all checks passed"
