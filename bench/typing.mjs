// Typing in the vault's search box, measured in the real app (bench/README.md, "typing").
//
// Usage (inside a keyring session and an X display; bench/run.sh sets both up):
//   node bench/typing.mjs APP_BINARY APPPASS_HOME [KEYSTROKES]
// A profile whose passwords are in an encrypted file store is unlocked first with the passphrase
// in the file named by APPPASS_BENCH_PASSPHRASE_FILE (typed into the app's unlock form).
// Prints one JSON object: {"samples_ms": [...], "work_ms": [...], "frame_wait_ms": [...],
// "unchanged": n, "rows": n, ...}.
//
// The app is started through tauri-driver (WebDriver, as tests/e2e does) on the given profile.
// Keystrokes are real WebDriver key events into the search box: 4 digits of an existing entry
// number, then 4 Backspaces, repeated (each keystroke changes the result list). Per keystroke, the
// page measures from the keydown event's time stamp to the frame painted after the list changed:
// the first DOM change under the vault after the keydown (a MutationObserver), then the next
// requestAnimationFrame, then a zero timeout (which runs after that frame is painted). The search
// itself runs in Rust (vault_search over IPC), so the figure covers IPC, search, render and paint.
// It also holds the wait for the display's next frame (up to 16.7 ms at 60 Hz), which no page can
// shorten: `work_ms` is the same keystroke without that wait (keydown -> list in the DOM, plus the
// frame's own style, layout and paint), `to_dom_ms` its first part and `frame_wait_ms` the wait. A keystroke whose work
// is under 16 ms is shown in the first frame after its list is ready: no frame is dropped.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { remote } = await import(
  pathToFileURL(join(root, 'tests/e2e/node_modules/webdriverio/build/node.js')).href
);
// The e2e tests' helpers for tauri-driver's ports.
const { freePort, waitForPort } = await import(pathToFileURL(join(root, 'tests/e2e/app.mjs')).href);

const [app, home, count = '56'] = process.argv.slice(2);
if (!app || !home) {
  console.error('usage: node bench/typing.mjs APP_BINARY APPPASS_HOME [KEYSTROKES]');
  process.exit(2);
}
const keystrokes = Number(count);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const port = await freePort();
const nativePort = await freePort();
const driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
  env: { ...process.env, APPPASS_HOME: home },
  stdio: ['ignore', 'ignore', 'pipe'],
  detached: true,
});
let driverLog = '';
driver.stderr.on('data', (d) => { driverLog += d; });
const stop = () => {
  try { process.kill(-driver.pid, 'SIGTERM'); } catch { /* gone */ }
};

let browser;
try {
  await waitForPort(port, 15_000);
  browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'error',
    capabilities: {
      browserName: 'wry',
      'wdio:enforceWebDriverClassic': true,
      'tauri:options': { application: app },
    },
  });
  const search = await browser.$('[data-testid="search"]');
  await search.waitForExist({ timeout: 60_000 });
  const passFile = process.env.APPPASS_BENCH_PASSPHRASE_FILE;
  if (passFile) {
    const passphrase = readFileSync(passFile, 'utf8').trim();
    const box = await browser.$('[data-testid="unlock-passphrase"]');
    await box.waitForExist({ timeout: 60_000 });
    // Until the list shows: (re)type the passphrase and press Unlock once it is enabled.
    const until = Date.now() + 120_000;
    while (!(await browser.$('[data-testid="entry-row"]').isExisting())) {
      if (Date.now() > until) throw new Error('the vault did not unlock within 120 s');
      const form = await browser.$('[data-testid="unlock-passphrase"]');
      if (await form.isExisting()) {
        if ((await form.getValue()) !== passphrase) await form.setValue(passphrase);
        const button = await browser.$('[data-testid="unlock-button"]');
        if ((await button.isExisting()) && (await button.isEnabled())) await button.click();
      }
      await sleep(1000);
    }
  }
  await browser.$('[data-testid="entry-row"]').waitForExist({ timeout: 60_000 });
  const rows = await browser.execute(() => document.querySelectorAll('[data-testid="entry-row"]').length);
  await browser.execute(() => {
    const state = { samples: [], work: [], wait: [], dom: [], pending: null };
    window.__typing = state;
    const box = document.querySelector('[data-testid="search"]');
    box.addEventListener('keydown', (e) => { state.pending = { t0: e.timeStamp, changed: false }; }, true);
    document.addEventListener('click', (e) => {
      if (e.target.closest('[data-testid="show-more"]')) state.pending = { t0: e.timeStamp, changed: false };
    }, true);
    new MutationObserver(() => {
      const p = state.pending;
      if (!p || p.changed) return;
      p.changed = true;
      const dom = performance.now();
      requestAnimationFrame(() => {
        const frame = performance.now();
        setTimeout(() => {
          const painted = performance.now();
          state.samples.push(painted - p.t0);
          // The work: keydown -> list in the DOM (IPC, search, render), plus the frame's own
          // style, layout and paint; not the wait for the display's next frame in between.
          state.work.push(dom - p.t0 + (painted - frame));
          state.wait.push(frame - dom);
          state.dom.push(dom - p.t0);
          if (state.pending === p) state.pending = null;
        }, 0);
      });
    }).observe(document.querySelector('.vault'), { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await search.click();
  // Entry numbers that exist in both profiles' name ranges are not needed: each digit changes
  // the list (fewer matches, or "No entry matches ..." with the new query).
  const numbers = ['7421', '1093', '5568', '3307', '8814', '2650', '9172', '4439'];
  let unchanged = 0;
  let sent = 0;
  for (let round = 0; sent < keystrokes; round++) {
    const digits = numbers[round % numbers.length].split('');
    const keys = [...digits, 'Backspace', 'Backspace', 'Backspace', 'Backspace'];
    for (const key of keys) {
      if (sent >= keystrokes) break;
      const before = await browser.execute(() => window.__typing.samples.length);
      await browser.keys([key]);
      sent += 1;
      const until = Date.now() + 3000;
      let after = before;
      while (Date.now() < until) {
        after = await browser.execute(() => window.__typing.samples.length);
        if (after > before) break;
        await sleep(5);
      }
      if (after === before) unchanged += 1;
      await sleep(60); // let the page go idle, like a person between keys
    }
  }
  const { samples, work, wait, dom } = await browser.execute(() => window.__typing);
  // What rendering more rows costs: "show more" on the whole list, three times (click -> the
  // next frame painted after the next rows are in).
  const showMore = [];
  for (let i = 0; i < 3; i++) {
    const more = await browser.$('[data-testid="show-more"]');
    if (!(await more.isExisting())) break;
    const before = await browser.execute(() => window.__typing.samples.length);
    await more.click();
    const until = Date.now() + 5000;
    let now = before;
    while (Date.now() < until && now === before) {
      await sleep(5);
      now = await browser.execute(() => window.__typing.samples.length);
    }
    if (now > before) showMore.push(await browser.execute(() => window.__typing.samples.at(-1)));
    await sleep(100);
  }
  console.log(JSON.stringify({
    samples_ms: samples, work_ms: work, frame_wait_ms: wait, to_dom_ms: dom,
    unchanged, rows, keystrokes: sent, show_more_ms: showMore,
  }));
} catch (error) {
  console.error(`typing: ${error.message}\n${driverLog.slice(-2000)}`);
  process.exitCode = 1;
} finally {
  try { await browser?.deleteSession(); } catch { /* the app may be gone */ }
  stop();
  await sleep(300);
  try { process.kill(-driver.pid, 'SIGKILL'); } catch { /* gone */ }
}
