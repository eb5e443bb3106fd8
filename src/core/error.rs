//! Errors of the core. Every message names the thing that failed.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// A command that the rollout's current phase does not accept.
    #[error("rollout {rollout} is {phase}: {command} is not allowed ({hint})")]
    IllegalCommand {
        rollout: String,
        phase: String,
        command: String,
        hint: String,
    },
    /// A rollout spec that cannot be executed; `field` is the path of the offending field.
    #[error("invalid rollout spec: {field}: {message}")]
    InvalidSpec { field: String, message: String },
    /// The same user tried to approve twice.
    #[error("{user} has already approved rollout {rollout}")]
    DuplicateApproval { rollout: String, user: String },
    /// A command a governance rule does not allow (the two-person rule).
    #[error("{command} of rollout {rollout} refused: {reason}")]
    Refused {
        rollout: String,
        command: String,
        reason: String,
    },
    /// Something asked for by name does not exist.
    #[error("{kind} {name:?} not found")]
    NotFound { kind: &'static str, name: String },
    /// A backend behind a port could not be reached, did not answer in time, or failed on its
    /// side (HTTP 5xx).
    #[error("{backend}: {message}")]
    Unavailable { backend: String, message: String },
    /// A backend refused who we are: missing or wrong credentials, no permission.
    #[error("{backend}: {message}")]
    Denied { backend: String, message: String },
    /// A backend refused the request itself (an invalid filter, a bad parameter).
    #[error("{backend}: {message}")]
    Rejected { backend: String, message: String },
    /// A backend answered something we cannot read.
    #[error("{backend}: {message}")]
    Malformed { backend: String, message: String },
    /// Any other failure of a backend behind a port.
    #[error("{backend}: {message}")]
    Backend { backend: String, message: String },
    /// A backend the caller needs was never configured (no kubeconfig, no tracking URI):
    /// `what` names it ("the model registry"), `hint` says how to configure it (may be empty).
    #[error("{what} is not configured{}", hint_suffix(.hint))]
    NotConfigured { what: String, hint: String },
    /// A statistic was asked of data that cannot give one.
    #[error("{0}")]
    Statistics(String),
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!(": {hint}")
    }
}

/// What kind of failure an error is, for callers that act on it (the console greys a view out
/// for `Unavailable`, says "refused us" for `Denied`, shows a filter's error in place for
/// `Rejected`) — decided from the variant, never from the message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The backend could not be reached, timed out, or failed on its side.
    Unavailable,
    /// The backend refused who we are (credentials, permissions).
    Denied,
    /// The backend refused the request itself (an invalid filter or parameter).
    Rejected,
    /// The backend answered something we cannot read.
    Malformed,
    /// What was asked for does not exist.
    NotFound,
    /// The backend is not configured at all.
    NotConfigured,
    /// A rule refused a command: the rollout's phase, a duplicate approval, the two-person rule.
    Refused,
    /// An invalid rollout spec.
    Invalid,
    /// Data that cannot give a statistic.
    Statistics,
    /// Any other failure of a backend.
    Other,
}

impl ErrorKind {
    /// Whether the error is about the backend being there at all (down, refusing us, not
    /// configured, answering garbage) rather than about what was asked of it: a view whose
    /// source fails this way is greyed out.
    pub fn is_outage(self) -> bool {
        matches!(
            self,
            ErrorKind::Unavailable
                | ErrorKind::Denied
                | ErrorKind::Malformed
                | ErrorKind::NotConfigured
                | ErrorKind::Other
        )
    }
}

impl CoreError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::IllegalCommand { .. }
            | CoreError::DuplicateApproval { .. }
            | CoreError::Refused { .. } => ErrorKind::Refused,
            CoreError::InvalidSpec { .. } => ErrorKind::Invalid,
            CoreError::NotFound { .. } => ErrorKind::NotFound,
            CoreError::Unavailable { .. } => ErrorKind::Unavailable,
            CoreError::Denied { .. } => ErrorKind::Denied,
            CoreError::Rejected { .. } => ErrorKind::Rejected,
            CoreError::Malformed { .. } => ErrorKind::Malformed,
            CoreError::NotConfigured { .. } => ErrorKind::NotConfigured,
            CoreError::Backend { .. } => ErrorKind::Other,
            CoreError::Statistics(_) => ErrorKind::Statistics,
        }
    }

    /// `what` (e.g. "the model registry") is not configured; `hint` says how to configure it.
    pub fn not_configured(what: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::NotConfigured {
            what: what.into(),
            hint: hint.into(),
        }
    }

    pub fn backend(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Backend {
            backend: backend.into(),
            message: message.into(),
        }
    }
}
