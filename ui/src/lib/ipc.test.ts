import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it, vi } from 'vitest';
import { api, call, CommandFailed, toFailure } from './ipc';

describe('ipc', () => {
  it('passes the arguments and returns the result', async () => {
    const seen: unknown[] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return { clear_after_seconds: 30 };
    });
    expect(await api.copy('Work')).toEqual({ clear_after_seconds: 30 });
    expect(seen).toEqual([['entry_copy', { name: 'Work' }]]);
  });

  it("turns a command's {code, message} into a typed failure", async () => {
    mockIPC(() => {
      throw { code: 'NotFound', message: 'No entry named "x".' };
    });
    const error = await call('entry_copy', { name: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandFailed);
    expect(toFailure(error)).toEqual({ code: 'NotFound', message: 'No entry named "x".' });
  });

  it("turns Tauri's plain-text errors (ACL, bad arguments) into Internal", async () => {
    mockIPC(() => {
      throw 'Command vault_list not allowed by ACL';
    });
    const error = await api.list().catch((e: unknown) => e);
    expect(toFailure(error)).toEqual({
      code: 'Internal',
      message: 'Command vault_list not allowed by ACL',
    });
  });

  it('never logs, even when a call carrying a passphrase fails', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
      vi.spyOn(console, m),
    );
    mockIPC(() => {
      throw { code: 'WeakPassphrase', message: 'Too easy to guess.' };
    });
    await api.useFileStore('hunter2').catch(() => undefined);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});
