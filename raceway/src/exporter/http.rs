//! Shipping batches to the Raceway server (`POST {server_url}/events`), following the contract's
//! two rules: batches go one at a time in recording order, and a request is resent only when the
//! server certainly did not take it.
//!
//! | outcome | what happens |
//! |---|---|
//! | 200 | delivered |
//! | 206 | delivered; the server's own drops are counted (`server_dropped`), never resent |
//! | connection refused, 429, 502, 503, 504 | retried with backoff, before any later batch |
//! | 413, 422 (nothing stored) | split in halves and resent; a single event still refused is dropped and counted |
//! | 401, 403, other 4xx, 500 | dropped and counted (`rejected`) |
//! | timeout or connection lost after sending | dropped and counted (`undeliverable`): it may have been stored |
//!
//! A batch's events are serialized straight into one request body (see `wire::Body`), which every
//! attempt sends as the same shared `Bytes`; a body is cut into halves, from the byte ranges of
//! its events, only when the server answers 413 or 422.

use super::coalesce::Coalescer;
use super::wire::{self, Metadata};
use crate::config::Config;
use crate::error::Error;
use crate::event::Event;
use crate::stage::dispatch::Dispatch;
use crate::stage::sink::Sink;
use bytes::Bytes;
use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

const POOL_IDLE: Duration = Duration::from_millis(200);

/// Room beyond `max_batch_bytes` in a body buffer: the event that breaks the cap is rendered
/// before it is moved to the next body.
const BODY_SLACK: usize = 16 * 1024;

pub(crate) struct HttpSink {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
    auth: Option<reqwest::header::HeaderValue>,
    metadata: Metadata,
    dispatch: Arc<Dispatch>,
    batch_size: usize,
    max_bytes: usize,
    timeout: Duration,
    debug: bool,
    warned_auth: bool,
    /// Buffers of bodies whose requests are over, for the next bodies. A body is written into
    /// memory the allocator has already handed out and the kernel has already mapped: a fresh
    /// megabyte costs a page fault per 4 KiB and a copy each time it grows.
    spare: Vec<Vec<u8>>,
    /// Hot loops' runs of accesses held until they end (`coalesce.rs`); `None` when
    /// `Config::coalesce_accesses` is off.
    coalescer: Option<Coalescer>,
}

