#!/usr/bin/env bash
# Usage: scripts/selftest-keyring.sh
#
# Checks the keyring harness itself with secret-tool, before the Rust tests
# rely on it:
#   with-keyring.sh            store + lookup round trip works
#   with-keyring.sh --locked   store is refused, lookup finds nothing, quickly
#   keyring-lock.sh            an item stored before locking can't be read
#   without-keyring.sh         store fails (no Secret Service on the bus)
#   without-keyring.sh --no-bus  store fails (no bus at all)
#   $APPPASS_TEST_KEYRING_CTL  lock / unlock / stop / start of the session's own
#                            keyring: reads fail while locked or stopped, the item
#                            is back after unlock and after a restart; a nested
#                            session's ctl leaves the outer keyring alone
# Each case has a 20 s timeout, so a prompt that would hang is a failure.
set -uo pipefail
APPPASS_SCRIPT=selftest-keyring
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$APPPASS_ROOT" || exit 1
command -v secret-tool >/dev/null 2>&1 || die "secret-tool not found: run 'bash scripts/setup.sh --test'"

passed=0
failed=0
check() { # NAME EXPECTED-OUTPUT COMMAND...
    local name="$1" want="$2" got
    shift 2
    got="$(timeout 20 "$@" 2>/dev/null)"
    if [ "$got" = "$want" ]; then
        say "ok   $name"
        passed=$((passed + 1))
    else
        say "FAIL $name: expected '$want', got '$got'"
        failed=$((failed + 1))
    fi
}

# Stores s3cret, then prints "store=<rc> lookup=<secret or nothing>".
probe='printf s3cret | secret-tool store --label=apppass-probe service apppass-probe username u >/dev/null 2>&1
echo "mode=$APPPASS_TEST_SECRET_SERVICE store=$? lookup=$(secret-tool lookup service apppass-probe username u 2>/dev/null)"'

check "unlocked keyring: round trip" "mode=unlocked store=0 lookup=s3cret" \
    scripts/with-keyring.sh sh -c "$probe"
check "locked keyring: store refused" "mode=locked store=1 lookup=" \
    env APPPASS_KEYRING_LOCKED=1 scripts/with-keyring.sh sh -c "$probe"
check "keyring-lock.sh: stored item unreadable" "before=s3cret after=" \
    scripts/with-keyring.sh sh -c 'printf s3cret | secret-tool store --label=p service apppass-probe username u &&
        b=$(secret-tool lookup service apppass-probe username u) && scripts/keyring-lock.sh &&
        echo "before=$b after=$(secret-tool lookup service apppass-probe username u)"'
check "keyring-lock.sh refuses outside the harness" "refused" \
    sh -c 'env -u APPPASS_TEST_SECRET_SERVICE scripts/keyring-lock.sh || echo refused'
check "no secret service: store fails" "mode=absent store=1 lookup=" \
    scripts/without-keyring.sh sh -c "$probe"
check "no session bus: store fails" "mode=no-bus store=1 lookup=" \
    scripts/without-keyring.sh --no-bus sh -c "$probe"
# The fault-injection control: each step prints what a lookup sees afterwards.
ctl_probe='C="$APPPASS_TEST_KEYRING_CTL"; look() { secret-tool lookup service apppass-probe username u 2>/dev/null; }
printf s3cret | secret-tool store --label=p service apppass-probe username u || exit 1
$C lock && echo "locked=$($C status):$(look)"
$C unlock && echo "unlocked=$($C status):$(look)"
$C stop && echo "stopped=$($C status):$(look)"
$C start && echo "started=$($C status):$(look)"
$C lock && $C stop && $C start && echo "restarted-after-lock=$($C status):$(look)"
$C start 2>/dev/null || echo "second-start=refused"
$C bogus 2>/dev/null; echo "unknown-action=$?"'
check "keyring ctl: lock, unlock, stop, start" "$(printf '%s\n' locked=locked: unlocked=unlocked:s3cret \
    stopped=stopped: started=unlocked:s3cret restarted-after-lock=unlocked:s3cret \
    second-start=refused unknown-action=2)" \
    scripts/with-keyring.sh sh -c "$ctl_probe"
check "keyring ctl: a nested session's stop leaves the outer keyring alone" "outer=s3cret inner=stopped" \
    scripts/with-keyring.sh sh -c 'printf s3cret | secret-tool store --label=p service apppass-probe username u &&
        i=$(scripts/with-keyring.sh sh -c "\$APPPASS_TEST_KEYRING_CTL stop && \$APPPASS_TEST_KEYRING_CTL status") &&
        echo "outer=$(secret-tool lookup service apppass-probe username u) inner=$i"'
check "exit status of CMD is passed through" "" \
    sh -c 'scripts/with-keyring.sh sh -c "exit 3"; [ $? = 3 ] || echo wrong'

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
