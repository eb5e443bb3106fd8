//! Update-function tests: the App driven headless by Actions and keys over the demo platform.

use crate::{
    app::{
        Action,
        screens::{ScreenKind, ViewId},
        state::{Level, Mode},
    },
    testing::{dispatch, help_scroll, loaded_demo, palette_text, press, type_text},
};

#[test]
fn starts_on_overview_with_data_loaded() {
    let (app, _, _) = loaded_demo((120, 40));
    assert_eq!(app.view(), ViewId::Overview);
    assert!(app.feeds.cluster.data.is_some());
    assert!(app.feeds.gpus.data.is_some());
    assert!(app.feeds.drift.data.is_some());
    assert!(
        app.feeds.experiments.data.is_none(),
        "nothing fetched that the screen does not need"
    );
}

#[test]
fn number_keys_and_tab_switch_views_and_fetch_their_data() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "2");
    assert_eq!(app.view(), ViewId::Experiments);
    assert_eq!(app.feeds.experiments.data.as_ref().map(Vec::len), Some(12));
    press(&mut app, &ctx, "tab");
    assert_eq!(app.view(), ViewId::Lineage);
    press(&mut app, &ctx, "shift-tab");
    press(&mut app, &ctx, "shift-tab");
    assert_eq!(app.view(), ViewId::Overview);
}

#[test]
fn drill_down_and_back_keep_breadcrumbs() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "2");
    press(&mut app, &ctx, "enter");
    assert!(matches!(app.screen().kind, ScreenKind::Runs { .. }));
    press(&mut app, &ctx, "j");
    press(&mut app, &ctx, "enter");
    let ScreenKind::RunDetail { run_id, .. } = app.screen().kind.clone() else {
        panic!("run detail expected")
    };
    assert!(
        app.feeds
            .run_metrics
            .get(&run_id)
            .and_then(|f| f.data.as_ref())
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(app.nav.stack.len(), 3);
    press(&mut app, &ctx, "esc");
    press(&mut app, &ctx, "esc");
    assert_eq!(app.screen().kind, ScreenKind::Root(ViewId::Experiments));
    press(&mut app, &ctx, "esc");
    assert_eq!(app.nav.stack.len(), 1, "esc at the root stays");
}

#[test]
fn filter_narrows_the_list_and_esc_clears_it() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    let all = crate::app::rows::len(&app, app.screen());
    assert!(all >= 6);
    press(&mut app, &ctx, "/");
    assert_eq!(app.mode(), Mode::Filter);
    type_text(&mut app, &ctx, "fraud");
    assert_eq!(crate::app::rows::len(&app, app.screen()), 1, "live filter");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.mode(), Mode::Normal);
    assert_eq!(app.screen().filter.text(), "fraud");
    press(&mut app, &ctx, "esc");
    assert_eq!(app.screen().filter.text(), "");
    assert_eq!(crate::app::rows::len(&app, app.screen()), all);
}

#[test]
fn selection_stays_in_bounds_and_scrolls() {
    let (mut app, _, ctx) = loaded_demo((100, 24));
    press(&mut app, &ctx, "5");
    for _ in 0..200 {
        press(&mut app, &ctx, "down");
    }
    assert_eq!(app.screen().selected, 95, "96 GPUs");
    assert!(app.screen().offset + app.list_height() > 95);
    press(&mut app, &ctx, "home");
    assert_eq!((app.screen().selected, app.screen().offset), (0, 0));
    press(&mut app, &ctx, "pagedown");
    assert_eq!(app.screen().selected, app.list_height());
}

#[test]
fn palette_runs_commands_completes_and_rejects_typos() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, ":");
    assert_eq!(app.mode(), Mode::Palette);
    type_text(&mut app, &ctx, "gpu");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.view(), ViewId::Gpus);
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "aud");
    press(&mut app, &ctx, "tab");
    assert_eq!(palette_text(&app), "audit");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.view(), ViewId::Audit);
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "rollots");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.view(), ViewId::Audit, "a typo changes nothing");
    let m = app.message.as_ref().expect("a message");
    assert_eq!(m.level, Level::Warn);
    assert!(m.text.contains("did you mean :rollouts?"), "{}", m.text);
}

