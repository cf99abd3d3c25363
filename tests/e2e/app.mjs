// Launches the real apppass app through tauri-driver and gives the tests a WebDriver session.
// Every launch gets its own APPPASS_HOME (data directory and keyring namespace) and its own ports.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remote } from 'webdriverio';

export const APP = process.env.APPPASS_APP_BIN;
export const CLI = process.env.APPPASS_CLI_BIN;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.end(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tauri-driver did not listen on ${port} within ${ms} ms`);
}

/**
 * Starts the app. `settings` is written to settings.toml first (TOML text); `env` is added to the
 * app's environment.
 */
export async function launch({ settings = '', env = {} } = {}) {
  if (!APP) throw new Error('APPPASS_APP_BIN is not set: run the tests through scripts/e2e.sh');
  const home = mkdtempSync(join(tmpdir(), 'apppass-e2e-'));
  if (settings) writeFileSync(join(home, 'settings.toml'), settings);
  const port = await freePort();
  const nativePort = await freePort();
  // Its own process group (detached): closing kills tauri-driver, WebKitWebDriver and the app
  // together, so an app that did not quit with its session cannot keep the test file alive.
  const driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
    env: { ...process.env, ...env, APPPASS_HOME: home },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let driverLog = '';
  driver.stderr.on('data', (d) => { driverLog += d; });
  await waitForPort(port, 10_000);
  const browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'error',
    capabilities: {
      browserName: 'wry',
      'wdio:enforceWebDriverClassic': true,
      'tauri:options': { application: APP },
    },
  });
  return {
    browser,
    home,
    /** Runs the apppass CLI against the same profile; `input` goes to its stdin. */
    cli(args, input) {
      return execFileSync(CLI, args, { env: { ...process.env, APPPASS_HOME: home }, input, encoding: 'utf8' });
    },
    driverLog: () => driverLog,
    async close() {
      try { await browser.deleteSession(); } catch { /* the app may already be gone */ }
      killGroup(driver, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      killGroup(driver, 'SIGKILL');
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Signals the process group of `child` (started detached); gone already is fine. */
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch { /* the group has exited */ }
}

/** The X clipboard's text, or '' when it holds nothing. */
export function clipboardText() {
  try {
    return execFileSync('xclip', ['-o', '-selection', 'clipboard'], { encoding: 'utf8', timeout: 3000 });
  } catch {
    return '';
  }
}

/** Puts text on the X clipboard (xclip keeps serving it in the background). */
export function setClipboard(text) {
  execFileSync('xclip', ['-i', '-selection', 'clipboard'], { input: text, timeout: 3000, stdio: ['pipe', 'ignore', 'ignore'] });
}

/** Saves a PNG of the whole screen (for people to look at), when ImageMagick is there. */
export function screenshot(path) {
  try {
    execFileSync('import', ['-window', 'root', path], { timeout: 10_000 });
  } catch { /* optional */ }
}
