//! `raceway::tracing` (feature `tracing`): a [`tracing_subscriber::Layer`] that turns the spans
//! and events a program already emits with `tracing` into Raceway events, so code annotated with
//! `#[tracing::instrument]` gets Raceway's call context without a second annotation.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let _subscriber = tracing_subscriber::registry().with(raceway::tracing::layer()).set_default();
//! ```
//!
//! | `tracing` | Raceway event |
//! |---|---|
//! | a span, at its first enter | `FunctionCall`: name = span name, module = target, file:line = the callsite, args = the fields recorded so far |
//! | the span's close | the function's end with its duration (first enter → close), as `#[traced]` sends it |
//! | an event | `Custom`: name = the message (or the callsite's name), data = the other fields |
//! | an `ERROR` event with an `error` field | `Error`: type = the target, message = the `error` field (and the message) |
//!
//! **Enter, exit and close.** An async span (`.instrument()`, `#[instrument] async fn`) is
//! entered and exited at every poll; what matters to Raceway is one call and one end. So the call
//! is recorded at the *first* enter, in the Raceway task that enters it (a span created in one
//! task and first entered in another belongs to the second), and the end when the span closes
//! (its last handle dropped), with the duration from that first enter: the time the function's
//! body was running or waiting, like `#[traced]`. A span that is never entered records nothing.
//! The end is recorded in the task that drops the span's last handle, which for
//! `#[instrument]` and `.instrument()` is the task that polled it.
//!
//! **What is captured.** Span fields are arguments: they follow `Config::capture_args` (off: no
//! args) and every string or `Debug` rendering is cut at `Config::max_value_bytes`, like
//! `#[traced]` arguments; fields `#[instrument(skip(..))]` leaves out never reach the layer.
//! Events whose target is `raceway` (or under it) are ignored: they are Raceway's own findings
//! (the analyzer reports each as a `tracing::warn!`), and recording them would loop. So is
//! everything on Raceway's delivery thread (the exporter's HTTP client logs through `tracing`).
//!
//! **Cost.** Spans and events cost a field walk and one recorded event each while Raceway
//! records, and one relaxed load when it does not; `BENCHMARKS.md` has the figures.
//!
//! With instrumentation compiled out (`off`, or no `enabled`), [`layer`] still exists and returns
//! a layer whose methods do nothing.

/// The layer: spans become function calls, events become `Custom`/`Error` events. See the
/// [module](self) for the mapping.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry().with(raceway::tracing::TracingLayer::default());
/// tracing::subscriber::with_default(subscriber, || tracing::info!("ready"));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingLayer {
    _private: (),
}

/// The layer to add to a `tracing_subscriber` registry.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let captured = raceway::testing::capture(|| {
///     let subscriber = tracing_subscriber::registry().with(raceway::tracing::layer());
///     tracing::subscriber::with_default(subscriber, || {
///         let _span = tracing::info_span!("checkout", order = 7).entered();
///     });
/// });
/// assert!(captured.events.iter().any(|e| matches!(e.kind, raceway::EventKind::FunctionCall { .. })));
/// ```
pub fn layer() -> TracingLayer {
    TracingLayer::default()
}

/// Instrumentation compiled out: every method is the default, which does nothing.
#[cfg(not(raceway_on))]
impl<S> tracing_subscriber::Layer<S> for TracingLayer where
    S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>
{
}

#[cfg(raceway_on)]
mod on {
    use super::TracingLayer;
    use crate::event::location::Location;
    use crate::event::name::Name;
    use crate::event::value::{null, truncate_str, Value};
    use crate::event::EventKind;
    use crate::instrument::function::FunctionGuard;
    use crate::record::record;
    use crate::stage::switch::enabled;
    use crate::stage::worker::on_delivery_thread;
    use std::fmt;
    use tracing_core::field::{Field, Visit};
    use tracing_core::span::{Attributes, Id, Record};
    use tracing_core::{Event, Level, Metadata, Subscriber};
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    /// What a span keeps between its creation and its close (in the span's extensions).
    struct SpanCall {
        /// The fields recorded before the first enter; taken by the call event.
        args: Option<serde_json::Map<String, Value>>,
        /// Records the end when dropped (at close); `None` until the first enter.
        guard: Option<FunctionGuard>,
        entered: bool,
    }

