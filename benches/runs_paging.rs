//! The Runs view on an experiment of 10,000 runs in the real MLflow: the time from `enter` on the
//! experiment to its first page drawn, the time and memory to scroll to the end (a page read each
//! time the selection nears the end of what is loaded, pages far behind dropped), the time to
//! scroll back to the top (those pages read again), and, as the peer, loading every run at once
//! as the console did before (`RegistryPort::runs`).
//!
//! Run with the test environment up: `eval "$(tests/env/up)"; cargo bench --bench runs_paging`.
//! The first run seeds the experiment `bench-runs-10k` through MLflow's REST API (about two
//! minutes); at the end it is deleted (MLflow keeps deleted experiments, so the next run restores
//! it instead of seeding again), so the tests see only their own seed. `MLOPS_BENCH_RUNS`
//! changes the size; `MLOPS_BENCH_KEEP=1` leaves the experiment active.

// A benchmark is a script of steps: production code is held to 100 lines a function
// (clippy.toml), benchmarks are not.
#![allow(clippy::too_many_lines)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use mlops_console::{
    adapters::{http::Auth, mlflow::MlflowRegistry},
    app::{Action, App, Effect, update},
    event_loop::{self, Context},
    testing, ui,
};
use mlops_core::ports::RegistryPort;
use ratatui::{Terminal, backend::TestBackend};
use serde_json::json;

