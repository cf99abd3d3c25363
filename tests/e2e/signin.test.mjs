// The real app, end to end: work-account sign-in and the MFA screen against the REAL test OpenID
// provider (tests/harness/oidc, oidc-provider) and the Graph emulator (tests/harness/graph), both
// on 127.0.0.1 and started here. Nothing outside this computer is contacted: the settings point
// the app at the test issuer, APPPASS_GRAPH_URL at the emulator, and $BROWSER at fake-browser.mjs,
// which walks the provider's real login and consent pages (and only records other addresses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, screenshot } from './app.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const harness = join(here, '..', 'harness');
const shots = process.env.APPPASS_E2E_SHOTS || tmpdir();

/** Starts a Node server that prints one JSON line when it listens; stops when its stdin closes. */
function startServer(script, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: dirname(script),
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 30_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve({ info: JSON.parse(line), stop: () => child.stdin.end() });
    });
    child.once('error', reject);
  });
}

let oidc;
let graph;
before(async () => {
  oidc = await startServer(join(harness, 'oidc', 'server.mjs'), []);
  graph = await startServer(join(harness, 'graph', 'server.mjs'), ['--issuer', oidc.info.issuer]);
});
after(() => {
  oidc?.stop();
  graph?.stop();
});

/** The app, signed in to the test provider; `scenario` is the Graph emulator's for its MFA checks. */
async function launchSignedOut({ scenario, user = 'ann@example.test', password = 'ann-test-password', deny = false }) {
  const opened = join(mkdtempSync(join(tmpdir(), 'apppass-e2e-browser-')), 'opened.txt');
  const issuer = oidc.info.issuer;
  const app = await launch({
    settings: `[signin]\nauthority = "${issuer}"\nclient_id = "apppass-test"\nscopes = ["mail.read"]\n`,
    env: {
      BROWSER: `${process.execPath} ${join(here, 'fake-browser.mjs')}`,
      APPPASS_E2E_ISSUER: issuer,
      APPPASS_E2E_OPENED: opened,
      APPPASS_TEST_USER: user,
      APPPASS_TEST_PASSWORD: password,
      APPPASS_E2E_DENY: deny ? '1' : '0',
      APPPASS_GRAPH_URL: `${graph.info.base}/s/${scenario}/e2e-${process.pid}-${Date.now()}`,
    },
  });
  app.opened = () => (existsSync(opened) ? readFileSync(opened, 'utf8').split('\n').filter(Boolean) : []);
  return app;
}

function $(app, id) {
  return app.browser.$(`[data-testid="${id}"]`);
}

async function textOf(app, id, timeout = 15_000) {
  const el = await $(app, id);
  await el.waitForDisplayed({ timeout });
  return el.getText();
}

async function waitForText(app, id, pattern, timeout = 20_000) {
  let last = '';
  await app.browser.waitUntil(
    async () => {
      const el = await $(app, id);
      last = (await el.isExisting()) ? await el.getText() : '';
      return pattern.test(last);
    },
    { timeout, interval: 200, timeoutMsg: `${id} never matched ${pattern} (last: ${JSON.stringify(last)})` },
  ).catch(async (error) => {
    const shown = await app.browser.execute(() => document.querySelector('main')?.innerText ?? '');
    screenshot(join(shots, `apppass-e2e-failed-${id}.png`));
    throw new Error(`${error.message}\nThe screen showed:\n${shown}`);
  });
  return last;
}

/** The page must never hold a token (JWTs start with eyJ) or the word refresh_token. */
async function assertNoTokenInPage(app) {
  const html = await app.browser.execute(() => document.documentElement.outerHTML);
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(html), 'a JWT in the page');
  assert.ok(!html.includes('refresh_token'), 'refresh_token in the page');
}

