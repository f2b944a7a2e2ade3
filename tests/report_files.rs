//! Reports that locate the bug and files CI understands: logical stacks, task origins and names
//! in every report form; SARIF 2.1.0, JSON and HTML written at shutdown to paths with `{pid}`,
//! from parallel processes; GitHub Actions annotations.
//!
//! The scenarios run 20 times each: the verdict (and the stacks and origins shown) must not
//! depend on the schedule.

use raceway::{traced, RaceAccess, Report};
use std::path::Path;
use std::process::Command;

const CHILD: &str = "RACEWAY_REPORT_FILES_TEST_CHILD";
const RUNS: usize = 20;

/// The line of the first line of this file that contains `needle` (how a test names the line of
/// a function without hard-coding numbers that move when the file is edited).
fn line_of(needle: &str) -> u32 {
    let src = include_str!("report_files.rs");
    1 + src.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} not in file")) as u32
}

/// The side of `race` made by the task named `name`.
fn side<'a>(report: &'a Report, name: &str) -> &'a RaceAccess {
    let r = &report.races[0];
    [&r.first, &r.second]
        .into_iter()
        .find(|a| a.task_name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no side by {name}:\n{report}"))
}

// Two call chains, each ending in a write of `ledger`.
#[traced]
fn post_entry() {
    raceway::track_write("ledger", &0, &1);
}
#[traced]
fn settle() {
    post_entry();
}
#[traced]
fn audit_write() {
    raceway::track_write("ledger", &0, &2);
}
#[traced]
fn audit() {
    audit_write();
}

#[test]
fn a_race_between_two_traced_call_chains_shows_both_stacks_innermost_first_with_file_and_line() {
    for _ in 0..RUNS {
        let report = raceway::testing::capture(|| {
            let h = raceway::thread::spawn_named("settler", settle);
            raceway::thread::spawn_named("auditor", audit).join().unwrap();
            h.join().unwrap();
        })
        .report;
        assert_eq!(report.races.len(), 1, "{report}");
        let frames = |a: &RaceAccess| {
            a.stack.iter().map(|f| (f.function.clone(), f.location.file, f.location.line)).collect::<Vec<_>>()
        };
        assert_eq!(
            frames(side(&report, "settler")),
            [
                ("post_entry".to_owned(), file!(), line_of("fn post_entry()")),
                ("settle".to_owned(), file!(), line_of("fn settle()"))
            ]
        );
        assert_eq!(
            frames(side(&report, "auditor")),
            [
                ("audit_write".to_owned(), file!(), line_of("fn audit_write()")),
                ("audit".to_owned(), file!(), line_of("fn audit()"))
            ]
        );
        let text = report.to_string();
        assert!(text.contains(&format!("#0 post_entry {}:{}", file!(), line_of("fn post_entry()"))), "{text}");
        assert!(text.contains(&format!("#1 settle {}:{}", file!(), line_of("fn settle()"))), "{text}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let stacks: Vec<&str> =
            ["first", "second"].iter().map(|s| json["races"][0][s]["stack"][0]["function"].as_str().unwrap()).collect();
        assert!(stacks.contains(&"post_entry") && stacks.contains(&"audit_write"), "{json}");
    }
}

#[test]
fn a_task_spawned_by_a_task_spawned_by_the_root_shows_the_chain_of_spawns() {
    for _ in 0..RUNS {
        let report = raceway::testing::capture(|| {
            let parent = raceway::thread::spawn_named("parent", || {
                let child = raceway::thread::spawn_named("child", || raceway::track_write("x", &0, &1)); // spawn child
                child.join().unwrap();
            }); // spawn parent
            raceway::track_write("x", &0, &2);
            parent.join().unwrap();
        })
        .report;
        assert_eq!(report.races.len(), 1, "{report}");
        let child = side(&report, "child");
        let chain: Vec<(String, u32, String)> =
            child.origin.iter().map(|o| (o.label.clone(), o.spawned_at.line, o.by.clone())).collect();
        let root = [&report.races[0].first, &report.races[0].second]
            .into_iter()
            .find(|a| a.origin.is_empty())
            .expect("the root's side has no origin")
            .thread_id
            .clone();
        let spawn_parent_line = line_of("let parent = raceway::thread::spawn_named(");
        assert_eq!(
            chain,
            [
                ("child".to_owned(), line_of("// spawn child"), "parent".to_owned()),
                ("parent".to_owned(), spawn_parent_line, root.clone()),
            ]
        );
        let text = report.to_string();
        assert!(text.contains(&format!("task parent spawned at {}:{spawn_parent_line} by {root}", file!())), "{text}");
    }
}

#[test]
fn spawn_named_names_the_task_in_the_text_and_json_reports() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    for _ in 0..RUNS {
        let report = rt
            .block_on(raceway::testing::capture_async(async {
                let w = raceway::spawn_named("worker-3", async { raceway::track_write("jobs", &0, &1) });
                raceway::track_write("jobs", &0, &2);
                w.await.unwrap();
            }))
            .report;
        assert_eq!(report.races.len(), 1, "{report}");
        assert!(report.to_string().contains("task worker-3 of"), "{report}");
        let worker = side(&report, "worker-3");
        assert!(worker.thread_id.contains("-task-"), "the wire identity stays the generated thread_id");
        let json = report.to_json();
        assert!(json.contains("\"task_name\":\"worker-3\""), "{json}");
    }
}