#[test]
fn help_toggles_and_closes_on_other_actions() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "?");
    assert_eq!(app.mode(), Mode::Help);
    press(&mut app, &ctx, "j");
    assert_eq!(
        (app.mode(), help_scroll(&app)),
        (Mode::Help, 1),
        "scrolls the help"
    );
    press(&mut app, &ctx, "esc");
    assert_eq!(app.mode(), Mode::Normal);
    press(&mut app, &ctx, "?");
    press(&mut app, &ctx, "3");
    assert_eq!((app.mode(), app.view()), (Mode::Normal, ViewId::Lineage));
}

#[test]
fn approve_needs_a_comment_then_goes_through_the_core_and_is_audited() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    // The attention sort puts the rollout waiting for approval first.
    let first = crate::app::rows::rollouts(&app, app.screen())[0]
        .name
        .clone();
    assert_eq!(first, "churn-model-v4");
    press(&mut app, &ctx, "a");
    assert_eq!(app.mode(), Mode::Confirm);
    let preview = app
        .confirm()
        .map(|c| c.preview.join("\n"))
        .unwrap_or_default();
    assert!(preview.contains("approvals: 1/2 → 2/2"), "{preview}");
    assert!(preview.contains("canary traffic: 20% → 50%"), "{preview}");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.mode(), Mode::Confirm, "no comment, no approval");
    assert!(app.confirm().and_then(|c| c.error.clone()).is_some());
    type_text(&mut app, &ctx, "eval beats champion");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.mode(), Mode::Normal);
    let phase = platform.with_sim(|s| {
        s.rollouts()
            .into_iter()
            .find(|r| r.name == "churn-model-v4")
            .map(|r| (r.status.phase, r.status.approvals.len()))
    });
    assert_eq!(phase, Some((mlops_core::rollout::Phase::Progressing, 2)));
    // The approval as the user sent it, then the transition the embedded controller made of it.
    let last: Vec<(String, String, String)> = platform.with_sim(|s| {
        let e = s.audit.entries();
        e[e.len() - 2..]
            .iter()
            .map(|a| (a.actor.clone(), a.action.clone(), a.comment.clone()))
            .collect()
    });
    assert_eq!(
        last,
        [
            (
                "you@demo".to_string(),
                "rollout.approve".to_string(),
                "eval beats champion".to_string()
            ),
            (
                mlops_core::demo::CONTROLLER.to_string(),
                "rollout.progressing".to_string(),
                String::new()
            )
        ]
    );
    // And the model version in the registry says who approved it, when and why.
    let tag = platform.with_sim(|s| {
        s.models
            .iter()
            .find(|m| m.name == "churn-model")
            .and_then(|m| m.versions.iter().find(|v| v.version == 4))
            .and_then(|v| v.tags.get("mlops.action.approve").cloned())
    });
    let tag = tag.unwrap_or_default();
    assert!(
        tag.starts_with("rollout.approve by you@demo at ")
            && tag.contains(": eval beats champion (rollout "),
        "{tag}"
    );
}

#[test]
fn an_approval_under_a_ticket_policy_needs_the_ticket_in_its_comment() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    let recorded = mlops_core::policy::Recorded::test(
        mlops_core::policy::Policy {
            change_ticket: true,
            ..mlops_core::policy::Policy::default()
        },
        "CHG-9",
        Vec::new(),
    );
    if let Some(s) = app.feeds.cluster.data.as_mut() {
        for r in s.rollouts.iter_mut().filter(|r| r.name == "churn-model-v4") {
            r.policy = Some(recorded.clone());
        }
    }
    let (error, recorded) = approve_without_then_with_ticket(&mut app, &platform, &ctx, "CHG-9");
    assert!(error.contains("requires a change ticket"), "{error}");
    assert_eq!(recorded.as_deref(), Some("CHG-9: eval beats champion"));
}

