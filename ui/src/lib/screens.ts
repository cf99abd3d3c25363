// The screens other than the vault, loaded when first shown instead of with the page: the first
// screen's script and style sheet hold only the vault and the app's frame, which is less for WebKit
// to load, parse and match before its first frame (bench/README.md, start-up). Soon after that frame
// is painted, `warmScreens` loads them all, so that switching screens later waits for nothing.

/** The screen's component, loaded on the first call; later calls get the same promise. */
function once<T>(load: () => Promise<{ default: T }>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().then((module) => module.default);
    return loading;
  };
}

export const screens = {
  wizard: once(() => import('./wizard/Wizard.svelte')),
  add: once(() => import('./AddForm.svelte')),
  account: once(() => import('./SignIn.svelte')),
  mfa: once(() => import('./Mfa.svelte')),
  bridge: once(() => import('./Bridge.svelte')),
  settings: once(() => import('./Settings.svelte')),
};

/** Loads every screen's code (once); a screen that fails to load says so when it is opened. */
export function warmScreens(): void {
  for (const load of Object.values(screens)) load().catch(() => {});
}
