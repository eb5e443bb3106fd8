use mlops_core::model::{Dataset, ModelVersion, RunStatus};

use chrono::DateTime;

use super::wire::{RawModelVersion, RawRun, RunsPage};
use super::*;

const RUN: &str = r#"{
  "info": {"run_uuid": "abc", "experiment_id": "1", "run_name": "silent-otter",
           "user_id": "carol", "status": "FINISHED", "start_time": 1795861660365,
           "end_time": "1795862305695", "lifecycle_stage": "active", "run_id": "abc"},
  "data": {"metrics": [{"key": "loss", "value": 0.39, "timestamp": 1795862305695, "step": 4},
                       {"key": "auc", "value": "NaN", "timestamp": 1795862305695, "step": 4}],
           "params": [{"key": "max_depth", "value": "10"}],
           "tags": [{"key": "mlflow.runName", "value": "silent-otter"}, {"key": "team", "value": "risk"}]},
  "inputs": {"dataset_inputs": [
    {"tags": [{"key": "mlflow.data.context", "value": "training"}],
     "dataset": {"name": "fraud-train", "digest": "c5588e72", "source_type": "s3",
                 "source": "{\"uri\": \"s3://bucket/fraud/train/\"}", "schema": "{}"}},
    {"tags": [{"key": "region", "value": "me-central-1"}],
     "dataset": {"name": "fraud-eval", "digest": "65a8f5e4", "source_type": "s3",
                 "source": "s3://bucket/fraud/eval/"}},
    {"dataset": {"name": "fraud-holdout", "digest": "a9", "source_type": "s3",
                 "source": "{\"uri\": \"s3://b/h/\", \"region\": \"eu-west-1\"}"}}
  ]},
  "outputs": {}
}"#;

#[test]
fn a_run_maps_with_datasets_metrics_and_optional_end() {
    let raw: RawRun = serde_json::from_str(RUN).expect("parse");
    let run = map_run(raw).expect("map");
    assert_eq!(run.id, "abc");
    assert_eq!(run.name, "silent-otter");
    assert_eq!(run.user, "carol");
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(run.start.timestamp_millis(), 1_795_861_660_365);
    assert_eq!(
        run.end.map(|e| e.timestamp_millis()),
        Some(1_795_862_305_695),
        "end_time as a string (protobuf int64) is read"
    );
    assert_eq!(run.params["max_depth"], "10");
    assert!((run.metrics["loss"] - 0.39).abs() < 1e-12);
    assert!(run.metrics["auc"].is_nan());
    assert_eq!(run.tags["team"], "risk");
    assert_eq!(
        run.datasets,
        vec![
            Dataset {
                name: "fraud-train".into(),
                digest: "c5588e72".into(),
                source: "s3://bucket/fraud/train/".into(),
                region: String::new(),
                schema: None,
                profile: None,
            },
            Dataset {
                name: "fraud-eval".into(),
                digest: "65a8f5e4".into(),
                source: "s3://bucket/fraud/eval/".into(),
                region: "me-central-1".into(),
                schema: None,
                profile: None,
            },
            Dataset {
                name: "fraud-holdout".into(),
                digest: "a9".into(),
                source: "s3://b/h/".into(),
                region: "eu-west-1".into(),
                schema: None,
                profile: None,
            },
        ]
    );
}

#[test]
fn a_running_run_has_no_end_and_falls_back_to_tags() {
    let raw: RawRun = serde_json::from_str(
        r#"{"info": {"run_uuid": "r1", "experiment_id": "2", "status": "RUNNING",
                     "start_time": 1000, "end_time": 0},
            "data": {"tags": [{"key": "mlflow.user", "value": "dave"},
                              {"key": "mlflow.runName", "value": "brave-fox"}]}}"#,
    )
    .expect("parse");
    let run = map_run(raw).expect("map");
    assert_eq!(run.id, "r1", "run_uuid when run_id is absent");
    assert_eq!(run.end, None);
    assert_eq!(run.user, "dave");
    assert_eq!(run.name, "brave-fox");
    assert!(run.datasets.is_empty() && run.metrics.is_empty());
}

