//! Policy gates: what must be true of a model version before it rolls out to a cluster and again
//! before it is promoted. The core decides from facts the adapters gathered (the version's tags,
//! its run's evaluation metric, the champion's, the cluster's node regions); `policy.toml` says
//! which gates apply where (`config::policy`). Each gate is a check with the evidence it was
//! decided on, shown as a checklist by `mlops policy check`. The two-person rule is not a gate
//! here: the cluster's admission policy enforces it on every approval (`adapters::kube::rbac`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The gates for one cluster and namespace (the file's sections merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// `KEY=VALUE` the version must carry as a tag (e.g. `validation_status=approved`).
    pub validation_tag: Option<(String, String)>,
    /// The evaluation metric, compared with the champion's.
    pub metric: Option<MetricRule>,
    /// The version tag naming the countries its training data must stay in
    /// (`data.residency=AE` or `AE,SA`).
    pub residency_tag: Option<String>,
    /// Region (as node label `topology.kubernetes.io/region`) → ISO country code.
    pub regions: BTreeMap<String, String>,
    /// A change ticket (`--change CHG-123`) is required to start and to approve.
    pub change_ticket: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRule {
    pub name: String,
    pub higher_is_better: bool,
    /// How much worse than the champion the version may be (in the metric's units).
    pub max_regression: f64,
}

/// What the gates are decided on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub model: String,
    pub version: u32,
    pub version_tags: BTreeMap<String, String>,
    /// The version's run's value of the policy's metric.
    pub version_metric: Option<f64>,
    /// The champion (version, its metric), when there is one other than this version.
    pub champion: Option<(u32, Option<f64>)>,
    /// The cluster the version would serve on, and the regions of its nodes.
    pub cluster: String,
    pub cluster_regions: Vec<String>,
    /// The change ticket given with the command, if any.
    pub change: Option<String>,
}

/// One gate: passed or not, and why, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub gate: String,
    pub ok: bool,
    pub evidence: String,
}

/// The verdict of every gate, and where the version's pods may run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub model: String,
    pub version: u32,
    pub cluster: String,
    pub allowed: bool,
    pub checks: Vec<Check>,
    /// The regions the version's pods must be pinned to (residency on a multi-region cluster);
    /// `None` when any region will do.
    pub pinned_regions: Option<Vec<String>>,
}

impl Verdict {
    /// The failed gates in one sentence, for a refusal.
    pub fn refusal(&self) -> Option<String> {
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.gate, c.evidence))
            .collect();
        (!failed.is_empty()).then(|| {
            format!(
                "policy refuses {} v{} on {}: {}",
                self.model,
                self.version,
                self.cluster,
                failed.join("; ")
            )
        })
    }
}

impl Verdict {
    /// Every gate and its evidence in one line, for the audit trail:
    /// `policy passed: validation ✓ tag validation_status=passed; residency ✓ …`.
    pub fn evidence(&self) -> String {
        let checks: Vec<String> = self
            .checks
            .iter()
            .map(|c| format!("{} {} {}", c.gate, if c.ok { "✓" } else { "✗" }, c.evidence))
            .collect();
        format!(
            "policy {}: {}",
            if self.allowed { "passed" } else { "failed" },
            if checks.is_empty() {
                "no gates apply".to_string()
            } else {
                checks.join("; ")
            }
        )
    }
}

impl Recorded {
    /// The gates as a confirmation dialog shows them before an approval or a promotion: each
    /// gate as it was found when the rollout started, with its evidence, and that they are
    /// decided again before promotion.
    pub fn preview_lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "policy gates at start: {} (decided again before promotion)",
            if self.start.allowed {
                "all passed"
            } else {
                "some failed"
            }
        )];
        for c in &self.start.checks {
            lines.push(format!(
                "{} {}: {}",
                if c.ok { "✓" } else { "✗" },
                c.gate,
                c.evidence
            ));
        }
        lines
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Recorded {
    /// For tests and fixtures (feature `test-support`, as `RolloutSpec::test`): started under `rules` with the ticket `change`, every gate in
    /// `checks` as given.
    pub fn test(rules: Policy, change: &str, checks: Vec<Check>) -> Self {
        Self {
            rules,
            change: Some(change.to_string()),
            start: Verdict {
                model: "fraud-detector".into(),
                version: 7,
                cluster: "test".into(),
                allowed: checks.iter().all(|c| c.ok),
                checks,
                pinned_regions: None,
            },
        }
    }
}

/// What an approval's comment starts with where a change ticket is required: the ticket, a colon
/// and a space (`CHG-123: why`). RE2 syntax: the cluster's admission policy checks the same.
pub const TICKET_COMMENT_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}[0-9]: ";

