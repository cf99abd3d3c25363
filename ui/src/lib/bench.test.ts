import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  clearMocks();
  delete window.__APPPASS_BENCH_READY__;
  vi.resetModules();
});

async function fresh() {
  const calls: string[] = [];
  mockIPC((cmd) => {
    calls.push(cmd);
    return null;
  });
  const { reportPainted } = await import('./bench');
  return { calls, reportPainted };
}

const twoFrames = () => new Promise((r) => requestAnimationFrame(() => setTimeout(() => setTimeout(r, 0), 0)));

describe('the benchmarks\' painted signal', () => {
  it('does nothing in normal use (no flag from Rust)', async () => {
    const { calls, reportPainted } = await fresh();
    reportPainted();
    await twoFrames();
    expect(calls).toEqual([]);
  });

  it('with the flag, invokes bench_ready once, after the next frame', async () => {
    window.__APPPASS_BENCH_READY__ = true;
    const { calls, reportPainted } = await fresh();
    reportPainted();
    expect(calls).toEqual([]);
    reportPainted();
    await twoFrames();
    expect(calls).toEqual(['bench_ready']);
    reportPainted();
    await twoFrames();
    expect(calls).toEqual(['bench_ready']);
  });
});
