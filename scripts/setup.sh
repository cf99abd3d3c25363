#!/usr/bin/env bash
# Usage: scripts/setup.sh [--app | --test]
#
# Installs what apppass needs on a Debian 12 / Ubuntu 22.04+ machine.
# Idempotent: each step checks first and does nothing when already satisfied
# (a second run takes about a second).
#   --app   only what building and running the desktop app needs
#   --test  everything for scripts/test.sh (the default)
# Needs root or sudo for apt. Rust (cargo) and Node.js 20+ must already be
# installed: this script does not download toolchains.
set -euo pipefail
APPPASS_SCRIPT=setup
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode="test"
case "${1:-}" in
    --app) mode=app ;;
    --test | "") mode="test" ;;
    -h | --help)
        sed -n '2,11s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *) die "unknown option '$1' (use --app or --test)" ;;
esac

# Build and run the Tauri app; gnome-keyring + dbus give it a Secret Service
# where no desktop session provides one.
APT_APP=(
    build-essential pkg-config curl
    libwebkit2gtk-4.1-dev libsoup-3.0-dev libayatana-appindicator3-dev
    librsvg2-dev libgtk-3-dev libssl-dev libxdo-dev libdbus-1-dev
    dbus dbus-x11 gnome-keyring
)
# Tests: headless X (Xvfb, xauth for xvfb-run), WebDriver for E2E, the
# keyring harness (secret-tool), screenshots, clicks, benchmarks, clipboard;
# Dovecot (IMAP, POP3, submission, LMTP) and legacy mail clients (msmtp, swaks)
# for the connection tests, run as the test user on loopback ports only; isync
# (mbsync) checks the exported mbsync configuration; python3-dbus unlocks the
# throwaway keyring headless (the fault-injection control of with-keyring.sh);
# squashfs-tools and patchelf for the AppImage tools' tests (crates/apppass-appimage).
APT_TEST=(
    xvfb xauth webkit2gtk-driver libsecret-tools
    imagemagick xdotool hyperfine xclip
    dovecot-core dovecot-imapd dovecot-pop3d dovecot-submissiond dovecot-lmtpd
    msmtp swaks openssl isync python3-dbus
    squashfs-tools patchelf
)
TAURI_DRIVER_VERSION=2.1.0
NODE_MIN_MAJOR=20

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is missing: run this script as root"
    SUDO=(sudo)
fi

# --- 1. apt packages --------------------------------------------------------
pkgs=("${APT_APP[@]}")
[ "$mode" = test ] && pkgs+=("${APT_TEST[@]}")
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    die "dpkg-query/apt-get not found: this script supports Debian and Ubuntu only (see README, 'Other platforms')"
fi
installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null |
    awk '$2 == "ii" {print $1}')" || true
missing=()
for p in "${pkgs[@]}"; do
    grep -qx -- "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    say "apt ($mode): all ${#pkgs[@]} packages already installed"
else
    say "apt ($mode): installing ${#missing[@]} missing: ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}"
fi

# --- 2. Rust ------------------------------------------------------------------
ensure_cargo_on_path
if ! command -v cargo >/dev/null 2>&1; then
    die "cargo not found. Install Rust with rustup (https://rustup.rs), open a new shell (or 'source ~/.cargo/env') and run this again."
fi
rust_version="$(rustc --version 2>/dev/null | awk '{print $2}')"
rust_min="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$APPPASS_ROOT/Cargo.toml" | head -n1)"
if [ -n "$rust_min" ] && [ "$(printf '%s\n%s\n' "$rust_min" "${rust_version%%-*}" | sort -V | head -n1)" != "$rust_min" ]; then
    die "rustc $rust_version is older than the required $rust_min: run 'rustup update'"
fi
say "rust: $(cargo --version)${rust_min:+ (needs >= $rust_min)}"

if [ "$mode" = test ]; then
    need_components=()
    cargo fmt --version >/dev/null 2>&1 || need_components+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || need_components+=(clippy)
    if [ ${#need_components[@]} -eq 0 ]; then
        say "rust components: rustfmt and clippy present"
    elif command -v rustup >/dev/null 2>&1; then
        say "rust components: rustup component add ${need_components[*]}"
        rustup component add "${need_components[@]}"
    else
        die "missing ${need_components[*]} and no rustup to add them"
    fi

    if command -v tauri-driver >/dev/null 2>&1; then
        say "tauri-driver: present ($(command -v tauri-driver))"
    else
        say "tauri-driver: cargo install tauri-driver --locked --version $TAURI_DRIVER_VERSION (about a minute)"
        cargo install tauri-driver --locked --version "$TAURI_DRIVER_VERSION" --quiet
    fi
fi

# --- 3. Node.js and the UI's packages ----------------------------------------
ui="$APPPASS_ROOT/ui"
if [ ! -f "$ui/package.json" ]; then
    say "node: ui/package.json not there yet, skipping the UI"
else
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        die "node/npm not found: install Node.js $NODE_MIN_MAJOR or newer (Debian 12 and Ubuntu 22.04 ship older ones; NodeSource packages work)"
    fi
    node_version="$(node --version)"
    node_major="${node_version#v}"
    node_major="${node_major%%.*}"
    [ "$node_major" -ge "$NODE_MIN_MAJOR" ] ||
        die "Node.js $node_version is too old: the UI's toolchain needs $NODE_MIN_MAJOR or newer"
    say "node: $node_version, npm $(npm --version)"
    if [ ! -f "$ui/package-lock.json" ]; then
        say "npm ci: no ui/package-lock.json, skipped"
    elif ui_deps_fresh; then
        say "npm ci: ui/node_modules already matches ui/package-lock.json"
    else
        say "npm ci: installing ui/node_modules"
        (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    fi
fi

# --- 4. The sign-in tests' OpenID provider (tests/harness/oidc) ---------------
# The Rust tests start it themselves (npm package oidc-provider); only its
# packages are installed here.
if [ "$mode" = test ]; then
    harness="$APPPASS_ROOT/tests/harness/oidc"
    stamp="$harness/node_modules/.package-lock.json"
    command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js $NODE_MIN_MAJOR or newer (the sign-in tests run an OpenID provider on it)"
    if [ -f "$stamp" ] && [ "$stamp" -nt "$harness/package-lock.json" ] && [ "$stamp" -nt "$harness/package.json" ]; then
        say "npm ci: tests/harness/oidc/node_modules already matches its package-lock.json"
    else
        say "npm ci: installing tests/harness/oidc/node_modules (test OpenID provider)"
        (cd "$harness" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    fi
fi

say "done ($mode)"
