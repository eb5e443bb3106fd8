//! The Runs view on the real MLflow server, in a real terminal: the biggest seeded experiment is
//! read page by page as the list scrolls (50 runs a page here) until every run is listed, a
//! filter is evaluated by the server, one it refuses shows the server's own message in place,
//! the columns are chosen from the runs' own metrics and params, and marked runs compare side by side and export to a file.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::tmux::Tmux;
use mlops_console::adapters::{
    http::Auth,
    mlflow::{MlflowRegistry, RunQuery},
};

/// The title's run count as shown: `Runs (150+ …` → (150, true).
fn shown(screen: &str) -> Option<(usize, bool)> {
    let at = screen.find("Runs (")? + "Runs (".len();
    let rest = &screen[at..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n = digits.parse().ok()?;
    Some((n, rest[digits.len()..].starts_with('+')))
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_page_in_as_the_list_scrolls_and_the_server_filters_them() {
    let env = common::env();
    let uri = env.get("MLFLOW_TRACKING_URI");
    let r = MlflowRegistry::new(uri, Auth::None)
        .expect("registry")
        .with_timeout(Duration::from_secs(60));
    let experiments = r.experiments_with_counts().await.expect("experiments");
    let biggest = experiments
        .iter()
        .filter(|e| e.id != "0")
        .max_by_key(|e| e.run_count.unwrap_or(0))
        .expect("seeded experiments");
    let total = biggest.run_count.expect("counted");
    assert!(
        total > 150,
        "{} has {total} runs: want several pages",
        biggest.name
    );
    let low = r
        .search_runs(
            &RunQuery {
                experiment_ids: vec![biggest.id.clone()],
                filter: Some("metrics.loss < 0.3".into()),
                order_by: Vec::new(),
                page_size: 1000,
            },
            100_000,
        )
        .await
        .expect("search")
        .runs
        .len();
    assert!(low > 0 && low < total, "{low} of {total}");

    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("config.toml"),
        "refresh_seconds = 3600\n[mlflow]\nruns_page_size = 50\n",
    )
    .expect("config");
    let script = format!(
        "MLFLOW_TRACKING_URI={uri} {}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_mlops")
    );
    let t = Tmux::start(&script, 160, 45, config.path().to_str().expect("utf-8"));
    t.keys(&["2"]);
    t.wait_text(&biggest.name);
    t.keys(&["/"]);
    t.type_text(&biggest.name);
    t.keys(&["Enter", "Enter"]);

    // The first page only.
    let first = t.wait_for("the first page", |s| shown(s).is_some_and(|(n, _)| n > 0));
    assert_eq!(shown(&first), Some((50, true)), "{first}");

    // Paging down to the end of what is loaded reads the next page each time, until the server
    // has no more (`End` goes on to the last run at once: below).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = vec![50];
    loop {
        // Page down until the next page comes (it is read as the selection nears the end).
        let before = *seen.last().expect("a count");
        let s = loop {
            t.keys(&["PageDown"]);
            std::thread::sleep(Duration::from_millis(300));
            let s = t.screen();
            if shown(&s).is_some_and(|(n, more)| n > before || !more) {
                break t.wait_for("the page drawn whole", |s| shown(s).is_some());
            }
            assert!(Instant::now() < deadline, "no next page: {seen:?}\n{s}");
        };
        let (n, more) = shown(&s).expect("a count");
        if n != before {
            seen.push(n);
        }
        if !more {
            break;
        }
        assert!(Instant::now() < deadline, "still paging: {seen:?}\n{s}");
    }
    assert_eq!(seen.last(), Some(&total), "every run once: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[1] - w[0] <= 50),
        "a page at a time: {seen:?}"
    );
    assert!(seen.len() >= 3, "{seen:?}");

    // MLflow's filter, evaluated by the server.
    t.keys(&["f", "C-u"]);
    t.type_text("metrics.loss < 0.3");
    t.keys(&["Enter"]);
    let s = t.wait_for("the filtered first page", |s| {
        s.contains("server filter: metrics.loss < 0.3") && shown(s).is_some()
    });
    if low > 50 {
        assert_eq!(shown(&s).map(|(_, more)| more), Some(true), "{s}");
        // `End` reads every page of the search, then selects its last run.
        t.keys(&["End"]);
    }
    let s = t.wait_for("every filtered run", |s| shown(s) == Some((low, false)));
    assert!(s.contains("server filter"), "{s}");

    // A filter the server refuses: its message in place; the registry is not shown as down.
    t.keys(&["f", "C-u"]);
    t.type_text("metrics.loss <<< 1");
    t.keys(&["Enter"]);
    let s = t.wait_text("the server refused this filter");
    assert!(
        s.contains("INVALID_PARAMETER_VALUE") || s.contains("nvalid"),
        "{s}"
    );
    assert!(!s.contains("registry down"), "{s}");

    // Back to every run (the pages read before are still there); mark three, compare them,
    // export the comparison.
    t.keys(&["f", "C-u", "Enter"]);
    t.wait_for("every run", |s| shown(s) == Some((total, false)));
    // The columns: every metric and param the seeded runs have is offered; the last param
    // (random_seed, not shown unchosen: the first six differing params are) is added.
    t.keys(&["o"]);
    let s = t.wait_text("Columns (");
    for offered in [
        "metric accuracy",
        "param  learning_rate",
        "param  random_seed",
    ] {
        assert!(s.contains(offered), "{offered}:\n{s}");
    }
    assert!(s.contains("[ ] param  random_seed"), "{s}");
    t.keys(&["G", "Space", "Enter"]);
    // (The bar's message names the columns and is cut at its end; the chooser says which.)
    t.wait_for("the chooser applied", |s| {
        !s.contains("Columns (") && s.contains("columns: ")
    });
    t.keys(&["o"]);
    t.wait_text("[x] param  random_seed");
    t.keys(&["Escape"]);
    t.wait_for("the chooser closed", |s| !s.contains("Columns ("));
    t.keys(&["Space", "Space", "Space", "c"]);
    t.wait_text("Compare 3 runs");
    // Each run's history of the metric, overlaid, once they have loaded.
    t.wait_text("accuracy history of 3 runs");
    // The params that differ against the metric, one line a run.
    t.keys(&["p"]);
    let s = t.wait_text("parallel coordinates");
    assert!(s.contains("accuracy"), "{s}");
    t.keys(&["p"]);
    t.wait_text("accuracy history of 3 runs");
    // A scatter: the first param (batch_size, sorted first) across, accuracy up.
    t.keys(&["Home", "x"]);
    let s = t.wait_text("against params.batch_size");
    assert!(s.contains("x params.batch_size"), "{s}");
    t.keys(&["x"]);
    t.wait_text("accuracy history of 3 runs");
    let out = config.path().join("cmp.csv");
    t.keys(&["e", "C-u"]);
    t.type_text(&out.display().to_string());
    t.keys(&["Enter"]);
    t.wait_text("exported the comparison");
    let csv = std::fs::read_to_string(&out).expect("exported");
    assert!(csv.starts_with("kind,name,"), "{csv}");
    t.keys(&["C-c"]); // ctrl-c quits from any screen (q closes a detail first)
    t.wait_text("EXIT=0");
}
