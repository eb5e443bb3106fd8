use chrono::{Datelike, TimeZone};

use super::*;
use crate::{audit::AuditLog, model::PodPhase, rollout::Phase};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0)
        .single()
        .expect("valid")
}

fn phase_of(p: &DemoPlatform, model: &str) -> Phase {
    p.with_sim(|s| {
        s.rollouts()
            .into_iter()
            .find(|r| r.spec.model.name == model)
            .map(|r| r.status.phase)
    })
    .expect("rollout exists")
}

#[test]
fn catalogue_has_the_promised_scale() {
    let p = DemoPlatform::manual(7, start());
    p.with_sim(|s| {
        assert_eq!(s.clusters.len(), 3);
        assert!(s.clusters.iter().any(|c| c.region == "me-central-1"));
        assert!(
            s.nodes
                .iter()
                .filter(|n| n.gpu_capacity > 0)
                .all(|n| n.gpu_capacity == 8)
        );
        assert_eq!(s.models.len(), 40);
        assert_eq!(s.runs.len(), 2000);
        assert_eq!(s.experiments.len(), 12);
        assert!(s.models.iter().all(|m| m.aliases.contains_key("champion")));
        assert!(
            s.models
                .iter()
                .any(|m| m.aliases.contains_key("challenger"))
        );
        assert!(
            s.runs
                .iter()
                .all(|r| !r.datasets.is_empty() && r.datasets.iter().all(|d| d.digest.len() == 8))
        );
        assert!(
            s.gpus().iter().any(crate::model::Gpu::is_allocated_idle),
            "some GPUs are allocated but idle"
        );
        assert!(s.pods.iter().all(|p| p.phase == PodPhase::Running
            || p.node.is_some()
            || p.phase == PodPhase::Pending));
        AuditLog::verify(s.audit.entries()).expect("the demo's audit chain verifies");
    });
}

#[test]
fn scenarios_are_where_the_demo_promises_at_start() {
    let p = DemoPlatform::manual(7, start());
    assert_eq!(phase_of(&p, "search-embedder"), Phase::Promoted);
    assert_eq!(phase_of(&p, "credit-scorer"), Phase::RolledBack);
    assert_eq!(phase_of(&p, "churn-model"), Phase::AwaitingApproval);
    assert_eq!(phase_of(&p, "pricing-model"), Phase::Failed);
    assert_eq!(phase_of(&p, "recsys-ranker"), Phase::Progressing);
    assert_eq!(phase_of(&p, "fraud-detector"), Phase::Progressing);
    // The promoted version is now champion in the registry.
    let champion = p.with_sim(|s| {
        s.models
            .iter()
            .find(|m| m.name == "search-embedder")
            .and_then(|m| m.aliases.get("champion").copied())
    });
    assert_eq!(champion, Some(3));
}

#[test]
fn failing_canary_rolls_back_and_healthy_one_promotes() {
    let p = DemoPlatform::manual(7, start());
    p.advance(120);
    assert_eq!(phase_of(&p, "fraud-detector"), Phase::RolledBack);
    let canary_pods = p.with_sim(|s| {
        s.pods
            .iter()
            .filter(|x| {
                x.model.as_deref() == Some("fraud-detector")
                    && x.track == crate::model::Track::Canary
            })
            .count()
    });
    assert_eq!(canary_pods, 0, "canary scaled to zero");
    p.advance(15 * 60);
    assert_eq!(phase_of(&p, "recsys-ranker"), Phase::Promoted);
}

#[test]
fn a_huge_speed_never_overflows_the_clock() {
    // `mlops demo --speed 1e15` panicked before the first frame ("DateTime + TimeDelta
    // overflowed"); 1e12 panicked after 8 s.
    for speed in [1e15, 1e308, f64::INFINITY, f64::NAN, -1.0] {
        let p = DemoPlatform::new(7, start(), speed);
        assert!(p.now() >= start(), "speed {speed}");
    }
    let far = simulated_now(start(), 8.3, 1e12);
    assert!(far > start() && far.year() < 2200, "{far}");
    assert_eq!(simulated_now(start(), f64::MAX, f64::MAX), far);
    assert_eq!(simulated_now(start(), 1.0, f64::NAN), start());
    assert_eq!(
        simulated_now(start(), 2.0, 3.0),
        start() + Duration::seconds(6)
    );
}

#[test]
fn the_same_seed_gives_the_same_platform_whenever_it_starts() {
    // M7: the history depended on the wall-clock start: credit-scorer-v9 failed its analysis in
    // some starts and was aborted in others.
    let at = |minutes: i64| {
        start()
            + chrono::Duration::minutes(minutes)
            + chrono::Duration::milliseconds(minutes * 7919)
    };
    let worlds: Vec<_> = [0, 37, 613, 1441]
        .into_iter()
        .map(|m| {
            let t0 = at(m);
            let p = DemoPlatform::manual(7, t0);
            p.with_sim(|s| {
                let rollouts: Vec<_> = s
                    .rollouts()
                    .into_iter()
                    .map(|r| {
                        let reasons: Vec<String> =
                            r.status.history.iter().map(|h| h.reason.clone()).collect();
                        (r.name, r.status.phase, r.status.weight, reasons)
                    })
                    .collect();
                // Events as (age relative to the start, reason, message).
                let events: Vec<_> = s
                    .events
                    .iter()
                    .map(|e| {
                        (
                            (t0 - e.time).num_seconds(),
                            e.reason.clone(),
                            e.message.clone(),
                        )
                    })
                    .collect();
                (rollouts, events)
            })
        })
        .collect();
    for w in &worlds[1..] {
        assert_eq!(w, &worlds[0]);
    }
    assert!(
        worlds[0]
            .0
            .iter()
            .any(|(name, phase, _, _)| name == "credit-scorer-v9" && *phase == Phase::RolledBack)
    );
}
