// The real app, end to end: the Bridge screen. Real parts only, all on 127.0.0.1 and started here:
// the test OpenID provider (tests/harness/oidc) signs Ann in through the app's Work account screen
// ($BROWSER = fake-browser.mjs, which walks the provider's real pages), the Graph emulator answers
// the MFA screen the app leads on to, and a Dovecot with `--oauth2` (passdb oauth2 over the
// provider's introspection; its credentials only in a 0600 file) is the bridge's upstream.
// On the Bridge screen: add a client, read its settings, Copy password (the real X clipboard,
// read with xclip; the page never holds the password), Export certificate (into the XDG Downloads
// folder), Start; then Python's imaplib signs in to the bridge the way Thunderbird does (STARTTLS
// with the exported certificate, LOGIN with the local password on stdin) and selects INBOX; the
// screen shows the connected session and the client's last sign-in; a wrong password shows up as
// an error; Stop closes the port. Screenshots of each state go to $APPPASS_E2E_SHOTS.
// Last, the canary leak scan of the app: every secret of the throwaway keyring (bridge password,
// refresh token, the bridge's TLS key, the vault key) and every access token the provider issued
// is looked for (plain, hex, UTF-16LE, base64) in the data directory, the test HOME (the webview's
// data under ~/.local/share/org.apppass.desktop: storage, caches, HSTS database), the Downloads
// folder, and /proc/PID/cmdline and environ of the app and its WebKit processes: zero hits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP, launch, clipboardText } from './app.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const harness = join(here, '..', 'harness');
const shots = process.env.APPPASS_E2E_SHOTS || tmpdir();
const NAME = 'Thunderbird on e2e';
const USERNAME = 'thunderbird-on-e2e';
/** The bridge's generated passwords: six groups of five. */
const GENERATED = /^[a-z0-9]{5}(-[a-z0-9]{5}){5}$/i;

/** Starts a program that prints one JSON line when it is ready and stops when its stdin closes. */
function startServer(command, args, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: dirname(args[0]), stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => { log += d; });
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 60 s:\n${log}`)), 60_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ info: JSON.parse(line), stop: () => child.stdin.end(), log: () => log });
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}):\n${log}`)));
  });
}

/** Ports that were free a moment ago (settings cannot say "any free port": 0 is "off" there). */
async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i += 1) {
    const srv = createServer();
    await new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', resolve);
    });
    servers.push(srv);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

let oidc;
let graph;
let dovecot;
let app;
let downloads;
let secrets;
/** The app's HOME: a temporary one, so that "start at login" writes no login item of this machine. */
let home;
const ports = {};
before(async () => {
  oidc = await startServer(process.execPath, [join(harness, 'oidc', 'server.mjs')], 'the OpenID provider');
  graph = await startServer(process.execPath, [join(harness, 'graph', 'server.mjs'), '--issuer', oidc.info.issuer], 'the Graph emulator');
  // Dovecot gets the introspection credentials from a 0600 file, never from argv.
  secrets = mkdtempSync(join(tmpdir(), 'apppass-e2e-bridge-'));
  const oauth2 = join(secrets, 'introspection.json');
  writeFileSync(oauth2, JSON.stringify(oidc.info.introspection), { mode: 0o600 });
  chmodSync(oauth2, 0o600);
  dovecot = await startServer('bash', [join(harness, 'dovecot', 'start.sh'), '--oauth2', oauth2], 'Dovecot (--oauth2)');
  assert.deepEqual(dovecot.info.oauth2.users, ['ann@example.test']);

  [ports.imap, ports.imaps, ports.smtp, ports.smtps] = await freePorts(4);
  // Exports go to the XDG Downloads folder: a temporary one, named in a user-dirs.dirs file.
  const xdg = join(secrets, 'xdg');
  downloads = join(xdg, 'Downloads');
  mkdirSync(downloads, { recursive: true });
  writeFileSync(join(xdg, 'user-dirs.dirs'), `XDG_DOWNLOAD_DIR="${downloads}"\n`);
  // No .config in it yet, as in a new account: the app must create ~/.config/autostart itself.
  home = join(secrets, 'home');
  mkdirSync(home);
  const opened = join(secrets, 'opened.txt');
  const { issuer } = oidc.info;
  app = await launch({
    settings: [
      `ca_file = "${dovecot.info.ca_file}"`,
      '',
      '[signin]',
      `authority = "${issuer}"`,
      'client_id = "apppass-test"',
      '',
      '[bridge]',
      'preset = "custom"',
      'scopes = ["mail"]',
      '[bridge.imap]',
      'host = "127.0.0.1"',
      `port = ${dovecot.info.imaps}`,
      'security = "tls"',
      '[bridge.smtp]',
      'host = "127.0.0.1"',
      `port = ${dovecot.info.submission}`,
      'security = "starttls"',
      '[bridge.listen]',
      `imap = ${ports.imap}`,
      `imaps = ${ports.imaps}`,
      'pop = 0',
      'pops = 0',
      `smtp = ${ports.smtp}`,
      `smtps = ${ports.smtps}`,
      '',
    ].join('\n'),
    env: {
      BROWSER: `${process.execPath} ${join(here, 'fake-browser.mjs')}`,
      APPPASS_E2E_ISSUER: issuer,
      APPPASS_E2E_OPENED: opened,
      APPPASS_TEST_USER: 'ann@example.test',
      APPPASS_TEST_PASSWORD: 'ann-test-password',
      APPPASS_E2E_DENY: '0',
      APPPASS_GRAPH_URL: `${graph.info.base}/s/authenticator/e2e-bridge-${process.pid}-${Date.now()}`,
      XDG_CONFIG_HOME: xdg,
      HOME: home,
    },
  });
});
after(async () => {
  await app?.close();
  dovecot?.stop();
  graph?.stop();
  oidc?.stop();
  if (secrets) rmSync(secrets, { recursive: true, force: true });
});

