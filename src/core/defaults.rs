//! Defaults that more than one floor uses — the settings of `config.toml`, the adapters, the
//! console — each said once, here at the bottom where every floor can see it. A floor's own
//! limits stay in that floor (`adapters::defaults`, the controller's timings); this module holds
//! no logic and touches nothing.

use std::time::Duration;

/// How long one call to a backend (the cluster, the registry, the metrics store) may take, retries
/// included, unless `timeout_seconds` in config.toml says otherwise.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Between two refreshes of live data in the console, unless `refresh_seconds` says otherwise.
pub const REFRESH: Duration = Duration::from_secs(5);
/// The console's serving window (rates and quantiles) and its sparklines' span, in seconds.
pub const SERVING_WINDOW_SECONDS: u64 = 300;
pub const SERVING_HISTORY_SECONDS: u64 = 3600;
/// An error ratio over a window is read again once 1/720 of the window has passed (a 30-day
/// ratio hourly, a 3-day one every 6 minutes, a 1-hour one every 5 s): in that time it can move
/// by no more than what 1/720 of its traffic weighs, well under what a burn-rate alert tells apart.
pub const RATIO_REFRESH_DIVISOR: u64 = 720;

/// Live drift's current window (the console's Drift view, `mlops drift live`), unless
/// `[drift] live_window` says otherwise.
pub const LIVE_WINDOW: Duration = Duration::from_secs(15 * 60);
