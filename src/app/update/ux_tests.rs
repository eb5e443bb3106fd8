//! The UX review's findings (`shared/design/ux-review.md`), each as the keys a user pressed and
//! what must hold afterwards. Named after the finding they cover.

use mlops_core::rollout::Phase;

use crate::{
    app::{
        Action,
        keymap::{Keymap, Lookup},
        rows,
        screens::{Panel, RawOf, Screen, ScreenKind, ViewId},
        state::{Level, Mode},
    },
    testing::{demo_app, demo_context, dispatch, help_scroll, loaded_demo, press, type_text},
};

fn selected_rollout(app: &crate::app::App) -> String {
    rows::rollouts(app, app.screen())[app.screen().selected]
        .name
        .clone()
}

pub(super) fn select_rollout(
    app: &mut crate::app::App,
    ctx: &crate::event_loop::Context,
    name: &str,
) {
    press(app, ctx, "home");
    for _ in 0..20 {
        if selected_rollout(app) == name {
            return;
        }
        press(app, ctx, "j");
    }
    panic!("{name} is not in the list");
}

fn tick(
    app: &mut crate::app::App,
    platform: &mlops_core::demo::DemoPlatform,
    ctx: &crate::event_loop::Context,
    secs: i64,
) {
    platform.advance(secs);
    dispatch(app, ctx, Action::Tick(platform.now()));
}

fn last_audit(platform: &mlops_core::demo::DemoPlatform, action: &str) -> (String, String) {
    platform.with_sim(|s| {
        s.audit
            .entries()
            .iter()
            .rev()
            .find(|e| e.action == action)
            .map(|e| (e.actor.clone(), e.comment.clone()))
            .unwrap_or_default()
    })
}

/// H2: after a verb re-sorts the list, and after the platform changes by itself, the highlight
/// stays on the rollout the user chose.
#[test]
fn h2_the_selection_follows_the_rollout_across_verbs_and_watch_events() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "churn-model-v4");
    assert_eq!(app.screen().selected, 0, "awaiting approval sorts first");
    press(&mut app, &ctx, "a");
    type_text(&mut app, &ctx, "eval ok");
    press(&mut app, &ctx, "enter");
    assert_ne!(
        rows::rollouts(&app, app.screen())[0].name,
        "churn-model-v4",
        "the approval moved it down the list"
    );
    assert_eq!(selected_rollout(&app), "churn-model-v4");
    select_rollout(&mut app, &ctx, "recsys-ranker-v12");
    let before = app.screen().selected;
    // Twenty minutes of the platform moving on: rollouts finish and the order changes.
    for _ in 0..40 {
        tick(&mut app, &platform, &ctx, 30);
    }
    assert_eq!(selected_rollout(&app), "recsys-ranker-v12");
    let _ = before;
    // A verb now acts on the rollout shown as selected.
    press(&mut app, &ctx, "x");
    if app.mode() == Mode::Confirm {
        assert_eq!(
            app.confirm().map(|c| c.target.name.clone()),
            Some("recsys-ranker-v12".to_string())
        );
    }
}

/// H3: a promotion's preview never claims "unset" for an alias it has not read: the Rollouts
/// view loads the registry, and the preview names the champion it replaces.
#[test]
fn h3_the_promote_preview_names_the_champion_without_visiting_lineage() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "churn-model-v4");
    press(&mut app, &ctx, "a");
    type_text(&mut app, &ctx, "eval ok");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "P");
    let preview = app
        .confirm()
        .map(|c| c.preview.join("\n"))
        .unwrap_or_default();
    assert!(
        preview.contains("churn-model@champion v3 → v4"),
        "{preview}"
    );
    assert!(!preview.contains("unset"), "{preview}");
}

