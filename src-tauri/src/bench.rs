//! The start-up benchmark's "painted" signal (bench/startup.py, bench/README.md), identical to the
//! bare Tauri baseline's (bench/baseline-app): with `APPPASS_BENCH_READY=1` in the environment, an
//! init script sets the page's flag `window.__APPPASS_BENCH_READY__`; the UI, once the vault list
//! (or the first screen) is rendered and a frame has been painted, invokes [`bench_ready`], which
//! prints `ready <CLOCK_MONOTONIC nanoseconds>` on stdout.
//!
//! Without the variable nothing changes: no init script, and no capability grants `bench_ready`
//! (the static capability in src-tauri/capabilities does not; tests/lockdown.rs checks that), so
//! the page cannot call it. With it, [`capability`] is added at start-up: that one command, the
//! main window, local pages only.

use std::io::Write;

use tauri::ipc::CapabilityBuilder;
use tauri::plugin::TauriPlugin;
use tauri::Runtime;

/// The environment variable that turns the signal on (value `1`).
pub const READY_ENV: &str = "APPPASS_BENCH_READY";

/// Whether this process was started by the benchmark.
pub fn enabled() -> bool {
    std::env::var_os(READY_ENV).is_some_and(|v| v == "1")
}

/// Sets the page's flag before any of the UI's scripts run.
pub fn init_plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri::plugin::Builder::new("bench-ready")
        .js_init_script("window.__APPPASS_BENCH_READY__ = true;")
        .build()
}

/// The runtime grant of [`bench_ready`] to the main window's own pages, added only when
/// [`enabled`].
pub fn capability() -> CapabilityBuilder {
    CapabilityBuilder::new("bench-ready")
        .window("main")
        .permission("allow-bench-ready")
}

/// The page's "painted" report: one line on stdout with the monotonic clock.
#[tauri::command]
pub fn bench_ready() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready {}", monotonic_ns());
    let _ = out.flush();
}

/// CLOCK_MONOTONIC in nanoseconds, the clock the benchmark reads before it starts the app.
#[cfg(unix)]
fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

#[cfg(not(unix))]
fn monotonic_ns() -> u128 {
    0
}
