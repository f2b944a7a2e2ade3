//! Configuration: the Go SDK's fields in Rust form, plus the limits a robust exporter needs.

use crate::error::Error;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// [`Config::analyzer_max_variables`] by default: about 85 MB of analysis state at the ~345
/// bytes a remembered variable costs (`BENCHMARKS.md`, issue 13), so that a program touching a
/// million distinct variables stays well under 200 MB (130 MB measured).
pub(crate) const DEFAULT_ANALYZER_MAX_VARIABLES: usize = 250_000;

/// How the SDK is set up. Build it from [`Config::default`] or [`Config::from_env`] and the
/// chainable setters, then pass it to [`crate::init`].
///
/// ```
/// use std::time::Duration;
/// let config = raceway::Config::default()
///     .server_url("http://localhost:8080")
///     .service_name("bank")
///     .batch_size(200)
///     .flush_interval(Duration::from_millis(500))
///     .tag("team", "payments")
///     .api_key("s3cret");
/// assert_eq!(config.service_name, "bank");
/// // The key never shows up in logs.
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Raceway server base URL (`http://` or `https://`). `None`: no server; events go to the
    /// embedded analyzer instead.
    pub server_url: Option<String>,
    /// `metadata.service_name`. Default `"unknown-service"`.
    pub service_name: String,
    /// `metadata.instance_id`. Default `<hostname>-<pid>`.
    pub instance_id: String,
    /// `metadata.environment`. Default `"development"`.
    pub environment: String,
    /// Events per request to the server. Default 100.
    pub batch_size: usize,
    /// Longest time an event waits in the queue before being sent. Default 1 s.
    pub flush_interval: Duration,
    /// `metadata.tags` of every event (`sdk_language = "rust"` is added).
    pub tags: BTreeMap<String, String>,
    /// Log the exporter's activity to stderr (never the API key, never event contents).
    pub debug: bool,
    /// Sent as `Authorization: Bearer <key>`. Never printed.
    pub api_key: Option<String>,
    /// Master switch (`RACEWAY_ENABLED`). When false, `init` installs nothing and every tracking
    /// call is a no-op.
    pub enabled: bool,
    /// Events held in memory before new ones are dropped (and counted). Default 16,384.
    pub queue_capacity: usize,
    /// Timeout of one request to the server. Default 10 s.
    pub request_timeout: Duration,
    /// Upper bound of one request body. Default 1 MiB (the server refuses more than 2 MiB).
    pub max_batch_bytes: usize,
    /// Strings inside captured values are cut to this many bytes. Default 4 KiB.
    pub max_value_bytes: usize,
    /// Whether function arguments are captured at all (a global `skip_all`). Default true.
    pub capture_args: bool,
    /// How long shutdown may spend delivering what is queued. Default 5 s.
    pub shutdown_timeout: Duration,
    /// Run the embedded race analyzer and print its report at shutdown (`RACEWAY_ANALYZE`).
    /// `None` (default): on when there is no `server_url`, off alongside a server.
    pub analyze: Option<bool>,
    /// Exit the process with this status at shutdown, after the report is printed, when the
    /// embedded analyzer's report has findings that no suppression hides (`RACEWAY_EXITCODE`,
    /// TSan's `exitcode`). `None` (default): shutdown never exits. Without the analyzer (a
    /// server-only configuration) there is no report to judge, and it never exits either.
    pub exit_code_on_findings: Option<i32>,
    /// A suppressions file (`RACEWAY_SUPPRESSIONS`): findings it matches are left out of the
    /// shutdown report and counted in its summary. See [`crate::Suppressions`].
    pub suppressions: Option<PathBuf>,
    /// Send a hot loop's consecutive accesses of one task to one variable (nothing else of the
    /// task in between) to the server as one `StateChange` carrying their count in
    /// `metadata.tags["raceway.count"]` (`RACEWAY_COALESCE_ACCESSES`). It changes no server
    /// verdict on the run itself (the run races exactly when one of its accesses does) and keeps a
    /// loop of a million increments from becoming a million-event parent chain. Default true. A
    /// position handed out without an event (`Context::current`, a request's or response's
    /// `raceway-clock`) ends the run at that access, which keeps its own id, so whatever
    /// continues from it names an event the server gets. The embedded analyzer always sees every
    /// access.
    pub coalesce_accesses: bool,
    /// Most variables the embedded analyzer remembers; past it, the least recently used are
    /// forgotten and counted in the report (races on them may then be missed, never invented).
    /// Default 250,000 (about 85 MB of analysis state).
    pub analyzer_max_variables: usize,
    /// Where the analyzer writes its report as JSON at shutdown (`RACEWAY_REPORT_JSON`). `{pid}`
    /// and `{service}` in the path are replaced, so parallel processes never overwrite each other.
    pub report_json: Option<String>,
    /// Where it writes SARIF 2.1.0, for GitHub code scanning (`RACEWAY_REPORT_SARIF`); same
    /// placeholders.
    pub report_sarif: Option<String>,
    /// Where it writes the self-contained HTML report with a timeline per race
    /// (`RACEWAY_REPORT_HTML`); same placeholders.
    pub report_html: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server_url: None,
            service_name: "unknown-service".into(),
            instance_id: default_instance_id(),
            environment: "development".into(),
            batch_size: 100,
            flush_interval: Duration::from_secs(1),
            tags: BTreeMap::new(),
            debug: false,
            api_key: None,
            enabled: true,
            queue_capacity: 16_384,
            request_timeout: Duration::from_secs(10),
            max_batch_bytes: 1024 * 1024,
            max_value_bytes: 4096,
            capture_args: true,
            shutdown_timeout: Duration::from_secs(5),
            analyze: None,
            exit_code_on_findings: None,
            suppressions: None,
            coalesce_accesses: true,
            analyzer_max_variables: DEFAULT_ANALYZER_MAX_VARIABLES,
            report_json: None,
            report_sarif: None,
            report_html: None,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, $name: $ty) -> Self {
            self.$name = $name;
            self
        }
    )*};
}

