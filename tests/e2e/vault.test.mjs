// The real app, end to end: add an entry in the UI by pasting from the clipboard, find it by
// search, copy it, read the X clipboard, and see the clipboard cleared after the timeout.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launch, clipboardText, setClipboard, screenshot } from './app.mjs';

const PASTED = ' abcd efgh ijkl mnop \n'; // as Google shows it, with stray whitespace
const STORED = 'abcdefghijklmnop';
const CLEAR_SECONDS = 4;

let app;
before(async () => {
  app = await launch({ settings: `clipboard_clear_seconds = ${CLEAR_SECONDS}\n` });
});
after(async () => {
  await app?.close();
});

const $ = (id) => app.browser.$(`[data-testid="${id}"]`);

async function waitFor(check, what, ms = 10_000, show = () => '') {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (seen: ${JSON.stringify(await show())})`);
}

async function shownNames() {
  return app.browser.execute(() =>
    [...document.querySelectorAll('[data-testid="entry-name"]')].map((e) => e.textContent.trim()),
  );
}

async function showsOnly(name) {
  const names = await shownNames();
  return names.length === 1 && names[0] === name;
}

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test('add by paste, search, copy, clipboard cleared after the timeout', async () => {
  const { browser } = app;
  // A new user starts in the wizard (tests/e2e/wizard.test.mjs); Cancel shows the empty vault
  // with the search box focused, and the wizard's first step offers the manual form too.
  await (await $('wizard')).waitForDisplayed({ timeout: 15_000 });
  await (await $('wizard-cancel')).click();
  await (await $('empty-state')).waitForDisplayed({ timeout: 5_000 });
  assert.equal(await browser.execute(() => document.activeElement?.dataset?.testid), 'search');

  await (await $('empty-add-button')).click();
  await (await $('wizard-add-manually')).click();
  await (await $('add-name')).setValue('Thunderbird on laptop');
  await (await $('add-provider')).selectByAttribute('value', 'google');
  await (await $('add-account')).setValue('ann@gmail.com');
  await (await $('add-client')).setValue('Thunderbird');
  setClipboard(PASTED);
  await waitFor(() => clipboardText() === PASTED, 'the test clipboard');
  await (await $('add-paste')).click();

  // Saved: the row is there, and Rust cleared the clipboard after reading it once.
  await (await $('entry-row')).waitForDisplayed({ timeout: 10_000 });
  await waitFor(() => clipboardText() !== PASTED, 'the pasted value to leave the clipboard');
  assert.equal(app.cli(['get', 'Thunderbird on laptop']), `${STORED}\n`, 'stored normalised');

  // Another entry, added by the CLI at the same time the app is open.
  app.cli(['add', 'Office printer', '--provider', 'custom', '--account', 'scan@corp.example', '--client', 'printer'], 'printer-secret-1\n');

  const search = await $('search');
  await search.setValue('office');
  await waitFor(() => showsOnly('Office printer'), 'search to show only the printer', 10_000, shownNames);
  await search.clearValue();
  await search.setValue('thunder');
  await waitFor(() => showsOnly('Thunderbird on laptop'), 'search to show only Thunderbird', 10_000, shownNames);

  // Copy: the webview never gets the value; the X clipboard does.
  await (await $('copy-button')).click();
  await (await $('toast')).waitForDisplayed({ timeout: 5_000 });
  assert.match(await (await $('toast')).getText(), new RegExp(`${CLEAR_SECONDS}\\s*s`));
  await waitFor(() => clipboardText() === STORED, 'the password on the clipboard', 5_000);
  screenshot(join(app.home, '..', 'apppass-e2e-vault.png'));
  const copiedAt = Date.now();

  // Cleared after the timeout, because it still held our value.
  await waitFor(() => clipboardText() !== STORED, 'the clipboard to clear', (CLEAR_SECONDS + 5) * 1000);
  const clearedAfter = (Date.now() - copiedAt) / 1000;
  assert.ok(clearedAfter >= CLEAR_SECONDS - 1.5, `cleared too early: ${clearedAfter}s`);

  // Nothing in the profile's data directory holds the password.
  for (const file of filesUnder(app.home)) {
    assert.ok(!readFileSync(file).toString('latin1').includes(STORED), `${file} holds the password`);
  }
  // The keyring holds it, labelled with the entry's name.
  const found = execFileSync('secret-tool', ['search', '--all', 'service', 'apppass'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(found, /label = apppass: Thunderbird on laptop/);
});

test('the clipboard is left alone when the user copied something else meanwhile', async () => {
  const search = await $('search');
  await search.clearValue();
  await search.setValue('printer');
  await app.browser.waitUntil(async () => (await app.browser.$$('[data-testid="entry-row"]').length) === 1);
  await (await $('copy-button')).click();
  await waitFor(() => clipboardText() === 'printer-secret-1', 'the printer password on the clipboard', 5_000);
  setClipboard('something the user copied');
  await new Promise((r) => setTimeout(r, (CLEAR_SECONDS + 2) * 1000));
  assert.equal(clipboardText(), 'something the user copied');
});
