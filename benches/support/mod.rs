//! Shared by the benchmarks (each uses part of it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// Calls per timed burst: small enough that a burst's events fit the benchmarks' queues.
pub const BURST: u64 = 2_000;

/// Times `iters` calls of `record(i)` in bursts of [`BURST`], flushing (untimed) between bursts
/// so that the queue never fills and what is measured is recording, not back-pressure.
pub fn timed_bursts(iters: u64, mut record: impl FnMut(u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BURST.min(iters - done);
        let start = Instant::now();
        for i in done..done + n {
            record(i);
        }
        total += start.elapsed();
        done += n;
        raceway::flush();
    }
    total
}

/// The process's peak resident set size (`VmHWM`), in MiB; NaN where `/proc` is unavailable.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A collector that reads each request, discards the body and answers 200.
pub fn discard_collector() -> String {
    discard_collector_counting().0
}

/// [`discard_collector`], also counting the request body bytes it received (the wire size of
/// what the exporter sent, without HTTP headers).
pub fn discard_collector_counting() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = received.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::with_capacity(1 << 16, stream);
                let mut body = Vec::new();
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    body.resize(len, 0);
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    counter.fetch_add(len as u64, std::sync::atomic::Ordering::Relaxed);
                    let reply = r#"{"success":true,"data":"Ingested","error":null}"#;
                    let resp = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{reply}", reply.len());
                    if writer.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}
