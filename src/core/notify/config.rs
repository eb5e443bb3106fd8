//! What a namespace's notifications are: the destinations its ConfigMap `mlops-notifications`
//! names (`destination.NAME: webhook|slack`, the URL in the key `NAME` of the Secret of the same
//! name) and what they are subscribed to, for every rollout of the namespace
//! (`subscribe.TRIGGER: NAME, NAME`) or for one rollout (its annotation
//! `notifications.mlops.dev/subscribe.TRIGGER: NAME, NAME`). Parsing never fails as a whole: each
//! bad key is a [`Problem`] naming where it is and why, and the rest is used.

use std::collections::{BTreeMap, BTreeSet};

use super::Trigger;

/// The ConfigMap (in the rollout's namespace) that names destinations and subscriptions, and the
/// Secret (same name, same namespace) that holds their URLs.
pub const CONFIG_NAME: &str = "mlops-notifications";
/// The prefix of a rollout's subscription annotations.
pub const ANNOTATION_PREFIX: &str = "notifications.mlops.dev/subscribe.";
const DESTINATION_PREFIX: &str = "destination.";
const SUBSCRIBE_PREFIX: &str = "subscribe.";
/// The longest destination name (a Secret key may be longer; a name is for people).
const MAX_NAME: usize = 63;

/// How a destination is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A generic JSON webhook: the event's facts as one JSON object.
    Webhook,
    /// A Slack-compatible incoming webhook: `text` and `blocks`.
    Slack,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Slack => "slack",
        }
    }
}

/// Something wrong in the configuration, named by where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// Where: `ConfigMap ml-serving/mlops-notifications key subscribe.on-rolledback`.
    pub place: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

/// Who is subscribed to what.
pub type Subscriptions = BTreeMap<Trigger, BTreeSet<String>>;

/// A namespace's notification configuration, as its ConfigMap says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub destinations: BTreeMap<String, Kind>,
    /// Subscriptions of every rollout in the namespace.
    pub subscriptions: Subscriptions,
}

/// A destination name: letters, digits, `-`, `_`, `.` (a Secret key), at most 63 characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `a, b c` → the names, each checked against the destinations.
fn names(
    raw: &str,
    destinations: &BTreeMap<String, Kind>,
    place: &str,
    problems: &mut Vec<Problem>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for name in raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        if destinations.contains_key(name) {
            out.insert(name.to_string());
        } else {
            let known = if destinations.is_empty() {
                format!("the ConfigMap {CONFIG_NAME} of the namespace names none")
            } else {
                format!(
                    "it names {}",
                    destinations.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            problems.push(Problem {
                place: place.to_string(),
                message: format!(
                    "no destination \"{name}\" (add destination.{name}: webhook|slack to the ConfigMap {CONFIG_NAME}; {known})"
                ),
            });
        }
    }
    if out.is_empty() && raw.trim().is_empty() {
        problems.push(Problem {
            place: place.to_string(),
            message: "names no destination".into(),
        });
    }
    out
}

fn trigger(name: &str, place: &str, problems: &mut Vec<Problem>) -> Option<Trigger> {
    let t = Trigger::parse(name);
    if t.is_none() {
        problems.push(Problem {
            place: place.to_string(),
            message: format!("unknown trigger \"{name}\" (valid: {})", Trigger::names()),
        });
    }
    t
}

/// Read the ConfigMap `namespace/mlops-notifications`'s data.
pub fn parse_config_map(
    namespace: &str,
    data: &BTreeMap<String, String>,
) -> (Config, Vec<Problem>) {
    let place = |key: &str| format!("ConfigMap {namespace}/{CONFIG_NAME} key {key}");
    let mut problems = Vec::new();
    let mut config = Config::default();
    for (key, value) in data {
        let Some(name) = key.strip_prefix(DESTINATION_PREFIX) else {
            continue;
        };
        if !valid_name(name) {
            problems.push(Problem {
                place: place(key),
                message: format!(
                    "\"{name}\" is not a destination name (letters, digits, -, _, ., at most {MAX_NAME})"
                ),
            });
            continue;
        }
        let kind = match value.trim() {
            "webhook" => Kind::Webhook,
            "slack" => Kind::Slack,
            other => {
                problems.push(Problem {
                    place: place(key),
                    message: format!(
                        "unknown destination type \"{other}\" (valid: webhook, slack)"
                    ),
                });
                continue;
            }
        };
        config.destinations.insert(name.to_string(), kind);
    }
    for (key, value) in data {
        if key.starts_with(DESTINATION_PREFIX) {
            continue;
        }
        let Some(t) = key.strip_prefix(SUBSCRIBE_PREFIX) else {
            problems.push(Problem {
                place: place(key),
                message: "unknown key (valid: destination.NAME, subscribe.TRIGGER)".into(),
            });
            continue;
        };
        if let Some(t) = trigger(t, &place(key), &mut problems) {
            let to = names(value, &config.destinations, &place(key), &mut problems);
            config.subscriptions.entry(t).or_default().extend(to);
        }
    }
    (config, problems)
}

/// A rollout's own subscriptions, from its annotations.
pub fn parse_annotations(
    namespace: &str,
    rollout: &str,
    annotations: &BTreeMap<String, String>,
    config: &Config,
) -> (Subscriptions, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut out = Subscriptions::new();
    for (key, value) in annotations {
        let Some(t) = key.strip_prefix(ANNOTATION_PREFIX) else {
            continue;
        };
        let place = format!("ModelRollout {namespace}/{rollout} annotation {key}");
        if let Some(t) = trigger(t, &place, &mut problems) {
            let to = names(value, &config.destinations, &place, &mut problems);
            out.entry(t).or_default().extend(to);
        }
    }
    (out, problems)
}

/// The destinations subscribed to `trigger`: the namespace's and the rollout's own.
pub fn destinations_for(
    config: &Config,
    own: &Subscriptions,
    trigger: Trigger,
) -> BTreeSet<String> {
    let mut out = config
        .subscriptions
        .get(&trigger)
        .cloned()
        .unwrap_or_default();
    if let Some(mine) = own.get(&trigger) {
        out.extend(mine.iter().cloned());
    }
    out
}

/// Whether a rollout has subscriptions of its own (annotations), so even a namespace without a
/// ConfigMap is worth looking at.
pub fn has_annotations(annotations: &BTreeMap<String, String>) -> bool {
    annotations.keys().any(|k| k.starts_with(ANNOTATION_PREFIX))
}

/// A destination URL, checked: `http` or `https`, with a host. The error never quotes the URL
/// (it may hold a token).
pub fn check_url(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| "is not a URL (want http://… or https://…)".to_string())?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("has the scheme \"{scheme}\" (want http or https)"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err("has no host".into());
    }
    if raw.chars().any(char::is_whitespace) {
        return Err("holds white space".into());
    }
    Ok(())
}

/// A URL as logs and Events may show it: the scheme, host and port only (a Slack URL's path is
/// its secret).
pub fn redacted(raw: &str) -> String {
    let raw = raw.trim();
    match raw.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or("");
            let more = rest.len() > host.len();
            format!("{scheme}://{host}{}", if more { "/…" } else { "" })
        }
        None => "(not a URL)".into(),
    }
}
