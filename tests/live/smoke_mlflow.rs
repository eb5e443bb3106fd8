//! Smoke test of the `MLflow` adapter against the real, seeded `MLflow` 3.17 servers started by
//! `tests/env/up`: the open one (2,000 runs over 12 experiments) and the basic-auth one. No mocks.
//!
//! The expected numbers come from the server itself: the seeder records what it created in the
//! Default experiment's `mlops.seed.summary` tag, and every run carries `mlops.seed.index`.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};

use mlops_console::adapters::{http::Auth, mlflow::MlflowRegistry};
use mlops_core::{CoreError, model::RunStatus, ports::RegistryPort};

/// The seeded server, with a timeout for a shared CI machine: these tests check answers, not
/// latency (the benchmarks measure that).
fn registry() -> MlflowRegistry {
    MlflowRegistry::new(common::env().get("MLFLOW_TRACKING_URI"), Auth::None)
        .expect("registry")
        .with_timeout(std::time::Duration::from_secs(60))
}

/// The seeder's summary as the server stores it (Default experiment, id 0).
async fn seed_summary(r: &MlflowRegistry) -> serde_json::Value {
    let experiments = r.experiments_with_counts().await.expect("experiments");
    let default = experiments
        .iter()
        .find(|e| e.id == "0")
        .expect("the Default experiment");
    let text = default
        .tags
        .get("mlops.seed.summary")
        .expect("mlops.seed.summary tag");
    serde_json::from_str(text).expect("summary is JSON")
}

fn as_usize(v: &serde_json::Value) -> usize {
    usize::try_from(v.as_u64().expect("a count")).expect("fits")
}

#[tokio::test]
async fn every_seeded_run_comes_back_across_pages_exactly_once() {
    let r = registry();
    let summary = seed_summary(&r).await;
    let expected = as_usize(&summary["runs"]);
    assert!(
        expected > 1000,
        "the seed has more than one page of runs: {summary}"
    );

    let experiments = r.experiments_with_counts().await.expect("experiments");
    let seeded: Vec<_> = experiments.iter().filter(|e| e.id != "0").collect();
    assert_eq!(
        seeded.len(),
        as_usize(&summary["experiments"]),
        "{experiments:?}"
    );
    let counted: usize = experiments.iter().filter_map(|e| e.run_count).sum();
    assert_eq!(counted, expected, "experiments() counts every run");

    // One search over every experiment: more than 1000 runs, so at least two pages of 1000.
    let ids: Vec<&str> = experiments.iter().map(|e| e.id.as_str()).collect();
    let all = r.search_runs_paged(&ids, 1000).await.expect("search");
    assert_eq!(all.runs.len(), expected);
    assert_eq!(all.pages, expected.div_ceil(1000));
    let indices: BTreeSet<usize> = all
        .runs
        .iter()
        .map(|run| {
            run.tags["mlops.seed.index"]
                .parse()
                .expect("index is a number")
        })
        .collect();
    assert_eq!(
        indices,
        (0..expected).collect::<BTreeSet<_>>(),
        "each seeded run exactly once"
    );
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for run in &all.runs {
        *by_status.entry(run.status.as_str()).or_default() += 1;
    }
    let want: BTreeMap<&str, u64> = summary["run_status"]
        .as_object()
        .expect("run_status")
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_u64().expect("count")))
        .collect();
    assert_eq!(by_status, want);

    // The biggest experiment, 100 runs a page: the same runs as runs() and as the count.
    let biggest = seeded
        .iter()
        .max_by_key(|e| e.run_count.unwrap_or(0))
        .expect("experiments");
    let small_pages = r
        .search_runs_paged(&[&biggest.id], 100)
        .await
        .expect("search");
    assert!(small_pages.pages > 1, "{} pages", small_pages.pages);
    assert_eq!(
        small_pages.pages,
        biggest.run_count.unwrap_or(0).div_ceil(100)
    );
    let via_port = r.runs(&biggest.id).await.expect("runs");
    assert_eq!(Some(small_pages.runs.len()), biggest.run_count);
    assert_eq!(
        small_pages
            .runs
            .iter()
            .map(|x| &x.id)
            .collect::<BTreeSet<_>>(),
        via_port.iter().map(|x| &x.id).collect::<BTreeSet<_>>()
    );
    assert!(
        via_port.iter().all(|x| x.experiment_id == biggest.id),
        "runs() returns only that experiment's runs"
    );
}