/// Approve churn-model-v4 (selected in the Rollouts view) with a comment without a ticket, then
/// with `ticket` in front: the error the first got, and the comment the approval recorded.
fn approve_without_then_with_ticket(
    app: &mut crate::app::App,
    platform: &mlops_core::demo::DemoPlatform,
    ctx: &crate::event_loop::Context,
    ticket: &str,
) -> (String, Option<String>) {
    press(app, ctx, "a");
    assert_eq!(app.mode(), Mode::Confirm);
    type_text(app, ctx, "eval beats champion");
    press(app, ctx, "enter");
    assert_eq!(app.mode(), Mode::Confirm, "no ticket, no approval");
    let error = app
        .confirm()
        .and_then(|c| c.error.clone())
        .unwrap_or_default();
    press(app, ctx, "ctrl-u");
    type_text(app, ctx, &format!("{ticket}: eval beats champion"));
    press(app, ctx, "enter");
    assert_eq!(app.mode(), Mode::Normal);
    let recorded = platform.with_sim(|s| {
        s.rollouts()
            .into_iter()
            .find(|r| r.name == "churn-model-v4")
            .and_then(|r| r.status.approvals.last().map(|a| a.comment.clone()))
    });
    (error, recorded)
}

#[test]
fn refused_commands_never_open_a_dialog_and_readonly_refuses_all() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "search-embedder");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "p");
    assert_eq!(app.mode(), Mode::Normal);
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.level == Level::Error && m.text.contains("is Promoted"))
    );
    app.prefs.readonly = true;
    press(&mut app, &ctx, "R");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.text.contains("read-only"))
    );
}

/// A verb the cluster does not let the user use is refused with the cluster's reason before any
/// dialog (the reason comes with each snapshot, from SelfSubjectAccessReview on a real cluster).
#[test]
fn a_verb_the_cluster_denies_is_refused_with_its_reason() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "churn-model-v4");
    press(&mut app, &ctx, "enter");
    let ns = crate::app::rows::rollouts(&app, app.screen())
        .first()
        .map(|r| r.namespace.clone())
        .expect("the rollout");
    let why = format!("you (you@demo) cannot approve modelrollouts in {ns}");
    if let Some(s) = app.feeds.cluster.data.as_mut() {
        s.denied
            .entry(ns.clone())
            .or_default()
            .insert("approve".into(), why.clone());
    }
    press(&mut app, &ctx, "a");
    assert_eq!(app.mode(), Mode::Normal, "no dialog");
    assert!(
        app.message
            .as_ref()
            .is_some_and(|m| m.level == Level::Error && m.text == why),
        "{:?}",
        app.message
    );
    // What it does allow still opens its dialog.
    press(&mut app, &ctx, "x");
    assert_eq!(app.mode(), Mode::Confirm);
}

#[test]
fn esc_in_confirm_cancels_without_change() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "x");
    assert_eq!(app.mode(), Mode::Confirm);
    press(&mut app, &ctx, "esc");
    assert_eq!(app.mode(), Mode::Normal);
    let phase = platform.with_sim(|s| {
        s.rollouts()
            .into_iter()
            .find(|r| r.name == "churn-model-v4")
            .map(|r| r.status.phase)
    });
    assert_eq!(phase, Some(mlops_core::rollout::Phase::AwaitingApproval));
}

#[test]
fn a_failing_backend_keeps_old_data_and_reports_the_error() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    let before = app.feeds.gpus.data.clone();
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            crate::app::feeds::Source::Gpus,
            Err(mlops_core::CoreError::unavailable(
                "demo",
                "connection refused",
            )),
        ),
    );
    assert_eq!(app.feeds.gpus.data, before);
    assert_eq!(
        app.backend_error(crate::app::feeds::Backend::Metrics)
            .map(ToString::to_string)
            .as_deref(),
        Some("demo: connection refused")
    );
    assert!(
        app.backend_error(crate::app::feeds::Backend::Cluster)
            .is_none(),
        "the rest keeps working"
    );
}

#[test]
fn one_fetch_in_flight_per_source() {
    let (mut app, platform, _) = loaded_demo((120, 40));
    platform.advance(5);
    let fx = crate::app::update(&mut app, Action::Tick(platform.now()));
    let again = crate::app::update(&mut app, Action::Tick(platform.now()));
    assert!(!fx.is_empty());
    assert!(
        again.is_empty(),
        "nothing fetched twice while in flight: {again:?}"
    );
    assert!(app.feeds.cluster.queued || !app.feeds.cluster.in_flight || again.is_empty());
}

