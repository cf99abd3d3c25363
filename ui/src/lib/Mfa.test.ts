import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ann } from '../test/account';
import { fakeBackend } from '../test/backend';
import type { Method, MfaOverview, MfaStatus, Preflight } from './ipc';
import Mfa, { AUTO_WINDOW_MS } from './Mfa.svelte';

const URL = 'https://mysignins.microsoft.com/security-info/?tenantId=00001111-aaaa-2222-bbbb-3333cccc4444';

const bob = { ...ann, username: 'bob@example.test', name: 'Bob Example', amr: ['pwd'], mfa_used: false };

function method(kind: Method['kind'], strong: boolean, name: string | null = null): Method {
  return { kind, strong, id: `${kind}-id`, display_name: name, detail: null, created: null, odata_type: null };
}

function live(state: MfaStatus['state'], methods: Method[], fields: Partial<MfaStatus> = {}): MfaStatus {
  return {
    username: bob.username,
    display_name: bob.name,
    state,
    methods,
    mfa_used: false,
    amr: ['pwd'],
    guided: null,
    checked_at: 0 as unknown as bigint,
    ...fields,
  };
}

function overview(fields: Partial<MfaOverview> = {}): MfaOverview {
  return {
    account: bob,
    status: live('not_registered', [method('password', false)]),
    problem: null,
    security_info_url: URL,
    ...fields,
  };
}

const registered = overview({
  status: live('registered', [
    method('microsoft_authenticator', true, 'Pixel 9'),
    method('password', false),
  ]),
});

const preflight: Preflight = {
  provider: 'microsoft365',
  date: '2026-11-25',
  per_user_mfa: 'unknown',
  per_user_mfa_unknown: { code: 'GraphAccessDenied', message: 'Ask IT whether per-user MFA is enforced for you.' },
  app_passwords: 'unknown',
  app_passwords_statement: { value: 'App passwords need per-user MFA enforced.', source: 'providers.md §1.2', checked: '2026-11-25' },
  protocols: [
    {
      service: 'Exchange Online',
      protocol: 'IMAP',
      accepts: 'no',
      since: '2022-10-01',
      statement: { value: 'Basic authentication is off.', source: 'learn.microsoft.com', checked: '2026-11-25' },
    },
  ],
};

beforeEach(() => {
  vi.useFakeTimers({ shouldAdvanceTime: true });
});
afterEach(() => {
  vi.useRealTimers();
});

function setup(status: () => MfaOverview) {
  const backend = fakeBackend();
  backend.on('mfa_status', status);
  backend.on('preflight', () => preflight);
  backend.on('security_info_open', () => URL);
  const onDone = vi.fn();
  const onSignIn = vi.fn();
  render(Mfa, { onDone, onSignIn });
  const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
  return { backend, onDone, onSignIn, user };
}

