//! What carrying out a decision will change, in words, for a confirmation dialog.

use super::{Decision, Effect, RolloutSpec, RolloutStatus, phase_word, replica_split};

/// What the console knows of the alias a promotion moves, when it builds a preview: a preview
/// never states a fact it has not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alias {
    /// The registry has not been read (not configured, down, or not yet loaded).
    Unknown,
    /// Read: the alias is not set.
    Unset,
    /// Read: the alias points at this version.
    At(u32),
}

/// Every phase `decision` passes through, as the audit will record them (an abort goes
/// through RollingBack to RolledBack), starting from the word the rollout's row shows.
fn phases(spec: &RolloutSpec, before: &RolloutStatus, decision: &Decision) -> Option<String> {
    let passed: Vec<&str> = decision
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event { message, .. } => super::machine::event_to(message),
            _ => None,
        })
        .collect();
    if !passed.is_empty() {
        Some(format!(
            "phase: {} → {}",
            phase_word(spec, before),
            passed.join(" → ")
        ))
    } else if before.phase != decision.status.phase {
        Some(format!(
            "phase: {} → {}",
            phase_word(spec, before),
            decision.status.phase
        ))
    } else {
        None
    }
}

/// What carrying out `decision` changes, in words, for a confirmation dialog: phase, step,
/// traffic and replicas, registry aliases, approvals.
pub fn preview(
    spec: &RolloutSpec,
    before: &RolloutStatus,
    decision: &Decision,
    champion: Alias,
) -> Vec<String> {
    let after = &decision.status;
    let total = spec.steps.len();
    let mut lines = Vec::new();
    lines.extend(phases(spec, before, decision));
    if before.current_step != after.current_step && !after.phase.is_terminal() {
        lines.push(format!(
            "step: {}/{total} → {}/{total} ({})",
            (before.current_step + 1).min(total),
            (after.current_step + 1).min(total),
            spec.steps
                .get(after.current_step)
                .map_or_else(|| "done".to_string(), ToString::to_string)
        ));
    }
    if after.approvals.len() != before.approvals.len() {
        let who: Vec<&str> = after.approvals.iter().map(|a| a.user.as_str()).collect();
        lines.push(format!(
            "approvals: {}/{} → {}/{} ({})",
            before.approvals.len(),
            spec.approval.required,
            after.approvals.len(),
            spec.approval.required,
            who.join(", ")
        ));
    }
    // A pause by an operator holds the rollout where it is, whatever its phase says.
    let here = format!("step {}/{total}", (after.current_step + 1).min(total));
    match (before.user_paused, after.user_paused) {
        (false, true) => lines.push(format!(
            "hold: at {here} until someone resumes; no step, analysis or timed pause moves on"
        )),
        (true, false) => lines.push(format!("hold: released; {here} goes on")),
        _ => {}
    }
    let split = |w: u8| replica_split(spec.replicas, w);
    for e in &decision.effects {
        match e {
            Effect::SetWeight { weight } => {
                let (s0, c0) = split(before.weight);
                let (s1, c1) = split(*weight);
                lines.push(format!(
                    "canary traffic: {}% → {weight}%; replicas stable {s0} → {s1}, canary {c0} → {c1}",
                    before.weight
                ));
            }
            Effect::AbortCanary => {
                let (_, c0) = split(before.weight);
                lines.push(format!(
                    "canary traffic: {}% → 0%; canary replicas {c0} → 0; stable v{} back to {} replicas",
                    before.weight, spec.stable_version, spec.replicas
                ));
            }
            Effect::PromoteStable { version } => lines.push(format!(
                "stable track: v{} → v{version} on {} replicas; canary removed",
                spec.stable_version, spec.replicas
            )),
            Effect::RestoreStable { version } => lines.push(format!(
                "stable track: v{} → v{version} on {} replicas (undo promotion)",
                spec.model.version, spec.replicas
            )),
            Effect::MoveAlias {
                model,
                alias,
                version,
            } => lines.push(format!(
                "registry: {model}@{alias} {} → v{version}",
                match champion {
                    Alias::At(v) => format!("v{v}"),
                    Alias::Unset => "unset".to_string(),
                    Alias::Unknown => "unknown (the registry is not loaded)".to_string(),
                }
            )),
            Effect::TagVersion { .. } | Effect::Event { .. } => {}
        }
    }
    if !decision.effects.iter().any(|e| {
        matches!(
            e,
            Effect::SetWeight { .. }
                | Effect::AbortCanary
                | Effect::PromoteStable { .. }
                | Effect::RestoreStable { .. }
        )
    }) {
        lines.push(format!("traffic: unchanged (canary {}%)", after.weight));
    }
    lines
}