/// H3: with the registry not loaded, the preview says so instead of guessing.
#[test]
fn h3_the_preview_says_unknown_while_the_registry_is_not_loaded() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "churn-model-v4");
    press(&mut app, &ctx, "a");
    type_text(&mut app, &ctx, "eval ok");
    press(&mut app, &ctx, "enter");
    app.feeds.models = crate::app::feeds::Feed::default();
    app.feeds.models.in_flight = true;
    press(&mut app, &ctx, "P");
    let preview = app
        .confirm()
        .map(|c| c.preview.join("\n"))
        .unwrap_or_default();
    assert!(preview.contains("unknown"), "{preview}");
    assert!(!preview.contains("unset"), "{preview}");
}

/// H4: the rollout verbs work on the Overview's rollouts panel, as the README says.
#[test]
fn h4_verbs_act_on_the_overviews_selected_rollout() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    assert_eq!(app.view(), ViewId::Overview);
    let first = rows::rollouts(&app, app.screen())[0].name.clone();
    assert_eq!(first, "churn-model-v4");
    press(&mut app, &ctx, "a");
    assert_eq!(app.mode(), Mode::Confirm);
    assert_eq!(
        app.confirm().map(|c| c.target.name.as_str()),
        Some("churn-model-v4")
    );
    press(&mut app, &ctx, "esc");
    // On another panel the verbs say where they work instead of acting on something else.
    press(&mut app, &ctx, "o");
    assert_eq!(app.screen().panel, Panel::Drift);
    press(&mut app, &ctx, "a");
    assert_eq!(app.mode(), Mode::Normal);
    assert!(
        app.message.is_some(),
        "a verb off the rollouts panel says why"
    );
}

/// H5: promote, pause and resume carry the user and the comment into the audit log, under the
/// same action names as the real adapter.
#[test]
fn h5_every_verb_audits_the_user_and_the_comment() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "recsys-ranker-v12");
    press(&mut app, &ctx, "s");
    type_text(&mut app, &ctx, "hold for the load test");
    press(&mut app, &ctx, "enter");
    assert_eq!(
        last_audit(&platform, "rollout.pause"),
        ("you@demo".into(), "hold for the load test".into())
    );
    press(&mut app, &ctx, "S");
    type_text(&mut app, &ctx, "load test done");
    press(&mut app, &ctx, "enter");
    assert_eq!(
        last_audit(&platform, "rollout.resume"),
        ("you@demo".into(), "load test done".into())
    );
    press(&mut app, &ctx, "p");
    type_text(&mut app, &ctx, "promote early: load test done");
    press(&mut app, &ctx, "enter");
    assert_eq!(
        last_audit(&platform, "rollout.promote"),
        ("you@demo".into(), "promote early: load test done".into())
    );
    press(&mut app, &ctx, "P");
    type_text(&mut app, &ctx, "ship it");
    press(&mut app, &ctx, "enter");
    assert_eq!(
        last_audit(&platform, "rollout.promote-full"),
        ("you@demo".into(), "ship it".into())
    );
    // The status history names the user and the comment too.
    let events = platform.with_sim(|s| {
        s.rollouts()
            .into_iter()
            .find(|r| r.name == "recsys-ranker-v12")
            .map(|r| {
                r.status
                    .history
                    .iter()
                    .map(|t| t.reason.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    });
    assert!(
        events.contains("you@demo: hold for the load test"),
        "{events}"
    );
    // The operator's promotion is recorded as a promotion, not only as an alias move (L11).
    assert!(
        last_audit(&platform, "rollout.promoted")
            .0
            .contains("controller")
    );
}

/// M9: a rollout in a timed pause step is not "Paused": resume says why it does not apply.
#[test]
fn m9_resume_during_a_timed_pause_step_says_it_is_a_step() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "churn-model-v4");
    press(&mut app, &ctx, "a");
    type_text(&mut app, &ctx, "eval ok");
    press(&mut app, &ctx, "enter");
    // 50% then the analysis: a few minutes until the "pause 120s" step.
    for _ in 0..30 {
        tick(&mut app, &platform, &ctx, 10);
        let r = rows::rollouts(&app, app.screen())
            .into_iter()
            .find(|r| r.name == "churn-model-v4")
            .cloned()
            .expect("churn");
        if r.pause_left(app.now).is_some() {
            // The phase is the custom resource's (as Argo Rollouts names a pause step); the
            // list reads "Pausing Ns" for it and `S` explains.
            assert!(
                !r.status.user_paused,
                "a timed step is not an operator's pause"
            );
            select_rollout(&mut app, &ctx, "churn-model-v4");
            press(&mut app, &ctx, "S");
            assert_eq!(app.mode(), Mode::Normal);
            let m = app
                .message
                .as_ref()
                .map(|m| m.text.clone())
                .unwrap_or_default();
            assert!(m.contains("pause step"), "{m}");
            // The Overview's rollouts footer counts it by the same word as its row (it said
            // "1 Paused" beside "Pausing 88s").
            press(&mut app, &ctx, "1");
            let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 40))
                .expect("terminal");
            terminal.draw(|f| crate::ui::render(&app, f)).expect("draw");
            let screen = format!("{:?}", terminal.backend());
            assert!(
                screen.contains(" 1 Pausing ") && !screen.contains(" 1 Paused "),
                "{screen}"
            );
            return;
        }
    }
    panic!("churn-model-v4 never reached its timed pause");
}

