//! `mlops drift --reference REF --current CUR` and `mlops drift profile REF.csv --out FILE.json`:
//! data drift of two CSV files (or of a CSV file against a reference profile) with the core's
//! engine, which decides as Evidently does. Exit 0 whether or not drift was found; with
//! `--fail-on-drift`, dataset drift exits 3; unreadable input exits 1; a bad flag 2.

use std::{
    collections::BTreeSet,
    fmt::Write as _,
    io::BufReader,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use mlops_core::drift::{
    DatasetDrift, DriftOptions, Method,
    engine::{ColumnDrift, compare_tables},
    profile::{self, Profile},
    table::{Table, read_csv},
};

use super::{
    output::{self, Output, UsageError},
    table::{column, table},
};
use crate::wiring::Options;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DriftArgs {
    #[command(subcommand)]
    pub command: Option<DriftCmd>,
    #[command(flatten)]
    pub compare: CompareArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference data: a CSV file with a header line, or a reference profile (`.json`,
    /// from `mlops drift profile`).
    #[arg(long, required = true)]
    pub reference: Option<PathBuf>,
    /// The current data: a CSV file with a header line.
    #[arg(long, required = true)]
    pub current: Option<PathBuf>,
    /// auto (Evidently's choice per column), ks, wasserstein, jensenshannon, chisquare, z, psi.
    #[arg(long)]
    pub method: Option<String>,
    /// Every column's threshold (default: the method's own, 0.05 for tests, 0.1 for distances).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// The share of drifted columns at which the dataset has drifted (default 0.5).
    #[arg(long)]
    pub share: Option<f64>,
    #[command(flatten)]
    pub select: Select,
    /// Apply the overrides of this model from config.toml (`[drift.models.NAME]`).
    #[arg(long)]
    pub model: Option<String>,
    /// Exit 3 when the dataset drifted (for pipelines).
    #[arg(long)]
    pub fail_on_drift: bool,
}

/// Which columns, and which are categories.
#[derive(Debug, Args)]
pub struct Select {
    /// Columns to compare as categories whatever they hold (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Only these columns (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum DriftCmd {
    /// Live drift from Prometheus: each model version's input features over the current window
    /// against their reference window (the model servers' feature-value histograms), and each
    /// model's canary against its stable track. Exit 0 whether or not drift was found; with
    /// `--fail-on-drift`, a drifted feature exits 3.
    Live(super::drift_live::LiveArgs),
    /// Write the reference profile of a CSV file (per column: kind, quantile bins or category
    /// counts, rows, missing) as JSON: to `--out FILE.json` (written whole or not at all, never
    /// over its input), otherwise to stdout.
    Profile {
        /// The reference data (CSV with a header line).
        input: PathBuf,
        /// The file to write the profile to (atomically: a temporary file renamed over it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Quantile bins per numeric column (default: `[drift] bins`, 10).
        #[arg(long)]
        bins: Option<usize>,
        #[command(flatten)]
        select: Select,
    },
}

pub fn run(args: &DriftArgs, options: &Options, output: &str) -> Result<ExitCode> {
    for e in &options.config_errors {
        eprintln!("warning: {e}");
    }
    match &args.command {
        Some(DriftCmd::Profile {
            input,
            out,
            bins,
            select,
        }) => write_profile(input, out.as_deref(), *bins, select, options, output),
        Some(DriftCmd::Live(live)) => super::drift_live::run(live, options, output),
        None => compare(&args.compare, options, output),
    }
}

fn compare(args: &CompareArgs, options: &Options, output: &str) -> Result<ExitCode> {
    let output = Output::pick(output, &[Output::Table, Output::Json], "drift")?;
    let mut drift = options.settings.drift.options(args.model.as_deref());
    match args.method.as_deref().map(str::trim) {
        None => {}
        Some("auto") => drift.method = None,
        Some(m) => {
            drift.method = Some(
                m.parse::<Method>()
                    .map_err(|e| UsageError(format!("--method: {e}")))?,
            );
        }
    }
    if let Some(t) = args.threshold {
        if !(t.is_finite() && t > 0.0) {
            return Err(UsageError(format!("--threshold {t}: a number above 0")).into());
        }
        if t >= 1.0 && drift.method.is_none_or(Method::is_test) {
            return Err(UsageError(format!(
                "--threshold {t}: a test's p-value is at most 1, so every column compared with \
                 ks, chisquare or z ({}) would drift, identical data too; give a threshold below \
                 1, or a distance with --method wasserstein, jensenshannon or psi",
                if drift.method.is_some() {
                    "the method asked for"
                } else {
                    "which auto picks for references of up to 1,000 rows"
                }
            ))
            .into());
        }
        drift.threshold = Some(t);
    }
    if let Some(s) = args.share {
        if !(s > 0.0 && s <= 1.0) {
            return Err(UsageError(format!("--share {s}: above 0 and at most 1")).into());
        }
        drift.share = s;
    }
    apply(&args.select, &mut drift);
    let (Some(reference), Some(current)) = (&args.reference, &args.current) else {
        return Err(UsageError("--reference and --current are both needed".into()).into());
    };
    let current = read_table(current, &drift.categorical)?;
    let result = if is_profile(reference) {
        let profile = read_profile(reference)?;
        profile::compare_profile(&profile, &current, &drift)
    } else {
        let reference = read_table(reference, &drift.categorical)?;
        compare_tables(&reference, &current, &drift)
    };
    output::print(&output::render(output, &result, drift_table));
    if let Some(why) = undecided(&result, drift.columns.as_deref()) {
        if args.fail_on_drift {
            eprintln!("mlops: --fail-on-drift cannot pass: {}", output::safe(&why));
            return Ok(ExitCode::FAILURE);
        }
        eprintln!("warning: {}", output::safe(&why));
    }
    Ok(if args.fail_on_drift && result.dataset_drift {
        ExitCode::from(output::DRIFT_EXIT)
    } else {
        ExitCode::SUCCESS
    })
}

/// Why a drift gate cannot trust `result`, if it cannot: no column was compared (a header-only
/// file, no column in common, an empty profile), or a column the user named with `--columns`
/// was not compared (a typo, a renamed column). A gate fails closed on either.
pub fn undecided(result: &DatasetDrift, named: Option<&[String]>) -> Option<String> {
    let problems = |cols: &mut dyn Iterator<Item = &ColumnDrift>| {
        let all: Vec<String> = cols
            .map(|c| {
                format!(
                    "{}: {}",
                    output::cut(&c.column, NAME_CHARS),
                    c.problem.as_deref().unwrap_or("not compared")
                )
            })
            .collect();
        let shown = all.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
        match all.len() {
            n if n > 3 => format!("{shown}; … and {} more", n - 3),
            _ => shown,
        }
    };
    if result.compared() == 0 {
        return Some(if result.columns.is_empty() {
            "nothing was compared: the reference has no columns".to_string()
        } else {
            format!(
                "nothing was compared ({})",
                problems(&mut result.columns.iter())
            )
        });
    }
    let named: std::collections::HashSet<&str> = named
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    let mut missed = result
        .columns
        .iter()
        .filter(|c| c.method.is_none() && named.contains(c.column.as_str()))
        .peekable();
    missed.peek().is_some().then(|| {
        format!(
            "--columns names columns that were not compared ({})",
            problems(&mut missed)
        )
    })
}

fn apply(select: &Select, drift: &mut DriftOptions) {
    drift.categorical = select
        .categorical
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let mut once = std::collections::HashSet::new();
    let columns: Vec<String> = select
        .columns
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty() && once.insert(c.clone()))
        .collect();
    if !columns.is_empty() {
        drift.columns = Some(columns);
    }
}

fn write_profile(
    input: &Path,
    out: Option<&Path>,
    bins: Option<usize>,
    select: &Select,
    options: &Options,
    output: &str,
) -> Result<ExitCode> {
    // `-o` is the format, as for every verb; a file name there is a mistake said plainly
    // (it once meant the file, and `-o ref.csv` wrote over the input).
    if Output::pick(output, &[Output::Table, Output::Json], "drift profile").is_err() {
        return Err(UsageError(format!(
            "-o {:?}: drift profile prints json; to write the profile to a file use --out {}",
            output::safe(output),
            output::safe(output)
        ))
        .into());
    }
    let bins = bins.unwrap_or(options.settings.drift.bins);
    if bins == 0 || bins > 1000 {
        return Err(UsageError(format!("--bins {bins}: between 1 and 1000")).into());
    }
    if let Some(out) = out
        && crate::files::same_file(input, out)
    {
        return Err(UsageError(format!(
            "--out {}: that is the input file; the profile would replace the data it is made of",
            output::safe(&out.display().to_string())
        ))
        .into());
    }
    let mut drift = DriftOptions::default();
    apply(select, &mut drift);
    let table = read_table(input, &drift.categorical)?;
    let missing: Vec<String> = drift
        .columns
        .iter()
        .flatten()
        .filter(|c| table.column(c).is_none())
        .map(|c| output::cut(c, NAME_CHARS))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "--columns names {} that {} does not have",
            missing.join(", "),
            output::safe(&input.display().to_string())
        );
    }
    for p in &table.problems {
        eprintln!("warning: {}", output::safe(p));
    }
    let profile = profile::profile(&table, bins, &drift);
    let json = output::json(&profile) + "\n";
    match out {
        None => output::print(json.trim_end()),
        Some(path) => {
            let shown = path.display().to_string();
            crate::files::write_atomic(path, json.as_bytes())
                .with_context(|| format!("cannot write {}", output::safe(&shown)))?;
            eprintln!(
                "profile of {} ({} columns, {} rows) written to {}",
                output::safe(&input.display().to_string()),
                profile.columns.len(),
                profile.rows,
                output::safe(&shown)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn is_profile(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn read_table(path: &Path, categorical: &BTreeSet<String>) -> Result<Table> {
    let name = path.display().to_string();
    let file = crate::files::open_regular(path, "a drift input")
        .with_context(|| format!("{name}: cannot open"))?;
    Ok(read_csv(BufReader::new(file), &name, categorical)?)
}

/// The most bytes of a reference profile: a thousand columns of a thousand categories each
/// fit in a few MiB.
pub const MAX_PROFILE_BYTES: u64 = 32 * 1024 * 1024;

fn read_profile(path: &Path) -> Result<Profile> {
    let name = path.display().to_string();
    let text = crate::files::read_text(path, MAX_PROFILE_BYTES, "a drift profile")
        .with_context(|| format!("{name}: cannot read"))?;
    Ok(profile::parse(&text, &name)?)
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.is_nan() => "nan".into(),
        Some(v) if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// The most characters of a column's name in the lines under the table.
const NAME_CHARS: usize = 80;

/// `mlops drift` for people: one line per column, then problems and the verdict.
pub fn drift_table(d: &DatasetDrift) -> String {
    let columns = [
        column("COLUMN", false, |c: &ColumnDrift| {
            output::cut(&c.column, NAME_CHARS)
        }),
        column("KIND", false, |c: &ColumnDrift| {
            c.kind.map_or("-", |k| k.as_str()).to_string()
        }),
        column("METHOD", false, |c: &ColumnDrift| {
            c.method.map_or("-", |m| m.as_str()).to_string()
        }),
        column("STATISTIC", true, |c: &ColumnDrift| number(c.statistic)),
        column("SCORE", true, |c: &ColumnDrift| number(c.score)),
        column("THRESHOLD", true, |c: &ColumnDrift| number(c.threshold)),
        column("DRIFT", false, |c: &ColumnDrift| {
            match (c.method, c.drifted) {
                (None, _) => "-",
                (Some(_), true) => "DRIFT",
                (Some(_), false) => "ok",
            }
            .to_string()
        }),
        column("REF ROWS", true, |c: &ColumnDrift| {
            c.reference_rows.to_string()
        }),
        column("CUR ROWS", true, |c: &ColumnDrift| {
            c.current_rows.to_string()
        }),
        column("MISSING R/C", true, |c: &ColumnDrift| {
            format!("{}/{}", c.missing.reference, c.missing.current)
        }),
    ];
    let mut out = table(&columns.iter().collect::<Vec<_>>(), &d.columns);
    out.push('\n');
    for c in &d.columns {
        let name = output::cut(&c.column, NAME_CHARS);
        if let Some(p) = &c.problem {
            let _ = writeln!(out, "{name}: not compared: {}", output::safe(p));
        }
        if let Some(n) = &c.note {
            let _ = writeln!(out, "{name}: note: {}", output::safe(n));
        }
    }
    for p in &d.problems {
        let _ = writeln!(out, "{}", output::safe(p));
    }
    let _ = write!(
        out,
        "{} of {} compared columns drifted (share {:.3}, dataset drift at {:.3}): {}",
        d.drifted_columns,
        d.compared(),
        d.share,
        d.drift_share,
        if d.dataset_drift {
            "DATASET DRIFT"
        } else {
            "no dataset drift"
        }
    );
    out
}
