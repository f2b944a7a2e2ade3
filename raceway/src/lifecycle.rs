//! `init`, `shutdown`, `stats` and the [`Guard`]: installing and removing the process-wide
//! client. The only module that wires stages together: it sets the process identity, builds the
//! sinks a configuration asks for (the HTTP exporter, the analyzer) and starts the delivery
//! thread that feeds them. (`flush` belongs to the stage that holds the buffer: [`crate::stage`].)
//!
//! None of these needs a tokio runtime or blocks one for long: the delivery thread is a plain
//! thread and the exporter owns its own I/O runtime, so they work the same from `main`, inside any
//! runtime flavour, and from `Drop` while a runtime shuts down.

use crate::analyzer::Suppressions;
use crate::config::Config;
use crate::context::process::{self, Process};
use crate::error::Error;
use crate::stage::dispatch::{self, Dispatch};
use crate::stage::sink::Sink;
use crate::stage::stats::{Counters, Stats};
use crate::stage::worker::Worker;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Running {
    dispatch: Arc<Dispatch>,
    worker: Option<std::thread::JoinHandle<()>>,
    shutdown_timeout: Duration,
    debug: bool,
    suppressions: Suppressions,
    exit_code: Option<i32>,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);
/// Counters of the last client, kept after shutdown so they can still be read.
static LAST_STATS: Mutex<Option<Arc<Dispatch>>> = Mutex::new(None);

/// Installs the process-wide client and starts the exporter.
///
/// Keep the returned [`Guard`] alive for the program's life: dropping it flushes what was recorded
/// and stops the exporter. With `config.enabled == false` nothing is installed and every tracking
/// call stays a no-op.
///
/// ```
/// let _guard = raceway::init(raceway::Config::default().service_name("docs"))?;
/// raceway::track_write("x", &1, &2);
/// # Ok::<(), raceway::Error>(())
/// ```
///
/// # Errors
/// [`Error::AlreadyInitialized`] if a client is installed, [`Error::InvalidConfig`] for unusable
/// settings, [`Error::ExporterStart`] if the exporter thread cannot be started.
pub fn init(config: Config) -> Result<Guard, Error> {
    config.validate()?;
    if !config.enabled || !cfg!(raceway_on) {
        return Ok(Guard { active: false });
    }
    let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    if running.is_some() {
        return Err(Error::AlreadyInitialized);
    }
    let process = Arc::new(Process::from_config(&config));
    process::set(process.clone());
    crate::config::apply_runtime_settings(&config);

    // The analyzer as the only sink loses nothing (recording waits for it when the queue is full);
    // a server in the loop must never slow the program down, so its pipeline drops and counts.
    let lossless = config.server_url.is_none() && config.analyzer_on();
    let dispatch = Arc::new(Dispatch::new(config.queue_capacity, config.batch_size, config.shutdown_timeout, lossless));
    let sinks = sinks_for(&config, &process, &dispatch)?;
    let worker = Worker::new(dispatch.clone(), sinks, &config);
    let handle = std::thread::Builder::new()
        .name("raceway-exporter".into())
        .spawn(move || worker.run())
        .map_err(Error::ExporterStart)?;
    dispatch.queue.set_worker(handle.thread().clone());
    if !dispatch::install(dispatch.clone()) {
        // Unreachable while RUNNING is held, but never leave a worker behind.
        stop_worker(&dispatch, Some(handle), config.shutdown_timeout);
        return Err(Error::AlreadyInitialized);
    }
    *LAST_STATS.lock().unwrap_or_else(|e| e.into_inner()) = Some(dispatch.clone());
    if config.debug {
        eprintln!("[raceway] initialized: {:?}", config);
    }
    // Like TSan's options, the environment applies even to a configuration built in code.
    let exit_code = config.exit_code_on_findings.or_else(|| {
        let v = std::env::var("RACEWAY_EXITCODE").ok().filter(|v| !v.trim().is_empty())?;
        let code = v.trim().parse().ok();
        if code.is_none() {
            eprintln!("[raceway] RACEWAY_EXITCODE={v:?} is not an integer; ignored");
        }
        code
    });
    let suppressions = load_suppressions(
        config
            .suppressions
            .clone()
            .or_else(|| std::env::var_os("RACEWAY_SUPPRESSIONS").filter(|p| !p.is_empty()).map(Into::into)),
    );
    *running = Some(Running {
        dispatch,
        worker: Some(handle),
        shutdown_timeout: config.shutdown_timeout,
        debug: config.debug,
        suppressions,
        exit_code,
    });
    Ok(Guard { active: true })
}

