//! The report as one self-contained HTML page: the summary table, then per finding its accesses
//! (with stacks and origins) and, for races, a timeline drawn as inline SVG — a lane per task,
//! the events in order, the two racing accesses marked, locks held as bars, spawn and join edges
//! as arrows, and a dashed red connector where the happens-before edge is missing. No script, no
//! network: the file can be attached to a CI run and opened anywhere.
//!
//! Every string that comes from the program (variables, locks, functions, task names, values,
//! file names) goes through [`esc`].

use super::{RaceAccess, Report, StepKind, Timeline};
use crate::event::location::Location;
use std::fmt::Write;

/// HTML-escapes text for element content and quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `n` characters, with an ellipsis: labels in the picture stay inside their column.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// `file:line` with the file's last component only (the full path is in the tooltip).
fn site(l: &Location) -> String {
    let file = l.file.rsplit(['/', '\\']).next().unwrap_or(l.file);
    format!("{file}:{}", l.line)
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px}
.summary{color:#57606a;margin:0 0 14px}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.finding{border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;margin:18px 0}
.CRITICAL{color:#cf222e;font-weight:600} .WARNING{color:#9a6700;font-weight:600}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.stack{margin:2px 0 0 0;padding:0;list-style:none}
.why{color:#57606a}
.scroll{overflow-x:auto;border:1px solid #eaeef2;border-radius:6px;background:#fbfcfd;margin-top:8px}
svg text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11px;fill:#1f2328;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
svg .lane{font-family:system-ui,sans-serif;font-size:12px;font-weight:600}
svg .gap{fill:#cf222e;font-weight:600;font-family:system-ui,sans-serif;font-size:12px}
svg .lock{font-size:10px;fill:#0a3069}
.legend{color:#57606a;font-size:12px;margin:6px 0}
.legend span{margin-right:14px}
";

impl Report {
    /// The report as one self-contained HTML page (written to `RACEWAY_REPORT_HTML` at
    /// shutdown): the summary table, and per finding its accesses with stacks and origins and,
    /// for races, a timeline of the tasks involved.
    ///
    /// ```
    /// let report = raceway::testing::capture(|| {
    ///     let h = raceway::thread::spawn(|| raceway::track_write("<b>x</b>", &0, &1));
    ///     raceway::track_write("<b>x</b>", &0, &2);
    ///     h.join().unwrap();
    /// }).report;
    /// let html = report.to_html();
    /// assert_eq!(html.matches("<svg class=\"timeline\"").count(), 1);
    /// assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x</b>"));
    /// ```
    pub fn to_html(&self) -> String {
        let mut h = String::new();
        let _ = writeln!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Raceway report</title><style>{STYLE}</style></head><body>"
        );
        let _ = writeln!(h, "<h1>Raceway report</h1><p class=\"summary\">{}</p>", esc(&self.summary()));
        self.summary_table(&mut h);
        for (i, r) in self.races.iter().enumerate() {
            let _ = writeln!(
                h,
                "<section class=\"finding race\" id=\"race-{n}\"><h2>race #{n}: <span class=\"{sev}\">{sev}</span> on <code>{var}</code> <span class=\"why\">(seen {count}×)</span></h2>",
                n = i + 1,
                sev = r.severity.as_str(),
                var = esc(&r.variable),
                count = r.count
            );
            h.push_str("<table><tr><th></th><th>access</th><th>task</th><th>logical stack (innermost first)</th><th>origin</th></tr>\n");
            access_row(&mut h, "first", &r.first);
            access_row(&mut h, "second", &r.second);
            h.push_str("</table>\n");
            let _ = writeln!(
                h,
                "<p class=\"why\">No spawn/join orders the two tasks and no common lock protects both accesses.{}</p>",
                r.unordered_hint().map(|n| format!(" {}", esc(&n))).unwrap_or_default()
            );
            timeline_svg(&mut h, &r.timeline);
            h.push_str("</section>\n");
        }
        for (i, v) in self.atomicity.iter().enumerate() {
            let _ = writeln!(
                h,
                "<section class=\"finding atomicity\"><h2>atomicity #{}: <span class=\"CRITICAL\">CRITICAL</span> stale read-modify-write on <code>{}</code></h2>\n<table><tr><th></th><th>access</th><th>task</th><th>logical stack (innermost first)</th><th>origin</th></tr>",
                i + 1,
                esc(&v.variable)
            );
            access_row(&mut h, "read", &v.read);
            access_row(&mut h, "write", &v.write);
            access_row(&mut h, "other", &v.other);
            let _ = writeln!(h, "</table><p class=\"why\">{}</p></section>", esc(&v.why()));
        }
        for (i, d) in self.deadlocks.iter().enumerate() {
            let _ = writeln!(h, "<section class=\"finding deadlock\"><h2>deadlock #{}: lock-order cycle through {}</h2><table><tr><th>task</th><th>held</th><th>then took</th></tr>",
                i + 1,
                d.locks.iter().map(|l| format!("<code>{}</code>", esc(l))).collect::<Vec<_>>().join(", "));
            for s in &d.steps {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td><code>{}</code> at <span class=\"mono\">{}</span></td><td><code>{}</code> at <span class=\"mono\">{}</span></td></tr>",
                    esc(&s.thread_id),
                    esc(&s.held),
                    esc(&s.held_at.to_string()),
                    esc(&s.acquired),
                    esc(&s.acquired_at.to_string())
                );
            }
            h.push_str("</table></section>\n");
        }
        for (i, a) in self.held_across_await.iter().enumerate() {
            let _ = writeln!(
                h,
                "<section class=\"finding held\"><h2>lock across await #{}: <span class=\"WARNING\">WARNING</span> <code>{}</code></h2><p>taken at <span class=\"mono\">{}</span>, held while <code>{}</code> awaited</p></section>",
                i + 1,
                esc(&a.lock),
                esc(&a.acquired_at.to_string()),
                esc(&a.function)
            );
        }
        h.push_str("</body></html>\n");
        h
    }

    fn summary_table(&self, h: &mut String) {
        let critical = self.races.iter().filter(|r| r.severity == super::Severity::Critical).count();
        let _ = writeln!(
            h,
            "<table class=\"totals\"><tr><th>races</th><th>critical</th><th>warning</th><th>potential deadlocks</th><th>stale read-modify-writes</th><th>locks held across .await</th><th>events</th><th>accesses</th><th>variables</th></tr>\n<tr><td>{}</td><td>{critical}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
            self.races.len(),
            self.races.len() - critical,
            self.deadlocks.len(),
            self.atomicity.len(),
            self.held_across_await.len(),
            self.events,
            self.accesses,
            self.variables
        );
        if self.races.is_empty() {
            return;
        }
        h.push_str("<table class=\"index\"><tr><th>#</th><th>severity</th><th>variable</th><th>first access</th><th>second access</th><th>seen</th></tr>\n");
        for (i, r) in self.races.iter().enumerate() {
            let _ = writeln!(
                h,
                "<tr><td><a href=\"#race-{n}\">{n}</a></td><td class=\"{sev}\">{sev}</td><td><code>{var}</code></td><td class=\"mono\">{a}</td><td class=\"mono\">{b}</td><td>{c}</td></tr>",
                n = i + 1,
                sev = r.severity.as_str(),
                var = esc(&r.variable),
                a = esc(&r.first.location.to_string()),
                b = esc(&r.second.location.to_string()),
                c = r.count
            );
        }
        h.push_str("</table>\n");
    }
}

fn access_row(h: &mut String, label: &str, a: &RaceAccess) {
    let stack: String = a
        .stack
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "<li>#{i} <code>{}</code> <span class=\"mono\">{}</span></li>",
                esc(&f.function),
                esc(&f.location.to_string())
            )
        })
        .collect();
    let origin: String = a
        .origin
        .iter()
        .map(|o| {
            format!(
                "<li>{} spawned at <span class=\"mono\">{}</span> by {}</li>",
                esc(&o.label),
                esc(&o.spawned_at.to_string()),
                esc(&o.by)
            )
        })
        .collect();
    let locks =
        if a.locks.is_empty() { "no lock held".to_owned() } else { format!("holding {}", esc(&a.locks.join(", "))) };
    let value = if a.access_type.is_write() {
        match a.old_value.to_string().as_str() {
            "" | "null" => format!("wrote {}", a.new_value),
            old => format!("{old} → {}", a.new_value),
        }
    } else {
        format!("read {}", a.new_value)
    };
    let _ = writeln!(
        h,
        "<tr class=\"access\"><th>{label}</th><td><strong>{}</strong> at <span class=\"mono site\">{}</span><br><span class=\"why\">{locks}; <span class=\"mono\">{}</span></span></td><td>{}</td><td><ul class=\"stack\">{}</ul></td><td><ul class=\"stack\">{}</ul></td></tr>",
        a.access_type.as_str(),
        esc(&a.location.to_string()),
        esc(&value),
        esc(a.task_label()),
        if stack.is_empty() { "<li class=\"why\">(no traced function)</li>".to_owned() } else { stack },
        if origin.is_empty() { "<li class=\"why\">root task</li>".to_owned() } else { origin },
    );
}

const LABEL_W: f64 = 150.0;
/// The picture fits this width when it can (a screen, a screenshot); past it the page scrolls.
const FIT_W: f64 = 1300.0;
const LANE_H: f64 = 112.0;
const TOP: f64 = 44.0;

fn timeline_svg(h: &mut String, t: &Timeline) {
    let n = t.steps.len().max(1);
    let col_w = ((FIT_W - LABEL_W - 90.0) / n as f64).clamp(66.0, 110.0);
    let width = LABEL_W + col_w * (n as f64) + 90.0;
    let height = TOP + LANE_H * t.lanes.len() as f64 + 10.0;
    let x = |i: usize| LABEL_W + col_w * (i as f64) + col_w / 2.0;
    let y = |lane: usize| TOP + LANE_H * (lane as f64) + LANE_H / 2.0;
    h.push_str("<div class=\"legend\"><span>● event</span><span style=\"color:#cf222e\">◉ racing access</span><span style=\"color:#0969da\">▬ lock held</span><span>→ spawn / join</span><span style=\"color:#cf222e\">┄ no happens-before edge</span></div>\n");
    let _ = writeln!(
        h,
        "<div class=\"scroll\"><svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#57606a\"/></marker></defs>"
    );
    let _ = writeln!(h, "<text x=\"{LABEL_W}\" y=\"18\" class=\"why\" fill=\"#57606a\">recording order →</text>");
    // Lanes.
    for (i, lane) in t.lanes.iter().enumerate() {
        let yy = y(i);
        let fill = if i % 2 == 0 { "#f6f8fa" } else { "#ffffff" };
        let _ = writeln!(
            h,
            "<rect x=\"0\" y=\"{:.0}\" width=\"{width:.0}\" height=\"{LANE_H:.0}\" fill=\"{fill}\"/><line x1=\"{LABEL_W:.0}\" y1=\"{yy:.0}\" x2=\"{:.0}\" y2=\"{yy:.0}\" stroke=\"#8c959f\" stroke-width=\"1.5\"/><text class=\"lane\" x=\"10\" y=\"{:.0}\"><title>{}</title>{}</text>",
            yy - LANE_H / 2.0,
            width - 20.0,
            yy + 4.0,
            esc(&lane.label),
            esc(&short(&lane.label, 24))
        );
    }
    // Locks held: a bar from each acquire to its release (or to the end of the window).
    for (lane, _) in t.lanes.iter().enumerate() {
        let mut open: Vec<(&str, usize)> = Vec::new();
        let mut bars: Vec<(&str, usize, usize)> = Vec::new();
        for (i, s) in t.steps.iter().enumerate().filter(|(_, s)| s.lane == lane) {
            match s.kind {
                StepKind::Acquire => open.push((&s.subject, i)),
                StepKind::Release => {
                    if let Some(p) = open.iter().rposition(|(l, _)| *l == s.subject) {
                        let (l, from) = open.remove(p);
                        bars.push((l, from, i));
                    }
                }
                _ => {}
            }
        }
        bars.extend(open.into_iter().map(|(l, from)| (l, from, n - 1)));
        for (depth, (l, from, to)) in bars.into_iter().enumerate() {
            let by = y(lane) + 10.0 + 8.0 * (depth % 2) as f64;
            let _ = writeln!(
                h,
                "<rect x=\"{:.0}\" y=\"{by:.0}\" width=\"{:.0}\" height=\"6\" rx=\"3\" fill=\"#0969da\" opacity=\"0.55\"><title>{} held</title></rect><text class=\"lock\" x=\"{:.0}\" y=\"{:.0}\">{}</text>",
                x(from),
                (x(to) - x(from)).max(6.0),
                esc(l),
                x(from) + 4.0,
                by + 15.0,
                esc(&short(l, 14))
            );
        }
    }
    // Spawn and join edges between lanes shown.
    for (i, s) in t.steps.iter().enumerate() {
        let Some(other) = s.other_lane else { continue };
        let (from, to) = match s.kind {
            StepKind::Spawn => {
                let first_child = t.steps.iter().enumerate().skip(i).find(|(_, c)| c.lane == other).map(|(j, _)| j);
                ((x(i), y(s.lane)), (first_child.map_or(x(i) + col_w / 2.0, x), y(other)))
            }
            StepKind::Join => {
                let last_child = t.steps[..i].iter().rposition(|c| c.lane == other);
                ((last_child.map_or(x(i) - col_w / 2.0, x), y(other)), (x(i), y(s.lane)))
            }
            _ => continue,
        };
        let _ = writeln!(
            h,
            "<line x1=\"{:.0}\" y1=\"{:.0}\" x2=\"{:.0}\" y2=\"{:.0}\" stroke=\"#57606a\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>",
            from.0,
            from.1,
            to.0 - 3.0,
            to.1 + if to.1 > from.1 { -6.0 } else { 6.0 }
        );
    }
    // The events.
    for (i, s) in t.steps.iter().enumerate() {
        let (cx, cy) = (x(i), y(s.lane));
        let (verb, color) = match s.kind {
            StepKind::Read => ("read", "#1a7f37"),
            StepKind::Write => ("write", "#bc4c00"),
            StepKind::Acquire => ("lock", "#0969da"),
            StepKind::Release => ("unlock", "#0969da"),
            StepKind::Spawn => ("spawn", "#57606a"),
            StepKind::Join => ("join", "#57606a"),
            StepKind::Call => ("call", "#8250df"),
        };
        let full = format!("{verb} {} at {}", s.subject, s.location);
        if s.mark != 0 {
            let _ = writeln!(
                h,
                "<circle class=\"access access-{m}\" cx=\"{cx:.0}\" cy=\"{cy:.0}\" r=\"11\" fill=\"#cf222e\"><title>{}</title></circle><text x=\"{cx:.0}\" y=\"{:.0}\" text-anchor=\"middle\" style=\"fill:#fff;stroke:none;font-weight:700\">{m}</text>",
                esc(&full),
                cy + 4.0,
                m = s.mark
            );
        } else {
            let _ = writeln!(
                h,
                "<circle cx=\"{cx:.0}\" cy=\"{cy:.0}\" r=\"5\" fill=\"{color}\"><title>{}</title></circle>",
                esc(&full)
            );
        }
        // Labels alternate above the lane line so that neighbours do not overlap.
        let ly = cy - 16.0 - 13.0 * (i % 3) as f64;
        let weight = if s.mark != 0 { "font-weight:700;fill:#cf222e" } else { "" };
        let _ = writeln!(
            h,
            "<text x=\"{cx:.0}\" y=\"{ly:.0}\" text-anchor=\"middle\" style=\"{weight}\">{} {}<title>{}</title></text><text x=\"{cx:.0}\" y=\"{:.0}\" text-anchor=\"middle\" style=\"fill:#6e7781;font-size:10px\">{}</text>",
            verb,
            esc(&short(&s.subject, 16)),
            esc(&full),
            cy + 50.0,
            esc(&site(&s.location))
        );
    }
    // The missing edge between the two accesses, drawn last so that its label stays readable.
    let marked = |m: u8| t.steps.iter().position(|s| s.mark == m);
    if let (Some(a), Some(b)) = (marked(1), marked(2)) {
        let (ax, ay, bx, by) = (x(a), y(t.steps[a].lane), x(b), y(t.steps[b].lane));
        let mid = (ax + bx) / 2.0;
        let _ = writeln!(
            h,
            "<path d=\"M{ax:.0},{ay:.0} C{mid:.0},{ay:.0} {mid:.0},{by:.0} {bx:.0},{by:.0}\" fill=\"none\" stroke=\"#cf222e\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text class=\"gap\" x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">✗ no happens-before edge</text>",
            mid,
            (ay + by) / 2.0 - 4.0
        );
    }
    h.push_str("</svg></div>\n");
}
