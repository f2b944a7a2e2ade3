//! Where delivered events go: the one trait between the stage and its consumers.
//!
//! The exporter (`exporter::HttpSink`) and the embedded analyzer (`analyzer::AnalyzerSink`)
//! implement it; `lifecycle` builds the sinks a configuration asks for. Neither consumer names
//! the other, and the stage names neither.

use crate::event::Event;

/// A destination for events. Called on the delivery thread only, with events in recording order.
pub(crate) trait Sink: Send {
    /// Delivers `events`. Must honour `Dispatch::shutdown_deadline()` once it is set.
    fn deliver(&mut self, events: &[Event]);
    /// Called after a round that had to hand over everything (a flush, the flush interval,
    /// shutdown): a sink that holds events back (the exporter's coalesced runs) delivers them now,
    /// so that `flush()` and the interval bound how long an event waits.
    fn settle(&mut self) {}
    /// Called once when the delivery thread stops, after the last delivery.
    fn finish(&mut self) {}
}
