import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { defaultSettings, fakeBackend } from '../test/backend';
import Settings from './Settings.svelte';

function renderSettings() {
  const onSaved = vi.fn();
  render(Settings, { settings: defaultSettings, onSaved, onBack: vi.fn() });
  return { onSaved };
}

describe('settings', () => {
  it('saves the clipboard and rotation periods', async () => {
    const backend = fakeBackend();
    backend.on('settings_set', ({ settings }) => settings);
    const { onSaved } = renderSettings();
    const user = userEvent.setup();
    await user.clear(screen.getByTestId('settings-clipboard-seconds'));
    await user.type(screen.getByTestId('settings-clipboard-seconds'), '45');
    await user.clear(screen.getByTestId('settings-rotation-days'));
    await user.type(screen.getByTestId('settings-rotation-days'), '90');
    await user.click(screen.getByTestId('settings-save'));
    const saved = { ...defaultSettings, clipboard_clear_seconds: 45, rotation_days: 90 };
    expect(backend.called('settings_set')).toEqual([{ settings: saved }]);
    await vi.waitFor(() => expect(onSaved).toHaveBeenCalledWith(saved));
  });

  it('shows an out-of-range value refused by the core', async () => {
    const backend = fakeBackend();
    backend.fail('settings_set', {
      code: 'InvalidInput',
      message: 'The rotation period must be between 7 and 3650 days; got 1.',
    });
    renderSettings();
    const user = userEvent.setup();
    await user.clear(screen.getByTestId('settings-rotation-days'));
    await user.type(screen.getByTestId('settings-rotation-days'), '1');
    await user.click(screen.getByTestId('settings-save'));
    expect(await screen.findByTestId('settings-error')).toHaveTextContent('between 7 and 3650');
  });

  it('shows the store in use', async () => {
    fakeBackend();
    renderSettings();
    expect(await screen.findByTestId('store-kind')).toHaveTextContent('The OS keyring');
  });

  it('refuses two different passphrases without asking Rust', async () => {
    const backend = fakeBackend();
    renderSettings();
    const user = userEvent.setup();
    await user.type(await screen.findByTestId('store-passphrase'), 'one long passphrase');
    await user.type(screen.getByTestId('store-passphrase-confirm'), 'another one');
    await user.click(screen.getByTestId('store-use-file'));
    expect(await screen.findByTestId('store-error')).toHaveTextContent('The two passphrases differ');
    expect(backend.called('store_use_file')).toEqual([]);
  });

  it("shows zxcvbn's advice when the passphrase is weak", async () => {
    const backend = fakeBackend();
    backend.fail('store_use_file', {
      code: 'WeakPassphrase',
      message:
        'This passphrase is too easy to guess (strength 1 of 4; at least 3 is needed). This is a very common password. Choose a longer one.',
    });
    renderSettings();
    const user = userEvent.setup();
    await user.type(await screen.findByTestId('store-passphrase'), 'password1');
    await user.type(screen.getByTestId('store-passphrase-confirm'), 'password1');
    await user.click(screen.getByTestId('store-use-file'));
    const error = await screen.findByTestId('store-error');
    expect(error).toHaveTextContent('too easy to guess');
    expect(error).toHaveTextContent('WeakPassphrase');
    expect(backend.called('store_use_file')).toEqual([{ passphrase: 'password1' }]);
  });

  it('switches to the encrypted file and reloads the settings', async () => {
    const backend = fakeBackend();
    const status = {
      kind: 'encrypted_file',
      description: '/home/me/.local/share/apppass/secrets.enc',
      problem: null,
      file_store_exists: true,
    };
    backend.on('store_use_file', () => status);
    backend.on('settings_get', () => ({ ...defaultSettings, store: 'encrypted_file' }));
    const { onSaved } = renderSettings();
    const user = userEvent.setup();
    const phrase = 'correct horse battery staple orbit';
    await user.type(await screen.findByTestId('store-passphrase'), phrase);
    await user.type(screen.getByTestId('store-passphrase-confirm'), phrase);
    await user.click(screen.getByTestId('store-use-file'));
    await vi.waitFor(() =>
      expect(onSaved).toHaveBeenCalledWith({ ...defaultSettings, store: 'encrypted_file' }),
    );
    expect(screen.getByTestId('store-kind')).toHaveTextContent('Encrypted file');
    expect(screen.getByTestId('store-use-keyring')).toBeInTheDocument();
  });
});