#[test]
fn bad_runs_are_named_not_panicked_on() {
    let bad_status: RawRun = serde_json::from_str(
        r#"{"info": {"run_id": "r2", "experiment_id": "2", "status": "EXPLODED", "start_time": 1}}"#,
    )
    .expect("parse");
    let err = map_run(bad_status).expect_err("status");
    assert!(err.contains("run r2") && err.contains("EXPLODED"), "{err}");
    let no_start: RawRun = serde_json::from_str(
        r#"{"info": {"run_id": "r3", "experiment_id": "2", "status": "FAILED"}}"#,
    )
    .expect("parse");
    assert!(
        map_run(no_start)
            .expect_err("start")
            .contains("no start_time")
    );
    let bad_metric: RawRun = serde_json::from_str(
        r#"{"info": {"run_id": "r4", "experiment_id": "2", "status": "FAILED", "start_time": 1},
            "data": {"metrics": [{"key": "f1", "value": "high"}]}}"#,
    )
    .expect("parse");
    let err = map_run(bad_metric).expect_err("metric");
    assert!(
        err.contains("metric f1") && err.contains("\"high\""),
        "{err}"
    );
    // Wrong JSON types fail in serde with a message, never a panic.
    assert!(serde_json::from_str::<RunsPage>(r#"{"runs": [{"info": 3}]}"#).is_err());
}

#[test]
fn experiments_take_counts_and_the_latest_run_time() {
    let raw: ExperimentsPage = serde_json::from_str(
        r#"{"experiments": [{"experiment_id": "12", "name": "pricing", "last_update_time": 1000,
            "creation_time": 500, "tags": [{"key": "team", "value": "supply"}]}],
            "next_page_token": "eyJvZmZzZXQiOiAzfQ=="}"#,
    )
    .expect("parse");
    assert_eq!(raw.next_page_token.as_deref(), Some("eyJvZmZzZXQiOiAzfQ=="));
    let e = raw.experiments.into_iter().next().expect("one");
    let latest = DateTime::from_timestamp_millis(5000);
    let exp = map_experiment(e, Some((42, latest)));
    assert_eq!(exp.id, "12");
    assert_eq!(exp.run_count, Some(42));
    assert_eq!(Some(exp.last_update), latest);
    assert_eq!(exp.tags["team"], "supply");
}

#[test]
fn models_join_versions_aliases_and_tags() {
    let models: RegisteredModelsPage = serde_json::from_str(
        r#"{"registered_models": [
             {"name": "fraud-detector", "description": "fraud",
              "tags": [{"key": "team", "value": "risk"}],
              "aliases": [{"alias": "champion", "version": "3"}, {"alias": "challenger", "version": "4"}]},
             {"name": "empty-model"}]}"#,
    )
    .expect("parse");
    let versions: ModelVersionsPage = serde_json::from_str(
        r#"{"model_versions": [
             {"name": "fraud-detector", "version": "4", "creation_timestamp": 2000, "status": "READY",
              "run_id": "f2", "tags": [{"key": "image", "value": "reg/fraud-detector:v4"},
                                       {"key": "validation_status", "value": "passed"}]},
             {"name": "fraud-detector", "version": "3", "creation_timestamp": 1000, "status": "READY",
              "run_id": ""}]}"#,
    )
    .expect("parse");
    let out = map_models(models.registered_models, versions.model_versions).expect("map");
    assert_eq!(out.len(), 2);
    let fraud = &out[0];
    assert_eq!(fraud.aliases["champion"], 3);
    assert_eq!(fraud.aliases_of(4), vec!["challenger"]);
    assert_eq!(
        fraud.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![3, 4],
        "sorted by version"
    );
    assert_eq!(
        fraud.version(4).and_then(ModelVersion::image),
        Some("reg/fraud-detector:v4")
    );
    assert_eq!(
        fraud.version(3).and_then(|v| v.run_id.clone()),
        None,
        "empty run_id is None"
    );
    assert_eq!(fraud.tags["team"], "risk");
    assert!(out[1].versions.is_empty() && out[1].description.is_empty());
    let bad: RawModelVersion =
        serde_json::from_str(r#"{"name": "m", "version": "latest"}"#).expect("parse");
    let err = map_models(vec![], vec![bad]).expect_err("bad version");
    assert!(err.contains("model m") && err.contains("latest"), "{err}");
}

#[test]
fn history_points_read_steps_and_special_values() {
    let page: HistoryPage = serde_json::from_str(
        r#"{"metrics": [{"key": "loss", "value": 0.9, "timestamp": 1000, "step": 0},
                        {"key": "loss", "value": "Infinity", "timestamp": "2000", "step": "1"}]}"#,
    )
    .expect("parse");
    let points: Vec<MetricPoint> = page
        .metrics
        .iter()
        .map(map_metric_point)
        .collect::<Result<_, _>>()
        .expect("map");
    assert_eq!(points[1].step, 1);
    assert!(points[1].value.is_infinite());
    assert_eq!(points[1].timestamp.timestamp_millis(), 2000);
    let empty: HistoryPage = serde_json::from_str("{}").expect("parse");
    assert!(empty.metrics.is_empty() && empty.next_page_token.is_none());
}

