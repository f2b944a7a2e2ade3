//! The crate's error type.

/// Everything that can go wrong in the calls that return a `Result`.
///
/// Recording calls never fail (they drop and count instead); only setup and propagation do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `init` was called while a client is installed.
    #[error("raceway is already initialized: drop the first `Guard` (or call `raceway::shutdown()`) before calling `init` again")]
    AlreadyInitialized,

    /// A configuration value is unusable.
    #[error("invalid raceway configuration: `{field}` {reason}")]
    InvalidConfig {
        /// The `Config` field at fault.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// An environment variable read by `Config::from_env` has an unusable value.
    #[error("invalid environment variable {var}: {reason}")]
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// What is expected (the value itself is not repeated: it may be a secret).
        reason: &'static str,
    },

    /// The call needs an active trace (e.g. `propagation_headers` outside a request).
    #[error("no active raceway trace on this task: call inside a traced request, a `#[traced]` function, or `Context::scope`")]
    NoActiveTrace,

    /// The background exporter thread could not be started.
    #[error("could not start the raceway exporter thread: {0}")]
    ExporterStart(#[source] std::io::Error),
}
