//! The event loop and the effect runner. Keys, pastes, ticks, fetch results and signals become
//! Actions for `update`; effects run in spawned tasks with a timeout and report back as Actions.
//! The screen is redrawn only when the state says something changed. SIGTERM, SIGINT and SIGHUP
//! end it at once, whatever calls are pending (they are not waited for).

use std::{sync::Arc, time::Duration};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use mlops_core::{
    CoreError,
    model::{ClusterResource, RunQuery},
    ports::{AuditPort, ClusterPort, MetricsPort, RegistryPort},
    rollout,
};
use ratatui::{Terminal, backend::Backend};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};

use crate::{
    app::{
        Action, App, Effect, Payload,
        action::Namespace,
        feeds::{RunsKey, Source},
        screens::ViewId,
        update,
    },
    ui,
};

/// A clock: the wall clock for real backends, the simulation's clock for the demo.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The cluster ports after a context or namespace switch, and how the status bar names them.
pub struct Switched {
    pub cluster: Arc<dyn ClusterPort>,
    pub audit: Arc<dyn AuditPort>,
    pub describe: String,
}

/// Connects to another kubeconfig context (`Some`: that one) and/or namespace, as `:ctx` and
/// `:ns` ask.
pub type Switcher = Arc<
    dyn Fn(
            Option<String>,
            Namespace,
        ) -> futures::future::BoxFuture<'static, Result<Switched, String>>
        + Send
        + Sync,
>;

/// The ports the console talks through, the clock and the per-call timeout.
#[derive(Clone)]
pub struct Context {
    pub cluster: Option<Arc<dyn ClusterPort>>,
    pub registry: Option<Arc<dyn RegistryPort>>,
    pub metrics: Option<Arc<dyn MetricsPort>>,
    pub audit: Option<Arc<dyn AuditPort>>,
    /// Serving signals (the Serving view and the Overview's panel), and the error-ratio
    /// windows the SLOs need.
    pub serving: Option<Arc<dyn mlops_core::ports::ServingPort>>,
    pub serving_windows: Vec<u64>,
    pub clock: Clock,
    pub timeout: Duration,
    /// Runs asked for per page as a runs list scrolls.
    pub runs_page_size: u32,
    /// How to switch contexts and namespaces; `None` where there is nothing to switch (the demo).
    pub switcher: Option<Switcher>,
}

fn not_configured(what: &str) -> CoreError {
    CoreError::not_configured(what, "")
}

/// Points a run a comparison chart asks for: more than a 200-column chart's 400 braille dots.
pub const HISTORY_POINTS: usize = 500;

/// One page of a runs search; the server's refusal of the search (an invalid filter) is its
/// answer, not a failure of the registry.
async fn runs_page(
    r: &dyn RegistryPort,
    key: &RunsKey,
    token: Option<&str>,
    page_size: u32,
) -> Result<Payload, CoreError> {
    let query = RunQuery {
        experiment_ids: vec![key.experiment_id.clone()],
        filter: Some(key.filter.clone()).filter(|f| !f.trim().is_empty()),
        order_by: key.order_by.clone(),
        page_size: page_size.max(1),
    };
    match r.runs_page(&query, token).await {
        Ok(page) => Ok(Payload::Runs(Ok(page))),
        Err(e @ CoreError::Rejected { .. }) => Ok(Payload::Runs(Err(e))),
        Err(e) => Err(e),
    }
}

