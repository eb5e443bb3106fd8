//! The drift engine at scale: 1,000,000 reference rows and 1,000,000 current rows × 20 numeric
//! columns (generated deterministically: normal columns, 8 of them shifted), every column with
//! Evidently's default method (normed Wasserstein, the reference being over 1000 rows), on one
//! thread. With `MLOPS_DRIFT_PYTHON` set (tests/env/drift/venv.sh), Evidently 0.7 runs on the
//! same data in the same run (one thread too: BLAS and OpenMP pinned to 1), and the ratio is
//! printed, with a check that both reach the same decisions.
//!
//! `cargo bench -p mlops-core --bench drift` (`MLOPS_BENCH_ROWS` for another size). It lives in
//! the core crate so that it builds without the console's dependencies.

use std::{
    io::Write as _,
    process::Command,
    time::{Duration, Instant},
};

use mlops_core::drift::{Method, Sample, compare};

const COLUMNS: usize = 20;
const SHIFTED: usize = 8;
const RUNS: usize = 3;

/// xorshift64* and Box–Muller: the same numbers on every machine.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next_f64(), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn column(seed: u64, rows: usize, shift: f64) -> Vec<f64> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    (0..rows)
        .map(|_| 100.0 + 15.0 * rng.normal() + shift)
        .collect()
}

