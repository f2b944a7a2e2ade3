//! Identifiers: event and trace ids (UUIDs), span ids, and logical task ids.
//!
//! Ids are generated on the hot path, so they come from a per-thread `wyrand` generator seeded
//! once from the OS-randomised `RandomState`: a couple of nanoseconds, no syscall, no lock.
//! Formatting to hex happens only when the exporter serializes.

use super::service::ServiceId;
use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    // Distinguish threads even if RandomState's keys were ever derived deterministically.
    h.write_usize(&h as *const _ as usize);
    h.finish() | 1
}

/// One step of wyrand: fast, statistically good, not cryptographic (ids need uniqueness only).
#[inline]
pub(crate) fn random_u64() -> u64 {
    RNG.with(|s| {
        let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = (x as u128).wrapping_mul((x ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// Event ids for one recording thread: a random 58-bit prefix drawn once, then a counter, so
/// the hot path spends an increment per id instead of two random draws.
///
/// Ids stay unique across threads and processes as long as no two sequences draw the same prefix
/// (58 random bits: a 1-in-2^58 chance per pair of sequences, one sequence per thread and
/// pipeline) and no sequence hands out more than 2^62 ids. They are valid version-4 UUIDs on the
/// wire, as the server expects; nothing reads order or meaning into their bits.
pub(crate) struct IdSeq {
    /// The high half, version nibble set.
    prefix: u64,
    /// The next low half's counter (its top two bits are the RFC 4122 variant).
    next: u64,
}

impl IdSeq {
    pub(crate) fn new() -> Self {
        let prefix = random_u64() & !(0xF << 12) | (0x4 << 12);
        IdSeq { prefix, next: 0 }
    }

    /// The next id of this sequence.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Uuid {
        let low = self.next & !(0x3 << 62) | (0x2 << 62);
        self.next = self.next.wrapping_add(1);
        Uuid { halves: [self.prefix, low] }
    }
}

/// A UUID (event id, trace id, task uuid), kept as a number until serialized.
///
/// Stored as two `u64` halves rather than a `u128`: an alignment of 8 instead of 16 keeps the
/// padding out of every [`crate::Event`], which is copied across threads once per recorded event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid {
    halves: [u64; 2],
}

/// Builds a [`Uuid`] from its 128-bit value (crate-internal shorthand).
#[allow(non_snake_case)]
pub(crate) const fn Uuid(v: u128) -> Uuid {
    Uuid { halves: [(v >> 64) as u64, v as u64] }
}

impl Uuid {
    /// A new random (version 4, RFC 4122 variant) UUID.
    #[inline]
    pub fn new_v4() -> Self {
        let raw = ((random_u64() as u128) << 64) | random_u64() as u128;
        Uuid((raw & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62))
    }

    /// Builds a UUID from its 128-bit value.
    pub const fn from_u128(v: u128) -> Self {
        Uuid(v)
    }

    /// A copy read one half at a time, for an id written one half at a time a few instructions
    /// earlier (a task's last event id, read back by its next event). A plain copy is one 16-byte
    /// load, which the processor cannot serve from the two 8-byte stores still in its store
    /// buffer, and waits until they reach the cache: most of the recording path's time once it
    /// took no lock (BENCHMARKS.md, issue 17). Volatile reads are never merged into a wider one.
    #[inline(always)]
    pub(crate) fn read_halves(&self) -> Uuid {
        // SAFETY: both are reads of initialised `u64`s through references.
        unsafe { Uuid { halves: [std::ptr::read_volatile(&self.halves[0]), std::ptr::read_volatile(&self.halves[1])] } }
    }

    /// The 128-bit value.
    pub const fn as_u128(self) -> u128 {
        ((self.halves[0] as u128) << 64) | self.halves[1] as u128
    }

    /// Parses a 36-char hyphenated or 32-char plain hex UUID, in any case.
    ///
    /// ```
    /// let id = raceway::Uuid::parse("0AF7651916CD43DD8448EB211C80319C").unwrap();
    /// assert_eq!(id.to_string(), "0af76519-16cd-43dd-8448-eb211c80319c");
    /// assert!(raceway::Uuid::parse("not-a-uuid").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let hex: [u8; 32] = match b.len() {
            32 => b.try_into().ok()?,
            36 => {
                if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
                    return None;
                }
                let mut out = [0u8; 32];
                let mut j = 0;
                for (i, &c) in b.iter().enumerate() {
                    if !matches!(i, 8 | 13 | 18 | 23) {
                        out[j] = c;
                        j += 1;
                    }
                }
                out
            }
            _ => return None,
        };
        let mut v = 0u128;
        for c in hex {
            v = (v << 4) | hex_val(c)? as u128;
        }
        Some(Uuid(v))
    }

    /// The 32 lowercase hex digits, no dashes (the W3C trace-id form).
    pub fn simple(self) -> String {
        format!("{:032x}", self.as_u128())
    }
}

pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.as_u128();
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xFFFF_FFFF_FFFF
        )
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A 64-bit distributed span id (16 lowercase hex on the wire, never zero).
///
/// ```
/// let id = raceway::SpanId::parse("00F067AA0BA902B7").unwrap();
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// assert!(raceway::SpanId::parse("0000000000000000").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub(crate) std::num::NonZeroU64);

impl SpanId {
    /// A new random, non-zero span id.
    pub fn random() -> Self {
        loop {
            if let Some(v) = std::num::NonZeroU64::new(random_u64()) {
                return SpanId(v);
            }
        }
    }

    /// Parses 16 hex digits (any case); all-zero is invalid.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 16 {
            return None;
        }
        let mut v = 0u64;
        for c in s.bytes() {
            v = (v << 4) | hex_val(c)? as u64;
        }
        std::num::NonZeroU64::new(v).map(SpanId)
    }

    /// The 64-bit value.
    pub const fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The identity of one logical task (a tokio task, a thread, a request).
///
/// Numbers are unique for the life of the process. On the wire a task is the string
/// `<service>-<pid>-task-<n>` (`metadata.thread_id`), the unit the server's race analysis
/// compares; see [`TaskId::thread_id`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TaskId(pub(crate) u64);

static NEXT_TASK: AtomicU64 = AtomicU64::new(1);
/// Marks the ids of tasks the SDK did not see start (never set by the counter itself).
const UNORDERED: u64 = 1 << 63;
/// Where a task id keeps its service's number (bits 48..63): the service travels with every
/// event and clock component that names the task, at no cost to recording.
const SERVICE_SHIFT: u32 = 48;
const SERVICE_BITS: u64 = 0x7FFF << SERVICE_SHIFT;
/// The task's number: 2^48 tasks, more than a process can start.
const NUMBER: u64 = (1 << SERVICE_SHIFT) - 1;

impl TaskId {
    /// Allocates a process-unique task id of the process's own service.
    #[cfg(test)]
    pub(crate) fn next() -> Self {
        Self::next_in(ServiceId::PROCESS)
    }

    /// Allocates a process-unique task id for a task of `service`.
    #[inline]
    pub(crate) fn next_in(service: ServiceId) -> Self {
        let n = NEXT_TASK.fetch_add(1, Ordering::Relaxed) & NUMBER;
        TaskId(n | (u64::from(service.0) << SERVICE_SHIFT) & SERVICE_BITS)
    }

    /// The service this task belongs to ([`ServiceId::PROCESS`] unless it runs under a
    /// `RacewayLayer` with a `service_name`, or descends from such a task).
    #[inline]
    pub(crate) fn service(self) -> ServiceId {
        ServiceId(((self.0 & SERVICE_BITS) >> SERVICE_SHIFT) as u16)
    }

    /// Allocates a task id for a task the SDK did not see start (a plain `tokio::spawn`): a
    /// number from the same sequence, marked so that a report can say why it is unordered.
    pub(crate) fn next_unordered_in(service: ServiceId) -> Self {
        TaskId(Self::next_in(service).0 | UNORDERED)
    }

    /// The task's number, unique within this process.
    pub const fn as_u64(self) -> u64 {
        self.0 & NUMBER
    }

    /// Whether the SDK did not see this task start (a future spawned with plain `tokio::spawn`,
    /// a `JoinSet`, ...): nothing orders its start after its spawner or its end before a join.
    ///
    /// ```
    /// # let _g = raceway::testing::capture(|| {
    /// assert!(!raceway::Context::current_task().unwrap().is_unordered());
    /// # });
    /// ```
    pub const fn is_unordered(self) -> bool {
        self.0 & UNORDERED != 0
    }

    /// The task numbered `n`, if this process has handed that number out. A task name read from
    /// a header may be anything; one that was never issued must not pose as a task of ours.
    #[cfg(test)]
    pub(crate) fn issued(n: u64) -> Option<TaskId> {
        Self::issued_in(n, ServiceId::PROCESS)
    }