/// Carry out one fetch through the ports.
pub async fn fetch(ctx: &Context, source: &Source) -> Result<Payload, CoreError> {
    match source {
        Source::Cluster => {
            let c = ctx
                .cluster
                .as_ref()
                .ok_or_else(|| not_configured("the cluster"))?;
            c.snapshot().await.map(Payload::Cluster)
        }
        Source::Audit => {
            let a = ctx
                .audit
                .as_ref()
                .ok_or_else(|| not_configured("the audit log"))?;
            a.entries().await.map(Payload::Audit)
        }
        Source::Experiments
        | Source::Models
        | Source::Runs(_)
        | Source::RunsPage(..)
        | Source::Run(_)
        | Source::RunMetrics(_)
        | Source::LoggedModels(..)
        | Source::Histories(..) => {
            let r = ctx
                .registry
                .as_ref()
                .ok_or_else(|| not_configured("the model registry"))?;
            match source {
                Source::Experiments => r.experiments().await.map(Payload::Experiments),
                Source::Models => r.models().await.map(Payload::Models),
                Source::Runs(k) => runs_page(r.as_ref(), k, None, ctx.runs_page_size).await,
                // "" reads the first page again (scrolled back to after it was dropped).
                Source::RunsPage(k, token) => {
                    let token = Some(token.as_str()).filter(|t| !t.is_empty());
                    runs_page(r.as_ref(), k, token, ctx.runs_page_size).await
                }
                Source::Run(id) => r.run(id).await.map(Payload::Run),
                Source::Histories(metric, runs) => r
                    .metric_histories(runs, metric, HISTORY_POINTS)
                    .await
                    .map(Payload::Histories),
                Source::LoggedModels(experiment, run) => r
                    .logged_models(experiment, Some(run))
                    .await
                    .map(Payload::LoggedModels),
                Source::RunMetrics(id) => {
                    let run = r.run(id).await?;
                    let mut out = Vec::new();
                    for key in run.metrics.keys() {
                        out.push((key.clone(), r.metric_history(id, key).await?));
                    }
                    Ok(Payload::RunMetrics(out))
                }
                _ => Err(CoreError::backend(
                    "console",
                    "internal: not a registry source",
                )),
            }
        }
        Source::Serving => {
            let s = ctx
                .serving
                .as_ref()
                .ok_or_else(|| not_configured("the metrics store"))?;
            let request = mlops_core::serving::SignalRequest {
                window_seconds: mlops_core::defaults::SERVING_WINDOW_SECONDS,
                ratio_windows: ctx.serving_windows.clone(),
                history: Some((
                    mlops_core::defaults::SERVING_HISTORY_SECONDS,
                    mlops_core::defaults::SERVING_HISTORY_SECONDS / 30,
                )),
            };
            s.serving_signals(&request).await.map(Payload::Serving)
        }
        Source::Gpus | Source::Drift | Source::Alerts | Source::Series(_) => {
            let m = ctx
                .metrics
                .as_ref()
                .ok_or_else(|| not_configured("the metrics store"))?;
            match source {
                Source::Gpus => m.gpus().await.map(Payload::Gpus),
                Source::Alerts => m
                    .alerts((ctx.clock)() - crate::app::rows::timeline::SPAN)
                    .await
                    .map(Payload::Alerts),
                Source::Drift => m.drift_noting().await.map(|(d, w)| Payload::Drift(d, w)),
                Source::Series(k) => m
                    .rollout_series(&k.cluster, &k.name)
                    .await
                    .map(Payload::Series),
                _ => Err(CoreError::backend(
                    "console",
                    "internal: not a metrics source",
                )),
            }
        }
    }
}

/// Write `contents` to `path` atomically: a file beside it, then renamed over it, so a reader
/// never sees half an export and a failed write leaves what was there.
pub fn export(path: &std::path::Path, contents: &str) -> Result<String, String> {
    let shown = path.display();
    // A folder that is not there yet is made, as `mkdir -p` would (`exports/cmp.md`).
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot make the folder {}: {e}", parent.display()))?;
    }
    crate::files::write_atomic(path, contents.as_bytes())
        .map_err(|e| format!("cannot export to {shown}: {e}"))?;
    Ok(format!("exported the comparison to {shown}"))
}

