//! Errors of the core. Every message names the thing that failed; a backend's failure also keeps
//! the error it came from (a Kubernetes or HTTP client error) as its `source`, for callers that
//! want more than the words. This module owns the error type and its kinds; it must not decide
//! anything from a message's text.

use std::{fmt, ops::Deref, sync::Arc};

use thiserror::Error;

/// The error under a backend's failure (a Kubernetes client error, an HTTP call's error), shared so
/// that `CoreError` stays `Clone`. It is the `source` of the `CoreError`: walking the sources
/// (`std::error::Error::source`) reaches the original error itself, so a caller can
/// `downcast_ref` it. It never takes part in equality (see `PartialEq for CoreError`).
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }
}

impl Deref for Cause {
    type Target = dyn std::error::Error + Send + Sync;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[derive(Debug, Error, Clone)]
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
    Unavailable {
        backend: String,
        message: String,
        /// The error it came from, when there is one.
        #[source]
        cause: Option<Cause>,
    },
    /// A backend refused who we are: missing or wrong credentials, no permission.
    #[error("{backend}: {message}")]
    Denied {
        backend: String,
        message: String,
        /// The error it came from, when there is one.
        #[source]
        cause: Option<Cause>,
    },
    /// A backend refused the request itself (an invalid filter, a bad parameter).
    #[error("{backend}: {message}")]
    Rejected {
        backend: String,
        message: String,
        /// The error it came from, when there is one.
        #[source]
        cause: Option<Cause>,
    },
    /// A backend answered something we cannot read.
    #[error("{backend}: {message}")]
    Malformed {
        backend: String,
        message: String,
        /// The error it came from, when there is one.
        #[source]
        cause: Option<Cause>,
    },
    /// Any other failure of a backend behind a port.
    #[error("{backend}: {message}")]
    Backend {
        backend: String,
        message: String,
        /// The error it came from, when there is one.
        #[source]
        cause: Option<Cause>,
    },
    /// A backend the caller needs was never configured (no kubeconfig, no tracking URI):
    /// `what` names it ("the model registry"), `hint` says how to configure it (may be empty).
    #[error("{what} is not configured{}", hint_suffix(.hint))]
    NotConfigured { what: String, hint: String },
    /// A statistic was asked of data that cannot give one.
    #[error("{0}")]
    Statistics(String),
}

impl CoreError {
    /// Everything the error says, without its cause: the variant and its fields.
    fn said(&self) -> (std::mem::Discriminant<Self>, [&str; 4]) {
        let fields = match self {
            CoreError::IllegalCommand {
                rollout,
                phase,
                command,
                hint,
            } => [rollout.as_str(), phase, command, hint],
            CoreError::InvalidSpec { field, message } => [field.as_str(), message, "", ""],
            CoreError::DuplicateApproval { rollout, user } => [rollout.as_str(), user, "", ""],
            CoreError::Refused {
                rollout,
                command,
                reason,
            } => [rollout.as_str(), command, reason, ""],
            CoreError::NotFound { kind, name } => [kind, name.as_str(), "", ""],
            CoreError::Unavailable {
                backend, message, ..
            }
            | CoreError::Denied {
                backend, message, ..
            }
            | CoreError::Rejected {
                backend, message, ..
            }
            | CoreError::Malformed {
                backend, message, ..
            }
            | CoreError::Backend {
                backend, message, ..
            } => [backend.as_str(), message, "", ""],
            CoreError::NotConfigured { what, hint } => [what.as_str(), hint, "", ""],
            CoreError::Statistics(message) => [message.as_str(), "", "", ""],
        };
        (std::mem::discriminant(self), fields)
    }
}

/// Two errors are the same failure when they say the same, whatever object caused them: the
/// cause is left out (the console compares errors in its feeds to see whether anything changed).
impl PartialEq for CoreError {
    fn eq(&self, other: &Self) -> bool {
        self.said() == other.said()
    }
}

