//! `cargo run --release -p bench -- <name>`: Tessera's benchmarks. Each prints medians of
//! several runs and the ratio to a baseline measured in the same run, so a noisy machine
//! still gives comparable figures.

#![allow(clippy::print_stdout)]

mod flows_bench;
mod import_bench;
mod reports_bench;
mod rules_bench;
mod scale_bench;
mod server_bench;
mod size_bench;
mod upload_bench;

use std::time::{Duration, Instant};

/// A typed engine id (`AppId`, `FormId`, `RecordId`, inferred from where it goes) from a
/// benchmark's own text, which is always a valid one.
fn id<T: std::str::FromStr<Err = engine::IdError>>(text: &str) -> T {
    text.parse().expect("a valid id")
}

/// The server's allocator, so that in-process figures (import, flows, reports) are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let size: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    match which.as_str() {
        "rules" => rules_bench::run(),
        "server" => server_bench::run(size, std::env::args().nth(3).as_deref()),
        "import" => import_bench::run(std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(100_000)),
        "flows" => flows_bench::run(std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(3_000)),
        "reports" => reports_bench::run(std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(1_000_000)),
        "scale" => scale_bench::run(std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(1_000_000)),
        "upload" => upload_bench::run(std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(100)),
        "size" => size_bench::run(std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(200_000)),
        "all" => {
            rules_bench::run();
            server_bench::run(size, None);
            reports_bench::run(1_000_000);
            import_bench::run(100_000);
            flows_bench::run(3_000);
        }
        other => {
            eprintln!(
                "unknown benchmark `{other}`; one of: rules, server [opportunities [workload, e.g. W1]], reports [rows], import [rows], flows [records], size [records], scale [rows], upload [megabytes], all"
            );
            std::process::exit(2);
        }
    }
}

/// Runs `f` `iterations` times per run, `runs` times, after a warm-up; returns the median
/// operations per second.
pub(crate) fn median_rate(runs: usize, iterations: u64, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut rates: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..iterations {
                f();
            }
            iterations as f64 / started.elapsed().max(Duration::from_nanos(1)).as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}