/// Run an effect in its own task; its result comes back as an Action.
pub fn spawn_effect(ctx: &Context, effect: Effect, tx: mpsc::UnboundedSender<Action>) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let limit = ctx.timeout;
        let action = match effect {
            Effect::Fetch(source) => {
                // Each call of a fetch is bounded by the timeout (and fails with its cause);
                // a fetch of several calls (pages, counts) is bounded as a whole too.
                let whole = limit.saturating_mul(FETCH_CALLS);
                let result = match tokio::time::timeout(whole, fetch(&ctx, &source)).await {
                    Ok(r) => r.map(Box::new),
                    Err(_) => Err(CoreError::unavailable(
                        source.backend().label().to_string(),
                        format!(
                            "no complete answer within {} s for this view's data ({} calls of at most {} s each); the backend is slow or keeps paging",
                            whole.as_secs(),
                            FETCH_CALLS,
                            limit.as_secs()
                        ),
                    )),
                };
                if let Err(e) = &result {
                    crate::logging::warn_limited(
                        &format!("fetch {source:?}"),
                        &format!("fetch failed: {source:?}: {e}"),
                    );
                }
                Action::Loaded(source, result)
            }
            // Carried out by the loop itself: it replaces the ports.
            Effect::Switch { .. } => return,
            Effect::Export { path, contents } => Action::Exported(
                tokio::task::spawn_blocking(move || export(&path, &contents))
                    .await
                    .unwrap_or_else(|e| Err(format!("export failed: {e}"))),
            ),
            Effect::Command { target, command } => {
                tracing::info!(rollout = %target.name, verb = command.verb(), "rollout command");
                let r = tokio::time::timeout(
                    limit.saturating_mul(FETCH_CALLS),
                    send_command(&ctx, &target, command),
                )
                .await;
                Action::CommandDone(match r {
                    Ok(r) => r.map(Box::new),
                    Err(_) => Err(CoreError::unavailable(
                        Source::Cluster.backend().label().to_string(),
                        format!(
                            "timed out after {}s; the command may still apply — check the rollout",
                            limit.saturating_mul(FETCH_CALLS).as_secs()
                        ),
                    )),
                })
            }
        };
        // The loop may have ended; nothing to do then.
        let _ = tx.send(action);
    });
}

/// An operator's command on a rollout, as the console sends it: recorded (and audited) by the
/// cluster, then left as tags on the model version where a registry is configured
/// (`rollout::send_and_tag`, as the CLI sends it) — a registry that cannot take them is logged,
/// not a failure, since the command is done by then.
pub async fn send_command(
    ctx: &Context,
    target: &rollout::RolloutKey,
    command: rollout::Command,
) -> Result<rollout::RolloutRecord, CoreError> {
    let Some(cluster) = ctx.cluster.clone() else {
        return Err(not_configured("the cluster"));
    };
    let sent =
        rollout::send_and_tag(cluster.as_ref(), ctx.registry.as_deref(), target, command).await?;
    if let Some(e) = &sent.untagged {
        crate::logging::warn_limited(
            "command.tags",
            &format!("the registry did not take the command's tags: {e}"),
        );
    }
    Ok(sent.rollout)
}

/// A fetch (one view's data: pages, counts) may take this many times the per-call timeout.
pub const FETCH_CALLS: u32 = 3;

/// The most bytes of one paste that are kept: more than any text input holds.
pub const MAX_PASTE: usize = 64 * 1024;