#[test]
fn vim_sequences_wait_for_the_second_key() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    app.prefs.keymap = crate::app::keymap::Keymap::embedded("vim");
    press(&mut app, &ctx, "5");
    press(&mut app, &ctx, "G");
    assert_eq!(app.screen().selected, 95);
    press(&mut app, &ctx, "g");
    assert_eq!(app.pending.len(), 1);
    press(&mut app, &ctx, "g");
    assert_eq!((app.screen().selected, app.pending.len()), (0, 0));
    press(&mut app, &ctx, "g");
    press(&mut app, &ctx, "r");
    assert_eq!(app.view(), ViewId::Rollouts);
}

#[test]
fn quit_sets_the_flag() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "q");
    assert!(app.quit);
}

#[test]
fn fresh_data_ends_the_stale_notice_even_when_unchanged() {
    use crate::app::{Payload, feeds::Source};
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    let cluster = app.feeds.cluster.data.clone().expect("loaded");
    let gpus = app.feeds.gpus.data.clone().expect("loaded");
    let drift = app.feeds.drift.data.clone().expect("loaded");
    // Time passes with no fetch answered: the data goes stale.
    app.now = platform.now() + chrono::Duration::seconds(10);
    assert!(
        crate::app::rows::wanted::oldest_live_update(&app)
            .is_some_and(|u| app.now - u >= app.prefs.refresh * 3)
    );
    app.dirty = false;
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(Source::Cluster, Ok(Box::new(Payload::Cluster(cluster)))),
    );
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(Source::Gpus, Ok(Box::new(Payload::Gpus(gpus)))),
    );
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(
            Source::Drift,
            Ok(Box::new(Payload::Drift(drift, Vec::new()))),
        ),
    );
    assert!(app.dirty, "the stale notice must be redrawn away");
}

#[test]
fn watched_changes_apply_to_the_last_snapshot_without_a_fetch() {
    use mlops_core::{
        model::{ClusterChange, Driver},
        rollout::Phase,
    };
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    let rollouts = |app: &crate::app::App| {
        app.feeds
            .cluster
            .data
            .as_ref()
            .map(|s| s.rollouts.clone())
            .unwrap_or_default()
    };
    let before = rollouts(&app);
    let mut changed = before[0].clone();
    changed.status.phase = Phase::Paused;
    changed.status.weight = 42;
    app.dirty = false;
    let fx = crate::app::update(
        &mut app,
        Action::ClusterChanged(Box::new(ClusterChange::Rollout(Box::new(changed.clone())))),
    );
    assert!(fx.is_empty(), "no fetch: the watch brought the data");
    assert!(app.dirty, "redrawn");
    assert_eq!(rollouts(&app)[0], changed);

    let mut new = before[0].clone();
    new.name = "aaa-first".into();
    new.namespace = String::new();
    crate::app::update(
        &mut app,
        Action::ClusterChanged(Box::new(ClusterChange::Rollout(Box::new(new)))),
    );
    assert_eq!(rollouts(&app).len(), before.len() + 1);
    assert_eq!(
        rollouts(&app)[0].name,
        "aaa-first",
        "kept in namespace/name order"
    );

    crate::app::update(
        &mut app,
        Action::ClusterChanged(Box::new(ClusterChange::RolloutDeleted {
            cluster: changed.cluster.clone(),
            namespace: changed.namespace.clone(),
            name: changed.name.clone(),
        })),
    );
    assert!(
        !rollouts(&app)
            .iter()
            .any(|r| r.name == changed.name && r.namespace == changed.namespace)
    );

    crate::app::update(
        &mut app,
        Action::ClusterChanged(Box::new(ClusterChange::Driver(Driver::Controller {
            holder: "ctl-1".into(),
        }))),
    );
    assert_eq!(
        app.feeds.cluster.data.as_ref().map(|s| s.driver.clone()),
        Some(Driver::Controller {
            holder: "ctl-1".into()
        })
    );

    app.dirty = false;
    crate::app::update(
        &mut app,
        Action::ClusterChanged(Box::new(ClusterChange::Driver(Driver::Controller {
            holder: "ctl-1".into(),
        }))),
    );
    assert!(!app.dirty, "an unchanged lease renewal does not redraw");

    crate::app::update(
        &mut app,
        Action::ClusterChanged(Box::new(ClusterChange::Rollouts(Vec::new()))),
    );
    assert!(
        rollouts(&app).is_empty(),
        "a restarted watch replaces the list"
    );
}

