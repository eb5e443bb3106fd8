//! Live drift against what each version was trained on: the metrics store's feature histograms
//! compared with the drift profile logged with the version's training data in the registry.
//! [`ProfiledDrift`] is the metrics port the console and `mlops drift live` use when both a
//! Prometheus and an MLflow are configured, so both show the same numbers.
//!
//! A version's profile: its source run (the registry's version → `run_id`), that run's first
//! dataset whose `profile` is a drift profile (`mlops drift profile` writes one; MLflow's own
//! `num_rows` summaries are not). Profiles change when versions do, not when traffic does: each
//! model's lookup is kept for [`PROFILES_TTL`], and a registry that fails leaves the versions on
//! the reference window, with the reason kept as a warning; a failed lookup is asked again after
//! [`FIRST_RETRY`], doubling with each failure in a row up to [`PROFILES_TTL`] (a registry that
//! refuses the credentials is not asked every refresh). Thousands of served models do not
//! make thousands of calls in a row: a pass looks up at most [`MAX_LOOKUPS_PER_PASS`] models,
//! [`LOOKUP_CONCURRENCY`] at a time, and names the rest in a warning; the next pass (the
//! console's next refresh) goes on from the cache.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Write as _,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt as _;
use mlops_core::{
    CoreError,
    drift::profile::{self, FORMAT, Profile},
    model::{FeatureDrift, Gpu, RolloutSeries},
    ports::{MetricsPort, QueryPort, RegistryPort},
};

use super::{PrometheusMetrics, VersionProfiles};

/// How long looked-up profiles are trusted.
pub const PROFILES_TTL: Duration = Duration::from_secs(300);
/// How long a lookup that failed is kept before the registry is asked again (doubled with each
/// failure in a row, at most [`PROFILES_TTL`]).
pub const FIRST_RETRY: Duration = Duration::from_secs(2);
/// How many models are looked up in the registry at once.
pub const LOOKUP_CONCURRENCY: usize = 8;
/// The most models looked up in one pass; the rest are named in a warning and looked up by the
/// next passes (the console's refreshes), while what finished stays cached.
pub const MAX_LOOKUPS_PER_PASS: usize = 200;
/// How long one pass spends on lookups at most before it goes on with what it has (the
/// console and `drift live` give it their timeout, `timeout_seconds`: a third of the console's
/// deadline for the Drift view, so the drift itself is still computed).
pub const LOOKUP_BUDGET: Duration = Duration::from_secs(10);
/// The most models whose lookups are kept (the oldest go first).
pub const MAX_CACHED_MODELS: usize = 10_000;
/// How many of the models not looked up a warning names.
const NAMED: usize = 5;

/// The versions the model servers report feature histograms for.
const VERSIONS_QUERY: &str = "group by (model, version) (model_feature_value_bucket)";

type Found = (VersionProfiles, Vec<String>);

/// One model's finished lookup: the versions asked about, the profiles found among them and
/// what could not be read (a profile that is not one).
#[derive(Clone)]
struct Looked {
    at: Instant,
    versions: BTreeSet<u32>,
    profiles: Vec<(u32, (String, Profile))>,
    warnings: Vec<String>,
    /// Lookups of this model that failed in a row (0: this one finished).
    failures: u32,
}

impl Looked {
    /// How long it is kept: [`PROFILES_TTL`] when it finished, else the backoff of its failures.
    fn ttl(&self) -> Duration {
        match self.failures {
            0 => PROFILES_TTL,
            n => backoff(n),
        }
    }

    fn fresh(&self) -> bool {
        self.at.elapsed() < self.ttl()
    }
}

/// One model's lookup: the profiles, the warnings, and whether it may be kept (a registry that
/// failed is asked again next time).
struct Lookup {
    profiles: Vec<(u32, (String, Profile))>,
    warnings: Vec<String>,
    complete: bool,
    /// The registry itself failed (down, refusing our credentials): why.
    outage: Option<String>,
}

/// The registry failed as a whole (down, refusing our credentials): no model is looked up until
/// its backoff has passed.
struct Outage {
    at: Instant,
    failures: u32,
    why: String,
}

/// How long a lookup that failed `failures` times in a row is kept: [`FIRST_RETRY`] doubled
/// with each failure after the first, at most [`PROFILES_TTL`].
fn backoff(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(PROFILES_TTL)
}

