#!/usr/bin/env bash
# Usage: tests/harness/oidc/start.sh [--port N] [--other-port N]
#
# Starts the test OpenID provider (see server.mjs) on 127.0.0.1 and prints one
# JSON line with its issuer URLs. Runs until stdin closes or Ctrl-C. The Rust
# tests (crates/apppass-core/tests/signin_oidc.rs) start it themselves; this
# script is for trying the provider by hand. Needs `npm ci` here first
# (scripts/setup.sh --test does it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ ! -d node_modules/oidc-provider ]; then
    echo "start.sh: node_modules missing: run scripts/setup.sh --test (or npm ci in $(pwd))" >&2
    exit 1
fi
exec node server.mjs "$@"
