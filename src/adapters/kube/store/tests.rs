//! The store's logic without a cluster: events applied to a reflector store through the
//! projection, the cache figure, the health of a watch, the backoff, and which watches stop
//! (with a clock of our own).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod as K8sPod;
use kube::runtime::{
    reflector::{Store, store::Writer},
    watcher,
};
use mlops_core::model::{
    ClusterEvent, ClusterResource, EventKind, Pod, PodPhase, WatchHealth, WatchState,
};

use super::*;
use crate::adapters::kube::{
    map::map_pod,
    readmodel::{EVENTS_KEPT, trim_events},
};

fn pod(ns: &str, name: &str, phase: &str, labels: &serde_json::Value) -> K8sPod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": format!("img/{name}:1")}]},
        "status": {"phase": phase},
    }))
    .expect("a Pod")
}

#[allow(clippy::unnecessary_wraps)] // the shape `project` takes
fn map(p: &K8sPod) -> Option<Pod> {
    Some(map_pod(p, "kind-a"))
}

fn apply(writer: &mut Writer<Row<Pod>>, event: watcher::Event<K8sPod>) {
    if let Some(e) = project(event, &map) {
        writer.apply_watcher_event(&e);
    }
}

fn pods(store: &Store<Row<Pod>>) -> Vec<(String, PodPhase, Option<String>)> {
    let mut all: Vec<_> = store
        .state()
        .iter()
        .filter_map(|r| r.value.clone())
        .map(|p| (format!("{}/{}", p.namespace, p.name), p.phase, p.model))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[test]
fn events_keep_one_compact_row_per_object_through_changes_deletes_and_relists() {
    let mut writer = Writer::<Row<Pod>>::new(());
    let store = writer.as_reader();
    apply(&mut writer, watcher::Event::Init);
    apply(
        &mut writer,
        watcher::Event::InitApply(pod("a", "p1", "Pending", &serde_json::json!({}))),
    );
    apply(
        &mut writer,
        watcher::Event::InitApply(pod("b", "p2", "Running", &serde_json::json!({}))),
    );
    // Nothing is shown before the list is whole.
    assert!(store.is_empty());
    apply(&mut writer, watcher::Event::InitDone);
    assert_eq!(
        pods(&store),
        vec![
            ("a/p1".into(), PodPhase::Pending, None),
            ("b/p2".into(), PodPhase::Running, None)
        ]
    );
    // A change of phase and labels replaces the row; it does not add one.
    apply(
        &mut writer,
        watcher::Event::Apply(pod(
            "a",
            "p1",
            "Running",
            &serde_json::json!({"mlops.dev/model": "fraud"}),
        )),
    );
    assert_eq!(
        pods(&store)[0],
        ("a/p1".into(), PodPhase::Running, Some("fraud".into()))
    );
    assert_eq!(store.len(), 2);
    apply(
        &mut writer,
        watcher::Event::Delete(pod("b", "p2", "Running", &serde_json::json!({}))),
    );
    assert_eq!(store.len(), 1);
    // A re-list (after a failure): the old rows stay shown until the new list is whole, then
    // an object deleted meanwhile is gone (no ghost) and none is doubled.
    apply(
        &mut writer,
        watcher::Event::Apply(pod("c", "ghost", "Running", &serde_json::json!({}))),
    );
    apply(&mut writer, watcher::Event::Init);
    apply(
        &mut writer,
        watcher::Event::InitApply(pod("a", "p1", "Succeeded", &serde_json::json!({}))),
    );
    assert_eq!(store.len(), 2, "stale rows stay during the re-list");
    apply(&mut writer, watcher::Event::InitDone);
    assert_eq!(
        pods(&store),
        vec![("a/p1".into(), PodPhase::Succeeded, None)]
    );
}

#[test]
fn an_object_whose_projection_is_none_leaves_the_store() {
    let only_models = |p: &K8sPod| {
        map_pod(p, "kind-a")
            .model
            .is_some()
            .then(|| map_pod(p, "x"))
    };
    let mut writer = Writer::<Row<Pod>>::new(());
    let store = writer.as_reader();
    let labelled = pod(
        "a",
        "p",
        "Running",
        &serde_json::json!({"mlops.dev/model": "m"}),
    );
    let bare = pod("a", "p", "Running", &serde_json::json!({}));
    assert!(project(watcher::Event::InitApply(bare.clone()), &only_models).is_none());
    writer.apply_watcher_event(
        &project(watcher::Event::Apply(labelled), &only_models).expect("an event"),
    );
    assert_eq!(store.len(), 1);
    let e = project(watcher::Event::Apply(bare), &only_models).expect("an event");
    assert!(matches!(e, watcher::Event::Delete(_)), "{e:?}");
    writer.apply_watcher_event(&e);
    assert!(store.is_empty());
}

#[test]
fn the_byte_estimate_follows_what_the_rows_hold() {
    let small = Row {
        namespace: Some("a".into()),
        name: "p".into(),
        value: map(&pod("a", "p", "Running", &serde_json::json!({}))),
    };
    let long_name = "p".repeat(200);
    let big = Row {
        namespace: Some("a".into()),
        name: long_name.clone(),
        value: map(&pod("a", &long_name, "Running", &serde_json::json!({}))),
    };
    assert!(small.bytes() >= std::mem::size_of::<Row<Pod>>());
    // The name is held in the key and in the projection (and the image holds it too).
    assert!(
        big.bytes() >= small.bytes() + 3 * 199,
        "{} vs {}",
        big.bytes(),
        small.bytes()
    );
    // A compact pod row is a few hundred bytes, not the ~37 KiB of a cached typed Pod.
    assert!(small.bytes() < 1024, "{}", small.bytes());
}

#[test]
fn the_cache_figure_reads_as_the_issue_writes_it() {
    let w = WatchHealth {
        cluster: "kind-a".into(),
        resource: ClusterResource::Pods,
        state: WatchState::Live,
        scope: "all namespaces".into(),
        rows: 8412,
        bytes: 1_992_294,
    };
    assert_eq!(w.figure(), "8,412 pods · 1.9 MiB");
    assert!(!w.is_stale());
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("a time")
}

#[test]
fn a_watch_is_syncing_then_live_then_reconnecting_since_its_first_failure() {
    let mut h = Health::new("all namespaces".into());
    assert_eq!(h.state, WatchState::Syncing);
    assert!(!h.settled());
    h.on_event::<Pod>(&watcher::Event::InitDone);
    assert_eq!(h.state, WatchState::Live);
    assert!(h.settled());
    h.on_error(Failure::Other, "connection refused".into(), now());
    h.on_error(
        Failure::Other,
        "still refused".into(),
        now() + chrono::Duration::seconds(5),
    );
    assert_eq!(
        h.state,
        WatchState::Reconnecting {
            since: now(),
            error: "still refused".into()
        }
    );
    // A change alone does not say the watch is back: the re-list does.
    h.on_event(&watcher::Event::Apply(Row::<Pod> {
        namespace: None,
        name: "x".into(),
        value: None,
    }));
    assert!(matches!(h.state, WatchState::Reconnecting { .. }));
    h.on_event::<Pod>(&watcher::Event::InitDone);
    assert_eq!(h.state, WatchState::Live);
    h.on_error(Failure::Forbidden, "HTTP 403".into(), now());
    assert_eq!(
        h.state,
        WatchState::Forbidden {
            error: "HTTP 403".into()
        }
    );
}

#[test]
fn a_watch_that_never_listed_is_settled_once_it_fails() {
    let mut h = Health::new("cluster".into());
    h.on_error(Failure::Absent, "HTTP 404".into(), now());
    assert!(h.settled() && !h.synced);
    assert!(matches!(h.state, WatchState::Absent { .. }));
}

#[test]
fn the_wait_after_failures_doubles_up_to_thirty_seconds() {
    let mut waits = Vec::new();
    let mut last = None;
    for _ in 0..8 {
        let w = next_backoff(last);
        waits.push(w.as_millis());
        last = Some(w);
    }
    assert_eq!(
        waits,
        vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    );
}

#[test]
fn a_resource_off_screen_stops_after_the_expiry_and_the_overviews_never_do() {
    let t0 = Instant::now();
    let mut d = Demand::new(Duration::from_secs(180));
    // Before the screen says anything, everything is wanted (a snapshot reads it all).
    assert!(ClusterResource::ALL.iter().all(|r| d.wanted(*r)));
    d.want(&[ClusterResource::Triggers], t0);
    assert!(d.expired(t0 + Duration::from_secs(3600)).is_empty());
    // The screen leaves the Triggers view.
    let left = t0 + Duration::from_secs(10);
    d.want(&[], left);
    assert!(!d.wanted(ClusterResource::Triggers));
    assert!(d.wanted(ClusterResource::Pods), "the Overview's");
    assert!(d.expired(left + Duration::from_secs(179)).is_empty());
    assert_eq!(
        d.expired(left + Duration::from_secs(180)),
        vec![ClusterResource::Triggers]
    );
    // Back before the expiry: nothing stops.
    d.want(
        &[ClusterResource::Triggers],
        left + Duration::from_secs(100),
    );
    assert!(d.expired(left + Duration::from_secs(1000)).is_empty());
    // Away again, stopped, then nothing more to stop until it is wanted and left again.
    let away = left + Duration::from_secs(200);
    d.want(&[ClusterResource::Pods], away);
    let later = away + Duration::from_secs(180);
    assert_eq!(d.expired(later), vec![ClusterResource::Triggers]);
    d.stopped(ClusterResource::Triggers);
    assert!(d.expired(later + Duration::from_secs(3600)).is_empty());
    d.want(&[ClusterResource::Triggers], later);
    assert!(d.wanted(ClusterResource::Triggers));
}

fn event(name: &str, secs: i64) -> Row<ClusterEvent> {
    Row {
        namespace: Some("a".into()),
        name: name.into(),
        value: Some(ClusterEvent {
            time: now() + chrono::Duration::seconds(secs),
            cluster: "kind-a".into(),
            namespace: "a".into(),
            object: "Pod/p".into(),
            reason: "Started".into(),
            message: String::new(),
            kind: EventKind::Normal,
        }),
    }
}

#[test]
fn the_events_store_is_cut_back_to_the_newest() {
    let mut writer = Writer::<Row<ClusterEvent>>::new(());
    let store = writer.as_reader();
    let total = EVENTS_KEPT * 2 + 1;
    for i in 0..total {
        let secs = i64::try_from(i).expect("small");
        writer.apply_watcher_event(&watcher::Event::Apply(event(&format!("e{i}"), secs)));
        trim_events(&mut writer, &store);
    }
    assert!(store.len() <= EVENTS_KEPT * 2, "{}", store.len());
    let oldest = store
        .state()
        .iter()
        .filter_map(|r| r.value.as_ref().map(|e| e.time))
        .min()
        .expect("events");
    let newest = now() + chrono::Duration::seconds(i64::try_from(total - 1).expect("small"));
    assert!(
        oldest > now(),
        "the oldest were dropped: {oldest} (newest {newest})"
    );
    assert!(
        store
            .state()
            .iter()
            .any(|r| r.name == format!("e{}", total - 1))
    );
}
