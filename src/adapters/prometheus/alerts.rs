//! Alerts: when each alert fired over a range, from the `ALERTS` series (a sample of 1 at each
//! evaluation while an alert is firing), and the alerts Prometheus holds now
//! (`/api/v1/alerts`: since when each is active, its annotations). Bodies are bounded as every
//! answer of the adapter is (`Endpoint`).

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use mlops_core::{CoreError, model::Alert};
use serde::Deserialize;

use super::{PrometheusMetrics, Series, delta, wire::parse_data};
use crate::adapters::http::Failure;

/// Every firing alert's series.
pub(super) const ALERTS_QUERY: &str = "ALERTS{alertstate=\"firing\"}";
/// The most points a range query of `ALERTS` asks for; the step is at least [`MIN_STEP`].
const MAX_POINTS: u64 = 1000;
const MIN_STEP: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
struct AlertsData {
    #[serde(default)]
    alerts: Vec<RawAlert>,
}

/// One alert of `/api/v1/alerts`.
#[derive(Debug, Deserialize)]
pub(super) struct RawAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    state: String,
    #[serde(default, rename = "activeAt")]
    active_at: Option<DateTime<Utc>>,
}

/// `/api/v1/alerts`'s answer, or what went wrong.
pub(super) fn parse_alerts(
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<Vec<RawAlert>, Failure> {
    parse_data::<AlertsData>(status, body).map(|d| d.alerts)
}

/// The step of a range query over `span`: at most [`MAX_POINTS`] points, at least
/// [`MIN_STEP`] apart.
pub(super) fn alerts_step(span: Duration) -> Duration {
    (span / u32::try_from(MAX_POINTS).unwrap_or(u32::MAX)).max(MIN_STEP)
}

/// An alert's identity: its name and labels, less `alertname`, `alertstate` and `__name__`.
fn identity(labels: &BTreeMap<String, String>) -> (String, BTreeMap<String, String>) {
    let name = labels.get("alertname").cloned().unwrap_or_default();
    let rest = labels
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "alertname" | "alertstate" | "__name__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (name, rest)
}

/// The stretches each alert fired: a series' samples split where more than two steps are
/// missing; a stretch whose last sample is within two steps of `end` is still firing. The
/// alerts firing now (`current`) give their summaries, and start a stretch the range did not
/// see yet (they fired since its last step).
pub(super) fn map_alerts(
    range: &[Series],
    current: &[RawAlert],
    step: Duration,
    end: DateTime<Utc>,
) -> Vec<Alert> {
    let gap = delta(step) * 2;
    let mut out: Vec<Alert> = Vec::new();
    for s in range {
        let (name, labels) = identity(&s.labels);
        let mut stretch: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        let close = |(started, last): (DateTime<Utc>, DateTime<Utc>), out: &mut Vec<Alert>| {
            out.push(Alert {
                name: name.clone(),
                labels: labels.clone(),
                started,
                ended: (end - last > gap).then_some(last),
                summary: String::new(),
            });
        };
        for p in s.samples.iter().filter(|p| p.value > 0.0) {
            stretch = match stretch {
                Some((started, last)) if p.time - last <= gap => Some((started, p.time)),
                Some(done) => {
                    close(done, &mut out);
                    Some((p.time, p.time))
                }
                None => Some((p.time, p.time)),
            };
        }
        if let Some(done) = stretch {
            close(done, &mut out);
        }
    }
    for a in current.iter().filter(|a| a.state == "firing") {
        let (name, labels) = identity(&a.labels);
        let summary = a
            .annotations
            .get("summary")
            .or_else(|| a.annotations.get("description"))
            .cloned()
            .unwrap_or_default();
        let open = out
            .iter_mut()
            .find(|o| o.ended.is_none() && o.name == name && o.labels == labels);
        match open {
            Some(o) => o.summary = summary,
            None => out.push(Alert {
                name,
                labels,
                started: a.active_at.unwrap_or(end).min(end),
                ended: None,
                summary,
            }),
        }
    }
    out.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.name.cmp(&b.name)));
    out
}

