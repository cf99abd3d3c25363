import { fireEvent, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { entry, fakeBackend, providers } from '../test/backend';
import AddForm from './AddForm.svelte';

function renderForm() {
  const onSaved = vi.fn();
  const onCancel = vi.fn();
  render(AddForm, { providers, onSaved, onCancel });
  return { onSaved, onCancel };
}

async function fill(name: string) {
  const user = userEvent.setup();
  await user.type(screen.getByTestId('add-name'), name);
  await user.type(screen.getByTestId('add-account'), 'me@example.com');
  await user.type(screen.getByTestId('add-client'), 'Thunderbird');
  return user;
}

const expected = (name: string) => ({
  name,
  provider: 'google',
  account: 'me@example.com',
  client: 'Thunderbird',
  kind: 'app_password',
  notes: '',
  servers: null,
});

describe('the add form', () => {
  it('pastes from the clipboard in Rust: the webview sends no password', async () => {
    const backend = fakeBackend();
    backend.on('entry_add_from_clipboard', ({ entry: e }) => entry((e as { name: string }).name));
    const { onSaved } = renderForm();
    expect(screen.getByTestId('add-name')).toHaveFocus();
    expect(screen.getByTestId('provider-steps')).toHaveTextContent('App passwords');
    const user = await fill('Thunderbird on laptop');
    await user.click(screen.getByTestId('add-paste'));

    expect(backend.called('entry_add_from_clipboard')).toEqual([
      { entry: expected('Thunderbird on laptop') },
    ]);
    await vi.waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(onSaved.mock.calls[0]![1]).toBe(true);
  });

  it('shows why a pasted password was refused, with its code, and keeps the form', async () => {
    const backend = fakeBackend();
    backend.fail('entry_add_from_clipboard', {
      code: 'FormatMismatch',
      message: 'Google app passwords are 16 letters; the clipboard holds 9 characters.',
    });
    const { onSaved } = renderForm();
    const user = await fill('x');
    await user.click(screen.getByTestId('add-paste'));
    const error = await screen.findByTestId('form-error');
    expect(error).toHaveTextContent('Google app passwords are 16 letters');
    expect(error).toHaveTextContent('FormatMismatch');
    expect(onSaved).not.toHaveBeenCalled();
    expect(screen.getByTestId('add-name')).toHaveValue('x');
  });

  it('points at the typed fallback when the clipboard is empty', async () => {
    const backend = fakeBackend();
    backend.fail('entry_add_from_clipboard', {
      code: 'EmptySecret',
      message: 'The clipboard holds no text.',
    });
    renderForm();
    await fireEvent.click(screen.getByTestId('add-paste'));
    const error = await screen.findByTestId('form-error');
    expect(error).toHaveTextContent('The clipboard holds no text.');
    expect(error).toHaveTextContent('or type it below');
  });

  it('saves a typed password and shows a refused name from the Failure', async () => {
    const backend = fakeBackend();
    backend.fail('entry_add', {
      code: 'NameTaken',
      message: 'An entry named "Work" already exists.',
    });
    const { onSaved } = renderForm();
    expect(screen.getByTestId('add-save')).toBeDisabled();
    const user = await fill('Work');
    await user.click(screen.getByText('Or type the password'));
    await user.type(screen.getByTestId('add-password'), 'abcd efgh ijkl mnop{Enter}');
    const error = await screen.findByTestId('form-error');
    expect(error).toHaveTextContent('already exists');
    expect(error).toHaveTextContent('NameTaken');
    expect(backend.called('entry_add')).toEqual([
      { entry: expected('Work'), password: 'abcd efgh ijkl mnop' },
    ]);
    expect(onSaved).not.toHaveBeenCalled();
  });

  it('shows an empty name refused by the core', async () => {
    const backend = fakeBackend();
    backend.fail('entry_add_from_clipboard', {
      code: 'InvalidInput',
      message: 'The name is empty. Give the entry a name such as "Thunderbird on laptop".',
    });
    renderForm();
    await fireEvent.click(screen.getByTestId('add-paste'));
    expect(await screen.findByTestId('form-error')).toHaveTextContent('The name is empty.');
  });

  it('opens the provider page through Rust, and only for providers that have one', async () => {
    const backend = fakeBackend();
    renderForm();
    await fireEvent.click(screen.getByTestId('add-provider-page'));
    expect(backend.called('provider_page_open')).toEqual([{ provider: 'google' }]);
    await userEvent.setup().selectOptions(screen.getByTestId('add-provider'), 'custom');
    expect(screen.queryByTestId('add-provider-page')).toBeNull();
  });

  it('offers the encrypted file store when saving finds no keyring', async () => {
    const backend = fakeBackend();
    backend.fail('entry_add_from_clipboard', {
      code: 'KeyringUnavailable',
      message: 'No OS keyring could be reached.',
    });
    const onOpenSettings = vi.fn();
    render(AddForm, { providers, onSaved: vi.fn(), onCancel: vi.fn(), onOpenSettings });
    await fireEvent.click(screen.getByTestId('add-paste'));
    await fireEvent.click(await screen.findByTestId('use-file-store'));
    expect(onOpenSettings).toHaveBeenCalled();
  });

  it('Esc cancels', async () => {
    fakeBackend();
    const { onCancel } = renderForm();
    await userEvent.setup().keyboard('{Escape}');
    expect(onCancel).toHaveBeenCalled();
  });
});
