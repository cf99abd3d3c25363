//! Search over 10,000 entries: apppass's ranked, case-insensitive, multi-field search against a
//! baseline measured in the same run, the plainest possible filter (one lowercase `contains` over
//! the name, no ranking). Prints the ratio and the per-query time against a 16 ms frame.
//!
//! Run: `cargo bench -p apppass-core --bench search`

use std::hint::black_box;
use std::time::{Duration, Instant};

use apppass_core::vault::{Entry, EntryKind, SearchIndex};
use criterion::Criterion;

const N: usize = 10_000;
const QUERIES: &[&str] = &[
    "thunder",
    "laptop 42",
    "ann@",
    "micro",
    "zzz-none",
    "printer office",
];

fn entries() -> Vec<Entry> {
    let clients = [
        "thunderbird",
        "outlook",
        "apple-mail",
        "msmtp",
        "printer",
        "k9",
    ];
    let providers = ["microsoft365", "google", "icloud", "fastmail", "custom"];
    let places = ["laptop", "desktop", "office", "home", "phone"];
    (0..N)
        .map(|i| Entry {
            id: format!("{i:032x}"),
            name: format!("{} on {} {}", clients[i % 6], places[(i / 6) % 5], i),
            provider: providers[i % 5].to_string(),
            account: format!("user{}@corp{}.example", i % 997, i % 13),
            client: clients[i % 6].to_string(),
            kind: EntryKind::AppPassword,
            created: 0,
            rotated: None,
            last_used: None,
            notes: String::new(),
            servers: None,
        })
        .collect()
}

fn naive(entries: &[Entry], q: &str) -> usize {
    let q = q.to_lowercase();
    entries
        .iter()
        .filter(|e| e.name.to_lowercase().contains(&q))
        .count()
}

fn per_query(mut f: impl FnMut()) -> Duration {
    // Warm up, then take the median of 31 rounds over all queries.
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<Duration> = (0..31)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed() / QUERIES.len() as u32
        })
        .collect();
    times.sort();
    times[15]
}

fn main() {
    let entries = entries();
    let index = SearchIndex::new(&entries);
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("search_10k/apppass_ranked", |b| {
        b.iter(|| {
            for q in QUERIES {
                black_box(index.query(black_box(q)));
            }
        })
    });
    c.bench_function("search_10k/baseline_name_contains", |b| {
        b.iter(|| {
            for q in QUERIES {
                black_box(naive(black_box(&entries), q));
            }
        })
    });
    c.bench_function("search_10k/build_index", |b| {
        b.iter(|| black_box(SearchIndex::new(black_box(&entries))))
    });
    c.final_summary();

    let ours = per_query(|| {
        for q in QUERIES {
            black_box(index.query(q));
        }
    });
    let base = per_query(|| {
        for q in QUERIES {
            black_box(naive(&entries, q));
        }
    });
    let build = per_query(|| {
        black_box(SearchIndex::new(&entries));
    }) * QUERIES.len() as u32;
    println!();
    println!("search over {N} entries (median per query, same run):");
    println!(
        "  apppass ranked search : {:>9.3} ms",
        ours.as_secs_f64() * 1e3
    );
    println!(
        "  baseline name filter  : {:>9.3} ms",
        base.as_secs_f64() * 1e3
    );
    println!(
        "  ratio apppass/baseline: {:>9.2}",
        ours.as_secs_f64() / base.as_secs_f64()
    );
    println!(
        "  index build (once)    : {:>9.3} ms",
        build.as_secs_f64() * 1e3
    );
    println!(
        "  target: a query under one 16 ms frame -> {}",
        if ours < Duration::from_millis(16) {
            "met"
        } else {
            "NOT met"
        }
    );
}
