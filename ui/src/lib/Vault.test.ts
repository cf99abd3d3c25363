import { fireEvent, render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DAY, entry, fakeBackend, now, providers } from '../test/backend';
import Toast from './Toast.svelte';
import Vault from './Vault.svelte';

function renderVault() {
  const onAdd = vi.fn();
  const onOpenSettings = vi.fn();
  render(Vault, { providers, rotationDays: 180, onAdd, onOpenSettings });
  render(Toast);
  return { onAdd, onOpenSettings };
}

const rows = () => screen.queryAllByTestId('entry-row');
const names = () => rows().map((r) => r.dataset.name);
const selectedName = () => rows().find((r) => r.getAttribute('aria-current') === 'true')?.dataset.name;

const three = () => [
  entry('Thunderbird on laptop', { client: 'Thunderbird' }),
  entry('Phone mail', { client: 'iPhone Mail', provider: 'custom', created: now() - 200 * DAY }),
  entry('Printer', { client: 'Printer / scanner', account: 'scanner@example.com' }),
];

afterEach(() => {
  vi.useRealTimers();
});

describe('the vault list', () => {
  it('shows each entry with client, provider name, account and age, search focused', async () => {
    fakeBackend(three());
    renderVault();
    expect(await screen.findAllByTestId('entry-row')).toHaveLength(3);
    expect(screen.getByTestId('search')).toHaveFocus();
    expect(names()).toEqual(['Phone mail', 'Printer', 'Thunderbird on laptop']);

    const laptop = within(rows()[2]!);
    expect(laptop.getByTestId('entry-client')).toHaveTextContent('Thunderbird');
    expect(laptop.getByTestId('entry-provider')).toHaveTextContent('Google (Gmail, Workspace)');
    expect(laptop.getByTestId('entry-account')).toHaveTextContent('me@example.com');
    expect(laptop.getByTestId('age-badge')).toHaveTextContent('12 d');
    expect(laptop.getByTestId('age-badge')).not.toHaveClass('due');

    const phone = within(rows()[0]!);
    expect(phone.getByTestId('entry-provider')).toHaveTextContent('Other mail server');
    expect(phone.getByTestId('age-badge')).toHaveTextContent('200 d');
    expect(phone.getByTestId('age-badge')).toHaveClass('due');
  });

  it('writes no character outside ASCII of its own around entries that have none', async () => {
    // The first such character WebKit lays out costs a cold start a 7 MB read of ICU's emoji data
    // (bench/README.md, start-up): the separators are drawn and the key hints are words.
    fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    const text = `${document.body.textContent} ${screen.getByTestId('search').getAttribute('placeholder')}`;
    expect(text).toContain('Thunderbird on laptop');
    expect(text).toContain('clear search');
    expect(text.match(/[^ -~\t\n\r]/gu) ?? []).toEqual([]);
  });

  it('filters as the user types, and Esc clears the search', async () => {
    const backend = fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    const user = userEvent.setup();
    await user.type(screen.getByTestId('search'), 'print');
    await vi.waitFor(() => expect(names()).toEqual(['Printer']));
    expect(backend.called('vault_search').at(-1)).toEqual({ query: 'print', limit: 15 });

    await user.type(screen.getByTestId('search'), 'zzz');
    expect(await screen.findByTestId('no-results')).toHaveTextContent('printzzz');

    await user.keyboard('{Escape}');
    expect(screen.getByTestId('search')).toHaveValue('');
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
  });

  it('moves the selection with the arrows and copies the selected entry with Enter', async () => {
    const backend = fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    expect(selectedName()).toBe('Phone mail');

    const user = userEvent.setup();
    await user.keyboard('{ArrowDown}{ArrowDown}{ArrowDown}');
    expect(selectedName()).toBe('Thunderbird on laptop');
    await user.keyboard('{ArrowUp}');
    expect(selectedName()).toBe('Printer');

    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('toast')).toHaveTextContent('Copied — clears in 30 s');
    expect(backend.called('entry_copy')).toEqual([{ name: 'Printer' }]);
  });

  it('Ctrl+F focuses the search box from anywhere', async () => {
    fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    screen.getAllByTestId('rename-button')[0]!.focus();
    expect(screen.getByTestId('search')).not.toHaveFocus();
    await userEvent.setup().keyboard('{Control>}f{/Control}');
    expect(screen.getByTestId('search')).toHaveFocus();
  });

  it('shows the copy toast with the clearing time, or says it will not clear', async () => {
    const backend = fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    await fireEvent.click(screen.getAllByTestId('copy-button')[1]!);
    expect(await screen.findByTestId('toast')).toHaveTextContent('Copied — clears in 30 s');
    expect(backend.called('entry_copy')).toEqual([{ name: 'Printer' }]);

    backend.on('entry_copy', () => ({ clear_after_seconds: 0 }));
    await fireEvent.click(screen.getAllByTestId('copy-button')[1]!);
    await vi.waitFor(() =>
      expect(screen.getByTestId('toast')).toHaveTextContent('not cleared automatically'),
    );
  });

  it('shows a failed copy with its message and code', async () => {
    const backend = fakeBackend(three());
    backend.fail('entry_copy', { code: 'KeyringLocked', message: 'The OS keyring is locked.' });
    renderVault();
    await screen.findAllByTestId('entry-row');
    await fireEvent.click(screen.getAllByTestId('copy-button')[0]!);
    const toast = await screen.findByTestId('toast');
    expect(toast).toHaveTextContent('The OS keyring is locked.');
    expect(toast).toHaveTextContent('KeyringLocked');
  });
});

