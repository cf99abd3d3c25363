// The benchmarks' "painted" signal, the same as apppass's (ui/src/lib/bench.ts): only when the app
// was started with APPPASS_BENCH_READY=1 (its Rust side then sets this flag), once the text above
// is in the page: after the next frame is painted, tell Rust, which prints `ready <CLOCK_MONOTONIC ns>`.
if (window.__APPPASS_BENCH_READY__) {
  requestAnimationFrame(() =>
    setTimeout(() => {
      window.__TAURI_INTERNALS__.invoke('bench_ready').catch(() => {});
    }, 0),
  );
}