/// M10: each view keeps its drill stack, selection and filter while another is shown.
#[test]
fn m10_views_keep_their_drill_selection_and_filter() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    select_rollout(&mut app, &ctx, "recsys-ranker-v12");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "2");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "dana");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "j");
    let runs_selected = app.screen().selected;
    press(&mut app, &ctx, "6");
    assert_eq!(
        app.screen().kind.crumb(),
        "recsys-ranker-v12",
        "the detail is still open"
    );
    press(&mut app, &ctx, "tab");
    press(&mut app, &ctx, "shift-tab");
    assert_eq!(app.screen().kind.crumb(), "recsys-ranker-v12");
    press(&mut app, &ctx, "esc");
    assert_eq!(selected_rollout(&app), "recsys-ranker-v12");
    press(&mut app, &ctx, "2");
    assert!(matches!(app.screen().kind, ScreenKind::Runs { .. }));
    assert_eq!(app.screen().filter.text(), "dana");
    assert_eq!(app.screen().selected, runs_selected);
    // The view's own key again goes to its top.
    press(&mut app, &ctx, "2");
    assert_eq!(app.screen().kind, ScreenKind::Root(ViewId::Experiments));
}

/// M11 and the filter syntax: words match the columns on show, `!` inverts, `/re/` is a regular
/// expression, `field:value` matches one column; a bad term is reported, not a crash.
#[test]
fn m11_filter_terms_match_what_the_columns_show() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    let all = rows::len(&app, app.screen());
    let set = |app: &mut crate::app::App, f: &str| {
        press(app, &ctx, "/");
        press(app, &ctx, "ctrl-u");
        type_text(app, &ctx, f);
        press(app, &ctx, "enter");
        rows::rollouts(app, app.screen())
            .iter()
            .map(|r| r.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(set(&mut app, "uae-prod").len(), 3);
    assert_eq!(set(&mut app, "!uae-prod").len(), all - 3);
    assert_eq!(set(&mut app, "phase:Failed"), ["pricing-model-v5"]);
    assert_eq!(set(&mut app, "phase:Failed cluster:eu-prod").len(), 0);
    assert_eq!(
        set(&mut app, "/^(churn|fraud)-/"),
        ["churn-model-v4", "fraud-detector-v7"]
    );
    set(&mut app, "/(unclosed/");
    assert!(
        !rows::filter_problems(&app, app.screen()).is_empty(),
        "a bad regular expression is reported"
    );
    assert_eq!(
        set(&mut app, "nosuchfield:x phase:Failed"),
        ["pricing-model-v5"],
        "an unknown field is left out (and reported), the other terms apply"
    );
    assert!(
        rows::filter_problems(&app, app.screen())
            .iter()
            .any(|p| p.contains("nosuchfield")),
        "{:?}",
        rows::filter_problems(&app, app.screen())
    );
    // Runs: the params and metrics on screen are searchable.
    press(&mut app, &ctx, "2");
    press(&mut app, &ctx, "enter");
    assert!(matches!(app.screen().kind, ScreenKind::Runs { .. }), "runs");
    let runs = |app: &crate::app::App| rows::runs(app, app.screen()).len();
    // `/` narrows the runs loaded so far (pages are read on as the rows run short).
    let loaded = |app: &crate::app::App| {
        rows::run_list(app, app.screen())
            .and_then(|f| f.data.as_ref())
            .map_or(0, |l| l.runs.len())
    };
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "dana");
    press(&mut app, &ctx, "enter");
    let dana = runs(&app);
    assert!(dana > 0 && dana < loaded(&app));
    press(&mut app, &ctx, "/");
    press(&mut app, &ctx, "ctrl-u");
    type_text(&mut app, &ctx, "!dana");
    press(&mut app, &ctx, "enter");
    assert_eq!(runs(&app) + dana, loaded(&app));
}

