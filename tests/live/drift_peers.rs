//! Agreement with the peers: the drift engine against Evidently 0.7 and SciPy, on datasets that
//! ship inside scikit-learn and statsmodels with shifts and missing cells injected
//! (tests/env/drift/datasets.py), through the library and through `mlops drift -o json`.
//!
//! Per column: the same method, threshold and decision, statistics within 1e-9 (relative),
//! p-values within 1e-6; per dataset: the same drifted count, share and verdict. The Python side
//! (tests/env/drift/reference.py) runs from the venv that `tests/env/drift/venv.sh` builds;
//! `tests/run` exports its python as `MLOPS_DRIFT_PYTHON`. Without it this test fails: the
//! agreement is the point of the engine, so it is never skipped.

// A test is a script of steps, read top to bottom: production code is held to 100 lines a
// function (clippy.toml), tests are not.
#![allow(clippy::too_many_lines)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::File,
    io::BufReader,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use mlops_core::drift::{
    DatasetDrift, DriftOptions, Kind, Method, engine::compare_tables, table::read_csv,
};
use serde_json::{Value, json};

const STATISTIC_RTOL: f64 = 1e-9;
const P_VALUE_ATOL: f64 = 1e-6;

fn python() -> String {
    std::env::var("MLOPS_DRIFT_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "MLOPS_DRIFT_PYTHON is not set: it names the python of the venv with Evidently and \
             SciPy that these tests compare against. Build it with \
             `export MLOPS_DRIFT_PYTHON=$(tests/env/drift/venv.sh)` (tests/run does this)."
            )
        })
}

fn env_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/env/drift")
}

/// The generated datasets, once per test process.
fn datasets() -> &'static (tempfile::TempDir, Vec<String>) {
    static DATA: OnceLock<(tempfile::TempDir, Vec<String>)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(python())
            .arg(env_dir().join("datasets.py"))
            .arg(dir.path())
            .output()
            .expect("run datasets.py");
        assert!(
            out.status.success(),
            "datasets.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Vec<String> = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("scenarios.json")).expect("scenarios.json"),
        )
        .expect("scenario names");
        (dir, names)
    })
}

/// One comparison: a scenario and the options of both sides.
#[derive(Debug, Clone)]
struct Job {
    scenario: String,
    method: Option<Method>,
    threshold: Option<f64>,
}

impl Job {
    fn files(&self) -> (PathBuf, PathBuf) {
        let dir = datasets().0.path().join(&self.scenario);
        (dir.join("ref.csv"), dir.join("cur.csv"))
    }

    fn options(&self) -> DriftOptions {
        DriftOptions {
            method: self.method,
            threshold: self.threshold,
            ..DriftOptions::default()
        }
    }

    fn ours(&self) -> DatasetDrift {
        let (r, c) = self.files();
        let read = |p: &Path| {
            read_csv(
                BufReader::new(File::open(p).expect("open")),
                &p.display().to_string(),
                &BTreeSet::new(),
            )
            .expect("read csv")
        };
        compare_tables(&read(&r), &read(&c), &self.options())
    }

    fn cli_args(&self) -> Vec<String> {
        let (r, c) = self.files();
        let mut args = vec![
            "drift".to_string(),
            "--reference".into(),
            r.display().to_string(),
            "--current".into(),
            c.display().to_string(),
            "-o".into(),
            "json".into(),
        ];
        if let Some(m) = self.method {
            args.extend(["--method".into(), m.as_str().into()]);
        }
        if let Some(t) = self.threshold {
            args.extend(["--threshold".into(), t.to_string()]);
        }
        args
    }