describe('MFA screen', () => {
  it('with a strong method: status at a glance, the methods, and on to app passwords', async () => {
    const { onDone, user } = setup(() => registered);
    expect(await screen.findByTestId('mfa-headline')).toHaveTextContent('MFA is on');
    expect(screen.getByTestId('mfa-glance')).toHaveAttribute('data-status', 'on');
    expect(screen.getByTestId('mfa-glance')).toHaveTextContent('1 second factor registered');
    const methods = screen.getAllByTestId('mfa-method');
    expect(methods.map((m) => m.textContent)).toEqual([
      expect.stringContaining('Microsoft Authenticator'),
      expect.stringContaining('Password'),
    ]);
    expect(methods[0]).toHaveTextContent('Pixel 9');
    // The preflight, with its sources and dates.
    const pre = await screen.findByTestId('preflight');
    expect(pre).toHaveTextContent('Can app passwords work for you?');
    expect(screen.getByTestId('preflight-unknown')).toHaveTextContent('Ask IT');
    expect(screen.getByTestId('preflight-protocol')).toHaveTextContent(
      'Exchange Online IMAP: no longer accepts passwords since 2022-10-01',
    );
    expect(screen.getByTestId('preflight-protocol')).toHaveTextContent('Source: learn.microsoft.com, checked 2026-11-25');
    expect(screen.queryByTestId('mfa-steps')).toBeNull();
    await user.click(screen.getByTestId('mfa-continue'));
    expect(onDone).toHaveBeenCalled();
  });

  it('not signed in: guided mode with the steps, and a way to sign in', async () => {
    const { onSignIn, user } = setup(() =>
      overview({
        account: null,
        status: null,
        security_info_url: 'https://mysignins.microsoft.com/security-info',
        problem: { code: 'SignInRequired', message: 'Sign in with your work account.' },
      }),
    );
    expect(await screen.findByTestId('mfa-headline')).toHaveTextContent('Not signed in');
    expect(screen.getByTestId('mfa-steps')).toHaveTextContent('Add sign-in method');
    expect(screen.getByTestId('mfa-security-info-url')).toHaveTextContent(
      'https://mysignins.microsoft.com/security-info',
    );
    await user.click(screen.getByTestId('mfa-signin'));
    expect(onSignIn).toHaveBeenCalled();
  });

  it('guided mode (Graph refused): says why, and guides', async () => {
    setup(() =>
      overview({
        status: live('unknown', [], {
          guided: { code: 'GraphAccessDenied', message: 'apppass may not read your methods. Ask IT to grant consent.' },
        }),
      }),
    );
    expect(await screen.findByTestId('mfa-headline')).toHaveTextContent('MFA status not confirmed');
    expect(screen.getByTestId('mfa-live-problem')).toHaveTextContent('GraphAccessDenied');
    expect(screen.getByTestId('mfa-steps')).toBeInTheDocument();
  });

  it('a sign-in that ended offers to sign in again', async () => {
    const { onSignIn, user } = setup(() =>
      overview({ status: null, problem: { code: 'SignInRequired', message: 'Sign in again.' } }),
    );
    await user.click(await screen.findByTestId('mfa-signin-again'));
    expect(onSignIn).toHaveBeenCalled();
  });

  it('explains why MFA, one password per app, and rotation', async () => {
    setup(() => registered);
    const why = await screen.findByTestId('mfa-why');
    expect(why).toHaveTextContent('Why MFA');
    expect(why).toHaveTextContent('Why one password per app');
    expect(why).toHaveTextContent('Why rotation matters');
  });

  it('opens Security info, re-checks with back-off (5 s, 10 s, 20 s), and leads on once a method appears', async () => {
    let answer = overview();
    const { backend, user } = setup(() => answer);
    expect(await screen.findByTestId('mfa-headline')).toHaveTextContent('No second factor');
    expect(backend.called('mfa_status')).toHaveLength(1);

    await user.click(screen.getByTestId('mfa-open-security-info'));
    expect(backend.called('security_info_open')).toHaveLength(1);
    expect(await screen.findByTestId('mfa-auto')).toHaveTextContent('Checking again in');
    expect(screen.getByTestId('mfa-progress')).toBeInTheDocument();

    await vi.advanceTimersByTimeAsync(4_900);
    expect(backend.called('mfa_status')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(backend.called('mfa_status')).toHaveLength(2);
    expect(screen.getByTestId('mfa-last-checked')).toHaveTextContent('2 checks');
    expect(screen.getByTestId('mfa-next-in')).toHaveTextContent(/^(10|9)$/);

    await vi.advanceTimersByTimeAsync(9_800);
    expect(backend.called('mfa_status')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(300);
    expect(backend.called('mfa_status')).toHaveLength(3);

    answer = registered;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(backend.called('mfa_status')).toHaveLength(4);
    expect(await screen.findByTestId('mfa-headline')).toHaveTextContent('MFA is on');
    expect(screen.getByTestId('mfa-continue')).toBeInTheDocument();
    // Stopped: no more checks.
    await vi.advanceTimersByTimeAsync(120_000);
    expect(backend.called('mfa_status')).toHaveLength(4);
  });

  it('stops re-checking after about 5 minutes; "Check again" checks and starts over', async () => {
    const { backend, user } = setup(() => overview());
    await user.click(await screen.findByTestId('mfa-open-security-info'));
    await vi.advanceTimersByTimeAsync(AUTO_WINDOW_MS + 60_000);
    expect(await screen.findByTestId('mfa-auto-stopped')).toHaveTextContent('Stopped checking automatically');
    // 1 on opening + 5 s, 10 s, 20 s, 40 s, 60 s, 60 s, 60 s (= 255 s; the next would pass 5 min).
    const checks = backend.called('mfa_status').length;
    expect(checks).toBe(8);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(backend.called('mfa_status')).toHaveLength(checks);

    await user.click(screen.getByTestId('mfa-check-again'));
    expect(backend.called('mfa_status')).toHaveLength(checks + 1);
    expect(await screen.findByTestId('mfa-auto')).toBeInTheDocument();
    await vi.advanceTimersByTimeAsync(5_100);
    expect(backend.called('mfa_status')).toHaveLength(checks + 2);
  });

  it('shows a failed check and keeps the steps', async () => {
    const backend = fakeBackend();
    backend.fail('mfa_status', { code: 'Offline', message: 'Cannot reach graph.microsoft.com.' });
    render(Mfa, {});
    expect(await screen.findByTestId('mfa-error')).toHaveTextContent('Cannot reach');
    expect(screen.getByTestId('mfa-steps')).toHaveTextContent('Open Security info');
    expect(screen.getByTestId('mfa-check-again')).toBeEnabled();
  });
});