const $ = (id) => app.browser.$(`[data-testid="${id}"]`);
let shot = 0;
/** A screenshot of the window, scrolled to the element `testid` (or to the top). */
async function snap(name, testid = null) {
  shot += 1;
  const path = join(shots, `apppass-e2e-bridge-${String(shot).padStart(2, '0')}-${name}.png`);
  await app.browser.execute((id) => {
    const el = id && document.querySelector(`[data-testid="${id}"]`);
    if (el) el.scrollIntoView({ block: 'center' });
    else window.scrollTo(0, 0);
  }, testid);
  await app.browser.saveScreenshot(path);
  return path;
}

/** Waits until `check` answers something truthy; on a timeout says what the screen showed. */
async function waitFor(check, what, ms = 15_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const got = await check();
    if (got) return got;
    await new Promise((r) => setTimeout(r, 150));
  }
  const shown = await app.browser.execute(() => document.querySelector('main')?.innerText ?? '');
  await snap(`failed-${what.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
  throw new Error(`timed out waiting for ${what}; the screen showed:\n${shown}`);
}

async function textOf(id) {
  const el = await $(id);
  return (await el.isExisting()) ? el.getText() : '';
}

/** The cells of the client's row in the Clients table. */
function clientRow() {
  return app.browser.execute(
    (name) => [...(document.querySelector(`[data-testid="bridge-client"][data-name="${name}"]`)?.querySelectorAll('td') ?? [])]
      .map((td) => td.textContent.trim()),
    NAME,
  );
}

/** The page must never hold the bridge client's password. */
async function assertNotInPage(password) {
  const html = await app.browser.getPageSource();
  assert.ok(!html.includes(password), 'the page holds the bridge password');
}

/**
 * Python's imaplib as Thunderbird signs in to the bridge: the plain IMAP port, STARTTLS trusting
 * the exported certificate, LOGIN with the password (the first line of stdin), SELECT INBOX. It
 * prints `SELECTED <messages>` (or `NO <text>` when the login is refused) and, when `hold`, keeps
 * the session open until it reads another line.
 */
function imaplib(port, cert, user, password, { hold = false } = {}) {
  const py = spawn('python3', [
    '-c',
    [
      'import imaplib, ssl, sys',
      'port, ca, user, hold = sys.argv[1:]',
      "password = sys.stdin.readline().rstrip('\\n')",
      "m = imaplib.IMAP4('127.0.0.1', int(port))",
      'm.starttls(ssl_context=ssl.create_default_context(cafile=ca))',
      'try:',
      '    m.login(user, password)',
      'except imaplib.IMAP4.error as e:',
      "    print('NO', e, flush=True)",
      '    sys.exit(0)',
      "typ, data = m.select('INBOX', readonly=True)",
      "print('SELECTED' if typ == 'OK' else 'SELECT-FAILED', data[0].decode(), flush=True)",
      "if hold == '1':",
      '    sys.stdin.readline()',
      'm.logout()',
    ].join('\n'),
    String(port),
    cert,
    user,
    hold ? '1' : '0',
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  py.stdout.on('data', (d) => { out += d; });
  py.stderr.on('data', (d) => { err += d; });
  py.stdin.on('error', () => {});
  py.stdin.write(`${password}\n`);
  const exited = new Promise((resolve) => py.once('exit', (code) => resolve({ code, out: out.trim(), err })));
  return {
    /** The first line it printed. */
    firstLine: () => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`imaplib printed nothing in 60 s: ${err}`)), 60_000);
      const tick = setInterval(() => {
        if (out.includes('\n')) {
          clearTimeout(timer);
          clearInterval(tick);
          resolve(out.split('\n')[0]);
        }
      }, 50);
      exited.then(() => {
        clearTimeout(timer);
        clearInterval(tick);
        resolve(out.split('\n')[0]);
      });
    }),
    /** Logs out (when held) and answers with the exit code and output. */
    finish: () => {
      py.stdin.end('\n');
      return exited;
    },
  };
}

let password;
let cert;
/** The bridge ran and a client signed in (the last test goes on from there). */
let ready = false;

test('Ann signs in through the Work account screen at the real provider (scope mail)', async () => {
  await (await $('nav-account')).waitForDisplayed({ timeout: 15_000 });
  await (await $('nav-account')).click();
  await (await $('signin-methods')).waitForDisplayed({ timeout: 15_000 });
  await (await $('signin-browser')).click();
  // fake-browser.mjs signs Ann in on the provider's pages; the app leads on to the MFA screen.
  await waitFor(async () => /Ann Example/.test(await textOf('mfa-account')), 'the MFA screen for Ann', 60_000);
  await (await $('nav-account')).click();
  assert.equal(await (await $('signin-account-username')).getText(), 'ann@example.test');
});

test('Bridge screen: add a client, its settings, Copy password (X clipboard), Export certificate', async () => {
  await (await $('nav-bridge')).click();
  await (await $('bridge')).waitForDisplayed({ timeout: 10_000 });
  await waitFor(async () => (await (await $('bridge-state')).getAttribute('data-running')) === 'false', 'the stopped state');
  await (await $('bridge-no-clients')).waitForDisplayed({ timeout: 10_000 });
  // The custom provider of settings.toml is kept as it is.
  await waitFor(async () => (await (await $('bridge-preset')).getValue()) === 'custom', 'the custom preset');
  await snap('empty');

  // Add a client: the program first (a name is suggested), then our own name.
  await (await $('bridge-add-client')).selectByAttribute('value', 'thunderbird');
  const nameBox = await $('bridge-add-name');
  await waitFor(async () => (await nameBox.getValue()).startsWith('Thunderbird on '), 'the suggested name');
  await nameBox.clearValue();
  await nameBox.setValue(NAME);
  await (await $('bridge-add')).click();

  // Its settings open at once: the bridge's own address, the IMAP and SMTP ports, STARTTLS.
  const setup = await $('bridge-setup');
  await setup.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await setup.getAttribute('data-name'), NAME);
  assert.deepEqual((await clientRow()).slice(0, 4), [NAME, USERNAME, 'Thunderbird', 'never']);
  const rows = await app.browser.execute(() =>
    [...document.querySelectorAll('[data-testid="bridge-setup-server"]')].map((r) => [
      r.dataset.protocol,
      r.querySelector('td code')?.textContent,
      r.querySelectorAll('td code')[1]?.textContent,
      r.querySelector('[data-testid="bridge-setup-security"]')?.textContent,
    ]),
  );
  assert.deepEqual(rows, [
    ['imap', '127.0.0.1', String(ports.imap), 'STARTTLS'],
    ['smtp', '127.0.0.1', String(ports.smtp), 'STARTTLS'],
  ]);
  assert.equal(await (await $('bridge-setup-username')).getText(), USERNAME);
  assert.match(await setup.getText(), /Enter these in Thunderbird/);
  await snap('client-added', 'bridge-setup');

  // Copy password: Rust puts it on the real X clipboard; the page never gets it.
  await (await $('bridge-copy-password')).click();
  password = await waitFor(async () => {
    const text = clipboardText();
    return GENERATED.test(text) ? text : null;
  }, 'the generated password on the X clipboard', 10_000);
  await assertNotInPage(password);
  await (await $('toast')).waitForDisplayed({ timeout: 5_000 });
  assert.match(await (await $('toast')).getText(), /Copied the password — clears in 30 s/);
  // It is the password the vault holds for the client (the CLI reads the same keyring item) …
  assert.equal(app.cli(['get', NAME]), `${password}\n`);
  // … and it is on no file of the profile.
  for (const file of filesUnder(app.home)) {
    assert.ok(!readFileSync(file).toString('latin1').includes(password), `${file} holds the password`);
  }
  await snap('password-copied', 'bridge-setup');

  // Export certificate: the bridge's certificate PEM into Downloads.
  await (await $('bridge-export-cert')).click();
  const saved = await $('bridge-cert-path');
  await saved.waitForDisplayed({ timeout: 10_000 });
  cert = (await (await saved.$('code')).getText()).trim();
  assert.equal(dirname(cert), downloads);
  const pem = readFileSync(cert, 'utf8');
  assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
  assert.doesNotMatch(pem, /PRIVATE KEY/);
  await snap('certificate', 'bridge-cert-path');
});

test('Start; imaplib signs in with STARTTLS and selects INBOX; the session and the last sign-in show', async () => {
  assert.ok(password && cert, 'the previous test copied the password and exported the certificate');
  await (await $('bridge-start-stop')).click();
  await waitFor(async () => (await (await $('bridge-state')).getAttribute('data-running')) === 'true', 'the bridge to run', 30_000);
  assert.equal(await (await $('bridge-state')).getText(), 'Running');
  assert.equal(await (await $('bridge-start-stop')).getText(), 'Stop');
  const listeners = await app.browser.execute(() =>
    [...document.querySelectorAll('[data-testid="bridge-listener"]')].map((r) => r.innerText.split('\t').map((s) => s.trim())),
  );
  assert.deepEqual(listeners, [
    ['IMAP', '127.0.0.1', String(ports.imap), 'STARTTLS'],
    ['IMAP', '127.0.0.1', String(ports.imaps), 'SSL/TLS'],
    ['SMTP', '127.0.0.1', String(ports.smtp), 'STARTTLS'],
    ['SMTP', '127.0.0.1', String(ports.smtps), 'SSL/TLS'],
  ]);
  assert.ok(await (await $('bridge-no-sessions')).isDisplayed());
  await snap('running');

  // Thunderbird's way in: STARTTLS on the plain port, LOGIN with the local password. The bridge
  // signs in to Dovecot with Ann's token (Dovecot takes nothing else for her).
  const session = imaplib(ports.imap, cert, USERNAME, password, { hold: true });
  const selected = await session.firstLine();
  assert.match(selected, /^SELECTED \d+$/, selected);
  // While it is connected the screen lists the session, for this client, relaying.
  const row = await waitFor(async () => {
    const text = await textOf('bridge-session');
    return text.includes(NAME) && /IMAP · relaying/.test(text) ? text : null;
  }, 'the connected session');
  assert.match(row, /since /);
  await snap('session');
  const done = await session.finish();
  assert.equal(done.code, 0, done.err);
  // The client's last sign-in follows, without leaving the screen.
  await waitFor(async () => {
    const last = (await clientRow())[3];
    return last && !/never|unused/.test(last);
  }, 'the last sign-in');
  await waitFor(async () => (await textOf('bridge-no-sessions')) === 'None right now.', 'the session to end');
  await assertNotInPage(password);
  await snap('signed-in', 'bridge-client');
  ready = true;
});

test('a wrong password is refused and shown as an error; Stop closes the port, the error stays', async () => {
  assert.ok(ready, 'the previous test started the bridge and signed a client in');
  const wrong = imaplib(ports.imap, cert, USERNAME, 'abcde-fghjk-mnpqr-stuvw-xyz23-45678');
  const refused = await wrong.firstLine();
  assert.match(refused, /^NO /, refused);
  await wrong.finish();
  const error = await waitFor(async () => {
    const el = await app.browser.$('[data-testid="bridge-error"][data-code="AuthRejected"]');
    return (await el.isExisting()) ? el.getText() : null;
  }, 'the refusal among the last errors');
  assert.match(error, /IMAP/);
  assert.match(error, /AuthRejected/);
  await snap('wrong-password', 'bridge-error');
  const audit = readFileSync(join(app.home, 'audit.jsonl'), 'utf8');
  assert.match(audit, /"action":"bridge_rejected"/);
  assert.ok(!audit.includes(password), 'the audit log holds the password');

  await (await $('bridge-start-stop')).click();
  await waitFor(async () => (await (await $('bridge-state')).getAttribute('data-running')) === 'false', 'the bridge to stop', 30_000);
  assert.equal(await (await $('bridge-start-stop')).getText(), 'Start');
  assert.equal(await (await $('bridge-listeners')).isExisting(), false);
  assert.equal(await canConnect(ports.imap), false, 'nothing listens on the IMAP port any more');
  assert.ok(await (await app.browser.$('[data-testid="bridge-error"][data-code="AuthRejected"]')).isExisting());
  await assertNotInPage(password);
  await snap('stopped', 'bridge-error');
  assert.ok(existsSync(cert));
});

test('Start at login: saving it registers apppass (an XDG autostart entry with --autostart); off removes it', async () => {
  const autostart = join(home, '.config', 'autostart');
  const entries = () => (existsSync(autostart) ? readdirSync(autostart).filter((f) => f.endsWith('.desktop')) : []);
  assert.deepEqual(entries(), []);
  const box = await $('bridge-start-at-login');
  assert.equal(await box.isSelected(), false);
  assert.equal(await (await $('bridge-login-item')).isExisting(), false);

  await box.click();
  await (await $('bridge-settings-save')).click();
  const line = await $('bridge-login-item');
  await waitFor(async () => (await line.isExisting()) && (await line.getAttribute('data-state')) === 'registered', 'the registered line');
  assert.match(await line.getText(), /apppass starts when you log in/);
  assert.deepEqual(entries(), ['apppass.desktop']);
  const desktop = readFileSync(join(autostart, 'apppass.desktop'), 'utf8');
  assert.match(desktop, /^\[Desktop Entry\]$/m);
  assert.match(desktop, /^Type=Application$/m);
  const exec = desktop.match(/^Exec=(.*)$/m)?.[1];
  assert.equal(exec?.trim(), `${realpathSync(APP)} --autostart`);
  assert.equal(await (await $('bridge-settings-failure')).isExisting(), false);
  // settings.toml says the same.
  assert.match(readFileSync(join(app.home, 'settings.toml'), 'utf8'), /start_at_login = true/);
  await snap('start-at-login', 'bridge-login-item');

  // The entry goes missing (removed in the desktop's settings): the screen warns; Register again.
  rmSync(join(autostart, 'apppass.desktop'));
  const register = await $('bridge-login-register');
  await register.waitForDisplayed({ timeout: 10_000 });
  assert.match(await line.getText(), /not registered with your desktop/);
  await snap('login-item-missing', 'bridge-login-item');
  await register.click();
  await waitFor(async () => (await line.getAttribute('data-state')) === 'registered', 'the registration again');
  assert.deepEqual(entries(), ['apppass.desktop']);

  // Off: the entry is removed.
  await (await $('bridge-start-at-login')).click();
  await (await $('bridge-settings-save')).click();
  await waitFor(async () => !(await (await $('bridge-login-item')).isExisting()), 'the line to go');
  assert.deepEqual(entries(), []);
  assert.match(readFileSync(join(app.home, 'settings.toml'), 'utf8'), /start_at_login = false/);
  await snap('start-at-login-off', 'bridge-start-at-login');
});

// ---- canary leak scan (issue 6, section 1: the app's part) ---------------------------------------

/** Byte patterns that betray `secret`: plain, hex, UTF-16LE, base64 and base64url at each alignment. */
function leakPatterns(secret) {
  const raw = Buffer.from(secret, 'utf8');
  const out = [
    ['plain', raw],
    ['hex', Buffer.from(raw.toString('hex'))],
    ['utf-16le', Buffer.from(secret, 'utf16le')],
  ];
  for (const enc of ['base64', 'base64url']) {
    for (let k = 0; k < 3; k++) {
      const bytes = Buffer.concat([Buffer.alloc(k), raw]);
      const full = bytes.subarray(0, bytes.length - (bytes.length % 3));
      const stable = full.toString(enc).replace(/=+$/, '').slice(k ? 4 : 0);
      if (stable.length >= 8) out.push([enc, Buffer.from(stable)]);
    }
  }
  return out;
}

/** Every regular file under `dir` (symlinks not followed). */
function regularFilesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return regularFilesUnder(p);
    return d.isFile() ? [p] : [];
  });
}

/** [place, bytes] of /proc/PID/cmdline and environ of every process started for this app launch. */
function appProcesses(apppassHome) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`);
      if (!environ.includes(Buffer.from(`APPPASS_HOME=${apppassHome}\0`))) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`);
      const name = cmdline.toString('latin1').split('\0')[0];
      out.push([`${name} /proc/${pid}/cmdline`, cmdline], [`${name} /proc/${pid}/environ`, environ]);
    } catch { /* gone, or not ours */ }
  }
  return out;
}

test('canary scan: no secret of the keyring is in the profile, the webview data, exports or the app processes', async () => {
  assert.ok(ready, 'the bridge tests ran (a client, a session, a refresh)');
  // The canaries: every secret of this run's throwaway keyring (the bridge password, the refresh
  // token, …) and every access token the provider issued.
  const listed = spawnSync('secret-tool', ['search', '--all', 'service', 'apppass'], { encoding: 'utf8' });
  const secretsInKeyring = `${listed.stdout}\n${listed.stderr}`.split('\n')
    .filter((l) => l.startsWith('secret = ')).map((l) => l.slice('secret = '.length));
  assert.ok(secretsInKeyring.includes(password), 'the bridge password is in the keyring (and so a canary)');
  const issued = await fetch(`${oidc.info.issuer}/_test/access-tokens`, { method: 'POST' }).then((r) => r.json());
  const canaries = [
    ...secretsInKeyring.map((value) => ({ kind: 'keyring secret', value })),
    ...issued.tokens.map((value) => ({ kind: 'access token', value })),
  ];
  assert.ok(issued.tokens.length > 0, 'the app got access tokens (sign-in, MFA screen, bridge session)');
  for (const c of canaries) assert.ok(c.value.length >= 16, `${c.kind} too short to be a canary`);

  // The places: the data directory, HOME (the webview's data and cache: ~/.local/share and
  // ~/.cache of org.apppass.desktop, the autostart folder), the XDG folder with Downloads (the
  // exported certificate), and argv + environment of the app and its WebKit processes.
  const webview = [join(home, '.local', 'share', 'org.apppass.desktop'), join(home, '.cache', 'org.apppass.desktop')];
  const present = webview.filter((d) => existsSync(d));
  assert.ok(present.length > 0, `the webview's folders are under the test HOME: ${regularFilesUnder(home).join(', ')}`);
  const places = [
    ...[app.home, home, join(secrets, 'xdg')].flatMap(regularFilesUnder).map((f) => [f, readFileSync(f)]),
    ...appProcesses(app.home),
  ];
  assert.ok(places.some(([p]) => /apppass-app \/proc\/\d+\/environ$/.test(p)), 'the app process was found');
  // The scanner finds a canary planted in the scanned area, in each encoding.
  const planted = `CANARY-E2E-${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}`;
  for (const [enc, blob] of [
    ['plain', Buffer.from(`x${planted}x`)],
    ['base64', Buffer.from(Buffer.from(`\0user\0${planted}`).toString('base64'))],
    ['utf-16le', Buffer.from(`pw=${planted};`, 'utf16le')],
  ]) {
    assert.ok(leakPatterns(planted).some(([e, p]) => e === enc && blob.includes(p)), `the scanner finds ${enc}`);
  }

  const hits = [];
  for (const c of canaries) {
    const patterns = leakPatterns(c.value);
    for (const [place, bytes] of places) {
      for (const [enc, p] of patterns) if (bytes.includes(p)) hits.push(`${c.kind} (${enc}) in ${place}`);
    }
  }
  const webviewFiles = present.flatMap(regularFilesUnder).length;
  console.log(`canary scan (app): ${canaries.length} canaries (${issued.tokens.length} access tokens) × ${places.length} places ` +
    `(${webviewFiles} files of the webview's data and cache, ${places.filter(([p]) => p.includes('/proc/')).length / 2} processes): ${hits.length} hits`);
  assert.deepEqual(hits, []);
});
