//! Snapshot tests of every view on ratatui's `TestBackend`, over the demo platform at a fixed time
//! (so nothing volatile needs filtering).

use std::fmt::Write as _;

use mlops_console::{
    app::{
        Action, App,
        feeds::{Payload, Source},
        keymap::Keymap,
    },
    config::Theme,
    event_loop::Context,
    testing::{dispatch, loaded_demo, press, type_text},
    ui,
};
use ratatui::{Terminal, backend::TestBackend};

fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("test terminal");
    terminal.draw(|f| ui::render(app, f)).expect("draw");
    terminal
}

fn at(keys: &[&str], size: (u16, u16)) -> (App, Context) {
    let (mut app, _, ctx) = loaded_demo(size);
    for k in keys {
        press(&mut app, &ctx, k);
    }
    (app, ctx)
}

/// A screen, by the keys that open it from a fresh start, drawn at every size: the smallest the
/// console takes, a laptop, a big monitor. Each (screen, size) is a test of its own, so a
/// failing screen does not hide the others.
macro_rules! screens {
    ($($name:ident: [$($key:expr),* $(,)?],)*) => {
        $(
            mod $name {
                const KEYS: &[&str] = &[$($key),*];

                #[test]
                fn at_80x24() {
                    super::check(stringify!($name), KEYS, (80, 24));
                }

                #[test]
                fn at_120x40() {
                    super::check(stringify!($name), KEYS, (120, 40));
                }

                #[test]
                fn at_200x50() {
                    super::check(stringify!($name), KEYS, (200, 50));
                }
            }
        )*
    };
}

/// The sizes every screen is drawn at.
const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 50)];

fn check(name: &str, keys: &[&str], (w, h): (u16, u16)) {
    let (app, _) = at(keys, (w, h));
    insta::assert_snapshot!(format!("{name}_{w}x{h}"), draw(&app).backend());
}

// Every screen: adding a view adds its screens here.
screens! {
    overview: [],
    overview_drift_panel: ["o", "j"],
    experiments: ["2"],
    runs: ["2", "enter"],
    run_detail: ["2", "enter", "enter"],
    runs_marked: ["2", "enter", "space", "space", "space"],
    // The demo's metrics take A (accuracy), C (auc), F (f1) and L (latency_ms): loss is O.
    runs_sorted_by_loss: ["2", "enter", "O"],
    runs_column_chooser: ["2", "enter", "o", "j", "space"],
    compare: ["2", "enter", "space", "space", "space", "c"],
    compare_parallel: ["2", "enter", "space", "space", "space", "c", "p"],
    // learning_rate (the third row) as the x axis, loss (the last) as the y axis.
    compare_scatter: ["2", "enter", "space", "space", "space", "c", "j", "j", "x", "end"],
    compare_diff_only: ["2", "enter", "space", "space", "space", "c", "=", "j", "j"],
    lineage: ["3"],
    // The source run of fraud-detector v7, from its lineage: the model it logged.
    run_logged_models: ["3", "enter", "k", "enter"],
    lineage_graph: ["3", "enter"],
    version_detail: ["3", "d"],
    drift: ["4"],
    drift_detail: ["4", "enter"],
    gpus: ["5"],
    gpu_detail: ["5", "d"],
    rollouts: ["6"],
    rollout_detail: ["6", "enter"],
    rollout_raw: ["6", "y"],
    audit: ["7"],
    audit_entry: ["7", "enter"],
    serving: ["8"],
    serving_detail: ["8", "enter"],
    timeline: ["9"],
    triggers: ["0"],
    // The first rollout's model version, with `t`; its last entry in full.
    timeline_of_rollout: ["6", "t"],
    timeline_entry: ["6", "t", "end", "enter"],
    help: ["6", "?"],
    palette: [":", "r"],
    confirm_approve: ["6", "a"],
    confirm_abort: ["6", "j", "j", "x"],
}

