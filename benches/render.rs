//! Frame render time of every view with the demo data at 200×50 (target: under 2 ms per frame).

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

/// The Rollouts view with 500 rollouts listed: a full frame, a watch event applied and drawn, and
/// a filter keystroke applied and drawn (target: well under a 16 ms frame).
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
    if let Some(snap) = app.feeds.cluster.data.as_mut() {
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
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let mut group = c.benchmark_group("rollouts_500_200x50");
    group.bench_function("render", |b| {
        b.iter(|| {
            terminal.clear().expect("clear");
            terminal.draw(|f| ui::render(&app, f)).expect("draw");
        });
    });
    let mut changed = template.clone();
    changed.name = "model-250-v2".into();
    let mut weight = 0u8;
    group.bench_function("watch_event_then_draw", |b| {
        b.iter(|| {
            weight = (weight + 1) % 100;
            changed.status.weight = weight;
            let _ = update(
                &mut app,
                Action::ClusterChanged(Box::new(ClusterChange::Rollout(Box::new(changed.clone())))),
            );
            terminal.draw(|f| ui::render(&app, f)).expect("draw");
        });
    });
    testing::press(&mut app, &ctx, "/");
    group.bench_function("filter_keystroke_then_draw", |b| {
        b.iter(|| {
            testing::type_text(&mut app, &ctx, "4");
            terminal.draw(|f| ui::render(&app, f)).expect("draw");
            testing::press(&mut app, &ctx, "backspace");
        });
    });
    group.finish();
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
    feed.data = Some(histories);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    c.bench_function("compare_20_runs_2500_points_200x50", |b| {
        b.iter(|| {
            terminal.clear().expect("clear");
            terminal.draw(|f| ui::render(&app, f)).expect("draw");
        });
    });
}

criterion_group!(benches, render_views, rollouts_500, compare_20_runs);
criterion_main!(benches);