enum Outcome {
    Delivered,
    /// Nothing was stored and the request can be resent as is (later).
    Retry(&'static str),
    /// Nothing was stored, but this body will never be accepted whole: send it in parts.
    Split(u16),
    Rejected(u16),
    Unknown(String),
}

impl HttpSink {
    pub(crate) fn new(
        server_url: &str,
        config: &Config,
        metadata: Metadata,
        dispatch: Arc<Dispatch>,
    ) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::ExporterStart)?;
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("raceway-rust/", env!("CARGO_PKG_VERSION")))
            // A connection idle longer than this is not reused: a server that restarted in the
            // meantime would make the next request fail *after* sending, which cannot be retried
            // safely; a fresh connection fails with "refused", which can.
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|e| Error::InvalidConfig { field: "server_url", reason: format!("HTTP client: {e}") })?;
        let auth = match &config.api_key {
            Some(k) => {
                let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| {
                    Error::InvalidConfig {
                        field: "api_key",
                        reason: "must be visible ASCII (it goes in an HTTP header)".into(),
                    }
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(HttpSink {
            rt,
            client,
            url: format!("{}/events", server_url.trim_end_matches('/')),
            auth,
            metadata,
            dispatch,
            batch_size: config.batch_size,
            max_bytes: config.max_batch_bytes,
            timeout: config.request_timeout,
            debug: config.debug,
            warned_auth: false,
            spare: Vec::new(),
            coalescer: config.coalesce_accesses.then(Coalescer::default),
        })
    }

    fn log(&self, msg: std::fmt::Arguments<'_>) {
        if self.debug {
            eprintln!("[raceway] {msg}");
        }
    }

    /// Sends one finished body of `spans.len()` events (byte ranges into `src`, the batch's
    /// first body), splitting on 413/422 and retrying what was certainly not taken. Every attempt
    /// sends the same `Bytes` (a reference count, not a copy); parts are assembled from `src`
    /// only when the server refuses a body as too large, which is rare.
    fn send(&mut self, src: &Bytes, spans: &[Range<usize>], body: Bytes) {
        if spans.is_empty() {
            return;
        }
        let n = spans.len() as u64;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.post(body.clone()) {
                Outcome::Delivered => {
                    self.dispatch.queue.counters.delivered.fetch_add(n, Relaxed);
                    return;
                }
                Outcome::Split(status) if spans.len() > 1 => {
                    self.log(format_args!("server answered {status} to {n} events: resending in halves"));
                    let (a, b) = spans.split_at(spans.len() / 2);
                    self.send(src, a, Bytes::from(wire::body_of(src, a)));
                    self.send(src, b, Bytes::from(wire::body_of(src, b)));
                    return;
                }
                Outcome::Split(status) | Outcome::Rejected(status) => {
                    self.dispatch.queue.counters.rejected.fetch_add(n, Relaxed);
                    if matches!(status, 401 | 403) && !self.warned_auth {
                        self.warned_auth = true;
                        eprintln!(
                            "[raceway] the server refused the API key ({status}); events are dropped until it is fixed"
                        );
                    } else {
                        self.log(format_args!("server refused {n} events with {status}"));
                    }
                    return;
                }
                Outcome::Unknown(why) => {
                    self.dispatch.queue.counters.undeliverable.fetch_add(n, Relaxed);
                    self.log(format_args!("{n} events may or may not have been stored ({why}); not resending"));
                    return;
                }
                Outcome::Retry(why) => {
                    let deadline = self.dispatch.shutdown_deadline();
                    if deadline.is_some_and(|d| Instant::now() + backoff > d) {
                        self.dispatch.queue.counters.undeliverable.fetch_add(n, Relaxed);
                        self.log(format_args!("shutdown deadline reached: {n} events not delivered ({why})"));
                        return;
                    }
                    self.dispatch.queue.counters.retries.fetch_add(1, Relaxed);
                    self.log(format_args!("{why}: retrying {n} events in {backoff:?}"));
                    // Parked, so shutdown can cut the wait short.
                    std::thread::park_timeout(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// A buffer for the next body: a spare one, or one large enough for any body within the cap.
    fn buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_else(|| Vec::with_capacity(self.max_bytes + BODY_SLACK))
    }

    /// Finishes `body` and sends it; then keeps its buffer for a later body.
    fn send_body(&mut self, body: wire::Body) {
        let (buf, spans) = body.finish();
        if spans.is_empty() {
            self.keep(buf);
            return;
        }
        let src = Bytes::from(buf);
        self.send(&src, &spans, src.clone());
        // The request is over, so the client normally holds no copy any more; if it still does,
        // the buffer is simply not reused. One grown by a huge event (before it was re-rendered
        // without values) is let go rather than kept.
        if let Ok(bytes) = src.try_into_mut() {
            self.keep(Vec::from(bytes));
        }
    }

    /// Keeps `buf` for a later body (two at most: the one being written and the one in flight).
    fn keep(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < 2 && buf.capacity() <= 2 * (self.max_bytes + BODY_SLACK) {
            buf.clear();
            self.spare.push(buf);
        }
    }

    fn post(&mut self, body: Bytes) -> Outcome {
        let timeout = match self.dispatch.shutdown_deadline() {
            Some(d) => d.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(50), self.timeout),
            None => self.timeout,
        };
        let mut req = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body);
        if let Some(a) = &self.auth {
            req = req.header(reqwest::header::AUTHORIZATION, a.clone());
        }
        let result = self.rt.block_on(async move {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let text = if status == 206 { resp.text().await.unwrap_or_default() } else { String::new() };
            Ok::<_, reqwest::Error>((status, text))
        });
        match result {
            Ok((status, text)) => {
                let counters = &self.dispatch.queue.counters;
                match status {
                    200..=299 => {
                        counters.batches.fetch_add(1, Relaxed);
                        let dropped = if status == 206 { server_dropped(&text) } else { 0 };
                        counters.server_dropped.fetch_add(dropped, Relaxed);
                        Outcome::Delivered
                    }
                    429 | 502 | 503 | 504 => Outcome::Retry("server busy or unavailable"),
                    413 | 422 => Outcome::Split(status),
                    s => Outcome::Rejected(s),
                }
            }
            Err(e) if e.is_connect() => Outcome::Retry("server unreachable"),
            // The URL is left out of messages: it could carry credentials.
            Err(e) if e.is_timeout() => Outcome::Unknown("timed out after sending".into()),
            Err(e) => Outcome::Unknown(describe(&e.without_url())),
        }
    }
}

/// The error and its causes, one line (the URL was removed by the caller).
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// `M` from a 206 body `{"data":"Ingested N events, M errors",...}`.
fn server_dropped(body: &str) -> u64 {
    let data = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("data").and_then(|d| d.as_str().map(str::to_owned)))
        .unwrap_or_default();
    data.split(", ")
        .nth(1)
        .and_then(|s| s.strip_suffix(" errors").or_else(|| s.strip_suffix(" error")))
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(0)
}

/// A request body being filled, and its size as accounted: 16 plus each event and a separator
/// (an upper bound of the body's real length).
struct Batch {
    body: wire::Body,
    bytes: usize,
}

impl HttpSink {
    fn start_batch(&mut self) -> Batch {
        // Services named since the last batch get their metadata rendered, once.
        self.metadata.refresh();
        let buf = self.buffer();
        Batch { body: wire::Body::with_buffer(buf), bytes: 16 }
    }

    /// Adds `e` (standing for `count` coalesced accesses) to `batch`, sending the body before it
    /// when it would break a cap.
    fn add(&mut self, batch: &mut Batch, e: &Event, count: u64) {
        // Room for one event: what a request may carry, less the body's own brackets.
        let room = self.max_bytes.saturating_sub(32);
        if count > 1 {
            self.dispatch.queue.counters.coalesced.fetch_add(count - 1, Relaxed);
        }
        let Some(len) = batch.body.push_counted(e, &self.metadata, room, count) else {
            self.dispatch.queue.counters.rejected.fetch_add(1, Relaxed);
            return;
        };
        // The event just rendered would break a cap: the body before it goes out, and it
        // starts the next one.
        let body = &mut batch.body;
        if body.len() > 1 && (body.len() > self.batch_size || batch.bytes + len + 1 > self.max_bytes) {
            let buf = self.buffer();
            let next = batch.body.split_last(buf);
            self.send_body(std::mem::replace(&mut batch.body, next));
            batch.bytes = 16;
        }
        batch.bytes += len + 1;
    }
}

impl Sink for HttpSink {
    fn deliver(&mut self, events: &[Event]) {
        let mut batch = self.start_batch();
        match self.coalescer.take() {
            Some(mut c) => {
                let mut emit = |e: &Event, n: u64| self.add(&mut batch, e, n);
                for e in events {
                    c.push(e, &mut emit);
                }
                self.coalescer = Some(c);
            }
            None => {
                for e in events {
                    self.add(&mut batch, e, 1);
                }
            }
        }
        self.send_body(batch.body);
    }

    fn settle(&mut self) {
        let Some(mut c) = self.coalescer.take() else { return };
        let mut batch = self.start_batch();
        c.drain(&mut |e: &Event, n: u64| self.add(&mut batch, e, n));
        self.coalescer = Some(c);
        self.send_body(batch.body);
    }

    fn finish(&mut self) {
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::server_dropped;
    use bytes::Bytes;

    #[test]
    fn a_sent_body_gives_its_buffer_back_without_a_copy() {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(b"{\"events\":[]}");
        let at = buf.as_ptr();
        let src = Bytes::from(buf);
        drop(src.clone()); // an attempt's copy, dropped when the request is over
        let back = Vec::from(src.try_into_mut().expect("no other holder"));
        assert_eq!(back.as_ptr(), at);
        assert!(back.capacity() >= 4096);
    }

    #[test]
    fn reads_the_drop_count_of_a_206_answer() {
        assert_eq!(server_dropped(r#"{"success":true,"data":"Ingested 100 events, 7 errors","error":null}"#), 7);
        assert_eq!(server_dropped(r#"{"success":true,"data":"Ingested 100 events","error":null}"#), 0);
        assert_eq!(server_dropped("garbage"), 0);
    }
}
