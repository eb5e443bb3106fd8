//! How each serving runtime's metrics map to (model, version, track): the PromQL per signal,
//! with `$window` where the rate window goes. Every query returns series labelled `model`,
//! `version` and `track` (and `namespace` where the runtime has it); a runtime without tracks
//! serves the stable one. A user's `[serving.queries]` replaces the runtime's query per signal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The runtimes with a built-in mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// The model servers' `model_requests_total` and `model_request_duration_seconds` (the test
    /// environment's traffic process and the demo), labelled model, version, track.
    #[default]
    Default,
    Kserve,
    Triton,
    Seldon,
    Bentoml,
}

pub const RUNTIMES: &str = "default, kserve, triton, seldon, bentoml";

impl Runtime {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "default" => Some(Self::Default),
            "kserve" => Some(Self::Kserve),
            "triton" => Some(Self::Triton),
            "seldon" => Some(Self::Seldon),
            "bentoml" => Some(Self::Bentoml),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Kserve => "kserve",
            Self::Triton => "triton",
            Self::Seldon => "seldon",
            Self::Bentoml => "bentoml",
        }
    }
}

/// Whether latency quantiles come from a histogram or only a mean is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencyForm {
    Histogram,
    Mean,
}

/// The labels every query groups by.
pub const BY: &str = "namespace, model, version, track";

/// The signals a mapping has a query for.
pub const SIGNALS: [&str; 4] = ["requests", "errors", "latency_buckets", "latency_mean"];

/// A runtime's queries: requests and errors per second; latency as bucket rates (grouped by
/// `le` too) or as a mean. `latency_scale` turns its unit into seconds (Triton: µs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub runtime: String,
    pub requests: String,
    pub errors: String,
    pub latency_buckets: Option<String>,
    pub latency_mean: Option<String>,
    pub latency_scale: f64,
    /// The metric names read, for the source and for "no series for …".
    pub series: Vec<String>,
}

/// `track` set to stable where a series has none.
fn stable(expr: &str) -> String {
    format!("label_replace({expr}, \"track\", \"stable\", \"track\", \"\")")
}

/// `dst` copied from `src` by a regular expression (RE2, anchored).
fn relabel(expr: &str, dst: &str, src: &str, regex: &str) -> String {
    format!("label_replace({expr}, \"{dst}\", \"$1\", \"{src}\", \"{regex}\")")
}

fn sum_by(expr: &str, extra: &str) -> String {
    format!("sum by ({BY}{extra}) ({expr})")
}

impl Mapping {
    pub fn builtin(runtime: Runtime) -> Self {
        match runtime {
            Runtime::Default => Self::default_runtime(),
            Runtime::Kserve => Self::kserve(),
            Runtime::Triton => Self::triton(),
            Runtime::Seldon => Self::seldon(),
            Runtime::Bentoml => Self::bentoml(),
        }
    }

    fn default_runtime() -> Self {
        Self {
            runtime: "default".into(),
            requests: sum_by("rate(model_requests_total[$window])", ""),
            errors: sum_by("rate(model_requests_total{code=~\"5..\"}[$window])", ""),
            latency_buckets: Some(sum_by(
                "rate(model_request_duration_seconds_bucket[$window])",
                ", le",
            )),
            latency_mean: None,
            latency_scale: 1.0,
            series: vec![
                "model_requests_total".into(),
                "model_request_duration_seconds_bucket".into(),
            ],
        }
    }

    /// KServe on Knative: the queue-proxy's per-revision counts and latencies (milliseconds);
    /// the model is the InferenceService (`<name>-predictor`), the version the revision's number.
    fn kserve() -> Self {
        let named = |metric: &str| {
            let model = relabel(metric, "model", "configuration_name", "(.+)-predictor.*");
            let version = relabel(&model, "version", "revision_name", ".*-0*([0-9]+)");
            let ns = relabel(&version, "namespace", "namespace_name", "(.+)");
            stable(&ns)
        };
        Self {
            runtime: "kserve".into(),
            requests: sum_by(&named("rate(revision_app_request_count[$window])"), ""),
            errors: sum_by(
                &named("rate(revision_app_request_count{response_code_class=\"5xx\"}[$window])"),
                "",
            ),
            latency_buckets: Some(sum_by(
                &named("rate(revision_app_request_latencies_bucket[$window])"),
                ", le",
            )),
            latency_mean: None,
            latency_scale: 0.001,
            series: vec![
                "revision_app_request_count".into(),
                "revision_app_request_latencies_bucket".into(),
            ],
        }
    }

    /// Triton: success and failure counters and a cumulative duration (µs): a mean only.
    fn triton() -> Self {
        let by = |expr: &str| sum_by(&stable(expr), "");
        Self {
            runtime: "triton".into(),
            requests: by("rate({__name__=~\"nv_inference_request_(success|failure)\"}[$window])"),
            errors: by("rate(nv_inference_request_failure[$window])"),
            latency_buckets: None,
            latency_mean: Some(format!(
                "{} / {}",
                by("rate(nv_inference_request_duration_us[$window])"),
                by("rate(nv_inference_request_success[$window])")
            )),
            latency_scale: 1e-6,
            series: vec![
                "nv_inference_request_success".into(),
                "nv_inference_request_failure".into(),
                "nv_inference_request_duration_us".into(),
            ],
        }
    }

