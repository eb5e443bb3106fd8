//! Unit tests of the merge: members are in-memory ports (the live test runs real API servers).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use mlops_core::{
    CoreError, ErrorKind,
    model::{Cluster, ClusterChange, ClusterHealth, ClusterSnapshot, Driver, Pod, PodPhase, Track},
    ports::{ChangeStream, ClusterPort},
    rollout::{Command, RolloutRecord, RolloutSpec, RolloutStatus, Verb},
    triggers::TriggersRead,
};

use super::{FIRST_SNAPSHOTS_AT_ONCE, Member, MultiCluster, split_contexts};

/// A member whose next answer the test sets; it records the commands it gets and how many
/// snapshots ran at once.
struct Fake {
    name: String,
    answer: Mutex<Result<ClusterSnapshot, CoreError>>,
    commands: Mutex<Vec<(String, String, String)>>,
    changes: Mutex<Option<Vec<ClusterChange>>>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Fake {
    fn new(name: &str, pods: &[&str]) -> Arc<Self> {
        Self::counting(name, pods, Arc::default(), Arc::default())
    }

    fn counting(
        name: &str,
        pods: &[&str],
        running: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            answer: Mutex::new(Ok(snapshot(name, pods))),
            commands: Mutex::default(),
            changes: Mutex::default(),
            running,
            most,
        })
    }

    fn fail(&self, e: CoreError) {
        *self.answer.lock().expect("the lock") = Err(e);
    }

    fn answer(&self, pods: &[&str]) {
        *self.answer.lock().expect("the lock") = Ok(snapshot(&self.name, pods));
    }
}

#[async_trait]
impl ClusterPort for Fake {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn watch(&self) -> Option<ChangeStream> {
        let changes = self.changes.lock().expect("the lock").take()?;
        Some(Box::pin(futures::stream::iter(changes)))
    }

    async fn snapshot(&self) -> Result<ClusterSnapshot, CoreError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.answer.lock().expect("the lock").clone()
    }

    async fn rollout_command(
        &self,
        cluster: &str,
        namespace: &str,
        name: &str,
        _command: Command,
    ) -> Result<RolloutRecord, CoreError> {
        self.commands.lock().expect("in the test").push((
            cluster.into(),
            namespace.into(),
            name.into(),
        ));
        Ok(rollout(&self.name, name))
    }
}

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0)
        .single()
        .expect("a valid time")
}

fn pod(cluster: &str, name: &str) -> Pod {
    Pod {
        name: name.into(),
        namespace: "serving".into(),
        cluster: cluster.into(),
        node: None,
        phase: PodPhase::Running,
        model: None,
        version: None,
        track: Track::Stable,
        gpus: 0,
        image: String::new(),
    }
}

fn rollout(cluster: &str, name: &str) -> RolloutRecord {
    RolloutRecord {
        name: name.into(),
        namespace: "serving".into(),
        cluster: cluster.into(),
        created: at(0),
        spec: RolloutSpec::test(),
        status: RolloutStatus::default(),
        policy: None,
    }
}

fn snapshot(cluster: &str, pods: &[&str]) -> ClusterSnapshot {
    ClusterSnapshot {
        clusters: vec![Cluster {
            name: cluster.into(),
            region: format!("{cluster}-region"),
            health: ClusterHealth::Ok,
        }],
        nodes: Vec::new(),
        pods: pods.iter().map(|p| pod(cluster, p)).collect(),
        deployments: Vec::new(),
        rollouts: vec![rollout(cluster, "fraud-v7")],
        events: Vec::new(),
        watches: Vec::new(),
        driver: Driver::Controller {
            holder: format!("controller-{cluster}"),
        },
        identity: "dana".into(),
        denied: [(
            "serving".to_string(),
            [("approve".to_string(), format!("not in {cluster}"))].into(),
        )]
        .into(),
        triggers: TriggersRead::default(),
    }
}

fn set(fakes: &[Arc<Fake>]) -> MultiCluster {
    MultiCluster::with_clock(
        fakes
            .iter()
            .map(|f| Member {
                name: f.name.clone(),
                port: f.clone(),
            })
            .collect(),
        Arc::new(|| at(60)),
    )
}

