#!/usr/bin/env bash
# Usage: tests/harness/dovecot/start.sh [--oauth2 FILE]
#
# Starts a real Dovecot (Debian's dovecot-core, -imapd, -pop3d, -submissiond, -lmtpd) on
# 127.0.0.1 with free ports, as the current user, in a fresh temporary directory; plus
# helpers.py (the submission relay into Dovecot's LMTP, the no-STARTTLS listeners and a silent
# one). Prints one JSON line:
#
#   {"host":"127.0.0.1","ca_file":…,"imap":…,"imaps":…,"pop3":…,"pop3s":…,"submission":…,
#    "submissions":…,"plain_smtp":…,"plain_imap":…,"plain_pop3":…,"silent":…,
#    "users":{"alice@example.test":PASSWORD,"bob@example.test":PASSWORD},
#    "dir":…,"maildir":…,"log":…}
#
# (with --oauth2, also "oauth2":{"introspection_url":URL_WITHOUT_SECRET,"users":["ann@example.test"]})
#
# imap/pop3/submission take STARTTLS, imaps/pop3s/submissions TLS from the first byte.
# Certificates come from a CA made here with openssl (ca_file; the server certificate names
# localhost and 127.0.0.1). The users' passwords are random for each run; only their
# SHA512-CRYPT hashes are written (DIR/passwd). The plain listeners log the verb of each
# command they receive to DIR/plain-{smtp,imap,pop3}.log.
#
# Runs until stdin closes (the Rust tests keep a pipe open: crates/apppass-core/tests/support/
# dovecot.rs) or until it gets SIGINT/SIGTERM; then stops Dovecot and the helpers and deletes
# the directory. The system's Dovecot service is neither needed nor touched.
#
# --oauth2 FILE (or the environment variable APPPASS_DOVECOT_OAUTH2 holding the same JSON; never
# the secret in argv): FILE is a JSON object {"url":…,"client_id":…,"client_secret":…}, the
# "introspection" object printed by tests/harness/oidc/server.mjs. Dovecot then also takes SASL
# XOAUTH2 and OAUTHBEARER: a second passdb (driver oauth2) asks that RFC 7662 introspection
# endpoint about each bearer token, every time (no auth cache). The token must be active, carry
# the scope `mail`, and its introspected `username` must equal the SASL user (XOAUTH2 user=,
# OAUTHBEARER a=), compared lowercased. ann@example.test (the oidc harness's user) has a mailbox
# for this (userdb only: she has no password here). PLAIN/LOGIN stay with the password users.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

oauth2_file=""
while [ $# -gt 0 ]; do
    case "$1" in
        --oauth2) [ $# -ge 2 ] || { echo "start.sh: --oauth2 needs a file" >&2; exit 2; }
            oauth2_file=$2; shift 2 ;;
        --oauth2=*) oauth2_file=${1#--oauth2=}; shift ;;
        *) echo "start.sh: unknown option $1 (usage: start.sh [--oauth2 FILE])" >&2; exit 2 ;;
    esac
done
if [ -n "$oauth2_file" ] && [ ! -r "$oauth2_file" ]; then
    echo "start.sh: cannot read the --oauth2 file $oauth2_file" >&2
    exit 2
fi
oauth2=""
if [ -n "$oauth2_file" ] || [ -n "${APPPASS_DOVECOT_OAUTH2:-}" ]; then
    oauth2=yes
fi

dovecot_bin=$(command -v dovecot || true)
[ -n "$dovecot_bin" ] || { [ -x /usr/sbin/dovecot ] && dovecot_bin=/usr/sbin/dovecot; }
for need in "$dovecot_bin" openssl python3; do
    if [ -z "$need" ] || ! command -v "$need" >/dev/null; then
        echo "start.sh: ${need:-dovecot} is missing: run scripts/setup.sh --test (installs dovecot-core, dovecot-imapd, dovecot-pop3d, dovecot-submissiond, dovecot-lmtpd, openssl)" >&2
        exit 1
    fi
done
for module in imap pop3 submission lmtp; do
    if [ ! -x "/usr/lib/dovecot/$module" ]; then
        echo "start.sh: Dovecot's $module service is not installed: run scripts/setup.sh --test" >&2
        exit 1
    fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/apppass-dovecot.XXXXXX")
chmod 755 "$dir" # Dovecot's unprivileged processes must reach it when started as root
dovecot_pid=""
helpers_pid=""
cleanup() {
    trap - EXIT INT TERM HUP
    set +e
    for pid in $dovecot_pid $helpers_pid; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ -n "${APPPASS_KEEP_DOVECOT_DIR:-}" ]; then
        echo "start.sh: kept $dir" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
    echo "start.sh: $*" >&2
    [ -f "$dir/dovecot.log" ] && tail -n 40 "$dir/dovecot.log" >&2
    exit 1
}