/// Each cell's colours as text: runs of one style on a line, `fg/bg` by name.
fn colours(terminal: &Terminal<TestBackend>) -> String {
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut run: Option<(String, String)> = None;
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            let style = format!("{:?}/{:?}", c.fg, c.bg);
            match &mut run {
                Some((s, text)) if *s == style => text.push_str(c.symbol()),
                _ => {
                    if let Some((s, text)) = run.take()
                        && !text.trim().is_empty()
                    {
                        let _ = write!(line, "[{s}]{} ", text.trim_end());
                    }
                    run = Some((style, c.symbol().to_string()));
                }
            }
        }
        if let Some((s, text)) = run
            && !text.trim().is_empty()
        {
            let _ = write!(line, "[{s}]{}", text.trim_end());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// In a 16-colour terminal (TERM=screen) pass, fail, warnings and the selection keep distinct
/// ANSI hues; nothing meaningful is grey.
#[test]
fn colours_at_16_colours() {
    for (name, keys) in [
        ("overview", &[][..]),
        ("rollouts", &["6"][..]),
        // The second row selected: the first, paging, in its own hue.
        ("serving", &["8", "j"][..]),
    ] {
        let (mut app, _) = at(keys, (120, 40));
        app.prefs.theme = mlops_console::config::theme::Theme::embedded("dark");
        app.prefs
            .theme
            .reduce(mlops_console::config::ColorDepth::Ansi16);
        let t = draw(&app);
        let text = colours(&t);
        assert!(
            text.contains("[LightRed/") && text.contains("[Green/"),
            "fail and pass in their own hues:\n{text}"
        );
        insta::assert_snapshot!(format!("colours_16_{name}"), text);
    }
}

/// With NO_COLOR (the monochrome theme) the charts' two series differ by their markers, the
/// selection by reversed video.
#[test]
fn no_color_keeps_series_and_selection_apart() {
    let (mut app, _) = at(&["6", "j", "j", "enter"], (120, 40));
    app.prefs.theme = Theme::embedded("monochrome");
    let t = draw(&app);
    let text = colours(&t);
    assert!(
        !text.contains("Rgb") && !text.contains("Indexed"),
        "no colour at all"
    );
    let screen = format!("{}", t.backend());
    assert!(
        screen.contains('•') && screen.contains('⣿'),
        "two markers in the legend"
    );
    insta::assert_snapshot!("no_color_rollout_detail", screen);
}

/// Verbs the cluster denies the user are shown disabled in the rollout's detail.
#[test]
fn rollout_detail_with_verbs_the_cluster_denies() {
    let (mut app, _) = at(
        &[
            "6", "/", "c", "h", "u", "r", "n", "-", "m", "o", "d", "e", "l", "-", "v", "4",
            "enter", "enter",
        ],
        (120, 40),
    );
    let denied: std::collections::BTreeMap<String, String> = ["approve", "promote"]
        .iter()
        .map(|v| {
            (
                v.to_string(),
                format!("you (you@demo) cannot {v} modelrollouts"),
            )
        })
        .collect();
    if let Some(s) = app.feeds.cluster.data.as_mut() {
        let namespaces: Vec<String> = s.rollouts.iter().map(|r| r.namespace.clone()).collect();
        for ns in namespaces {
            s.denied.insert(ns, denied.clone());
        }
    }
    let screen = format!("{}", draw(&app).backend());
    assert!(screen.contains("approve (not allowed)"), "{screen}");
    assert!(
        screen.contains("x abort"),
        "what is allowed is offered: {screen}"
    );
    insta::assert_snapshot!("rollout_detail_denied_verbs", screen);
}

/// A rollout started under a policy shows its gates as a checklist with their evidence, and how
/// they were found again before promotion.
#[test]
fn rollout_detail_with_its_policy_gates() {
    use mlops_core::policy::{Check, Policy, Recorded};
    let (mut app, _) = at(
        &[
            "6", "/", "c", "h", "u", "r", "n", "-", "m", "o", "d", "e", "l", "-", "v", "4",
            "enter", "enter",
        ],
        (120, 40),
    );
    let check = |gate: &str, evidence: &str| Check {
        gate: gate.into(),
        ok: true,
        evidence: evidence.into(),
    };
    let recorded = Recorded::test(
        Policy::default(),
        "CHG-78",
        vec![
            check("validation", "tag validation_status=passed"),
            check("data residency", "resident to AE; pinned to me-central-1"),
            check("change ticket", "CHG-78"),
        ],
    );
    if let Some(s) = app.feeds.cluster.data.as_mut() {
        for r in s.rollouts.iter_mut().filter(|r| r.name == "churn-model-v4") {
            r.policy = Some(recorded.clone());
        }
    }
    let screen = format!("{}", draw(&app).backend());
    assert!(
        screen.contains("Policy gates") && screen.contains("✓ data residency"),
        "{screen}"
    );
    assert!(screen.contains("tag validation_status=passed"), "{screen}");
    insta::assert_snapshot!("rollout_detail_policy_gates", screen);
}

/// Issue 25: the demo's canary rolled back by its `slo_burn` check shows the check's verdicts in
/// the analysis, and how much of its SLO's error budget it spent.
#[test]
fn rollout_detail_of_a_canary_rolled_back_by_its_slo_burn_check() {
    let mut keys = vec!["6", "/"];
    let filter: Vec<String> = "image-tagger".chars().map(String::from).collect();
    keys.extend(filter.iter().map(String::as_str));
    keys.extend(["enter", "enter"]);
    let (app, _) = at(&keys, (120, 40));
    let screen = format!("{}", draw(&app).backend());
    assert!(
        screen.contains("v2 canary: 0.0078 % of the budget") && screen.contains("99.5 % over 30d"),
        "{screen}"
    );
    assert!(
        screen.contains("slo-burn") && screen.contains("RolledBack"),
        "{screen}"
    );
    insta::assert_snapshot!("rollout_detail_slo_burn", screen);
}

/// The runs filter prompt, then the server's answer to a filter it refuses, in place.
#[test]
fn runs_filter_prompt_and_a_refused_filter() {
    let (mut app, ctx) = at(&["2", "enter", "f"], (100, 30));
    type_text(&mut app, &ctx, "metrics.loss < 0.3");
    insta::assert_snapshot!("runs_filter_prompt", draw(&app).backend());
    press(&mut app, &ctx, "enter");
    insta::assert_snapshot!("runs_filtered_by_the_server", draw(&app).backend());
    press(&mut app, &ctx, "f");
    press(&mut app, &ctx, "ctrl-u");
    type_text(&mut app, &ctx, "metrics.loss <<< 1");
    press(&mut app, &ctx, "enter");
    insta::assert_snapshot!("runs_refused_filter", draw(&app).backend());
}

/// The registry and the cluster disagree: the champion alias moved to a version no cluster
/// serves, and a served version's recorded image is not the one running. The Lineage view lists
/// them under the versions, the version's graph those of its own, the Overview counts them.
#[test]
fn registry_and_cluster_mismatches_in_lineage_and_overview() {
    let (mut app, ctx) = at(&["3"], (120, 40));
    // The demo's scenario already serves a canary whose validation failed.
    let before = draw(&app).backend().to_string();
    assert!(before.contains("failed_validation_served"), "{before}");
    let snapshot = app.feeds.cluster.data.clone().expect("cluster");
    let served = snapshot
        .deployments
        .iter()
        .find(|d| d.replicas > 0 && d.track == mlops_core::model::Track::Stable)
        .expect("a served stable track")
        .clone();
    let serving: Vec<u32> = snapshot
        .deployments
        .iter()
        .filter(|d| d.model == served.model && d.replicas > 0)
        .map(|d| d.version)
        .collect();
    let models = app.feeds.models.data.as_mut().expect("models");
    let model = models
        .iter_mut()
        .find(|m| m.name == served.model)
        .expect("the served model");
    let unserved = model
        .versions
        .iter()
        .map(|v| v.version)
        .find(|v| !serving.contains(v))
        .expect("a version no cluster serves");
    model.aliases.insert("champion".into(), unserved);
    if let Some(v) = model
        .versions
        .iter_mut()
        .find(|v| v.version == served.version)
    {
        v.tags
            .insert("image".into(), "registry.example/other:0.0.1".into());
    }
    let name = served.model.clone();
    let screen = draw(&app).backend().to_string();
    for kind in ["alias_not_served", "alias_moved_on", "image_differs"] {
        assert!(screen.contains(kind), "{kind}:\n{screen}");
    }
    insta::assert_snapshot!("lineage_with_mismatches", draw(&app).backend());
    // The served version's graph: only the mismatches about that version.
    press(&mut app, &ctx, "/");
    type_text(
        &mut app,
        &ctx,
        &format!("{name} version={}", served.version),
    );
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "enter");
    let graph = draw(&app).backend().to_string();
    assert!(graph.contains("image_differs"), "{graph}");
    assert!(!graph.contains("alias_not_served"), "{graph}");
    press(&mut app, &ctx, "1");
    let overview = draw(&app).backend().to_string();
    assert!(
        overview.contains("4 registry/cluster mismatches") || overview.contains("4 mismatches"),
        "{overview}"
    );
}