impl Config {
    /// The defaults, overridden by `RACEWAY_URL`, `RACEWAY_SERVICE_NAME`, `RACEWAY_INSTANCE_ID`,
    /// `RACEWAY_ENVIRONMENT`, `RACEWAY_API_KEY`, `RACEWAY_DEBUG`, `RACEWAY_ENABLED`, `RACEWAY_ANALYZE`,
    /// `RACEWAY_COALESCE_ACCESSES`, `RACEWAY_REPORT_JSON`, `RACEWAY_REPORT_SARIF`, `RACEWAY_REPORT_HTML`,
    /// `RACEWAY_EXITCODE` and `RACEWAY_SUPPRESSIONS`. (The last five are also read at `init` or
    /// shutdown when the configuration leaves them unset, like TSan's options.)
    ///
    /// Booleans accept `1/0`, `true/false`, `yes/no`, `on/off` (any case). Empty variables count
    /// as unset.
    ///
    /// ```
    /// let config = raceway::Config::from_env()?;
    /// # Ok::<(), raceway::Error>(())
    /// ```
    pub fn from_env() -> Result<Config, Error> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`Config::from_env`] over any source of variables (testable without touching the process
    /// environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut c = Config::default();
        if let Some(v) = get("RACEWAY_URL") {
            c.server_url = Some(v);
        }
        if let Some(v) = get("RACEWAY_SERVICE_NAME") {
            c.service_name = v;
        }
        if let Some(v) = get("RACEWAY_INSTANCE_ID") {
            c.instance_id = v;
        }
        if let Some(v) = get("RACEWAY_ENVIRONMENT") {
            c.environment = v;
        }
        if let Some(v) = get("RACEWAY_API_KEY") {
            c.api_key = Some(v);
        }
        if let Some(v) = get("RACEWAY_DEBUG") {
            c.debug = parse_bool("RACEWAY_DEBUG", &v)?;
        }
        if let Some(v) = get("RACEWAY_ENABLED") {
            c.enabled = parse_bool("RACEWAY_ENABLED", &v)?;
        }
        if let Some(v) = get("RACEWAY_ANALYZE") {
            c.analyze = Some(parse_bool("RACEWAY_ANALYZE", &v)?);
        }
        if let Some(v) = get("RACEWAY_EXITCODE") {
            c.exit_code_on_findings = Some(parse_exit_code(&v)?);
        }
        if let Some(v) = get("RACEWAY_SUPPRESSIONS") {
            c.suppressions = Some(PathBuf::from(v));
        }
        if let Some(v) = get("RACEWAY_COALESCE_ACCESSES") {
            c.coalesce_accesses = parse_bool("RACEWAY_COALESCE_ACCESSES", &v)?;
        }
        c.report_json = get("RACEWAY_REPORT_JSON");
        c.report_sarif = get("RACEWAY_REPORT_SARIF");
        c.report_html = get("RACEWAY_REPORT_HTML");
        Ok(c)
    }

    /// Sets the server URL.
    #[must_use]
    pub fn server_url(mut self, url: impl Into<String>) -> Self {
        self.server_url = Some(url.into());
        self
    }

    /// Sets the service name.
    #[must_use]
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Sets the instance id.
    #[must_use]
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = id.into();
        self
    }

    /// Sets the environment.
    #[must_use]
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.environment = env.into();
        self
    }

    /// Adds a tag to every event.
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Sets the API key.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    setters! {
        /// Sets the batch size.
        batch_size: usize,
        /// Sets the flush interval.
        flush_interval: Duration,
        /// Turns debug logging on or off.
        debug: bool,
        /// Turns the SDK on or off.
        enabled: bool,
        /// Sets the queue capacity.
        queue_capacity: usize,
        /// Sets the per-request timeout.
        request_timeout: Duration,
        /// Sets the maximum request body size.
        max_batch_bytes: usize,
        /// Sets the cap on captured strings.
        max_value_bytes: usize,
        /// Turns argument capture on or off.
        capture_args: bool,
        /// Sets how long shutdown may spend delivering.
        shutdown_timeout: Duration,
        /// Turns the coalescing of hot loops' accesses on the way to the server on or off
        /// (on by default; off: every access is sent as its own event).
        ///
        /// ```
        /// assert!(raceway::Config::default().coalesce_accesses);
        /// let config = raceway::Config::default().server_url("http://localhost:8080").coalesce_accesses(false);
        /// assert!(!config.coalesce_accesses);
        /// ```
        coalesce_accesses: bool,
        /// Sets how many variables the embedded analyzer remembers (least recently used forgotten).
        ///
        /// ```
        /// let config = raceway::Config::default().analyzer_max_variables(1_000_000);
        /// assert_eq!(config.analyzer_max_variables, 1_000_000);
        /// ```
        analyzer_max_variables: usize,
    }

    /// Turns the embedded analyzer on or off, overriding the default (on without a server).
    ///
    /// ```
    /// // Ship to a server and also print a local race report at shutdown.
    /// let config = raceway::Config::default().server_url("http://localhost:8080").analyze(true);
    /// assert!(config.analyzer_on());
    /// assert!(raceway::Config::default().analyzer_on());
    /// ```
    #[must_use]
    pub fn analyze(mut self, on: bool) -> Self {
        self.analyze = Some(on);
        self
    }

    /// Makes shutdown exit the process with `code` after printing the report, when the report
    /// has findings that no suppression hides: a CI job running a whole program fails on a race
    /// (TSan's `exitcode`; the environment's `RACEWAY_EXITCODE=66` does the same).
    ///
    /// ```
    /// let config = raceway::Config::default().exit_code_on_findings(66);
    /// assert_eq!(config.exit_code_on_findings, Some(66));
    /// ```
    #[must_use]
    pub fn exit_code_on_findings(mut self, code: i32) -> Self {
        self.exit_code_on_findings = Some(code);
        self
    }

    /// Reads suppressions from the file at `path` at `init` (`race:cache.*`,
    /// `location:src/metrics.rs`; see [`crate::Suppressions`]); an unreadable file or a
    /// malformed line is reported on stderr once and otherwise ignored.
    ///
    /// ```
    /// let config = raceway::Config::default().suppressions("raceway.supp");
    /// assert!(config.suppressions.is_some());
    /// ```
    #[must_use]
    pub fn suppressions(mut self, path: impl Into<PathBuf>) -> Self {
        self.suppressions = Some(path.into());
        self
    }

    /// Writes the report as JSON to `path` at shutdown (`{pid}` and `{service}` are replaced).
    ///
    /// ```
    /// let config = raceway::Config::default()
    ///     .report_json("target/raceway-{service}-{pid}.json")
    ///     .report_sarif("target/raceway-{pid}.sarif")
    ///     .report_html("target/raceway-{pid}.html");
    /// assert_eq!(config.report_sarif.as_deref(), Some("target/raceway-{pid}.sarif"));
    /// ```
    #[must_use]
    pub fn report_json(mut self, path: impl Into<String>) -> Self {
        self.report_json = Some(path.into());
        self
    }

    /// Writes the report as SARIF 2.1.0 to `path` at shutdown (see [`Config::report_json`]).
    #[must_use]
    pub fn report_sarif(mut self, path: impl Into<String>) -> Self {
        self.report_sarif = Some(path.into());
        self
    }

    /// Writes the HTML report to `path` at shutdown (see [`Config::report_json`]).
    #[must_use]
    pub fn report_html(mut self, path: impl Into<String>) -> Self {
        self.report_html = Some(path.into());
        self
    }

    /// Whether `init` will run the embedded analyzer with this configuration.
    pub fn analyzer_on(&self) -> bool {
        self.analyze.unwrap_or(self.server_url.is_none())
    }

    /// Checks the values `init` depends on.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: &str| Err(Error::InvalidConfig { field, reason: reason.into() });
        if let Some(url) = &self.server_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad("server_url", "must start with http:// or https://");
            }
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.queue_capacity == 0 {
            return bad("queue_capacity", "must be at least 1");
        }
        if self.analyzer_max_variables == 0 {
            return bad("analyzer_max_variables", "must be at least 1");
        }
        if self.max_batch_bytes < 1024 || self.max_batch_bytes > 2 * 1024 * 1024 - 1024 {
            return bad("max_batch_bytes", "must be between 1 KiB and just under the server's 2 MiB limit");
        }
        if self.flush_interval.is_zero() {
            return bad("flush_interval", "must be greater than zero");
        }
        if self.service_name.is_empty() {
            return bad("service_name", "must not be empty");
        }
        Ok(())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server_url", &self.server_url)
            .field("service_name", &self.service_name)
            .field("instance_id", &self.instance_id)
            .field("environment", &self.environment)
            .field("batch_size", &self.batch_size)
            .field("flush_interval", &self.flush_interval)
            .field("tags", &self.tags)
            .field("debug", &self.debug)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("queue_capacity", &self.queue_capacity)
            .field("request_timeout", &self.request_timeout)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("capture_args", &self.capture_args)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("analyze", &self.analyze)
            .field("exit_code_on_findings", &self.exit_code_on_findings)
            .field("suppressions", &self.suppressions)
            .field("coalesce_accesses", &self.coalesce_accesses)
            .field("analyzer_max_variables", &self.analyzer_max_variables)
            .field("report_json", &self.report_json)
            .field("report_sarif", &self.report_sarif)
            .field("report_html", &self.report_html)
            .finish()
    }
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, Error> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::InvalidEnv { var, reason: "expected true/false, 1/0, yes/no or on/off" }),
    }
}