/// Sorting: `shift` + a column's letter sorts by it, again reverses; no sort key is shadowed by
/// a key the view binds in either shipped keymap.
#[test]
fn sort_keys_sort_reverse_and_are_never_shadowed() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "5");
    press(&mut app, &ctx, "U");
    let utils: Vec<f64> = rows::gpus(&app, app.screen())
        .iter()
        .map(|g| g.util_pct)
        .collect();
    assert!(utils.windows(2).all(|w| w[0] <= w[1]), "ascending");
    press(&mut app, &ctx, "U");
    let utils: Vec<f64> = rows::gpus(&app, app.screen())
        .iter()
        .map(|g| g.util_pct)
        .collect();
    assert!(utils.windows(2).all(|w| w[0] >= w[1]), "descending");
    // `N` is the search's previous match on a detail screen, and still sorts a list by NAME.
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "N");
    assert_eq!(
        app.screen().sort.map(|s| s.descending),
        Some(false),
        "shift-N sorts the rollouts by NAME"
    );
    for name in ["default", "vim"] {
        let km = Keymap::embedded(name);
        for view in ViewId::all() {
            let screen = Screen::new(view.screen());
            let keys = rows::sortable(&app, &screen);
            let mut seen = std::collections::HashSet::new();
            for (_, header, k) in keys {
                assert!(seen.insert(k), "{view:?}: two columns sort on {k}");
                let key = crate::app::keymap::Key::parse(&k.to_string()).expect("key");
                // `n`/`N` move through a detail screen's search; in a list they fall through
                // to sorting (below).
                assert!(
                    matches!(
                        km.lookup(view.context(), &[key]),
                        Lookup::None | Lookup::Action(Action::SearchNext | Action::SearchPrev)
                    ),
                    "{name} keymap: shift-{k} ({header}) in {view:?} is bound to something else"
                );
            }
        }
    }
}

/// History: `[` back, `]` forward, `-` the last place; drilling within a view is not a place.
#[test]
fn history_goes_back_forward_and_toggles() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "4");
    press(&mut app, &ctx, "5");
    press(&mut app, &ctx, "[");
    assert_eq!(app.view(), ViewId::Drift);
    press(&mut app, &ctx, "[");
    assert_eq!(app.view(), ViewId::Rollouts);
    assert!(matches!(app.screen().kind, ScreenKind::RolloutDetail(_)));
    press(&mut app, &ctx, "]");
    assert_eq!(app.view(), ViewId::Drift);
    press(&mut app, &ctx, "-");
    assert_eq!(app.view(), ViewId::Rollouts);
    press(&mut app, &ctx, "-");
    assert_eq!(app.view(), ViewId::Drift);
    press(&mut app, &ctx, "enter");
    assert!(matches!(app.screen().kind, ScreenKind::DriftDetail(_)));
    press(&mut app, &ctx, "-");
    assert_eq!(
        app.view(),
        ViewId::Rollouts,
        "the drill into Drift was not a place"
    );
}