#[tokio::test]
async fn a_run_its_datasets_and_its_metric_history_are_real() {
    let r = registry();
    let experiments = r.experiments_with_counts().await.expect("experiments");
    let exp = experiments
        .iter()
        .find(|e| e.id != "0" && e.run_count.unwrap_or(0) > 0)
        .expect("a seeded experiment");
    let runs = r.runs(&exp.id).await.expect("runs");
    let listed = runs
        .iter()
        .find(|x| x.status == RunStatus::Finished)
        .expect("a finished run");

    let run = r.run(&listed.id).await.expect("run");
    assert_eq!(&run, listed, "runs/get and runs/search agree");
    assert_eq!(run.params.len(), 11, "{:?}", run.params);
    assert!(run.end.is_some_and(|end| end >= run.start));
    assert_eq!(run.datasets.len(), 3, "{:?}", run.datasets);
    for d in &run.datasets {
        assert!(!d.name.is_empty() && !d.digest.is_empty(), "{d:?}");
        assert!(
            d.source.starts_with("s3://"),
            "the uri out of MLflow's JSON source: {d:?}"
        );
        // The schema and profile as the seeder logged them: the model's features and a label.
        let schema = d.schema_summary().expect("a schema");
        assert!(schema.contains("label (long)"), "{schema}");
        assert!(schema.contains("(double)"), "{schema}");
        let profile = d.profile_summary().expect("a profile");
        assert!(profile.contains("num_rows="), "{profile}");
    }

    let history = r.metric_history(&run.id, "loss").await.expect("history");
    assert!(
        (4..=12).contains(&history.len()),
        "4–12 logged steps: {history:?}"
    );
    assert!(
        history.windows(2).all(|w| w[0].step < w[1].step),
        "{history:?}"
    );
    let last = history.last().expect("points");
    assert!(
        (last.value - run.metrics["loss"]).abs() < 1e-9,
        "the run's loss is its last logged value: {last:?} vs {}",
        run.metrics["loss"]
    );
    assert!(history.iter().all(|p| p.timestamp >= run.start));

    let missing = r
        .metric_history(&run.id, "no-such-metric")
        .await
        .expect_err("unknown metric");
    assert!(
        matches!(missing, CoreError::NotFound { kind: "metric", .. }),
        "{missing}"
    );
    let missing = r.run("0123456789abcdef").await.expect_err("unknown run");
    assert!(
        matches!(missing, CoreError::NotFound { kind: "run", .. }),
        "{missing}"
    );
    let missing = r.runs("987654").await.expect_err("unknown experiment");
    assert!(
        matches!(
            missing,
            CoreError::NotFound {
                kind: "experiment",
                ..
            }
        ),
        "{missing}"
    );
}