#[traced]
fn first_use() {
    raceway::track_write("scratch", &0, &1);
}

#[test]
fn a_reused_task_id_starts_without_the_joined_tasks_name_stack_or_origin() {
    for _ in 0..RUNS {
        let report = raceway::testing::capture(|| {
            raceway::thread::spawn_named("first", first_use).join().unwrap();
            // The joined child's id is reused for this one (see `TaskState::joined`).
            let second = raceway::thread::spawn(|| raceway::track_write("y", &0, &1)); // second spawn
            raceway::track_write("y", &0, &2);
            second.join().unwrap();
        })
        .report;
        assert_eq!(report.races.len(), 1, "{report}");
        let r = &report.races[0];
        let spawned = [&r.first, &r.second].into_iter().find(|a| !a.origin.is_empty()).expect("a spawned side");
        assert_eq!(spawned.task_name, None, "{report}");
        assert!(spawned.stack.is_empty(), "{report}");
        assert_eq!(spawned.origin.len(), 1);
        assert_eq!(spawned.origin[0].spawned_at.line, line_of("// second spawn"));
    }
}

fn racy_report(variable: &str) -> Report {
    raceway::testing::capture(|| {
        let v = variable.to_owned();
        let h = raceway::thread::spawn_named("<img src=x onerror=alert(1)>", move || {
            raceway::track_write(v.clone(), &0, &1); // racy write one
            raceway::track_read(v, &1); // racy read
        });
        raceway::track_write(variable.to_owned(), &"<b>", &"</b>"); // racy write two
        h.join().unwrap();
    })
    .report
}