/// The GPUs view's per-node box says, for every GPU node, the requests of the pods that hold
/// GPUs there against its allocatable GPUs — the numbers `mlops gpu` reports.
#[test]
fn gpu_nodes_show_requested_of_allocatable() {
    let (app, _) = at(&["5"], (200, 50));
    let screen = draw(&app).backend().to_string();
    let cluster = app.feeds.cluster.data.as_ref().expect("cluster");
    let requested = mlops_core::gpu::requested_per_node(&cluster.pods);
    let mut full = 0;
    for n in cluster.nodes.iter().filter(|n| n.gpu_capacity > 0) {
        let r = requested.get(n.name.as_str()).copied().unwrap_or(0);
        full += usize::from(r == n.gpu_capacity);
        let item = format!("{} {r}/{}", n.name, n.gpu_capacity);
        assert!(screen.contains(&item), "{item} in\n{screen}");
    }
    assert!(full > 0, "the demo has full nodes");
}

#[test]
fn terminal_too_small() {
    let (app, _) = at(&[], (60, 20));
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn filtered_rollouts_with_filter_prompt() {
    let (mut app, ctx) = at(&["6", "/"], (120, 40));
    type_text(&mut app, &ctx, "uae");
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn metrics_backend_down_greys_out_its_views_only() {
    let (mut app, ctx) = at(&[], (120, 40));
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            Source::Gpus,
            Err(mlops_core::CoreError::unavailable(
                "Prometheus at http://127.0.0.1:9090",
                "connection refused",
            )),
        ),
    );
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            Source::Drift,
            Err(mlops_core::CoreError::unavailable(
                "Prometheus at http://127.0.0.1:9090",
                "connection refused",
            )),
        ),
    );
    insta::assert_snapshot!(draw(&app).backend());
}

