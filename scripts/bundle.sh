#!/usr/bin/env bash
# Usage: scripts/bundle.sh [--no-appimage] [--skip-ui] [--install-test]
#
# Builds the installable Linux bundles (docs/RELEASE.md):
#   1. the CLI `apppass` in release (target/release/apppass);
#   2. its shell completions (`apppass completions bash|zsh|fish`) into target/bundle-extra/completions/;
#   3. apppass's own AppImage tools, put where the bundler looks for linuxdeploy and the AppImage
#      runtime (scripts/appimage-tools.sh: nothing is downloaded);
#   4. the desktop app with the Tauri CLI (ui/node_modules/.bin/tauri, the npm package @tauri-apps/cli):
#      `tauri build --bundles deb,appimage`: the .deb (app + CLI + completions, see
#      bundle.linux.deb in tauri.conf.json) and the AppImage (the app alone).
# The app's binary lands in target/release/: `apppass-app` from cargo, and `apppass-desktop` (the
# installed name, mainBinaryName in tauri.conf.json: the CLI owns `apppass`); the script prints both
# paths and the bundles' paths at the end.
#
# --no-appimage   only the .deb.
# --skip-ui       embed the existing ui/dist instead of building it again (bench/release-profile.sh
#                 uses it so that parallel builds never write ui/dist at the same time).
# --install-test  afterwards, starts the AppImage on a fresh Debian 12 root without GTK or WebKit, and
#                 installs the .deb on another and starts it there (scripts/bundle-install-test.sh;
#                 needs root, debootstrap and the Debian mirror).
#
# Builds run under `nice -n 10` (APPPASS_NICE=0 to turn that off). CARGO_TARGET_DIR is honoured: the
# .deb then takes the CLI and completions from that folder (used to measure profile variants).
set -euo pipefail
APPPASS_SCRIPT=bundle
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT"
ensure_cargo_on_path

appimage=1
install_test=0
skip_ui=0
for arg in "$@"; do
    case "$arg" in
        --no-appimage) appimage=0 ;;
        --install-test) install_test=1 ;;
        --skip-ui) skip_ui=1 ;;
        -h | --help)
            sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown option '$arg' (see --help)" ;;
    esac
done

nice_cmd=(nice -n "${APPPASS_NICE:-10}")
target="${CARGO_TARGET_DIR:-$APPPASS_ROOT/target}"
case "$target" in /*) ;; *) target="$APPPASS_ROOT/$target" ;; esac
extra="$target/bundle-extra"

if ! ui_deps_fresh; then
    say "npm ci in ui/ (its node_modules is missing or older than package-lock.json)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
tauri="$APPPASS_ROOT/ui/node_modules/.bin/tauri"
[ -x "$tauri" ] || die "the Tauri CLI is missing ($tauri): npm ci in ui/"

start=$(date +%s)
say "building the CLI (release)"
"${nice_cmd[@]}" cargo build --release --locked -p apppass-cli
cli="$target/release/apppass"
[ -x "$cli" ] || die "the CLI was not built at $cli"

say "shell completions into $extra/completions"
mkdir -p "$extra/completions"
"$cli" completions bash >"$extra/completions/apppass.bash"
"$cli" completions zsh >"$extra/completions/_apppass"
"$cli" completions fish >"$extra/completions/apppass.fish"
for f in apppass.bash _apppass apppass.fish; do
    [ -s "$extra/completions/$f" ] || die "the completion file $f is empty"
done

# The paths in tauri.conf.json are for the default target folder; another CARGO_TARGET_DIR gets the
# same files from its own folder (the Tauri CLI merges --config into the file's settings).
config_args=()
if [ "$target" != "$APPPASS_ROOT/target" ]; then
    config_args=(--config "{\"bundle\":{\"linux\":{\"deb\":{\"files\":{
\"/usr/bin/apppass\":\"$cli\",
\"/usr/share/bash-completion/completions/apppass\":\"$extra/completions/apppass.bash\",
\"/usr/share/zsh/vendor-completions/_apppass\":\"$extra/completions/_apppass\",
\"/usr/share/fish/vendor_completions.d/apppass.fish\":\"$extra/completions/apppass.fish\"}}}}}")
fi

if [ "$skip_ui" = 1 ]; then
    [ -f ui/dist/index.html ] || die "--skip-ui: ui/dist/index.html is missing"
    # JSON merge: null removes the setting.
    config_args+=(--config '{"build":{"beforeBuildCommand":null}}')
fi

bundles=deb
if [ "$appimage" = 1 ]; then
    bash scripts/appimage-tools.sh
    bundles=deb,appimage
fi

say "building the app and the bundles (tauri build --bundles $bundles)"
build_log="$extra/tauri-build.log"
if ! "${nice_cmd[@]}" "$tauri" build --ci --bundles "$bundles" "${config_args[@]}" -- -p apppass-app --locked \
    2>&1 | tee "$build_log"; then
    if grep -q 'Downloading https://github.com/tauri-apps/binary-releases' "$build_log"; then
        die "the Tauri CLI looked for linuxdeploy under another name than scripts/appimage-tools.sh" \
            "gives it (LINUXDEPLOY_NAME): set that to the name in the download URL above"
    fi
    die "tauri build failed (its output is above and in $build_log)"
fi

bundle_dir="$target/release/bundle"
# shellcheck disable=SC2012 # the newest by time; the names have no odd characters
deb=$(ls -t "$bundle_dir"/deb/apppass_*.deb 2>/dev/null | head -n 1 || true)
[ -n "$deb" ] || die "no .deb in $bundle_dir/deb"

appimage_file=""
appimage_note="not asked for (--no-appimage)"
if [ "$appimage" = 1 ]; then
    # shellcheck disable=SC2012
    appimage_file=$(ls -t "$bundle_dir"/appimage/apppass_*.AppImage 2>/dev/null | head -n 1 || true)
    [ -n "$appimage_file" ] || die "no AppImage in $bundle_dir/appimage (see $build_log)"
    appimage_note="$appimage_file ($(stat -c %s "$appimage_file") bytes)"
fi

say "done in $(($(date +%s) - start)) s"
say "app binary:   $target/release/apppass-app (installed as apppass-desktop: $target/release/apppass-desktop)"
say "CLI binary:   $cli"
say ".deb:         $deb ($(stat -c %s "$deb") bytes)"
say "AppImage:     $appimage_note"

if [ "$install_test" = 1 ]; then
    bash "$APPPASS_ROOT/scripts/bundle-install-test.sh" "$deb"
    if [ -n "$appimage_file" ]; then
        bash "$APPPASS_ROOT/scripts/bundle-install-test.sh" --appimage "$appimage_file"
    fi
fi
