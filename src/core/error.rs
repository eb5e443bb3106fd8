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
    /// A statistic was asked of data that cannot give one.
    #[error("{0}")]
    Statistics(String),
}

impl CoreError {
    pub fn backend(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Backend {
            backend: backend.into(),
            message: message.into(),
        }
    }
}
