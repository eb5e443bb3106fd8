//! `mlops`: the command line. Parses arguments, loads configuration, and starts the console,
//! the demo, or a CLI verb.

use std::{process::ExitCode, sync::Arc, time::Duration};

use anyhow::Result;
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use mlops_console::{
    app::{App, state::BackendInfo},
    config::{self, ColorDepth},
    logging, runtime,
};
use mlops_core::demo::DemoPlatform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Debug, Parser)]
#[command(name = "mlops", version, about = "A terminal operations console for ML platforms", long_about = None)]
struct Cli {
    /// Kubeconfig context to use (as kubectl's --context).
    #[arg(long, global = true, env = "MLOPS_CONTEXT")]
    context: Option<String>,
    /// Namespace (as kubectl's -n).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// Prometheus base URL.
    #[arg(long, global = true, env = "MLOPS_PROMETHEUS_URL")]
    prometheus_url: Option<String>,
    /// Theme: dark, light, high-contrast, colorblind, monochrome, or a user theme.
    #[arg(long, global = true)]
    theme: Option<String>,
    /// Refuse every mutation.
    #[arg(long, global = true)]
    readonly: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the console against the embedded, simulated ML platform: no configuration, no network.
    Demo {
        /// Seed of the simulation; the same seed gives the same platform.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Run simulated time this many times faster than the wall clock.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Validate every config file and the embedded defaults; print every error with file and line.
    Check {
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Print the config directory.
    Path,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mlops: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Some(Cmd::Config {
            command: ConfigCmd::Check { output },
        }) => Ok(config_check(*output)),
        Some(Cmd::Config {
            command: ConfigCmd::Path,
        }) => {
            println!("{}", config::config_dir().display());
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Demo { seed, speed }) => {
            if !speed.is_finite() || *speed < 0.0 {
                anyhow::bail!("--speed must be a number ≥ 0, got {speed}");
            }
            console(cli, Some((*seed, *speed)))
        }
        None => console(cli, None),
    }
}

fn config_check(output: Output) -> ExitCode {
    let dir = config::config_dir();
    let errors = config::check(&dir);
    match output {
        Output::Json => {
            let list: Vec<serde_json::Value> = errors
                .iter()
                .map(|e| serde_json::json!({"file": e.file, "line": e.line, "column": e.column, "value": e.value, "message": e.message}))
                .collect();
            let doc = serde_json::json!({"config_dir": dir.display().to_string(), "valid": errors.is_empty(), "errors": list});
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Output::Table => {
            if errors.is_empty() {
                println!("config ok: {} (and the embedded defaults)", dir.display());
            } else {
                for e in &errors {
                    println!("{e}");
                }
                println!(
                    "{} error(s); the console starts on defaults for each of them",
                    errors.len()
                );
            }
        }
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn console(cli: &Cli, demo: Option<(u64, f64)>) -> Result<ExitCode> {
    let log = logging::init();
    let depth = ColorDepth::detect();
    let theme_override = cli
        .theme
        .clone()
        .or_else(|| (depth == ColorDepth::Monochrome).then(|| "monochrome".to_string()));
    let loaded = config::load(&config::config_dir(), theme_override.as_deref(), depth);
    for e in &loaded.errors {
        tracing::warn!(error = %e, "config");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let timeout = Duration::from_secs(loaded.settings.timeout_seconds);
    let (ctx, backends, refresh) = if let Some((seed, speed)) = demo {
        let platform = DemoPlatform::new(seed, Utc::now(), speed);
        let clock_platform = platform.clone();
        let p = Arc::new(platform);
        let ctx = runtime::Context {
            cluster: Some(p.clone()),
            registry: Some(p.clone()),
            metrics: Some(p.clone()),
            audit: Some(p),
            clock: Arc::new(move || clock_platform.now()),
            timeout,
        };
        let info = BackendInfo {
            cluster: Some("demo".into()),
            registry: Some("demo".into()),
            metrics: Some("demo".into()),
        };
        (ctx, info, chrono::Duration::seconds(1))
    } else {
        let ctx = runtime::Context {
            cluster: None,
            registry: None,
            metrics: None,
            audit: None,
            clock: Arc::new(Utc::now),
            timeout,
        };
        let secs = i64::try_from(loaded.settings.refresh_seconds).unwrap_or(5);
        (ctx, BackendInfo::default(), chrono::Duration::seconds(secs))
    };
    let mut app = App::new(loaded.keymap, loaded.theme, backends, (ctx.clock)());
    app.readonly = cli.readonly || loaded.settings.readonly;
    app.refresh = refresh;
    if !loaded.errors.is_empty() {
        app.warn(format!(
            "{} config error(s) — running on defaults for those; see `mlops config check`",
            loaded.errors.len()
        ));
        app.config_errors = loaded.errors;
    }
    if demo.is_none() {
        app.info("no backends configured yet — try `mlops demo`");
    }
    let result = runtime.block_on(async {
        let mut terminal = ratatui::try_init()?;
        let r = runtime::run(&mut terminal, app, ctx).await;
        ratatui::restore();
        r
    });
    // Spawned fetches may still wait on a slow backend: do not wait for them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    if let Err(e) = result {
        if let Some(p) = log {
            tracing::error!(error = %e, "console ended with an error");
            return Err(e.context(format!("see the log at {}", p.display())));
        }
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}