/// Details: `d` describes the selected object in full, `y` shows its raw JSON, `J` jumps to the
/// model version that owns it (and the tab bar follows: L5).
#[test]
fn describe_raw_and_owner_jump() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "7");
    press(&mut app, &ctx, "d");
    let ScreenKind::AuditEntry(seq) = app.screen().kind else {
        panic!("audit entry expected, got {:?}", app.screen().kind)
    };
    press(&mut app, &ctx, "y");
    assert_eq!(
        app.screen().kind,
        ScreenKind::Raw {
            of: RawOf::AuditEntry(seq),
            from: ViewId::Audit
        }
    );
    let doc = rows::details::raw_document(&app, &RawOf::AuditEntry(seq)).expect("json");
    let v: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
    assert_eq!(v["seq"], seq);
    press(&mut app, &ctx, "5");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "model:churn");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "J");
    assert_eq!(
        app.view(),
        ViewId::Lineage,
        "the tab bar agrees with the screen"
    );
    assert!(matches!(
        &app.screen().kind,
        ScreenKind::LineageGraph { model, .. } if model == "churn-model"
    ));
    // Every lineage node opens something: the dataset its detail.
    press(&mut app, &ctx, "home");
    press(&mut app, &ctx, "enter");
    assert!(
        matches!(app.screen().kind, ScreenKind::DatasetDetail { .. }),
        "{:?}",
        app.screen().kind
    );
}

/// The Overview's panels take the focus in turn; `enter` opens the focused panel's item.
#[test]
fn overview_panels_focus_and_open_their_items() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "o");
    assert_eq!(app.screen().panel, Panel::Drift);
    press(&mut app, &ctx, "enter");
    assert!(matches!(app.screen().kind, ScreenKind::DriftDetail(_)));
    assert_eq!(app.view(), ViewId::Drift);
    press(&mut app, &ctx, "1");
    assert_eq!(app.screen().panel, Panel::Drift, "the focus is remembered");
    press(&mut app, &ctx, "o");
    assert_eq!(app.screen().panel, Panel::Gpus);
    press(&mut app, &ctx, "enter");
    let ScreenKind::GpuDetail { node, index, .. } = app.screen().kind.clone() else {
        panic!("gpu detail")
    };
    assert_eq!(
        (node.as_str(), index),
        ("us-prod-gpu-2", 5),
        "the XID fault first"
    );
    press(&mut app, &ctx, "1");
    press(&mut app, &ctx, "O");
    assert_eq!(app.screen().panel, Panel::Drift);
    press(&mut app, &ctx, "O");
    assert_eq!(app.screen().panel, Panel::Rollouts);
}

/// "needs you" says what it cannot vouch for instead of "all clear" while data is missing.
#[test]
fn needs_you_is_not_all_clear_before_the_data_is_in() {
    let app = demo_app((120, 40));
    assert!(rows::overview::needs_you(&app).is_empty());
    assert_eq!(
        rows::overview::needs_you_unknown(&app),
        ["rollouts", "drift", "GPUs"]
    );
    let (app, _, _) = loaded_demo((120, 40));
    assert!(rows::overview::needs_you_unknown(&app).is_empty());
    let needs: Vec<String> = rows::overview::needs_you(&app)
        .iter()
        .map(|(what, n, _)| format!("{n} {what}"))
        .collect();
    assert!(
        needs.contains(&"1 GPU with an XID fault".to_string()),
        "{needs:?}"
    );
}

