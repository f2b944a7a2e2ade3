//! The report files written at shutdown (JSON, SARIF, HTML) and GitHub Actions annotations.

use super::Report;
use crate::config::ReportFiles;

/// `{pid}`, `{service}` and `{test}` replaced, so that the test processes of one `cargo test` run
/// (or nextest's one process per test) each write a file of their own.
///
/// `test` is the failing `#[raceway::test]`'s name (`None` at shutdown, where `{test}` becomes
/// empty). Tests of one process share its pid, so in a test a path without `{test}` gets the
/// name after the pid (`raceway-{pid}.sarif` → `raceway-4242-withdraw.sarif`): two failing tests
/// never overwrite each other's file.
pub(crate) fn expand(template: &str, service: &str, test: Option<&str>) -> String {
    // Names become part of a file name: keep them to characters every file system takes.
    let safe = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect()
    };
    let pid = std::process::id().to_string();
    let mut path = template.to_owned();
    if let Some(test) = test {
        if !path.contains("{test}") {
            path = path.replace("{pid}", "{pid}-{test}");
        }
        path = path.replace("{test}", &safe(test));
    } else {
        path = path.replace("{test}", "");
    }
    path.replace("{pid}", &pid).replace("{service}", &safe(service))
}

/// Writes every configured file; a file that cannot be written is reported on stderr, never a
/// panic at shutdown.
pub(crate) fn write_files(report: &Report, files: &ReportFiles) {
    write(report, files, None);
}

/// The same for a failing `#[raceway::test]`: the paths of `RACEWAY_REPORT_*` (or the running
/// configuration's) with `{test}` set, and the GitHub annotations (a test failure's output is
/// printed by the test harness, and the runner reads the workflow commands in it).
pub(crate) fn write_test_files(report: &Report, test: &str) {
    write(report, &crate::config::report_files(), Some(test));
}

fn write(report: &Report, files: &ReportFiles, test: Option<&str>) {
    type Render = fn(&Report) -> String;
    let outputs: [(&Option<String>, &str, Render); 3] = [
        (&files.json, "JSON", Report::to_json),
        (&files.sarif, "SARIF", Report::to_sarif),
        (&files.html, "HTML", Report::to_html),
    ];
    for (template, what, render) in outputs {
        if let Some(template) = template {
            let path = expand(template, &files.service, test);
            // A report directory such as `target/raceway/` need not exist beforehand.
            if let Some(dir) = std::path::Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
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
            let message = r.one_line();
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
        let p = expand("out/{service}-{pid}.json", "bank api/v2", None);
        assert_eq!(p, format!("out/bank_api_v2-{}.json", std::process::id()));
    }

    #[test]
    fn in_a_test_the_test_name_keeps_two_failing_tests_of_one_process_apart() {
        let pid = std::process::id();
        assert_eq!(expand("r-{pid}.sarif", "s", Some("a::withdraw")), format!("r-{pid}-a__withdraw.sarif"));
        assert_eq!(expand("r/{test}.html", "s", Some("deposit")), "r/deposit.html");
        assert_eq!(expand("r/{test}{pid}.html", "s", None), format!("r/{pid}.html"));
    }
}