/// The suppressions file's rules; what cannot be read or parsed is said once on stderr and
/// skipped, because a typo in a CI file must not take the program down.
fn load_suppressions(path: Option<std::path::PathBuf>) -> Suppressions {
    let Some(path) = path else { return Suppressions::default() };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (rules, problems) = Suppressions::parse(&text);
            for p in problems {
                eprintln!("[raceway] suppressions {}: {p}; line ignored", path.display());
            }
            rules
        }
        Err(e) => {
            eprintln!("[raceway] could not read the suppressions file {}: {e}", path.display());
            Suppressions::default()
        }
    }
}

/// The sinks `config` asks for: the Raceway server's, then the analyzer's.
fn sinks_for(config: &Config, process: &Process, dispatch: &Arc<Dispatch>) -> Result<Vec<Box<dyn Sink>>, Error> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(url) = &config.server_url {
        #[cfg(all(raceway_on, feature = "exporter"))]
        {
            let metadata = crate::exporter::wire::Metadata::new(
                &process.service,
                &process.instance_id,
                &process.environment,
                &process.tags,
                process.pid,
            );
            sinks.push(Box::new(crate::exporter::HttpSink::new(url, config, metadata, dispatch.clone())?));
        }
        #[cfg(not(all(raceway_on, feature = "exporter")))]
        {
            let _ = (url, process, dispatch);
            return Err(Error::InvalidConfig {
                field: "server_url",
                reason: "needs the `exporter` feature of the raceway crate".into(),
            });
        }
    }
    // Last, so that a failing server sink above cannot leave a started analyzer behind.
    if config.analyzer_on() {
        sinks.push(Box::new(crate::analyzer::AnalyzerSink::start(config.analyzer_max_variables)));
    }
    Ok(sinks)
}

/// Flushes and stops the exporter; later tracking calls are no-ops until the next `init`.
/// Safe to call more than once. Returns whether everything queued was handled in time.
///
/// With [`Config::exit_code_on_findings`] (or `RACEWAY_EXITCODE`) set and findings in the final
/// report that no suppression hides, this does not return: it exits the process with that status
/// after printing the report.
///
/// ```
/// let guard = raceway::init(raceway::Config::default())?;
/// raceway::shutdown();
/// raceway::shutdown(); // harmless
/// drop(guard);         // also harmless
/// # Ok::<(), raceway::Error>(())
/// ```
pub fn shutdown() -> bool {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Some(mut r) = running else { return true };
    dispatch::uninstall();
    let ok = stop_worker(&r.dispatch, r.worker.take(), r.shutdown_timeout);
    // After the worker stopped, so the report covers every delivered event.
    let findings = crate::analyzer::finish_run(&r.suppressions);
    let s = r.dispatch.queue.counters.snapshot();
    let lost = s.dropped_queue_full + s.rejected + s.undeliverable;
    if lost > 0 || s.server_dropped > 0 || r.debug {
        eprintln!(
            "[raceway] shutdown: {} events delivered, {} dropped (queue full), {} rejected by the server, {} undeliverable, {} dropped by the server's queue",
            s.delivered, s.dropped_queue_full, s.rejected, s.undeliverable, s.server_dropped
        );
    }
    if let (true, Some(code)) = (findings, r.exit_code) {
        // After everything is printed and written: the exit status is the last word.
        eprintln!("[raceway] exiting with status {code}: the report has findings");
        std::process::exit(code);
    }
    ok
}

fn stop_worker(d: &Dispatch, worker: Option<std::thread::JoinHandle<()>>, timeout: Duration) -> bool {
    d.begin_shutdown(Instant::now() + timeout);
    d.queue.wake();
    match worker {
        Some(h) => h.join().is_ok(),
        None => true,
    }
}

/// Counters of the installed (or last installed) client: drops, deliveries, retries.
///
/// ```
/// let s = raceway::stats();
/// println!("{} events delivered, {} dropped", s.delivered, s.dropped_queue_full);
/// ```
pub fn stats() -> Stats {
    LAST_STATS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|d| d.queue.counters.snapshot())
        // The process-wide counters still count with nothing installed.
        .unwrap_or_else(|| Counters::default().snapshot())
}

/// Keeps the client installed; dropping it calls [`shutdown`].
///
/// ```
/// fn main() -> Result<(), raceway::Error> {
///     let _guard = raceway::init(raceway::Config::default().service_name("app"))?;
///     // ... the program ...
///     Ok(()) // the guard drops here: everything recorded is flushed
/// }
/// # main().unwrap();
/// ```
#[must_use = "dropping the guard shuts raceway down at once"]
#[derive(Debug)]
pub struct Guard {
    active: bool,
}

impl Guard {
    /// Whether this guard installed a client (false when disabled by configuration).
    pub fn is_active(&self) -> bool {
        self.active
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.active {
            shutdown();
        }
    }
}
