//! What a pipeline waiting on a rollout is told (`rollout start --wait`, `rollout wait`): the
//! rollout's outcome as a distinct exit code, so a pipeline can tell a rollback from a timeout
//! and hand a rollout waiting at its approval gate over to a release manager.
//!
//! | outcome | exit |
//! |---|---|
//! | promoted | 0 |
//! | rolled back or aborted | 2 |
//! | waiting for approval (success with `--until approval`) | 3 |
//! | timed out | 4 |
//! | failed, or an error | 1 |

use serde::{Deserialize, Serialize};

use super::{Phase, RolloutRecord, Verb};

/// Where waiting ends successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Until {
    /// Promoted; an approval gate ends the wait with exit 3.
    #[default]
    Promoted,
    /// At an approval gate (or promoted): the pipeline hands over to a release manager.
    Approval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Promoted,
    RolledBack,
    Aborted,
    AwaitingApproval,
    TimedOut,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Promoted => "promoted",
            Outcome::RolledBack => "rolled_back",
            Outcome::Aborted => "aborted",
            Outcome::AwaitingApproval => "awaiting_approval",
            Outcome::TimedOut => "timed_out",
            Outcome::Failed => "failed",
        }
    }

    /// The exit code of the outcome when waiting until `until`.
    pub fn exit_code(self, until: Until) -> u8 {
        match self {
            Outcome::Promoted => 0,
            Outcome::AwaitingApproval if until == Until::Approval => 0,
            Outcome::AwaitingApproval => 3,
            Outcome::RolledBack | Outcome::Aborted => 2,
            Outcome::TimedOut => 4,
            Outcome::Failed => 1,
        }
    }
}

/// The outcome the rollout has reached, if waiting should end now: promoted, rolled back (an
/// operator's abort told apart), failed, or at an approval gate still short of approvals. A
/// rollout under way (or rolling back) has none yet.
pub fn reached(r: &RolloutRecord) -> Option<Outcome> {
    match r.status.phase {
        Phase::Promoted => Some(Outcome::Promoted),
        Phase::RolledBack => {
            let aborted = r
                .status
                .last_command
                .as_ref()
                .is_some_and(|c| c.verb == Verb::Abort.rbac_verb());
            Some(if aborted {
                Outcome::Aborted
            } else {
                Outcome::RolledBack
            })
        }
        Phase::Failed => Some(Outcome::Failed),
        Phase::AwaitingApproval => Some(Outcome::AwaitingApproval),
        Phase::Pending
        | Phase::Progressing
        | Phase::Paused
        | Phase::Promoting
        | Phase::RollingBack => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_has_its_own_exit_code() {
        let codes: Vec<u8> = [
            Outcome::Promoted,
            Outcome::Failed,
            Outcome::RolledBack,
            Outcome::AwaitingApproval,
            Outcome::TimedOut,
        ]
        .iter()
        .map(|o| o.exit_code(Until::Promoted))
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
        assert_eq!(Outcome::Aborted.exit_code(Until::Promoted), 2);
        assert_eq!(Outcome::AwaitingApproval.exit_code(Until::Approval), 0);
        assert_eq!(Outcome::RolledBack.exit_code(Until::Approval), 2);
    }

    #[test]
    fn an_abort_is_told_from_a_rollback_by_the_last_command() {
        let mut r = RolloutRecord {
            name: "fraud-detector-v7".into(),
            namespace: "ml".into(),
            cluster: "uae".into(),
            created: chrono::Utc::now(),
            spec: super::super::RolloutSpec::test(),
            status: super::super::RolloutStatus::default(),
            policy: None,
        };
        r.status.phase = Phase::RolledBack;
        assert_eq!(reached(&r), Some(Outcome::RolledBack));
        r.status.last_command = Some(super::super::CommandRecord {
            verb: "abort".into(),
            user: "alice".into(),
            time: chrono::Utc::now(),
            ..Default::default()
        });
        assert_eq!(reached(&r), Some(Outcome::Aborted));
        r.status.phase = Phase::Progressing;
        assert_eq!(reached(&r), None);
    }
}
