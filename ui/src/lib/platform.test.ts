import { describe, expect, it } from 'vitest';
import { osOf } from './platform';

describe('osOf', () => {
  it('reads the platform each webview reports', () => {
    expect(osOf('MacIntel')).toBe('macos');
    expect(osOf('Win32')).toBe('windows');
    expect(osOf('Linux x86_64')).toBe('linux');
    expect(osOf('Linux aarch64')).toBe('linux');
  });

  it('calls anything else "other"', () => {
    expect(osOf('')).toBe('other');
    expect(osOf('FreeBSD amd64')).toBe('other');
    expect(osOf('iPhone')).toBe('other');
  });
});
