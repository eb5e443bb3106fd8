//! Several clusters in one console, offline: the demo's clusters with one of them down or
//! forbidden (as the multi-cluster port marks it) — the CLUSTER column, its rows greyed, the
//! reason on the status bar (snapshots) — the Triggers view's CLUSTER column and its `cluster:`
//! filter, the CLI refusing a list of contexts for a verb that changes a cluster, and a read
//! verb over clusters none of which answers naming each (exit 1, nothing on stdout).

use chrono::TimeZone;
use mlops_console::{
    app::App,
    testing::{loaded_demo, press},
    ui,
};
use mlops_core::model::ClusterHealth;
use ratatui::{Terminal, backend::TestBackend, style::Color};

fn draw(app: &App) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("test terminal");
    terminal.draw(|f| ui::render(app, f)).expect("draw");
    terminal
}

/// The demo at `size` on the screen `keys` open, its second cluster marked `health`.
fn with_second_cluster(health: ClusterHealth, keys: &[&str], size: (u16, u16)) -> (App, String) {
    let (mut app, _, ctx) = loaded_demo(size);
    let snapshot = app
        .feeds
        .cluster
        .data
        .as_mut()
        .expect("the demo's snapshot");
    assert!(snapshot.clusters.len() > 1, "the demo has several clusters");
    snapshot.clusters[1].health = health;
    let name = snapshot.clusters[1].name.clone();
    for k in keys {
        press(&mut app, &ctx, k);
    }
    (app, name)
}

fn down() -> ClusterHealth {
    ClusterHealth::Down {
        reason: "kubernetes: listing pods: tcp connect error: Connection refused".into(),
        since: chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    }
}

/// Each row of the screen that names `cluster`, with the foreground of its first cell.
fn rows_naming(terminal: &Terminal<TestBackend>, cluster: &str) -> Vec<(String, Option<Color>)> {
    let buffer = terminal.backend().buffer();
    let area = buffer.area;
    (area.top()..area.bottom())
        .filter_map(|y| {
            let line: String = (area.left()..area.right())
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            let at = line.find(cluster)?;
            let x = u16::try_from(line[..at].chars().count()).ok()?;
            Some((line, Some(buffer[(x, y)].fg)))
        })
        .collect()
}

#[test]
fn rollouts_of_a_down_cluster_are_greyed_and_the_status_bar_says_why() {
    let (app, name) = with_second_cluster(down(), &["6"], (160, 40));
    let terminal = draw(&app);
    insta::assert_snapshot!("multicluster_rollouts_down_160x40", terminal.backend());
    let greyed = app.prefs.theme.greyed.fg;
    let rows = rows_naming(&terminal, &name);
    // The status bar and at least one row of the list.
    assert!(
        rows.iter()
            .any(|(l, _)| l.contains(&format!("⚠ {name} down: kubernetes: listing pods"))),
        "{rows:#?}"
    );
    // Every row of the list but the selected one (drawn in the selection's style).
    let list_rows: Vec<_> = rows
        .iter()
        .filter(|(l, _)| !l.contains('⚠'))
        .skip(usize::from(app.screen().selected == 0))
        .collect();
    assert!(!list_rows.is_empty(), "no row of {name}");
    assert!(
        list_rows.iter().all(|(_, fg)| *fg == greyed),
        "rows of {name} not greyed: {list_rows:#?}"
    );
    // Another cluster's rows are drawn as usual.
    let other = app
        .feeds
        .cluster
        .data
        .as_ref()
        .expect("a snapshot")
        .clusters[0]
        .name
        .clone();
    let live = rows_naming(&terminal, &other);
    assert!(
        !live.is_empty() && live.iter().all(|(_, fg)| *fg != greyed),
        "{live:#?}"
    );
}

#[test]
fn a_forbidden_cluster_is_marked_at_80x24_and_the_filter_takes_cluster() {
    let (app, name) = with_second_cluster(
        ClusterHealth::Forbidden {
            reason: "HTTP 403 Forbidden: pods is forbidden".into(),
            since: chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        },
        &["6"],
        (80, 24),
    );
    let terminal = draw(&app);
    insta::assert_snapshot!("multicluster_rollouts_forbidden_80x24", terminal.backend());
    let screen = format!("{:?}", terminal.backend());
    assert!(screen.contains(&format!("⚠ {name} forbidden")), "{screen}");

    // `/cluster:NAME` keeps that cluster's rollouts only.
    let (mut app, ctx) = {
        let (app, _, ctx) = loaded_demo((160, 40));
        (app, ctx)
    };
    press(&mut app, &ctx, "6");
    let all = mlops_console::app::rows::rollouts(&app, app.screen()).len();
    press(&mut app, &ctx, "/");
    mlops_console::testing::type_text(&mut app, &ctx, &format!("cluster:{name}"));
    press(&mut app, &ctx, "enter");
    let rows = mlops_console::app::rows::rollouts(&app, app.screen());
    assert!(
        !rows.is_empty() && rows.len() < all,
        "{} of {all}",
        rows.len()
    );
    assert!(rows.iter().all(|r| r.cluster == name));
}

