//! Suppressions, in ThreadSanitizer's convention: a file of `kind:pattern` lines whose matching
//! findings are taken out of a report (and counted in its summary). The one place that decides
//! whether a finding is suppressed: the shutdown report (`RACEWAY_SUPPRESSIONS`,
//! `Config::suppressions`) and `#[raceway::test(allow = "..")]` both go through it.
//!
//! | line | hides |
//! |---|---|
//! | `race:<glob>` | races whose variables all match |
//! | `location:<glob>` | any finding with an access (or lock site) at a matching `file` or `file:line`; a pattern also matches the end of a path after a `/`, so `location:src/metrics.rs` matches `crate/src/metrics.rs` |
//! | `deadlock:<glob>` | lock-order cycles with a lock whose name matches |
//! | `atomicity:<glob>` | stale read-modify-writes on a matching variable |
//! | `held:<glob>` | locks held across `.await` whose lock name matches |
//!
//! A glob is matched against the whole name; `*` matches any run of characters (`/` included).
//! `#` starts a comment; blank lines are ignored; a malformed line is reported and skipped, never
//! fatal.

use super::{RaceAccess, Report};
use crate::event::location::Location;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a suppression line names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// `race:`
    Race,
    /// `location:`
    Location,
    /// `deadlock:`
    Deadlock,
    /// `atomicity:`
    Atomicity,
    /// `held:`
    Held,
    /// A bare pattern (`#[raceway::test(allow = "cache.*")]`): any finding's variable or lock.
    Any,
}

#[derive(Debug)]
struct Rule {
    kind: Kind,
    pattern: String,
    /// The line as written, to name it when it matched nothing.
    text: String,
    /// Findings it hid. Atomic so that a shared set can be applied from any thread.
    hits: AtomicU64,
}

/// A parsed set of suppression rules.
///
/// ```
/// let (rules, problems) = raceway::Suppressions::parse("# known\nrace:cache.*\nlocation:src/metrics.rs:42\n");
/// assert!(problems.is_empty());
/// assert_eq!(rules.len(), 2);
/// let mut report = raceway::testing::capture(|| {
///     let h = raceway::thread::spawn(|| raceway::track_write("cache.hits", &0, &1));
///     raceway::track_write("cache.hits", &0, &2);
///     h.join().unwrap();
/// }).report;
/// rules.apply(&mut report);
/// assert!(report.is_clean());
/// assert_eq!(report.suppressed, 1);
/// assert_eq!(rules.unmatched(), ["location:src/metrics.rs:42"]);
/// ```
#[derive(Debug, Default)]
pub struct Suppressions {
    rules: Vec<Rule>,
}

