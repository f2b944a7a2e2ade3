//! The sink that feeds the process-wide analyzer from the delivery thread.

use super::Analyzer;
use crate::event::Event;
use crate::stage::sink::Sink;
use std::sync::{Arc, Mutex};

/// Runs on the delivery thread: analysis never runs on the program's own threads.
pub(crate) struct AnalyzerSink {
    analyzer: Arc<Mutex<Analyzer>>,
}

impl AnalyzerSink {
    /// A sink feeding a fresh analyzer, which [`crate::report`] and shutdown then read.
    pub(crate) fn start(max_variables: usize) -> Self {
        AnalyzerSink { analyzer: super::start_run(max_variables) }
    }
}

impl Sink for AnalyzerSink {
    fn deliver(&mut self, events: &[Event]) {
        // One lock per batch; `report()` readers only wait for the batch in progress.
        let mut analyzer = self.analyzer.lock().unwrap_or_else(|e| e.into_inner());
        for e in events {
            analyzer.observe(e);
        }
    }
}
