import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DAY, defaultSettings, entry, fakeBackend, now } from '../test/backend';
import Bridge from './Bridge.svelte';
import type { BridgeView, Entry, Settings } from './ipc';
import Toast from './Toast.svelte';

const stopped: BridgeView = {
  running: false,
  listeners: [],
  sessions: [],
  errors: [],
  counters: { connections: 0, signed_in: 0, rejected: 0, upstream_failures: 0 },
  signin_required: false,
  start_failure: null,
  login_item: false,
};

const running: BridgeView = {
  ...stopped,
  running: true,
  listeners: [
    { protocol: 'imap', implicit_tls: false, address: '127.0.0.1', port: 1143 },
    { protocol: 'imap', implicit_tls: true, address: '127.0.0.1', port: 1993 },
    { protocol: 'smtp', implicit_tls: false, address: '127.0.0.1', port: 1587 },
  ],
  sessions: [{ id: 1, protocol: 'imap', client: 'Thunderbird on laptop', since: now(), phase: 'relaying' }],
};

function bridgeEntry(name: string, fields: Partial<Entry> = {}): Entry {
  return entry(name, {
    kind: 'bridge',
    provider: 'microsoft365',
    client: 'thunderbird',
    account: name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
    servers: {
      imap: { host: '127.0.0.1', port: 1143, security: 'starttls' },
      smtp: { host: '127.0.0.1', port: 1587, security: 'starttls' },
      pop: null,
    },
    ...fields,
  });
}

/** A fake Rust side with the bridge's commands over an in-memory list of bridge clients. */
function backend(clients: Entry[] = [], view: BridgeView = stopped, saved: Settings = defaultSettings) {
  const b = fakeBackend();
  let status = view;
  let list = clients;
  let settings: Settings = saved;
  /** Whether apppass is registered to start at login (the login item). */
  let registered = view.login_item;
  b.on('bridge_status', () => ({ ...status, login_item: registered }));
  b.on('bridge_start', () => (status = running));
  b.on('bridge_stop', () => (status = stopped));
  b.on('bridge_clients', () => list);
  b.on('settings_get', () => settings);
  b.on('wizard_suggest_name', ({ client }) => `${client} on LAPTOP-42`);
  b.on('bridge_add', ({ name, client }) => {
    const e = bridgeEntry(String(name), { client: String(client) });
    list = [...list, e];
    settings = { ...settings, bridge: bridgeSettings(false) };
    return e;
  });
  b.on('bridge_rotate', ({ name }) => list.find((e) => e.name === name));
  b.on('bridge_remove', ({ name }) => {
    const e = list.find((x) => x.name === name);
    list = list.filter((x) => x !== e);
    return e;
  });
  b.on('bridge_password_copy', () => ({ clear_after_seconds: 30 }));
  b.on('bridge_password_reveal', () => ({ password: 'abcde-fghjk-mnpqr-stuvw-xyz23-45678', hide_after_seconds: 10 }));
  b.on('bridge_settings_save', ({ preset, listen, startAtLogin }) => {
    settings = {
      ...settings,
      bridge: { ...bridgeSettings(Boolean(startAtLogin)), preset: preset as 'google', listen: listen as never },
    };
    registered = Boolean(startAtLogin);
    return settings;
  });
  b.on('bridge_login_item_apply', () => {
    registered = settings.bridge?.start_at_login ?? false;
    return { ...status, login_item: registered };
  });
  b.on('bridge_cert_export', () => ({ path: '/home/ann/Downloads/apppass-bridge.pem', contains_password: false, warning: null }));
  return b;
}

function bridgeSettings(startAtLogin: boolean) {
  return {
    preset: 'microsoft365' as const,
    listen: { imap: 1143, imaps: 1993, pop: 1110, pops: 1995, smtp: 1587, smtps: 1465 },
    start_at_login: startAtLogin,
    protocol_log: false,
  };
}

function show(props: { focus?: string | null } = {}) {
  const onSignIn = vi.fn();
  const onSettingsChanged = vi.fn();
  const r = render(Bridge, { onSignIn, onSettingsChanged, ...props });
  render(Toast);
  return { onSignIn, onSettingsChanged, unmount: r.unmount, user: userEvent.setup() };
}

