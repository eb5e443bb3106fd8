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

criterion_group!(benches, render_views);
criterion_main!(benches);
