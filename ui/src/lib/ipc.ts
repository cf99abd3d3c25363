// The one door to the Rust side. Every command is typed with the wire types ts-rs generates from
// Rust (./bindings), and every rejection becomes a typed Failure ({code, message}).
// Nothing here logs: arguments and results can carry a password or a passphrase.
import { Channel, invoke } from '@tauri-apps/api/core';
import type { Account } from './bindings/Account';
import type { BridgeError } from './bindings/BridgeError';
import type { BridgeSettings } from './bindings/BridgeSettings';
import type { BridgeStatus } from './bindings/BridgeStatus';
import type { Listen } from './bindings/Listen';
import type { ListenerInfo } from './bindings/ListenerInfo';
import type { Preset } from './bindings/Preset';
import type { Server } from './bindings/Server';
import type { SessionInfo } from './bindings/SessionInfo';
import type { Code } from './bindings/Code';
import type { Copied } from './bindings/Copied';
import type { Entry } from './bindings/Entry';
import type { Failure } from './bindings/Failure';
import type { HealthReport } from './bindings/HealthReport';
import type { Method } from './bindings/Method';
import type { MfaOverview } from './bindings/MfaOverview';
import type { MfaStatus } from './bindings/MfaStatus';
import type { Preflight } from './bindings/Preflight';
import type { ProtocolStatus } from './bindings/ProtocolStatus';
import type { NewEntry } from './bindings/NewEntry';
import type { Provider } from './bindings/Provider';
import type { Removed } from './bindings/Removed';
import type { Revealed } from './bindings/Revealed';
import type { SearchPage } from './bindings/SearchPage';
import type { Settings } from './bindings/Settings';
import type { DeviceCode } from './bindings/DeviceCode';
import type { SignedOut } from './bindings/SignedOut';
import type { SignInPhase } from './bindings/SignInPhase';
import type { SignInProgress } from './bindings/SignInProgress';
import type { SignInSetup } from './bindings/SignInSetup';
import type { StoreStatus } from './bindings/StoreStatus';
import type { Endpoint } from './bindings/Endpoint';
import type { Protocol } from './bindings/Protocol';
import type { CheckOutcome } from './bindings/CheckOutcome';
import type { CheckResult } from './bindings/CheckResult';
import type { Client } from './bindings/Client';
import type { ClientPreflight } from './bindings/ClientPreflight';
import type { ClientSetup } from './bindings/ClientSetup';
import type { ExportedFile } from './bindings/ExportedFile';
import type { ExportFormat } from './bindings/ExportFormat';
import type { Mfa } from './bindings/Mfa';
import type { Pasted } from './bindings/Pasted';
import type { PreflightLine } from './bindings/PreflightLine';
import type { Rotated } from './bindings/Rotated';
import type { Step as CheckStep } from './bindings/Step';
import type { Verdict } from './bindings/Verdict';

export type {
  SearchPage,
  Account,
  BridgeError,
  BridgeSettings,
  BridgeStatus,
  Listen,
  ListenerInfo,
  Preset,
  Server,
  SessionInfo,
  Code,
  Copied,
  DeviceCode,
  Entry,
  Failure,
  HealthReport,
  Method,
  MfaOverview,
  MfaStatus,
  NewEntry,
  Preflight,
  ProtocolStatus,
  Provider,
  Removed,
  Revealed,
  Settings,
  SignedOut,
  SignInPhase,
  SignInProgress,
  SignInSetup,
  StoreStatus,
  Endpoint,
  Protocol,
  CheckOutcome,
  CheckResult,
  CheckStep,
  Client,
  ClientPreflight,
  ClientSetup,
  ExportedFile,
  ExportFormat,
  Mfa,
  Pasted,
  PreflightLine,
  Rotated,
  Verdict,
};

/** The Bridge screen's view (src-tauri/src/bridge.rs `BridgeView`): the core's status, why the
 * last start failed, and whether apppass is really registered to start at login (`null`: it could
 * not be checked). */
export type BridgeView = BridgeStatus & { start_failure: Failure | null; login_item: boolean | null };

/** Which catalog page of a provider to open. */
export type ProviderPage = 'app_passwords' | 'mfa';