    /// Seldon Core 2: the model's histogram; `model_internal` is `<model>_<version>`.
    fn seldon() -> Self {
        let named =
            |metric: &str| stable(&relabel(metric, "version", "model_internal", ".*_([0-9]+)"));
        Self {
            runtime: "seldon".into(),
            requests: sum_by(
                &named("rate(seldon_model_infer_api_seconds_count[$window])"),
                "",
            ),
            errors: sum_by(
                &named("rate(seldon_model_infer_api_seconds_count{code=~\"5..\"}[$window])"),
                "",
            ),
            latency_buckets: Some(sum_by(
                &named("rate(seldon_model_infer_api_seconds_bucket[$window])"),
                ", le",
            )),
            latency_mean: None,
            latency_scale: 1.0,
            series: vec![
                "seldon_model_infer_api_seconds_count".into(),
                "seldon_model_infer_api_seconds_bucket".into(),
            ],
        }
    }

    /// BentoML: the service is the model, `service_version` its version.
    fn bentoml() -> Self {
        let named = |metric: &str| {
            let model = relabel(metric, "model", "service_name", "(.+)");
            stable(&relabel(&model, "version", "service_version", "(.+)"))
        };
        Self {
            runtime: "bentoml".into(),
            requests: sum_by(&named("rate(bentoml_service_request_total[$window])"), ""),
            errors: sum_by(
                &named("rate(bentoml_service_request_total{http_response_code=~\"5..\"}[$window])"),
                "",
            ),
            latency_buckets: Some(sum_by(
                &named("rate(bentoml_service_request_duration_seconds_bucket[$window])"),
                ", le",
            )),
            latency_mean: None,
            latency_scale: 1.0,
            series: vec![
                "bentoml_service_request_total".into(),
                "bentoml_service_request_duration_seconds_bucket".into(),
            ],
        }
    }

    /// The runtime's mapping with the user's queries over it (signal name → PromQL); a latency
    /// query of one form drops the other's.
    pub fn with_queries(
        mut self,
        queries: &BTreeMap<String, String>,
        latency_scale: Option<f64>,
    ) -> Result<Self, String> {
        for (signal, query) in queries {
            check_query(signal, query)?;
            match signal.as_str() {
                "requests" => self.requests.clone_from(query),
                "errors" => self.errors.clone_from(query),
                "latency_buckets" => {
                    self.latency_buckets = Some(query.clone());
                    self.latency_mean = None;
                }
                "latency_mean" => {
                    self.latency_mean = Some(query.clone());
                    self.latency_buckets = None;
                }
                other => {
                    return Err(format!(
                        "unknown signal {other:?} (one of {})",
                        SIGNALS.join(", ")
                    ));
                }
            }
        }
        if !queries.is_empty() {
            self.runtime = format!("{} (with your queries)", self.runtime);
            self.series = metric_names(
                [&self.requests, &self.errors]
                    .into_iter()
                    .chain(self.latency_buckets.iter())
                    .chain(self.latency_mean.iter()),
            );
        }
        if let Some(s) = latency_scale {
            if !(s.is_finite() && s > 0.0) {
                return Err(format!("latency_scale {s} is not a positive number"));
            }
            self.latency_scale = s;
        }
        Ok(self)
    }

    /// The error ratio over `secs`: errors over requests, 0 where a runtime has requests but no
    /// error series yet (a counter appears with its first error).
    pub fn error_ratio_query(&self, secs: u64) -> String {
        let e = at_window(&self.errors, secs);
        let r = at_window(&self.requests, secs);
        format!("(({e}) or ({r}) * 0) / ({r})")
    }

    pub fn latency_form(&self) -> LatencyForm {
        if self.latency_buckets.is_some() {
            LatencyForm::Histogram
        } else {
            LatencyForm::Mean
        }
    }

    /// The queries by signal name, as the source says them.
    pub fn queries(&self) -> BTreeMap<String, String> {
        let mut q = BTreeMap::from([
            ("requests".to_string(), self.requests.clone()),
            ("errors".to_string(), self.errors.clone()),
        ]);
        if let Some(b) = &self.latency_buckets {
            q.insert("latency_buckets".into(), b.clone());
        }
        if let Some(m) = &self.latency_mean {
            q.insert("latency_mean".into(), m.clone());
        }
        q
    }
}

/// A query with its window put in (`$window` → `5m`).
pub fn at_window(query: &str, seconds: u64) -> String {
    query.replace("$window", &crate::text::format_duration(seconds))
}

/// What is wrong with a user's query, before it reaches Prometheus: empty, no `$window` to put
/// the rate window in, or brackets that do not pair.
pub fn check_query(signal: &str, query: &str) -> Result<(), String> {
    if query.trim().is_empty() {
        return Err(format!("{signal}: the query is empty"));
    }
    if !query.contains("$window") {
        return Err(format!(
            "{signal}: the query has no $window where the rate window goes, e.g. rate(x[$window])"
        ));
    }
    let mut depth: Vec<char> = Vec::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '(' | '[' | '{' => depth.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if depth.pop() != Some(open) {
                    return Err(format!("{signal}: {c:?} closes nothing in the query"));
                }
            }
            _ => {}
        }
    }
    if quoted || !depth.is_empty() {
        return Err(format!(
            "{signal}: a quote or bracket is not closed in the query"
        ));
    }
    Ok(())
}

/// The metric names a query reads (a name followed by `{` or `[`, outside quotes).
fn metric_names<'a>(queries: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for q in queries {
        let mut name = String::new();
        let mut quoted = false;
        for c in q.chars() {
            if c == '"' {
                quoted = !quoted;
                name.clear();
            } else if quoted {
            } else if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                name.push(c);
            } else {
                if (c == '{' || c == '[')
                    && !name.is_empty()
                    && !name.starts_with(|d: char| d.is_ascii_digit())
                    && !out.contains(&name)
                {
                    out.push(name.clone());
                }
                name.clear();
            }
        }
    }
    out
}
