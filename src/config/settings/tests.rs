use std::fmt::Write as _;

use super::*;

#[test]
fn unknown_key_is_located() {
    let text = "theme = \"light\"\n\nrefesh_seconds = 3\n";
    let errs = parse(text, Path::new("config.toml")).expect_err("unknown key");
    assert_eq!(errs[0].line, 3, "{}", errs[0]);
    assert!(
        errs[0].to_string().contains("refesh_seconds"),
        "{}",
        errs[0]
    );
}

#[test]
fn user_templates_merge_over_the_shipped_ones() {
    let text = "[templates.slow]\ndescription = \"5% for an hour\"\nsteps = [\"setWeight 5\", \"pause 1h\", \"approval\", \"setWeight 100\"]\n\n[templates.quick]\nsteps = [\"setWeight 100\"]\n";
    let s = parse(text, Path::new("c.toml")).expect("valid");
    let all = s.templates();
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["canary", "canary-approval", "quick", "slow"]);
    let quick = &all[2];
    assert!(!quick.builtin, "the user's quick replaces the shipped one");
    assert_eq!(quick.steps, vec![Step::SetWeight(100)]);
    assert_eq!(all[3].steps.len(), 4);
}

#[test]
fn bad_templates_name_the_step_and_line() {
    let text = "[templates.slow]\nsteps = [\n  \"setWeight 5\",\n  \"setweigth 10\",\n]\n[templates.down]\nsteps = [\"setWeight 50\", \"setWeight 20\"]\n[templates.Bad_Name]\nsteps = [\"approval\"]\n";
    let errs = parse(text, Path::new("c.toml")).expect_err("invalid");
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 3, "{shown:#?}");
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("c.toml:4:4: template slow: unknown step kind \"setweigth\"")),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|e| e.starts_with("c.toml:7:27:")
            && e.contains("steps[1].setWeight")
            && e.contains("20 is not above")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.contains("lowercase letters") && e.contains("\"Bad_Name\"")),
        "{shown:#?}"
    );
}