#[test]
fn api_errors_carry_status_code_and_message() {
    let f = api_failure(
        reqwest::StatusCode::NOT_FOUND,
        br#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=nope not found"}"#,
    );
    let e = CallError {
        backend: "mlflow http://x".into(),
        endpoint: "GET /api/2.0/mlflow/runs/get".into(),
        failure: f,
        cause: None,
    };
    assert!(e.is_not_found());
    let text = CoreError::from(e).to_string();
    assert_eq!(
        text,
        "mlflow http://x: HTTP 404 Not Found: RESOURCE_DOES_NOT_EXIST: Run with id=nope not found — GET /api/2.0/mlflow/runs/get"
    );
    let html = api_failure(
        reqwest::StatusCode::UNAUTHORIZED,
        b"You are not authenticated.\n Please see the docs",
    );
    let text = CoreError::from(CallError {
        backend: "mlflow http://x".into(),
        endpoint: "POST /api/2.0/mlflow/experiments/search".into(),
        failure: html,
        cause: None,
    })
    .to_string();
    assert!(
        text.contains("HTTP 401 Unauthorized: You are not authenticated. Please see the docs"),
        "{text}"
    );
    assert!(text.contains("MLFLOW_TRACKING_PASSWORD"), "{text}");
}

#[test]
fn page_tokens_end_on_empty_and_refuse_to_loop() {
    let mut p = paging::Pager::new(paging::Bounds::LISTING);
    assert_eq!(p.next(0, None), Ok(None));
    assert_eq!(p.next(0, Some(String::new())), Ok(None));
    assert_eq!(p.next(0, Some("a".into())), Ok(Some("a".into())));
    assert!(p.next(0, Some("a".into())).is_err());
}

#[test]
fn auth_debug_and_describe_never_show_secrets() {
    let basic = Auth::Basic {
        username: "admin".into(),
        password: "hunter2".into(),
    };
    let text = format!("{basic:?}");
    assert!(
        text.contains("admin") && !text.contains("hunter2"),
        "{text}"
    );
    let bearer = Auth::Bearer("tok-123".into());
    assert!(!format!("{bearer:?}").contains("tok-123"));
    let r = MlflowRegistry::new(
        "https://alice:s%3Acret@mlflow.example.com/prefix",
        Auth::None,
    )
    .expect("new");
    assert_eq!(
        *r.endpoint.auth(),
        Auth::Basic {
            username: "alice".into(),
            password: "s:cret".into()
        },
        "user-info moves into Auth"
    );
    for shown in [r.describe(), format!("{r:?}"), r.base_url()] {
        assert!(
            !shown.contains("s:cret") && !shown.contains("s%3Acret"),
            "{shown}"
        );
    }
    assert_eq!(r.base_url(), "https://mlflow.example.com/prefix");
}

#[test]
fn env_lookup_follows_mlflow_precedence() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_string())
        }
    };
    let r = MlflowRegistry::from_lookup(env(&[
        ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
        ("MLFLOW_TRACKING_USERNAME", "u"),
        ("MLFLOW_TRACKING_PASSWORD", "p"),
        ("MLFLOW_TRACKING_TOKEN", "t"),
    ]))
    .expect("basic");
    assert!(
        matches!(*r.endpoint.auth(), Auth::Basic { .. }),
        "basic wins, as in MLflow"
    );
    let r = MlflowRegistry::from_lookup(env(&[
        ("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
        ("MLFLOW_TRACKING_TOKEN", "t"),
    ]))
    .expect("bearer");
    assert_eq!(*r.endpoint.auth(), Auth::Bearer("t".into()));
    let err = MlflowRegistry::from_lookup(env(&[])).expect_err("no uri");
    assert!(err.to_string().contains("MLFLOW_TRACKING_URI is not set"));
    let err = MlflowRegistry::from_lookup(env(&[
        ("MLFLOW_TRACKING_URI", "http://h"),
        ("MLFLOW_TRACKING_USERNAME", "u"),
    ]))
    .expect_err("half basic");
    assert!(
        err.to_string()
            .contains("MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not")
    );
    let err = MlflowRegistry::from_lookup(env(&[("MLFLOW_TRACKING_URI", "./mlruns")]))
        .expect_err("file store");
    assert!(err.to_string().contains("http(s) URL"), "{err}");
    let err = MlflowRegistry::from_lookup(env(&[("MLFLOW_TRACKING_URI", "databricks://x")]))
        .expect_err("databricks");
    assert!(err.to_string().contains("\"databricks\""), "{err}");
}

#[test]
fn model_names_are_checked_before_a_request() {
    assert!(check_model_name("fraud-detector").is_ok());
    assert!(
        check_model_name("Churn Model 2").is_ok(),
        "MLflow allows spaces"
    );
    for bad in [
        "",
        "  ",
        "a/b",
        "a:b",
        "..",
        ".hidden",
        "x\u{202e}y",
        "a\u{1b}[2J",
    ] {
        let e = check_model_name(bad).expect_err(bad).to_string();
        assert!(e.contains("invalid model name"), "{e}");
        assert!(!e.contains('\u{1b}'), "{e}");
    }
}

