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

#[test]
fn a_live_canary_is_compared_with_its_stable_over_the_same_window() {
    let p = DemoPlatform::manual(7, start());
    p.advance(15);
    let rows = p.drift_now();
    let canary: Vec<_> = rows.iter().filter(|d| d.is_canary_vs_stable()).collect();
    // fraud-detector v7's canary reads merchant_risk from a new feature store; its other
    // inputs are the stable's.
    let risk = canary
        .iter()
        .find(|d| d.model == "fraud-detector" && d.feature == "merchant_risk")
        .expect("fraud-detector's canary row");
    assert_eq!((risk.version, risk.reference.as_str()), (7, "stable v6"));
    assert_eq!(risk.report.status, crate::drift::DriftStatus::Drifted);
    for d in canary.iter().filter(|d| d.feature != "merchant_risk") {
        assert!(
            d.report.status != crate::drift::DriftStatus::Drifted && d.report.psi < 0.1,
            "{d:?}"
        );
    }
    assert!(
        canary
            .iter()
            .any(|d| d.model == "churn-model" && d.version == 4),
        "every live canary of a monitored model: {canary:?}"
    );
    // Once the canary is gone (fraud-detector's rolls back), so is its comparison.
    p.advance(120);
    assert_eq!(phase_of(&p, "fraud-detector"), Phase::RolledBack);
    let rows = p.drift_now();
    assert!(
        !rows
            .iter()
            .any(|d| d.is_canary_vs_stable() && d.model == "fraud-detector"),
        "{rows:?}"
    );
}

/// Issue 9's L13: near the threshold one window's verdict flips by chance, and an alert that
/// followed each window flapped with it. Alerts fire after three windows in a row at their level
/// and resolve after three in a row below it, so they change far less often than the windows.
#[test]
fn an_alert_holds_for_windows_in_a_row_so_it_does_not_flap_with_each_window() {
    let p = DemoPlatform::manual(7, start());
    let drifted = |alert: bool| {
        p.drift_now()
            .into_iter()
            .filter(|d| !d.is_canary_vs_stable())
            .filter(|d| {
                let status = if alert { d.alert(3) } else { d.report.status };
                status == crate::drift::DriftStatus::Drifted
            })
            .map(|d| format!("{} {}", d.model, d.feature))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (mut windows, mut alerts) = (drifted(false), drifted(true));
    let (mut window_flips, mut alert_flips) = (0, 0);
    for _ in 0..120 {
        p.advance(15);
        let (w, a) = (drifted(false), drifted(true));
        window_flips += usize::from(w != windows);
        alert_flips += usize::from(a != alerts);
        (windows, alerts) = (w, a);
    }
    assert!(
        alerts.contains("churn-model monthly_charges"),
        "the feature drifting for real alerts: {alerts:?}"
    );
    assert!(
        alert_flips * 3 <= window_flips,
        "alerts changed {alert_flips} times, windows {window_flips}"
    );
}

/// The release manager's key screen has something to show: churn-model v4 is started under the
/// release policy with every gate passed on the registry's facts, credit-scorer v9 with its
/// validation still pending (that gate fails), the rest under none.
#[test]
fn two_rollouts_start_under_the_release_policy_one_with_a_failing_gate() {
    for seed in [7, 11, 42] {
        let p = DemoPlatform::manual(seed, start());
        let rollouts = p.with_sim(Sim::rollouts);
        let policy_of = |model: &str| {
            rollouts
                .iter()
                .find(|r| r.spec.model.name == model)
                .and_then(|r| r.policy.clone())
        };
        let churn = policy_of("churn-model").expect("churn-model v4 has a policy");
        let gates: Vec<&str> = churn.start.checks.iter().map(|c| c.gate.as_str()).collect();
        assert_eq!(
            gates,
            ["validation", "evaluation metric", "data residency"],
            "seed {seed}"
        );
        let validation = &churn.start.checks[0];
        assert!(validation.ok, "seed {seed}: {validation:?}");
        assert!(churn.start.checks[2].ok, "IE data in eu-prod: {churn:?}");
        let fraud = policy_of("credit-scorer").expect("credit-scorer v9 has a policy");
        let failed: Vec<&str> = fraud
            .start
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.gate.as_str())
            .collect();
        assert!(failed.contains(&"validation"), "seed {seed}: {fraud:?}");
        assert!(!fraud.start.allowed);
        assert!(
            fraud.start.checks[0].evidence.contains("pending"),
            "{:?}",
            fraud.start.checks[0]
        );
        assert!(policy_of("recsys-ranker").is_none() && policy_of("fraud-detector").is_none());
    }
}