    /// The Python job: the columns we compared, with the kinds we gave them.
    fn peer_job(&self, ours: &DatasetDrift) -> Value {
        let (r, c) = self.files();
        let kinds = |k: Kind| {
            ours.columns
                .iter()
                .filter(|c| c.method.is_some() && c.kind == Some(k))
                .map(|c| c.column.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        json!({
            "reference": r, "current": c,
            "numerical": kinds(Kind::Numeric), "categorical": kinds(Kind::Categorical),
            "method": self.method.map_or("auto", Method::as_str),
            "threshold": self.threshold,
        })
    }
}

fn jobs() -> Vec<Job> {
    let mut jobs: Vec<Job> = datasets()
        .1
        .iter()
        .map(|s| Job {
            scenario: s.clone(),
            method: None,
            threshold: None,
        })
        .collect();
    let forced = [
        ("breast_cancer", Method::Psi, None),
        ("breast_cancer", Method::JensenShannon, None),
        ("breast_cancer", Method::Wasserstein, Some(0.2)),
        ("breast_cancer", Method::Ks, Some(0.01)),
        ("iris", Method::Psi, None),
        ("iris", Method::ChiSquare, None),
        ("wine", Method::Z, None),
        ("fair", Method::Ks, None),
        ("fair", Method::Psi, None),
        ("randhie_asymptotic", Method::Psi, None),
        ("randhie_large", Method::Ks, None),
        ("digits", Method::ChiSquare, None),
    ];
    for (scenario, method, threshold) in forced {
        jobs.push(Job {
            scenario: scenario.into(),
            method: Some(method),
            threshold,
        });
    }
    jobs
}

/// Evidently's and SciPy's results for every job, in one run of the Python side.
fn peers(jobs: &[Job], ours: &[DatasetDrift]) -> Vec<Value> {
    let input: Vec<Value> = jobs.iter().zip(ours).map(|(j, o)| j.peer_job(o)).collect();
    let mut child = Command::new(python())
        .arg(env_dir().join("reference.py"))
        .arg("--batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run reference.py");
    serde_json::to_writer(child.stdin.take().expect("stdin"), &input).expect("write jobs");
    let out = child.wait_with_output().expect("reference.py");
    assert!(
        out.status.success(),
        "reference.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference.py prints JSON")
}

fn close(ours: f64, theirs: f64, rtol: f64) -> bool {
    (ours - theirs).abs() <= rtol * theirs.abs().max(1e-300) || (ours - theirs).abs() <= 1e-15
}

/// Every difference between our result and the peers', in words.
fn differences(job: &Job, ours: &DatasetDrift, theirs: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let theirs_by: BTreeMap<&str, &Value> = theirs["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| (c["column"].as_str().expect("column"), c))
        .collect();
    for c in ours.columns.iter().filter(|c| c.method.is_some()) {
        let at = format!("{} {:?} {}", job.scenario, job.method, c.column);
        let Some(t) = theirs_by.get(c.column.as_str()) else {
            out.push(format!("{at}: Evidently did not compare it"));
            continue;
        };
        let method = c.method.map(Method::as_str);
        if method != t["method"].as_str() {
            out.push(format!(
                "{at}: method {method:?}, Evidently {}",
                t["method"]
            ));
            continue;
        }
        let kind = c.kind.map(Kind::as_str);
        let inferred = match t["inferred"].as_str() {
            Some("num") => Some("numeric"),
            Some("cat" | "text") => Some("categorical"),
            _ => None,
        };
        if kind != inferred {
            out.push(format!(
                "{at}: kind {kind:?}, Evidently infers {}",
                t["inferred"]
            ));
        }
        if c.drifted != t["drifted"].as_bool().expect("drifted") {
            out.push(format!(
                "{at}: drifted {}, Evidently {}",
                c.drifted, t["drifted"]
            ));
        }
        if c.threshold != t["threshold"].as_f64() {
            out.push(format!(
                "{at}: threshold {:?}, Evidently {}",
                c.threshold, t["threshold"]
            ));
        }
        for (ours_rows, key) in [
            (c.reference_rows, "reference_rows"),
            (c.current_rows, "current_rows"),
        ] {
            if Some(ours_rows as u64) != t[key].as_u64() {
                out.push(format!("{at}: {key} {ours_rows}, pandas {}", t[key]));
            }
        }
        let score = c.score.unwrap_or(f64::NAN);
        match t["score"].as_f64() {
            None if score.is_nan() => {}
            None => out.push(format!("{at}: score {score}, Evidently NaN")),
            Some(s) => {
                let ok = if c.method.is_some_and(Method::is_test) {
                    (score - s).abs() <= P_VALUE_ATOL
                } else {
                    close(score, s, STATISTIC_RTOL)
                };
                if !ok {
                    out.push(format!("{at}: score {score:e}, Evidently {s:e}"));
                }
            }
        }
        let ours_stat = c.statistic.unwrap_or(f64::NAN);
        match &t["statistic"] {
            Value::Number(n) => {
                let s = n.as_f64().unwrap_or(f64::NAN);
                if !close(ours_stat, s, STATISTIC_RTOL) {
                    out.push(format!("{at}: statistic {ours_stat:e}, SciPy {s:e}"));
                }
            }
            Value::String(inf) if inf == "inf" && ours_stat != f64::INFINITY => {
                out.push(format!("{at}: statistic {ours_stat:e}, SciPy inf"));
            }
            // Distances: the score is the statistic, compared above.
            _ => {}
        }
    }
    if ours.compared() != theirs["columns"].as_array().map_or(0, Vec::len) {
        out.push(format!(
            "{} {:?}: {} columns compared, Evidently {}",
            job.scenario,
            job.method,
            ours.compared(),
            theirs["columns"]
        ));
    }
    if Some(ours.drifted_columns as u64) != theirs["drifted_columns"].as_u64()
        || !close(
            ours.share,
            theirs["share"].as_f64().unwrap_or(f64::NAN),
            1e-12,
        )
        || Some(ours.dataset_drift) != theirs["dataset_drift"].as_bool()
    {
        out.push(format!(
            "{} {:?}: dataset {} drifted, share {}, drift {}; Evidently {} {} {}",
            job.scenario,
            job.method,
            ours.drifted_columns,
            ours.share,
            ours.dataset_drift,
            theirs["drifted_columns"],
            theirs["share"],
            theirs["dataset_drift"]
        ));
    }
    out
}

#[test]
fn engine_and_cli_agree_with_evidently_and_scipy() {
    let jobs = jobs();
    let ours: Vec<DatasetDrift> = jobs.iter().map(Job::ours).collect();
    let theirs = peers(&jobs, &ours);
    assert_eq!(theirs.len(), jobs.len());

    let mut problems = Vec::new();
    for ((job, o), t) in jobs.iter().zip(&ours).zip(&theirs) {
        problems.extend(differences(job, o, t));
        // The CLI prints exactly what the library computes.
        let out = Command::new(env!("CARGO_BIN_EXE_mlops"))
            .args(job.cli_args())
            .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
            .output()
            .expect("run mlops drift");
        assert!(
            out.status.success(),
            "mlops {}: {}",
            job.cli_args().join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Value = serde_json::from_slice(&out.stdout).expect("mlops drift -o json");
        let library = serde_json::to_value(o).expect("json");
        if printed != library {
            problems.push(format!(
                "{} {:?}: the CLI printed something else",
                job.scenario, job.method
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let columns: usize = ours.iter().map(DatasetDrift::compared).sum();
    println!(
        "{} jobs, {columns} columns: Evidently {} / SciPy {} agree",
        jobs.len(),
        theirs[0]["versions"]["evidently"],
        theirs[0]["versions"]["scipy"]
    );

    // Every method and both KS regimes were exercised.
    let methods: BTreeSet<Method> = ours
        .iter()
        .flat_map(|d| d.columns.iter().filter_map(|c| c.method))
        .collect();
    assert_eq!(
        methods,
        Method::ALL.into_iter().collect(),
        "methods exercised"
    );
    let ks_sizes: Vec<(usize, usize)> = ours
        .iter()
        .flat_map(|d| &d.columns)
        .filter(|c| c.method == Some(Method::Ks))
        .map(|c| (c.reference_rows, c.current_rows))
        .collect();
    assert!(
        ks_sizes.iter().any(|(r, c)| r == c),
        "exact KS, equal sizes"
    );
    assert!(
        ks_sizes.iter().any(|(r, c)| r != c && r.max(c) <= &10_000),
        "exact KS, unequal sizes"
    );
    assert!(
        ks_sizes.iter().any(|(r, c)| r.max(c) > &10_000),
        "asymptotic KS"
    );
}

#[test]
fn missing_python_fails_loudly_with_the_fix() {
    // The message the main test panics with when MLOPS_DRIFT_PYTHON is missing.
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["engine_and_cli_agree_with_evidently_and_scipy", "--exact"])
        .env_remove("MLOPS_DRIFT_PYTHON")
        .output()
        .expect("rerun");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("MLOPS_DRIFT_PYTHON is not set"), "{text}");
}
