#!/usr/bin/env bash
# Usage: scripts/appimage-tools.sh
#
# Puts apppass's own AppImage tools where Tauri's AppImage bundler looks for its tools, so that
# `tauri build` makes the AppImage without downloading anything (docs/RELEASE.md, "AppImage").
# tauri.conf.json sets bundle.useLocalToolsDir, so that folder is <cargo target dir>/.tauri/
# (target/.tauri/, or $CARGO_TARGET_DIR/.tauri/). scripts/bundle.sh runs this before `tauri build`.
#
# The bundler (Tauri CLI 2.12) runs linuxdeploy and its GTK plugin, and copies an AppRun into the
# AppDir. It finds here, under the names it downloads them as:
#   linuxdeploy-07333c6-x86_64.AppImage   appimage-deploy (crates/apppass-appimage), in linuxdeploy's place
#   AppRun-x86_64                         crates/apppass-appimage/AppRun
#   linuxdeploy-plugin-appimage.AppImage  a link to the same deployer, which writes the AppImage
#                                         itself (without the file the bundler tries a download
#                                         and logs an error)
#   appimage-runtime                      the runtime the deployer puts at the head of the image
# The GTK plugin (linuxdeploy-plugin-gtk.sh) is written here by the bundler itself.
# Both programs are built static (glibc, crt-static) into target/appimage-tools/, so the runtime
# runs on any x86_64 Linux. Needs squashfs-tools and patchelf at bundling time (installed here).
set -euo pipefail
APPPASS_SCRIPT=appimage-tools
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT"
ensure_cargo_on_path

# The name the Tauri CLI in ui/package-lock.json gives linuxdeploy (its download's tag is in it);
# another CLI version may use another name: then bundle.sh sees the bundler download and says so.
LINUXDEPLOY_NAME=linuxdeploy-07333c6-x86_64.AppImage

need_apt mksquashfs squashfs-tools
need_apt patchelf patchelf

target="${CARGO_TARGET_DIR:-$APPPASS_ROOT/target}"
case "$target" in /*) ;; *) target="$APPPASS_ROOT/$target" ;; esac
triple=x86_64-unknown-linux-gnu
[ "$(uname -m)" = x86_64 ] || die "the AppImage is made for x86_64 only; this machine is $(uname -m)"

say "building the AppImage runtime and deployer (release, static)"
# Their own target folder: other RUSTFLAGS would make cargo rebuild the app's dependencies.
RUSTFLAGS="-C target-feature=+crt-static" nice -n "${APPPASS_NICE:-10}" cargo build --release --locked \
    -p apppass-appimage --target "$triple" --target-dir "$APPPASS_ROOT/target/appimage-tools"
built="$APPPASS_ROOT/target/appimage-tools/$triple/release"

tools="$target/.tauri"
mkdir -p "$tools"
install -m 0755 "$built/appimage-deploy" "$tools/$LINUXDEPLOY_NAME"
install -m 0755 "$built/appimage-runtime" "$tools/appimage-runtime"
install -m 0755 crates/apppass-appimage/AppRun "$tools/AppRun-x86_64"
ln -sfn "$LINUXDEPLOY_NAME" "$tools/linuxdeploy-plugin-appimage.AppImage"
say "AppImage tools in $tools: $(cd "$tools" && ls | tr '\n' ' ')"