#[test]
fn checking_templates_is_linear() {
    // 40k templates took 25 s when each was found with `text.find` (quadratic).
    let mut text = String::new();
    for i in 0..40_000 {
        let _ = writeln!(
            text,
            "[templates.t{i}]\nsteps = [\"setWeight 10\", \"analysis 1\", \"setWeight 100\"]"
        );
    }
    let started = std::time::Instant::now();
    let s = parse(&text, Path::new("c.toml")).expect("valid");
    assert_eq!(s.templates.len(), 40_000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bad_values_are_all_reported() {
    let text = "refresh_seconds = 0\n[prometheus]\nurl = \"localhost:9090\"\n";
    let errs = parse(text, Path::new("c.toml")).expect_err("invalid");
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[1].line, 3);
    assert_eq!(errs[1].value, "localhost:9090");
}

#[test]
fn run_columns_are_read_and_a_bad_one_is_located() {
    let text = "[experiments]\nrun_columns = [\"metrics.loss\", \"params.lr\"]\n";
    let s = parse(text, Path::new("c.toml")).expect("parses");
    assert_eq!(
        s.experiments.run_columns(),
        [
            mlops_core::model::RunField::Metric("loss".into()),
            mlops_core::model::RunField::Param("lr".into())
        ]
    );
    let text = "[experiments]\nrun_columns = [\"metrics.loss\", \"tags.team\"]\n";
    let errs = parse(text, Path::new("c.toml")).expect_err("tags");
    let shown = errs[0].to_string();
    assert!(shown.contains("c.toml:2"), "{shown}");
    assert!(shown.contains("neither metrics nor params"), "{shown}");
}

#[test]
fn the_runs_page_size_and_metric_directions_are_read_and_bad_sizes_located() {
    let text = "[mlflow]\nruns_page_size = 50\n[compare]\nlower_is_better = [\"p99\"]\n";
    let s = parse(text, Path::new("c.toml")).expect("valid");
    assert_eq!(s.mlflow.runs_page_size(), 50);
    assert_eq!(
        s.compare.directions().of("latency_p99"),
        mlops_core::compare::Direction::Lower
    );
    assert_eq!(Settings::default().mlflow.runs_page_size(), RUNS_PAGE_SIZE);
    let errs =
        parse("[mlflow]\nruns_page_size = 5000\n", Path::new("c.toml")).expect_err("too big");
    assert_eq!(errs[0].line, 2);
    assert!(errs[0].message.contains("between 1 and 1000"), "{errs:?}");
}

#[test]
fn drift_settings_merge_per_model_and_feature() {
    let text = "[drift]\nshare = 0.3\nmethod = \"auto\"\nthreshold = 0.2\n[drift.features.amount]\nmethod = \"psi\"\n[drift.models.fraud-detector]\nshare = 0.6\n[drift.models.fraud-detector.features.amount]\nthreshold = 0.25\n[drift.models.fraud-detector.features.age]\nmethod = \"ks\"\n";
    let s = parse(text, Path::new("c.toml")).expect("valid");
    let global = s.drift.options(None);
    assert_eq!(
        (global.share, global.method, global.threshold),
        (0.3, None, Some(0.2))
    );
    assert_eq!(global.features["amount"].method, Some(Method::Psi));
    let fraud = s.drift.options(Some("fraud-detector"));
    assert!((fraud.share - 0.6).abs() < 1e-12);
    let amount = fraud.features["amount"];
    assert_eq!(
        (amount.method, amount.threshold),
        (Some(Method::Psi), Some(0.25))
    );
    assert_eq!(fraud.features["age"].method, Some(Method::Ks));
    let other = s.drift.options(Some("churn-model"));
    assert!(
        (other.share - 0.3).abs() < 1e-12,
        "an unknown model gets the global settings"
    );
}

#[test]
fn bad_drift_settings_are_located() {
    let text = "[drift]\nshare = 1.5\n\n[drift.models.fraud-detector.features.amount]\nmethod = \"kss\"\nthreshold = -1.0\n";
    let errs = parse(text, Path::new("c.toml")).expect_err("invalid");
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(errs.len(), 3, "{shown:#?}");
    assert!(
        shown[0].starts_with("c.toml:2:1: share must be above 0"),
        "{shown:#?}"
    );
    assert!(
        shown[1].starts_with("c.toml:5:1: unknown drift method \"kss\": one of auto, ks,"),
        "{shown:#?}"
    );
    assert!(
        shown[2].starts_with("c.toml:6:1: a drift threshold"),
        "{shown:#?}"
    );
    let errs = parse("[drift]\nmethdo = \"ks\"\n", Path::new("c.toml")).expect_err("unknown");
    assert_eq!(errs[0].line, 2, "{}", errs[0]);
    // The live drift settings: a window that is not a duration is refused where it stands,
    // naming the key and quoting the value, like any value of the wrong type.
    let errs = parse("[drift]\nlive_window = \"soon\"\n", Path::new("c.toml")).expect_err("soon");
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        shown[0].starts_with("c.toml:2:15: live_window is a duration like 90s, 5m or 1h")
            && shown[0].ends_with(": \"soon\""),
        "{shown:#?}"
    );
    // One out of range is reported with the file's other problems, all at once.
    let errs = parse(
        "[drift]\nlive_window = \"25h\"\nalert_after = 0\n",
        Path::new("c.toml"),
    )
    .expect_err("invalid");
    let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        shown[0].starts_with("c.toml:2:1: live_window must be a duration from 1s to 24h")
            && shown[0].ends_with(": \"25h\""),
        "{shown:#?}"
    );
    assert!(
        shown[1].starts_with("c.toml:3:1: alert_after must be between 1 and 60"),
        "{shown:#?}"
    );
    let s = parse(
        "[drift]\nlive_window = \"2m\"\nalert_after = 5\n",
        Path::new("c.toml"),
    )
    .expect("valid");
    assert_eq!(s.drift.live_window, std::time::Duration::from_secs(120));
    assert_eq!(s.drift.alert_after, 5);
}

#[test]
fn gpu_settings_give_the_idle_policy_and_bad_ones_are_located() {
    let s = parse(
        "[gpu]\nidle_util_pct = 10.0\nidle_window = \"6h\"\nidle_step = \"30s\"\n",
        Path::new("c.toml"),
    )
    .expect("valid");
    let p = s.gpu.policy();
    assert_eq!(
        (p.util_pct, p.window.as_secs(), p.step.as_secs()),
        (10.0, 6 * 3600, 30)
    );
    assert_eq!(Settings::default().gpu.policy().points(), 60);
    assert_eq!(Settings::default().gpu.policy(), IdlePolicy::default());
    let cases = [
        ("[gpu]\nidle_util_pct = 0.0\n", 2, "0", "idle threshold"),
        (
            "[gpu]\nidle_window = \"1 hour\"\n",
            2,
            "1 hour",
            "idle_window is a duration",
        ),
        (
            "[gpu]\nidle_step = \"7m\"\n",
            2,
            "7m",
            "whole number of steps",
        ),
        ("\n[gpu]\nidle_step = \"0s\"\n", 3, "0s", "at least 1s"),
    ];
    for (text, line, value, says) in cases {
        let errs = parse(text, Path::new("c.toml")).expect_err(text);
        assert_eq!(errs.len(), 1, "{text}");
        let shown = errs[0].to_string();
        assert!(shown.contains(says), "{shown}");
        assert_eq!(
            (errs[0].line, errs[0].value.as_str()),
            (line, value),
            "{shown}"
        );
    }
    let errs = parse("[gpu]\nidle = 1\n", Path::new("c.toml")).expect_err("unknown key");
    assert_eq!(errs[0].line, 2, "{}", errs[0]);
}