fn parse_exit_code(v: &str) -> Result<i32, Error> {
    v.trim()
        .parse()
        .map_err(|_| Error::InvalidEnv { var: "RACEWAY_EXITCODE", reason: "expected an integer exit status" })
}

/// `<hostname>-<pid>`: the system's host name (`gethostname(2)`, `GetComputerNameExW` on
/// Windows), else `localhost`.
fn default_instance_id() -> String {
    let host = gethostname::gethostname().to_string_lossy().trim().to_owned();
    let host = if host.is_empty() { "localhost".to_owned() } else { host };
    format!("{host}-{}", std::process::id())
}

// Settings read on the hot path while capturing values; set by `init`.
static MAX_VALUE_BYTES: AtomicUsize = AtomicUsize::new(4096);
static CAPTURE_ARGS: AtomicBool = AtomicBool::new(true);

pub(crate) fn max_value_bytes() -> usize {
    MAX_VALUE_BYTES.load(Ordering::Relaxed)
}

#[inline]
pub(crate) fn capture_args() -> bool {
    CAPTURE_ARGS.load(Ordering::Relaxed)
}

/// The report files of the running configuration (read once, at shutdown).
#[derive(Clone, Debug, Default)]
pub(crate) struct ReportFiles {
    pub json: Option<String>,
    pub sarif: Option<String>,
    pub html: Option<String>,
    pub service: String,
}