impl Suppressions {
    /// Parses a suppressions file's text. Returns the rules and one message per malformed line
    /// (`line N: ...`); those lines are skipped.
    ///
    /// ```
    /// let (rules, problems) = raceway::Suppressions::parse("race:a*  # known\nrace a\n\n");
    /// assert_eq!(rules.len(), 1);
    /// assert_eq!(problems.len(), 1);
    /// assert!(problems[0].starts_with("line 2:"));
    /// ```
    pub fn parse(text: &str) -> (Suppressions, Vec<String>) {
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((kind, pattern)) = line.split_once(':') else {
                problems.push(format!(
                    "line {}: `{line}`: expected `kind:pattern` (race, location, deadlock, atomicity, held)",
                    n + 1
                ));
                continue;
            };
            let kind = match kind.trim() {
                "race" => Kind::Race,
                "location" => Kind::Location,
                "deadlock" => Kind::Deadlock,
                "atomicity" => Kind::Atomicity,
                "held" => Kind::Held,
                other => {
                    problems.push(format!(
                        "line {}: unknown kind `{other}` (expected race, location, deadlock, atomicity or held)",
                        n + 1
                    ));
                    continue;
                }
            };
            let pattern = pattern.trim();
            if pattern.is_empty() {
                problems.push(format!("line {}: `{line}` has an empty pattern", n + 1));
                continue;
            }
            rules.push(Rule::new(kind, pattern, line));
        }
        (Suppressions { rules }, problems)
    }

    /// Rules from `#[raceway::test(allow = "..")]` patterns: `kind:pattern` as in a file, or a
    /// bare glob that matches any finding's variable or lock name. Malformed ones are returned.
    ///
    /// ```
    /// let (rules, problems) = raceway::Suppressions::from_patterns(["metrics.*", "location:src/legacy.rs"]);
    /// assert_eq!((rules.len(), problems.len()), (2, 0));
    /// ```
    pub fn from_patterns<'a>(patterns: impl IntoIterator<Item = &'a str>) -> (Suppressions, Vec<String>) {
        let mut all = Suppressions::default();
        let mut problems = Vec::new();
        for p in patterns {
            let known = ["race:", "location:", "deadlock:", "atomicity:", "held:"];
            if known.iter().any(|k| p.trim_start().starts_with(k)) {
                let (mut one, mut bad) = Suppressions::parse(p);
                all.rules.append(&mut one.rules);
                problems.append(&mut bad);
            } else {
                all.rules.push(Rule::new(Kind::Any, p.trim(), p));
            }
        }
        (all, problems)
    }

    /// The number of rules.
    ///
    /// ```
    /// assert_eq!(raceway::Suppressions::parse("race:a\nrace:b").0.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    ///
    /// ```
    /// assert!(raceway::Suppressions::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Removes the findings that a rule matches from `report`, adding their number to
    /// `report.suppressed`. Returns how many were removed.
    ///
    /// ```
    /// let (rules, _) = raceway::Suppressions::parse("race:x");
    /// let mut report = raceway::testing::capture(|| {
    ///     let h = raceway::thread::spawn(|| raceway::track_write("x", &0, &1));
    ///     raceway::track_write("x", &0, &2);
    ///     h.join().unwrap();
    /// }).report;
    /// assert_eq!(rules.apply(&mut report), 1);
    /// assert!(report.summary().ends_with("; 1 finding suppressed"));
    /// ```
    pub fn apply(&self, report: &mut Report) -> u64 {
        if self.rules.is_empty() {
            return 0;
        }
        let before =
            report.races.len() + report.deadlocks.len() + report.atomicity.len() + report.held_across_await.len();
        report.races.retain(|r| {
            let names: Vec<&str> = if r.variables.is_empty() {
                vec![r.variable.as_str()]
            } else {
                r.variables.iter().map(String::as_str).collect()
            };
            !self.hide(|rule| match rule.kind {
                Kind::Race | Kind::Any => names.iter().all(|v| glob(&rule.pattern, v)),
                Kind::Location => at(rule, &r.first) || at(rule, &r.second),
                _ => false,
            })
        });
        report.deadlocks.retain(|d| {
            !self.hide(|rule| match rule.kind {
                Kind::Deadlock | Kind::Any => d.locks.iter().any(|l| glob(&rule.pattern, l)),
                Kind::Location => d
                    .steps
                    .iter()
                    .any(|s| location(&rule.pattern, &s.held_at) || location(&rule.pattern, &s.acquired_at)),
                _ => false,
            })
        });
        report.atomicity.retain(|v| {
            !self.hide(|rule| match rule.kind {
                Kind::Atomicity | Kind::Any => glob(&rule.pattern, &v.variable),
                Kind::Location => at(rule, &v.read) || at(rule, &v.write) || at(rule, &v.other),
                _ => false,
            })
        });
        report.held_across_await.retain(|h| {
            !self.hide(|rule| match rule.kind {
                Kind::Held | Kind::Any => glob(&rule.pattern, &h.lock),
                Kind::Location => location(&rule.pattern, &h.acquired_at) || location(&rule.pattern, &h.function_at),
                _ => false,
            })
        });
        let after =
            report.races.len() + report.deadlocks.len() + report.atomicity.len() + report.held_across_await.len();
        let removed = (before - after) as u64;
        report.suppressed += removed;
        removed
    }

    /// The lines (as written) that have not hidden anything yet.
    ///
    /// ```
    /// let (rules, _) = raceway::Suppressions::parse("race:x\ndeadlock:m");
    /// rules.apply(&mut raceway::Report::default());
    /// assert_eq!(rules.unmatched(), ["race:x", "deadlock:m"]);
    /// ```
    pub fn unmatched(&self) -> Vec<&str> {
        self.rules.iter().filter(|r| r.hits.load(Ordering::Relaxed) == 0).map(|r| r.text.as_str()).collect()
    }

    /// Whether the first rule that `matches` a finding exists; that rule counts the hit.
    fn hide(&self, matches: impl Fn(&Rule) -> bool) -> bool {
        match self.rules.iter().find(|r| matches(r)) {
            Some(rule) => {
                rule.hits.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

impl Rule {
    fn new(kind: Kind, pattern: &str, text: &str) -> Rule {
        Rule { kind, pattern: pattern.to_owned(), text: text.trim().to_owned(), hits: AtomicU64::new(0) }
    }
}

fn at(rule: &Rule, access: &RaceAccess) -> bool {
    location(&rule.pattern, &access.location)
}

/// `pattern` against `file`, `file:line`, and both after each `/` of the path (so a path
/// relative to a crate matches one relative to the workspace).
fn location(pattern: &str, l: &Location) -> bool {
    let with_line = format!("{}:{}", l.file, l.line);
    let mut starts = vec![0];
    starts.extend(l.file.char_indices().filter(|&(_, c)| c == '/' || c == '\\').map(|(i, _)| i + 1));
    starts.into_iter().any(|s| glob(pattern, &l.file[s..]) || glob(pattern, &with_line[s..]))
}

/// Whole-string glob match where `*` matches any run of characters (iterative, with one
/// backtracking point: linear in practice, never recursive).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_with_stars_anywhere() {
        assert!(glob("cache.*", "cache.hits"));
        assert!(glob("*.hits", "cache.hits"));
        assert!(glob("c*e.h*s", "cache.hits"));
        assert!(glob("*", ""));
        assert!(!glob("cache", "cache.hits"));
        assert!(!glob("cache.*", "xcache.hits"));
    }

    #[test]
    fn locations_match_a_file_a_file_and_line_or_a_path_suffix() {
        let l = Location::new("raceway/src/metrics.rs", 42, 7);
        assert!(location("src/metrics.rs", &l));
        assert!(location("src/metrics.rs:42", &l));
        assert!(location("*/metrics.rs", &l));
        assert!(!location("src/metrics.rs:43", &l));
        assert!(!location("rics.rs", &l));
    }

    #[test]
    fn comments_and_blank_lines_are_ignored_and_malformed_lines_reported() {
        let (rules, problems) = Suppressions::parse("# header\n\nrace:a # why\nbogus\nfoo:x\nrace:\n  deadlock:m*\n");
        assert_eq!(rules.len(), 2);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 4:"));
    }
}
