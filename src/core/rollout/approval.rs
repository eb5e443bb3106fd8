//! What an approval needs and how it is recorded, decided once for the CLI and the console: a
//! comment always; a change ticket where the policy the rollout started under requires one, or
//! `policy.toml` does now for its cluster and namespace. The ticket is recorded at the head of the
//! comment (`CHG-123: why`), the form the cluster's admission policy checks
//! (`policy::TICKET_COMMENT_PATTERN`), whether it was given apart (`--change`) or typed there.

use super::{Command, RolloutRecord, Verb};
use crate::policy::{self, Policy};

/// Which policy requires a change ticket with an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRule {
    /// The policy the rollout started under (recorded with it; the cluster enforces it too).
    Started,
    /// `policy.toml`'s rules for the rollout's cluster and namespace, as they are now.
    Config,
}

/// What an approval needs beyond its comment (which it always needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApprovalNeeds {
    /// A change ticket, and which policy asks for it.
    pub ticket: Option<TicketRule>,
}

/// Why an approval cannot be sent as given. Each surface says how to give what is missing (the
/// CLI's `--change`, the console's comment).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefused {
    #[error("an approval needs a comment that says why (it goes to the audit trail)")]
    NoComment,
    /// The ticket given is not one (`policy::check_ticket` says why).
    #[error("{0}")]
    BadTicket(String),
    #[error("{}", match .0 {
        TicketRule::Started => "the policy this rollout started under requires a change ticket",
        TicketRule::Config => "policy.toml requires a change ticket",
    })]
    NoTicket(TicketRule),
}

impl ApprovalNeeds {
    /// What `policy.toml`'s rules for the rollout's cluster and namespace (`config`) ask of an
    /// approval, before the rollout itself is read.
    pub fn of_config(config: Option<&Policy>) -> Self {
        Self {
            ticket: config
                .filter(|p| p.change_ticket)
                .map(|_| TicketRule::Config),
        }
    }

    /// Whether `comment` (as `approval_comment` made it) gives what is needed.
    pub fn check(&self, comment: &str) -> Result<(), ApprovalRefused> {
        match self.ticket {
            Some(rule) if policy::comment_ticket(comment).is_none() => {
                Err(ApprovalRefused::NoTicket(rule))
            }
            _ => Ok(()),
        }
    }
}

/// What an approval of `rollout` needs: a change ticket where the policy it started under
/// requires one (first: the cluster enforces it), or `config` (`policy.toml`'s rules for its
/// cluster and namespace, when there is a policy.toml) does now.
pub fn approval_needs(rollout: &RolloutRecord, config: Option<&Policy>) -> ApprovalNeeds {
    if rollout
        .policy
        .as_ref()
        .is_some_and(|p| p.rules.change_ticket)
    {
        return ApprovalNeeds {
            ticket: Some(TicketRule::Started),
        };
    }
    ApprovalNeeds::of_config(config)
}

/// The comment an approval records: `ticket` (given apart from the comment) at its head —
/// `CHG-123: why` — unless the comment already starts with it; without one, the comment as
/// typed (which may start with its own ticket). Refused when the comment says nothing or the
/// ticket is not one.
pub fn approval_comment(ticket: Option<&str>, comment: &str) -> Result<String, ApprovalRefused> {
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(ApprovalRefused::NoComment);
    }
    let Some(ticket) = ticket.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(comment.to_string());
    };
    policy::check_ticket(ticket).map_err(ApprovalRefused::BadTicket)?;
    if policy::comment_ticket(comment) == Some(ticket) {
        return Ok(comment.to_string());
    }
    Ok(format!("{ticket}: {comment}"))
}

impl Command {
    /// `user`'s approval with `comment` and the change ticket given apart from it, recorded as
    /// `approval_comment` says. Whether the rollout needs a ticket is `approval_needs`'s to say
    /// (`ApprovalNeeds::check` on the command's comment).
    pub fn approve(
        user: impl Into<String>,
        ticket: Option<&str>,
        comment: &str,
    ) -> Result<Self, ApprovalRefused> {
        Ok(Self::new(
            Verb::Approve,
            user,
            approval_comment(ticket, comment)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        policy::Recorded,
        rollout::{RolloutSpec, RolloutStatus},
    };

    fn rollout(started_under: Option<Policy>) -> RolloutRecord {
        RolloutRecord {
            name: "fraud-detector-v7".into(),
            namespace: "ml-serving".into(),
            cluster: "test".into(),
            created: chrono::Utc::now(),
            spec: RolloutSpec::test(),
            status: RolloutStatus::default(),
            policy: started_under.map(|p| Recorded::test(p, "CHG-9", Vec::new())),
        }
    }

    fn ticketed() -> Policy {
        Policy {
            change_ticket: true,
            ..Policy::default()
        }
    }

    #[test]
    fn a_ticket_is_needed_where_either_policy_asks_for_one() {
        let none = ApprovalNeeds::default();
        assert_eq!(approval_needs(&rollout(None), None), none);
        assert_eq!(
            approval_needs(&rollout(None), Some(&Policy::default())),
            none
        );
        assert_eq!(
            approval_needs(&rollout(Some(ticketed())), None).ticket,
            Some(TicketRule::Started)
        );
        assert_eq!(
            approval_needs(&rollout(None), Some(&ticketed())).ticket,
            Some(TicketRule::Config)
        );
        // The policy the rollout started under is named first: the cluster enforces it.
        assert_eq!(
            approval_needs(&rollout(Some(ticketed())), Some(&ticketed())).ticket,
            Some(TicketRule::Started)
        );
    }

    #[test]
    fn the_ticket_is_recorded_at_the_head_of_the_comment_however_it_was_given() {
        // Given apart (the CLI's --change) or typed (the console's comment): the same record.
        assert_eq!(
            approval_comment(Some("CHG-9"), " looks fine "),
            Ok("CHG-9: looks fine".into())
        );
        assert_eq!(
            approval_comment(None, "CHG-9: looks fine"),
            Ok("CHG-9: looks fine".into())
        );
        assert_eq!(
            approval_comment(Some("CHG-9"), "CHG-9: looks fine"),
            Ok("CHG-9: looks fine".into())
        );
        assert_eq!(approval_comment(Some(" "), "ok"), Ok("ok".into()));
        assert_eq!(
            approval_comment(None, "  "),
            Err(ApprovalRefused::NoComment)
        );
        assert!(matches!(
            approval_comment(Some("CHG 9"), "ok"),
            Err(ApprovalRefused::BadTicket(why)) if why.contains("not a change ticket")
        ));
        let cmd = Command::approve("remy", Some("CHG-9"), "looks fine").expect("an approval");
        assert_eq!(
            (cmd.verb, cmd.user.as_str(), cmd.comment.as_str()),
            (Verb::Approve, "remy", "CHG-9: looks fine")
        );
    }

    #[test]
    fn a_needed_ticket_is_checked_in_the_recorded_comment() {
        let needs = approval_needs(&rollout(Some(ticketed())), None);
        assert_eq!(
            needs.check("looks fine"),
            Err(ApprovalRefused::NoTicket(TicketRule::Started))
        );
        assert_eq!(needs.check("CHG-9: looks fine"), Ok(()));
        assert_eq!(ApprovalNeeds::default().check("looks fine"), Ok(()));
        assert!(
            ApprovalRefused::NoTicket(TicketRule::Config)
                .to_string()
                .contains("policy.toml requires a change ticket")
        );
    }
}