# --- TLS: a CA of our own and a server certificate for localhost / 127.0.0.1 -----------------
(
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout ca.key -out ca.pem -subj "/CN=apppass test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out server.pem
    chmod 600 ca.key server.key
) 2>"$dir/openssl.log" || { cat "$dir/openssl.log" >&2; fail "openssl could not make the test certificates"; }

# --- who runs what ----------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
    # Dovecot's own unprivileged users (made by the Debian package); mail belongs to nobody.
    internal_user=dovecot internal_group=dovecot login_user=dovenull
    mail_uid=$(id -u nobody) mail_gid=$(id -g nobody)
else
    # Everything runs as the current user: Dovecot cannot change users without root.
    internal_user=$(id -un) internal_group=$(id -gn) login_user=$(id -un)
    mail_uid=$(id -u) mail_gid=$(id -g)
fi
mkdir -p "$dir/run" "$dir/state" "$dir/mail"
chown "$mail_uid:$mail_gid" "$dir/mail"

# --- users: random passwords, only their hashes on disk ----------------------------------------
new_password() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20; }
alice_password=$(new_password)
bob_password=$(new_password)
hash() { printf '%s' "$1" | openssl passwd -6 -stdin; }
{
    echo "alice@example.test:{SHA512-CRYPT}$(hash "$alice_password"):$mail_uid:$mail_gid::$dir/mail/alice::"
    echo "bob@example.test:{SHA512-CRYPT}$(hash "$bob_password"):$mail_uid:$mail_gid::$dir/mail/bob::"
} >"$dir/passwd"
chmod 644 "$dir/passwd"
# The userdb: the password users, and ann (OAuth only: she is in no passdb file, so she can
# only sign in with a bearer token, and only when --oauth2 is given).
{
    cat "$dir/passwd"
    echo "ann@example.test::$mail_uid:$mail_gid::$dir/mail/ann::"
} >"$dir/users"
chmod 644 "$dir/users"

# --- OAuth 2.0 (--oauth2): the passdb's settings, with the introspection secret, 0600 ----------
oauth2_json=""
if [ -n "$oauth2" ]; then
    # Python reads the file or the variable itself: the secret never passes through argv.
    oauth2_json=$(APPPASS_OAUTH2_FILE="$oauth2_file" python3 - "$dir/oauth2.conf.ext" <<'PY'
import json, os, sys, urllib.parse
path = os.environ.get("APPPASS_OAUTH2_FILE")
if path and os.stat(path).st_mode & 0o077:
    sys.exit(f"start.sh: {path} holds a secret: make it readable by its owner only (chmod 600)")
raw = open(path).read() if path else os.environ["APPPASS_DOVECOT_OAUTH2"]
cfg = json.loads(raw)
url = urllib.parse.urlsplit(cfg["url"])
if url.scheme != "http" or url.hostname != "127.0.0.1" or not url.port:
    sys.exit("start.sh: the introspection url must be http://127.0.0.1:PORT/...: " + cfg["url"])
quote = lambda s: urllib.parse.quote(s, safe="")
secret_url = f"http://{quote(cfg['client_id'])}:{quote(cfg['client_secret'])}@{url.hostname}:{url.port}{url.path}"
old = os.umask(0o077)
with open(sys.argv[1], "w") as f:
    f.write(f"""# Written by tests/harness/dovecot/start.sh (--oauth2). Holds the introspection secret: 0600.
introspection_mode = post
introspection_url = {secret_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
scope = mail
timeout_msecs = 5000
""")
os.umask(old)
print(json.dumps({"introspection_url": cfg["url"], "users": ["ann@example.test"]}))
PY
) || fail "the --oauth2 settings could not be read"
    # The auth process reads it as Dovecot's internal user.
    chown "$internal_user:$internal_group" "$dir/oauth2.conf.ext"
fi
# With --oauth2: passwords only for PLAIN/LOGIN, bearer tokens only for XOAUTH2/OAUTHBEARER
# (closes the passwd-file passdb block below and opens the oauth2 one).
oauth2_passdb=""
if [ -n "$oauth2" ]; then
    oauth2_passdb="  mechanisms = plain login
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/oauth2.conf.ext
"
fi

# APPPASS_DOVECOT_MAX_CONNECTIONS=N (the bridge benchmark, bench/bridge.rs): up to N IMAP
# connections at once for one user from 127.0.0.1. Dovecot's defaults are 10 per user and address
# (mail_max_userip_connections) and 100 login processes; each login process stays as the TLS
# proxy of its connection. Unset: Dovecot's defaults.
max_connections=${APPPASS_DOVECOT_MAX_CONNECTIONS:-}
case "$max_connections" in
    '' | *[!0-9]*) max_connections="" ;;