fn down() -> CoreError {
    CoreError::of_kind(
        ErrorKind::Unavailable,
        "kubernetes",
        "listing pods: tcp connect error: Connection refused",
    )
}

fn names(s: &ClusterSnapshot) -> Vec<String> {
    s.pods
        .iter()
        .map(|p| format!("{}/{}", p.cluster, p.name))
        .collect()
}

#[tokio::test]
async fn rows_of_every_member_come_in_the_order_the_contexts_were_named() {
    let (a, b) = (
        Fake::new("b-east", &["p1", "p2"]),
        Fake::new("a-west", &["q1"]),
    );
    let multi = set(&[a, b]);
    let s = multi.snapshot().await.expect("in the test");
    assert_eq!(names(&s), ["b-east/p1", "b-east/p2", "a-west/q1"]);
    let clusters: Vec<_> = s.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(clusters, ["b-east", "a-west"]);
    assert!(s.clusters.iter().all(|c| c.health == ClusterHealth::Ok));
    assert_eq!(s.rollouts.len(), 2);
    // The same user on both: said once. Namespaces are keyed by cluster.
    assert_eq!(s.identity, "dana");
    assert_eq!(
        s.denied["a-west/serving"]["approve"], "not in a-west",
        "{:?}",
        s.denied
    );
    assert_eq!(multi.describe(), "b-east,a-west");
}

#[tokio::test]
async fn a_member_that_goes_down_keeps_its_last_rows_marked_with_the_reason() {
    let (a, b) = (Fake::new("a", &["p1"]), Fake::new("b", &["q1"]));
    let multi = set(&[a.clone(), b.clone()]);
    multi.snapshot().await.expect("in the test");
    b.fail(down());
    a.answer(&["p1", "p2"]);
    let s = multi.snapshot().await.expect("in the test");
    // a is live (its new pod shows), b's last rows stay.
    assert_eq!(names(&s), ["a/p1", "a/p2", "b/q1"]);
    assert!(!s.is_stale("a"));
    assert!(s.is_stale("b"));
    let ClusterHealth::Down { reason, since } = &s.clusters[1].health else {
        panic!("b should be down: {:?}", s.clusters[1].health);
    };
    assert!(reason.contains("Connection refused"), "{reason}");
    assert_eq!(*since, at(60));
    // Its region is still known from its last answer.
    assert_eq!(s.clusters[1].region, "b-region");
    // Back again: live.
    b.answer(&["q1", "q2"]);
    let s = multi.snapshot().await.expect("in the test");
    assert!(!s.is_stale("b"));
    assert_eq!(names(&s), ["a/p1", "a/p2", "b/q1", "b/q2"]);
}

#[tokio::test]
async fn a_member_that_refuses_us_is_forbidden_and_one_never_seen_has_no_rows() {
    let (a, b) = (Fake::new("a", &["p1"]), Fake::new("b", &["q1"]));
    b.fail(CoreError::of_kind(
        ErrorKind::Denied,
        "kubernetes",
        "listing pods: HTTP 403 Forbidden: pods is forbidden",
    ));
    let s = set(&[a, b]).snapshot().await.expect("in the test");
    assert_eq!(names(&s), ["a/p1"]);
    assert_eq!(s.clusters[1].name, "b");
    assert_eq!(s.clusters[1].health.word(), "forbidden");
    assert!(
        s.clusters[1]
            .health
            .reason()
            .expect("in the test")
            .contains("403")
    );
}

