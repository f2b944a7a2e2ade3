//! The delivery thread: drains the queue and hands events, in recording order, to the sinks
//! (the exporter to the Raceway server, the embedded analyzer), and answers flush and shutdown
//! requests.
//!
//! It never runs on a caller's thread, so recording never waits for I/O or analysis.

use super::dispatch::Dispatch;
use super::sink::Sink;
use crate::config::Config;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The delivery thread's loop.
pub(crate) struct Worker {
    dispatch: Arc<Dispatch>,
    sinks: Vec<Box<dyn Sink>>,
    flush_interval: Duration,
    batch_size: usize,
    debug: bool,
}

/// Most events taken off the queue per delivery round: bounds the worker's own memory.
const MAX_ROUND: usize = 4096;

impl Worker {
    pub(crate) fn new(dispatch: Arc<Dispatch>, sinks: Vec<Box<dyn Sink>>, config: &Config) -> Self {
        Worker {
            dispatch,
            sinks,
            flush_interval: config.flush_interval,
            batch_size: config.batch_size,
            debug: config.debug,
        }
    }

    pub(crate) fn run(mut self) {
        ON_DELIVERY_THREAD.with(|d| d.set(true));
        let mut buf = Vec::with_capacity(MAX_ROUND.min(self.batch_size * 4));
        let mut last_flush = Instant::now();
        let mut dropped_seen = 0;
        crate::event::timestamp::calibrate_at_start();
        loop {
            crate::event::timestamp::calibrate();
            let stopping = self.dispatch.stopping.load(std::sync::atomic::Ordering::Acquire);
            let flush_gen = self.dispatch.flush_requested();
            let due = stopping
                || self.dispatch.take_collection_request()
                || last_flush.elapsed() >= self.flush_interval
                || flush_gen > self.flushed_gen();
            if due {
                // Threads that went quiet still hold staged events: queue them behind everything
                // handed over so far.
                self.dispatch.collect_staged();
            }
            let queued = self.dispatch.queue.len();
            // Full batches go out as soon as they exist; a partial batch waits for the interval,
            // a flush, or shutdown.
            let mut take = if due { queued } else { queued - queued % self.batch_size };
            while take > 0 {
                buf.clear();
                let n = self.dispatch.queue.pop_into(&mut buf, take.min(MAX_ROUND));
                if n == 0 {
                    break;
                }
                take = take.saturating_sub(n);
                for sink in &mut self.sinks {
                    sink.deliver(&buf);
                }
            }
            if due {
                for sink in &mut self.sinks {
                    sink.settle();
                }
                last_flush = Instant::now();
                self.dispatch.flush_done(flush_gen);
            }
            if self.debug {
                let dropped =
                    self.dispatch.queue.counters.dropped_queue_full.load(std::sync::atomic::Ordering::Relaxed);
                if dropped > dropped_seen {
                    eprintln!("[raceway] queue full: {} events dropped so far", dropped);
                    dropped_seen = dropped;
                }
            }
            if stopping {
                self.dispatch.collect_staged();
                if self.dispatch.queue.len() == 0 || self.past_deadline() {
                    let left = self.dispatch.queue.len() as u64;
                    self.dispatch.queue.counters.undeliverable.fetch_add(left, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                continue;
            }
            if self.dispatch.queue.len() < self.batch_size && self.dispatch.flush_requested() == flush_gen {
                let wait = self.flush_interval.saturating_sub(last_flush.elapsed());
                std::thread::park_timeout(wait.max(Duration::from_millis(1)));
            }
        }
        for sink in &mut self.sinks {
            sink.finish();
        }
        // Anyone still waiting on a flush learns that nothing more will come.
        let requested = self.dispatch.flush_requested();
        self.dispatch.flush_done(requested);
    }

    fn flushed_gen(&self) -> u64 {
        self.dispatch.flush_completed()
    }

    fn past_deadline(&self) -> bool {
        self.dispatch.shutdown_deadline().is_some_and(|d| Instant::now() >= d)
    }
}

thread_local! {
    static ON_DELIVERY_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this is the delivery thread (or a thread being torn down). What the sinks' libraries
/// report through `tracing` here (the HTTP client's connection events) must not be recorded:
/// each batch sent would record events for the next one, without end.
#[cfg(feature = "tracing")]
pub(crate) fn on_delivery_thread() -> bool {
    ON_DELIVERY_THREAD.try_with(|d| d.get()).unwrap_or(true)
}
