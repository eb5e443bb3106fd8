//! Frame render time of every view with the demo data at 200×50 (target: under 2 ms per frame),
//! and what a frame, an event, a filter keystroke and a sort cost with 500 rollouts and with
//! 20,000 pods (target: under a 16 ms frame).

// A benchmark is a script of steps: production code is held to 100 lines a function
// (clippy.toml), benchmarks are not.
#![allow(clippy::too_many_lines)]

use criterion::{Criterion, criterion_group, criterion_main};
use mlops_console::{testing, ui};
use ratatui::{Terminal, backend::TestBackend};

fn render_views(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_200x50");
    for (name, keys) in [
        ("overview", vec![]),
        ("experiments", vec!["2"]),
        ("runs", vec!["2", "enter"]),
        ("run_detail", vec!["2", "enter", "enter"]),
        ("lineage", vec!["3"]),
        ("lineage_graph", vec!["3", "enter"]),
        ("drift", vec!["4"]),
        ("drift_detail", vec!["4", "enter"]),
        ("gpus", vec!["5"]),
        ("rollouts", vec!["6"]),
        ("rollout_detail", vec!["6", "enter"]),
        ("audit", vec!["7"]),
        ("help", vec!["6", "?"]),
    ] {
        let (mut app, _, ctx) = testing::loaded_demo((200, 50));
        for k in keys {
            testing::press(&mut app, &ctx, k);
        }
        let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
        group.bench_function(name, |b| {
            b.iter(|| {
                // A full draw: clear forces every cell to be compared and written again.
                terminal.clear().expect("clear");
                terminal.draw(|f| ui::render(&app, f)).expect("draw");
            });
        });
    }
    group.finish();
}

/// A full frame, redrawn from scratch (clear forces every cell to be compared and written).
fn full_frame(terminal: &mut Terminal<TestBackend>, app: &mlops_console::app::App) {
    terminal.clear().expect("clear");
    terminal.draw(|f| ui::render(app, f)).expect("draw");
}

/// A list screen's four costs: a full frame, `event` applied and drawn, a filter keystroke
/// applied and drawn, and a sort (shift + `sort_key`) applied and drawn.
fn list_costs(
    c: &mut Criterion,
    group_name: &str,
    app: &mut mlops_console::app::App,
    ctx: &mlops_console::event_loop::Context,
    mut event: impl FnMut(&mut mlops_console::app::App),
    sort_key: &str,
) {
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let mut group = c.benchmark_group(group_name);
    group.bench_function("render", |b| b.iter(|| full_frame(&mut terminal, app)));
    group.bench_function("event_then_draw", |b| {
        b.iter(|| {
            event(app);
            terminal.draw(|f| ui::render(app, f)).expect("draw");
        });
    });
    // A sort and a keystroke as the user meets them: on data whose rows were worked out
    // before, in an order (or under a filter) not asked for before.
    group.bench_function("sort_then_draw", |b| {
        b.iter(|| {
            app.memo.forget(&["sorted", "visible", "keys"]);
            testing::press(app, ctx, sort_key);
            terminal.draw(|f| ui::render(app, f)).expect("draw");
        });
    });
    testing::press(app, ctx, "/");
    group.bench_function("filter_keystroke_then_draw", |b| {
        b.iter(|| {
            app.memo.forget(&["visible", "keys"]);
            testing::type_text(app, ctx, "4");
            terminal.draw(|f| ui::render(app, f)).expect("draw");
            testing::press(app, ctx, "backspace");
        });
    });
    testing::press(app, ctx, "esc");
    group.finish();
}

/// The Rollouts view with 500 rollouts listed: a full frame, a watch event (one rollout's
/// weight changed) applied and drawn, a filter keystroke and a sort by weight, each applied and
/// drawn (target: well under a 16 ms frame).
fn rollouts_500(c: &mut Criterion) {
    use mlops_console::app::{Action, update};
    use mlops_core::model::ClusterChange;
    let (mut app, _, ctx) = testing::loaded_demo((200, 50));
    let template = app
        .feeds
        .cluster
        .data
        .as_ref()
        .and_then(|s| s.rollouts.first().cloned())
        .expect("demo rollouts");
    if let Some(snap) = app.feeds.cluster.data_mut() {
        snap.rollouts = (0..500)
            .map(|i| {
                let mut r = template.clone();
                r.name = format!("model-{i:03}-v2");
                r.status.weight = u8::try_from(i % 101).unwrap_or(0);
                r
            })
            .collect();
    }
    testing::press(&mut app, &ctx, "6");
    let mut changed = template.clone();
    changed.name = "model-250-v2".into();
    let mut weight = 0u8;
    let event = move |app: &mut mlops_console::app::App| {
        weight = (weight + 1) % 100;
        changed.status.weight = weight;
        let _ = update(
            app,
            Action::ClusterChanged(Box::new(ClusterChange::Rollout(Box::new(changed.clone())))),
        );
    };
    list_costs(c, "rollouts_500_200x50", &mut app, &ctx, event, "W");
}