/// The Triggers view when the RolloutTrigger CRD is not installed, and when the user may not
/// list them: the reason, greyed; at 80 columns the reason is not cut.
#[test]
fn triggers_unavailable_say_why_at_80x24() {
    for (name, why) in [
        ("crd_missing", mlops_core::triggers::CRD_MISSING.to_string()),
        (
            "forbidden",
            "may not list rollouttriggers.mlops.dev (verb list, resource rollouttriggers): \
             rollouttriggers.mlops.dev is forbidden: User \"dev\" cannot list resource \
             \"rollouttriggers\" in API group \"mlops.dev\" in the namespace \"ml-serving\""
                .to_string(),
        ),
    ] {
        let (mut app, ctx) = at(&[], (80, 24));
        let mut snap = app.feeds.cluster.data.clone().expect("a snapshot");
        snap.triggers = mlops_core::triggers::TriggersRead::Unavailable(why);
        dispatch(
            &mut app,
            &ctx,
            Action::Loaded(Source::Cluster, Ok(Box::new(Payload::Cluster(snap)))),
        );
        press(&mut app, &ctx, "0");
        insta::assert_snapshot!(format!("triggers_{name}_80x24"), draw(&app).backend());
    }
}

/// The cluster down: the Triggers view is greyed with the cluster's error.
#[test]
fn triggers_with_the_cluster_down() {
    let (mut app, ctx) = at(&["0"], (80, 24));
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            Source::Cluster,
            Err(mlops_core::CoreError::unavailable(
                "Kubernetes API at https://127.0.0.1:6443",
                "connection refused",
            )),
        ),
    );
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn a_registry_refusing_us_says_why_in_full_at_80x24() {
    // The reason was one line, cut at 80 columns before what to check.
    let (mut app, ctx) = at(&["2"], (80, 24));
    app.feeds.experiments.data = None;
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            Source::Experiments,
            Err(mlops_core::CoreError::denied(
                "mlflow",
                "HTTP 401 Unauthorized: UNAUTHENTICATED: You are not authenticated. \
                 Please see https://www.mlflow.org/docs/latest/auth/index.html on how to \
                 authenticate. (check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or \
                 MLFLOW_TRACKING_TOKEN) — GET /api/2.0/mlflow/experiments/search at \
                 http://127.0.0.1:5000",
            )),
        ),
    );
    let screen = format!("{:?}", draw(&app).backend());
    assert!(screen.contains("MLFLOW_TRACKING_TOKEN"), "{screen}");
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn a_wrapping_preview_keeps_the_comment_label() {
    // M3: the dialog was sized by preview lines, not wrapped rows: a line that wrapped pushed
    // the "Comment (required…)" label out.
    for size in SIZES {
        let (app, _) = at(&["6", "j", "j", "x"], size);
        let screen = format!("{:?}", draw(&app).backend());
        assert!(
            screen.contains("Confirm: abort fraud-detector-v7"),
            "{screen}"
        );
        assert!(screen.contains("Comment (required"), "{size:?}:\n{screen}");
    }
}

