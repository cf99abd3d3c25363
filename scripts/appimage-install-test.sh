# shellcheck shell=bash
# The AppImage part of scripts/bundle-install-test.sh (--appimage), which sources this file in a
# fresh Debian 12 root it has set up: $root, $work, $bundle (the AppImage), $bundle_name, and its
# functions in_root, check, keep_screenshot, say, die and the variable fail.

# What the AppImage leaves to the system (crates/apppass-appimage/src/deploy.rs, HOST_PROVIDED),
# as Debian 12 packages; every Linux desktop has them. Mesa gives GL/EGL a driver under Xvfb.
APPIMAGE_HOST=(
    libc6 libstdc++6 libgcc-s1 zlib1g libexpat1
    libgl1 libglx0 libegl1 libgles2 libgbm1 libdrm2 libgl1-mesa-dri libegl-mesa0
    libx11-6 libx11-xcb1 libxcb1 libxcb-render0 libxcb-shm0
    libwayland-client0 libwayland-cursor0 libwayland-egl1 libwayland-server0
    libfontconfig1 libfreetype6 libharfbuzz0b fonts-dejavu-core
)
# To drive and look at it; none of them brings GTK or WebKit.
APPIMAGE_TEST_TOOLS=(xvfb xauth x11-utils xdotool imagemagick dbus procps)

say "installing only what the AppImage leaves to the system, and the test tools"
in_root apt-get install -y -q --no-install-recommends "${APPIMAGE_HOST[@]}" "${APPIMAGE_TEST_TOOLS[@]}" \
    >"$work/apt-appimage.log" 2>&1 ||
    { tail -n 20 "$work/apt-appimage.log"; die "installing the AppImage's system libraries failed"; }
grep -E '^(The following NEW|Need to get|After this operation)' "$work/apt-appimage.log" | sed 's/^/    /' || true

check "no GTK, WebKitGTK, JavaScriptCore or libsoup is installed in the root" sh -c \
    "! chroot '$root' dpkg-query -W -f='\${Package} \${Status}\n' 2>/dev/null |
        grep -E '^(libgtk-3-0|libwebkit2gtk-4.1-0|libjavascriptcoregtk-4.1-0|libsoup-3.0-0) .* installed'"
app=/tmp/$bundle_name
in_root chmod 0755 "$app"
check "$bundle_name --appimage-version" in_root "$app" --appimage-version
say "    $(cat "$work/check.out")"

cat >"$root/tmp/libraries.sh" <<EOF
set -u
cd /tmp && rm -rf squashfs-root
"$app" --appimage-extract >/dev/null
missing=0
while IFS= read -r -d '' f; do
    head -c 4 "\$f" | grep -q ELF || continue
    if ldd "\$f" 2>/dev/null | grep 'not found'; then
        echo "  (needed by \${f#/tmp/squashfs-root/})"
        missing=1
    fi
    n=\$((\${n:-0} + 1))
done < <(find squashfs-root -type f -print0)
echo "\$n ELF files checked"
rm -rf squashfs-root
exit "\$missing"
EOF
check "every ELF file in the AppImage finds all its libraries in the root" in_root bash /tmp/libraries.sh
say "    $(tail -n 1 "$work/check.out")"

cat >"$root/tmp/start-appimage.sh" <<EOF
set -u
export HOME=/tmp/apphome XDG_RUNTIME_DIR=/tmp/apprun
mkdir -p "\$HOME" && mkdir -m 0700 -p "\$XDG_RUNTIME_DIR"
start() { # NAME: starts the AppImage, waits for its window, prints the time
    local t0 t1 win
    t0=\$(date +%s%N)
    "$app" >"/tmp/appimage-\$1.log" 2>&1 &
    app_pid=\$!
    win=\$(timeout 60 xdotool search --sync --onlyvisible --name '^apppass$' | head -n 1)
    t1=\$(date +%s%N)
    [ -n "\$win" ] || { echo "\$1 start: no window titled apppass within 60 s"; cat "/tmp/appimage-\$1.log"; exit 1; }
    echo "\$1 start: window mapped \$(( (t1 - t0) / 1000000 )) ms after exec"
}
start first
grep '^AppImage:' /tmp/appimage-first.log
sleep 5   # let WebKit load and paint the first page
import -window root /tmp/appimage-first-screen.png
kill -0 "\$app_pid" || { echo "the app exited"; cat /tmp/appimage-first.log; exit 1; }
pgrep -af WebKitWebProcess | sed 's/^/WebKit: /'
kill "\$app_pid"; wait "\$app_pid" 2>/dev/null
sleep 1
start second
grep -q '^AppImage: first start' /tmp/appimage-second.log && { echo "the second start unpacked again"; exit 1; }
kill "\$app_pid"; wait "\$app_pid" 2>/dev/null
du -sh "\$HOME"/.cache/appimage/* | sed 's/^/unpacked: /'
exit 0
EOF
say "starting the AppImage under Xvfb in the root (twice)"
check "the AppImage starts and maps its window, unpacking only on the first start" in_root sh -c \
    'dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" bash /tmp/start-appimage.sh 2>/tmp/session.log'
sed 's/^/    /' "$work/check.out"
keep_screenshot appimage-first-screen.png
say "size: $bundle_name $(stat -c %s "$bundle") bytes"
say "whole test $(($(date +%s) - t_start)) s"
[ "$fail" = 0 ] || die "some AppImage checks failed (above)"
say "all AppImage checks passed"