fn cut_paste(mut text: String) -> String {
    if text.len() > MAX_PASTE {
        let mut cut = MAX_PASTE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Fit the area drawn to a terminal of `width` × `height`: clamped to `ui::MAX_AREA` (the
/// terminal is made with a fixed viewport, so ratatui never sizes its buffers to the whole
/// screen), and both buffers given back what a larger area held when the terminal shrinks.
/// Returns the size drawn.
pub fn fit<B: Backend>(
    terminal: &mut Terminal<B>,
    width: u16,
    height: u16,
) -> Result<(u16, u16), B::Error> {
    let area = ui::drawn_area(width, height);
    if terminal.get_frame().area() != area {
        terminal.resize(area)?;
        // `resize` truncates the buffers but keeps their memory: shrink both (the swap resets
        // the other one, which the resize already cleared for a full redraw).
        terminal.current_buffer_mut().content.shrink_to_fit();
        terminal.swap_buffers();
        terminal.current_buffer_mut().content.shrink_to_fit();
    }
    Ok((area.width, area.height))
}

/// Run the console until the user quits, the terminal goes away, or SIGTERM/SIGINT/SIGHUP
/// arrives.
pub async fn run<B: Backend>(terminal: &mut Terminal<B>, mut app: App, ctx: Context) -> Result<()>
where
    B::Error: Send + Sync + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut events = EventStream::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut ctx = ctx;
    // In raw mode ctrl-c is a key; SIGINT comes only from `kill -INT`.
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    // Watches push rollout and lease changes between refreshes.
    let mut watch = watch_changes(&ctx, &tx);
    // What the screen needs of the cluster, as last told to the port.
    let mut needs: Option<Vec<ClusterResource>> = None;
    let (switched_tx, mut switched_rx) = mpsc::unbounded_channel::<Result<Switched, String>>();
    let size = terminal.size().context("reading the terminal size")?;
    let (width, height) = fit(terminal, size.width, size.height).context("sizing the terminal")?;
    let mut pending = vec![Action::Resize(width, height), Action::Tick((ctx.clock)())];
    loop {
        for action in pending.drain(..) {
            for effect in update(&mut app, action) {
                if let Effect::Switch { context, namespace } = effect {
                    switch(&ctx, context, namespace, &switched_tx);
                } else {
                    spawn_effect(&ctx, effect, tx.clone());
                }
            }
        }
        if app.quit {
            break;
        }
        tell_needs(&ctx, &app, &mut needs);
        if app.dirty {
            terminal
                .draw(|f| ui::render(&app, f))
                .context("drawing to the terminal")?;
            app.dirty = false;
        }
        let action = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Action::Input(k),
                Some(Ok(Event::Resize(w, h))) => {
                    let (w, h) = fit(terminal, w, h).context("resizing the terminal")?;
                    Action::Resize(w, h)
                }
                // Bracketed paste: one insertion, cut to what the input holds (never kept whole
                // beyond `MAX_PASTE` bytes).
                Some(Ok(Event::Paste(text))) => Action::Paste(cut_paste(text)),
                Some(Ok(_)) => continue,
                // The terminal is gone (e.g. the SSH connection dropped): leave quietly.
                Some(Err(e)) => { tracing::warn!(error = %e, "terminal input failed; leaving"); break; }
                None => break,
            },
            Some(a) = rx.recv() => a,
            Some(result) = switched_rx.recv() => match result {
                Ok(s) => {
                    ctx.cluster = Some(s.cluster);
                    ctx.audit = Some(s.audit);
                    if let Some(w) = watch.take() {
                        w.abort();
                    }
                    watch = watch_changes(&ctx, &tx);
                    needs = None;
                    Action::Switched(Ok(s.describe))
                }
                Err(e) => Action::Switched(Err(e)),
            },
            _ = ticker.tick() => Action::Tick((ctx.clock)()),
            _ = sigterm.recv() => { tracing::info!("SIGTERM: leaving"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: leaving"); break; }
            _ = sighup.recv() => { tracing::info!("SIGHUP: leaving"); break; }
        };
        pending.push(action);
        // Take whatever else is already waiting before drawing once.
        while let Ok(a) = rx.try_recv() {
            pending.push(a);
        }
    }
    if let Some(w) = watch {
        w.abort();
    }
    Ok(())
}

/// The cluster resources a view reads, beyond what the Overview reads (always watched).
pub fn view_needs(view: ViewId) -> Vec<ClusterResource> {
    use ClusterResource as R;
    match view {
        ViewId::Overview => R::OVERVIEW.to_vec(),
        ViewId::Lineage => vec![R::Deployments, R::Nodes, R::Pods, R::Rollouts],
        ViewId::Gpus => vec![R::Nodes, R::Pods],
        ViewId::Rollouts | ViewId::Timeline => vec![R::Rollouts, R::Events, R::Lease],
        ViewId::Serving => vec![R::Deployments, R::Pods],
        ViewId::Triggers => vec![R::Rollouts, R::Triggers],
        ViewId::Experiments | ViewId::Drift | ViewId::Audit => Vec::new(),
    }
}

/// Tell the cluster port what the view on show needs, when that changed.
fn tell_needs(ctx: &Context, app: &App, told: &mut Option<Vec<ClusterResource>>) {
    let Some(cluster) = &ctx.cluster else {
        return;
    };
    let now = view_needs(app.view());
    if told.as_ref() != Some(&now) {
        cluster.want(&now);
        *told = Some(now);
    }
}

/// Follow the cluster's watch (rollouts, the lease) in a task that sends each change as an
/// Action.
fn watch_changes(
    ctx: &Context,
    tx: &mpsc::UnboundedSender<Action>,
) -> Option<tokio::task::JoinHandle<()>> {
    let stream = ctx.cluster.as_ref().and_then(|c| c.watch())?;
    let tx = tx.clone();
    Some(tokio::spawn(async move {
        let mut stream = stream;
        while let Some(change) = stream.next().await {
            if tx.send(Action::ClusterChanged(Box::new(change))).is_err() {
                return;
            }
        }
    }))
}

/// Connect to another context or namespace in a task; the loop swaps the ports when it is done.
fn switch(
    ctx: &Context,
    context: Option<String>,
    namespace: Namespace,
    done: &mpsc::UnboundedSender<Result<Switched, String>>,
) {
    let Some(switcher) = ctx.switcher.clone() else {
        let _ = done.send(Err("there is no cluster to switch here".into()));
        return;
    };
    let (done, limit) = (done.clone(), ctx.timeout);
    tokio::spawn(async move {
        let result = match tokio::time::timeout(limit, switcher(context, namespace)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {}s", limit.as_secs())),
        };
        let _ = done.send(result);
    });
}

#[cfg(test)]
mod tests {
    use ratatui::{TerminalOptions, Viewport, backend::TestBackend, layout::Rect};

    use super::*;

    /// The second hostile probe: a 4000×4000 terminal took the demo to 1.5 GB, kept after
    /// shrinking. The area drawn is `ui::MAX_AREA` at most and the buffers shrink with the
    /// terminal. (A `TestBackend` of 4000×4000 would itself hold 16 M cells, so the backend is
    /// 1200×600, past the clamp in both directions.)
    #[test]
    fn a_huge_terminal_is_drawn_clamped_and_the_buffers_shrink_with_it() {
        assert_eq!(ui::drawn_area(4000, 4000), Rect::new(0, 0, 1000, 500));
        assert_eq!(ui::drawn_area(120, 36), Rect::new(0, 0, 120, 36));
        let (app, _, _) = crate::testing::loaded_demo((1000, 500));
        let mut terminal = Terminal::with_options(
            TestBackend::new(1200, 600),
            TerminalOptions {
                viewport: Viewport::Fixed(ui::drawn_area(1200, 600)),
            },
        )
        .expect("terminal");
        assert_eq!(fit(&mut terminal, 1200, 600).expect("fit"), (1000, 500));
        let drawn = terminal.draw(|f| ui::render(&app, f)).expect("draw").area;
        assert_eq!(drawn, Rect::new(0, 0, 1000, 500));
        let screen = terminal.backend().buffer();
        let row = |y: u16, xs: std::ops::Range<u16>| -> String {
            xs.map(|x| screen[(x, y)].symbol().to_string()).collect()
        };
        assert!(
            row(0, 0..1000).contains("Overview"),
            "drawn: {}",
            row(0, 0..80)
        );
        assert!(
            row(0, 1000..1200).trim().is_empty(),
            "blank beyond the clamp"
        );
        assert!(row(550, 0..1200).trim().is_empty(), "blank below the clamp");
        // Back to 120×36: both buffers give back the memory of the larger area.
        terminal.backend_mut().resize(120, 36);
        let (app, _, _) = crate::testing::loaded_demo((120, 36));
        assert_eq!(fit(&mut terminal, 120, 36).expect("fit"), (120, 36));
        for _ in 0..2 {
            assert!(terminal.current_buffer_mut().content.capacity() <= 120 * 36);
            let drawn = terminal.draw(|f| ui::render(&app, f)).expect("draw").area;
            assert_eq!(drawn, Rect::new(0, 0, 120, 36));
        }
    }
}