describe('reveal', () => {
  it('shows the password with a countdown and hides it again', async () => {
    vi.useFakeTimers();
    const backend = fakeBackend(three());
    renderVault();
    await vi.advanceTimersByTimeAsync(0);
    await fireEvent.click(screen.getAllByTestId('reveal-button')[2]!);
    await vi.advanceTimersByTimeAsync(0);

    expect(backend.called('entry_reveal')).toEqual([{ name: 'Thunderbird on laptop' }]);
    expect(screen.getByTestId('revealed-password')).toHaveTextContent('abcd efgh ijkl mnop');
    expect(screen.getByTestId('reveal-countdown')).toHaveTextContent('hides in 10 s');
    await vi.advanceTimersByTimeAsync(3000);
    expect(screen.getByTestId('reveal-countdown')).toHaveTextContent('hides in 7 s');
    await vi.advanceTimersByTimeAsync(7000);
    expect(screen.queryByTestId('revealed-password')).toBeNull();
    expect(screen.queryByText('abcd efgh ijkl mnop')).toBeNull();
  });

  it('hides at once when Hide is pressed', async () => {
    fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    const button = screen.getAllByTestId('reveal-button')[0]!;
    await fireEvent.click(button);
    await screen.findByTestId('revealed-password');
    expect(button).toHaveTextContent('Hide');
    await fireEvent.click(button);
    expect(screen.queryByTestId('revealed-password')).toBeNull();
  });
});

describe('rename', () => {
  it('renames inline and shows a refused name with its code', async () => {
    const backend = fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    await fireEvent.click(screen.getAllByTestId('rename-button')[1]!);
    const input = screen.getByTestId('rename-input');
    expect(input).toHaveFocus();

    backend.fail('entry_rename', {
      code: 'NameTaken',
      message: 'An entry named "Phone mail" already exists.',
    });
    const user = userEvent.setup();
    await user.clear(input);
    await user.type(input, 'Phone mail{Enter}');
    const error = await screen.findByTestId('rename-error');
    expect(error).toHaveTextContent('already exists');
    expect(error).toHaveTextContent('NameTaken');

    backend.on('entry_rename', ({ name, to }) => {
      const e = backend.entries.find((x) => x.name === name)!;
      e.name = String(to);
      return e;
    });
    await user.clear(screen.getByTestId('rename-input'));
    await user.type(screen.getByTestId('rename-input'), 'Office printer{Enter}');
    await vi.waitFor(() => expect(names()).toContain('Office printer'));
    expect(screen.queryByTestId('rename-input')).toBeNull();
  });
});

