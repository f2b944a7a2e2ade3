//! The `raceway` crate's modules import each other one way only, test code included.
//!
//! Each top-level module of `raceway/src` is a stage of an event's journey. This test reads every
//! `crate::…` path in the crate's source (comments skipped), maps it to the top-level module it
//! names, and fails when
//! - a module imports one that [`ALLOWED`] does not list for it (a back-import: the error names
//!   the file and line),
//! - the imports form a circle (checked on the real graph, not only on the table),
//! - code outside `tests` names an item through a crate-root re-export (`crate::track_write`):
//!   such a path hides which stage it depends on,
//! - a top-level module appears that the table does not know.
//!
//! `ARCHITECTURE.md` explains the order. Run alone with `cargo test --test module_graph`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Which top-level modules each one may import. Read top to bottom as the journey's direction:
/// user code → instrument → record → context → stage → event; the exporter and the analyzer read
/// the stage and the event data only; `lifecycle` wires them together.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("config", &["error"]),
    ("event", &["config"]),
    ("stage", &["event", "config"]),
    ("context", &["stage", "event", "config"]),
    ("record", &["context", "stage", "event", "config"]),
    ("instrument", &["record", "context", "stage", "event", "config", "error"]),
    ("propagation", &["record", "context", "event", "config", "error"]),
    ("exporter", &["stage", "event", "config", "error"]),
    ("analyzer", &["stage", "event", "config"]),
    // `testing` only in its unit tests (test captures); `testing` never imports `http`.
    ("http", &["instrument", "propagation", "context", "event", "config", "error", "testing"]),
    ("testing", &["analyzer", "exporter", "context", "stage", "event"]),
    ("private", &["instrument", "exporter", "testing", "stage", "event"]),
    ("lifecycle", &["analyzer", "exporter", "context", "stage", "event", "config", "error"]),
];

/// The crate-internal test module: it runs the whole pipeline, and nothing imports it.
const TEST_MODULE: &str = "tests";

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("raceway/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`None` for `lib.rs`, the table of contents).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_str().unwrap();
    match first {
        "lib.rs" => None,
        "private.rs" => Some("private".into()),
        f => Some(f.trim_end_matches(".rs").to_owned()),
    }
}

/// The text with comments blanked out (line numbers kept), so that doc links are not imports.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let (mut i, mut in_str, mut block) = (0, false, 0u32);
    while i < b.len() {
        let c = b[i];
        if block > 0 {
            if c == b'*' && b.get(i + 1) == Some(&b'/') {
                block -= 1;
                i += 2;
                continue;
            }
            if c == b'/' && b.get(i + 1) == Some(&b'*') {
                block += 1;
                i += 2;
                continue;
            }
            out.push(if c == b'\n' { '\n' } else { ' ' });
            i += 1;
            continue;
        }
        if in_str {
            if c == b'\\' {
                out.push_str("  ");
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            out.push(if c == b'\n' { '\n' } else { ' ' });
            i += 1;
            continue;
        }
        match (c, b.get(i + 1)) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                block = 1;
                i += 2;
            }
            (b'"', _) => {
                in_str = true;
                out.push(' ');
                i += 1;
            }
            // A char literal such as '"' must not open a string.
            (b'\'', _) if b.get(i + 2) == Some(&b'\'') => {
                out.push_str("   ");
                i += 3;
            }
            _ => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn ident_at(s: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&s[start..i]).into_owned(), i)
}

/// Every name that follows `crate::` (each member of a `crate::{a, b::c}` group), with its line
/// and whether it is used as a macro (`crate::name!`).
fn crate_paths(code: &str) -> Vec<(String, usize, bool)> {
    let s = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = code[i..].find("crate::") {
        let start = i + at;
        i = start + "crate::".len();
        let prev = start.checked_sub(1).map(|p| s[p]);
        // `$crate::` is expanded in the user's code; `foo_crate::` is another name.
        if prev.is_some_and(|p| p == b'$' || p.is_ascii_alphanumeric() || p == b'_') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        if s.get(i) == Some(&b'{') {
            // The first name of each member at depth one of the group.
            let (mut depth, mut j, mut expect) = (0, i, true);
            while j < s.len() {
                match s[j] {
                    b'{' => {
                        depth += 1;
                        j += 1;
                    }
                    b'}' => {
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' => {
                        expect = depth == 1;
                        j += 1;
                    }
                    c if expect && depth == 1 && (c.is_ascii_alphabetic() || c == b'_') => {
                        let (name, end) = ident_at(s, j);
                        found.push((name, line, false));
                        expect = false;
                        j = end;
                    }
                    _ => j += 1,
                }
            }
            i = j;
        } else {
            let (name, end) = ident_at(s, i);
            let is_macro = s.get(end) == Some(&b'!');
            found.push((name, line, is_macro));
            i = end;
        }
    }
    found
}

