//! A strict mirror of the Raceway server's event types, written from the contract (§2).
//!
//! Stricter than the server where that catches our mistakes: unknown fields are refused (the
//! server would silently ignore a misspelled optional field), and every id, timestamp, number and
//! enum spelling is checked exactly as the server checks it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;

/// `{"events": [...]}`.
#[derive(Deserialize, Debug)]
pub struct Batch {
    pub events: Vec<Event>,
}

/// A UUID string: 36-char hyphenated or 32 hex, any case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uuid(pub u128);

impl<'de> Deserialize<'de> for Uuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let hex: String = match s.len() {
            32 => s.clone(),
            36 => {
                let b = s.as_bytes();
                if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
                    return Err(D::Error::custom(format!("bad uuid {s}")));
                }
                s.replace('-', "")
            }
            _ => return Err(D::Error::custom(format!("bad uuid length {s}"))),
        };
        u128::from_str_radix(&hex, 16)
            .ok()
            .filter(|_| hex.bytes().all(|c| c.is_ascii_hexdigit()))
            .map(Uuid)
            .ok_or_else(|| D::Error::custom(format!("bad uuid {s}")))
    }
}

/// An RFC 3339 timestamp **with** an offset (the server rejects one without).
#[derive(Debug, Clone)]
pub struct Timestamp(pub String);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
        let ok = s.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && (b[10] == b'T' || b[10] == b't')
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && {
                let rest = &s[19..];
                let rest = match rest.strip_prefix('.') {
                    Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
                    None => rest,
                };
                rest == "Z" || rest == "z" || (rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')))
            };
        if ok {
            Ok(Timestamp(s))
        } else {
            Err(D::Error::custom(format!("timestamp without offset or malformed: {s}")))
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub id: Uuid,
    pub trace_id: Uuid,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    pub timestamp: Timestamp,
    pub kind: Kind,
    pub metadata: Metadata,
    pub causality_vector: Vec<(String, u64)>,
    pub lock_set: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub thread_id: String,
    pub process_id: u32,
    pub service_name: String,
    pub environment: String,
    pub tags: HashMap<String, String>,
    #[serde(default)]
    pub duration_ns: Option<u64>,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub distributed_span_id: Option<Hex16>,
    #[serde(default)]
    pub upstream_span_id: Option<Hex16>,
}

/// 16 hex digits.
#[derive(Debug, Clone, PartialEq)]
pub struct Hex16(pub String);

impl<'de> Deserialize<'de> for Hex16 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() == 16 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
            Ok(Hex16(s))
        } else {
            Err(D::Error::custom(format!("not 16 hex: {s}")))
        }
    }
}

#[derive(Deserialize, Debug, PartialEq, Clone, Copy)]
pub enum AccessType {
    Read,
    Write,
    AtomicRead,
    AtomicWrite,
    AtomicRMW,
}

#[derive(Deserialize, Debug, PartialEq)]
pub enum MemoryOrdering {
    Relaxed,
    Acquire,
    Release,
    AcqRel,
    SeqCst,
}

#[derive(Deserialize, Debug)]
pub enum Kind {
    FunctionCall {
        function_name: String,
        module: String,
        args: serde_json::Value,
        file: String,
        line: u32,
    },
    AsyncSpawn {
        task_id: Uuid,
        spawned_by: String,
    },
    AsyncAwait {
        future_id: Uuid,
        awaited_at: String,
    },
    StateChange {
        variable: String,
        #[serde(default)]
        old_value: Option<serde_json::Value>,
        new_value: serde_json::Value,
        location: String,
        access_type: AccessType,
    },
    LockAcquire {
        lock_id: String,
        lock_type: String,
        location: String,
    },
    LockRelease {
        lock_id: String,
        lock_type: String,
        location: String,
    },
    MemoryFence {
        ordering: MemoryOrdering,
        location: String,
    },
    HttpRequest {
        method: String,
        url: String,
        headers: HashMap<String, String>,
        #[serde(default)]
        body: Option<serde_json::Value>,
    },
    HttpResponse {
        status: u16,
        headers: HashMap<String, String>,
        #[serde(default)]
        body: Option<serde_json::Value>,
        duration_ms: u64,
    },
    DatabaseQuery {
        query: String,
        database: String,
        duration_ms: u64,
    },
    DatabaseResult {
        rows_affected: u64,
    },
    Error {
        error_type: String,
        message: String,
        stack_trace: Vec<String>,
    },
    Custom {
        name: String,
        data: serde_json::Value,
    },
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::FunctionCall { .. } => "FunctionCall",
            Kind::AsyncSpawn { .. } => "AsyncSpawn",
            Kind::AsyncAwait { .. } => "AsyncAwait",
            Kind::StateChange { .. } => "StateChange",
            Kind::LockAcquire { .. } => "LockAcquire",
            Kind::LockRelease { .. } => "LockRelease",
            Kind::MemoryFence { .. } => "MemoryFence",
            Kind::HttpRequest { .. } => "HttpRequest",
            Kind::HttpResponse { .. } => "HttpResponse",
            Kind::DatabaseQuery { .. } => "DatabaseQuery",
            Kind::DatabaseResult { .. } => "DatabaseResult",
            Kind::Error { .. } => "Error",
            Kind::Custom { .. } => "Custom",
        }
    }
}

/// Parses one event as the server would; panics with the server-style path on failure.
pub fn parse_event(v: &serde_json::Value) -> Event {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("server would answer 422: {e}\nevent: {v}"))
}

/// Parses a whole request body as the server would.
pub fn parse_batch(body: &[u8]) -> Batch {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("server would answer 422: {e}"))
}