impl PrometheusMetrics {
    /// The alerts that fired from `since` to `end`: `ALERTS` over the range, one point every
    /// [`alerts_step`], and the alerts firing now.
    pub async fn alerts_between(
        &self,
        since: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Alert>, CoreError> {
        let span = (end - since)
            .max(TimeDelta::seconds(1))
            .to_std()
            .unwrap_or(MIN_STEP);
        let step = alerts_step(span);
        let (range, current) = futures::try_join!(
            self.query_range(ALERTS_QUERY, since, end, step),
            self.current_alerts()
        )?;
        Ok(map_alerts(&range, &current, step, end))
    }

    /// The alerts Prometheus holds now (`/api/v1/alerts`).
    async fn current_alerts(&self) -> Result<Vec<RawAlert>, CoreError> {
        let shown = "GET /api/v1/alerts";
        let answer = self
            .endpoint
            .send(reqwest::Method::GET, "api/v1/alerts", shown, &[], None)
            .await?;
        parse_alerts(answer.status, &answer.body)
            .map_err(|failure| self.endpoint.fail(shown, failure).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::prometheus::Sample;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).expect("time")
    }

    fn firing(model: &str, times: &[i64]) -> Series {
        Series {
            labels: [
                ("__name__", "ALERTS"),
                ("alertname", "MlopsSLOErrorBudgetBurn"),
                ("alertstate", "firing"),
                ("model", model),
                ("severity", "page"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
            samples: times
                .iter()
                .map(|&t| Sample {
                    time: at(t),
                    value: 1.0,
                })
                .collect(),
        }
    }

    #[test]
    fn stretches_split_at_gaps_and_the_last_one_still_fires() {
        let step = Duration::from_secs(15);
        let range = [firing("fraud", &[0, 15, 30, 45, 300, 315, 570, 585, 600])];
        let got = map_alerts(&range, &[], step, at(600));
        let read: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> =
            got.iter().map(|a| (a.started, a.ended)).collect();
        assert_eq!(
            read,
            [
                (at(0), Some(at(45))),
                (at(300), Some(at(315))),
                (at(570), None)
            ]
        );
        assert_eq!(got[0].name, "MlopsSLOErrorBudgetBurn");
        assert_eq!(got[0].label("model"), Some("fraud"));
        assert_eq!(got[0].label("alertstate"), None);
    }

    #[test]
    fn alerts_firing_now_give_summaries_and_start_what_the_range_missed() {
        let body = br#"{"status":"success","data":{"alerts":[
            {"labels":{"alertname":"MlopsSLOErrorBudgetBurn","model":"fraud","severity":"page"},
             "annotations":{"summary":"fraud burns 30x"},"state":"firing",
             "activeAt":"2027-01-15T08:00:00.5Z","value":"1e+00"},
            {"labels":{"alertname":"Other","model":"churn"},"annotations":{"description":"d"},
             "state":"firing","activeAt":"2027-01-15T08:10:00Z"},
            {"labels":{"alertname":"Pending"},"state":"pending","activeAt":"2027-01-15T08:10:00Z"}]}}"#;
        let current = parse_alerts(reqwest::StatusCode::OK, body).expect("parse");
        let range = [firing("fraud", &[0, 15])];
        let got = map_alerts(&range, &current, Duration::from_secs(15), at(20));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].summary, "fraud burns 30x");
        assert_eq!(got[0].ended, None);
        assert_eq!(got[1].name, "Other");
        assert_eq!(got[1].summary, "d");
        // Its activeAt is after `end`: it starts at `end`, never in the future.
        assert_eq!(got[1].started, at(20));
    }

    #[test]
    fn errors_and_odd_answers_say_what_went_wrong() {
        let refused = parse_alerts(
            reqwest::StatusCode::FORBIDDEN,
            br#"{"status":"error","errorType":"forbidden","error":"no"}"#,
        )
        .map(|_| ())
        .expect_err("refused")
        .to_string();
        assert!(
            refused.contains("no") && refused.contains("MLOPS_PROMETHEUS_TOKEN"),
            "{refused}"
        );
        let garbage = parse_alerts(reqwest::StatusCode::OK, b"<html>")
            .map(|_| ())
            .expect_err("garbage")
            .to_string();
        assert!(garbage.contains("<html>"), "{garbage}");
        let empty = parse_alerts(
            reqwest::StatusCode::OK,
            br#"{"status":"success","data":{}}"#,
        )
        .expect("no alerts");
        assert!(empty.is_empty());
        assert_eq!(
            alerts_step(Duration::from_secs(7200)),
            Duration::from_secs(15)
        );
        assert_eq!(
            alerts_step(Duration::from_secs(86_400)),
            Duration::from_millis(86_400)
        );
    }
}