#[tokio::test]
async fn models_carry_aliases_version_tags_and_runs() {
    let r = registry();
    let summary = seed_summary(&r).await;
    let models = r.models().await.expect("models");
    assert_eq!(models.len(), as_usize(&summary["registered_models"]));
    let versions: usize = models.iter().map(|m| m.versions.len()).sum();
    assert_eq!(versions, as_usize(&summary["model_versions"]));

    let fraud = models
        .iter()
        .find(|m| m.name == "fraud-detector")
        .expect("fraud-detector");
    assert_eq!(
        fraud.aliases.get("champion"),
        Some(&3),
        "{:?}",
        fraud.aliases
    );
    assert_eq!(
        fraud.aliases.get("challenger"),
        Some(&4),
        "{:?}",
        fraud.aliases
    );
    assert_eq!(fraud.latest_version(), Some(4));
    let champion = fraud.version(3).expect("v3");
    assert_eq!(
        champion.image(),
        Some("registry.mlops.invalid/models/fraud-detector:v3")
    );
    for m in &models {
        assert!(m.aliases.contains_key("champion"), "{}", m.name);
        for v in &m.versions {
            assert!(
                ["passed", "pending", "failed"]
                    .contains(&v.tags.get("validation_status").map_or("", String::as_str)),
                "{v:?}"
            );
        }
    }
    let source = r
        .run(champion.run_id.as_deref().expect("linked to a run"))
        .await
        .expect("the version's run");
    assert_eq!(source.status, RunStatus::Finished);

    // The model the source run logged (MLflow 3's logged models), found by its run.
    let logged = r
        .logged_models(&source.experiment_id, Some(&source.id))
        .await
        .expect("logged models");
    assert!(
        logged.iter().any(|m| m.name == "fraud-detector"
            && m.status == "READY"
            && m.source_run_id.as_deref() == Some(source.id.as_str())
            && m.id.starts_with("m-")),
        "{logged:?}"
    );
    // Every run a version came from logged one; a run that logged none has none.
    let all = r
        .logged_models(&source.experiment_id, None)
        .await
        .expect("logged models");
    let sources: std::collections::BTreeSet<&str> = fraud
        .versions
        .iter()
        .filter_map(|v| v.run_id.as_deref())
        .collect();
    let logged_by: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|m| m.name == "fraud-detector")
        .filter_map(|m| m.source_run_id.as_deref())
        .collect();
    assert_eq!(logged_by, sources);
    assert!(
        all.windows(2).all(|w| w[0].created >= w[1].created),
        "newest first"
    );
    let runs = r.runs(&source.experiment_id).await.expect("runs");
    let other = runs
        .iter()
        .find(|x| !sources.contains(x.id.as_str()))
        .expect("a run no version came from");
    assert!(
        r.logged_models(&source.experiment_id, Some(&other.id))
            .await
            .expect("logged models")
            .is_empty()
    );
}

