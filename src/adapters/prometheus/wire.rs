//! The answer as Prometheus sends it.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::Deserialize;

use super::{Sample, Series};
use crate::adapters::http::{Failure, parse_float, snippet, status_text};

#[derive(Debug, Deserialize)]
pub(super) struct Envelope<D> {
    pub(super) status: String,
    #[serde(default = "none")]
    pub(super) data: Option<D>,
    #[serde(default, rename = "errorType")]
    pub(super) error_type: Option<String>,
    #[serde(default)]
    pub(super) error: Option<String>,
}

fn none<D>() -> Option<D> {
    None
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub(super) enum QueryData {
    Vector(Vec<RawInstant>),
    Matrix(Vec<RawRange>),
    Scalar(RawPoint),
    String(RawPoint),
}

#[derive(Debug, Deserialize)]
pub(super) struct RawInstant {
    #[serde(default)]
    pub(super) metric: BTreeMap<String, String>,
    pub(super) value: RawPoint,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawRange {
    #[serde(default)]
    pub(super) metric: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) values: Vec<RawPoint>,
}

/// `[1435781451.781, "1"]`
#[derive(Debug, Deserialize)]
pub(super) struct RawPoint(f64, String);

impl RawPoint {
    /// The sample; `None` for one whose time is not a valid Unix time (one such sample is left
    /// out rather than failing the whole answer); an error for a value that is not a number.
    fn sample(&self) -> Result<Option<Sample>, String> {
        let value = parse_float(&self.1)
            .ok_or_else(|| format!("sample value {:?} is not a number", self.1))?;
        let ms = (self.0 * 1000.0).round();
        let time = (ms.is_finite() && ms.abs() < 1e15)
            .then(|| DateTime::from_timestamp_millis(ms as i64))
            .flatten();
        Ok(time.map(|time| Sample { time, value }))
    }
}

/// The `data` of Prometheus's answer, or what went wrong: HTTP status, `errorType` and `error`
/// when Prometheus says, else the start of the body.
pub(super) fn parse_data<D: serde::de::DeserializeOwned>(
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<D, Failure> {
    let api = |code: Option<String>, message: String| Failure::Api {
        status,
        code,
        message,
        hint: match status.as_u16() {
            401 | 403 => " (check MLOPS_PROMETHEUS_TOKEN)",
            _ => "",
        },
    };
    let envelope: Envelope<D> = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(e) if status.is_success() => {
            return Err(Failure::Malformed(format!(
                "{e} ({}; body starts: {})",
                status_text(status),
                snippet(body)
            )));
        }
        Err(_) => return Err(api(None, snippet(body))),
    };
    if envelope.status != "success" || !status.is_success() {
        return Err(api(
            Some(envelope.error_type.unwrap_or_else(|| "error".into())),
            envelope.error.unwrap_or_else(|| "(no message)".into()),
        ));
    }
    envelope
        .data
        .ok_or_else(|| Failure::Malformed("status success without data".into()))
}

/// Prometheus's answer as series, or what went wrong ([`parse_data`]).
pub(super) fn parse_response(
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<Vec<Series>, Failure> {
    let data: QueryData = parse_data(status, body)?;
    let malformed = Failure::Malformed;
    match data {
        QueryData::Vector(v) => {
            let mut out = Vec::with_capacity(v.len());
            for s in v {
                if let Some(sample) = s.value.sample().map_err(malformed)? {
                    out.push(Series {
                        samples: vec![sample],
                        labels: s.metric,
                    });
                }
            }
            Ok(out)
        }
        QueryData::Matrix(m) => m
            .into_iter()
            .map(|s| {
                let mut samples = Vec::with_capacity(s.values.len());
                for p in &s.values {
                    samples.extend(p.sample().map_err(malformed)?);
                }
                Ok(Series {
                    samples,
                    labels: s.metric,
                })
            })
            .collect(),
        QueryData::Scalar(p) => Ok(vec![Series {
            labels: BTreeMap::new(),
            samples: p.sample().map_err(malformed)?.into_iter().collect(),
        }]),
        QueryData::String(p) => Err(malformed(format!(
            "the query gives a string ({:?}), not numbers",
            p.1
        ))),
    }
}