static REPORT_FILES: std::sync::Mutex<Option<ReportFiles>> = std::sync::Mutex::new(None);

#[cfg_attr(not(raceway_on), allow(dead_code))]
/// Where the report goes at shutdown: the configuration's paths, else the environment's (so that
/// `RACEWAY_REPORT_*` works with a `Config` built in code, as `RACEWAY_REPORT_JSON` always did).
pub(crate) fn report_files() -> ReportFiles {
    let set = REPORT_FILES.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    ReportFiles {
        json: set.json.or_else(|| env("RACEWAY_REPORT_JSON")),
        sarif: set.sarif.or_else(|| env("RACEWAY_REPORT_SARIF")),
        html: set.html.or_else(|| env("RACEWAY_REPORT_HTML")),
        service: if set.service.is_empty() { "unknown-service".into() } else { set.service },
    }
}

/// Makes `config`'s hot-path settings the ones recording reads.
pub(crate) fn apply_runtime_settings(config: &Config) {
    *REPORT_FILES.lock().unwrap_or_else(|e| e.into_inner()) = Some(ReportFiles {
        json: config.report_json.clone(),
        sarif: config.report_sarif.clone(),
        html: config.report_html.clone(),
        service: config.service_name.clone(),
    });
    MAX_VALUE_BYTES.store(config.max_value_bytes.max(16), Ordering::Relaxed);
    CAPTURE_ARGS.store(config.capture_args, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_match_the_go_sdk() {
        let c = Config::default();
        assert_eq!(c.server_url, None);
        assert_eq!(c.service_name, "unknown-service");
        assert_eq!(c.environment, "development");
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.flush_interval, Duration::from_secs(1));
        assert!(c.instance_id.ends_with(&format!("-{}", std::process::id())));
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert!(c.max_batch_bytes < 2 * 1024 * 1024);
    }

    #[test]
    fn exit_code_and_suppressions_are_read_from_the_environment_and_a_bad_code_is_an_error() {
        let c = Config::from_lookup(env(&[("RACEWAY_EXITCODE", "66"), ("RACEWAY_SUPPRESSIONS", "ci.supp")])).unwrap();
        assert_eq!(c.exit_code_on_findings, Some(66));
        assert_eq!(c.suppressions.as_deref(), Some(std::path::Path::new("ci.supp")));
        assert_eq!(Config::default().exit_code_on_findings, None);
        let err = Config::from_lookup(env(&[("RACEWAY_EXITCODE", "sixty")])).unwrap_err();
        assert!(err.to_string().contains("RACEWAY_EXITCODE"));
    }

    #[test]
    fn every_environment_variable_is_read() {
        let c = Config::from_lookup(env(&[
            ("RACEWAY_URL", "http://127.0.0.1:9"),
            ("RACEWAY_SERVICE_NAME", "svc"),
            ("RACEWAY_INSTANCE_ID", "i-1"),
            ("RACEWAY_ENVIRONMENT", "prod"),
            ("RACEWAY_API_KEY", "k"),
            ("RACEWAY_DEBUG", "TRUE"),
            ("RACEWAY_ENABLED", "0"),
        ]))
        .unwrap();
        assert_eq!(c.server_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!((c.service_name.as_str(), c.instance_id.as_str()), ("svc", "i-1"));
        assert_eq!(c.environment, "prod");
        assert_eq!(c.api_key.as_deref(), Some("k"));
        assert!(c.debug);
        assert!(!c.enabled);
    }

    #[test]
    fn the_analyzer_is_on_without_a_server_unless_switched() {
        assert!(Config::default().analyzer_on());
        assert!(!Config::default().server_url("http://x").analyzer_on());
        let c = Config::from_lookup(env(&[("RACEWAY_URL", "http://x"), ("RACEWAY_ANALYZE", "on")])).unwrap();
        assert!(c.analyzer_on());
        let c = Config::from_lookup(env(&[("RACEWAY_ANALYZE", "0")])).unwrap();
        assert!(!c.analyzer_on());
    }

    #[test]
    fn a_bad_boolean_names_the_variable_but_not_the_value() {
        let err = Config::from_lookup(env(&[("RACEWAY_DEBUG", "maybe-secret")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("RACEWAY_DEBUG") && !msg.contains("maybe-secret"), "{msg}");
    }

    #[test]
    fn debug_output_redacts_the_api_key() {
        let c = Config::default().api_key("hunter2-key");
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"));
    }

    #[test]
    fn validation_rejects_unusable_values() {
        assert!(Config::default().server_url("localhost:8080").validate().is_err());
        assert!(Config::default().batch_size(0).validate().is_err());
        assert!(Config::default().max_batch_bytes(3 << 20).validate().is_err());
        assert!(Config::default().server_url("https://raceway.example").validate().is_ok());
    }
}