#[tokio::test]
async fn the_basic_auth_server_rejects_a_wrong_password_and_accepts_the_admin() {
    let env = common::env();
    let uri = env.get("MLOPS_MLFLOW_AUTH_URI");
    let wrong = MlflowRegistry::new(
        uri,
        Auth::Basic {
            username: env.get("MLOPS_MLFLOW_AUTH_USER").into(),
            password: "not-the-password".into(),
        },
    )
    .expect("registry");
    let err = wrong.experiments().await.expect_err("a wrong password");
    let text = err.to_string();
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(
        text.contains("POST /api/2.0/mlflow/experiments/search"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
    let anonymous = MlflowRegistry::new(uri, Auth::None).expect("registry");
    let err = anonymous.models().await.expect_err("no credentials");
    assert!(err.to_string().contains("HTTP 401"), "{err}");

    let admin = MlflowRegistry::new(
        uri,
        Auth::Basic {
            username: env.get("MLOPS_MLFLOW_AUTH_USER").into(),
            password: env.get("MLOPS_MLFLOW_AUTH_PASSWORD").into(),
        },
    )
    .expect("registry");
    let summary = seed_summary(&admin).await;
    let experiments = admin
        .experiments_with_counts()
        .await
        .expect("admin may search");
    let runs: usize = experiments.iter().filter_map(|e| e.run_count).sum();
    assert_eq!(
        runs,
        as_usize(&summary["runs"]),
        "every run of the auth server's seed"
    );
    assert_eq!(
        admin.models().await.expect("models").len(),
        as_usize(&summary["registered_models"])
    );
}

#[tokio::test]
async fn transport_failures_name_the_endpoint_and_the_cause() {
    // Nothing listens on port 1.
    let closed = MlflowRegistry::new("http://127.0.0.1:1", Auth::None).expect("registry");
    let text = closed.models().await.expect_err("refused").to_string();
    assert!(
        text.starts_with("mlflow: ") && text.contains("at http://127.0.0.1:1"),
        "{text}"
    );
    assert!(text.contains("/api/2.0/mlflow/"), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");

    // A page of 1000 runs takes the real server far longer than 50 ms.
    let impatient = registry().with_timeout(std::time::Duration::from_millis(50));
    let experiments = registry().experiments().await.expect("experiments");
    let ids: Vec<&str> = experiments.iter().map(|e| e.id.as_str()).collect();
    let text = impatient
        .search_runs_paged(&ids, 1000)
        .await
        .expect_err("timeout")
        .to_string();
    assert!(text.contains("POST /api/2.0/mlflow/runs/search"), "{text}");
    assert!(text.contains("timed out"), "{text}");
}

#[tokio::test]
async fn the_experiment_list_does_not_read_every_run_but_learns_counts_from_loaded_runs() {
    let r = registry();
    let listed = r.experiments().await.expect("experiments");
    assert!(
        listed.iter().all(|e| e.run_count.is_none()),
        "a fresh client has counted nothing: {listed:?}"
    );
    let seeded = listed
        .iter()
        .find(|e| e.id != "0")
        .expect("a seeded experiment");
    let runs = r.runs(&seeded.id).await.expect("runs");
    let again = r.experiments().await.expect("experiments");
    let counted = again
        .iter()
        .find(|e| e.id == seeded.id)
        .and_then(|e| e.run_count);
    assert_eq!(counted, Some(runs.len()), "loading the runs counts them");
}

/// `get-history-bulk-interval` through the port: one metric's history of many runs (more than
/// the server's 100 a call), sampled by the server; the sample keeps each run's first and last
/// step, and asked for enough points it is the whole history `get-history` gives.
#[tokio::test]
async fn histories_of_many_runs_are_sampled_by_the_server() {
    let r = registry();
    let experiments = r.experiments_with_counts().await.expect("experiments");
    let biggest = experiments
        .iter()
        .filter(|e| e.id != "0")
        .max_by_key(|e| e.run_count.unwrap_or(0))
        .expect("experiments");
    let runs = r.runs(&biggest.id).await.expect("runs");
    let with_loss: Vec<String> = runs
        .iter()
        .filter(|x| x.metrics.contains_key("loss"))
        .map(|x| x.id.clone())
        .take(150)
        .collect();
    assert!(with_loss.len() > 100, "{} runs log loss", with_loss.len());
    let sampled = r
        .metric_histories(&with_loss, "loss", 3)
        .await
        .expect("bulk interval");
    assert_eq!(
        sampled.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        with_loss.iter().collect::<Vec<_>>(),
        "every run, in the order asked"
    );
    for (id, points) in sampled.iter().take(5) {
        let full = r.metric_history(id, "loss").await.expect("history");
        assert!(!points.is_empty(), "{id}");
        assert!(points.len() <= full.len());
        assert_eq!(points.first().map(|p| p.step), full.first().map(|p| p.step));
        assert_eq!(points.last().map(|p| p.step), full.last().map(|p| p.step));
        let steps: BTreeSet<i64> = full.iter().map(|p| p.step).collect();
        assert!(points.iter().all(|p| steps.contains(&p.step)), "{id}");
        let whole = r
            .metric_histories(std::slice::from_ref(id), "loss", 1000)
            .await
            .expect("bulk interval");
        assert_eq!(whole[0].1, full, "{id}: enough points is the whole history");
    }
    // A metric no run logged: empty histories, not an error.
    let none = r
        .metric_histories(&with_loss[..2], "no-such-metric", 10)
        .await
        .expect("bulk interval");
    assert!(none.iter().all(|(_, p)| p.is_empty()));
}
