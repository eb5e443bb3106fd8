//! The console (`mlops`) and the demo (`mlops demo`): configuration and backends, then the
//! terminal, the panic hook and the event loop.

use std::{
    io::{Stdout, Write},
    process::ExitCode,
    time::Duration,
};

use anyhow::Result;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use mlops_core::demo::MAX_SPEED;
use ratatui::{Terminal, TerminalOptions, Viewport, backend::CrosstermBackend};

use super::{ansi16::Ansi16, output::UsageError};
use crate::{
    app::{App, feeds::BackendInfo, keymap, state::Prefs},
    config::{self, ColorDepth},
    controller, event_loop, logging,
    wiring::{self, Backends, Options},
};

/// `mlops demo`: the console on the embedded, simulated platform. An out-of-range `--speed` is
/// a usage error (exit 2).
pub fn demo(options: &Options, seed: u64, speed: f64) -> Result<ExitCode> {
    if !speed.is_finite() || !(0.0..=MAX_SPEED).contains(&speed) {
        return Err(UsageError(format!(
            "--speed must be a number from 0 to {MAX_SPEED}, got {speed}"
        ))
        .into());
    }
    run(options, Some((seed, speed)))
}

/// `mlops`: the console on the backends that are configured.
pub fn console(options: &Options) -> Result<ExitCode> {
    run(options, None)
}

/// How often the demo's live data is fetched: its simulated platform answers at once.
const DEMO_REFRESH: chrono::Duration = chrono::Duration::seconds(1);

fn run(options: &Options, demo: Option<(u64, f64)>) -> Result<ExitCode> {
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        anyhow::bail!(
            "TERM=dumb: this terminal cannot draw the console (no cursor addressing); use the CLI verbs (`mlops rollout list`, `mlops config check`, …) or a terminal that can"
        );
    }
    let log = logging::init();
    let depth = ColorDepth::detect();
    let prefs = prefs(options, demo.is_some(), depth);
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
    let mut app = App::new(prefs, info, (ports.clock)());
    greet(&mut app, options, demo.is_some(), &problems);
    let result = runtime.block_on(async {
        let mut tui = Tui::enter(depth)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let drivers: Vec<_> = embedded
            .into_iter()
            .map(|c| tokio::spawn(controller::drive_embedded(c, stopped.clone())))
            .collect();
        let r = event_loop::run(&mut tui.terminal, app, ports).await;
        drop(tui);
        // Hand the lease back so a controller or another console need not wait for it to
        // expire, but never wait longer than the controller's shutdown budget.
        let _ = stop.send(true);
        let _ = tokio::time::timeout(
            controller::SHUTDOWN_BUDGET,
            futures::future::join_all(drivers),
        )
        .await;
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

/// What the user chose, read once from the options: the theme (monochrome where the terminal
/// has no colours), the keymap, and the rest of the preferences; config errors are kept to
/// show.
fn prefs(options: &Options, demo: bool, depth: ColorDepth) -> Prefs {
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
    // policy.toml's approval rules, as `mlops rollout approve` reads them; its errors are
    // config errors like any other (the console runs without it then).
    let (policy, policy_errors) = config::policy::load(&options.config_dir);
    errors.extend(policy_errors);
    for e in &errors {
        tracing::warn!(error = %e, "config");
    }
    let mut prefs = Prefs::new(keymap, theme);
    prefs.policy = policy;
    prefs.readonly = options.readonly;
    prefs.directions = options.directions();
    prefs.default_run_columns = options.settings.experiments.run_columns();
    prefs.drift_alert_after = options.settings.drift.alert_after;
    prefs.slos = options.settings.slo.config();
    prefs.refresh = if demo {
        DEMO_REFRESH
    } else {
        chrono::Duration::from_std(options.refresh).unwrap_or(prefs.refresh)
    };
    prefs.config_errors = errors;
    prefs
}

/// The first message on the status bar: a backend that could not be set up, an insecure TLS
/// setting, config errors, or how to configure backends when none is.
fn greet(app: &mut App, options: &Options, demo: bool, problems: &[String]) {
    if !app.prefs.config_errors.is_empty() {
        app.warn(format!(
            "{} config error(s) — running on defaults for those; see `mlops config check`",
            app.prefs.config_errors.len()
        ));
    }
    let insecure = if demo {
        Vec::new()
    } else {
        options.tls_warnings()
    };
    for w in &insecure {
        tracing::warn!(warning = %w, "tls");
    }
    if let Some(p) = problems.first() {
        app.error(p.clone());
    } else if let Some(w) = insecure.first() {
        app.warn(w.clone());
    } else if !demo && app.backends == BackendInfo::default() {
        app.info("no backends configured — set KUBECONFIG, MLFLOW_TRACKING_URI, MLOPS_PROMETHEUS_URL, or try `mlops demo`");
    }
}

/// The terminal while the console runs: raw mode, the alternate screen and bracketed paste,
/// given back when dropped — on every way out of the loop — and by the panic hook (a panic
/// anywhere, a spawned task too, restores the terminal, prints the panic and leaves rather
/// than draw on a restored terminal).
struct Tui {
    terminal: Terminal<CrosstermBackend<Output>>,
}

impl Tui {
    /// As `ratatui::try_init` (which `ratatui::restore` undoes), with a fixed viewport and
    /// over stdout in 16 colours' codes where the terminal shows no more (`depth`).
    /// `try_init_with_options` enters no alternate screen: the console drew over the shell's
    /// screen and blanked it on the way out.
    fn enter(depth: ColorDepth) -> Result<Self> {
        // ratatui's hook restores the terminal and prints the panic.
        let restore_and_print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
            ratatui::restore();
            restore_and_print(info);
            std::process::exit(101);
        }));
        crossterm::terminal::enable_raw_mode()?;
        crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
        // A fixed viewport, not the whole screen: the area drawn is clamped to `ui::MAX_AREA`
        // (the event loop resizes it with the terminal, `event_loop::fit`).
        let (width, height) = crossterm::terminal::size()?;
        let output = if depth == ColorDepth::Ansi16 {
            Output::Ansi16(Ansi16::new(std::io::stdout()))
        } else {
            Output::Plain(std::io::stdout())
        };
        let terminal = Terminal::with_options(
            CrosstermBackend::new(output),
            TerminalOptions {
                viewport: Viewport::Fixed(crate::ui::drawn_area(width, height)),
            },
        )?;
        // Pastes arrive as one event, not as keys that could run bindings.
        let _ = crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
        Ok(Self { terminal })
    }
}

/// Where frames go: stdout, or stdout through `Ansi16` on a 16-colour terminal (crossterm
/// writes every colour as a 256-colour index, which such a terminal may drop).
enum Output {
    Plain(Stdout),
    Ansi16(Ansi16<Stdout>),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Plain(w) => w.write(buf),
            Output::Ansi16(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Plain(w) => w.flush(),
            Output::Ansi16(w) => w.flush(),
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        // Leave a blank alternate screen with the cursor at the top: a terminal that keeps the
        // alternate screen's lines when it is resized (tmux 3.3, after the window grew, shrinks
        // the alternate screen back to the primary screen's size on exit, pushing its top
        // lines into the history it then pulls back) would otherwise show part of the last
        // frame on the user's shell screen. Erased below the cursor, not cleared whole: tmux's
        // scroll-on-clear keeps a whole-screen clear in that history too.
        let _ = crossterm::execute!(
            std::io::stdout(),
            crossterm::cursor::MoveTo(0, 0),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::FromCursorDown)
        );
        let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
        ratatui::restore();
    }
}