/// A cluster of 20,000 serving pods, each with one GPU (2,500 nodes of 8): the GPUs view lists
/// 20,000 rows and its node box sums the pods' requests. A full frame, a metrics refresh (one
/// GPU's utilisation changed) applied and drawn, a filter keystroke and a sort by utilisation,
/// each applied and drawn (target: a keystroke under 16 ms).
fn pods_20000(c: &mut Criterion) {
    use mlops_console::app::{Action, feeds::Source, update};
    let (mut app, _, ctx) = testing::loaded_demo((200, 50));
    let (gpus, nodes, pods) = twenty_thousand(&app);
    if let Some(snap) = app.feeds.cluster.data_mut() {
        snap.nodes = nodes;
        snap.pods = pods;
    }
    app.feeds.gpus.set(gpus.clone());
    testing::press(&mut app, &ctx, "5");
    let mut fresh = gpus;
    let mut tick = 0u32;
    let event = move |app: &mut mlops_console::app::App| {
        tick += 1;
        fresh[10_000].util_pct = f64::from(tick % 100);
        let _ = update(
            app,
            Action::Loaded(
                Source::Gpus,
                Ok(Box::new(mlops_console::app::Payload::Gpus(fresh.clone()))),
            ),
        );
    };
    list_costs(c, "pods_20000_gpus_200x50", &mut app, &ctx, event, "U");
}

/// 20,000 GPUs on 2,500 nodes of 8, each allocated to a pod of its own, from the demo's first
/// GPU, node and pod.
fn twenty_thousand(
    app: &mlops_console::app::App,
) -> (
    Vec<mlops_core::model::Gpu>,
    Vec<mlops_core::model::Node>,
    Vec<mlops_core::model::Pod>,
) {
    let snap = app.feeds.cluster.data.as_ref().expect("the demo cluster");
    let gpu = app
        .feeds
        .gpus
        .data
        .as_ref()
        .and_then(|g| g.first().cloned())
        .expect("demo GPUs");
    let (node, pod) = (snap.nodes[0].clone(), snap.pods[0].clone());
    let (mut gpus, mut nodes, mut pods) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..2500u32 {
        let name = format!("gpu-node-{n:04}");
        nodes.push(mlops_core::model::Node {
            name: name.clone(),
            gpu_capacity: 8,
            ..node.clone()
        });
        for i in 0..8u32 {
            let pod_name = format!("model-{:02}-{n:04}-{i}", n % 40);
            pods.push(mlops_core::model::Pod {
                name: pod_name.clone(),
                node: Some(name.clone()),
                gpus: 1,
                ..pod.clone()
            });
            gpus.push(mlops_core::model::Gpu {
                node: name.clone(),
                index: i,
                util_pct: f64::from((n * 8 + i) % 100),
                pod: Some(pod_name),
                ..gpu.clone()
            });
        }
    }
    (gpus, nodes, pods)
}

/// The Compare view of 20 runs, each with a 2,500-point history of every metric, once the data
/// has arrived: the comparison is worked out and every history drawn in each frame (target:
/// under 20 ms).
fn compare_20_runs(c: &mut Criterion) {
    use mlops_core::model::MetricPoint;
    let (mut app, _, ctx) = testing::loaded_demo((200, 50));
    testing::press(&mut app, &ctx, "2");
    testing::press(&mut app, &ctx, "enter");
    for _ in 0..20 {
        testing::press(&mut app, &ctx, "space");
    }
    assert_eq!(app.runs.marks.len(), 20);
    testing::press(&mut app, &ctx, "c");
    // The selection on the first metric row, so the chart draws 20 histories.
    for _ in 0..12 {
        testing::press(&mut app, &ctx, "j");
    }
    let metric =
        mlops_console::app::rows::compare_chart_metric(&app, app.screen()).expect("a metric row");
    let start = app.now;
    let ids: Vec<String> = app.runs.marks.iter().map(|r| r.id.clone()).collect();
    let histories = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let points = (0..2500)
                .map(|step| MetricPoint {
                    step,
                    timestamp: start,
                    value: (step as f64 / 400.0).ln_1p() * (1.0 + i as f64 / 40.0),
                })
                .collect();
            (id.clone(), points)
        })
        .collect();
    let feed = app.feeds.histories.entry((metric, ids)).or_default();
    feed.set(histories);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    c.bench_function("compare_20_runs_2500_points_200x50", |b| {
        b.iter(|| {
            terminal.clear().expect("clear");
            terminal.draw(|f| ui::render(&app, f)).expect("draw");
        });
    });
}

criterion_group!(
    benches,
    render_views,
    rollouts_500,
    pods_20000,
    compare_20_runs
);
criterion_main!(benches);