const $ = (id: string) => screen.getByTestId(id);

afterEach(() => {
  vi.useRealTimers();
});

describe('the Bridge screen', () => {
  it('starts and stops the bridge and shows its listeners and connected clients', async () => {
    const b = backend();
    const { user } = show();
    await vi.waitFor(() => expect($('bridge-state')).toHaveTextContent('Stopped'));
    expect(screen.queryByTestId('bridge-listeners')).toBeNull();
    await user.click($('bridge-start-stop'));
    expect(b.called('bridge_start')).toHaveLength(1);
    await vi.waitFor(() => expect($('bridge-state')).toHaveTextContent('Running'));
    const rows = screen.getAllByTestId('bridge-listener');
    expect(rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent?.trim()).join(' '))).toEqual([
      'IMAP 127.0.0.1 1143 STARTTLS',
      'IMAP 127.0.0.1 1993 SSL/TLS',
      'SMTP 127.0.0.1 1587 STARTTLS',
    ]);
    expect($('bridge-session')).toHaveTextContent('Thunderbird on laptop');
    expect($('bridge-session')).toHaveTextContent('IMAP · relaying');
    expect($('bridge-start-stop')).toHaveTextContent('Stop');
    await user.click($('bridge-start-stop'));
    expect(b.called('bridge_stop')).toHaveLength(1);
    await vi.waitFor(() => expect($('bridge-state')).toHaveTextContent('Stopped'));
  });

  it('a start refused for want of a sign-in says so and leads to the sign-in screen', async () => {
    const b = backend();
    const failure = { code: 'SignInRequired' as const, message: 'Nobody is signed in. Sign in with your work account.' };
    b.on('bridge_start', () => {
      b.on('bridge_status', () => ({ ...stopped, start_failure: failure }));
      throw failure;
    });
    const { user, onSignIn } = show();
    await vi.waitFor(() => expect($('bridge-start-stop')).toBeEnabled());
    await user.click($('bridge-start-stop'));
    const notice = await screen.findByTestId('bridge-start-failure');
    expect(notice).toHaveTextContent('Nobody is signed in');
    expect(notice).toHaveTextContent('SignInRequired');
    await user.click(within(notice).getByTestId('bridge-sign-in'));
    expect(onSignIn).toHaveBeenCalledOnce();
  });

  it('shows the last errors with their next step, and "sign in again" when the provider refused', async () => {
    backend([], {
      ...running,
      signin_required: true,
      errors: [
        { time: now(), protocol: 'imap', client: 'Thunderbird on laptop', code: 'SignInRequired', message: 'The provider refused the sign-in. Sign in again.' },
        { time: now() - 60, protocol: 'smtp', client: 'printer', code: 'AuthRejected', message: 'A client tried the local user name "printer" with a wrong password.' },
      ],
    });
    const { user, onSignIn } = show();
    const errors = await screen.findAllByTestId('bridge-error');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toHaveTextContent('The provider refused the sign-in. Sign in again.');
    expect(errors[0]).toHaveTextContent('SignInRequired');
    expect(errors[1]).toHaveTextContent('wrong password');
    expect(within(errors[1]!).queryByTestId('bridge-error-sign-in')).toBeNull();
    expect($('bridge-signin-required')).toBeInTheDocument();
    await user.click(within(errors[0]!).getByTestId('bridge-error-sign-in'));
    expect(onSignIn).toHaveBeenCalledOnce();
  });

  it('polls the status every 2 s while shown, and stops when left', async () => {
    vi.useFakeTimers();
    const b = backend();
    const { unmount } = show();
    await vi.advanceTimersByTimeAsync(10);
    const first = b.called('bridge_status').length;
    expect(first).toBe(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.called('bridge_status')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(4000);
    expect(b.called('bridge_status')).toHaveLength(4);
    unmount();
    await vi.advanceTimersByTimeAsync(6000);
    expect(b.called('bridge_status')).toHaveLength(4);
  });

  it("a new sign-in through the bridge updates the client's last sign-in while shown", async () => {
    vi.useFakeTimers();
    const b = backend([bridgeEntry('Thunderbird on laptop')], running);
    show();
    await vi.advanceTimersByTimeAsync(10);
    const row = screen.getByTestId('bridge-client');
    expect(within(row).getByTestId('bridge-client-last')).toHaveTextContent('never');
    expect(b.called('bridge_clients')).toHaveLength(1);
    // Polls without a new sign-in leave the list alone.
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.called('bridge_clients')).toHaveLength(1);
    // The client signs in: the counter moves, the list is read again.
    const used = now();
    b.on('bridge_clients', () => [bridgeEntry('Thunderbird on laptop', { last_used: used })]);
    b.on('bridge_status', () => ({ ...running, counters: { ...running.counters, signed_in: 1 } }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.called('bridge_clients')).toHaveLength(2);
    const last = within(screen.getByTestId('bridge-client')).getByTestId('bridge-client-last');
    expect(last).toHaveTextContent(
      new Date(used * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }),
    );
    expect(last).not.toHaveTextContent('never');
  });

  it('lists the clients with their user name, program, last sign-in and an unused mark', async () => {
    backend([
      bridgeEntry('Thunderbird on laptop', { last_used: now() - 3600 }),
      bridgeEntry('Printer', { client: 'msmtp', created: now() - 60 * DAY }),
    ]);
    show();
    const rows = await screen.findAllByTestId('bridge-client');
    expect(rows.map((r) => r.dataset.name)).toEqual(['Thunderbird on laptop', 'Printer']);
    expect(rows[0]).toHaveTextContent('thunderbird-on-laptop');
    await vi.waitFor(() => expect(rows[0]).toHaveTextContent('Thunderbird'));
    expect(within(rows[0]!).queryByTestId('bridge-client-unused')).toBeNull();
    expect(within(rows[1]!).getByTestId('bridge-client-last')).toHaveTextContent('never');
    expect(within(rows[1]!).getByTestId('bridge-client-unused')).toHaveTextContent('unused');
    expect(rows[1]).toHaveTextContent('msmtp');
  });

  it('adds a client with a suggested name and shows its settings; the password only on request', async () => {
    const b = backend();
    const { user, onSettingsChanged } = show();
    await vi.waitFor(() => expect(within($('bridge-add-client')).getAllByRole('option').length).toBeGreaterThan(1));
    await user.selectOptions($('bridge-add-client'), 'thunderbird');
    await vi.waitFor(() => expect($('bridge-add-name')).toHaveValue('Thunderbird on LAPTOP-42'));
    await user.click($('bridge-add'));
    expect(b.called('bridge_add')).toEqual([{ name: 'Thunderbird on LAPTOP-42', client: 'thunderbird' }]);
    const setup = await screen.findByTestId('bridge-setup');
    expect(setup).toHaveTextContent('Enter these in Thunderbird');
    const servers = within(setup).getAllByTestId('bridge-setup-server');
    expect(servers.map((s) => s.dataset.protocol)).toEqual(['imap', 'smtp']);
    expect(servers[0]).toHaveTextContent('127.0.0.1');
    expect(servers[0]).toHaveTextContent('1143');
    expect(servers[0]).toHaveTextContent('STARTTLS');
    expect($('bridge-setup-username')).toHaveTextContent('thunderbird-on-laptop-42');
    // The add wrote [bridge]: the app's copy of the settings follows.
    await vi.waitFor(() => expect(onSettingsChanged).toHaveBeenCalled());

    // Nothing so far sent a password to the webview.
    expect(b.called('bridge_password_reveal')).toEqual([]);
    expect(screen.queryByTestId('bridge-revealed-password')).toBeNull();

    await user.click(within(servers[0]!).getByTestId('bridge-copy-host'));
    await user.click($('bridge-copy-username'));
    expect(b.called('text_copy')).toEqual([{ text: '127.0.0.1' }, { text: 'thunderbird-on-laptop-42' }]);
    await user.click($('bridge-copy-password'));
    expect(b.called('bridge_password_copy')).toEqual([{ name: 'Thunderbird on LAPTOP-42' }]);
    expect(await screen.findByText(/Copied the password — clears in 30 s/)).toBeInTheDocument();
    await user.click($('bridge-reveal-password'));
    expect(await screen.findByTestId('bridge-revealed-password')).toHaveTextContent('abcde-fghjk-mnpqr-stuvw-xyz23-45678');
    expect($('bridge-reveal-countdown')).toHaveTextContent('hides in 10 s');
    await user.click($('bridge-reveal-password'));
    expect(screen.queryByTestId('bridge-revealed-password')).toBeNull();
  });

  it('opens on the client the wizard added', async () => {
    backend([bridgeEntry('Thunderbird on laptop'), bridgeEntry('Printer')]);
    show({ focus: 'Printer' });
    const setup = await screen.findByTestId('bridge-setup');
    expect(setup.dataset.name).toBe('Printer');
  });

  it('rotates and removes a client after a confirmation', async () => {
    const b = backend([bridgeEntry('Thunderbird on laptop'), bridgeEntry('Printer')]);
    const { user } = show();
    const rows = await screen.findAllByTestId('bridge-client');
    await user.click(within(rows[0]!).getByTestId('bridge-client-rotate'));
    expect($('bridge-confirm')).toHaveTextContent('the old one stops working');
    expect(b.called('bridge_rotate')).toEqual([]);
    await user.click($('bridge-confirm-yes'));
    expect(b.called('bridge_rotate')).toEqual([{ name: 'Thunderbird on laptop' }]);
    expect(await screen.findByTestId('bridge-setup')).toHaveAttribute('data-name', 'Thunderbird on laptop');

    await user.click(within(screen.getAllByTestId('bridge-client')[1]!).getByTestId('bridge-client-remove'));
    await user.click($('bridge-confirm-no'));
    expect(b.called('bridge_remove')).toEqual([]);
    await user.click(within(screen.getAllByTestId('bridge-client')[1]!).getByTestId('bridge-client-remove'));
    await user.click($('bridge-confirm-yes'));
    expect(b.called('bridge_remove')).toEqual([{ name: 'Printer' }]);
    await vi.waitFor(() =>
      expect(screen.getAllByTestId('bridge-client').map((r) => r.dataset.name)).toEqual(['Thunderbird on laptop']),
    );
  });

  it('saves "start at login" with the preset and ports, and shows a refusal', async () => {
    const b = backend();
    const { user, onSettingsChanged } = show();
    await vi.waitFor(() => expect($('bridge-port-imap')).toHaveValue(1143));
    await user.click($('bridge-start-at-login'));
    await user.clear($('bridge-port-pops'));
    await user.type($('bridge-port-pops'), '0');
    await user.click($('bridge-settings-save'));
    expect(b.called('bridge_settings_save')).toEqual([
      {
        preset: 'microsoft365',
        listen: { imap: 1143, imaps: 1993, pop: 1110, pops: 0, smtp: 1587, smtps: 1465 },
        startAtLogin: true,
      },
    ]);
    await vi.waitFor(() => expect(onSettingsChanged).toHaveBeenCalled());

    b.fail('bridge_settings_save', { code: 'InvalidInput', message: 'The imap and smtp listeners both use port 2143.' });
    await user.click($('bridge-settings-save'));
    expect(await screen.findByTestId('bridge-settings-failure')).toHaveTextContent('both use port 2143');
  });

  it('start at login: once saved, says that apppass starts when you log in', async () => {
    const b = backend();
    const { user } = show();
    await vi.waitFor(() => expect($('bridge-port-imap')).toHaveValue(1143));
    expect(screen.queryByTestId('bridge-login-item')).toBeNull();
    expect($('bridge-start-at-login').closest('label')).toHaveTextContent('Start apppass and the bridge when I log in');
    await user.click($('bridge-start-at-login'));
    // Not saved yet: nothing is claimed.
    expect(screen.queryByTestId('bridge-login-item')).toBeNull();
    await user.click($('bridge-settings-save'));
    await vi.waitFor(() => expect($('bridge-login-item')).toHaveAttribute('data-state', 'registered'));
    expect($('bridge-login-item')).toHaveTextContent('apppass starts when you log in');
    expect(screen.queryByTestId('bridge-login-register')).toBeNull();
    // Off again: the line goes.
    await user.click($('bridge-start-at-login'));
    await user.click($('bridge-settings-save'));
    expect(b.called('bridge_settings_save').map((a) => a.startAtLogin)).toEqual([true, false]);
    await vi.waitFor(() => expect(screen.queryByTestId('bridge-login-item')).toBeNull());
  });

  it('a login item that went missing is shown with "Register again"', async () => {
    const b = backend([], stopped, { ...defaultSettings, bridge: bridgeSettings(true) });
    const { user } = show();
    const notice = await screen.findByTestId('bridge-login-item');
    expect(notice).toHaveAttribute('data-state', 'mismatch');
    expect(notice).toHaveTextContent('apppass is set to start when you log in, but it is not registered with your desktop to do so.');
    expect(notice).toHaveAttribute('role', 'alert');
    await user.click(within(notice).getByTestId('bridge-login-register'));
    expect(b.called('bridge_login_item_apply')).toHaveLength(1);
    await vi.waitFor(() => expect($('bridge-login-item')).toHaveAttribute('data-state', 'registered'));
    expect(await screen.findByText('Registered: apppass starts when you log in.')).toBeInTheDocument();
  });

  it('when the login item cannot be checked, says so and offers "Register again"', async () => {
    const b = backend([], { ...stopped, login_item: null }, { ...defaultSettings, bridge: bridgeSettings(true) });
    const { user } = show();
    const notice = await screen.findByTestId('bridge-login-item');
    expect(notice).toHaveTextContent('could not check');
    b.fail('bridge_login_item_apply', {
      code: 'LoginItemFailed',
      message: 'Saved, but apppass could not register itself to start when you log in (HOME is not set). Add apppass to your desktop\'s startup applications by hand.',
    });
    await user.click(within(notice).getByTestId('bridge-login-register'));
    const failure = await screen.findByTestId('bridge-settings-failure');
    expect(failure).toHaveTextContent('HOME is not set');
    expect(failure).toHaveTextContent('LoginItemFailed');
  });

  it('a failed registration shows its code and keeps the saved settings', async () => {
    const b = backend();
    const { user, onSettingsChanged } = show();
    await vi.waitFor(() => expect($('bridge-port-imap')).toHaveValue(1143));
    // Rust saves the settings, then the desktop refuses the login item.
    b.on('bridge_settings_save', () => {
      b.on('settings_get', () => ({ ...defaultSettings, bridge: bridgeSettings(true) }));
      throw {
        code: 'LoginItemFailed',
        message:
          "Saved, but apppass could not register itself to start when you log in (~/.config/autostart: Permission denied). Try Register again on the Bridge screen, or add apppass to your desktop's startup applications by hand.",
      };
    });
    await user.click($('bridge-start-at-login'));
    await user.click($('bridge-settings-save'));
    const failure = await screen.findByTestId('bridge-settings-failure');
    expect(failure).toHaveTextContent('Permission denied');
    expect(failure).toHaveTextContent('startup applications by hand');
    expect(failure).toHaveTextContent('LoginItemFailed');
    // The app's copy of the settings follows what Rust saved; the box stays ticked.
    await vi.waitFor(() =>
      expect(onSettingsChanged).toHaveBeenCalledWith(expect.objectContaining({ bridge: bridgeSettings(true) })),
    );
    expect($('bridge-start-at-login')).toBeChecked();
    const notice = await screen.findByTestId('bridge-login-item');
    expect(notice).toHaveAttribute('data-state', 'mismatch');
    expect(within(notice).getByTestId('bridge-login-register')).toHaveTextContent('Register again');
  });

  it('a login item the setting no longer wants can be removed', async () => {
    const b = backend([], { ...stopped, login_item: true }, { ...defaultSettings, bridge: bridgeSettings(false) });
    const { user } = show();
    const notice = await screen.findByTestId('bridge-login-item');
    expect(notice).toHaveTextContent('still registered to start when you log in, though this setting is off');
    await user.click(within(notice).getByTestId('bridge-login-register'));
    expect(b.called('bridge_login_item_apply')).toHaveLength(1);
    await vi.waitFor(() => expect(screen.queryByTestId('bridge-login-item')).toBeNull());
  });

  it('exports the certificate and shows where', async () => {
    const b = backend();
    const { user } = show();
    await user.click($('bridge-export-cert'));
    expect(b.called('bridge_cert_export')).toHaveLength(1);
    expect(await screen.findByTestId('bridge-cert-path')).toHaveTextContent('/home/ann/Downloads/apppass-bridge.pem');
  });
});