/** Each command's arguments and result. Must match src-tauri/src/commands.rs. */
export interface Commands {
  vault_list: [Record<string, never>, Entry[]];
  vault_search: [{ query: string; limit: number }, SearchPage];
  vault_health: [Record<string, never>, HealthReport];
  entry_add: [{ entry: NewEntry; password: string }, Entry];
  entry_add_from_clipboard: [{ entry: NewEntry }, Entry];
  entry_copy: [{ name: string }, Copied];
  entry_reveal: [{ name: string }, Revealed];
  entry_rename: [{ name: string; to: string }, Entry];
  entry_remove: [{ name: string }, Removed];
  settings_get: [Record<string, never>, Settings];
  settings_set: [{ settings: Settings }, Settings];
  catalog_providers: [Record<string, never>, Provider[]];
  provider_page_open: [{ provider: string; page?: ProviderPage }, null];
  store_status: [Record<string, never>, StoreStatus];
  store_use_file: [{ passphrase: string }, StoreStatus];
  store_unlock: [{ passphrase: string }, StoreStatus];
  store_use_keyring: [Record<string, never>, StoreStatus];
  signin_config: [Record<string, never>, SignInSetup];
  signin_config_set: [{ clientId: string | null; tenant: string | null }, SignInSetup];
  signin_browser_start: [Record<string, never>, SignInProgress];
  signin_code_start: [Record<string, never>, SignInProgress];
  signin_cancel: [Record<string, never>, SignInProgress];
  signin_status: [Record<string, never>, SignInProgress];
  account_get: [Record<string, never>, Account | null];
  signout: [Record<string, never>, SignedOut];
  mfa_status: [Record<string, never>, MfaOverview];
  preflight: [Record<string, never>, Preflight];
  security_info_open: [Record<string, never>, string];
  catalog_clients: [Record<string, never>, Client[]];
  wizard_preflight: [{ provider: string; client: string }, ClientPreflight];
  wizard_suggest_name: [{ client: string }, string];
  wizard_paste: [{ provider: string }, Pasted];
  wizard_cancel: [Record<string, never>, null];
  wizard_save: [{ entry: NewEntry }, Entry];
  wizard_rotate: [{ name: string }, Rotated];
  client_setup: [{ name: string; client: string }, ClientSetup];
  export_file: [{ name: string; format: ExportFormat; includePassword: boolean }, ExportedFile];
  connection_test: [
    { name: string; client: string | null; onStep: Channel<CheckStep> },
    CheckOutcome[],
  ];
  text_copy: [{ text: string }, null];
  bridge_clients: [Record<string, never>, Entry[]];
  bridge_add: [{ name: string; client: string }, Entry];
  bridge_rotate: [{ name: string }, Entry];
  bridge_remove: [{ name: string }, Entry];
  bridge_password_copy: [{ name: string }, Copied];
  bridge_password_reveal: [{ name: string }, Revealed];
  bridge_status: [Record<string, never>, BridgeView];
  bridge_start: [Record<string, never>, BridgeView];
  bridge_stop: [Record<string, never>, BridgeView];
  bridge_settings_save: [{ preset: Preset; listen: Listen; startAtLogin: boolean }, Settings];
  bridge_login_item_apply: [Record<string, never>, BridgeView];
  bridge_cert_export: [Record<string, never>, ExportedFile];
}

/** A command's failure, thrown by {@link call}. */
export class CommandFailed extends Error implements Failure {
  readonly code: Code;
  constructor(failure: Failure) {
    super(failure.message);
    this.name = 'CommandFailed';
    this.code = failure.code;
  }
}

function isFailure(value: unknown): value is Failure {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Failure).code === 'string' &&
    typeof (value as Failure).message === 'string'
  );
}

/** Any error as a Failure: a command's own, or (for Tauri's plain-text errors) an Internal one. */
export function toFailure(error: unknown): Failure {
  if (error instanceof CommandFailed) return { code: error.code, message: error.message };
  if (isFailure(error)) return { code: error.code, message: error.message };
  const text = error instanceof Error ? error.message : String(error);
  return { code: 'Internal', message: text || 'Something went wrong. Try again.' };
}

export async function call<K extends keyof Commands>(
  command: K,
  args: Commands[K][0],
): Promise<Commands[K][1]> {
  try {
    return await invoke<Commands[K][1]>(command, args);
  } catch (error) {
    throw new CommandFailed(toFailure(error));
  }
}

const none = {} as Record<string, never>;