/// L1: help scrolls within its length; `End` stays in the help.
#[test]
fn l1_help_scrolling_is_bounded_and_end_stays_in_help() {
    let (mut app, _, ctx) = loaded_demo((80, 24));
    press(&mut app, &ctx, "6");
    let selected = app.screen().selected;
    press(&mut app, &ctx, "?");
    press(&mut app, &ctx, "end");
    assert_eq!(app.mode(), Mode::Help, "end scrolls the help");
    assert_eq!(
        app.screen().selected,
        selected,
        "the list underneath did not move"
    );
    let bottom = help_scroll(&app);
    assert!(bottom > 0);
    for _ in 0..10 {
        press(&mut app, &ctx, "pagedown");
    }
    assert_eq!(help_scroll(&app), bottom, "no scrolling into an empty box");
    // At the bottom the help's last line is on screen and nothing is said to be below.
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).expect("terminal");
    terminal.draw(|f| crate::ui::render(&app, f)).expect("draw");
    let screen = format!("{:?}", terminal.backend());
    let last = match crate::app::help::lines(&app).last() {
        Some(
            crate::app::help::HelpLine::Entry(_, text) | crate::app::help::HelpLine::Note(text),
        ) => text.chars().take(20).collect::<String>(),
        other => panic!("the help ends with {other:?}"),
    };
    assert!(screen.contains(&last), "{last:?} on screen:\n{screen}");
    assert!(!screen.contains("more "), "{screen}");
}

/// L4 (and L3 with vim): `ctrl-u` clears the filter input, `ctrl-c` cancels filter, palette and
/// confirm; with the vim keymap `ctrl-l` clears the filter.
#[test]
fn l4_ctrl_u_clears_and_ctrl_c_cancels_every_input() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, "6");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "dana");
    press(&mut app, &ctx, "ctrl-u");
    assert_eq!(app.screen().filter.text(), "");
    type_text(&mut app, &ctx, "fraud");
    press(&mut app, &ctx, "ctrl-c");
    assert_eq!(app.mode(), Mode::Normal);
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "gp");
    press(&mut app, &ctx, "ctrl-c");
    assert_eq!((app.mode(), app.view()), (Mode::Normal, ViewId::Rollouts));
    press(&mut app, &ctx, "esc");
    select_rollout(&mut app, &ctx, "churn-model-v4");
    press(&mut app, &ctx, "a");
    type_text(&mut app, &ctx, "oops");
    press(&mut app, &ctx, "ctrl-c");
    assert_eq!(app.mode(), Mode::Normal);
    assert!(app.confirm().is_none());
    assert_eq!(
        rows::rollouts(&app, app.screen())[0].status.phase,
        Phase::AwaitingApproval,
        "cancelled: nothing changed"
    );
    app.prefs.keymap = Keymap::embedded("vim");
    press(&mut app, &ctx, "/");
    type_text(&mut app, &ctx, "fraud");
    press(&mut app, &ctx, "enter");
    press(&mut app, &ctx, "ctrl-l");
    assert_eq!(app.screen().filter.text(), "");
}

/// L14: the palette takes arguments; `:ctx` and `:ns` say what they can do in the demo.
#[test]
fn l14_palette_arguments_filter_and_switch() {
    let (mut app, _, ctx) = loaded_demo((120, 40));
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "rollouts churn");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.view(), ViewId::Rollouts);
    assert_eq!(app.screen().filter.text(), "churn");
    assert_eq!(rows::len(&app, app.screen()), 1);
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "gpus idle");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.view(), ViewId::Gpus);
    assert!(
        rows::gpus(&app, app.screen())
            .iter()
            .all(|g| g.is_allocated_idle()),
        "idle GPUs only"
    );
    // The demo has one context: it says how to see one cluster instead.
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "ctx prod-eu");
    press(&mut app, &ctx, "enter");
    let m = app.message.as_ref().expect("a message");
    assert_eq!(m.level, Level::Warn);
    assert!(m.text.contains("cluster:NAME"), "{}", m.text);
    // On a cluster, the switch goes to the runtime; its failure is an error message.
    app.backends.cluster = Some("kind-prod".into());
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "ctx prod-eu");
    press(&mut app, &ctx, "enter");
    let m = app.message.as_ref().expect("a message");
    assert_eq!(m.level, Level::Error);
    assert!(m.text.contains("switching failed"), "{}", m.text);
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "ctx");
    press(&mut app, &ctx, "enter");
    assert_eq!(
        app.message.as_ref().map(|m| m.level),
        Some(Level::Warn),
        "needs a name"
    );
}

