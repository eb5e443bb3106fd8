//! Fair reconcile slots: at most `concurrency` passes at once, started in the order they fell due.
//!
//! kube-runtime can bound concurrency itself, but while every slot is taken it parks the passes
//! that fall due in a hash set and later takes them in the set's iteration order, not in the
//! order they fell due. With more passes due than the slots can run (hundreds of rollouts each
//! requeued every few seconds), the passes early in that order are run again and again while the
//! others wait: in the 500-rollout benchmark a group of rollouts waited minutes for their first
//! pass. So the runtime here dispatches every due pass at once and each pass waits for a slot in
//! a first-in, first-out queue (tokio's semaphore is fair), then reads the latest version of its
//! object from the watch cache, since it may have waited a while.

use std::{future::Future, sync::Arc};

use futures::Stream;
use kube::{
    Resource,
    runtime::{
        Controller,
        controller::{self, Action},
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use tokio::sync::Semaphore;

/// The slots passes wait for, in the order they asked (tokio's semaphore is fair); a
/// concurrency of 0 is as many as a semaphore holds.
fn slots(concurrency: u16) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(match concurrency {
        0 => Semaphore::MAX_PERMITS,
        n => usize::from(n),
    }))
}

/// Run `reconcile` for every object `triggers` (changed objects), `more` (objects something
/// they depend on changed for) and its requeues call for, at most `concurrency`
/// at once (0: unbounded) and in the order the passes fell due; each pass gets the object as the
/// cache holds it when its slot comes (an object deleted meanwhile gets no pass). Ends once
/// `shutdown` fires and the passes already started have finished; passes still waiting for a
/// slot then are not started.
pub(super) fn run<K, Ctx, R, Fut, E>(
    (triggers, more): (
        impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
        impl Stream<Item = ObjectRef<K>> + Send + 'static,
    ),
    cache: Store<K>,
    concurrency: u16,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    reconcile: R,
    error_policy: impl Fn(Arc<K>, &E, Arc<Ctx>) -> Action,
    ctx: Arc<Ctx>,
) -> impl Stream<Item = Result<(ObjectRef<K>, Action), controller::Error<E, watcher::Error>>>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin,
    Ctx: Send + Sync + 'static,
    R: Fn(Arc<K>, Arc<Ctx>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
{
    let slots = slots(concurrency);
    let closing = slots.clone();
    let reconcile = Arc::new(reconcile);
    Controller::for_stream(triggers, cache.clone())
        .reconcile_on(more)
        // Every due pass is handed over at once; the slots bound how many run.
        .with_config(controller::Config::default().concurrency(0))
        .graceful_shutdown_on(async move {
            shutdown.await;
            closing.close();
        })
        .run(
            move |obj: Arc<K>, ctx: Arc<Ctx>| {
                let slots = slots.clone();
                let cache = cache.clone();
                let reconcile = reconcile.clone();
                async move {
                    // Closed by a stop: this pass is not started.
                    let Ok(_slot) = slots.acquire_owned().await else {
                        return Ok(Action::await_change());
                    };
                    match cache.get(&ObjectRef::from_obj(&obj)) {
                        Some(latest) => reconcile(latest, ctx).await,
                        None => Ok(Action::await_change()),
                    }
                }
            },
            error_policy,
            ctx,
        )
}

#[cfg(test)]
mod tests {
    use std::{
        collections::BTreeMap,
        sync::{Arc, Mutex},
        time::Duration,
    };

    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::{controller::Action, reflector, watcher};

    fn object(i: usize) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(format!("o{i:03}"));
        cm.metadata.namespace = Some("ns".into());
        cm
    }

    /// Passes per object name, after running `n` objects for `for_` (simulated time) with
    /// `concurrency` slots; each pass takes 10 ms and asks for the next 20 ms later, so the
    /// passes due are far more than the slots can run. `deleted` are gone from the cache after
    /// their trigger.
    async fn passes(
        n: usize,
        concurrency: u16,
        deleted: &[usize],
        for_: Duration,
    ) -> BTreeMap<String, usize> {
        let (cache, mut writer) = reflector::store::<ConfigMap>();
        writer.apply_watcher_event(&watcher::Event::Init);
        for i in (0..n).filter(|i| !deleted.contains(i)) {
            writer.apply_watcher_event(&watcher::Event::InitApply(object(i)));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let counted = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
        let triggers =
            futures::stream::iter((0..n).map(|i| Ok(object(i)))).chain(futures::stream::pending());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = super::run(
            (triggers, futures::stream::pending()),
            cache,
            concurrency,
            async move {
                let _ = stopped.await;
            },
            |obj: Arc<ConfigMap>, counted: Arc<Mutex<BTreeMap<String, usize>>>| async move {
                *counted
                    .lock()
                    .expect("counts")
                    .entry(obj.metadata.name.clone().unwrap_or_default())
                    .or_default() += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<_, std::io::Error>(Action::requeue(Duration::from_millis(20)))
            },
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            counted.clone(),
        )
        .for_each(|_| futures::future::ready(()));
        let driver = tokio::spawn(running);
        tokio::time::sleep(for_).await;
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .expect("the passes end after the stop")
            .expect("driver");
        counted.lock().expect("counts").clone()
    }

    /// 200 objects, 4 slots: 400 passes a second can run, 10,000 are asked for. In the order
    /// they fell due, every object has its first pass within 200 × 10 ms / 4 = 0.5 s and each
    /// gets an even share after that (kube-runtime's own bound took them in hash order: 20 of
    /// the 200 ever ran in 3 s, one of them 94 times).
    #[tokio::test(start_paused = true)]
    async fn oversubscribed_passes_run_in_the_order_they_fell_due() {
        let counted = passes(200, 4, &[], Duration::from_secs(3)).await;
        assert_eq!(
            counted.len(),
            200,
            "objects never passed; the most passed one had {:?} passes",
            counted.values().max()
        );
        let most = counted.values().max().copied().unwrap_or(0);
        let least = counted.values().min().copied().unwrap_or(0);
        // 3 s × 400 passes/s over 200 objects: about 6 each.
        assert!(least >= 4, "least {least}, most {most}: {counted:?}");
        assert!(most <= least + 2, "least {least}, most {most}: {counted:?}");
    }

    /// Unbounded (0) runs every due pass at once; an object gone from the cache by the time its
    /// slot comes gets no pass.
    #[tokio::test(start_paused = true)]
    async fn unbounded_and_deleted_objects() {
        let counted = passes(20, 0, &[3, 7], Duration::from_millis(95)).await;
        assert_eq!(counted.len(), 18);
        assert!(!counted.contains_key("o003") && !counted.contains_key("o007"));
        // A pass every 30 ms: at 0, 30, 60 and 90 ms.
        assert!(counted.values().all(|c| *c == 4), "{counted:?}");
    }

    /// A stop lets the passes that started finish and starts none of those still waiting.
    #[tokio::test(start_paused = true)]
    async fn a_stop_starts_no_waiting_pass() {
        let counted = passes(100, 1, &[], Duration::from_millis(55)).await;
        // One slot, 10 ms a pass: the passes at 0–50 ms and the one running at the stop.
        let total: usize = counted.values().sum();
        assert!((5..=7).contains(&total), "{total}: {counted:?}");
    }
}
