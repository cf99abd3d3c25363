// The real app, end to end: the app-password wizard for the "custom" provider against a REAL
// Dovecot (tests/harness/dovecot/start.sh: IMAP and submission on 127.0.0.1, TLS from a CA made
// for the run, given to the app through the `ca_file` setting). The app password goes onto the
// real X clipboard (xclip, through stdin) before Paste; Rust reads it once and clears it. Then
// Save, client setup (copy a server name, export a Thunderbird file into Downloads), Test
// connection (ok for IMAP and SMTP), Done; and a rotation of the same entry.
// Screenshots of every screen go to $APPPASS_E2E_SHOTS (default: the temp folder).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, clipboardText, setClipboard, screenshot } from './app.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const shots = process.env.APPPASS_E2E_SHOTS || tmpdir();
const USER = 'alice@example.test';

/** Starts the test Dovecot; resolves with its JSON line. It stops when its stdin closes. */
function startDovecot() {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(here, '..', 'harness', 'dovecot', 'start.sh')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (d) => { log += d; });
    const timer = setTimeout(() => reject(new Error(`Dovecot did not start in 60 s:\n${log}`)), 60_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ info: JSON.parse(line), stop: () => child.stdin.end(), log: () => log });
    });
    child.once('exit', (code) => reject(new Error(`Dovecot's start.sh exited (${code}):\n${log}`)));
  });
}

let dovecot;
let app;
let downloads;
before(async () => {
  dovecot = await startDovecot();
  // Exports go to the XDG Downloads folder: a temporary one, named in a user-dirs.dirs file.
  const xdg = mkdtempSync(join(tmpdir(), 'apppass-e2e-xdg-'));
  downloads = join(xdg, 'Downloads');
  mkdirSync(downloads);
  writeFileSync(join(xdg, 'user-dirs.dirs'), `XDG_DOWNLOAD_DIR="${downloads}"\n`);
  app = await launch({
    settings: `ca_file = "${dovecot.info.ca_file}"\n`,
    env: { XDG_CONFIG_HOME: xdg },
  });
});
after(async () => {
  await app?.close();
  dovecot?.stop();
});

const $ = (id) => app.browser.$(`[data-testid="${id}"]`);
let shot = 0;
async function snap(name) {
  shot += 1;
  const path = join(shots, `apppass-e2e-wizard-${String(shot).padStart(2, '0')}-${name}.png`);
  try {
    await app.browser.saveScreenshot(path);
  } catch {
    screenshot(path);
  }
}

