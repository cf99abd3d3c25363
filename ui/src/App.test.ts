import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { screens } from './lib/screens';
import { requestStartup, settled } from './lib/startup';
import { defaultSettings, entry, fakeBackend, providers } from './test/backend';
import type { Preload } from './lib/bindings/Preload';

describe('the app', () => {
  // The screens other than the vault load when first shown; here Vite compiles each on its first
  // import, which can take longer than a findBy waits. Load them once before the tests.
  beforeAll(async () => {
    await Promise.all(Object.values(screens).map((load) => load()));
  }, 30_000);

  it('opens on the vault, goes to the add form and back with a toast', async () => {
    const backend = fakeBackend([entry('Work laptop')]);
    backend.on('entry_add_from_clipboard', () => entry('Phone'));
    render(App);
    expect(await screen.findAllByTestId('entry-row')).toHaveLength(1);
    await fireEvent.click(screen.getByTestId('add-button'));
    expect(await screen.findByTestId('wizard')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('wizard-add-manually'));
    expect(await screen.findByTestId('add-form')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('add-paste'));
    expect(await screen.findByTestId('toast')).toHaveTextContent(
      'Saved “Phone”. The clipboard is cleared.',
    );
    expect(screen.getByTestId('search')).toHaveFocus();
  });

  it('starts a new user (empty vault) in the wizard; Cancel shows the empty vault', async () => {
    const backend = fakeBackend([]);
    render(App);
    expect(await screen.findByTestId('wizard')).toHaveAttribute('data-step', 'provider');
    // The start-up reads the vault once: the vault screen's first page also says it is empty.
    expect(backend.called('vault_search')).toEqual([{ query: '', limit: 15 }]);
    expect(backend.called('vault_list')).toEqual([]);
    await fireEvent.click(screen.getByTestId('wizard-cancel'));
    expect(await screen.findByTestId('empty-state')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('empty-add-button'));
    expect(await screen.findByTestId('wizard')).toBeInTheDocument();
  });

  it('does not pull a user who went elsewhere back into the wizard when the empty vault loads', async () => {
    const backend = fakeBackend([]);
    // Hold the vault screen's read until the user has gone elsewhere.
    const pending: ((page: unknown) => void)[] = [];
    backend.on('vault_search', () => new Promise((resolve) => pending.push(resolve)));
    render(App);
    await vi.waitFor(() => expect(backend.called('vault_search')).toHaveLength(1));
    await fireEvent.click(screen.getByTestId('nav-account'));
    for (const resolve of pending) resolve({ entries: [], total: 0 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(screen.queryByTestId('wizard')).not.toBeInTheDocument();
    expect(screen.getByTestId('nav-account')).toHaveClass('active');
  });

  it('opens the wizard in rotation mode from an entry', async () => {
    fakeBackend([entry('Work laptop')]);
    render(App);
    await fireEvent.click(await screen.findByTestId('rotate-button'));
    const wizard = await screen.findByTestId('wizard');
    expect(wizard).toHaveAttribute('data-mode', 'rotate');
    expect(wizard).toHaveAttribute('data-step', 'password');
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('Rotate “Work laptop”');
  });

  it('opens the Bridge screen from the navigation, and a bridge client\'s Rotate leads there too', async () => {
    const bridgeClient = entry('Printer', { kind: 'bridge', provider: 'microsoft365', client: 'msmtp', account: 'printer' });
    const backend = fakeBackend([bridgeClient]);
    const view = { running: false, listeners: [], sessions: [], errors: [], counters: { connections: 0, signed_in: 0, rejected: 0, upstream_failures: 0 }, signin_required: false, start_failure: null, login_item: false };
    backend.on('bridge_status', () => view);
    backend.on('bridge_clients', () => [bridgeClient]);
    render(App);
    await fireEvent.click(await screen.findByTestId('rotate-button'));
    expect(await screen.findByTestId('bridge')).toBeInTheDocument();
    expect(screen.queryByTestId('wizard')).not.toBeInTheDocument();
    expect(await screen.findByTestId('bridge-setup')).toHaveAttribute('data-name', 'Printer');
    expect(screen.getByTestId('nav-bridge')).toHaveClass('active');
    await fireEvent.click(screen.getByTestId('nav-vault'));
    await fireEvent.click(screen.getByTestId('nav-bridge'));
    expect(await screen.findByTestId('bridge-state')).toHaveTextContent('Stopped');
    expect(screen.queryByTestId('bridge-setup')).not.toBeInTheDocument();
  });

  it('sends a user without a keyring to the storage settings', async () => {
    const backend = fakeBackend([]);
    backend.fail('vault_search', { code: 'KeyringUnavailable', message: 'No OS keyring.' });
    render(App);
    await fireEvent.click(await screen.findByTestId('use-file-store'));
    expect(await screen.findByTestId('store-section')).toBeInTheDocument();
    await vi.waitFor(() => expect(screen.getByTestId('store-passphrase')).toBeInTheDocument());
  });

  it('shows a damaged vault database as a readable notice, not the wizard or a blank screen', async () => {
    const backend = fakeBackend([]);
    const message =
      'The vault database /home/ann/.local/share/apppass/vault.sqlite3 is damaged (database disk image is malformed); apppass has not changed it. Run `apppass doctor --restore`: it keeps the damaged file under a new name and puts back the last good copy of the entry list.';
    backend.fail('vault_search', { code: 'DataCorrupt', message });
    render(App);
    const failure = await screen.findByTestId('vault-failure');
    expect(failure).toHaveTextContent('vault.sqlite3 is damaged');
    expect(failure).toHaveTextContent('apppass doctor --restore');
    expect(failure).toHaveTextContent('DataCorrupt');
    expect(failure).toHaveAttribute('role', 'alert');
    // A damaged vault is not an empty one: no wizard, no "add your first password".
    expect(screen.queryByTestId('wizard')).toBeNull();
    expect(screen.queryByTestId('empty-state')).toBeNull();
    // The navigation stays usable, and "Try again" asks again.
    expect(screen.getByTestId('nav-account')).toBeEnabled();
    const before = backend.called('vault_search').length;
    await fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await vi.waitFor(() => expect(backend.called('vault_search').length).toBeGreaterThan(before));
  });
});

describe('the start-up', () => {
  it('paints from what main.ts asked for before mounting, and reads nothing twice', async () => {
    const backend = fakeBackend([entry('Work laptop'), entry('Phone')]);
    const startup = requestStartup();
    await settled(startup, 1000);
    const asked = backend.calls.map((c) => c.cmd).sort();
    expect(asked).toEqual(['catalog_providers', 'settings_get', 'vault_search']);
    render(App, { props: { startup } });
    expect(await screen.findAllByTestId('entry-row')).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Only the store check is new; providers, settings and the first page came from start-up.
    expect(backend.calls.map((c) => c.cmd).sort()).toEqual([...asked, 'store_status'].sort());
  });

  it('a vault screen mounted later reads the vault again instead of the start-up page', async () => {
    const backend = fakeBackend([entry('Work laptop')]);
    const startup = requestStartup();
    await settled(startup, 1000);
    render(App, { props: { startup } });
    expect(await screen.findAllByTestId('entry-row')).toHaveLength(1);
    backend.entries = [...backend.entries, entry('Added by the CLI')];
    await fireEvent.click(screen.getByTestId('nav-account'));
    await fireEvent.click(screen.getByTestId('nav-vault'));
    await vi.waitFor(() => expect(screen.getAllByTestId('entry-row')).toHaveLength(2));
    expect(backend.called('vault_search')).toHaveLength(2);
  });

  it('with Rust\'s preload, mounts in the same task, asks nothing first, then reads both again', async () => {
    const backend = fakeBackend([entry('Work laptop'), entry('Phone'), entry('Printer')]);
    const preloaded: Preload = {
      providers,
      settings: defaultSettings,
      settings_failure: null,
      limit: 15,
      // What the vault held when the window was created: one entry fewer than now.
      page: { entries: [entry('Phone'), entry('Work laptop')], total: 2 },
      page_failure: null,
    };
    window.__APPPASS_PRELOAD__ = preloaded;
    const startup = requestStartup();
    expect(window.__APPPASS_PRELOAD__).toBeUndefined();
    await settled(startup, 1000);
    expect(backend.calls).toEqual([]);
    render(App, { props: { startup } });
    expect(await screen.findAllByTestId('entry-row')).toHaveLength(2);
    // After the first frame: the settings and the first page are read again over IPC.
    await vi.waitFor(() => expect(screen.getAllByTestId('entry-row')).toHaveLength(3));
    expect(backend.called('vault_search')).toEqual([{ query: '', limit: 15 }]);
    expect(backend.called('settings_get')).toHaveLength(1);
    expect(backend.called('catalog_providers')).toEqual([]);
  });

  it('a preload\'s failure is the command\'s: a locked store asks for its passphrase', async () => {
    fakeBackend([]);
    window.__APPPASS_PRELOAD__ = {
      providers,
      settings: null,
      settings_failure: { code: 'StorageFailure', message: 'No data directory (test).' },
      limit: 15,
      page: null,
      page_failure: { code: 'PassphraseRequired', message: 'Enter the passphrase.' },
    };
    const startup = requestStartup();
    await expect(startup.takeFirstPage()!.page).rejects.toMatchObject({
      code: 'PassphraseRequired',
    });
    await expect(startup.settings).rejects.toMatchObject({ code: 'StorageFailure' });
  });

  it('a preload for another page size is not used for the first page', async () => {
    const backend = fakeBackend([entry('Work laptop')]);
    window.__APPPASS_PRELOAD__ = {
      providers,
      settings: defaultSettings,
      settings_failure: null,
      limit: 25,
      page: { entries: [], total: 0 },
      page_failure: null,
    };
    const startup = requestStartup();
    await settled(startup, 1000);
    expect(backend.called('vault_search')).toEqual([{ query: '', limit: 15 }]);
    expect((await startup.takeFirstPage()!.page).total).toBe(1);
  });

  it('mounts without waiting for a vault that does not answer', async () => {
    const backend = fakeBackend([]);
    backend.on('vault_search', () => new Promise(() => {}));
    const startup = requestStartup();
    const t0 = Date.now();
    await settled(startup, 50);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
