// Which desktop the page runs on, for what only CSS can choose (the system font: app.css). Rust
// decides everything else that differs between platforms.

export type Os = 'macos' | 'windows' | 'linux' | 'other';

/**
 * The OS of a webview from its `navigator.platform` ("MacIntel", "Win32", "Linux x86_64"): what
 * WKWebView, WebView2 and WebKitGTK report. Unknown values are "other" (the generic fonts).
 */
export function osOf(platform: string): Os {
  const p = platform.toLowerCase();
  if (p.startsWith('mac')) return 'macos';
  if (p.startsWith('win')) return 'windows';
  if (p.startsWith('linux')) return 'linux';
  return 'other';
}