async function waitFor(check, what, ms = 10_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const got = await check();
    if (got) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function atStep(step) {
  await waitFor(async () => (await (await $('wizard')).getAttribute('data-step')) === step, `the ${step} step`);
}

async function next() {
  const button = await $('wizard-next');
  await button.waitForEnabled({ timeout: 10_000 });
  await button.click();
}

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test('a new user goes through the wizard to a tested connection against Dovecot', async () => {
  const password = dovecot.info.users[USER];
  const { imaps, submission } = dovecot.info;

  // A new user starts in the wizard.
  await (await $('wizard')).waitForDisplayed({ timeout: 15_000 });
  await atStep('provider');
  await (await $('wizard-provider')).selectByAttribute('value', 'custom');
  await (await $('wizard-account')).setValue(USER);
  await (await $('custom-imap-host')).setValue('127.0.0.1');
  await (await $('custom-imap-port')).clearValue();
  await (await $('custom-imap-port')).setValue(String(imaps));
  await (await $('custom-smtp-host')).setValue('127.0.0.1');
  await (await $('custom-smtp-security')).selectByAttribute('value', 'starttls');
  await (await $('custom-smtp-port')).clearValue();
  await (await $('custom-smtp-port')).setValue(String(submission));
  await snap('provider');
  await next();

  await atStep('client');
  await (await app.browser.$('[data-testid="client-option"][data-client="thunderbird"]')).click();
  await snap('client');
  await next();

  await atStep('preflight');
  const verdict = await $('preflight-verdict');
  await verdict.waitForDisplayed({ timeout: 10_000 });
  assert.notEqual(await verdict.getAttribute('data-verdict'), 'no');
  await snap('preflight');
  await next();

  // The custom provider: the mail administrator decides; nothing to tick.
  await atStep('mfa');
  await (await $('wizard-mfa-custom')).waitForDisplayed({ timeout: 5_000 });
  await snap('mfa');
  await next();

  await atStep('name');
  const nameBox = await $('wizard-name');
  await waitFor(async () => (await nameBox.getValue()).startsWith('Thunderbird on '), 'the suggested name');
  const name = await nameBox.getValue();
  await (await $('wizard-name-copy')).click();
  await waitFor(() => clipboardText() === name, 'the name on the clipboard', 5_000);
  await snap('name');
  await next();

  // Paste: first with nothing useful on the clipboard, then the real app password.
  await atStep('password');
  setClipboard('   ');
  await (await $('wizard-paste')).click();
  const refused = await $('wizard-paste-failure');
  await refused.waitForDisplayed({ timeout: 10_000 });
  assert.equal(await (await refused.$('[data-testid="failure-code"]')).getText(), 'EmptySecret');
  setClipboard(password);
  await waitFor(() => clipboardText() === password, 'the password on the test clipboard');
  await (await $('wizard-paste')).click();
  await (await $('wizard-pasted')).waitForDisplayed({ timeout: 10_000 });
  assert.match(await (await $('wizard-pasted')).getText(), new RegExp(`${password.length} characters`));
  await waitFor(() => clipboardText() !== password, 'Rust to clear the clipboard');
  const page = await app.browser.getPageSource();
  assert.ok(!page.includes(password), 'the page never holds the password');
  await snap('paste');
  await next();

  await atStep('save');
  await snap('save');
  await (await $('wizard-save')).click();

  await atStep('setup');
  const rows = await app.browser.$$('[data-testid="setup-endpoint"]');
  assert.equal(rows.length, 2);
  const setupText = await (await $('setup-settings')).getText();
  assert.match(setupText, new RegExp(`IMAP\\s*127\\.0\\.0\\.1\\s*Copy\\s*${imaps}\\s*Copy\\s*SSL/TLS`));
  assert.match(setupText, /STARTTLS/);
  assert.match(setupText, new RegExp(USER.replace('.', '\\.')));
  await (await rows[0].$('[data-testid="copy-host"]')).click();
  await waitFor(() => clipboardText() === '127.0.0.1', 'the server name on the clipboard', 5_000);
  await (await $('export-thunderbird')).click();
  const exported = await $('export-path');
  await exported.waitForDisplayed({ timeout: 10_000 });
  const path = (await (await exported.$('code')).getText()).trim();
  assert.equal(dirname(path), downloads);
  const xml = readFileSync(path, 'utf8');
  assert.match(xml, /<clientConfig/);
  assert.match(xml, new RegExp(`<port>${imaps}</port>`));
  assert.ok(!xml.includes(password), 'the Thunderbird file has no password');
  await snap('setup');
  await next();

  await atStep('test');
  await (await $('wizard-test')).click();
  await (await $('test-all-ok')).waitForDisplayed({ timeout: 60_000 });
  const outcomes = await app.browser.execute(() =>
    [...document.querySelectorAll('[data-testid="test-outcome"]')].map((e) => [e.dataset.protocol, e.dataset.result]),
  );
  assert.deepEqual(outcomes, [['imap', 'ok'], ['smtp', 'ok']]);
  const steps = await app.browser.$$('[data-testid="test-step"]');
  assert.ok(steps.length >= 2, `the steps are shown as they run (${steps.length})`);
  await snap('test');
  await (await $('wizard-done')).click();

  // Back in the vault: the entry, stored normalised, in the keyring only.
  await waitFor(
    async () => (await app.browser.execute(() => document.querySelector('[data-testid="entry-name"]')?.textContent?.trim())) === name,
    'the new entry in the vault list',
  );
  assert.equal(app.cli(['get', name]), `${password}\n`);
  for (const file of filesUnder(app.home)) {
    assert.ok(!readFileSync(file).toString('latin1').includes(password), `${file} holds the password`);
  }
  await snap('vault');
});

test('rotation: paste the new password, replace, reminder, setup and test on the same entry', async () => {
  const password = dovecot.info.users[USER];
  await (await $('rotate-button')).click();
  await atStep('password');
  setClipboard(` ${password}\n`);
  await waitFor(() => clipboardText() === ` ${password}\n`, 'the password on the test clipboard');
  await (await $('wizard-paste')).click();
  await (await $('wizard-pasted')).waitForDisplayed({ timeout: 10_000 });
  await next();
  await atStep('save');
  await (await $('wizard-save')).click();
  await atStep('setup');
  const reminder = await $('rotate-reminder');
  assert.match(await reminder.getText(), /still works at .* until you delete it there/);
  await snap('rotate-setup');
  await next();
  await (await $('wizard-test')).click();
  await (await $('test-all-ok')).waitForDisplayed({ timeout: 60_000 });
  await (await $('wizard-done')).click();
  await (await $('toast')).waitForDisplayed({ timeout: 5_000 });
  assert.match(await (await $('toast')).getText(), /Replaced the password/);
  const audit = readFileSync(join(app.home, 'audit.jsonl'), 'utf8');
  assert.match(audit, /"action":"rotated"/);
});
