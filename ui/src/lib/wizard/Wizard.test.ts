import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { Channel } from '@tauri-apps/api/core';
import { ann } from '../../test/account';
import { entry, fakeBackend, providers } from '../../test/backend';
import type { CheckStep, ClientPreflight, ClientSetup, Entry, PreflightLine, Provider } from '../ipc';
import { toast } from '../toast.svelte';
import Wizard from './Wizard.svelte';

const catalog: Provider[] = [
  ...providers,
  {
    id: 'microsoft365',
    name: 'Microsoft 365 (work or school)',
    steps: { value: 'Security info, then Add sign-in method, then App password.', source: 'https://learn.microsoft.com', checked: '2026-11-25' },
    app_password_url: 'https://mysignins.microsoft.com/security-info',
    help_url: null,
    limit: null,
    mfa: {
      requirement: 'required',
      text: 'App passwords need per-user MFA.',
      url: 'https://mysignins.microsoft.com/security-info',
      source: 'https://learn.microsoft.com/entra/identity/authentication/howto-mfa-app-passwords',
      checked: '2026-11-25',
    },
    servers: { imap: null, smtp: null, pop: null },
    servers_note: null,
  },
];

function preflight(verdict: ClientPreflight['verdict'], lines: PreflightLine[], advice: string[]): ClientPreflight {
  return {
    provider: 'google',
    provider_name: 'Google',
    client: 'thunderbird',
    client_name: 'Thunderbird',
    date: '2026-11-25',
    verdict,
    lines,
    advice,
    oauth: null,
    mfa: null,
    notes: [],
    bridge: false,
  };
}

function line(fields: Partial<PreflightLine>): PreflightLine {
  return {
    protocol: 'imap',
    label: 'IMAP',
    accepts: 'yes',
    since: null,
    text: '',
    source: null,
    checked: null,
    conditions: [],
    ...fields,
  };
}

const works = preflight(
  'works',
  [line({ text: 'Gmail IMAP accepts app passwords.', source: 'https://support.google.com/mail/answer/7126229', checked: '2026-11-25' })],
  [],
);

const exchangeNo = preflight(
  'no',
  [
    line({
      label: 'Exchange Online IMAP',
      accepts: 'no',
      since: '2022-10-01',
      text: 'Exchange Online turned basic authentication off for IMAP.',
      source: 'https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/deprecation-of-basic-authentication-exchange-online',
      checked: '2026-11-25',
    }),
  ],
  ['Thunderbird cannot read Microsoft 365 mail with an app password.', 'It cannot work today; use OAuth if your organisation allows it.'],
);

const setup: ClientSetup = {
  entry: 'Thunderbird on LAPTOP-42',
  client: 'thunderbird',
  client_name: 'Thunderbird',
  missing: [],
  warning: null,
  exports: ['thunderbird', 'mobileconfig'],
  settings: [
    { protocol: 'imap', host: 'imap.gmail.com', port: 993, security: 'tls', username: 'ann@gmail.com' },
    { protocol: 'smtp', host: 'smtp.gmail.com', port: 465, security: 'tls', username: 'ann@gmail.com' },
  ],
  steps: ['Open Thunderbird, then Account Settings.', 'Enter the settings above.'],
};

function backend(entries: Entry[] = []) {
  const b = fakeBackend(entries);
  b.on('wizard_preflight', () => works);
  b.on('wizard_suggest_name', ({ client }) => `${client} on LAPTOP-42`);
  b.on('wizard_paste', () => ({ length: 16, hint: '4 groups of 4 letters' }));
  b.on('wizard_save', ({ entry: e }) => entry((e as Entry).name, e as Partial<Entry>));
  b.on('client_setup', () => setup);
  b.on('export_file', ({ format }) => ({ path: `/home/ann/Downloads/Thunderbird on LAPTOP-42.${format === 'thunderbird' ? 'xml' : format}`, contains_password: false }));
  b.on('connection_test', ({ onStep }) => {
    const channel = onStep as Channel<CheckStep>;
    channel.onmessage({ protocol: 'imap', stage: 'connecting', text: 'Connecting to imap.gmail.com:993' });
    channel.onmessage({ protocol: 'imap', stage: 'authenticating', text: 'Signing in' });
    return [{ protocol: 'imap', result: 'ok', detail: 'LOGIN completed', explanation: null }];
  });
  return b;
}