test('browser sign-in through the real provider, then MFA: none registered, Security info, re-checks', async () => {
  const app = await launchSignedOut({ scenario: 'none', user: 'bob@example.test', password: 'bob-test-password' });
  try {
    await (await $(app, 'nav-account')).click();
    await (await $(app, 'signin-methods')).waitForDisplayed({ timeout: 15_000 });
    // The organisation settings (folded away) name the test issuer.
    assert.equal(await (await $(app, 'signin-authority')).getProperty('textContent'), oidc.info.issuer);
    screenshot(join(shots, 'apppass-e2e-signin-start.png'));

    await (await $(app, 'signin-browser')).click();
    // fake-browser.mjs signs in as Bob on the provider's pages and follows the redirect back; the
    // app then leads on to the MFA screen, for this account.
    assert.equal(await waitForText(app, 'mfa-account', /Bob Example/), 'Signed in as Bob Example');
    assert.equal(await textOf(app, 'mfa-account-username'), 'bob@example.test');
    assert.equal(app.opened().length, 1);
    assert.ok(app.opened()[0].startsWith(`${oidc.info.issuer}/`), app.opened()[0]);
    await assertNoTokenInPage(app);

    // The account screen shows the account.
    await (await $(app, 'nav-account')).click();
    assert.equal(await textOf(app, 'signin-account-name'), 'Bob Example');
    assert.equal(await textOf(app, 'signin-account-username'), 'bob@example.test');
    assert.equal(await textOf(app, 'signin-account-mfa'), 'No');
    screenshot(join(shots, 'apppass-e2e-signin-done.png'));

    // The refresh token is in the keyring, labelled with the account.
    const found = execFileSync('secret-tool', ['search', '--all', 'service', 'apppass'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.match(found, /label = apppass: sign-in \(bob@example\.test\)/);

    // MFA: the Graph emulator has no strong method for this user.
    await (await $(app, 'signin-check-mfa')).click();
    assert.match(await waitForText(app, 'mfa-headline', /No second factor/), /No second factor registered yet/);
    assert.match(await textOf(app, 'mfa-steps'), /Add sign-in method/);
    await (await $(app, 'mfa-open-security-info')).click();
    await app.browser.waitUntil(async () => app.opened().length === 2, { timeout: 10_000 });
    assert.equal(app.opened()[1], 'https://mysignins.microsoft.com/security-info');
    assert.match(await textOf(app, 'mfa-auto'), /Checking again in \d+ s/);
    // The first automatic re-check comes after 5 s.
    await waitForText(app, 'mfa-last-checked', /\(2 checks\)/, 15_000);
    assert.match(await textOf(app, 'mfa-headline'), /No second factor/);
    await assertNoTokenInPage(app);
    screenshot(join(shots, 'apppass-e2e-mfa-none.png'));

    // Sign out: the account and its keyring item go.
    await (await $(app, 'nav-account')).click();
    await (await $(app, 'signout')).click();
    await (await $(app, 'signin-methods')).waitForDisplayed({ timeout: 15_000 });
    const after = execFileSync('secret-tool', ['search', '--all', 'service', 'apppass'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.doesNotMatch(after, /sign-in \(bob@example\.test\)/);
  } finally {
    await app.close();
  }
});

test('sign-in with a code: code, address and QR code; approved on the provider; MFA on, preflight', async () => {
  const app = await launchSignedOut({ scenario: 'authenticator' });
  try {
    await (await $(app, 'nav-account')).click();
    await (await $(app, 'signin-code')).click();
    const code = await textOf(app, 'signin-user-code');
    const uri = await textOf(app, 'signin-code-uri');
    assert.ok(uri.startsWith(`${oidc.info.issuer}/`), uri);
    const qr = await $(app, 'signin-qr');
    assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;/);
    assert.ok((await qr.getSize('width')) >= 150, 'the QR code is large enough to scan');
    screenshot(join(shots, 'apppass-e2e-signin-code.png'));

    // The user enters the code on "another device": the harness's browser, as Ann.
    execFileSync(process.execPath, [join(harness, 'oidc', 'browser.mjs'), '--device', uri, code], {
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 30_000,
    });
    assert.match(await waitForText(app, 'mfa-account', /Ann Example/), /Signed in as Ann Example/);
    assert.equal(app.opened().length, 0, 'the code sign-in opens no browser');
    assert.match(await waitForText(app, 'mfa-headline', /MFA is on/), /MFA is on for your work account/);
    const methods = await app.browser.$$('[data-testid="mfa-method"]');
    assert.ok(methods.length >= 1);
    assert.match(await methods[0].getText(), /Microsoft Authenticator/);
    assert.match(await textOf(app, 'preflight'), /Can app passwords work for you\?/);
    assert.match(await textOf(app, 'preflight-protocols'), /IMAP/);
    await assertNoTokenInPage(app);
    screenshot(join(shots, 'apppass-e2e-mfa-on.png'));
    await (await $(app, 'preflight-protocols')).scrollIntoView();
    screenshot(join(shots, 'apppass-e2e-preflight.png'));

    // On to app passwords: the wizard, with Microsoft 365 and the account filled in.
    await (await $(app, 'mfa-continue')).click();
    await (await $(app, 'wizard')).waitForDisplayed({ timeout: 10_000 });
    await app.browser.waitUntil(async () => (await (await $(app, 'wizard-provider')).getValue()) === 'microsoft365', {
      timeout: 10_000,
      timeoutMsg: 'Microsoft 365 pre-filled after sign-in',
    });
    assert.equal(await (await $(app, 'wizard-account')).getValue(), 'ann@example.test');
    assert.match(await textOf(app, 'provider-prefilled'), /ann@example\.test/);
    screenshot(join(shots, 'apppass-e2e-wizard-signed-in.png'));
  } finally {
    await app.close();
  }
});

test('consent declined on the provider: the failure by its code, with the next step; try again', async () => {
  const app = await launchSignedOut({ scenario: 'none', deny: true });
  try {
    await (await $(app, 'nav-account')).click();
    await (await $(app, 'signin-browser')).click();
    const error = await waitForText(app, 'signin-error', /declined/);
    assert.match(error, /Sign in again/);
    assert.match(error, /SignInDenied/);
    // Both methods are offered again.
    assert.ok(await (await $(app, 'signin-browser')).isDisplayed());
    screenshot(join(shots, 'apppass-e2e-signin-denied.png'));
  } finally {
    await app.close();
  }
});

test('without a client ID: the sign-in screen says what IT must do, and the vault works', async () => {
  const app = await launch();
  try {
    // A new user starts in the app-password wizard.
    await (await $(app, 'wizard')).waitForDisplayed({ timeout: 15_000 });
    await (await $(app, 'nav-account')).click();
    assert.match(await textOf(app, 'signin-client-id-missing'), /Ask IT to register apppass/);
    assert.equal(await (await $(app, 'signin-browser')).isExisting(), false);
    screenshot(join(shots, 'apppass-e2e-signin-no-client-id.png'));
    await (await $(app, 'nav-mfa')).click();
    assert.match(await waitForText(app, 'mfa-headline', /Not signed in/), /Not signed in/);
    assert.match(await textOf(app, 'mfa-steps'), /Open Security info/);
    screenshot(join(shots, 'apppass-e2e-mfa-guided.png'));
    await (await $(app, 'nav-vault')).click();
    await (await $(app, 'empty-state')).waitForDisplayed({ timeout: 10_000 });
  } finally {
    await app.close();
  }
});
