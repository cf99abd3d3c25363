//! A bare Tauri 2 app, the baseline of apppass's benchmarks (bench/README.md): one window with a
//! line of text. With `APPPASS_BENCH_READY=1` it reports "painted" exactly as apppass does
//! (src-tauri/src/bench.rs): an init script sets the page's flag, the page invokes `bench_ready`
//! after its first frame, and this prints `ready <CLOCK_MONOTONIC nanoseconds>` on stdout.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::io::Write;

/// The page's "painted" report: one line on stdout with the monotonic clock.
#[tauri::command]
fn bench_ready() {
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

fn main() {
    let mut builder = tauri::Builder::default();
    if std::env::var_os("APPPASS_BENCH_READY").is_some_and(|v| v == "1") {
        builder = builder.plugin(
            tauri::plugin::Builder::<tauri::Wry>::new("bench-ready")
                .js_init_script("window.__APPPASS_BENCH_READY__ = true;")
                .build(),
        );
    }
    builder
        .invoke_handler(tauri::generate_handler![bench_ready])
        .run(tauri::generate_context!())
        .expect("the window could not be opened");
}