/// A change ticket as the trackers number them (`CHG-123`, `CHG0030001`, `OPS-42`): letters,
/// digits and `_./-`, ending in a digit, at most 64 characters.
pub fn check_ticket(ticket: &str) -> Result<(), String> {
    let ok = (2..=64).contains(&ticket.len())
        && ticket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && ticket.ends_with(|c: char| c.is_ascii_digit())
        && ticket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a change ticket: letters, digits and _./- ending in a digit, such as CHG-123 or CHG0030001",
            crate::text::truncate(ticket, 70)
        ))
    }
}

/// The change ticket an approval's comment starts with (`CHG-123: why`), if it does.
pub fn comment_ticket(comment: &str) -> Option<&str> {
    let (ticket, _) = comment.split_once(": ")?;
    check_ticket(ticket).ok().map(|()| ticket)
}

fn check(gate: &'static str, ok: bool, evidence: impl Into<String>) -> Check {
    Check {
        gate: gate.to_string(),
        ok,
        evidence: evidence.into(),
    }
}

/// What a rollout carries of the policy it was started under (the annotation
/// `mlops.dev/policy`, which the cluster keeps from changing): the rules that applied to its
/// cluster and namespace, the change ticket given, and the verdict at the start. Whoever drives
/// the rollout decides the same rules again, on fresh facts, before promoting it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub rules: Policy,
    #[serde(default)]
    pub change: Option<String>,
    pub start: Verdict,
}

/// Decide every gate of `policy` on `facts`.
pub fn evaluate(policy: &Policy, facts: &Facts) -> Verdict {
    let mut checks = Vec::new();
    if let Some((key, want)) = &policy.validation_tag {
        checks.push(match facts.version_tags.get(key) {
            Some(v) if v == want => check("validation", true, format!("tag {key}={v}")),
            Some(v) => check("validation", false, format!("tag {key}={v}, not {want}")),
            None => check(
                "validation",
                false,
                format!("no tag {key} (needs {key}={want})"),
            ),
        });
    }
    if let Some(rule) = &policy.metric {
        checks.push(metric_check(rule, facts));
    }
    let mut pinned_regions = None;
    if let Some(tag) = &policy.residency_tag {
        let (c, pins) = residency(policy, tag, facts);
        checks.push(c);
        pinned_regions = pins;
    }
    if policy.change_ticket {
        checks.push(match facts.change.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => check("change ticket", true, t.to_string()),
            _ => check("change ticket", false, "required here: give --change CHG-…"),
        });
    }
    Verdict {
        model: facts.model.clone(),
        version: facts.version,
        cluster: facts.cluster.clone(),
        allowed: checks.iter().all(|c| c.ok),
        checks,
        pinned_regions,
    }
}

fn metric_check(rule: &MetricRule, facts: &Facts) -> Check {
    let name = &rule.name;
    let Some(mine) = facts.version_metric else {
        return check(
            "evaluation metric",
            false,
            format!("v{}'s run has no metric {name}", facts.version),
        );
    };
    let Some((champion, theirs)) = facts.champion else {
        return check(
            "evaluation metric",
            true,
            format!("{name} {mine} (no champion to compare with)"),
        );
    };
    let Some(theirs) = theirs else {
        return check(
            "evaluation metric",
            false,
            format!("the champion v{champion}'s run has no metric {name} to compare with"),
        );
    };
    // How much worse the version is, in the metric's units (negative: better).
    let worse = if rule.higher_is_better {
        theirs - mine
    } else {
        mine - theirs
    };
    let ok = worse <= rule.max_regression + 1e-12;
    let how = if worse > 0.0 {
        format!("{worse:.4} worse")
    } else {
        "not worse".to_string()
    };
    check(
        "evaluation metric",
        ok,
        format!(
            "{name} {} vs champion v{champion} {}: {how} (at most {} allowed)",
            metric_value(mine),
            metric_value(theirs),
            rule.max_regression
        ),
    )
}