#[tokio::test]
async fn when_no_member_ever_answered_the_snapshot_fails_naming_each() {
    let (a, b) = (Fake::new("a", &[]), Fake::new("b", &[]));
    a.fail(down());
    b.fail(down());
    let e = set(&[a, b]).snapshot().await.expect_err("an error");
    let text = e.to_string();
    assert!(text.contains("a: ") && text.contains("b: "), "{text}");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn the_first_snapshots_are_admitted_a_few_at_a_time() {
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let fakes: Vec<_> = (0..8)
        .map(|i| Fake::counting(&format!("c{i}"), &["p"], running.clone(), most.clone()))
        .collect();
    let s = set(&fakes).snapshot().await.expect("in the test");
    assert_eq!(s.pods.len(), 8);
    assert!(
        most.load(Ordering::SeqCst) <= FIRST_SNAPSHOTS_AT_ONCE,
        "{} at once",
        most.load(Ordering::SeqCst)
    );
    assert!(
        most.load(Ordering::SeqCst) > 1,
        "they should run in parallel"
    );
}

#[tokio::test]
async fn commands_go_to_the_member_the_record_names() {
    let (a, b) = (Fake::new("a", &[]), Fake::new("b", &[]));
    let multi = set(&[a.clone(), b.clone()]);
    let cmd = || Command::new(Verb::Approve, "dana", "");
    let r = multi
        .rollout_command("b", "serving", "fraud-v7", cmd())
        .await
        .expect("in the test");
    assert_eq!(r.cluster, "b");
    assert!(a.commands.lock().expect("the lock").is_empty());
    assert_eq!(
        b.commands.lock().expect("the lock").as_slice(),
        [(
            "b".to_string(),
            "serving".to_string(),
            "fraud-v7".to_string()
        )]
    );
    let e = multi
        .rollout_command("c", "serving", "fraud-v7", cmd())
        .await
        .expect_err("an error");
    assert!(e.to_string().contains("a,b"), "{e}");
}

#[tokio::test]
async fn a_members_watch_restart_replaces_only_its_own_rollouts() {
    let (a, b) = (Fake::new("a", &[]), Fake::new("b", &[]));
    *b.changes.lock().expect("the lock") = Some(vec![
        ClusterChange::Rollouts(vec![rollout("b", "x"), rollout("b", "y")]),
        ClusterChange::Rollout(Box::new(rollout("b", "z"))),
        ClusterChange::Driver(Driver::Nobody),
    ]);
    let multi = set(&[a, b]);
    multi.snapshot().await.expect("in the test");
    let changes: Vec<ClusterChange> = multi.watch().expect("in the test").collect().await;
    let ClusterChange::Rollouts(all) = &changes[0] else {
        panic!("{changes:?}");
    };
    let keys: Vec<_> = all
        .iter()
        .map(|r| format!("{}/{}", r.cluster, r.name))
        .collect();
    assert_eq!(keys, ["a/fraud-v7", "b/x", "b/y"]);
    assert!(matches!(&changes[1], ClusterChange::Rollout(r) if r.name == "z"));
    // b's driver changed, but the merged driver is a's (the first live cluster's).
    assert_eq!(
        changes[2],
        ClusterChange::Driver(Driver::Controller {
            holder: "controller-a".into()
        })
    );
    // The next snapshot of a down b keeps what its watch said.
    let s = multi.merged().expect("in the test");
    assert_eq!(s.rollouts.len(), 4);
}

#[test]
fn context_lists_split_on_commas() {
    assert_eq!(split_contexts("a, b,,a ,c"), ["a", "b", "c"]);
    assert_eq!(split_contexts("prod"), ["prod"]);
    assert!(split_contexts(" , ").is_empty());
}

#[tokio::test]
async fn narrowed_to_one_member_only_it_is_asked_and_shown() {
    let (a, b) = (Fake::new("a", &["p1"]), Fake::new("b", &["q1"]));
    let multi = set(&[a.clone(), b.clone()]);
    multi.snapshot().await.expect("in the test");
    let only_b = multi.narrowed(Some("b")).expect("in the test");
    a.fail(down());
    let s = only_b.snapshot().await.expect("in the test");
    assert_eq!(names(&s), ["b/q1"]);
    assert_eq!(s.clusters.len(), 1);
    assert!(
        only_b.describe().starts_with("b (1 of 2"),
        "{}",
        only_b.describe()
    );
    // a was not asked while narrowed: still live from its last answer.
    let all = only_b.narrowed(None).expect("in the test");
    assert!(!all.merged().expect("in the test").is_stale("a"));
    assert!(multi.narrowed(Some("c")).is_err());
}