#[test]
fn sarif_has_the_fields_the_2_1_0_schema_requires_and_locates_both_accesses() {
    let report = racy_report("balance");
    assert_eq!(report.races.len(), 2, "{report}");
    let sarif: serde_json::Value = serde_json::from_str(&report.to_sarif()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "raceway");
    assert!(!driver["version"].as_str().unwrap().is_empty());
    assert!(driver["informationUri"].as_str().unwrap().starts_with("https://"));
    let rules: Vec<&str> = driver["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let write_two = line_of("// racy write two") as u64;
    for result in results {
        assert!(rules.contains(&result["ruleId"].as_str().unwrap()), "{result}");
        assert!(["error", "warning"].contains(&result["level"].as_str().unwrap()));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let at = &result["locations"][0]["physicalLocation"];
        assert_eq!(at["artifactLocation"]["uri"], file!());
        let related = &result["relatedLocations"][0]["physicalLocation"];
        assert_eq!(related["artifactLocation"]["uri"], file!());
        let lines = [at["region"]["startLine"].as_u64().unwrap(), related["region"]["startLine"].as_u64().unwrap()];
        assert!(lines.contains(&write_two), "{result}");
        assert!(result["codeFlows"][0]["threadFlows"].as_array().unwrap().len() == 2);
        assert_eq!(result["stacks"].as_array().unwrap().len(), 2);
    }
    let critical = results.iter().find(|r| r["level"] == "error").expect("the write/write race is an error");
    assert_eq!(critical["ruleId"], "raceway/data-race");
}

#[test]
fn html_has_one_timeline_per_race_with_both_access_sites_and_escapes_every_user_string() {
    let report = racy_report("<script>alert('x')</script>");
    assert_eq!(report.races.len(), 2, "{report}");
    let html = report.to_html();
    assert_eq!(html.matches("<svg class=\"timeline\"").count(), report.races.len());
    assert_eq!(html.matches("<section class=\"finding race\"").count(), report.races.len());
    for r in &report.races {
        assert!(html.contains(&r.first.location.to_string()) && html.contains(&r.second.location.to_string()));
    }
    // Each timeline marks its two accesses and draws the missing edge.
    assert_eq!(html.matches("class=\"access access-1\"").count(), 2);
    assert_eq!(html.matches("class=\"access access-2\"").count(), 2);
    assert_eq!(html.matches("no happens-before edge</text>").count(), 2);
    // User strings: the variable, the task name, the values.
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(!html.contains("<img") && html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!html.contains("<b>") && html.contains("&quot;&lt;b&gt;&quot;"), "values are escaped");
    assert!(!html.contains("http://") || !html.contains("src=\"http"), "no network resources");
    assert!(!html.contains("<script"), "no script needed");
}

// One process per call: writes its reports where the environment says, at shutdown.
#[test]
#[ignore = "a child program of report_paths_with_pid_from_two_concurrent_processes_never_collide"]
fn child_writes_its_reports() {
    assert!(std::env::var_os(CHILD).is_some(), "run only as a child process");
    let guard = raceway::init(raceway::Config::from_env().unwrap().service_name("files")).unwrap();
    let h = raceway::thread::spawn_named("writer", || raceway::track_write("shared, odd: 50%", &0, &1));
    raceway::track_write("shared, odd: 50%", &0, &2);
    h.join().unwrap();
    // Long enough that the two children overlap.
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(guard);
}

#[test]
fn report_paths_with_pid_from_two_concurrent_processes_never_collide() {
    let dir = std::env::temp_dir().join(format!("raceway-report-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |ext: &str| dir.join(format!("report-{{service}}-{{pid}}.{ext}")).to_string_lossy().into_owned();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child_writes_its_reports", "--ignored", "--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .env_remove("RACEWAY_URL")
                .env_remove("RACEWAY_ANALYZE")
                .env("RACEWAY_REPORT_JSON", path("json"))
                .env("RACEWAY_REPORT_SARIF", path("sarif"))
                .env("RACEWAY_REPORT_HTML", path("html"))
                .env("GITHUB_ACTIONS", "true")
                .stderr(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for out in &outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // GitHub's workflow command, with `,` `:` and `%` escaped in the message's data as GitHub requires.
        let line = stderr.lines().find(|l| l.starts_with("::error file=")).unwrap_or_else(|| panic!("{stderr}"));
        assert!(line.starts_with(&format!("::error file={},line=", file!())), "{line}");
        assert!(line.contains("50%25") && !line.contains("50%:"), "{line}");
    }
    for ext in ["json", "sarif", "html"] {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(ext))
            .collect();
        names.sort();
        let mut expected: Vec<String> = pids.iter().map(|p| format!("report-files-{p}.{ext}")).collect();
        expected.sort();
        assert_eq!(names, expected, "one file per process");
        for n in &names {
            let text = std::fs::read_to_string(dir.join(n)).unwrap();
            match ext {
                "html" => assert_eq!(text.matches("<svg class=\"timeline\"").count(), 1),
                _ => {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let races = if ext == "json" { &v["races"] } else { &v["runs"][0]["results"] };
                    assert_eq!(races.as_array().unwrap().len(), 1, "{text}");
                }
            }
        }
    }
    assert!(Path::new(&dir).exists());
    let _ = std::fs::remove_dir_all(&dir);
}