    /// The task numbered `n` of `service`, if this process has handed that number out.
    pub(crate) fn issued_in(n: u64, service: ServiceId) -> Option<TaskId> {
        ((1..=NUMBER).contains(&n) && n < NEXT_TASK.load(Ordering::Relaxed))
            .then_some(TaskId(n | u64::from(service.0) << SERVICE_SHIFT))
    }

    /// The text before the number in every `metadata.thread_id` of a process:
    /// `<service>-<pid>-task-`. The one place this naming rule is written; the exporter renders
    /// it once per client, [`TaskId::thread_id`] (in `context::process`) per call.
    pub(crate) fn thread_id_prefix(service: &str, pid: u32) -> String {
        format!("{service}-{pid}-task-")
    }

    /// A UUID naming this task (`AsyncSpawn.task_id`, `AsyncAwait.future_id`): a process-wide
    /// random prefix with the task number, so it is unique without a lookup table.
    pub(crate) fn uuid(self) -> Uuid {
        static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let prefix = *PREFIX.get_or_init(random_u64);
        let raw = ((prefix as u128) << 64) | self.0 as u128;
        Uuid((raw & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62))
    }
}

/// A hasher for maps keyed by ids this process made itself (task numbers, event ids), looked up
/// on every event by the analyzer's task table and the exporter's coalescer: a multiply per word
/// instead of SipHash. Not for keys an attacker picks.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // A `Uuid` (`[u64; 2]`) arrives as one 16-byte write.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_ne_bytes(word));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_uuids_have_version_and_variant_bits() {
        for _ in 0..1000 {
            let s = Uuid::new_v4().to_string();
            assert_eq!(s.len(), 36);
            assert_eq!(&s[14..15], "4");
            assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
        }
    }

    #[test]
    fn uuid_round_trips_both_forms() {
        let id = Uuid::new_v4();
        assert_eq!(Uuid::parse(&id.to_string()), Some(id));
        assert_eq!(Uuid::parse(&id.simple()), Some(id));
        assert_eq!(Uuid::parse(&id.simple().to_uppercase()), Some(id));
        assert_eq!(Uuid::parse("0af7651916cd43dd8448eb211c80319"), None);
        assert_eq!(Uuid::parse("0af76519x16cd-43dd-8448-eb211c80319c"), None);
    }

    #[test]
    fn span_ids_are_sixteen_hex_and_never_zero() {
        assert_eq!(SpanId::parse("0000000000000000"), None);
        assert_eq!(SpanId::parse("00F067AA0BA902B7").unwrap().to_string(), "00f067aa0ba902b7");
        assert_eq!(SpanId::random().to_string().len(), 16);
    }

    #[test]
    fn only_task_numbers_already_handed_out_are_issued() {
        let t = TaskId::next();
        assert_eq!(TaskId::issued(t.as_u64()), Some(t));
        assert_eq!(TaskId::issued(0), None, "numbering starts at 1");
        assert_eq!(TaskId::issued(u64::MAX), None);
    }

    #[test]
    fn a_task_id_carries_its_service_and_keeps_its_number() {
        let s = ServiceId(77);
        let t = TaskId::next_in(s);
        assert_eq!(t.service(), s);
        assert!(!t.is_unordered());
        assert_eq!(TaskId::issued_in(t.as_u64(), s), Some(t));
        let between = TaskId::next();
        let u = TaskId::next_unordered_in(s);
        assert_eq!((u.service(), u.is_unordered()), (s, true));
        // Not `t + 1`: tests running in parallel take ids in between (it failed one run in three).
        assert!(t.as_u64() < between.as_u64() && between.as_u64() < u.as_u64(), "one numbering for every service");
        assert_eq!(TaskId::next().service(), ServiceId::PROCESS);
    }

    #[test]
    fn sequence_ids_are_v4_uuids_distinct_within_and_across_sequences() {
        let (mut a, mut b) = (IdSeq::new(), IdSeq::new());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            for id in [a.next(), b.next()] {
                let s = id.to_string();
                assert_eq!(&s[14..15], "4", "{s}");
                assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
                assert!(seen.insert(id), "{s} repeated");
            }
        }
    }

    #[test]
    fn task_uuids_are_distinct_per_task() {
        let (a, b) = (TaskId::next(), TaskId::next());
        assert_ne!(a.uuid(), b.uuid());
        assert_eq!(a.uuid(), a.uuid());
    }
}
