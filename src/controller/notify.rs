//! The notification sender: passes offer the events their rollout's status holds and nobody has
//! been sent yet (`offer`, a channel send: a pass never waits on a receiver); one task reads the
//! namespace's configuration, starts one delivery per event and destination — retried with
//! exponential backoff, each attempt bounded by a timeout — and records each delivery in the
//! rollout's `status.notifications`, so the next leader sends only what was not delivered.
//! A rollout still under way has its deliveries written by its next pass, with the rest of its
//! status (`Notifier::merge`): a write of the sender's own would change the rollout under a pass
//! and make that pass's status write conflict. A finished rollout, which has no more passes,
//! gets them from the sender. Only `mlops controller` sends: a console driving rollouts embedded
//! does not (see `lead_until`).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
};
use mlops_core::{
    notify::{
        self, Event,
        config::{self, Kind, Problem, Subscriptions},
        payload,
    },
    rollout::RolloutRecord,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::Context;
use crate::adapters::{
    kube::{ModelRollout, names::FIELD_MANAGER},
    notify::{Deliverer, NamespaceConfig, load},
};

/// A namespace's configuration is read again after this.
const CONFIG_FRESH_FOR: Duration = Duration::from_secs(10);
/// The first retry's wait; each next one doubles, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A failing destination's Warning Event is repeated every this many attempts.
const EVENT_EVERY_ATTEMPTS: u32 = 10;
/// Deliveries in flight at once (the others wait their turn; waits between retries hold none).
const AT_ONCE: usize = 16;
/// Keys remembered as settled before the memory is cleared (the ledger still holds them).
const MAX_REMEMBERED: usize = 20_000;

/// Deliveries made to rollouts still under way, until a pass writes them into the status.
type Unwritten = std::sync::Mutex<HashMap<(String, String), Vec<(Event, String, bool)>>>;

/// What passes hold of the sender: where to offer events, and the deliveries to write.
pub(super) struct Notifier {
    offers: UnboundedSender<Offer>,
    unwritten: Arc<Unwritten>,
}

impl Notifier {
    /// Offer the events of `record` that are still owed (cheap; sends nothing when none is).
    pub(super) fn offer(&self, mr: &ModelRollout, record: &RolloutRecord) {
        let uid = mr.metadata.uid.as_deref().unwrap_or_default();
        let events = notify::pending(record, uid, Utc::now());
        if events.is_empty() {
            return;
        }
        let _ = self.offers.send(Offer {
            object: mr.object_ref(&()),
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            annotations: mr.annotations().clone(),
            events,
        });
    }

    /// `status` with the deliveries made since it was read, and how many were taken (for
    /// `written`, once the status is).
    pub(super) fn merge(
        &self,
        record: &RolloutRecord,
        status: &mut mlops_core::rollout::RolloutStatus,
    ) -> usize {
        let key = (record.namespace.clone(), record.name.clone());
        let Ok(unwritten) = self.unwritten.lock() else {
            return 0;
        };
        let Some(made) = unwritten.get(&key) else {
            return 0;
        };
        for (event, destination, done) in made {
            status.notifications =
                notify::record_delivery(&status.notifications, event, Some(destination), *done);
        }
        made.len()
    }

    /// The first `taken` deliveries of the rollout are in its status now.
    pub(super) fn written(&self, record: &RolloutRecord, taken: usize) {
        if taken == 0 {
            return;
        }
        let key = (record.namespace.clone(), record.name.clone());
        if let Ok(mut unwritten) = self.unwritten.lock()
            && let Some(made) = unwritten.get_mut(&key)
        {
            made.drain(..taken.min(made.len()));
            if made.is_empty() {
                unwritten.remove(&key);
            }
        }
    }
}

/// A rollout's events nobody has been sent yet, as a pass saw them.
pub(super) struct Offer {
    object: ObjectReference,
    namespace: String,
    name: String,
    annotations: BTreeMap<String, String>,
    events: Vec<Event>,
}

/// What a delivery reports to the sender.
enum Report {
    Delivered {
        offer: Arc<OfferFacts>,
        event: Event,
        destination: String,
    },
    Failed {
        offer: Arc<OfferFacts>,
        trigger: &'static str,
        destination: String,
        shown_url: String,
        attempt: u32,
        why: String,
        retry_in: Duration,
    },
}

/// The rollout a delivery is for.
struct OfferFacts {
    object: ObjectReference,
    namespace: String,
    name: String,
}

/// Start the sender; it ends when every pass's sender is gone (or is aborted: what it had not
/// delivered is not in the ledger, so the next leader sends it).
pub(super) fn start(ctx: &Arc<Context>) -> (Notifier, tokio::task::JoinHandle<()>) {
    let (offers, rx) = unbounded_channel();
    let unwritten = Arc::new(Unwritten::default());
    let ctx = ctx.clone();
    let shared = unwritten.clone();
    let task = tokio::spawn(async move {
        match Deliverer::new() {
            Ok(deliverer) => Sender::new(ctx, deliverer, shared).run(rx).await,
            Err(e) => tracing::warn!(error = %e, "notifications are off"),
        }
    });
    (Notifier { offers, unwritten }, task)
}

struct Sender {
    ctx: Arc<Context>,
    deliverer: Deliverer,
    configs: HashMap<String, (Instant, Arc<NamespaceConfig>)>,
    /// (key, destination) in flight or delivered by this process.
    started: HashSet<(String, String)>,
    /// Keys owed to nobody more.
    settled: HashSet<String>,
    /// Destinations each key still waits for.
    owed: HashMap<String, BTreeSet<String>>,
    /// Problems already told, per rollout.
    told: HashSet<String>,
    jobs: tokio::task::JoinSet<()>,
    slots: Arc<tokio::sync::Semaphore>,
    unwritten: Arc<Unwritten>,
}

impl Sender {
    fn new(ctx: Arc<Context>, deliverer: Deliverer, unwritten: Arc<Unwritten>) -> Self {
        Self {
            unwritten,
            ctx,
            deliverer,
            configs: HashMap::new(),
            started: HashSet::new(),
            settled: HashSet::new(),
            owed: HashMap::new(),
            told: HashSet::new(),
            jobs: tokio::task::JoinSet::new(),
            slots: Arc::new(tokio::sync::Semaphore::new(AT_ONCE)),
        }
    }

    async fn run(mut self, mut offers: UnboundedReceiver<Offer>) {
        let (report, mut reports) = unbounded_channel::<Report>();
        loop {
            tokio::select! {
                o = offers.recv() => match o {
                    Some(o) => self.take(o, &report).await,
                    None => return,
                },
                Some(r) = reports.recv() => self.reported(r).await,
                Some(_) = self.jobs.join_next(), if !self.jobs.is_empty() => {}
            }
        }
    }

    async fn config(&mut self, namespace: &str) -> Result<Arc<NamespaceConfig>, String> {
        if let Some((at, c)) = self.configs.get(namespace)
            && at.elapsed() < CONFIG_FRESH_FOR
        {
            return Ok(c.clone());
        }
        let c = Arc::new(
            load(&self.ctx.cluster.client(), namespace)
                .await
                .map_err(|e| e.to_string())?,
        );
        self.configs
            .insert(namespace.to_string(), (Instant::now(), c.clone()));
        Ok(c)
    }

    /// Tell a problem once per rollout: a Warning Event on it, and the log.
    async fn tell(&mut self, o: &OfferFacts, reason: &str, message: &str) {
        if self.told.len() >= MAX_REMEMBERED {
            self.told.clear();
        }
        if !self
            .told
            .insert(format!("{}/{}\n{message}", o.namespace, o.name))
        {
            return;
        }
        crate::logging::warn_limited(
            &format!("notify {}/{}", o.namespace, o.name),
            &format!("{}/{}: {message}", o.namespace, o.name),
        );
        self.ctx
            .cluster
            .post_event(&o.namespace, &o.object, reason, message, true, &self.ctx.id)
            .await;
    }

    async fn take(&mut self, o: Offer, report: &UnboundedSender<Report>) {
        let facts = Arc::new(OfferFacts {
            object: o.object,
            namespace: o.namespace,
            name: o.name,
        });
        let fresh: Vec<Event> = o
            .events
            .into_iter()
            .filter(|e| !self.settled.contains(&e.key))
            .collect();
        if fresh.is_empty() {
            return;
        }
        let ns = match self.config(&facts.namespace).await {
            Ok(c) => c,
            Err(why) => {
                self.tell(&facts, "NotificationConfigUnreadable", &why)
                    .await;
                return;
            }
        };
        let (own, own_problems) =
            config::parse_annotations(&facts.namespace, &facts.name, &o.annotations, &ns.config);
        let problems: Vec<Problem> = ns.problems.iter().cloned().chain(own_problems).collect();
        for p in problems {
            self.tell(&facts, "NotificationConfigInvalid", &p.to_string())
                .await;
        }
        let ledger = self.ledger(&facts).await;
        for event in fresh {
            self.start_deliveries(&facts, &ns, &own, &ledger, &event, report);
        }
    }

    /// The rollout's ledger as the API server has it now (empty when it cannot be read: a
    /// delivery is then perhaps repeated, with its key).
    async fn ledger(&self, o: &OfferFacts) -> Vec<notify::Delivery> {
        let api: Api<ModelRollout> = Api::namespaced(self.ctx.cluster.client(), &o.namespace);
        match api.get_opt(&o.name).await {
            Ok(Some(mr)) => mr.status.map(|s| s.notifications).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn start_deliveries(
        &mut self,
        o: &Arc<OfferFacts>,
        ns: &NamespaceConfig,
        own: &Subscriptions,
        ledger: &[notify::Delivery],
        event: &Event,
        report: &UnboundedSender<Report>,
    ) {
        // The namespace's subscriptions cover what happened after its ConfigMap was created.
        let mut to = if ns.since.is_none_or(|since| event.time >= since) {
            config::destinations_for(&ns.config, own, event.trigger)
        } else {
            own.get(&event.trigger).cloned().unwrap_or_default()
        };
        to.retain(|d| !notify::delivered(ledger, &event.key, d));
        if to.is_empty() {
            self.settle(&event.key);
            return;
        }
        self.owed.insert(event.key.clone(), to.clone());
        for destination in to {
            // Destinations without a usable URL were told about; the event waits for a fix.
            let (Some(url), Some(kind)) = (
                ns.urls.get(&destination),
                ns.config.destinations.get(&destination).copied(),
            ) else {
                continue;
            };
            if !self
                .started
                .insert((event.key.clone(), destination.clone()))
            {
                continue;
            }
            self.jobs.spawn(deliver(
                self.deliverer.clone(),
                self.slots.clone(),
                Job {
                    offer: o.clone(),
                    event: event.clone(),
                    destination,
                    kind,
                    url: url.clone(),
                },
                report.clone(),
            ));
        }
    }

    fn settle(&mut self, key: &str) {
        if self.settled.len() >= MAX_REMEMBERED {
            self.settled.clear();
        }
        self.settled.insert(key.to_string());
        self.owed.remove(key);
    }

    async fn reported(&mut self, r: Report) {
        match r {
            Report::Delivered {
                offer,
                event,
                destination,
            } => {
                self.ctx
                    .telemetry
                    .notified(event.trigger.as_str(), &destination, true);
                let done = self.owed.get_mut(&event.key).is_none_or(|left| {
                    left.remove(&destination);
                    left.is_empty()
                });
                if done {
                    self.settle(&event.key);
                }
                self.record(&offer, &event, &destination, done).await;
            }
            Report::Failed {
                offer,
                trigger,
                destination,
                shown_url,
                attempt,
                why,
                retry_in,
            } => {
                self.ctx.telemetry.notified(trigger, &destination, false);
                let message = format!(
                    "notification {trigger} to {destination} ({shown_url}) failed: {why}; attempt {attempt}, next in {} s",
                    retry_in.as_secs()
                );
                crate::logging::warn_limited(&format!("notify {destination}"), &message);
                if attempt == 1 || attempt % EVENT_EVERY_ATTEMPTS == 0 {
                    self.ctx
                        .cluster
                        .post_event(
                            &offer.namespace,
                            &offer.object,
                            "NotificationFailed",
                            &message,
                            true,
                            &self.ctx.id,
                        )
                        .await;
                }
            }
        }
    }

    /// Add a delivery to the rollout's `status.notifications`: through its next pass while it is
    /// under way, else here (a merge patch of that field alone, on the ledger read fresh).
    async fn record(&self, o: &OfferFacts, event: &Event, destination: &str, done: bool) {
        let api: Api<ModelRollout> = Api::namespaced(self.ctx.cluster.client(), &o.namespace);
        for _ in 0..3 {
            let ledger = match api.get_opt(&o.name).await {
                Ok(Some(mr)) => {
                    let status = mr.status.unwrap_or_default();
                    if !status.phase.is_terminal() {
                        if let Ok(mut unwritten) = self.unwritten.lock() {
                            unwritten
                                .entry((o.namespace.clone(), o.name.clone()))
                                .or_default()
                                .push((event.clone(), destination.to_string(), done));
                        }
                        return;
                    }
                    status.notifications
                }
                Ok(None) => return,
                Err(e) => {
                    crate::logging::warn_limited(
                        "notify ledger",
                        &format!("reading {}/{}: {e}", o.namespace, o.name),
                    );
                    tokio::time::sleep(FIRST_BACKOFF).await;
                    continue;
                }
            };
            let ledger = notify::record_delivery(&ledger, event, Some(destination), done);
            let patch = serde_json::json!({"status": {"notifications": ledger}});
            match api
                .patch_status(
                    &o.name,
                    &PatchParams {
                        field_manager: Some(FIELD_MANAGER.into()),
                        ..PatchParams::default()
                    },
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => return,
                Err(kube::Error::Api(s)) if s.code == 404 => return,
                Err(e) => {
                    crate::logging::warn_limited(
                        "notify ledger",
                        &format!(
                            "recording the delivery of {} to {destination} on {}/{}: {e}",
                            event.key, o.namespace, o.name
                        ),
                    );
                    tokio::time::sleep(FIRST_BACKOFF).await;
                }
            }
        }
    }
}

struct Job {
    offer: Arc<OfferFacts>,
    event: Event,
    destination: String,
    kind: Kind,
    url: String,
}

/// Deliver one event to one destination until it is delivered or too old to matter.
async fn deliver(
    deliverer: Deliverer,
    slots: Arc<tokio::sync::Semaphore>,
    job: Job,
    report: UnboundedSender<Report>,
) {
    let body = payload::body(job.kind, &job.event);
    let mut wait = FIRST_BACKOFF;
    let oldest = chrono::Duration::hours(notify::MAX_AGE_HOURS);
    for attempt in 1.. {
        let result = {
            let Ok(_slot) = slots.acquire().await else {
                return;
            };
            deliverer.deliver(&job.url, &job.event.key, &body).await
        };
        match result {
            Ok(()) => {
                let _ = report.send(Report::Delivered {
                    offer: job.offer,
                    event: job.event,
                    destination: job.destination,
                });
                return;
            }
            Err(why) => {
                let _ = report.send(Report::Failed {
                    offer: job.offer.clone(),
                    trigger: job.event.trigger.as_str(),
                    destination: job.destination.clone(),
                    shown_url: config::redacted(&job.url),
                    attempt,
                    why,
                    retry_in: wait,
                });
            }
        }
        if Utc::now() - job.event.time > oldest {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}