/// policy.toml's rules for the rollout's cluster and namespace ask for a change ticket: the
/// console asks for it as `mlops rollout approve` does (the same core rule), not only when the
/// rollout started under such a policy.
#[test]
fn an_approval_where_policy_toml_asks_for_a_ticket_needs_one() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    let cluster = app
        .feeds
        .cluster
        .data
        .as_ref()
        .and_then(|s| s.rollouts.iter().find(|r| r.name == "churn-model-v4"))
        .map(|r| r.cluster.clone())
        .expect("the demo's churn rollout");
    let policy: crate::config::policy::PolicyFile =
        toml::from_str(&format!("[clusters.{cluster}]\nchange_ticket = true\n")).expect("toml");
    app.prefs.policy = Some(policy);
    press(&mut app, &ctx, "6");
    let (error, recorded) = approve_without_then_with_ticket(&mut app, &platform, &ctx, "CHG-12");
    assert!(
        error.contains("policy.toml requires a change ticket"),
        "{error}"
    );
    assert_eq!(recorded.as_deref(), Some("CHG-12: eval beats champion"));
}

/// Derived state is worked out once: drawing a frame again, with nothing changed in between,
/// works out no rows (every list, count and summary a view shows comes from the memo).
#[test]
fn a_frame_works_out_nothing_the_last_frame_did() {
    use ratatui::{Terminal, backend::TestBackend};
    let screens: [&[&str]; 12] = [
        &[],
        &["o", "j"],
        &["2"],
        &["2", "enter"],
        &["3"],
        &["3", "enter"],
        &["4"],
        &["5"],
        &["6"],
        &["6", "enter"],
        &["7"],
        &["6", "/", "c", "h"],
    ];
    for keys in screens {
        let (mut app, _, ctx) = loaded_demo((120, 40));
        for k in keys {
            press(&mut app, &ctx, k);
        }
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("terminal");
        terminal.draw(|f| crate::ui::render(&app, f)).expect("draw");
        let first = app.memo.computed();
        terminal.draw(|f| crate::ui::render(&app, f)).expect("draw");
        assert_eq!(
            app.memo.computed(),
            first,
            "{keys:?}: the second frame worked rows out again"
        );
    }
}

/// Finding 18 of the second probe: the Drift view says what the answer left out (features whose
/// histograms cannot be used, models not looked up), sanitised, with how many more there are.
#[test]
fn the_drift_view_says_what_the_answer_left_out() {
    use crate::app::{Payload, feeds::Source};
    use ratatui::{Terminal, backend::TestBackend};
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "4");
    assert_eq!(app.view(), ViewId::Drift);
    let drift = app.feeds.drift.data.clone().expect("loaded");
    let warnings = vec![
        "m v1 no_inf: not compared: the reference window's histogram has no +Inf bucket\u{1b}[2J"
            .to_string(),
        "m v1 nan: bucket counts that are not counts were left out".to_string(),
    ];
    dispatch(
        &mut app,
        &ctx,
        Action::Loaded(Source::Drift, Ok(Box::new(Payload::Drift(drift, warnings)))),
    );
    let mut terminal = Terminal::new(TestBackend::new(140, 40)).expect("terminal");
    terminal.draw(|f| crate::ui::render(&app, f)).expect("draw");
    let text: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(ratatui::buffer::Cell::symbol)
        .collect();
    assert!(
        text.contains("⚠ m v1 no_inf: not compared: the reference window's histogram has no +Inf bucket� (+1 more)"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'));
}
