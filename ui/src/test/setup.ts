import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/svelte';
import { clearMocks } from '@tauri-apps/api/mocks';
import { afterEach } from 'vitest';
import { toast } from '../lib/toast.svelte';

afterEach(() => {
  cleanup();
  clearMocks();
  toast.dismiss();
});
