// The wizard's state machine, apart from any screen: which steps a run has, where Back and Next
// lead, and what a step needs before the user may leave it. Everything the user entered lives in
// one WizardData object owned by Wizard.svelte, so going back and forth never loses it. The app
// password itself is never here: Rust keeps it (a pending slot) until it is saved.

/** Every step, in order. */
export const STEPS = [
  'provider',
  'client',
  'preflight',
  'mfa',
  'name',
  'password',
  'save',
  'setup',
  'test',
] as const;
export type Step = (typeof STEPS)[number];

/** The steps a rotation runs: the entry already says provider, client and name. */
export const ROTATE_STEPS: readonly Step[] = ['password', 'save', 'setup', 'test'];

/** What the step indicator calls each step. */
export const LABELS: Record<Step, string> = {
  provider: 'Provider',
  client: 'Client',
  preflight: 'Check',
  mfa: 'MFA',
  name: 'Name',
  password: 'Password',
  save: 'Save',
  setup: 'Setup',
  test: 'Test',
};

export type Mode = 'add' | 'rotate';

/** One server the user typed for the custom provider. */
export interface ServerDraft {
  enabled: boolean;
  host: string;
  port: string;
  security: 'tls' | 'starttls';
}

export interface WizardData {
  mode: Mode;
  provider: string;
  account: string;
  /** Servers of the custom provider (ignored for catalog providers). */
  imap: ServerDraft;
  smtp: ServerDraft;
  client: string;
  /** The preflight's verdict for provider + client, once known. */
  verdict: 'works' | 'partly' | 'no' | 'unknown' | null;
  /** For providers without a live MFA check: the user ticked "MFA is on". */
  mfaConfirmed: boolean;
  name: string;
  /** The user changed the suggested name: keep theirs. */
  nameEdited: boolean;
  /** The paste Rust validated and keeps: what the screen may know about it. */
  pasted: { provider: string; length: number; hint: string } | null;
  /** The stored entry (after Save). */
  entryName: string | null;
}

export function newData(mode: Mode = 'add'): WizardData {
  return {
    mode,
    provider: '',
    account: '',
    imap: { enabled: true, host: '', port: '993', security: 'tls' },
    smtp: { enabled: true, host: '', port: '465', security: 'tls' },
    client: '',
    verdict: null,
    mfaConfirmed: false,
    name: '',
    nameEdited: false,
    pasted: null,
    entryName: null,
  };
}

export function stepsFor(mode: Mode): readonly Step[] {
  return mode === 'rotate' ? ROTATE_STEPS : STEPS;
}

export function next(mode: Mode, step: Step): Step | null {
  const steps = stepsFor(mode);
  return steps[steps.indexOf(step) + 1] ?? null;
}

/** Where Back leads; `null` when there is no way back (the first step, or once the password is
 * saved: the entry exists, so the steps before Save are done). */
export function back(mode: Mode, step: Step): Step | null {
  if (step === 'setup') return null;
  if (step === 'test') return 'setup';
  const steps = stepsFor(mode);
  return steps[steps.indexOf(step) - 1] ?? null;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

function serverProblem(label: string, s: ServerDraft): string | null {
  if (!s.enabled) return null;
  if (!s.host.trim()) return `Enter the ${label} server's name.`;
  const port = Number(s.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `The ${label} port is a number from 1 to 65535.`;
  return null;
}

/** Why the user cannot go on from `step` yet (shown beside Next), or `null`. */
export function blocker(
  step: Step,
  d: WizardData,
  opts: { liveMfa?: boolean; mfaOptional?: boolean } = {},
): string | null {
  switch (step) {
    case 'provider':
      if (!d.provider) return 'Choose your mail provider.';
      if (!d.account.trim()) return 'Enter the mail account (your address).';
      if (!EMAIL.test(d.account.trim()) && d.provider !== 'custom') return 'Enter the whole address, like you@example.com.';
      if (d.provider === 'custom') {
        if (!d.imap.enabled && !d.smtp.enabled) return 'Turn on at least one server (IMAP or SMTP).';
        return serverProblem('IMAP', d.imap) ?? serverProblem('SMTP', d.smtp);
      }
      return null;
    case 'client':
      return d.client ? null : 'Choose the program that will use the password.';
    case 'preflight':
      if (d.verdict === null) return 'Checking…';
      return d.verdict === 'no' ? 'This combination cannot work with an app password (see above).' : null;
    case 'mfa':
      return opts.liveMfa || opts.mfaOptional || d.mfaConfirmed
        ? null
        : 'Tick the box once two-step verification is on.';
    case 'name':
      return d.name.trim() ? null : 'Give the entry a name.';
    case 'password':
      return d.pasted && d.pasted.provider === d.provider ? null : 'Paste the app password first.';
    case 'save':
      return d.entryName ? null : 'Save the password first.';
    default:
      return null;
  }
}

/** The custom provider's servers as the vault stores them. */
export function serverSettings(d: WizardData) {
  if (d.provider !== 'custom') return null;
  const one = (s: ServerDraft) =>
    s.enabled ? { host: s.host.trim(), port: Number(s.port), security: s.security } : null;
  return { imap: one(d.imap), smtp: one(d.smtp), pop: null };
}