#[test]
fn run_ids_are_what_mlflow_accepts() {
    let longest = format!("a{}", "b".repeat(255));
    for good in [
        "0123456789abcdef0123456789abcdef",
        "r1",
        "Run_2-b",
        longest.as_str(),
    ] {
        assert!(is_run_id(good), "{good}");
    }
    let too_long = format!("{longest}c");
    for bad in [
        "",
        "_r1",
        "-r1",
        "r 1",
        "r1\u{1b}[2J",
        "r1\n",
        "../r1",
        "r1?x=1",
        "r1&run_id=r2",
        "r.1",
        "rün",
        too_long.as_str(),
    ] {
        assert!(!is_run_id(bad), "{bad:?}");
    }
}

#[test]
fn an_experiment_with_an_impossible_time_is_kept() {
    // creation_time = i64::MAX took the whole Experiments view down.
    let raw: ExperimentsPage = serde_json::from_str(
        r#"{"experiments": [{"experiment_id": "1", "name": "odd",
            "creation_time": 9223372036854775807, "last_update_time": "soon"},
            {"experiment_id": "2", "name": "fine", "creation_time": 1000}]}"#,
    )
    .expect("parse");
    let mapped: Vec<Experiment> = raw
        .experiments
        .into_iter()
        .map(|e| map_experiment(e, None))
        .collect();
    assert_eq!(mapped[0].last_update, DateTime::UNIX_EPOCH);
    assert_eq!(mapped[1].last_update.timestamp_millis(), 1000);
}

/// The places in a run whose values a server (or whoever wrote the run) decides.
const RUN_LEAVES: [&str; 14] = [
    "/info/start_time",
    "/info/end_time",
    "/info/status",
    "/info/run_name",
    "/info/experiment_id",
    "/data/metrics/0/value",
    "/data/metrics/0/timestamp",
    "/data/metrics/0/step",
    "/data/metrics",
    "/data/params/0/value",
    "/data/tags",
    "/inputs/dataset_inputs/0/dataset/source",
    "/inputs/dataset_inputs/1/tags",
    "/inputs/dataset_inputs",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// A run with any values where MLflow's JSON has values is read or refused with a reason,
    /// never a panic.
    #[test]
    fn any_run_json_is_mapped_or_refused_without_a_panic(
        run in crate::adapters::fuzz::edited(RUN, &RUN_LEAVES),
    ) {
        if let Ok(raw) = serde_json::from_value::<RawRun>(run) {
            let _ = map_run(raw);
        }
    }
}

#[test]
fn bulk_history_calls_stay_under_the_servers_request_line_limit() {
    let ids: Vec<String> = (0..250).map(|i| format!("{i:032x}")).collect();
    let chunks = super::bulk_chunks(&ids);
    assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 250);
    for c in &chunks {
        assert!(c.len() <= 100);
        let query: usize = c.iter().map(|id| id.len() + "&run_ids=".len()).sum();
        assert!(query <= 3000, "{query} bytes");
    }
    assert_eq!(chunks.concat(), ids, "every id once, in order");
    assert!(super::bulk_chunks(&[]).is_empty());
    let short: Vec<String> = (0..150).map(|i| i.to_string()).collect();
    assert_eq!(
        super::bulk_chunks(&short)[0].len(),
        100,
        "at most 100 runs a call"
    );
}

#[test]
fn a_datasets_schema_and_profile_are_kept_as_logged() {
    let input: super::wire::RawDatasetInput = serde_json::from_value(serde_json::json!({
        "tags": [],
        "dataset": {"name": "d", "digest": "ab", "source_type": "s3",
                    "source": "{\"uri\": \"s3://b/d/\"}",
                    "schema": "{\"mlflow_colspec\": [{\"type\": \"double\", \"name\": \"x\"}]}",
                    "profile": "{\"num_rows\": 7}"}
    }))
    .expect("wire");
    let d = super::map::map_dataset(input);
    assert_eq!(d.schema_summary().as_deref(), Some("1 column: x (double)"));
    assert_eq!(d.profile_summary().as_deref(), Some("num_rows=7"));
    let bare: super::wire::RawDatasetInput = serde_json::from_value(serde_json::json!({
        "dataset": {"name": "d", "digest": "ab", "source_type": "s3", "source": ""}
    }))
    .expect("wire");
    let d = super::map::map_dataset(bare);
    assert_eq!((d.schema, d.profile), (None, None));
}