impl Eq for CoreError {}

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

    /// Any other failure of `backend` (prefer the kind that says what happened: `unavailable`,
    /// `denied`, `rejected`, `malformed`).
    pub fn backend(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Backend {
            backend: backend.into(),
            message: message.into(),
            cause: None,
        }
    }

    /// `backend` could not be reached, did not answer in time, or failed on its side.
    pub fn unavailable(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unavailable {
            backend: backend.into(),
            message: message.into(),
            cause: None,
        }
    }

    /// `backend` refused who we are.
    pub fn denied(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Denied {
            backend: backend.into(),
            message: message.into(),
            cause: None,
        }
    }

    /// `backend` refused the request itself.
    pub fn rejected(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Rejected {
            backend: backend.into(),
            message: message.into(),
            cause: None,
        }
    }

    /// `backend` answered something we cannot read.
    pub fn malformed(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Malformed {
            backend: backend.into(),
            message: message.into(),
            cause: None,
        }
    }

    /// A backend's failure of `kind` (`Unavailable`, `Denied`, `Rejected`, `Malformed`; any other
    /// kind is `Backend`), for adapters that classify their client's errors in one place.
    pub fn of_kind(
        kind: ErrorKind,
        backend: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let (backend, message) = (backend.into(), message.into());
        match kind {
            ErrorKind::Unavailable => Self::unavailable(backend, message),
            ErrorKind::Denied => Self::denied(backend, message),
            ErrorKind::Rejected => Self::rejected(backend, message),
            ErrorKind::Malformed => Self::malformed(backend, message),
            _ => Self::backend(backend, message),
        }
    }

    /// The same error, keeping `error` as its source (on a backend's failure; other errors have
    /// no source and are returned as they are).
    #[must_use]
    pub fn caused_by(self, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.with_cause(Cause::new(error))
    }

    /// As `caused_by`, with a cause already shared.
    #[must_use]
    pub fn with_cause(mut self, error: Cause) -> Self {
        if let Self::Unavailable { cause, .. }
        | Self::Denied { cause, .. }
        | Self::Rejected { cause, .. }
        | Self::Malformed { cause, .. }
        | Self::Backend { cause, .. } = &mut self
        {
            *cause = Some(error);
        }
        self
    }

    /// The error a backend's failure came from, to `downcast_ref` (e.g. to a `kube::Error`).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Self::Unavailable { cause, .. }
            | Self::Denied { cause, .. }
            | Self::Rejected { cause, .. }
            | Self::Malformed { cause, .. }
            | Self::Backend { cause, .. } => cause.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[derive(Debug, Error)]
    #[error("connection refused")]
    struct Refused;

    #[test]
    fn a_backend_failure_keeps_its_cause_as_the_source_without_changing_its_text() {
        let plain = CoreError::unavailable("kubernetes", "listing pods: connection refused");
        let caused = plain.clone().caused_by(Refused);
        assert_eq!(
            caused.to_string(),
            "kubernetes: listing pods: connection refused"
        );
        assert_eq!(caused.kind(), ErrorKind::Unavailable);
        // The source is the original error itself, so it can be downcast.
        let source = caused.source().expect("a source");
        assert!(source.downcast_ref::<Refused>().is_some(), "{source:?}");
        assert!(
            caused
                .cause()
                .is_some_and(|c| c.downcast_ref::<Refused>().is_some())
        );
        // Equality is about the failure, not the object that caused it.
        assert_eq!(caused, plain);
        assert_ne!(
            caused,
            CoreError::unavailable("kubernetes", "listing pods: timed out")
        );
        assert_ne!(
            caused,
            CoreError::denied("kubernetes", "listing pods: connection refused")
        );
        assert!(plain.source().is_none());
        // Errors without a source stay as they are.
        let nf = CoreError::NotFound {
            kind: "pod",
            name: "p".into(),
        };
        assert_eq!(nf.clone().caused_by(Refused), nf);
        assert_eq!(
            CoreError::of_kind(ErrorKind::Denied, "mlflow", "HTTP 401").kind(),
            ErrorKind::Denied
        );
    }

    #[test]
    fn not_configured_says_how_to_configure() {
        let e = CoreError::not_configured("the model registry (MLflow)", "set MLFLOW_TRACKING_URI");
        assert_eq!(
            e.to_string(),
            "the model registry (MLflow) is not configured: set MLFLOW_TRACKING_URI"
        );
        assert_eq!(e.kind(), ErrorKind::NotConfigured);
        assert_eq!(
            CoreError::not_configured("the cluster", "").to_string(),
            "the cluster is not configured"
        );
    }
}
