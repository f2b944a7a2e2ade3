//! The exporter: one background thread that drains the queue and hands events, in recording order,
//! to the sinks (the Raceway server, the embedded analyzer).
//!
//! It never runs on a caller's thread and owns its own I/O runtime, so it works with or without
//! the application's tokio runtime and cannot deadlock with it.

#[cfg(feature = "exporter")]
mod http;

use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::event::Event;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A destination for events. Called on the exporter thread only, with events in recording order.
pub(crate) trait Sink: Send {
    /// Delivers `events`. Must honour `dispatch.shutdown_deadline()` once it is set.
    fn deliver(&mut self, events: &[Event]);
    /// Called once when the exporter stops, after the last delivery.
    fn finish(&mut self) {}
}

/// The sinks `config` asks for.
pub(crate) fn sinks_for(config: &Config, dispatch: &Arc<Dispatch>) -> Result<Vec<Box<dyn Sink>>, Error> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(url) = &config.server_url {
        #[cfg(feature = "exporter")]
        sinks.push(Box::new(http::HttpSink::new(url, config, dispatch.clone())?));
        #[cfg(not(feature = "exporter"))]
        {
            let _ = (url, dispatch);
            return Err(Error::InvalidConfig {
                field: "server_url",
                reason: "needs the `exporter` feature of the raceway crate".into(),
            });
        }
    }
    // Last, so that a failing server sink above cannot leave a started analyzer behind.
    if config.analyzer_on() {
        sinks.push(Box::new(crate::analyzer::sink::AnalyzerSink::start()));
    }
    Ok(sinks)
}

/// The exporter thread's loop.
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
        let mut buf = Vec::with_capacity(MAX_ROUND.min(self.batch_size * 4));
        let mut last_flush = Instant::now();
        let mut dropped_seen = 0;
        loop {
            crate::timestamp::calibrate();
            let stopping = self.dispatch.stopping.load(std::sync::atomic::Ordering::Acquire);
            let flush_gen = self.dispatch.flush_requested();
            let due = stopping || last_flush.elapsed() >= self.flush_interval || flush_gen > self.flushed_gen();
            if due {
                // Threads that went quiet still hold staged events: queue them behind everything
                // handed over so far.
                self.dispatch.collect_staged();
            }
            let queued = self.dispatch.len();
            // Full batches go out as soon as they exist; a partial batch waits for the interval,
            // a flush, or shutdown.
            let mut take = if due { queued } else { queued - queued % self.batch_size };
            while take > 0 {
                buf.clear();
                let n = self.dispatch.pop_into(&mut buf, take.min(MAX_ROUND));
                if n == 0 {
                    break;
                }
                take = take.saturating_sub(n);
                for sink in &mut self.sinks {
                    sink.deliver(&buf);
                }
            }
            if due {
                last_flush = Instant::now();
                self.dispatch.flush_done(flush_gen);
            }
            if self.debug {
                let dropped = self.dispatch.counters.dropped_queue_full.load(std::sync::atomic::Ordering::Relaxed);
                if dropped > dropped_seen {
                    eprintln!("[raceway] queue full: {} events dropped so far", dropped);
                    dropped_seen = dropped;
                }
            }
            if stopping {
                self.dispatch.collect_staged();
                if self.dispatch.len() == 0 || self.past_deadline() {
                    let left = self.dispatch.len() as u64;
                    self.dispatch.counters.undeliverable.fetch_add(left, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                continue;
            }
            if self.dispatch.len() < self.batch_size && self.dispatch.flush_requested() == flush_gen {
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
        self.dispatch.flush.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    fn past_deadline(&self) -> bool {
        self.dispatch.shutdown_deadline().is_some_and(|d| Instant::now() >= d)
    }
}