/// A metric's value as evidence reads it: at most 4 decimals, no trailing zeros (`0.9252`, not
/// `0.9251790622466106`; `0.85` stays `0.85`).
pub(crate) fn metric_value(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// The residency gate, and the regions the pods must be pinned to.
fn residency(policy: &Policy, tag: &str, facts: &Facts) -> (Check, Option<Vec<String>>) {
    let Some(value) = facts.version_tags.get(tag) else {
        return (
            check(
                "data residency",
                true,
                format!("no tag {tag}: data not resident anywhere"),
            ),
            None,
        );
    };
    let countries: BTreeSet<String> = value
        .split(',')
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    let country_of = |r: &str| policy.regions.get(r).cloned();
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for r in &facts.cluster_regions {
        match country_of(r) {
            Some(c) if countries.contains(&c) => inside.push(r.clone()),
            Some(c) => outside.push(format!("{r} ({c})")),
            None => outside.push(format!("{r} (no country in policy.toml [regions])")),
        }
    }
    let wanted = countries.iter().cloned().collect::<Vec<_>>().join(",");
    if inside.is_empty() {
        let regions = if outside.is_empty() {
            "no node regions known".to_string()
        } else {
            format!("its regions {}", outside.join(", "))
        };
        return (
            check(
                "data residency",
                false,
                format!(
                    "trained on data resident to {wanted} ({tag}); {} has no region there: {regions}",
                    facts.cluster
                ),
            ),
            None,
        );
    }
    if outside.is_empty() {
        return (
            check(
                "data residency",
                true,
                format!(
                    "resident to {wanted}; every region of {} is: {}",
                    facts.cluster,
                    inside.join(", ")
                ),
            ),
            None,
        );
    }
    (
        check(
            "data residency",
            true,
            format!(
                "resident to {wanted}: pods pinned to {} (not {})",
                inside.join(", "),
                outside.join(", ")
            ),
        ),
        Some(inside),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_tickets_are_numbered_as_trackers_number_them() {
        for ok in ["CHG-123", "CHG0030001", "OPS-42", "a/b.c_d-9"] {
            assert_eq!(check_ticket(ok), Ok(()), "{ok}");
        }
        for bad in ["", "7", "CHG-", "-12", "CHG 12", "CHG-12;rm", "CHG-12\n"] {
            assert!(check_ticket(bad).is_err(), "{bad:?}");
        }
        assert_eq!(comment_ticket("CHG-5: eval beats champion"), Some("CHG-5"));
        assert_eq!(comment_ticket("eval: beats champion"), None);
        assert_eq!(comment_ticket("CHG-5 eval"), None);
    }

    fn policy() -> Policy {
        Policy {
            validation_tag: Some(("validation_status".into(), "approved".into())),
            metric: Some(MetricRule {
                name: "accuracy".into(),
                higher_is_better: true,
                max_regression: 0.01,
            }),
            residency_tag: Some("data.residency".into()),
            regions: [("me-central-1", "AE"), ("eu-west-1", "IE")]
                .iter()
                .map(|(r, c)| ((*r).to_string(), (*c).to_string()))
                .collect(),
            change_ticket: true,
        }
    }

    fn facts() -> Facts {
        Facts {
            model: "fraud".into(),
            version: 4,
            version_tags: [("validation_status", "approved"), ("data.residency", "AE")]
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            version_metric: Some(0.905),
            champion: Some((3, Some(0.91))),
            cluster: "uae-prod".into(),
            cluster_regions: vec!["me-central-1".into()],
            change: Some("CHG-1".into()),
        }
    }

    #[test]
    fn every_gate_passes_with_its_evidence() {
        let v = evaluate(&policy(), &facts());
        assert!(v.allowed, "{v:?}");
        assert_eq!(v.checks.len(), 4);
        assert!(v.refusal().is_none());
        assert_eq!(v.pinned_regions, None);
    }

    #[test]
    fn each_gate_fails_and_says_why() {
        let mut f = facts();
        f.version_tags
            .insert("validation_status".into(), "pending".into());
        f.version_metric = Some(0.85);
        f.change = None;
        f.cluster_regions = vec!["eu-west-1".into()];
        f.cluster = "eu-prod".into();
        let v = evaluate(&policy(), &f);
        assert!(!v.allowed);
        let why = v.refusal().expect("refused");
        for says in [
            "validation: tag validation_status=pending, not approved",
            "accuracy 0.85 vs champion v3 0.91: 0.0600 worse (at most 0.01 allowed)",
            "data residency: trained on data resident to AE (data.residency); eu-prod has no region there: its regions eu-west-1 (IE)",
            "change ticket: required here",
        ] {
            assert!(why.contains(says), "{says}\n{why}");
        }
    }

    #[test]
    fn a_multi_region_cluster_pins_resident_versions_to_their_regions() {
        let mut f = facts();
        f.cluster_regions = vec!["eu-west-1".into(), "me-central-1".into()];
        let v = evaluate(&policy(), &f);
        assert!(v.allowed);
        assert_eq!(v.pinned_regions, Some(vec!["me-central-1".to_string()]));
        // Lower is better: a loss that grew past the margin fails.
        let mut p = policy();
        p.metric = Some(MetricRule {
            name: "loss".into(),
            higher_is_better: false,
            max_regression: 0.0,
        });
        f.version_metric = Some(0.3);
        f.champion = Some((3, Some(0.2)));
        assert!(!evaluate(&p, &f).allowed);
    }

    #[test]
    fn metric_values_in_evidence_are_short() {
        assert_eq!(metric_value(0.925_179_062_246_610_6), "0.9252");
        assert_eq!(metric_value(0.85), "0.85");
        assert_eq!(metric_value(1.0), "1");
        assert_eq!(metric_value(0.0), "0");
    }
}
