import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

// The app embeds ui/dist (tauri.conf.json: frontendDist). The CSP allows scripts and styles only
// from 'self': Svelte's CSS goes to .css files, and nothing may be inlined into index.html.
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Keep every asset a file: a data: URL for scripts or styles would break the CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  // The logo is icons/source.svg, outside ui/.
  server: { port: 5173, strictPort: true, fs: { allow: ['..'] } },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.ts'],
    restoreMocks: true,
  },
});
