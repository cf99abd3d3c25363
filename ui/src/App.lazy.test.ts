import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { entry, fakeBackend } from './test/backend';

// The Settings screen's code is missing, as in a damaged install (App.svelte loads the screens
// other than the vault when they are first shown).
vi.mock('./lib/Settings.svelte', () => {
  throw new Error('Importing a module script failed.');
});

describe('a screen whose code cannot be loaded', () => {
  it('says so and what to do, and the other screens still work', async () => {
    fakeBackend([entry('Work laptop')]);
    render(App);
    expect(await screen.findAllByTestId('entry-row')).toHaveLength(1);
    await vi.waitFor(() => expect(screen.getByTestId('settings-button')).toBeEnabled());
    await fireEvent.click(screen.getByTestId('settings-button'));
    const failure = await screen.findByTestId('screen-failure');
    expect(failure).toHaveTextContent('This screen could not be loaded');
    expect(failure).toHaveTextContent('Restart apppass; if it happens again, reinstall it.');
    await fireEvent.click(screen.getByTestId('nav-mfa'));
    expect(await screen.findByTestId('mfa')).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId('nav-vault'));
    expect(await screen.findAllByTestId('entry-row')).toHaveLength(1);
  });
});
