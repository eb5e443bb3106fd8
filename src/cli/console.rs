//! The console (`mlops`) and the demo (`mlops demo`): configuration and backends, then the
//! terminal, the panic hook and the event loop.

use std::{process::ExitCode, time::Duration};

use anyhow::Result;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use mlops_core::demo::MAX_SPEED;

use crate::{
    app::{App, feeds::BackendInfo, keymap},
    config::{self, ColorDepth},
    controller, event_loop, logging,
    wiring::{self, Backends, Options},
};

/// `mlops demo`: the console on the embedded, simulated platform.
pub fn demo(options: &Options, seed: u64, speed: f64) -> Result<ExitCode> {
    if !speed.is_finite() || !(0.0..=MAX_SPEED).contains(&speed) {
        anyhow::bail!("--speed must be a number from 0 to {MAX_SPEED}, got {speed}");
    }
    run(options, Some((seed, speed)))
}

/// `mlops`: the console on the backends that are configured.
pub fn console(options: &Options) -> Result<ExitCode> {
    run(options, None)
}

fn run(options: &Options, demo: Option<(u64, f64)>) -> Result<ExitCode> {
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        anyhow::bail!(
            "TERM=dumb: this terminal cannot draw the console (no cursor addressing); use the CLI verbs (`mlops rollout list`, `mlops config check`, …) or a terminal that can"
        );
    }
    let log = logging::init();
    let depth = ColorDepth::detect();
    let theme_override = options
        .theme
        .clone()
        .or_else(|| (depth == ColorDepth::Monochrome).then(|| "monochrome".to_string()));
    let mut errors = options.config_errors.clone();
    let theme = config::load_theme(
        &options.config_dir,
        theme_override.as_deref().unwrap_or(&options.settings.theme),
        depth,
        &mut errors,
    );
    let keymap = keymap::load(&options.config_dir, &options.settings.keymap, &mut errors);
    for e in &errors {
        tracing::warn!(error = %e, "config");
    }
    let runtime = wiring::tokio_runtime(2)?;
    let backends = match demo {
        Some((seed, speed)) => wiring::demo(seed, speed, options.timeout),
        None => runtime.block_on(wiring::real(options)),
    };
    for p in &backends.problems {
        tracing::warn!(problem = %p, "backend");
    }
    let Backends {
        mut ports,
        info,
        problems,
        embedded,
    } = backends;
    ports.runs_page_size = options.settings.mlflow.runs_page_size();
    let mut app = App::new(keymap, theme, info, (ports.clock)());
    app.readonly = options.readonly;
    app.directions = options.directions();
    app.default_run_columns = options.settings.experiments.run_columns();
    app.drift_alert_after = options.settings.drift.alert_after;
    app.refresh = if demo.is_some() {
        chrono::Duration::seconds(1)
    } else {
        chrono::Duration::from_std(options.refresh).unwrap_or(chrono::Duration::seconds(5))
    };
    if !errors.is_empty() {
        app.warn(format!(
            "{} config error(s) — running on defaults for those; see `mlops config check`",
            errors.len()
        ));
        app.config_errors = errors;
    }
    let insecure = if demo.is_none() {
        options.tls_warnings()
    } else {
        Vec::new()
    };
    for w in &insecure {
        tracing::warn!(warning = %w, "tls");
    }
    if let Some(p) = problems.first() {
        app.error(p.clone());
    } else if let Some(w) = insecure.first() {
        app.warn(w.clone());
    } else if demo.is_none() && app.backends == BackendInfo::default() {
        app.info("no backends configured — set KUBECONFIG, MLFLOW_TRACKING_URI, MLOPS_PROMETHEUS_URL, or try `mlops demo`");
    }
    let result = runtime.block_on(async {
        let mut terminal = ratatui::try_init()?;
        // Pastes arrive as one event, not as keys that could run bindings.
        let _ = crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
        // ratatui's hook restores the terminal and prints the panic; then leave, wherever the
        // panic happened (a spawned task too), rather than draw on a restored terminal.
        let restore_and_print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
            restore_and_print(info);
            std::process::exit(101);
        }));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let driver = embedded.map(|c| tokio::spawn(controller::drive_embedded(c, stopped)));
        let r = event_loop::run(&mut terminal, app, ports).await;
        // Leave a blank alternate screen with the cursor at the top: a terminal that keeps the
        // alternate screen's lines when it is resized (tmux 3.3, after the window grew, shrinks
        // the alternate screen back to the primary screen's size on exit, pushing its top lines
        // into the history it then pulls back) would otherwise show part of the last frame on
        // the user's shell screen. Erased below the cursor, not cleared whole: tmux's
        // scroll-on-clear keeps a whole-screen clear in that history too.
        let _ = crossterm::execute!(
            std::io::stdout(),
            crossterm::cursor::MoveTo(0, 0),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::FromCursorDown)
        );
        let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
        ratatui::restore();
        // Hand the lease back so a controller or another console need not wait for it to
        // expire, but never wait longer than the controller's shutdown budget.
        let _ = stop.send(true);
        if let Some(d) = driver {
            let _ = tokio::time::timeout(controller::SHUTDOWN_BUDGET, d).await;
        }
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
