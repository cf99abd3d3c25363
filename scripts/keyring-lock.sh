#!/usr/bin/env bash
# Usage: scripts/keyring-lock.sh
#
# Locks the "login" collection of the Secret Service on the current session
# bus. Meant to be run by a test inside scripts/with-keyring.sh, after it has
# stored items, to exercise "keyring locked" paths on existing entries (with
# APPPASS_KEYRING_LOCKED=1 the keyring starts locked and stays empty).
# There is no matching unlock: unlocking needs a password prompt, which the
# harness's bus cannot show, so every unlock request is dismissed at once.
set -euo pipefail
[ "${APPPASS_TEST_SECRET_SERVICE:-}" = unlocked ] || [ "${APPPASS_TEST_SECRET_SERVICE:-}" = locked ] || {
    echo "[keyring-lock] refusing: not inside scripts/with-keyring.sh (would lock your real keyring)" >&2
    exit 2
}
dbus-send --session --print-reply --reply-timeout=5000 --dest=org.freedesktop.secrets \
    /org/freedesktop/secrets org.freedesktop.Secret.Service.Lock \
    array:objpath:/org/freedesktop/secrets/collection/login >/dev/null
