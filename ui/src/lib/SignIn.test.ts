import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ann } from '../test/account';
import { fakeBackend } from '../test/backend';
import type { SignInProgress, SignInSetup } from './ipc';
import SignIn from './SignIn.svelte';


const configured: SignInSetup = {
  authority: 'https://login.microsoftonline.com/contoso.example/v2.0',
  client_id: '11112222-3333-4444-5555-666677778888',
  tenant: 'contoso.example',
  locked: [],
  policy_path: null,
  problem: null,
};

const idle: SignInProgress = {
  phase: 'idle',
  browser_url: null,
  device_code: null,
  qr_svg: null,
  failure: null,
  account: null,
};

function backendWith(setup: SignInSetup, status: SignInProgress = idle) {
  const backend = fakeBackend();
  backend.on('signin_config', () => setup);
  backend.on('signin_status', () => status);
  return backend;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('sign-in screen', () => {
  it('without a client ID says what IT must do, and offers no sign-in button', async () => {
    backendWith({
      ...configured,
      client_id: null,
      tenant: null,
      problem: { code: 'ClientIdMissing', message: 'Work-account sign-in needs a client ID …' },
    });
    render(SignIn);
    const box = await screen.findByTestId('signin-client-id-missing');
    expect(box).toHaveTextContent('Ask IT to register apppass');
    expect(box).toHaveTextContent('Allow public client flows');
    expect(box).toHaveTextContent('UserAuthenticationMethod.Read');
    expect(box).toHaveTextContent('everything else in apppass works as usual');
    expect(screen.queryByTestId('signin-browser')).toBeNull();
    // The organisation settings are open, to enter the ID IT gives.
    expect(screen.getByTestId('signin-client-id')).not.toHaveAttribute('readonly');
  });

  it('saves a client ID and tenant the user enters', async () => {
    const backend = backendWith({
      ...configured,
      client_id: null,
      tenant: null,
      problem: { code: 'ClientIdMissing', message: 'needs a client ID' },
    });
    backend.on('signin_config_set', () => configured);
    render(SignIn);
    const user = userEvent.setup();
    await user.type(await screen.findByTestId('signin-client-id'), configured.client_id!);
    await user.type(screen.getByTestId('signin-tenant'), 'contoso.example');
    await user.click(screen.getByTestId('signin-setup-save'));
    expect(backend.called('signin_config_set')).toEqual([
      { clientId: configured.client_id, tenant: 'contoso.example' },
    ]);
    expect(await screen.findByTestId('signin-browser')).toBeInTheDocument();
  });

  it('shows fields fixed by the policy read-only, "set by your organisation"', async () => {
    backendWith({ ...configured, locked: ['client_id', 'tenant'], policy_path: '/etc/apppass/policy.toml' });
    render(SignIn);
    expect(await screen.findByTestId('signin-client-id')).toHaveAttribute('readonly');
    expect(screen.getByTestId('signin-tenant')).toHaveAttribute('readonly');
    expect(screen.getByTestId('signin-client-id-locked')).toHaveTextContent('set by your organisation');
    expect(screen.queryByTestId('signin-setup-save')).toBeNull();
  });

  it('browser sign-in: waits, polls, then shows the account', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const backend = backendWith(configured);
    const waiting: SignInProgress = {
      ...idle,
      phase: 'waiting_for_browser',
      browser_url: 'https://login.example/authorize?x=1',
    };
    backend.on('signin_browser_start', () => waiting);
    render(SignIn);
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    await user.click(await screen.findByTestId('signin-browser'));
    expect(await screen.findByTestId('signin-waiting-browser')).toHaveTextContent('Finish signing in in your browser');
    expect(screen.getByTestId('signin-browser-url')).toHaveTextContent('https://login.example/authorize?x=1');

    backend.on('signin_status', () => ({ ...idle, phase: 'signed_in', account: ann }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await screen.findByTestId('signin-account-name')).toHaveTextContent('Ann Example');
    expect(screen.getByTestId('signin-account-mfa')).toHaveTextContent('Yes');
    expect(screen.queryByTestId('signin-waiting-browser')).toBeNull();
  });

  it('code sign-in: shows the code, the address and the QR code; cancel goes back', async () => {
    const backend = backendWith(configured);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>';
    backend.on('signin_code_start', () => ({
      ...idle,
      phase: 'waiting_for_code',
      device_code: {
        verification_uri: 'https://microsoft.com/devicelogin',
        user_code: 'FRCKQ7B2A',
        verification_uri_complete: null,
        expires_in_seconds: 900,
        interval_seconds: 5,
        message: null,
      },
      qr_svg: svg,
    }));
    backend.on('signin_cancel', () => idle);
    render(SignIn);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('signin-code'));
    expect(await screen.findByTestId('signin-user-code')).toHaveTextContent('FRCKQ7B2A');
    expect(screen.getByTestId('signin-code-uri')).toHaveTextContent('https://microsoft.com/devicelogin');
    const qr = screen.getByTestId('signin-qr') as HTMLImageElement;
    expect(qr.getAttribute('src')).toBe(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
    await user.click(screen.getByTestId('signin-cancel'));
    expect(backend.called('signin_cancel')).toHaveLength(1);
    expect(await screen.findByTestId('signin-browser')).toBeInTheDocument();
  });

  it('shows a failure by its code, with a heading and the next step', async () => {
    const backend = backendWith(configured);
    backend.fail('signin_browser_start', {
      code: 'Offline',
      message: 'Cannot reach login.microsoftonline.com. Check the network connection, then try again.',
    });
    render(SignIn);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('signin-browser'));
    expect(await screen.findByTestId('signin-failure-heading')).toHaveTextContent('No connection');
    const error = screen.getByTestId('signin-error');
    expect(error).toHaveTextContent('Check the network connection');
    expect(error).toHaveTextContent('Offline');
  });

  it('a failure that comes while polling is shown (consent missing)', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const backend = backendWith(configured);
    backend.on('signin_browser_start', () => ({ ...idle, phase: 'waiting_for_browser' }));
    render(SignIn);
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    await user.click(await screen.findByTestId('signin-browser'));
    backend.on('signin_status', () => ({
      ...idle,
      phase: 'failed',
      failure: { code: 'ConsentRequired', message: 'An administrator must approve apppass. Ask IT.' },
    }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await screen.findByTestId('signin-failure-heading')).toHaveTextContent('not approved');
    expect(screen.getByTestId('signin-error')).toHaveTextContent('Ask IT');
    // No more polling once it failed.
    const polls = backend.called('signin_status').length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(backend.called('signin_status')).toHaveLength(polls);
  });

  it('a sign-in that ended says so and offers both methods again', async () => {
    backendWith(configured, { ...idle, phase: 'signed_in', account: { ...ann, state: 'sign_in_required' } });
    render(SignIn);
    expect(await screen.findByTestId('signin-expired')).toHaveTextContent('Sign in again');
    expect(screen.getByTestId('signin-browser')).toBeInTheDocument();
    expect(screen.getByTestId('signin-code')).toBeInTheDocument();
  });

  it('signs out', async () => {
    const backend = backendWith(configured, { ...idle, phase: 'signed_in', account: ann });
    backend.on('signout', () => {
      backend.on('signin_status', () => idle);
      return { account: ann, revoked: true, note: null };
    });
    render(SignIn);
    const user = userEvent.setup();
    await user.click(await screen.findByTestId('signout'));
    expect(await screen.findByTestId('signin-browser')).toBeInTheDocument();
    expect(screen.queryByTestId('signin-account')).toBeNull();
  });
});
