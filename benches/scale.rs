//! Issue 13's scale runs: a plain timed program (`harness = false`), each run in its own process
//! so that its peak RSS is its own. Figures in `BENCHMARKS.md`.
//!
//! ```text
//! cargo bench --bench scale                          # every run, as a markdown table
//! cargo bench --bench scale -- run supervisor 100000 on
//! cargo bench --bench scale -- run analyzer 1000000 on 2000000   # a variable cap of 2,000,000
//! ```
//!
//! Runs: `analyzer` (embedded analyzer, 8 threads × 1,250,000 writes to 1,000,000 distinct
//! variables, 10 consecutive writes each), `supervisor N` (spawn a task, join it, N times),
//! `waves N` (1,000 `raceway::thread::spawn` tasks at once, joined, repeated) and `tokio-waves N`
//! (the same with `raceway::spawn` tasks on a 2-worker multi-thread tokio runtime, what users
//! write). Every task takes one lock and writes once. `on`: the embedded analyzer is the sink;
//! `off`: a loopback collector that discards what it gets is the sink, analyzer off.

mod support;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        _ => drive(),
    }
}

/// Runs every configuration in a child process and prints one table row each.
fn drive() {
    let exe = std::env::current_exe().unwrap();
    let mut runs: Vec<Vec<&str>> = vec![vec!["analyzer", "1000000", "on"]];
    for n in ["10000", "100000"] {
        for analyzer in ["on", "off"] {
            runs.push(vec!["supervisor", n, analyzer]);
            runs.push(vec!["tokio-waves", n, analyzer]);
        }
    }
    runs.push(vec!["waves", "10000", "on"]);
    runs.push(vec!["waves", "10000", "off"]);
    println!("| run | tasks / variables | analyzer | wall | user CPU | sys CPU | peak RSS | notes |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in runs {
        let out = Command::new(&exe).arg("run").args(&r).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().find(|l| l.starts_with('|')) {
            Some(row) => println!("{row}"),
            None => println!("| {} | failed: {} |", r.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
        }
    }
}

/// User and system CPU seconds of this process so far (`/proc/self/stat`, in clock ticks of
/// 1/100 s); wall time on a machine shared with other builds says less than this.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, s)| s);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN) / 100.0;
    (tick(11), tick(12)) // fields 14 and 15 of the line, counted after the command name
}

fn run(args: &[String]) {
    let kind = args[0].as_str();
    let n: usize = args[1].parse().unwrap();
    let analyzer = args.get(2).map(String::as_str) != Some("off");
    let mut config = raceway::Config::default().service_name("scale").analyze(analyzer);
    // An optional fourth argument: the analyzer's variable cap (to measure a variable's bytes).
    if let Some(max) = args.get(3) {
        config = config.analyzer_max_variables(max.parse().unwrap());
    }
    if !analyzer {
        config = config.server_url(support::discard_collector());
    }
    let guard = raceway::init(config).unwrap();
    let start = Instant::now();
    let notes = match kind {
        "analyzer" => many_variables(n),
        "supervisor" => {
            supervisor(n);
            String::new()
        }
        "waves" => {
            thread_waves(n);
            String::new()
        }
        "tokio-waves" => {
            tokio_waves(n);
            String::new()
        }
        other => panic!("unknown run {other}"),
    };
    let report = analyzer.then(raceway::report);
    assert!(raceway::flush());
    let wall = start.elapsed();
    drop(guard);
    let (user, sys) = cpu_seconds();
    let stats = raceway::stats();
    let mut notes = notes;
    if let Some(r) = report {
        notes.push_str(&format!("{} events analysed; {} dropped", r.events, stats.dropped_queue_full));
    } else {
        notes.push_str(&format!("{} events delivered; {} dropped", stats.delivered, stats.dropped_queue_full));
    }
    println!(
        "| {kind} | {n} | {} | {:.2} s | {user:.2} s | {sys:.2} s | {:.1} MiB | {notes} |",
        if analyzer { "on" } else { "off" },
        wall.as_secs_f64(),
        support::peak_rss_mib()
    );
}

/// 8 threads × `vars / 8` variables × 10 consecutive writes each.
fn many_variables(vars: usize) -> String {
    const THREADS: usize = 8;
    let per = vars / THREADS;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            raceway::thread::spawn(move || {
                for v in 0..per {
                    let name = format!("acct[{}].balance", t * per + v);
                    for r in 0..10u64 {
                        raceway::track_write(name.clone(), &r, &(r + 1));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = raceway::report();
    assert_eq!(raceway::stats().dropped_queue_full, 0, "the embedded analyzer loses nothing");
    assert_eq!(r.accesses, (per * THREADS * 10) as u64);
    assert_eq!(r.variables, (per * THREADS) as u64, "every variable counted");
    format!("{} accesses, {} variables ({} forgotten, LRU); ", r.accesses, r.variables, r.variables_forgotten)
}

fn job(ledger: &Arc<Mutex<u64>>, i: u64) {
    let mut g = raceway::lock!(ledger, "ledger");
    *g += 1;
    raceway::track_write("ledger.total", &i, &(i + 1));
}

fn supervisor(n: usize) {
    let ledger = Arc::new(Mutex::new(0u64));
    for i in 0..n as u64 {
        let ledger = ledger.clone();
        raceway::thread::spawn(move || job(&ledger, i)).join().unwrap();
    }
}

fn thread_waves(n: usize) {
    let ledger = Arc::new(Mutex::new(0u64));
    for wave in 0..n / 1_000 {
        let hs: Vec<_> = (0..1_000u64)
            .map(|i| {
                let ledger = ledger.clone();
                raceway::thread::spawn(move || job(&ledger, wave as u64 * 1_000 + i))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
}

fn tokio_waves(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ledger = Arc::new(Mutex::new(0u64));
    rt.block_on(async {
        for wave in 0..n / 1_000 {
            let hs: Vec<_> = (0..1_000u64)
                .map(|i| {
                    let ledger = ledger.clone();
                    raceway::spawn(async move { job(&ledger, wave as u64 * 1_000 + i) })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }
    });
}
