// The lock-down, from inside the real app's webview (issue 6 §2): a page script can call no
// command outside the main window's capability, cannot load or run script from elsewhere or
// inline, and cannot take the webview to another site. The "elsewhere" is a server on 127.0.0.1
// that records every request, so a request that got through is seen even without a network.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { launch } from './app.mjs';

let app;
let server;
let base;
const hits = [];

before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url);
    if (req.url.startsWith('/x.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end('window.__pwned = "remote script ran";');
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>elsewhere</title><p id="elsewhere">not apppass</p>');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  app = await launch();
  await (await app.browser.$('[data-testid="wizard"]')).waitForDisplayed({ timeout: 15_000 });
});
after(async () => {
  await app?.close();
  server?.close();
});

/** Calls each command through Tauri's IPC from the page; `{ok, error}` per command. */
function invokeAll(calls) {
  return app.browser.executeAsync((calls, done) => {
    const invoke = window.__TAURI_INTERNALS__.invoke;
    Promise.all(
      calls.map(([cmd, args]) =>
        invoke(cmd, args).then(
          () => ({ cmd, ok: true }),
          (e) => ({ cmd, ok: false, error: typeof e === 'string' ? e : JSON.stringify(e) }),
        ),
      ),
    ).then(done);
  }, calls);
}

test('the page can call the app commands and nothing else', async () => {
  const { browser } = app;
  assert.equal(await browser.execute(() => typeof window.__TAURI__), 'undefined', 'withGlobalTauri is off');
  const answers = await invokeAll([
    ['vault_list', {}],
    ['plugin:window|close', { label: 'main' }],
    ['plugin:window|set_title', { label: 'main', value: 'pwned' }],
    ['plugin:webview|create_webview_window', { options: { label: 'evil', url: base } }],
    ['plugin:opener|open_url', { url: base }],
    ['plugin:autostart|enable', {}],
    ['plugin:event|emit', { event: 'x', payload: null }],
    ['plugin:path|resolve_directory', { directory: 1 }],
    ['no_such_command', {}],
  ]);
  // The IPC works: the app's own command answers.
  assert.deepEqual(answers[0], { cmd: 'vault_list', ok: true });
  for (const a of answers.slice(1)) {
    assert.equal(a.ok, false, `${a.cmd} was allowed`);
    assert.match(a.error, /not allowed|not found/i, `${a.cmd}: ${a.error}`);
  }
  for (const a of answers.slice(1, -1)) {
    assert.match(a.error, /not allowed/i, `${a.cmd} refused by the ACL: ${a.error}`);
  }
  // Nothing happened: same window, same title, no request to the "remote" server.
  assert.equal(await browser.getTitle(), 'apppass');
  assert.deepEqual((await browser.getWindowHandles()).length, 1);
  assert.deepEqual(hits, []);
});

test('remote script, inline script, eval and fetch are refused by the CSP', async () => {
  const seen = await app.browser.executeAsync((base, done) => {
    const events = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      events.push(`${e.effectiveDirective} ${e.blockedURI}`),
    );
    const remote = document.createElement('script');
    remote.src = `${base}/x.js`;
    remote.onload = () => events.push('remote loaded');
    document.head.appendChild(remote);
    const inline = document.createElement('script');
    inline.textContent = 'window.__inline = "inline script ran";';
    document.head.appendChild(inline);
    let evaluated = null;
    try {
      evaluated = eval('"eval ran"');
    } catch (e) {
      evaluated = `refused: ${e.name}`;
    }
    let fetched = 'pending';
    fetch(`${base}/fetch`).then(
      () => { fetched = 'fetched'; },
      () => { fetched = 'refused'; },
    );
    setTimeout(
      () => done({ events, pwned: window.__pwned ?? null, inline: window.__inline ?? null, evaluated, fetched }),
      2000,
    );
  }, base);
  assert.equal(seen.pwned, null, 'the remote script ran');
  assert.equal(seen.inline, null, 'the inline script ran');
  assert.equal(seen.evaluated, 'refused: EvalError');
  assert.equal(seen.fetched, 'refused');
  assert.ok(!seen.events.includes('remote loaded'), JSON.stringify(seen));
  assert.ok(seen.events.some((e) => e.startsWith('script-src') && e.includes('/x.js')), JSON.stringify(seen));
  assert.ok(seen.events.some((e) => e.startsWith('script-src') && e.endsWith('inline')), JSON.stringify(seen));
  assert.ok(seen.events.some((e) => e.startsWith('connect-src')), JSON.stringify(seen));
  assert.deepEqual(hits, [], 'a request reached the other server');
});

test('the webview does not leave the app for another site', async () => {
  const { browser } = app;
  const before = await browser.getUrl();
  await browser.execute((url) => { window.location = url; }, `${base}/page`);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(await browser.getUrl(), before);
  assert.equal(await browser.getTitle(), 'apppass');
  assert.deepEqual(hits, [], 'the other site was requested');
  // Nor in a new window.
  await browser.execute((url) => { window.open(url); }, `${base}/popup`);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await browser.getWindowHandles()).length, 1);
  assert.deepEqual(hits, [], 'the other site was requested');
  // Still the app, and its IPC still answers.
  const [answer] = await invokeAll([['vault_list', {}]]);
  assert.equal(answer.ok, true);
});