pub struct ProfiledDrift {
    metrics: Arc<PrometheusMetrics>,
    registry: Arc<dyn RegistryPort>,
    /// Finished lookups by model, kept across passes (and across the console's restarts of
    /// the Drift view's load, which may cut a pass short).
    cache: Mutex<HashMap<String, Looked>>,
    /// The registry's last failure as a whole, while it lasts.
    outage: Mutex<Option<Outage>>,
    /// How long a pass spends on lookups.
    budget: Duration,
}

impl ProfiledDrift {
    pub fn new(metrics: Arc<PrometheusMetrics>, registry: Arc<dyn RegistryPort>) -> Self {
        Self {
            metrics,
            registry,
            cache: Mutex::new(HashMap::new()),
            outage: Mutex::new(None),
            budget: LOOKUP_BUDGET,
        }
    }

    /// Lookups of one pass within `budget` (at most [`LOOKUP_BUDGET`]).
    #[must_use]
    pub fn with_lookup_budget(mut self, budget: Duration) -> Self {
        self.budget = budget.min(LOOKUP_BUDGET);
        self
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Looked>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Each served version's training data profile, and why one could not be read.
    pub async fn profiles(&self) -> Found {
        let versions = match self.metrics.vector(VERSIONS_QUERY).await {
            Ok(v) => v,
            Err(e) => {
                return (
                    VersionProfiles::new(),
                    vec![format!("no training data profiles: {e}")],
                );
            }
        };
        let mut served: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for (labels, _) in versions {
            if let (Some(model), Some(version)) = (
                labels.get("model"),
                labels.get("version").and_then(|v| v.parse::<u32>().ok()),
            ) {
                served.entry(model.clone()).or_default().insert(version);
            }
        }
        self.profiles_of(served).await
    }

    /// The profiles of the versions `served`: from the cache where a lookup of the model
    /// finished within [`PROFILES_TTL`], else looked up — at most [`MAX_LOOKUPS_PER_PASS`]
    /// models, [`LOOKUP_CONCURRENCY`] at a time, for at most [`LOOKUP_BUDGET`]; each finished
    /// lookup is cached as it finishes, so a pass cut short keeps what it did.
    async fn profiles_of(&self, served: BTreeMap<String, BTreeSet<u32>>) -> Found {
        let mut found = VersionProfiles::new();
        let mut warnings = Vec::new();
        let mut todo = Vec::new();
        {
            let cache = self.cache();
            for (model, versions) in served {
                match cache.get(&model) {
                    Some(l) if l.fresh() && l.versions.is_superset(&versions) => {
                        for (v, p) in &l.profiles {
                            if versions.contains(v) {
                                found.insert((model.clone(), *v), p.clone());
                            }
                        }
                        warnings.extend(l.warnings.iter().cloned());
                    }
                    _ => todo.push((model, versions)),
                }
            }
        }
        if let Some(why) = self.in_outage()
            && !todo.is_empty()
        {
            // The registry failed as a whole a moment ago: not asked again before its backoff.
            warnings.push(why);
            return (found, warnings);
        }
        let later = todo.split_off(todo.len().min(MAX_LOOKUPS_PER_PASS));
        let mut outage = None;
        let mut answered = false;
        let mut left: BTreeSet<String> = todo.iter().map(|(m, _)| m.clone()).collect();
        let lookups = futures::stream::iter(todo)
            .map(|(model, versions)| async move {
                let lookup = self.look_up(&model, &versions).await;
                (model, versions, lookup)
            })
            .buffer_unordered(LOOKUP_CONCURRENCY);
        let collect = async {
            let mut lookups = std::pin::pin!(lookups);
            while let Some((model, versions, lookup)) = lookups.next().await {
                left.remove(&model);
                for (v, p) in &lookup.profiles {
                    found.insert((model.clone(), *v), p.clone());
                }
                warnings.extend(lookup.warnings.iter().cloned());
                answered |= lookup.outage.is_none();
                if outage.is_none() {
                    outage.clone_from(&lookup.outage);
                }
                self.keep(model, versions, lookup);
            }
        };
        let _ = tokio::time::timeout(self.budget, collect).await;
        self.note_outage(outage.filter(|_| !answered));
        let skipped: Vec<String> = left
            .into_iter()
            .chain(later.into_iter().map(|(m, _)| m))
            .collect();
        if !skipped.is_empty() {
            warnings.push(not_looked_up(&skipped, self.budget));
        }
        (found, warnings)
    }

    /// Why the registry is not asked now: it failed as a whole within its backoff.
    fn in_outage(&self) -> Option<String> {
        let outage = self
            .outage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let o = outage.as_ref()?;
        let wait = backoff(o.failures);
        let elapsed = o.at.elapsed();
        (elapsed < wait).then(|| {
            format!(
                "{} (the registry is asked again in {} s; versions are compared with the reference window)",
                o.why,
                wait.saturating_sub(elapsed).as_secs().max(1)
            )
        })
    }

    /// After a pass: the registry failed as a whole (`Some`: why; one more failure in a row),
    /// or it answered (the outage is over).
    fn note_outage(&self, why: Option<String>) {
        let mut outage = self
            .outage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *outage = why.map(|why| Outage {
            at: Instant::now(),
            failures: outage.as_ref().map_or(0, |o| o.failures).saturating_add(1),
            why,
        });
    }

    /// Keep a lookup (one that failed for its backoff only), making room in a full cache: the
    /// expired go first, then the oldest.
    fn keep(&self, model: String, versions: BTreeSet<u32>, lookup: Lookup) {
        let mut cache = self.cache();
        let failures = if lookup.complete {
            0
        } else {
            cache
                .get(&model)
                .map_or(0, |l| l.failures)
                .saturating_add(1)
        };
        if cache.len() >= MAX_CACHED_MODELS && !cache.contains_key(&model) {
            cache.retain(|_, l| l.fresh());
            if cache.len() >= MAX_CACHED_MODELS
                && let Some(oldest) = cache
                    .iter()
                    .min_by_key(|(_, l)| l.at)
                    .map(|(m, _)| m.clone())
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(
            model,
            Looked {
                at: Instant::now(),
                versions,
                profiles: lookup.profiles,
                warnings: lookup.warnings,
                failures,
            },
        );
    }

    /// One model's versions' profiles: the model in the registry (its versions' source runs),
    /// then each run's first dataset with a drift profile.
    async fn look_up(&self, model: &str, versions: &BTreeSet<u32>) -> Lookup {
        let mut out = Lookup {
            profiles: Vec::new(),
            warnings: Vec::new(),
            complete: true,
            outage: None,
        };
        let registered = match self.registry.model(model).await {
            Ok(m) => m,
            // A model the registry does not hold: nothing to compare with but the window.
            Err(CoreError::NotFound { .. }) => return out,
            Err(e) => {
                out.warnings.push(format!("{model}: {e}"));
                out.complete = false;
                out.outage = e
                    .kind()
                    .is_outage()
                    .then(|| format!("training data profiles: {e}"));
                return out;
            }
        };
        for &version in versions {
            let Some(run_id) = registered.version(version).and_then(|v| v.run_id.clone()) else {
                continue;
            };
            let run = match self.registry.run(&run_id).await {
                Ok(r) => r,
                Err(e) => {
                    out.warnings
                        .push(format!("{model} v{version}: run {run_id}: {e}"));
                    out.complete = false;
                    continue;
                }
            };
            for d in &run.datasets {
                let Some(text) = d.profile.as_deref().filter(|t| t.contains(FORMAT)) else {
                    continue;
                };
                let name = format!("{}@{}", d.name, d.digest);
                match profile::parse(text, &name) {
                    Ok(p) => {
                        out.profiles.push((version, (name, p)));
                        break;
                    }
                    Err(e) => out.warnings.push(format!("{model} v{version}: {e}")),
                }
            }
        }
        out
    }

    /// Drift now, each version against its profile where it has one; with the profiles used,
    /// the warnings of their lookup and those of the features left out.
    pub async fn drift_with_profiles(
        &self,
    ) -> Result<(Vec<FeatureDrift>, VersionProfiles, Vec<String>), CoreError> {
        let (profiles, mut warnings) = self.profiles().await;
        let (drift, dropped) = self.metrics.drift_noting(Utc::now(), &profiles).await?;
        warnings.extend(dropped);
        Ok((drift, profiles, warnings))
    }
}

#[async_trait]
impl MetricsPort for ProfiledDrift {
    fn describe(&self) -> String {
        self.metrics.describe()
    }

    async fn gpus(&self) -> Result<Vec<Gpu>, CoreError> {
        self.metrics.gpus().await
    }

    async fn drift(&self) -> Result<Vec<FeatureDrift>, CoreError> {
        self.drift_with_profiles().await.map(|(d, _, _)| d)
    }

    async fn drift_noting(&self) -> Result<(Vec<FeatureDrift>, Vec<String>), CoreError> {
        self.drift_with_profiles().await.map(|(d, _, w)| (d, w))
    }

    async fn rollout_series(
        &self,
        cluster: &str,
        rollout: &str,
    ) -> Result<RolloutSeries, CoreError> {
        self.metrics.rollout_series(cluster, rollout).await
    }

    async fn alerts(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<mlops_core::model::Alert>, CoreError> {
        self.metrics.alerts(since).await
    }
}

/// The warning for models whose profiles were not looked up in this pass: the first few named,
/// then how many more.
fn not_looked_up(models: &[String], budget: Duration) -> String {
    let named: Vec<&str> = models.iter().take(NAMED).map(String::as_str).collect();
    let mut s = format!(
        "training data profiles of {} models not looked up in this pass (at most {MAX_LOOKUPS_PER_PASS} models a pass, for at most {} s); their versions are compared with the reference window: {}",
        models.len(),
        budget.as_secs_f64(),
        named.join(", ")
    );
    if models.len() > named.len() {
        let _ = write!(
            s,
            " … and {} more models not looked up",
            models.len() - named.len()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::DateTime;
    use mlops_core::model::{
        Experiment, LoggedModel, MetricPoint, ModelVersion, RegisteredModel, Run, RunPage,
        RunQuery, RunStatus,
    };

    use super::*;
    use crate::adapters::http::Auth;

    /// A registry that holds every model asked for (version 1, from run `run-MODEL`, without a
    /// profile) except `absent`, and counts the calls.
    #[derive(Default)]
    struct Counting {
        models: AtomicUsize,
        runs: AtomicUsize,
        /// Refuses our credentials (HTTP 401) instead.
        refuse: bool,
    }

    fn nothing<T>() -> Result<T, CoreError> {
        Err(CoreError::backend("fake", "not part of this fake"))
    }

    #[async_trait]
    impl RegistryPort for Counting {
        fn describe(&self) -> String {
            "fake".into()
        }
        async fn experiments(&self) -> Result<Vec<Experiment>, CoreError> {
            nothing()
        }
        async fn runs(&self, _: &str) -> Result<Vec<Run>, CoreError> {
            nothing()
        }
        async fn runs_page(&self, _: &RunQuery, _: Option<&str>) -> Result<RunPage, CoreError> {
            nothing()
        }
        async fn run(&self, run_id: &str) -> Result<Run, CoreError> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            Ok(Run {
                id: run_id.into(),
                experiment_id: "1".into(),
                name: run_id.into(),
                status: RunStatus::Finished,
                user: "u".into(),
                start: DateTime::UNIX_EPOCH,
                end: None,
                params: BTreeMap::new(),
                metrics: BTreeMap::new(),
                datasets: Vec::new(),
                tags: BTreeMap::new(),
            })
        }
        async fn metric_history(&self, _: &str, _: &str) -> Result<Vec<MetricPoint>, CoreError> {
            nothing()
        }
        async fn logged_models(
            &self,
            _: &str,
            _: Option<&str>,
        ) -> Result<Vec<LoggedModel>, CoreError> {
            nothing()
        }
        async fn models(&self) -> Result<Vec<RegisteredModel>, CoreError> {
            nothing()
        }
        async fn model(&self, name: &str) -> Result<RegisteredModel, CoreError> {
            self.models.fetch_add(1, Ordering::SeqCst);
            if self.refuse {
                return Err(CoreError::of_kind(
                    mlops_core::ErrorKind::Denied,
                    "mlflow",
                    "HTTP 401 Unauthorized",
                ));
            }
            if name == "absent" {
                return Err(CoreError::NotFound {
                    kind: "registered model",
                    name: name.into(),
                });
            }
            Ok(RegisteredModel {
                name: name.into(),
                description: String::new(),
                aliases: BTreeMap::new(),
                tags: BTreeMap::new(),
                versions: vec![ModelVersion {
                    model: name.into(),
                    version: 1,
                    run_id: Some(format!("run-{name}")),
                    created: DateTime::UNIX_EPOCH,
                    status: "READY".into(),
                    tags: BTreeMap::new(),
                }],
            })
        }
        async fn set_alias(&self, _: &str, _: &str, _: u32) -> Result<Option<u32>, CoreError> {
            nothing()
        }
        async fn set_version_tag(
            &self,
            _: &str,
            _: u32,
            _: &str,
            _: &str,
        ) -> Result<(), CoreError> {
            nothing()
        }
    }

    fn served(n: usize) -> BTreeMap<String, BTreeSet<u32>> {
        (0..n)
            .map(|i| (format!("m{i:04}"), BTreeSet::from([1])))
            .chain([("absent".to_string(), BTreeSet::from([1]))])
            .collect()
    }

    fn drift(registry: &Arc<Counting>) -> ProfiledDrift {
        let metrics = PrometheusMetrics::new("http://127.0.0.1:9", Auth::None).expect("metrics");
        ProfiledDrift::new(Arc::new(metrics), registry.clone())
    }

    #[tokio::test]
    async fn a_second_pass_reuses_the_lookups_of_the_first() {
        let registry = Arc::new(Counting::default());
        let d = drift(&registry);
        let (_, warnings) = d.profiles_of(served(50)).await;
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(registry.models.load(Ordering::SeqCst), 51);
        assert_eq!(
            registry.runs.load(Ordering::SeqCst),
            50,
            "none for `absent`"
        );
        // The next pass (the console's next refresh) asks the registry nothing.
        let (_, warnings) = d.profiles_of(served(50)).await;
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(registry.models.load(Ordering::SeqCst), 51);
        assert_eq!(registry.runs.load(Ordering::SeqCst), 50);
        // A version not asked about before is looked up; the rest still come from the cache.
        let mut more = served(50);
        more.insert("m0003".into(), BTreeSet::from([1, 2]));
        d.profiles_of(more).await;
        assert_eq!(registry.models.load(Ordering::SeqCst), 52);
    }

    #[tokio::test]
    async fn a_pass_looks_up_at_most_its_share_and_the_next_goes_on_from_there() {
        let registry = Arc::new(Counting::default());
        let d = drift(&registry);
        let (_, warnings) = d.profiles_of(served(450)).await;
        assert_eq!(registry.models.load(Ordering::SeqCst), MAX_LOOKUPS_PER_PASS);
        let w = warnings.last().expect("a warning");
        assert!(
            w.contains("of 251 models not looked up")
                && w.contains(
                    "m0199, m0200, m0201, m0202, m0203 … and 246 more models not looked up"
                ),
            "{w}"
        );
        let (_, warnings) = d.profiles_of(served(450)).await;
        assert_eq!(
            registry.models.load(Ordering::SeqCst),
            2 * MAX_LOOKUPS_PER_PASS
        );
        assert!(
            warnings.last().is_some_and(|w| w.contains("of 51 models")),
            "{warnings:?}"
        );
        let (_, warnings) = d.profiles_of(served(450)).await;
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(registry.models.load(Ordering::SeqCst), 451);
    }

    #[tokio::test]
    async fn a_registry_that_refuses_is_not_asked_again_on_every_pass() {
        let registry = Arc::new(Counting {
            refuse: true,
            ..Counting::default()
        });
        let d = drift(&registry);
        let one = BTreeMap::from([("fraud".to_string(), BTreeSet::from([1]))]);
        let (found, warnings) = d.profiles_of(one.clone()).await;
        assert!(found.is_empty());
        assert!(
            warnings.iter().any(|w| w.contains("401")),
            "the reason is said: {warnings:?}"
        );
        // The console refreshes every second: the next passes keep the failure (and say it
        // again) instead of asking the registry, for this model or any other.
        let two = BTreeMap::from([
            ("fraud".to_string(), BTreeSet::from([1])),
            ("churn".to_string(), BTreeSet::from([3])),
        ]);
        for _ in 0..5 {
            let (_, warnings) = d.profiles_of(two.clone()).await;
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains("401") && w.contains("asked again in")),
                "{warnings:?}"
            );
        }
        assert_eq!(registry.models.load(Ordering::SeqCst), 1);
        // Its backoff doubles with each failure in a row, up to the profiles' own lifetime.
        let mut l = Looked {
            at: Instant::now(),
            versions: BTreeSet::new(),
            profiles: Vec::new(),
            warnings: Vec::new(),
            failures: 1,
        };
        assert_eq!(l.ttl(), FIRST_RETRY);
        l.failures = 3;
        assert_eq!(l.ttl(), FIRST_RETRY * 4);
        l.failures = 40;
        assert_eq!(l.ttl(), PROFILES_TTL);
        l.failures = 0;
        assert_eq!(l.ttl(), PROFILES_TTL);
    }

    #[test]
    fn the_warning_names_a_few_models_and_counts_the_rest() {
        let models: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let w = not_looked_up(&models, LOOKUP_BUDGET);
        assert!(w.ends_with(": a, b"), "{w}");
        let models: Vec<String> = (0..9).map(|i| format!("m{i}")).collect();
        assert!(
            not_looked_up(&models, LOOKUP_BUDGET)
                .ends_with("m0, m1, m2, m3, m4 … and 4 more models not looked up")
        );
    }
}
