//! The report files written at shutdown (JSON, SARIF, HTML) and GitHub Actions annotations.

use super::Report;
use crate::config::ReportFiles;

/// `{pid}` and `{service}` replaced, so that the test processes of one `cargo test` run (or
/// nextest's one process per test) each write a file of their own.
pub(crate) fn expand(template: &str, service: &str) -> String {
    // A service name becomes part of a file name: keep it to characters every file system takes.
    let service: String = service
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    template.replace("{pid}", &std::process::id().to_string()).replace("{service}", &service)
}

/// Writes every configured file; a file that cannot be written is reported on stderr, never a
/// panic at shutdown.
pub(crate) fn write_files(report: &Report, files: &ReportFiles) {
    type Render = fn(&Report) -> String;
    let outputs: [(&Option<String>, &str, Render); 3] = [
        (&files.json, "JSON", Report::to_json),
        (&files.sarif, "SARIF", Report::to_sarif),
        (&files.html, "HTML", Report::to_html),
    ];
    for (template, what, render) in outputs {
        if let Some(template) = template {
            let path = expand(template, &files.service);
            if let Err(e) = std::fs::write(&path, render(report)) {
                eprintln!("[raceway] could not write the {what} report to {path}: {e}");
            }
        }
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        eprint!("{}", report.github_annotations());
    }
}

/// GitHub's escaping of a workflow command's data (the message).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// GitHub's escaping of a workflow command's property (`file=`, `title=`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

impl Report {
    /// The findings as GitHub Actions workflow commands (`::error file=..,line=..::message`),
    /// one line each, escaped by GitHub's rules. Printed at shutdown when `GITHUB_ACTIONS=true`.
    ///
    /// ```
    /// let report = raceway::testing::capture(|| {
    ///     let h = raceway::thread::spawn(|| raceway::track_write("x", &0, &1));
    ///     raceway::track_write("x", &0, &2);
    ///     h.join().unwrap();
    /// }).report;
    /// let lines = report.github_annotations();
    /// assert!(lines.starts_with(&format!("::error file={},line=", file!())));
    /// ```
    pub fn github_annotations(&self) -> String {
        let mut out = String::new();
        let mut line = |level: &str, loc: &crate::event::location::Location, title: &str, message: String| {
            out.push_str(&format!(
                "::{level} file={},line={},col={},title={}::{}\n",
                escape_property(loc.file),
                loc.line,
                loc.column,
                escape_property(title),
                escape_data(&message)
            ));
        };
        for r in &self.races {
            let message = format!(
                "{} race on `{}`: {} at {} by {} races with {} at {} by {} (seen {} times)",
                r.severity.as_str(),
                r.variable,
                r.second.access_type.as_str(),
                r.second.location,
                r.second.task_label(),
                r.first.access_type.as_str(),
                r.first.location,
                r.first.task_label(),
                r.count
            );
            let level = if r.severity == super::Severity::Critical { "error" } else { "warning" };
            line(level, &r.second.location, "raceway: data race", message);
        }
        for v in &self.atomicity {
            line("error", &v.write.location, "raceway: stale read-modify-write", v.why());
        }
        for d in &self.deadlocks {
            if let Some(s) = d.steps.first() {
                let message = format!("potential deadlock: lock-order cycle through {}", d.locks.join(", "));
                line("error", &s.acquired_at, "raceway: lock-order inversion", message);
            }
        }
        for h in &self.held_across_await {
            let message = format!("`{}` held across an .await in `{}`", h.lock, h.function);
            line("warning", &h.acquired_at, "raceway: lock held across await", message);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_properties_escape_colons_commas_and_newlines() {
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(escape_data("50%: a,b\r\n"), "50%25: a,b%0D%0A");
    }

    #[test]
    fn placeholders_are_replaced_and_service_names_made_file_safe() {
        let p = expand("out/{service}-{pid}.json", "bank api/v2");
        assert_eq!(p, format!("out/bank_api_v2-{}.json", std::process::id()));
    }
}