/// `#[macro_export]` macros live at the crate root; map each to the module that defines it.
fn exported_macros(files: &[(PathBuf, Option<String>, String)]) -> BTreeMap<String, String> {
    let mut macros = BTreeMap::new();
    for (_, module, code) in files {
        let Some(module) = module else { continue };
        let mut rest = code.as_str();
        while let Some(at) = rest.find("macro_rules!") {
            rest = &rest[at + "macro_rules!".len()..];
            let name: String = rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            macros.insert(name, module.clone());
        }
    }
    macros
}

struct Graph {
    /// module → module it imports → the first place it does.
    edges: BTreeMap<String, BTreeMap<String, String>>,
    /// Paths through crate-root re-exports, outside the test module.
    root_paths: Vec<String>,
    modules: BTreeSet<String>,
}

fn read_graph() -> Graph {
    let src = src_dir();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<_> = paths
        .into_iter()
        .map(|p| {
            let module = top_module(&src, &p);
            let code = strip_comments(&fs::read_to_string(&p).unwrap());
            (p, module, code)
        })
        .collect();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| f.1.clone()).collect();
    let macros = exported_macros(&files);
    let mut g = Graph { edges: BTreeMap::new(), root_paths: Vec::new(), modules: modules.clone() };
    for (path, module, code) in &files {
        let Some(module) = module else { continue };
        let rel = path.strip_prefix(&src).unwrap().display().to_string();
        for (name, line, is_macro) in crate_paths(code) {
            let target = if is_macro {
                macros.get(&name).cloned()
            } else if name == "__private" {
                Some("private".to_owned())
            } else if modules.contains(&name) {
                Some(name.clone())
            } else {
                None
            };
            let place = format!("raceway/src/{rel}:{line} (`crate::{name}`)");
            match target {
                Some(t) if t != *module => {
                    g.edges.entry(module.clone()).or_default().entry(t).or_insert(place);
                }
                Some(_) => {}
                None if module != TEST_MODULE => g.root_paths.push(place),
                None => {}
            }
        }
    }
    g
}

/// A circle in `edges`, if there is one, as the list of modules along it.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut circle = stack[from..].to_vec();
                    circle.push(m.clone());
                    return Some(circle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if !state.contains_key(n.as_str()) {
            if let Some(c) = visit(n, edges, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_allowed_imports_themselves_form_no_circle() {
    let table = ALLOWED.iter().map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect())).collect();
    assert_eq!(find_circle(&table), None);
}

#[test]
fn every_module_is_placed_in_the_journey() {
    let g = read_graph();
    let known: BTreeSet<&str> = ALLOWED.iter().map(|(m, _)| *m).chain([TEST_MODULE]).collect();
    let unknown: Vec<&String> = g.modules.iter().filter(|m| !known.contains(m.as_str())).collect();
    assert!(unknown.is_empty(), "top-level modules missing from ALLOWED in tests/module_graph.rs: {unknown:?}");
}

#[test]
fn modules_import_only_downstream_stages() {
    let g = read_graph();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (from, targets) in &g.edges {
        if from == TEST_MODULE {
            continue;
        }
        for (to, place) in targets {
            if to == TEST_MODULE || !allowed.get(from.as_str()).is_some_and(|a| a.contains(&to.as_str())) {
                wrong.push(format!("`{from}` imports `{to}` at {place}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the journey's direction (see ARCHITECTURE.md):\n{}", wrong.join("\n"));
}

#[test]
fn the_real_import_graph_has_no_circle() {
    let g = read_graph();
    let edges = g.edges.iter().map(|(m, t)| (m.clone(), t.keys().cloned().collect())).collect();
    if let Some(circle) = find_circle(&edges) {
        let places: Vec<String> = circle.windows(2).map(|w| g.edges[&w[0]][&w[1]].clone()).collect();
        panic!("import circle {}:\n{}", circle.join(" → "), places.join("\n"));
    }
}

#[test]
fn stages_name_items_by_their_module_not_through_root_re_exports() {
    let g = read_graph();
    assert!(
        g.root_paths.is_empty(),
        "paths through crate-root re-exports hide the stage they depend on; use the module path:\n{}",
        g.root_paths.join("\n")
    );
}

#[test]
fn the_scanner_sees_groups_macros_and_skips_comments_and_dollar_crate() {
    let code = strip_comments(
        "use crate::{event::Event, stage::{a, b}};\n// crate::lifecycle in a comment\nlet s = \"crate::x\";\n$crate::__private::f();\ncrate::assert_race!(x);\n",
    );
    let names: Vec<(String, usize, bool)> = crate_paths(&code);
    assert_eq!(
        names,
        vec![("event".into(), 1, false), ("stage".into(), 1, false), ("assert_race".into(), 5, true)],
        "{code}"
    );
}