#[test]
fn needs_you_keeps_every_count_at_80_columns() {
    // M1: at 80×24 the line was cut after the drifted features: idle GPUs and XID faults fell off.
    let (app, _) = at(&[], (80, 24));
    let screen = format!("{:?}", draw(&app).backend());
    let line = screen
        .lines()
        .find(|l| l.contains("1 to approve"))
        .unwrap_or_else(|| panic!("{screen}"));
    for part in [
        "1 paging",
        "1 to approve",
        "2 failing",
        "2 drifted",
        "4 idle GPUs",
        "1 XID fault",
        "1 mismatch",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
}

#[test]
fn palette_columns_never_run_into_each_other() {
    // L2: the aliases were cut in the middle and ran into the help ("ro …t canarycanary").
    for size in SIZES {
        let (app, _) = at(&[":"], size);
        let screen = format!("{:?}", draw(&app).backend());
        assert!(!screen.contains("canarycanary"), "{screen}");
        assert!(screen.contains("ro rollout … canary rollouts"), "{screen}");
    }
}

#[test]
fn unknown_palette_command_shows_a_message() {
    let (mut app, ctx) = at(&[":"], (120, 40));
    type_text(&mut app, &ctx, "gpuz");
    press(&mut app, &ctx, "enter");
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn every_theme_renders_every_view() {
    // Styles are not in the text snapshots; check each theme draws each view without trouble and
    // that the selection is styled differently from plain text.
    for theme in ["dark", "light", "high-contrast", "colorblind", "monochrome"] {
        for view in ["1", "2", "3", "4", "5", "6", "7"] {
            let (mut app, _) = at(&[view], (120, 40));
            app.prefs.theme = Theme::embedded(theme);
            app.prefs.keymap = Keymap::embedded("default");
            let t = draw(&app);
            let buf = t.backend().buffer();
            assert!(
                buf.content().iter().any(|c| c.symbol() != " "),
                "{theme}/{view} drew something"
            );
            assert_ne!(
                app.prefs.theme.selection, app.prefs.theme.text,
                "{theme}: selection must stand out"
            );
        }
    }
}

/// A watch reconnecting: the status bar names it and how stale its rows are; `:messages` lists
/// every watch with its cache figure, where it watches and its state.
#[test]
fn a_reconnecting_watch_on_the_status_bar_and_every_watch_in_messages() {
    use mlops_core::model::{ClusterResource, WatchHealth, WatchState};
    let (mut app, ctx) = at(&[], (200, 50));
    let mut snap = app.feeds.cluster.data.clone().expect("the demo's snapshot");
    let cluster = snap.clusters[0].name.clone();
    let health = |resource, state, scope: &str, rows, bytes| WatchHealth {
        cluster: cluster.clone(),
        resource,
        state,
        scope: scope.into(),
        rows,
        bytes,
    };
    snap.watches = vec![
        health(
            ClusterResource::Nodes,
            WatchState::Live,
            "cluster",
            31,
            9_000,
        ),
        health(
            ClusterResource::Pods,
            WatchState::Reconnecting {
                since: app.now - chrono::Duration::seconds(12),
                error: "failed to start watching object: connection refused".into(),
            },
            "all namespaces",
            8_412,
            1_992_294,
        ),
        health(
            ClusterResource::Events,
            WatchState::Live,
            "namespace team-a only (listing in every namespace is forbidden)",
            500,
            120_000,
        ),
        health(
            ClusterResource::Triggers,
            WatchState::Stopped,
            "no view on screen needs it",
            0,
            0,
        ),
    ];
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(Source::Cluster, Ok(Box::new(Payload::Cluster(snap)))),
    );
    let screen = draw(&app);
    let bar: String = {
        let b = screen.backend().buffer();
        (0..b.area.width)
            .map(|x| b[(x, b.area.height - 1)].symbol().to_string())
            .collect()
    };
    assert!(bar.contains("/pods reconnecting, stale 12s"), "{bar}");
    insta::assert_snapshot!("status_bar_watch_reconnecting", bar.trim_end());
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "messages");
    press(&mut app, &ctx, "enter");
    insta::assert_snapshot!("messages_watch_health", draw(&app).backend());
}