esac
login_limit=""
userip_limit=""
if [ -n "$max_connections" ]; then
    login_limit="  process_limit = $((max_connections + 20))"
    userip_limit="default_client_limit = $((max_connections * 3 + 100))
protocol imap {
  mail_max_userip_connections = $max_connections
}"
fi

# --- helpers first: Dovecot's configuration needs the relay's port -----------------------------
python3 "$here/helpers.py" "$dir" 2>"$dir/helpers.log" &
helpers_pid=$!
for _ in $(seq 1 100); do
    [ -f "$dir/helpers.json" ] && break
    kill -0 "$helpers_pid" 2>/dev/null || { cat "$dir/helpers.log" >&2; fail "helpers.py did not start"; }
    sleep 0.1
done
[ -f "$dir/helpers.json" ] || fail "helpers.py did not start in 10 s"
helper_port() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$dir/helpers.json" "$1"; }
relay_port=$(helper_port relay)

# Free ports for Dovecot's six listeners (asked of the kernel, then released for Dovecot).
read -r imap imaps pop3 pop3s submission submissions < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
')

cat >"$dir/dovecot.conf" <<CONF
# Written by tests/harness/dovecot/start.sh for one test run.
protocols = imap pop3 submission lmtp
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
instance_name = apppass-test-$$
log_path = $dir/dovecot.log
hostname = mail.example.test
postmaster_address = postmaster@example.test

default_internal_user = $internal_user
default_internal_group = $internal_group
default_login_user = $login_user
first_valid_uid = 1

ssl = required
ssl_cert = <$dir/server.pem
ssl_key = <$dir/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login${oauth2:+ xoauth2 oauthbearer}
# The tests give wrong passwords on purpose: answer them at once (see also the auth penalty below).
auth_failure_delay = 0
# No auth cache: every login is checked again (an expired or revoked token must fail at once).
auth_cache_size = 0
${oauth2:+# Why a token was refused (never the token itself: auth_verbose_passwords stays off).
auth_verbose = yes
}
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $dir/passwd
$oauth2_passdb}
userdb {
  driver = passwd-file
  args = $dir/users
}
mail_location = maildir:~/Maildir

# No chroot anywhere: chroot needs root, and the harness may run as an ordinary user.
service anvil {
  chroot =
}
service ipc {
  chroot =
}
service old-stats {
  chroot =
}
service imap-login {
  chroot =
$login_limit
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = $pop3s
    ssl = yes
  }
}
service submission-login {
  chroot =
  inet_listener submission {
    port = $submission
  }
  inet_listener submissions {
    port = $submissions
    ssl = yes
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
$userip_limit
submission_relay_host = 127.0.0.1
submission_relay_port = $relay_port
CONF

"$dovecot_bin" -F -c "$dir/dovecot.conf" 2>>"$dir/dovecot.log" &
dovecot_pid=$!

# Dovecot slows down repeated failed logins from one address (the auth penalty: 2, 4, 8 up to
# 15 s per attempt, kept by the anvil service). The tests fail logins on purpose, so the penalty
# socket is removed before any login: the auth process then runs without a penalty (it hides
# the missing socket by design). Every other part of Dovecot stays as shipped.
for _ in $(seq 1 200); do
    [ -S "$dir/run/anvil-auth-penalty" ] && break
    kill -0 "$dovecot_pid" 2>/dev/null || fail "dovecot exited"
    sleep 0.05
done
rm -f "$dir/run/anvil-auth-penalty"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in $imap $imaps $pop3 $pop3s $submission $submissions; do
    for _ in $(seq 1 200); do
        port_open "$port" && break
        kill -0 "$dovecot_pid" 2>/dev/null || fail "dovecot exited"
        sleep 0.1
    done
    port_open "$port" || fail "dovecot does not listen on 127.0.0.1:$port after 20 s"
done
[ -S "$dir/run/lmtp" ] || fail "dovecot's LMTP socket $dir/run/lmtp is missing"

printf '{"host":"127.0.0.1","ca_file":"%s","imap":%s,"imaps":%s,"pop3":%s,"pop3s":%s,"submission":%s,"submissions":%s,"plain_smtp":%s,"plain_imap":%s,"plain_pop3":%s,"silent":%s,"users":{"alice@example.test":"%s","bob@example.test":"%s"},"dir":"%s","maildir":"%s","log":"%s"%s}\n' \
    "$dir/ca.pem" "$imap" "$imaps" "$pop3" "$pop3s" "$submission" "$submissions" \
    "$(helper_port plain_smtp)" "$(helper_port plain_imap)" "$(helper_port plain_pop3)" "$(helper_port silent)" \
    "$alice_password" "$bob_password" "$dir" "$dir/mail" "$dir/dovecot.log" \
    "${oauth2_json:+,\"oauth2\":$oauth2_json}"

# Run until the caller closes stdin (or a signal arrives).
cat >/dev/null || true