const EXPERIMENT: &str = "bench-runs-10k";
const SIZE: (u16, u16) = (200, 50);

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The experiment's id, seeding it with `n` runs first when it has fewer.
async fn seeded(uri: &str, n: usize) -> String {
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/2.0/mlflow/{p}", uri.trim_end_matches('/'));
    let got: serde_json::Value = http
        .get(api("experiments/get-by-name"))
        .query(&[("experiment_name", EXPERIMENT)])
        .send()
        .await
        .expect("MLflow answers")
        .json()
        .await
        .expect("json");
    let id = if let Some(id) = got["experiment"]["experiment_id"].as_str() {
        // Left deleted by the last run (so the tests see only their seed): restored with its runs.
        if got["experiment"]["lifecycle_stage"].as_str() == Some("deleted") {
            let r = http
                .post(api("experiments/restore"))
                .json(&json!({"experiment_id": id}))
                .send()
                .await
                .expect("restore");
            assert!(r.status().is_success(), "restore: {}", r.status());
        }
        id.to_string()
    } else {
        let made: serde_json::Value = http
            .post(api("experiments/create"))
            .json(&json!({"name": EXPERIMENT}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        made["experiment_id"]
            .as_str()
            .expect("experiment id")
            .to_string()
    };
    // A finished seed tags the experiment with its size: no run is read to know it.
    let tagged = got["experiment"]["tags"].as_array().is_some_and(|tags| {
        tags.iter().any(|t| {
            t["key"] == "mlops.bench.seeded" && t["value"].as_str() == Some(&n.to_string())
        })
    });
    if tagged {
        return id;
    }
    let registry = MlflowRegistry::new(uri, Auth::None).expect("registry");
    let have = registry
        .search_runs_paged(&[&id], 1000)
        .await
        .expect("count")
        .runs
        .len();
    eprintln!("[runs_paging] seeding {} runs into {EXPERIMENT}…", n - have);
    let started = Instant::now();
    let jobs = (have..n).map(|i| {
        let http = http.clone();
        let (create, batch) = (api("runs/create"), api("runs/log-batch"));
        let id = id.clone();
        async move {
            let t = 1_700_000_000_000_i64 + i64::try_from(i).unwrap_or(0) * 60_000;
            let run: serde_json::Value = http
                .post(create)
                .json(&json!({"experiment_id": id, "run_name": format!("bench-{i:05}"),
                              "start_time": t}))
                .send()
                .await
                .expect("runs/create")
                .json()
                .await
                .expect("json");
            let run_id = run["run"]["info"]["run_id"].as_str().expect("run id").to_string();
            let x = (i % 97) as f64 / 97.0;
            let optimizer = ["adam", "sgd", "adamw"][i % 3];
            let resp = http
                .post(batch)
                .json(&json!({"run_id": run_id,
                    "params": [{"key": "learning_rate", "value": format!("{}", 0.001 * (1 + i % 10) as f64)},
                               {"key": "max_depth", "value": format!("{}", 3 + i % 10)},
                               {"key": "optimizer", "value": optimizer}],
                    "metrics": [{"key": "loss", "value": 1.0 - x * 0.8, "timestamp": t, "step": 0},
                                {"key": "accuracy", "value": 0.5 + x * 0.45, "timestamp": t, "step": 0},
                                {"key": "auc", "value": 0.55 + x * 0.44, "timestamp": t, "step": 0}]}))
                .send()
                .await
                .expect("runs/log-batch");
            assert!(resp.status().is_success(), "log-batch: {}", resp.status());
        }
    });
    futures::StreamExt::for_each_concurrent(futures::stream::iter(jobs), 16, |j| j).await;
    eprintln!(
        "[runs_paging] seeded in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    n_seeded_tag(&http, &api("experiments/set-experiment-tag"), &id, n).await;
    id
}

async fn n_seeded_tag(http: &reqwest::Client, url: &str, id: &str, n: usize) {
    let r = http
        .post(url)
        .json(&json!({"experiment_id": id, "key": "mlops.bench.seeded", "value": n.to_string()}))
        .send()
        .await
        .expect("tag");
    assert!(r.status().is_success(), "tag: {}", r.status());
}

/// Feed an action to the App and carry out its fetches on the runtime, as the console does.
fn drive(rt: &tokio::runtime::Runtime, app: &mut App, ctx: &Context, action: Action) {
    let mut queue = vec![action];
    while let Some(a) = queue.pop() {
        for effect in update(app, a) {
            if let Effect::Fetch(source) = effect {
                let result = rt.block_on(event_loop::fetch(ctx, &source)).map(Box::new);
                queue.push(Action::Loaded(source, result));
            }
        }
    }
}

fn key(rt: &tokio::runtime::Runtime, app: &mut App, ctx: &Context, k: &str) {
    let parsed = mlops_console::app::keymap::Key::parse(k).expect("key");
    drive(
        rt,
        app,
        ctx,
        Action::Input(crossterm::event::KeyEvent::new(parsed.code, parsed.mods)),
    );
}

fn loaded(app: &App) -> (usize, bool) {
    list(app).map_or((0, false), |l| (l.runs.len(), l.next.is_some()))
}

fn list(app: &App) -> Option<&mlops_console::app::feeds::RunList> {
    mlops_console::app::rows::run_list(app, app.screen()).and_then(|f| f.data.as_ref())
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let uri = std::env::var("MLFLOW_TRACKING_URI")
        .expect("MLFLOW_TRACKING_URI: bring the test environment up first (tests/env/up)");
    let n: usize = std::env::var("MLOPS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let id = rt.block_on(seeded(&uri, n));
    let registry: Arc<dyn RegistryPort> = Arc::new(
        MlflowRegistry::new(&uri, Auth::None)
            .expect("registry")
            .with_timeout(Duration::from_secs(60)),
    );
    let ctx = Context {
        cluster: None,
        registry: Some(registry.clone()),
        metrics: None,
        audit: None,
        serving: None,
        serving_windows: Vec::new(),
        clock: Arc::new(chrono::Utc::now),
        timeout: Duration::from_secs(60),
        runs_page_size: 100,
        switcher: None,
    };
    let mut terminal = Terminal::new(TestBackend::new(SIZE.0, SIZE.1)).expect("terminal");

    // A fresh console each time, on the experiment list; timed: enter → first page drawn.
    let open = |app: &mut App| {
        key(&rt, app, &ctx, "2");
        key(&rt, app, &ctx, "/");
        for c in EXPERIMENT.chars() {
            drive(
                &rt,
                app,
                &ctx,
                Action::Input(crossterm::event::KeyEvent::new(
                    crossterm::event::KeyCode::Char(c),
                    crossterm::event::KeyModifiers::NONE,
                )),
            );
        }
        key(&rt, app, &ctx, "enter");
    };
    // Scrolling to the end: a page each time the selection nears the end. First, so the RSS
    // it adds is not hidden by memory the allocator kept from earlier consoles.
    let mut app = testing::demo_app(SIZE);
    drive(&rt, &mut app, &ctx, Action::Tick(chrono::Utc::now()));
    open(&mut app);
    key(&rt, &mut app, &ctx, "enter");
    let rss_before = rss_kib();
    let t = Instant::now();
    let mut presses = 0;
    let mut peak = rss_before;
    let first_run = list(&app).expect("list").runs[0].id.clone();
    while loaded(&app).1 {
        key(&rt, &mut app, &ctx, "end");
        terminal.draw(|f| ui::render(&app, f)).expect("draw");
        presses += 1;
        peak = peak.max(rss_kib());
    }
    let scrolled = t.elapsed();
    let rss_after = rss_kib();
    let held = loaded(&app).0;
    let total = list(&app).expect("list").read();
    // And back to the top: the pages dropped on the way down are read again, in front.
    let t = Instant::now();
    let mut back = 0;
    while list(&app).expect("list").first > 0 {
        key(&rt, &mut app, &ctx, "home");
        terminal.draw(|f| ui::render(&app, f)).expect("draw");
        back += 1;
        peak = peak.max(rss_kib());
        assert!(back < 10 * total, "stuck scrolling back");
    }
    let scrolled_back = t.elapsed();
    assert_eq!(
        list(&app).expect("list").runs[0].id,
        first_run,
        "the first run again"
    );
    let rss_back = rss_kib();
    let mut draws = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        terminal.clear().expect("clear");
        terminal.draw(|f| ui::render(&app, f)).expect("draw");
        draws.push(t.elapsed());
    }

    let mut first = Vec::new();
    for _ in 0..15 {
        let mut app = testing::demo_app(SIZE);
        drive(&rt, &mut app, &ctx, Action::Tick(chrono::Utc::now()));
        open(&mut app);
        let t = Instant::now();
        key(&rt, &mut app, &ctx, "enter");
        terminal.draw(|f| ui::render(&app, f)).expect("draw");
        first.push(t.elapsed());
        assert_eq!(loaded(&app), (100, true), "the first page only");
    }

    // The peer: every run at once, as `runs(experiment)` reads them (1,000 a page).
    let mut all_at_once = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let runs = rt.block_on(registry.runs(&id)).expect("runs");
        all_at_once.push(t.elapsed());
        assert_eq!(runs.len(), total);
    }

    // The tests count the seeded experiments: this one is deleted again (MLflow keeps it, so
    // the next run restores it instead of seeding) unless MLOPS_BENCH_KEEP=1.
    if std::env::var("MLOPS_BENCH_KEEP").as_deref() != Ok("1") {
        let url = format!(
            "{}/api/2.0/mlflow/experiments/delete",
            uri.trim_end_matches('/')
        );
        let r = rt
            .block_on(
                reqwest::Client::new()
                    .post(url)
                    .json(&json!({"experiment_id": id}))
                    .send(),
            )
            .expect("delete");
        assert!(r.status().is_success(), "delete: {}", r.status());
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p50 = percentile(&mut first, 0.5);
    let p95 = percentile(&mut first, 0.95);
    let all = percentile(&mut all_at_once, 0.5);
    println!("runs_paging: {total} runs in {EXPERIMENT}, 100 a page, {SIZE:?}");
    println!(
        "  enter → first page drawn: p50 {:.0} ms, p95 {:.0} ms (15 fresh consoles)",
        ms(p50),
        ms(p95)
    );
    println!(
        "  every run at once (the peer, 1,000 a page): {:.0} ms — {:.1}x the first page",
        ms(all),
        all.as_secs_f64() / p50.as_secs_f64()
    );
    println!(
        "  scrolled to the end: {} pages in {:.1} s ({presses} presses of end)",
        total.div_ceil(100),
        scrolled.as_secs_f64()
    );
    println!(
        "  back to the top: {} pages read again in {:.1} s ({back} presses of home)",
        total.div_ceil(100).saturating_sub(held.div_ceil(100)),
        scrolled_back.as_secs_f64()
    );
    println!(
        "  RSS: {} KiB before, {} KiB at the end ({} KiB more, {held} of {total} runs held; {} KiB back at the top; peak {} KiB)",
        rss_before,
        rss_after,
        rss_after.saturating_sub(rss_before),
        rss_back,
        peak
    );
    println!(
        "  a full frame with {held} runs held: p50 {:.2} ms",
        ms(percentile(&mut draws, 0.5))
    );
}
