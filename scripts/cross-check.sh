#!/usr/bin/env bash
# Usage: scripts/cross-check.sh [--app] [windows] [macos]   (default: both)
#
# Type-checks the platform-specific code for Windows and macOS from Linux (docs/RELEASE.md):
# `cargo check` of apppass-core and apppass-cli (with --app also the desktop app) for
# x86_64-pc-windows-gnu and x86_64-apple-darwin, in target/cross/. Nothing is linked or run.
#   - the Rust standard library for each target comes from `rustup target add`;
#   - C code in dependencies (SQLite, ring) is compiled for Windows with Debian's MinGW
#     (gcc-mingw-w64-x86-64) and for macOS with zig's C compiler (PyPI's `ziglang`, in a venv under
#     target/cross-tools/), which carries the macOS libc headers.
# Not part of CI (several minutes per target on a fresh target folder).
set -euo pipefail
APPPASS_SCRIPT=cross-check
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT"
ensure_cargo_on_path

packages=(-p apppass-core -p apppass-cli)
targets=()
for arg in "$@"; do
    case "$arg" in
        --app) packages+=(-p apppass-app) ;;
        windows | macos) targets+=("$arg") ;;
        *) die "usage: $0 [--app] [windows] [macos]" ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(windows macos)
export CARGO_TARGET_DIR="$APPPASS_ROOT/target/cross"
tools="$APPPASS_ROOT/target/cross-tools"
fail=0

for t in "${targets[@]}"; do
    case "$t" in
        windows)
            triple=x86_64-pc-windows-gnu
            need_apt x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
            ;;
        macos)
            triple=x86_64-apple-darwin
            if [ ! -x "$tools/venv/bin/python" ] || ! "$tools/venv/bin/python" -c 'import ziglang' 2>/dev/null; then
                say "installing zig (PyPI ziglang) into $tools/venv"
                python3 -m venv "$tools/venv"
                "$tools/venv/bin/pip" install -q ziglang
            fi
            zig="$("$tools/venv/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
            # cc-rs passes clang's Apple flags; zig takes the target itself.
            cat >"$tools/zig-cc-macos" <<EOF
#!/usr/bin/env bash
args=()
skip=0
for a in "\$@"; do
    if [ "\$skip" = 1 ]; then skip=0; continue; fi
    case "\$a" in
        -arch) skip=1 ;;
        -mmacosx-version-min=* | --target=*) ;;
        *) args+=("\$a") ;;
    esac
done
exec "$zig" cc -target x86_64-macos "\${args[@]}"
EOF
            chmod +x "$tools/zig-cc-macos"
            export CC_x86_64_apple_darwin="$tools/zig-cc-macos" AR_x86_64_apple_darwin=ar
            ;;
    esac
    if ! rustup target list --installed | grep -qx "$triple"; then
        say "rustup target add $triple"
        rustup target add "$triple"
    fi
    say "cargo check ${packages[*]} --target $triple"
    if nice -n "${APPPASS_NICE:-10}" cargo check --locked "${packages[@]}" --target "$triple"; then
        say "ok: $triple"
    else
        say "FAILED: $triple"
        fail=1
    fi
done
exit "$fail"