export const api = {
  list: () => call('vault_list', none),
  /** The first `limit` entries matching `query` (all entries when it is blank) and the count. */
  search: (query: string, limit: number) => call('vault_search', { query, limit }),
  health: () => call('vault_health', none),
  add: (entry: NewEntry, password: string) => call('entry_add', { entry, password }),
  addFromClipboard: (entry: NewEntry) => call('entry_add_from_clipboard', { entry }),
  copy: (name: string) => call('entry_copy', { name }),
  reveal: (name: string) => call('entry_reveal', { name }),
  rename: (name: string, to: string) => call('entry_rename', { name, to }),
  remove: (name: string) => call('entry_remove', { name }),
  settings: () => call('settings_get', none),
  saveSettings: (settings: Settings) => call('settings_set', { settings }),
  providers: () => call('catalog_providers', none),
  openProviderPage: (provider: string) => call('provider_page_open', { provider }),
  storeStatus: () => call('store_status', none),
  useFileStore: (passphrase: string) => call('store_use_file', { passphrase }),
  unlockStore: (passphrase: string) => call('store_unlock', { passphrase }),
  useKeyring: () => call('store_use_keyring', none),
  signinConfig: () => call('signin_config', none),
  saveSigninConfig: (clientId: string | null, tenant: string | null) =>
    call('signin_config_set', { clientId, tenant }),
  signinBrowser: () => call('signin_browser_start', none),
  signinCode: () => call('signin_code_start', none),
  signinCancel: () => call('signin_cancel', none),
  signinStatus: () => call('signin_status', none),
  account: () => call('account_get', none),
  signout: () => call('signout', none),
  mfaStatus: () => call('mfa_status', none),
  preflight: () => call('preflight', none),
  openSecurityInfo: () => call('security_info_open', none),
  openProviderMfaPage: (provider: string) => call('provider_page_open', { provider, page: 'mfa' }),
  clients: () => call('catalog_clients', none),
  wizardPreflight: (provider: string, client: string) =>
    call('wizard_preflight', { provider, client }),
  suggestName: (client: string) => call('wizard_suggest_name', { client }),
  /** Rust reads the clipboard once, validates, clears it, and keeps the password: only its
   * length and grouping come back. */
  paste: (provider: string) => call('wizard_paste', { provider }),
  /** Drops a pasted password Rust keeps for the wizard. */
  cancelPaste: () => call('wizard_cancel', none),
  /** Stores the entry with the password Rust keeps from the last paste. */
  savePasted: (entry: NewEntry) => call('wizard_save', { entry }),
  /** Replaces the entry's password with the one Rust keeps from the last paste. */
  rotatePasted: (name: string) => call('wizard_rotate', { name }),
  clientSetup: (name: string, client: string) => call('client_setup', { name, client }),
  exportFile: (name: string, format: ExportFormat, includePassword: boolean) =>
    call('export_file', { name, format, includePassword }),
  /** Tests the entry's servers (those `client` uses, when given); each step arrives through
   * `onStep` as it runs. */
  testConnection: (name: string, client: string | null, onStep: (step: CheckStep) => void) => {
    const channel = new Channel<CheckStep>();
    channel.onmessage = onStep;
    return call('connection_test', { name, client, onStep: channel });
  },
  /** Copies non-secret text (a server name, a user name) to the clipboard, from Rust. */
  copyText: (text: string) => call('text_copy', { text }),
  bridgeClients: () => call('bridge_clients', none),
  /** Adds a bridge client with a password Rust generates; the answer holds no password. */
  bridgeAdd: (name: string, client: string) => call('bridge_add', { name, client }),
  /** A new password for the client (the old one stops working); the answer holds none. */
  bridgeRotate: (name: string) => call('bridge_rotate', { name }),
  bridgeRemove: (name: string) => call('bridge_remove', { name }),
  bridgeCopyPassword: (name: string) => call('bridge_password_copy', { name }),
  bridgeRevealPassword: (name: string) => call('bridge_password_reveal', { name }),
  bridgeStatus: () => call('bridge_status', none),
  bridgeStart: () => call('bridge_start', none),
  bridgeStop: () => call('bridge_stop', none),
  bridgeSaveSettings: (preset: Preset, listen: Listen, startAtLogin: boolean) =>
    call('bridge_settings_save', { preset, listen, startAtLogin }),
  /** Registers apppass to start at login again (or removes it), as the saved setting says. */
  bridgeApplyLoginItem: () => call('bridge_login_item_apply', none),
  bridgeExportCert: () => call('bridge_cert_export', none),
};
