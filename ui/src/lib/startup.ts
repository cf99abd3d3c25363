// What the first screen needs, at hand before the UI is mounted (src/main.ts): the providers, the
// settings and the vault's first page. Rust usually has them in the page already, read while the
// window started (src-tauri/src/preload.rs): the UI then mounts in the task that loads the page and
// WebKit's first frame shows the vault (bench/README.md, start-up). Without that preload they are
// asked for over IPC as soon as the script runs, and the UI mounts once they are answered.
import type { Failure } from './bindings/Failure';
import type { Preload } from './bindings/Preload';
import { api, CommandFailed, type Provider, type SearchPage, type Settings } from './ipc';

declare global {
  interface Window {
    __APPPASS_PRELOAD__?: Preload;
  }
}

/**
 * Rows of the vault's first page (Vault.svelte's ROWS): a maximised window on a 1080p screen shows
 * about 15. Fewer rows are less to replace and paint on each keystroke (bench/README.md, typing).
 */
export const FIRST_ROWS = 15;

export interface FirstPage {
  page: Promise<SearchPage>;
  /** Read when the window was created (the preload): to be read again after the first frame. */
  recheck: boolean;
}

export interface Startup {
  providers: Promise<Provider[]>;
  settings: Promise<Settings>;
  /** The settings came from the preload: to be read again after the first frame. */
  recheckSettings: boolean;
  /**
   * The vault's first page for a blank search, the first time it is asked for; afterwards
   * `undefined` (a vault screen mounted later reads the vault itself, not this old answer).
   */
  takeFirstPage: () => FirstPage | undefined;
  /** Resolves when all three are answered or failed. */
  answered: Promise<void>;
}

/** Rust's preload, once: the page's global is removed as it is read. */
function takePreload(): Preload | undefined {
  const preload = window.__APPPASS_PRELOAD__;
  delete window.__APPPASS_PRELOAD__;
  return preload;
}

/** A command's answer from the preload: its value, or its failure as the command would reject. */
function answer<T>(value: T | null, failure: Failure | null): Promise<T> {
  if (value !== null) return Promise.resolve(value);
  return Promise.reject(
    new CommandFailed(failure ?? { code: 'Internal', message: 'Something went wrong. Try again.' }),
  );
}

export function requestStartup(): Startup {
  const preload = takePreload();
  const providers = preload ? Promise.resolve(preload.providers) : api.providers();
  const settings = preload
    ? answer(preload.settings, preload.settings_failure)
    : api.settings();
  const pagePreloaded = preload !== undefined && preload.limit === FIRST_ROWS;
  let firstPage: Promise<SearchPage> | undefined = pagePreloaded
    ? answer(preload.page, preload.page_failure)
    : api.search('', FIRST_ROWS);
  const pending = [providers, settings, firstPage];
  // The screens handle failures when they read these; nothing here may reject unobserved.
  for (const p of pending) p.catch(() => {});
  const startup: Startup = {
    providers,
    settings,
    recheckSettings: preload !== undefined,
    takeFirstPage: () => {
      const page = firstPage;
      firstPage = undefined;
      return page && { page, recheck: pagePreloaded };
    },
    answered: Promise.allSettled(pending).then(() => {}),
  };
  return startup;
}

/**
 * Resolves once every request is answered (or failed), or after `ms`: a slow keyring must not
 * keep the window blank; the screens then show their own progress.
 */
export function settled(startup: Startup, ms: number): Promise<void> {
  return Promise.race([
    startup.answered,
    new Promise<void>((resolve) => setTimeout(resolve, ms)),
  ]);
}

/** Runs `f` once the next frame is painted (what the first screen reads again then). */
export function afterNextFrame(f: () => void): void {
  requestAnimationFrame(() => setTimeout(f, 0));
}
