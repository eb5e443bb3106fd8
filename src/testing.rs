//! Fixtures for tests and benchmarks: an App loaded with the demo platform's data at a fixed time,
//! so snapshots and measurements are the same on every machine.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mlops_core::demo::DemoPlatform;

use crate::{
    app::{Action, App, Effect, feeds::BackendInfo, keymap::Keymap, state::Prefs, update},
    config::Theme,
    event_loop::{self, Context},
};

/// The fixed instant the fixtures' demo starts at.
pub fn fixed_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A demo platform on a manual clock and a context over it.
pub fn demo_context(seed: u64) -> (DemoPlatform, Context) {
    let platform = DemoPlatform::manual(seed, fixed_start());
    let clock_platform = platform.clone();
    let p = Arc::new(platform.clone());
    let ctx = Context {
        cluster: Some(p.clone()),
        registry: Some(p.clone()),
        metrics: Some(p.clone()),
        audit: Some(p.clone()),
        serving: Some(p),
        serving_windows: mlops_core::serving::slo::SloConfig::default().ratio_windows(),
        clock: Arc::new(move || clock_platform.now()),
        timeout: std::time::Duration::from_secs(5),
        runs_page_size: crate::config::settings::RUNS_PAGE_SIZE,
        switcher: None,
    };
    (platform, ctx)
}

/// A fresh App over the demo, default keymap and dark theme, at `size`.
pub fn demo_app(size: (u16, u16)) -> App {
    let info = BackendInfo {
        cluster: Some("demo".into()),
        registry: Some("demo".into()),
        metrics: Some("demo".into()),
    };
    let mut prefs = Prefs::new(Keymap::embedded("default"), Theme::embedded("dark"));
    prefs.refresh = chrono::Duration::seconds(1);
    let mut app = App::new(prefs, info, fixed_start());
    app.size = size;
    app
}

/// Feed an action to the App and carry out every effect synchronously, as the runtime would.
pub fn dispatch(app: &mut App, ctx: &Context, action: Action) {
    let mut queue = vec![action];
    while let Some(a) = queue.pop() {
        for effect in update(app, a) {
            queue.push(run_effect(ctx, effect));
        }
    }
}

fn run_effect(ctx: &Context, effect: Effect) -> Action {
    match effect {
        Effect::Fetch(source) => {
            let result = futures::executor::block_on(event_loop::fetch(ctx, &source)).map(Box::new);
            Action::Loaded(source, result)
        }
        Effect::Command { target, command } => Action::CommandDone(
            futures::executor::block_on(event_loop::send_command(ctx, &target, command))
                .map(Box::new),
        ),
        Effect::Export { path, contents } => Action::Exported(event_loop::export(&path, &contents)),
        // The demo has nothing to switch to.
        Effect::Switch { .. } => Action::Switched(Err("there is no cluster to switch here".into())),
    }
}

/// Press a key as the terminal would deliver it: "j", "enter", "esc", ":", "ctrl-c", …
pub fn press(app: &mut App, ctx: &Context, key: &str) {
    let k = crate::app::keymap::Key::parse(key).unwrap_or(crate::app::keymap::Key {
        code: crossterm::event::KeyCode::Null,
        mods: crossterm::event::KeyModifiers::NONE,
    });
    let mut mods = k.mods;
    if let crossterm::event::KeyCode::Char(c) = k.code
        && c.is_ascii_uppercase()
    {
        mods |= crossterm::event::KeyModifiers::SHIFT;
    }
    dispatch(
        app,
        ctx,
        Action::Input(crossterm::event::KeyEvent::new(k.code, mods)),
    );
}

/// Type text into whatever input is open.
pub fn type_text(app: &mut App, ctx: &Context, text: &str) {
    for c in text.chars() {
        dispatch(
            app,
            ctx,
            Action::Input(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
}

/// An App with the demo's data for the overview loaded.
pub fn loaded_demo(size: (u16, u16)) -> (App, DemoPlatform, Context) {
    let (platform, ctx) = demo_context(7);
    let mut app = demo_app(size);
    let now = platform.now();
    dispatch(&mut app, &ctx, Action::Resize(size.0, size.1));
    dispatch(&mut app, &ctx, Action::Tick(now));
    (app, platform, ctx)
}

/// How far the help is scrolled (0 when it is not open).
pub fn help_scroll(app: &App) -> u16 {
    match app.overlay {
        Some(crate::app::state::Overlay::Help { scroll }) => scroll,
        _ => 0,
    }
}

/// What is typed in the palette ("" when it is not open).
pub fn palette_text(app: &App) -> String {
    match &app.overlay {
        Some(crate::app::state::Overlay::Palette { input, .. }) => input.lines().join(""),
        _ => String::new(),
    }
}