    /// Fields into a JSON object, each value capped like a captured argument.
    struct Fields<'a> {
        map: &'a mut serde_json::Map<String, Value>,
        max: usize,
    }

    impl Fields<'_> {
        fn put(&mut self, field: &Field, value: Value) {
            self.map.insert(field.name().to_owned(), value);
        }
    }

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            let text = format!("{value:?}");
            self.put(field, Value::String(truncate_str(&text, self.max)));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.put(field, Value::String(truncate_str(value, self.max)));
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.put(field, value.into());
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.put(field, value.into());
        }
        fn record_bool(&mut self, field: &Field, value: bool) {
            self.put(field, value.into());
        }
        fn record_f64(&mut self, field: &Field, value: f64) {
            self.put(field, value.into());
        }
        fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
            self.put(field, Value::String(truncate_str(&value.to_string(), self.max)));
        }
    }

    fn location(meta: &Metadata<'static>) -> Location {
        Location::new(meta.file().unwrap_or("<unknown>"), meta.line().unwrap_or(0), 0)
    }

    /// Raceway's own output is never recorded back: the analyzer's findings (target `raceway`),
    /// and whatever the exporter's HTTP client reports through `tracing` on the delivery thread
    /// (recording it would give every batch events for the next one).
    fn is_raceway(meta: &Metadata<'_>) -> bool {
        let t = meta.target();
        t == "raceway" || t.starts_with("raceway::") || on_delivery_thread()
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for TracingLayer {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            if !enabled() || is_raceway(attrs.metadata()) {
                return;
            }
            let Some(span) = ctx.span(id) else { return };
            let args = crate::config::capture_args().then(|| {
                let mut map = serde_json::Map::new();
                attrs.record(&mut Fields { map: &mut map, max: crate::config::max_value_bytes() });
                map
            });
            span.extensions_mut().insert(SpanCall { args, guard: None, entered: false });
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            // Fields recorded after the call went out cannot change it; before, they are args.
            let Some(span) = ctx.span(id) else { return };
            let mut ext = span.extensions_mut();
            if let Some(SpanCall { args: Some(map), entered: false, .. }) = ext.get_mut::<SpanCall>() {
                values.record(&mut Fields { map, max: crate::config::max_value_bytes() });
            }
        }

        fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(id) else { return };
            let mut ext = span.extensions_mut();
            let Some(call) = ext.get_mut::<SpanCall>() else { return };
            if call.entered {
                return;
            }
            call.entered = true;
            let meta = span.metadata();
            let args = call.args.take().map_or_else(null, Value::Object);
            call.guard =
                Some(FunctionGuard::enter(Name::from_static(meta.name()), meta.target(), location(meta), args));
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(&id) else { return };
            // Dropping the guard records the end, with the duration since the call.
            let call = span.extensions_mut().remove::<SpanCall>();
            drop(call);
        }

        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let meta = event.metadata();
            if !enabled() || is_raceway(meta) {
                return;
            }
            let max = crate::config::max_value_bytes();
            let mut map = serde_json::Map::new();
            event.record(&mut Fields { map: &mut map, max });
            let message = match map.remove("message") {
                // `info!("text")` records its message through `Debug` of `format_args!`.
                Some(Value::String(s)) => Some(s),
                Some(other) => Some(other.to_string()),
                None => None,
            };
            if *meta.level() == Level::ERROR {
                if let Some(error) = map.remove("error") {
                    let error = match error {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let message = match message {
                        Some(m) => format!("{m}: {error}"),
                        None => error,
                    };
                    let at = location(meta).to_string();
                    record(
                        EventKind::Error {
                            error_type: Name::from_static(meta.target()),
                            message,
                            stack_trace: vec![at],
                        },
                        None,
                    );
                    return;
                }
            }
            let name = match message {
                Some(m) => Name::from(m),
                None => Name::from_static(meta.name()),
            };
            record(EventKind::Custom { name, data: Value::Object(map) }, None);
        }
    }
}