fn main() {
    let rows: usize = std::env::var("MLOPS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let reference: Vec<Vec<f64>> = (0..COLUMNS)
        .map(|c| column(c as u64 + 1, rows, 0.0))
        .collect();
    let current: Vec<Vec<f64>> = (0..COLUMNS)
        .map(|c| {
            let shift = if c < SHIFTED {
                0.5 * (c + 1) as f64
            } else {
                0.0
            };
            column(c as u64 + 1001, rows, shift)
        })
        .collect();

    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    let mut decisions = Vec::new();
    for _ in 0..RUNS {
        // The samples as a caller hands them over; the engine copies and sorts inside.
        let samples: Vec<(Sample, Sample)> = reference
            .iter()
            .zip(&current)
            .map(|(r, c)| (Sample::Numeric(r.clone()), Sample::Numeric(c.clone())))
            .collect();
        let (start, cpu_start) = (Instant::now(), thread_cpu());
        decisions = samples
            .iter()
            .map(|(r, c)| compare(r, c, None, None).expect("drift"))
            .collect();
        times.push(start.elapsed());
        cpu_times.push(thread_cpu().saturating_sub(cpu_start));
    }
    times.sort();
    cpu_times.sort();
    let ours = times[RUNS / 2];
    assert!(decisions.iter().all(|d| d.method == Method::Wasserstein));
    let drifted = decisions.iter().filter(|d| d.drifted).count();
    println!(
        "drift engine: {rows} rows x {COLUMNS} numeric columns (reference and current), one thread: \
         wall median {:.3} s of {RUNS} (min {:.3} s, max {:.3} s), CPU median {:.3} s; \
         {drifted} columns drifted",
        ours.as_secs_f64(),
        times[0].as_secs_f64(),
        times[RUNS - 1].as_secs_f64(),
        cpu_times[RUNS / 2].as_secs_f64()
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} CPUs ({}), load average {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        cpu_model(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    phases(&reference[0], &current[0]);

    let Some(python) = std::env::var("MLOPS_DRIFT_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        println!("Evidently: skipped (MLOPS_DRIFT_PYTHON is not set; see tests/env/drift/venv.sh)");
        return;
    };
    let theirs = evidently(&python, &reference, &current);
    let ours_cpu = cpu_times[RUNS / 2];
    println!(
        "Evidently {}: wall {:.3} s, CPU {:.3} s for the same data (DataDriftTable + \
         DatasetDriftMetric, one thread); ratio Evidently / ours: wall {:.1}x, CPU {:.1}x",
        theirs.version,
        theirs.seconds.as_secs_f64(),
        theirs.cpu.as_secs_f64(),
        theirs.seconds.as_secs_f64() / ours.as_secs_f64(),
        theirs.cpu.as_secs_f64() / ours_cpu.as_secs_f64().max(1e-9)
    );
    let ours_drifted: Vec<bool> = decisions.iter().map(|d| d.drifted).collect();
    assert_eq!(
        ours_drifted, theirs.drifted,
        "the same decisions per column"
    );
    for (d, s) in decisions.iter().zip(&theirs.scores) {
        assert!(
            (d.score - s).abs() <= 1e-9 * s.abs().max(1e-12),
            "score {} vs Evidently {s}",
            d.score
        );
    }
}

/// Where one column's time goes (the fastest of five, wall clock): the Wasserstein the engine
/// computes (tallies, no sort), and for scale a comparison sort of one sample and the merge of
/// two sorted samples (what computing it after sorting would cost), and the standard deviation.
fn phases(r: &[f64], c: &[f64]) {
    use mlops_core::drift::{column::sorted_copy, stattests};
    let fastest = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut w = 0.0;
    let tallied = fastest(&mut || w = stattests::wasserstein_unsorted(r, c));
    let mut sorted = Vec::new();
    let sort = fastest(&mut || sorted = sorted_copy(r));
    let sc = sorted_copy(c);
    let mut w_sorted = 0.0;
    let merge = fastest(&mut || w_sorted = stattests::wasserstein_sorted(&sorted, &sc));
    let mut sd = 0.0;
    let sd_time = fastest(&mut || sd = stattests::std_population(r));
    println!(
        "one column (fastest of 5): Wasserstein {tallied:.1} ms; for scale, sorting one sample \
         {sort:.1} ms and merging two sorted ones {merge:.1} ms; std {sd_time:.1} ms \
         (w = {w:.6}, after sorting {w_sorted:.6}, sd = {sd:.4})"
    );
}

/// CPU time of this thread so far (`/proc/thread-self/schedstat`, nanoseconds); zero where
/// there is no such file. On a shared machine it is the fairer number: wall time counts the
/// time other processes held the core.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

struct Evidently {
    version: String,
    seconds: Duration,
    cpu: Duration,
    drifted: Vec<bool>,
    scores: Vec<f64>,
}

/// Run Evidently on the same columns (handed over as raw little-endian f64 files).
fn evidently(python: &str, reference: &[Vec<f64>], current: &[Vec<f64>]) -> Evidently {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, data) in [("ref.f64", reference), ("cur.f64", current)] {
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(dir.path().join(name)).expect("create"));
        for col in data {
            for v in col {
                f.write_all(&v.to_le_bytes()).expect("write");
            }
        }
        f.flush().expect("flush");
    }
    let script = r#"
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
import evidently
from evidently.legacy.metrics import DataDriftTable, DatasetDriftMetric
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report
d, cols = sys.argv[1], int(sys.argv[2])
names = [f"c{i}" for i in range(cols)]
def load(f):
    a = np.fromfile(f"{d}/{f}", dtype="<f8").reshape(cols, -1)
    return pd.DataFrame({n: a[i] for i, n in enumerate(names)})
ref, cur = load("ref.f64"), load("cur.f64")
table, dataset = DataDriftTable(), DatasetDriftMetric()
report = Report(metrics=[table, dataset])
start, cpu = time.perf_counter(), time.thread_time()
report.run(reference_data=ref, current_data=cur,
           column_mapping=ColumnMapping(target=None, prediction=None, numerical_features=names, categorical_features=[]))
seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
r = table.get_result().drift_by_columns
print(json.dumps({"version": evidently.__version__, "seconds": seconds, "cpu": cpu,
                  "drifted": [bool(r[n].drift_detected) for n in names],
                  "scores": [float(r[n].drift_score) for n in names]}))
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .arg(dir.path())
        .arg(COLUMNS.to_string())
        .envs([
            ("OMP_NUM_THREADS", "1"),
            ("OPENBLAS_NUM_THREADS", "1"),
            ("MKL_NUM_THREADS", "1"),
        ])
        .output()
        .expect("run Evidently");
    assert!(
        out.status.success(),
        "Evidently: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    Evidently {
        version: v["version"].as_str().unwrap_or("?").to_string(),
        seconds: Duration::from_secs_f64(v["seconds"].as_f64().unwrap_or(0.0)),
        cpu: Duration::from_secs_f64(v["cpu"].as_f64().unwrap_or(0.0)),
        drifted: v["drifted"]
            .as_array()
            .map(|a| a.iter().map(|b| b.as_bool().unwrap_or(false)).collect())
            .unwrap_or_default(),
        scores: v["scores"]
            .as_array()
            .map(|a| a.iter().map(|b| b.as_f64().unwrap_or(f64::NAN)).collect())
            .unwrap_or_default(),
    }
}