#[test]
fn a_verb_that_changes_a_cluster_refuses_a_list_of_contexts() {
    for args in [
        &["--context", "a,b", "rollout", "abort", "x", "--reason", "r"][..],
        &["--context", "a,b", "install"][..],
        &[
            "--all-contexts",
            "rollout",
            "approve",
            "x",
            "--comment",
            "c",
        ][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlops"))
            .args(args)
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .env(
                "MLOPS_CONFIG_DIR",
                std::env::temp_dir().join("mlops-offline-multi"),
            )
            .output()
            .expect("run mlops");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("acts on exactly one cluster"),
            "{args:?}: {err}"
        );
        if args[1] == "a,b" {
            assert!(err.contains("--context got 2 (a, b)"), "{args:?}: {err}");
        }
    }
}

/// The header row of the screen's table (the line with `NAME` in it).
fn header_line(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let area = buffer.area;
    (area.top()..area.bottom())
        .map(|y| {
            (area.left()..area.right())
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .find(|l| l.contains("NAME") && l.contains("MODEL"))
        .unwrap_or_default()
}

#[test]
fn triggers_have_a_cluster_column_with_several_clusters_and_filter_by_it() {
    let (mut app, _, ctx) = loaded_demo((200, 50));
    let other = {
        let snapshot = app
            .feeds
            .cluster
            .data
            .as_mut()
            .expect("the demo's snapshot");
        assert!(snapshot.clusters.len() > 1, "the demo has several clusters");
        // One trigger in another cluster, as `--context a,b` reads them.
        let other = snapshot.clusters[1].name.clone();
        let mlops_core::triggers::TriggersRead::Listed(all) = &mut snapshot.triggers else {
            panic!("the demo lists its triggers")
        };
        assert!(all.len() > 1, "{all:?}");
        assert!(all.iter().all(|t| !t.cluster.is_empty()), "{all:?}");
        all[0].cluster.clone_from(&other);
        other
    };
    press(&mut app, &ctx, "0");
    let terminal = draw(&app);
    insta::assert_snapshot!("multicluster_triggers_200x50", terminal.backend());
    let header = header_line(&terminal);
    assert!(header.contains("CLUSTER"), "{header}");
    let rows = rows_naming(&terminal, &other);
    assert!(!rows.is_empty(), "no row of {other}");

    // `/cluster:NAME` keeps that cluster's triggers only.
    let all = mlops_console::app::rows::triggers::triggers(&app, app.screen()).len();
    press(&mut app, &ctx, "/");
    mlops_console::testing::type_text(&mut app, &ctx, &format!("cluster:{other}"));
    press(&mut app, &ctx, "enter");
    let rows = mlops_console::app::rows::triggers::triggers(&app, app.screen());
    assert!(
        !rows.is_empty() && rows.len() < all,
        "{} of {all}",
        rows.len()
    );
    assert!(rows.iter().all(|t| t.cluster == other));
    // Its raw record is that cluster's (`y`), with its `cluster`.
    let name = rows[0].name.clone();
    press(&mut app, &ctx, "y");
    let screen = format!("{:?}", draw(&app).backend());
    assert!(
        screen.contains(&format!("\"cluster\": \"{other}\"")) && screen.contains(&name),
        "{screen}"
    );

    // One cluster: no CLUSTER column (every row would say the same).
    let (mut app, _, ctx) = loaded_demo((200, 50));
    app.feeds
        .cluster
        .data
        .as_mut()
        .expect("the demo's snapshot")
        .clusters
        .truncate(1);
    press(&mut app, &ctx, "0");
    let header = header_line(&draw(&app));
    assert!(
        header.contains("NAME") && !header.contains("CLUSTER"),
        "{header}"
    );
}

/// A kubeconfig of two contexts whose API server refuses connections (port 1 on loopback).
fn refusing_kubeconfig() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mlops-offline-multi-down-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: down\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: down-a\n  context: {cluster: down, user: u}\n- name: down-b\n  context: {cluster: down, user: u}\ncurrent-context: down-a\n",
    )
    .expect("kubeconfig");
    path
}

fn mlops_with(kubeconfig: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("MLOPS_CONTEXT")
        .env(
            "MLOPS_CONFIG_DIR",
            std::env::temp_dir().join("mlops-offline-multi"),
        )
        .output()
        .expect("run mlops");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_read_over_clusters_none_of_which_answers_names_each_and_prints_nothing() {
    let kubeconfig = refusing_kubeconfig();
    for verb in [
        &["rollout", "list"][..],
        &["triggers", "list"][..],
        &["audit", "list"][..],
        &["rollout", "get", "churn-model-v9"][..],
        &["gpu"][..],
    ] {
        // One refusing, one not in the kubeconfig: each named on its own line, in order.
        let args = [&["--context", "down-a,nosuch", "-o", "json"][..], verb].concat();
        let (code, out, err) = mlops_with(&kubeconfig, &args);
        assert_eq!(code, Some(1), "{verb:?}: {err}");
        assert!(
            out.is_empty(),
            "{verb:?}: nothing answered, nothing printed: {out}"
        );
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.len() == 2
                && lines[0].starts_with("mlops: context down-a: kubernetes: ")
                && lines[0].contains("Connection refused")
                && lines[1].starts_with("mlops: context nosuch: ")
                && lines[1].contains("no context \"nosuch\" in the kubeconfig"),
            "{verb:?}: {err}"
        );
    }
    // One context: its error as always, without a context prefix.
    let (code, out, err) = mlops_with(&kubeconfig, &["--context", "down-a", "rollout", "list"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("mlops: kubernetes: listing ModelRollouts")
            && !err.contains("context down-a:"),
        "{err}"
    );
}