describe('delete', () => {
  it('asks first, says to delete it at the provider too, and links to its page', async () => {
    const backend = fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    await fireEvent.click(screen.getAllByTestId('delete-button')[2]!);

    const dialog = screen.getByTestId('delete-dialog');
    expect(dialog).toHaveTextContent('Delete “Thunderbird on laptop”?');
    expect(dialog).toHaveTextContent(
      'keeps working until you also delete it at Google (Gmail, Workspace)',
    );
    const link = within(dialog).getByTestId('provider-page-button');
    expect(link).toHaveTextContent('Open the app-password page at Google (Gmail, Workspace)');
    await fireEvent.click(link);
    expect(backend.called('provider_page_open')).toEqual([{ provider: 'google' }]);
    expect(backend.called('entry_remove')).toEqual([]);

    await fireEvent.click(within(dialog).getByTestId('confirm-delete'));
    const notice = await screen.findByTestId('removed-notice');
    expect(notice).toHaveTextContent('https://myaccount.google.com/apppasswords');
    expect(backend.called('entry_remove')).toEqual([{ name: 'Thunderbird on laptop' }]);
    expect(screen.queryByTestId('delete-dialog')).toBeNull();
    await vi.waitFor(() => expect(names()).toEqual(['Phone mail', 'Printer']));
  });

  it('a bridge client: no provider to visit, it just can no longer sign in', async () => {
    const backend = fakeBackend([
      entry('Thunderbird on laptop', { client: 'Thunderbird', kind: 'bridge', provider: 'microsoft365' }),
    ]);
    renderVault();
    await screen.findAllByTestId('entry-row');
    await fireEvent.click(screen.getAllByTestId('delete-button')[0]!);
    const dialog = screen.getByTestId('delete-dialog');
    expect(within(dialog).getByTestId('delete-bridge-note')).toHaveTextContent(
      'its local password stops working at once',
    );
    expect(within(dialog).queryByTestId('provider-page-button')).toBeNull();
    expect(dialog).not.toHaveTextContent('keeps working until you also delete it');
    await fireEvent.click(within(dialog).getByTestId('confirm-delete'));
    const notice = await screen.findByTestId('removed-notice');
    expect(notice).toHaveTextContent('can no longer sign in to the apppass bridge');
    expect(notice).not.toHaveTextContent('still works');
    expect(backend.called('entry_remove')).toEqual([{ name: 'Thunderbird on laptop' }]);
  });

  it('says where to delete it when the provider has no page, and Esc cancels', async () => {
    const backend = fakeBackend(three());
    renderVault();
    await screen.findAllByTestId('entry-row');
    await fireEvent.click(screen.getAllByTestId('delete-button')[0]!);
    const dialog = screen.getByTestId('delete-dialog');
    expect(dialog).toHaveTextContent("Delete it on your mail server's account page.");
    expect(within(dialog).queryByTestId('provider-page-button')).toBeNull();

    await userEvent.setup().keyboard('{Escape}');
    expect(screen.queryByTestId('delete-dialog')).toBeNull();
    expect(backend.called('entry_remove')).toEqual([]);
    expect(rows()).toHaveLength(3);
  });
});

describe('empty and failing vaults', () => {
  it('explains the product when there is nothing yet', async () => {
    fakeBackend([]);
    const { onAdd } = renderVault();
    const empty = await screen.findByTestId('empty-state');
    expect(empty).toHaveTextContent('An app password is a separate password');
    expect(empty).toHaveTextContent('Give each mail client its own');
    await fireEvent.click(screen.getByTestId('empty-add-button'));
    expect(onAdd).toHaveBeenCalled();
  });

  it('warns about a missing keyring at start, above the empty state, before anything is saved', async () => {
    const backend = fakeBackend([]);
    backend.on('store_status', () => ({
      kind: 'keyring',
      description: 'the OS keyring',
      problem: { code: 'KeyringUnavailable', message: 'No OS keyring could be reached.' },
      file_store_exists: false,
    }));
    const { onOpenSettings } = renderVault();
    const banner = await screen.findByTestId('store-problem');
    expect(banner).toHaveTextContent('No OS keyring could be reached.');
    expect(banner).toHaveTextContent('KeyringUnavailable');
    expect(screen.getByTestId('empty-state')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('use-file-store'));
    expect(onOpenSettings).toHaveBeenCalled();

    backend.on('store_status', () => ({
      kind: 'keyring',
      description: 'Secret Service',
      problem: null,
      file_store_exists: false,
    }));
    await fireEvent.click(within(banner).getByText('Try again'));
    await vi.waitFor(() => expect(screen.queryByTestId('store-problem')).toBeNull());
  });

  it('leaves a locked encrypted file to the unlock form, without a second banner', async () => {
    const backend = fakeBackend([]);
    const locked = { code: 'PassphraseRequired' as const, message: 'The encrypted file store is locked.' };
    backend.fail('vault_search', locked);
    backend.on('store_status', () => ({ kind: 'encrypted_file', description: '', problem: locked, file_store_exists: true }));
    renderVault();
    await screen.findByTestId('unlock');
    expect(screen.queryByTestId('store-problem')).toBeNull();
  });

  it('offers the encrypted file store when there is no keyring', async () => {
    const backend = fakeBackend([]);
    backend.fail('vault_search', {
      code: 'KeyringUnavailable',
      message: 'No OS keyring could be reached.',
    });
    const { onOpenSettings } = renderVault();
    const failure = await screen.findByTestId('vault-failure');
    expect(failure).toHaveTextContent('No OS keyring could be reached.');
    expect(failure).toHaveTextContent('KeyringUnavailable');
    expect(screen.queryByTestId('empty-state')).toBeNull();
    await fireEvent.click(screen.getByTestId('use-file-store'));
    expect(onOpenSettings).toHaveBeenCalled();
  });

  it('asks for the passphrase of a locked encrypted file', async () => {
    const backend = fakeBackend([entry('a')]);
    backend.fail('vault_search', {
      code: 'PassphraseRequired',
      message: 'The encrypted file store is locked.',
    });
    renderVault();
    await screen.findByTestId('unlock');
    backend.fail('store_unlock', { code: 'WrongPassphrase', message: 'That passphrase does not open it.' });
    const user = userEvent.setup();
    await user.type(screen.getByTestId('unlock-passphrase'), 'nope');
    await user.click(screen.getByTestId('unlock-button'));
    expect(await screen.findByText('That passphrase does not open it.')).toBeInTheDocument();

    backend.on('store_unlock', () => ({ kind: 'encrypted_file', description: '', problem: null, file_store_exists: true }));
    backend.on('vault_search', () => ({ entries: backend.entries, total: backend.entries.length }));
    await user.type(screen.getByTestId('unlock-passphrase'), 'right');
    await user.click(screen.getByTestId('unlock-button'));
    await vi.waitFor(() => expect(names()).toEqual(['a']));
    expect(backend.called('store_unlock').at(-1)).toEqual({ passphrase: 'noperight' });
  });
});

