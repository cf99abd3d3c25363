import { describe, expect, it } from 'vitest';
import { back, blocker, newData, next, serverSettings, stepsFor } from './flow';

describe('the wizard flow', () => {
  it('adds in nine steps and rotates in four', () => {
    expect(stepsFor('add')).toHaveLength(9);
    expect(stepsFor('rotate')).toEqual(['password', 'save', 'setup', 'test']);
    expect(next('add', 'provider')).toBe('client');
    expect(next('rotate', 'password')).toBe('save');
    expect(next('add', 'test')).toBeNull();
  });

  it('goes back step by step until Save, never before Setup once saved', () => {
    expect(back('add', 'provider')).toBeNull();
    expect(back('add', 'password')).toBe('name');
    expect(back('add', 'save')).toBe('password');
    expect(back('add', 'setup')).toBeNull();
    expect(back('add', 'test')).toBe('setup');
    expect(back('rotate', 'password')).toBeNull();
  });

  it('says what each step still needs', () => {
    const d = newData();
    expect(blocker('provider', d)).toBe('Choose your mail provider.');
    d.provider = 'google';
    d.account = 'ann';
    expect(blocker('provider', d)).toMatch(/whole address/);
    d.account = 'ann@gmail.com';
    expect(blocker('provider', d)).toBeNull();
    expect(blocker('preflight', d)).toBe('Checking…');
    d.verdict = 'no';
    expect(blocker('preflight', d)).toMatch(/cannot work/);
    d.verdict = 'partly';
    expect(blocker('preflight', d)).toBeNull();
    expect(blocker('mfa', d)).toMatch(/Tick the box/);
    expect(blocker('mfa', d, { liveMfa: true })).toBeNull();
    expect(blocker('mfa', d, { mfaOptional: true })).toBeNull();
    // A paste for another provider does not count.
    d.pasted = { provider: 'icloud', length: 19, hint: '' };
    expect(blocker('password', d)).toMatch(/Paste/);
    d.pasted.provider = 'google';
    expect(blocker('password', d)).toBeNull();
  });

  it('checks and converts the custom servers', () => {
    const d = newData();
    d.provider = 'custom';
    d.account = 'ann';
    d.imap.host = 'mail.example.test';
    d.smtp.enabled = false;
    d.imap.port = '99999';
    expect(blocker('provider', d)).toMatch(/IMAP port/);
    d.imap.port = '993';
    expect(blocker('provider', d)).toBeNull();
    expect(serverSettings(d)).toEqual({
      imap: { host: 'mail.example.test', port: 993, security: 'tls' },
      smtp: null,
      pop: null,
    });
    d.provider = 'google';
    expect(serverSettings(d)).toBeNull();
  });
});