/// M4: messages are kept in `:messages`; config errors stay marked until looked at.
#[test]
fn m4_messages_are_logged_and_config_errors_stay_until_seen() {
    let (mut app, platform, ctx) = loaded_demo((120, 40));
    app.prefs.config_errors.push(crate::config::ConfigError {
        file: "config.toml".into(),
        line: 3,
        column: 1,
        value: "refersh".into(),
        message: "unknown key".into(),
    });
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "gpuz");
    press(&mut app, &ctx, "enter");
    for _ in 0..10 {
        tick(&mut app, &platform, &ctx, 10);
    }
    assert!(app.message.is_none(), "the status bar's message expired");
    assert!(!app.config_seen);
    press(&mut app, &ctx, ":");
    type_text(&mut app, &ctx, "messages");
    press(&mut app, &ctx, "enter");
    assert!(app.config_seen);
    let texts: Vec<String> = rows::details::messages(&app, app.screen())
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("did you mean :gpus?")),
        "{texts:?}"
    );
}

/// Every view's own data is fetched and each view renders its title with data, so a fresh start
/// on each view (as `:view` or a number key) never shows a stale or empty screen.
#[test]
fn every_view_fetches_what_it_shows() {
    let (platform, ctx) = demo_context(7);
    let mut app = demo_app((120, 40));
    dispatch(&mut app, &ctx, Action::Tick(platform.now()));
    for view in ViewId::all() {
        dispatch(&mut app, &ctx, Action::Show(view));
        assert_eq!(app.view(), view);
        assert!(
            rows::len(&app, app.screen()) > 0,
            "{view:?} has rows after its fetch"
        );
    }
}

/// The palette keeps a history (UX walk M6, as k9s's `:`): `up` on an empty palette recalls the
/// last command, again the one before; `down` comes back, past the newest to an empty line;
/// `ctrl-p`/`ctrl-n` do the same; typing leaves the history and `up`/`down` move through the
/// completions again.
#[test]
fn the_palette_recalls_earlier_commands() {
    let (mut app, _platform, ctx) = loaded_demo((120, 40));
    for cmd in ["gpus", "rollouts", "gpus"] {
        press(&mut app, &ctx, ":");
        type_text(&mut app, &ctx, cmd);
        press(&mut app, &ctx, "enter");
    }
    assert_eq!(
        app.palette_history,
        ["rollouts", "gpus"],
        "each once, newest last"
    );
    press(&mut app, &ctx, ":");
    press(&mut app, &ctx, "up");
    assert_eq!(crate::testing::palette_text(&app), "gpus");
    press(&mut app, &ctx, "up");
    assert_eq!(crate::testing::palette_text(&app), "rollouts");
    press(&mut app, &ctx, "up");
    assert_eq!(
        crate::testing::palette_text(&app),
        "rollouts",
        "the oldest stays"
    );
    press(&mut app, &ctx, "down");
    assert_eq!(crate::testing::palette_text(&app), "gpus");
    press(&mut app, &ctx, "down");
    assert_eq!(
        crate::testing::palette_text(&app),
        "",
        "past the newest: empty"
    );
    press(&mut app, &ctx, "ctrl-p");
    assert_eq!(crate::testing::palette_text(&app), "gpus");
    press(&mut app, &ctx, "enter");
    assert_eq!(app.view(), crate::app::screens::ViewId::Gpus);
}
