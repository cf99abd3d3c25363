#!/usr/bin/env python3
"""Start-up and memory of apppass against a bare Tauri 2 app, measured in one run.

Usage (inside a keyring session and an X display; bench/run.sh sets both up):
    python3 bench/apps.py --app BIN --baseline BIN --home APPPASS_HOME [--runs N] [--json OUT]

Both apps are started with APPPASS_BENCH_READY=1: each prints `ready <CLOCK_MONOTONIC ns>` once its
first screen is rendered and a frame painted (apppass: the vault list; src-tauri/src/bench.rs).
Exec -> ready is that value minus CLOCK_MONOTONIC read just before the spawn. Runs alternate
between the two apps (which goes first alternates too), after one unmeasured start of each.
"cold" runs drop the page cache first (`sync; echo 3 > /proc/sys/vm/drop_caches`, root only);
"warm" runs follow without. Memory: 2 s after ready, the RSS and PSS (smaps_rollup) of the app's
whole process tree (the app, WebKitWebProcess, WebKitNetworkProcess, ...), median over the runs.
Idle CPU: then the CPU time (utime + stime) of that tree over the next 2 s, as per cent of one
core, median over the runs: what the window costs while nobody touches it.
"""
import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid):
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def kib(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def memory(pid):
    procs = tree(pid)
    rss = sum(kib(f"/proc/{p}/status", "VmRSS") for p in procs)
    pss = sum(kib(f"/proc/{p}/smaps_rollup", "Pss") for p in procs)
    return rss, pss, sorted(comm(p) for p in procs)


def cpu_ticks(pid):
    """utime + stime of the whole process tree, in clock ticks."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def idle_cpu(pid, seconds=2.0):
    """Per cent of one core the process tree uses while nobody touches the window."""
    before = cpu_ticks(pid)
    time.sleep(seconds)
    return (cpu_ticks(pid) - before) / os.sysconf("SC_CLK_TCK") / seconds * 100


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def stop(proc):
    pids = tree(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    time.sleep(0.3)


def start_once(binary, env, measure_memory, timeout=60.0):
    t0 = time.monotonic_ns()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    buf = b""
    ready = None
    deadline = time.monotonic() + timeout
    try:
        while ready is None and time.monotonic() < deadline:
            r, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not r:
                if proc.poll() is not None:
                    raise RuntimeError(f"{binary} exited with {proc.returncode} before ready")
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"{binary} closed stdout before ready")
            buf += chunk
            for line in buf.split(b"\n"):
                if line.startswith(b"ready "):
                    ready = int(line.split()[1])
        if ready is None:
            raise RuntimeError(f"{binary}: no ready line within {timeout} s")
        mem = None
        if measure_memory:
            time.sleep(2.0)
            mem = memory(proc.pid) + (idle_cpu(proc.pid),)
        return (ready - t0) / 1e6, mem
    finally:
        stop(proc)


def pct(xs, q):
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--home", required=True, help="apppass's APPPASS_HOME (the vault to show)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()

    cold_ok = os.access("/proc/sys/vm/drop_caches", os.W_OK)
    scratch = tempfile.mkdtemp(prefix="apppass-bench-")
    base_env = dict(os.environ)
    base_env.update(
        APPPASS_BENCH_READY="1",
        XDG_CONFIG_HOME=f"{scratch}/config",
        XDG_CACHE_HOME=f"{scratch}/cache",
        XDG_DATA_HOME=f"{scratch}/data",
    )
    apps = {
        "apppass": (args.app, dict(base_env, APPPASS_HOME=args.home)),
        "baseline": (args.baseline, dict(base_env)),
    }
    res = {name: {"cold": [], "warm": [], "rss": [], "pss": [], "idle_cpu": [], "procs": None}
           for name in apps}
    for name, (binary, env) in apps.items():
        start_once(binary, env, False)  # unmeasured: first start writes caches and window state
    modes = (["cold"] if cold_ok else []) + ["warm"]
    for mode in modes:
        for i in range(args.runs):
            order = list(apps) if i % 2 == 0 else list(reversed(list(apps)))
            for name in order:
                binary, env = apps[name]
                if mode == "cold":
                    drop_caches()
                ms, mem = start_once(binary, env, mode == "warm")
                res[name][mode].append(ms)
                if mem:
                    res[name]["rss"].append(mem[0])
                    res[name]["pss"].append(mem[1])
                    res[name]["procs"] = mem[2]
                    res[name]["idle_cpu"].append(mem[3])
            print(f"[bench] {mode} run {i + 1}/{args.runs}: "
                  + ", ".join(f"{n} {res[n][mode][-1]:.0f} ms" for n in apps), file=sys.stderr)

    out = {"runs": args.runs, "cold_measured": cold_ok, "apps": {}}
    for name in apps:
        r = res[name]
        entry = {"procs": r["procs"]}
        for mode in modes:
            entry[mode] = {"median_ms": statistics.median(r[mode]), "p90_ms": pct(r[mode], 0.9),
                           "all_ms": [round(x, 1) for x in r[mode]]}
        entry["rss_mib"] = statistics.median(r["rss"]) / 1024
        entry["pss_mib"] = statistics.median(r["pss"]) / 1024
        entry["idle_cpu_pct"] = statistics.median(r["idle_cpu"])
        out["apps"][name] = entry
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
