// A fake Rust side for component tests: an in-memory vault behind mockIPC. Tests override single
// commands with `fail` or `on` and read what was invoked from `calls`.
import { mockIPC } from '@tauri-apps/api/mocks';
import type { Client, Entry, Failure, Provider, Settings } from '../lib/ipc';

const DAY = 86_400;
export const now = () => Math.floor(Date.now() / 1000);

export function entry(name: string, fields: Partial<Entry> = {}): Entry {
  return {
    id: `id-${name}`,
    name,
    provider: 'google',
    account: 'me@example.com',
    client: 'Thunderbird',
    kind: 'app_password',
    created: now() - 12 * DAY,
    rotated: null,
    last_used: null,
    notes: '',
    servers: null,
    ...fields,
  };
}

export const providers: Provider[] = [
  {
    id: 'google',
    name: 'Google (Gmail, Workspace)',
    steps: { value: 'Open your Google Account, then Security, then App passwords.', source: 'https://support.google.com', checked: '2026-11-25' },
    app_password_url: 'https://myaccount.google.com/apppasswords',
    help_url: 'https://support.google.com/accounts/answer/185833',
    limit: null,
    mfa: {
      requirement: 'required',
      text: 'Google shows App passwords only once 2-Step Verification is on.',
      url: 'https://myaccount.google.com/signinoptions/twosv',
      source: 'https://support.google.com/accounts/answer/185833',
      checked: '2026-11-25',
    },
    servers: { imap: null, smtp: null, pop: null },
    servers_note: null,
  },
  {
    id: 'custom',
    name: 'Other mail server (custom IMAP/SMTP/POP)',
    steps: { value: 'Ask your mail administrator.', source: 'apppass', checked: '2026-11-25' },
    app_password_url: null,
    help_url: null,
    limit: null,
    mfa: null,
    servers: { imap: null, smtp: null, pop: null },
    servers_note: null,
  },
];

function client(id: string, name: string, incoming: Client['incoming'], exports: Client['exports']): Client {
  return { id, name, incoming, outgoing: ['smtp'], exports, steps: ['Open the account settings.'], oauth: [] };
}

export const clients: Client[] = [
  client('thunderbird', 'Thunderbird', ['imap'], ['thunderbird']),
  client('apple_mail', 'Apple Mail (macOS)', ['imap'], ['mobileconfig']),
  client('msmtp', 'msmtp', [], ['msmtp']),
  client('other', 'Other program', ['imap', 'pop'], []),
];

export const defaultSettings: Settings = {
  clipboard_clear_seconds: 30,
  reveal_hide_seconds: 10,
  rotation_days: 180,
  store: 'keyring',
};

type Handler = (args: Record<string, unknown>) => unknown;

export interface Backend {
  entries: Entry[];
  calls: { cmd: string; args: Record<string, unknown> }[];
  /** Replaces a command's behaviour. */
  on(cmd: string, handler: Handler): void;
  /** Makes a command fail with this Failure. */
  fail(cmd: string, failure: Failure): void;
  called(cmd: string): Record<string, unknown>[];
}

export function fakeBackend(entries: Entry[] = []): Backend {
  const overrides = new Map<string, Handler>();
  const backend: Backend = {
    entries,
    calls: [],
    on: (cmd, handler) => void overrides.set(cmd, handler),
    fail: (cmd, failure) =>
      void overrides.set(cmd, () => {
        throw failure;
      }),
    called: (cmd) => backend.calls.filter((c) => c.cmd === cmd).map((c) => c.args),
  };
  const sorted = () => [...backend.entries].sort((a, b) => a.name.localeCompare(b.name));
  const defaults: Record<string, Handler> = {
    vault_list: () => sorted(),
    vault_search: ({ query, limit }) => {
      const q = String(query).trim().toLowerCase();
      const hits = sorted().filter((e) =>
        [e.name, e.client, e.provider, e.account].some((f) => f.toLowerCase().includes(q)),
      );
      return { entries: hits.slice(0, Number(limit)), total: hits.length };
    },
    catalog_providers: () => providers,
    settings_get: () => defaultSettings,
    entry_copy: () => ({ clear_after_seconds: 30 }),
    entry_reveal: () => ({ password: 'abcd efgh ijkl mnop', hide_after_seconds: 10 }),
    entry_remove: ({ name }) => {
      const removed = backend.entries.find((e) => e.name === name)!;
      backend.entries = backend.entries.filter((e) => e !== removed);
      return {
        entry: removed,
        provider_name: 'Google (Gmail, Workspace)',
        manage_url: 'https://myaccount.google.com/apppasswords',
      };
    },
    entry_rename: ({ name, to }) => {
      const e = backend.entries.find((x) => x.name === name)!;
      e.name = String(to);
      return e;
    },
    provider_page_open: () => null,
    catalog_clients: () => clients,
    account_get: () => null,
    wizard_cancel: () => null,
    text_copy: () => null,
    store_status: () => ({
      kind: 'keyring',
      description: 'Secret Service (D-Bus org.freedesktop.secrets)',
      problem: null,
      file_store_exists: false,
    }),
  };
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    backend.calls.push({ cmd, args: a });
    const handler = overrides.get(cmd) ?? defaults[cmd];
    if (!handler) throw `command ${cmd} not mocked`;
    return handler(a);
  });
  return backend;
}

export { DAY };