describe('a long list', () => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) => entry(`entry ${String(i).padStart(4, '0')}`, { client: i % 2 ? 'msmtp' : 'Thunderbird' }));

  it('asks for 15 rows and puts them in the page; "show more" asks for the next 15', async () => {
    const backend = fakeBackend(many(40));
    renderVault();
    await vi.waitFor(() => expect(rows()).toHaveLength(15));
    // One page over IPC, not the whole vault: Rust cuts the list and sends the count.
    expect(backend.called('vault_search')).toEqual([{ query: '', limit: 15 }]);
    expect(backend.called('vault_list')).toEqual([]);
    expect(names()[0]).toBe('entry 0000');
    expect(names()[14]).toBe('entry 0014');
    expect(screen.getByTestId('more-entries')).toHaveTextContent('Showing 15 of 40');
    expect(screen.getByTestId('show-more')).toHaveTextContent('show 15 more');

    await fireEvent.click(screen.getByTestId('show-more'));
    await vi.waitFor(() => expect(rows()).toHaveLength(30));
    expect(backend.called('vault_search').at(-1)).toEqual({ query: '', limit: 30 });
    expect(screen.getByTestId('show-more')).toHaveTextContent('show 10 more');
    await fireEvent.click(screen.getByTestId('show-more'));
    await vi.waitFor(() => expect(rows()).toHaveLength(40));
    expect(screen.queryByTestId('more-entries')).toBeNull();
  });

  it('a new search starts again at 15 rows, counting its own matches', async () => {
    fakeBackend(many(60));
    renderVault();
    await vi.waitFor(() => expect(rows()).toHaveLength(15));
    await fireEvent.click(screen.getByTestId('show-more'));
    await vi.waitFor(() => expect(rows()).toHaveLength(30));

    const user = userEvent.setup();
    await user.type(screen.getByTestId('search'), 'msmtp');
    await vi.waitFor(() => expect(screen.getByTestId('more-entries')).toHaveTextContent('Showing 15 of 30'));
    expect(rows()).toHaveLength(15);
    expect(names()[0]).toBe('entry 0001');
  });

  it('the down arrow past the last row shows the next rows and keeps going', async () => {
    fakeBackend(many(25));
    renderVault();
    await vi.waitFor(() => expect(rows()).toHaveLength(15));
    const user = userEvent.setup();
    for (let i = 0; i < 14; i++) await user.keyboard('{ArrowDown}');
    expect(selectedName()).toBe('entry 0014');
    expect(rows()).toHaveLength(15);
    await user.keyboard('{ArrowDown}');
    await vi.waitFor(() => expect(rows()).toHaveLength(25));
    expect(selectedName()).toBe('entry 0015');
  });
});