/// Issue 25: image-tagger's canary, started with `--max-burn 14.4`, burns its error budget
/// while its stable does not, and the core's state machine rolls it back, naming the check; the
/// status says how much of the month's budget the canary spent.
#[test]
fn a_canary_burning_its_error_budget_is_rolled_back_by_the_slo_burn_check() {
    let p = DemoPlatform::manual(7, start());
    let r = p
        .with_sim(|s| {
            s.rollouts()
                .into_iter()
                .find(|r| r.spec.model.name == "image-tagger")
        })
        .expect("the slo-burn rollout");
    assert_eq!(r.status.phase, Phase::RolledBack);
    let check = r
        .spec
        .analysis
        .metrics
        .iter()
        .find(|m| m.kind == crate::analysis::MetricKind::SloBurn)
        .expect("an slo_burn check");
    assert_eq!(check.max, Some(14.4));
    let back = r
        .status
        .history
        .iter()
        .find(|h| h.to == Phase::RollingBack)
        .expect("rolled back");
    assert!(back.reason.contains("slo-burn"), "{}", back.reason);
    let burn = r
        .status
        .measurements
        .iter()
        .rfind(|m| m.metric == "slo-burn")
        .expect("measured");
    assert_eq!(
        burn.verdict,
        crate::analysis::Verdict::Fail,
        "{}",
        burn.reason
    );
    assert!(burn.reason.starts_with("canary burns "), "{}", burn.reason);
    let spent = r.status.canary_budget_spent.expect("budget spent");
    assert!(
        spent.fraction > 0.0 && spent.counted_seconds > 0,
        "{spent:?}"
    );
    // Half a minute of a canary on a sixth of the traffic: a small share of a month's budget.
    let words = spent.words(r.spec.model.version);
    assert_eq!(
        words,
        format!(
            "v{} canary: {} of the budget",
            r.spec.model.version,
            spent.percent()
        )
    );
    assert!(
        spent.fraction < 0.001 && spent.percent() != "0 %",
        "{words}"
    );
    // The event a console shows names the check too.
    let event = p.with_sim(|s| {
        s.events
            .iter()
            .any(|e| e.object.contains("image-tagger") && e.message.contains("slo-burn"))
    });
    assert!(event, "an event names the slo-burn check");
}

#[test]
fn the_demo_triggers_are_kept_by_the_cores_decisions() {
    let p = DemoPlatform::manual(7, start());
    let snap = sim::run_now(ClusterPort::snapshot(&p))
        .expect("ready")
        .expect("snapshot");
    let all = snap.triggers.listed();
    assert_eq!(all.len(), 3, "{all:?}");
    let by = |name: &str| all.iter().find(|t| t.name == name).expect(name);
    // The script moved `staging`: the poll fired and the rollout it named exists.
    let eta = by("eta-predictor-staging");
    let started = eta
        .status
        .started_rollout
        .clone()
        .unwrap_or_else(|| panic!("started: {eta:?}"));
    let newest = p.with_sim(|s| {
        s.model("eta-predictor")
            .map(|m| m.versions.iter().map(|v| v.version).max())
    });
    let newest = newest.expect("model").expect("versions");
    assert_eq!(
        started,
        crate::triggers::rollout_name("eta-predictor-staging", newest)
    );
    assert!(snap.rollouts.iter().any(|r| r.name == started), "{started}");
    let last = eta.status.last_event.as_ref().expect("last event");
    assert_eq!(
        (last.verdict.as_str(), last.delivery_id.as_str()),
        ("verified", "poll")
    );
    assert_eq!(eta.status.not_ready(), None);
    // The forged delivery was refused by the signature check.
    let tagger = by("image-tagger-created");
    let last = tagger.status.last_event.as_ref().expect("rejected event");
    assert_eq!(last.verdict, "rejected");
    assert!(last.reason.contains("signature"), "{}", last.reason);
    assert_eq!(tagger.status.started_rollout, None);
    // Two conditions in `when`: not ready, as `When::condition` says.
    let bad = by("demand-forecast-validated");
    let (reason, message) = bad.status.not_ready().expect("not ready");
    assert_eq!(reason, "InvalidWhen");
    assert!(message.contains("more than one"), "{message}");
}