function start(props: Partial<{ rotate: Entry }> = {}) {
  const onFinish = vi.fn();
  const onCancel = vi.fn();
  const onAddManually = vi.fn();
  render(Wizard, { providers: catalog, onFinish, onCancel, onAddManually, ...props });
  return { onFinish, onCancel, onAddManually, user: userEvent.setup() };
}

const $ = (id: string) => screen.getByTestId(id);
const step = () => $('wizard').dataset.step;
const next = async (user: ReturnType<typeof userEvent.setup>) => user.click($('wizard-next'));

async function toPassword(user: ReturnType<typeof userEvent.setup>) {
  await user.selectOptions(await screen.findByTestId('wizard-provider'), 'google');
  await user.type($('wizard-account'), 'ann@gmail.com');
  await next(user);
  await user.click(await screen.findByRole('radio', { name: /Thunderbird/ }));
  await next(user);
  expect(await screen.findByTestId('preflight-verdict')).toHaveAttribute('data-verdict', 'works');
  await next(user);
  await user.click($('wizard-mfa-confirm'));
  await next(user);
  await vi.waitFor(() => expect($('wizard-name')).toHaveValue('Thunderbird on LAPTOP-42'));
  await next(user);
  expect(step()).toBe('password');
}

describe('the app-password wizard', () => {
  it('goes from provider to a tested client; the webview never holds the password', async () => {
    const b = backend();
    const { user, onFinish } = start();
    // Where the user is: step 1 of 9, and why Next waits.
    expect(await screen.findByTestId('wizard-steps')).toHaveTextContent('Provider');
    expect($('wizard-where')).toHaveTextContent('Step 1 of 9: Provider');
    expect($('wizard-next')).toBeDisabled();
    expect($('wizard-why')).toHaveTextContent('Choose your mail provider.');

    await user.selectOptions($('wizard-provider'), 'google');
    await user.type($('wizard-account'), 'ann@gmail.com');
    await next(user);
    expect(step()).toBe('client');
    await user.click(screen.getByRole('radio', { name: /Thunderbird/ }));
    await next(user);

    const verdict = await screen.findByTestId('preflight-verdict');
    expect(verdict).toHaveTextContent('Yes: this works with an app password');
    expect($('preflight-line')).toHaveTextContent('Source: https://support.google.com/mail/answer/7126229, checked 2026-11-25');
    expect(b.called('wizard_preflight')).toEqual([{ provider: 'google', client: 'thunderbird' }]);
    await next(user);

    // MFA: a checklist with the provider's page (no live check for Google).
    expect($('wizard-mfa-checklist')).toBeInTheDocument();
    expect($('wizard-mfa-statement')).toHaveTextContent('Source: https://support.google.com/accounts/answer/185833');
    await user.click($('wizard-mfa-open'));
    expect(b.called('provider_page_open')).toEqual([{ provider: 'google', page: 'mfa' }]);
    expect($('wizard-next')).toBeDisabled();
    await user.click($('wizard-mfa-confirm'));
    await next(user);

    // The suggested name, with a copy button (Rust copies it).
    await vi.waitFor(() => expect($('wizard-name')).toHaveValue('Thunderbird on LAPTOP-42'));
    expect(b.called('wizard_suggest_name')).toEqual([{ client: 'Thunderbird' }]);
    await user.click($('wizard-name-copy'));
    expect(b.called('text_copy')).toEqual([{ text: 'Thunderbird on LAPTOP-42' }]);
    await next(user);

    // Open the page (the provider id only: Rust takes the URL from the catalog), then paste.
    await user.click($('wizard-open-page'));
    expect(b.called('provider_page_open').at(-1)).toEqual({ provider: 'google' });
    expect($('wizard-next')).toBeDisabled();
    await user.click($('wizard-paste'));
    expect(await screen.findByTestId('wizard-pasted')).toHaveTextContent('16 characters, 4 groups of 4 letters');
    expect(b.called('wizard_paste')).toEqual([{ provider: 'google' }]);
    await next(user);

    // Save sends the entry, never a password.
    expect($('wizard-summary')).toHaveTextContent('Thunderbird on LAPTOP-42');
    await user.click($('wizard-save'));
    const [saved] = b.called('wizard_save');
    expect(saved).toEqual({
      entry: {
        name: 'Thunderbird on LAPTOP-42',
        provider: 'google',
        account: 'ann@gmail.com',
        client: 'Thunderbird',
        kind: 'app_password',
        notes: '',
        servers: null,
      },
    });
    expect(JSON.stringify(b.calls)).not.toContain('"password"');

    // Setup: each non-secret value has its copy button; no way back before Save any more.
    const rows = await screen.findAllByTestId('setup-endpoint');
    expect(rows.map((r) => r.dataset.protocol)).toEqual(['imap', 'smtp']);
    expect(rows[0]).toHaveTextContent('imap.gmail.com');
    expect(rows[0]).toHaveTextContent('SSL/TLS');
    await user.click(within(rows[0]!).getByTestId('copy-host'));
    expect(b.called('text_copy').at(-1)).toEqual({ text: 'imap.gmail.com' });
    expect($('setup-steps')).toHaveTextContent('Account Settings');
    // The password itself: copied by Rust (entry_copy), never through the page.
    await user.click($('setup-copy-password'));
    expect(b.called('entry_copy')).toEqual([{ name: 'Thunderbird on LAPTOP-42' }]);
    await vi.waitFor(() => expect(toast.current?.text).toBe('Copied — clears in 30 s'));
    expect(screen.queryByTestId('wizard-back')).toBeNull();
    expect(screen.queryByTestId('wizard-cancel')).toBeNull();
    await user.click($('export-thunderbird'));
    expect(await screen.findByTestId('export-path')).toHaveTextContent('/home/ann/Downloads/Thunderbird on LAPTOP-42.xml');
    expect(b.called('export_file')).toEqual([
      { name: 'Thunderbird on LAPTOP-42', format: 'thunderbird', includePassword: false },
    ]);
    await next(user);

    // Test: the steps as they ran, then the outcome per protocol.
    await user.click($('wizard-test'));
    expect(await screen.findByTestId('test-all-ok')).toBeInTheDocument();
    expect(screen.getAllByTestId('test-step').map((s) => s.textContent)).toEqual([
      'IMAP Connecting to imap.gmail.com:993',
      'IMAP Signing in',
    ]);
    expect($('test-outcome')).toHaveAttribute('data-result', 'ok');
    await user.click($('wizard-done'));
    expect(onFinish).toHaveBeenCalledWith('Saved “Thunderbird on LAPTOP-42”.');
  });

  it('Back keeps what was entered; back at the start drops the pasted password in Rust', async () => {
    const b = backend();
    const { user } = start();
    await toPassword(user);
    await user.click($('wizard-paste'));
    await screen.findByTestId('wizard-pasted');
    for (const expected of ['name', 'mfa', 'preflight', 'client', 'provider']) {
      await user.click($('wizard-back'));
      expect(step()).toBe(expected);
      if (expected === 'name') expect($('wizard-name')).toHaveValue('Thunderbird on LAPTOP-42');
      if (expected === 'mfa') expect($('wizard-mfa-confirm')).toBeChecked();
      if (expected === 'client') expect(screen.getByRole('radio', { name: /Thunderbird/ })).toBeChecked();
    }
    expect($('wizard-provider')).toHaveValue('google');
    expect($('wizard-account')).toHaveValue('ann@gmail.com');
    expect(b.called('wizard_cancel')).toHaveLength(1);
    // The step indicator jumps back too.
    await next(user);
    await next(user);
    await screen.findByTestId('preflight-verdict');
    await user.click(within($('wizard-steps')).getByTitle('Back to Provider'));
    expect(step()).toBe('provider');
  });

  it('a paste the provider would refuse shows its code, message and next step', async () => {
    const b = backend();
    b.fail('wizard_paste', {
      code: 'FormatMismatch',
      message: 'Google app passwords have 16 characters; this one has 9. Copy the whole password again.',
    });
    const { user } = start();
    await toPassword(user);
    await user.click($('wizard-paste'));
    const failure = await screen.findByTestId('wizard-paste-failure');
    expect(failure).toHaveTextContent('this one has 9');
    expect(within(failure).getByTestId('failure-code')).toHaveTextContent('FormatMismatch');
    expect(failure).toHaveTextContent('Copy the app password on the provider\'s page again');
    expect($('wizard-next')).toBeDisabled();
    expect(screen.queryByTestId('wizard-pasted')).toBeNull();
  });

  it('says honestly when provider + client cannot work, and blocks Next', async () => {
    const b = backend();
    b.on('wizard_preflight', () => exchangeNo);
    const { user } = start();
    await user.selectOptions(await screen.findByTestId('wizard-provider'), 'microsoft365');
    await user.type($('wizard-account'), 'ann@contoso.com');
    await next(user);
    await user.click(screen.getByRole('radio', { name: /Thunderbird/ }));
    await next(user);
    const verdict = await screen.findByTestId('preflight-verdict');
    expect(verdict).toHaveTextContent('No: this cannot work with an app password');
    expect(screen.getAllByTestId('preflight-advice').map((a) => a.textContent)).toEqual(exchangeNo.advice);
    expect($('preflight-line')).toHaveTextContent('Exchange Online IMAP: does not take app passwords since 2022-10-01.');
    expect($('preflight-line')).toHaveTextContent('basic authentication off for IMAP');
    expect($('preflight-line')).toHaveTextContent('Source: https://learn.microsoft.com/exchange/');
    expect($('wizard-next')).toBeDisabled();
    await user.click($('preflight-change-client'));
    expect(step()).toBe('client');
  });

  it('offers the bridge where an app password cannot work, and adds a bridge client for the program', async () => {
    const b = backend();
    b.on('wizard_preflight', () => ({
      ...exchangeNo,
      bridge: true,
      advice: [...exchangeNo.advice, "Or use apppass's bridge: Thunderbird signs in to apppass on this computer."],
    }));
    const added = entry('Thunderbird on LAPTOP-42', { kind: 'bridge', provider: 'microsoft365', client: 'thunderbird' });
    b.on('bridge_add', () => added);
    const onBridge = vi.fn();
    render(Wizard, { providers: catalog, onFinish: vi.fn(), onCancel: vi.fn(), onBridge });
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByTestId('wizard-provider'), 'microsoft365');
    await user.type($('wizard-account'), 'ann@contoso.com');
    await next(user);
    await user.click(screen.getByRole('radio', { name: /Thunderbird/ }));
    await next(user);
    await screen.findByTestId('preflight-verdict');
    expect($('wizard-next')).toBeDisabled();
    await user.click($('preflight-use-bridge'));
    await vi.waitFor(() => expect(onBridge).toHaveBeenCalledWith(added));
    // The suggested name for the program, and no app password involved.
    expect(b.called('bridge_add')).toEqual([{ name: 'Thunderbird on LAPTOP-42', client: 'thunderbird' }]);
    expect(b.called('wizard_paste')).toEqual([]);
  });

  it('offers no bridge where the preflight does not', async () => {
    const b = backend();
    b.on('wizard_preflight', () => exchangeNo);
    const { user } = start();
    await user.selectOptions(await screen.findByTestId('wizard-provider'), 'microsoft365');
    await user.type($('wizard-account'), 'ann@contoso.com');
    await next(user);
    await user.click(screen.getByRole('radio', { name: /Thunderbird/ }));
    await next(user);
    await screen.findByTestId('preflight-verdict');
    expect(screen.queryByTestId('preflight-use-bridge')).toBeNull();
  });

  it('signed in to a work account: Microsoft 365 pre-filled and MFA checked live', async () => {
    const b = backend();
    b.on('account_get', () => ann);
    b.on('mfa_status', () => ({
      account: ann,
      status: { username: ann.username, display_name: ann.name, state: 'registered', methods: [], mfa_used: true, amr: ['mfa'], guided: null, checked_at: 0 },
      problem: null,
      security_info_url: 'https://mysignins.microsoft.com/security-info',
    }));
    b.on('wizard_preflight', () => ({ ...works, verdict: 'partly' }));
    const { user } = start();
    await vi.waitFor(() => expect($('wizard-provider')).toHaveValue('microsoft365'));
    expect($('wizard-account')).toHaveValue('ann@example.test');
    expect($('provider-prefilled')).toHaveTextContent('ann@example.test');
    await next(user);
    await user.click(screen.getByRole('radio', { name: /msmtp/ }));
    await next(user);
    await screen.findByTestId('preflight-verdict');
    await next(user);
    expect(await screen.findByTestId('wizard-mfa-on')).toHaveTextContent('MFA is on');
    expect(b.called('mfa_status')).toHaveLength(1);
    expect($('wizard-next')).toBeEnabled();
  });

  it('the custom provider asks for its servers and saves them with the entry', async () => {
    const b = backend();
    const { user } = start();
    await user.selectOptions(await screen.findByTestId('wizard-provider'), 'custom');
    await user.type($('wizard-account'), 'ann');
    expect($('wizard-why')).toHaveTextContent("Enter the IMAP server's name.");
    await user.type($('custom-imap-host'), 'mail.example.test');
    await user.type($('custom-smtp-host'), 'mail.example.test');
    await user.selectOptions($('custom-smtp-security'), 'starttls');
    expect($('custom-smtp-port')).toHaveValue('587');
    await next(user);
    await user.click(screen.getByRole('radio', { name: /Thunderbird/ }));
    await next(user);
    await screen.findByTestId('preflight-verdict');
    await next(user);
    expect($('wizard-mfa-custom')).toHaveTextContent('mail administrator');
    await next(user);
    await vi.waitFor(() => expect($('wizard-name')).toHaveValue('Thunderbird on LAPTOP-42'));
    await user.clear($('wizard-name'));
    await user.type($('wizard-name'), 'Mail server');
    await next(user);
    expect(screen.queryByTestId('wizard-open-page')).toBeNull();
    await user.click($('wizard-paste'));
    await next(user);
    await user.click($('wizard-save'));
    expect(b.called('wizard_save')[0]!.entry).toMatchObject({
      name: 'Mail server',
      provider: 'custom',
      account: 'ann',
      servers: {
        imap: { host: 'mail.example.test', port: 993, security: 'tls' },
        smtp: { host: 'mail.example.test', port: 587, security: 'starttls' },
        pop: null,
      },
    });
  });

  it('a name already taken leads back to the name, and the paste is still there', async () => {
    const b = backend();
    b.fail('wizard_save', { code: 'NameTaken', message: 'An entry named “Thunderbird on LAPTOP-42” exists. Choose another name.' });
    const { user } = start();
    await toPassword(user);
    await user.click($('wizard-paste'));
    await next(user);
    await user.click($('wizard-save'));
    await user.click(await screen.findByTestId('wizard-change-name'));
    expect(step()).toBe('name');
    expect($('wizard-name')).toHaveValue('Thunderbird on LAPTOP-42');
    await next(user);
    expect(screen.getByTestId('wizard-pasted')).toBeInTheDocument();
  });

  it('the Apple profile holds the password only after the checkbox, with a warning', async () => {
    const b = backend();
    b.on('client_setup', () => setup);
    const { user } = start();
    await user.selectOptions(await screen.findByTestId('wizard-provider'), 'google');
    await user.type($('wizard-account'), 'ann@gmail.com');
    await next(user);
    await user.click(screen.getByRole('radio', { name: /Apple Mail/ }));
    await next(user);
    await screen.findByTestId('preflight-verdict');
    await next(user);
    await user.click($('wizard-mfa-confirm'));
    await next(user);
    await vi.waitFor(() => expect($('wizard-name')).not.toHaveValue(''));
    await next(user);
    await user.click($('wizard-paste'));
    await next(user);
    await user.click($('wizard-save'));
    await user.click(await screen.findByTestId('export-mobileconfig'));
    expect(b.called('export_file').at(-1)).toMatchObject({ format: 'mobileconfig', includePassword: false });
    expect(screen.queryByTestId('export-password-warning')).toBeNull();
    await user.click($('export-include-password'));
    expect($('export-password-warning')).toHaveTextContent('plain text');
    await user.click($('export-mobileconfig'));
    expect(b.called('export_file').at(-1)).toMatchObject({ format: 'mobileconfig', includePassword: true });
  });

  it('rotation: paste, replace, the reminder to delete the old password there, setup and test', async () => {
    const b = backend([entry('Work laptop')]);
    b.on('wizard_rotate', ({ name }) => ({
      entry: entry(String(name), { rotated: 1 }),
      provider_name: 'Google (Gmail, Workspace)',
      manage_url: 'https://myaccount.google.com/apppasswords',
    }));
    const { user, onFinish } = start({ rotate: entry('Work laptop') });
    expect(await screen.findByTestId('wizard-where')).toHaveTextContent('Step 1 of 4: Password');
    expect(screen.queryByTestId('wizard-back')).toBeNull();
    await user.click($('wizard-paste'));
    expect(b.called('wizard_paste')).toEqual([{ provider: 'google' }]);
    await next(user);
    expect($('wizard-save')).toHaveTextContent('Replace the password');
    await user.click($('wizard-save'));
    expect(b.called('wizard_rotate')).toEqual([{ name: 'Work laptop' }]);
    const reminder = await screen.findByTestId('rotate-reminder');
    expect(reminder).toHaveTextContent('The old one still works at Google (Gmail, Workspace) until you delete it there');
    expect(reminder).toHaveTextContent('https://myaccount.google.com/apppasswords');
    await user.click($('rotate-open-page'));
    expect(b.called('provider_page_open')).toEqual([{ provider: 'google' }]);
    // The entry's client "Thunderbird" is the catalog's thunderbird.
    await screen.findAllByTestId('setup-endpoint');
    expect(b.called('client_setup')).toEqual([{ name: 'Work laptop', client: 'thunderbird' }]);
    await next(user);
    await user.click($('wizard-test'));
    await screen.findByTestId('test-all-ok');
    await user.click($('wizard-done'));
    expect(onFinish).toHaveBeenCalledWith('Replaced the password of “Work laptop”.');
  });

  it('a failed test shows each protocol with its code and explanation', async () => {
    const b = backend();
    b.on('connection_test', () => [
      { protocol: 'imap', result: 'ok', detail: '', explanation: null },
      { protocol: 'smtp', result: 'auth_rejected', detail: '535 5.7.139 Authentication unsuccessful', explanation: 'Basic authentication is disabled for the tenant.' },
    ]);
    const { user } = start();
    await toPassword(user);
    await user.click($('wizard-paste'));
    await next(user);
    await user.click($('wizard-save'));
    await screen.findAllByTestId('setup-endpoint');
    await next(user);
    await user.click($('wizard-test'));
    const outcomes = await screen.findAllByTestId('test-outcome');
    expect(outcomes[1]).toHaveAttribute('data-result', 'auth_rejected');
    expect(outcomes[1]).toHaveTextContent('the server refused the password');
    expect(outcomes[1]).toHaveTextContent('Basic authentication is disabled for the tenant.');
    expect(outcomes[1]).toHaveTextContent('535 5.7.139');
    expect(screen.queryByTestId('test-all-ok')).toBeNull();
    expect($('wizard-test')).toHaveTextContent('Test again');
  });

  it('Cancel drops a pending paste and leaves', async () => {
    const b = backend();
    const { user, onCancel } = start();
    await toPassword(user);
    await user.click($('wizard-paste'));
    await user.click($('wizard-cancel'));
    expect(b.called('wizard_cancel')).toHaveLength(1);
    expect(onCancel).toHaveBeenCalled();
  });
});
