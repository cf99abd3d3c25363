// What the first screen needs, asked for before the UI is mounted (src/main.ts): the providers,
// the settings and the vault's first page. The requests leave as soon as the script runs and are
// answered while the page lays itself out, and the first frame WebKit paints already holds the
// vault list: no second frame for the data to arrive in (bench/README.md, start-up).
import { api, type Provider, type SearchPage, type Settings } from './ipc';

/**
 * Rows of the vault's first page (Vault.svelte's ROWS): a maximised window on a 1080p screen shows
 * about 15. Fewer rows are less to replace and paint on each keystroke (bench/README.md, typing).
 */
export const FIRST_ROWS = 15;

export interface Startup {
  providers: Promise<Provider[]>;
  settings: Promise<Settings>;
  /**
   * The vault's first page for a blank search, the first time it is asked for; afterwards
   * `undefined` (a vault screen mounted later reads the vault itself, not this old answer).
   */
  takeFirstPage: () => Promise<SearchPage> | undefined;
  /** Resolves when all three are answered or failed. */
  answered: Promise<void>;
}

export function requestStartup(): Startup {
  const providers = api.providers();
  const settings = api.settings();
  let firstPage: Promise<SearchPage> | undefined = api.search('', FIRST_ROWS);
  const pending = [providers, settings, firstPage];
  // The screens handle failures when they read these; nothing here may reject unobserved.
  for (const p of pending) p.catch(() => {});
  const startup: Startup = {
    providers,
    settings,
    takeFirstPage: () => {
      const page = firstPage;
      firstPage = undefined;
      return page;
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
