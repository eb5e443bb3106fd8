//! Who writes a command's audit entry, and waiting for it. With a controller holding the Lease in
//! `mlops-system`, the controller writes every entry with its own ServiceAccount, from the command
//! recorded in the rollout's status, and marks the command audited (`status.lastCommand.audited`);
//! people need no write rights in `mlops-system`, and a command is acknowledged once the mark is
//! there. Without a controller the sender writes the entry as before, which needs `create` on
//! ConfigMaps in `mlops-system` (the `mlops-audit-writer` role); a sender without it is told so
//! before anything is written.

use std::time::{Duration, Instant};

use k8s_openapi::api::{
    authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        SubjectAccessReviewStatus,
    },
    coordination::v1::Lease,
};
use kube::{Api, api::PostParams};
use mlops_core::{
    CoreError,
    model::Driver,
    rollout::{CommandRecord, RolloutRecord},
};

use super::{KubeCluster, ModelRollout, err, lease, names::SYSTEM_NAMESPACE};

/// How long a command waits for its audit entry by default (`MLOPS_AUDIT_TIMEOUT`, seconds).
pub const AUDIT_WAIT: Duration = Duration::from_secs(20);
/// The environment variable that changes [`AUDIT_WAIT`].
pub const AUDIT_WAIT_ENV: &str = "MLOPS_AUDIT_TIMEOUT";
const POLL: Duration = Duration::from_millis(250);

/// Who writes a command's audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditBy {
    /// The controller holding the Lease (`holder`), from the rollout's status.
    Controller { holder: String },
    /// The sender, with their own rights, before the status write (no controller runs).
    Sender,
}

/// How long to wait for the controller's entry: `MLOPS_AUDIT_TIMEOUT` seconds, else
/// [`AUDIT_WAIT`]; a value that is not a number of seconds is named.
pub fn audit_wait() -> Result<Duration, CoreError> {
    parse_wait(std::env::var(AUDIT_WAIT_ENV).ok().as_deref())
}

fn parse_wait(value: Option<&str>) -> Result<Duration, CoreError> {
    match value {
        None => Ok(AUDIT_WAIT),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(s) if s > 0 => Ok(Duration::from_secs(s)),
            _ => Err(CoreError::rejected(
                "environment",
                format!(
                    "{AUDIT_WAIT_ENV}={v:?} is not a number of seconds (1 or more), such as 20"
                ),
            )),
        },
    }
}

impl KubeCluster {
    /// Who will write a command's audit entry: the controller when one holds a live Lease, else
    /// the sender (`check_sender_may_audit` says whether they may), with the reason no controller
    /// does.
    pub async fn audit_by(&self) -> Result<(AuditBy, String), CoreError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.lease.namespace);
        let lease_name = format!("{}/{}", self.lease.namespace, self.lease.name);
        let why = match api.get_opt(&self.lease.name).await {
            Ok(Some(l)) => match lease::driver_of(&l, self.driver_id.as_deref()) {
                Driver::Controller { holder } => {
                    return Ok((AuditBy::Controller { holder }, String::new()));
                }
                Driver::Embedded => {
                    format!("this console drives the rollouts (Lease {lease_name})")
                }
                Driver::Nobody => format!("no controller holds the Lease {lease_name}"),
            },
            Ok(None) => format!("no controller runs (there is no Lease {lease_name})"),
            Err(kube::Error::Api(s)) if s.code == 403 => format!(
                "whether a controller runs cannot be told (you may not read the Lease {lease_name}; `mlops install` lets everyone read it)"
            ),
            Err(e) => return Err(err(&format!("reading the Lease {lease_name}"), e)),
        };
        Ok((AuditBy::Sender, why))
    }

    /// With no controller (`no_controller` says why), the sender writes `command`'s entry: refused
    /// unless they may, naming what is missing.
    pub(super) async fn check_sender_may_audit(
        &self,
        namespace: &str,
        name: &str,
        verb: &str,
        no_controller: &str,
    ) -> Result<(), CoreError> {
        match self.may_write_audit().await? {
            Ok(()) => Ok(()),
            Err(who) => Err(CoreError::Refused {
                rollout: format!("{namespace}/{name}"),
                command: verb.to_string(),
                reason: format!(
                    "it could not be audited: {no_controller}, so you would write its audit entry yourself, and you ({who}) cannot create configmaps in {SYSTEM_NAMESPACE} (the role mlops-audit-writer, bound there to the group mlops-audit-writers); run `mlops controller`, which writes the log for everyone"
                ),
            }),
        }
    }

    /// Whether we may append to the audit log (create ConfigMaps in `mlops-system`), asked of
    /// the server; `Err(who we are)` when not.
    async fn may_write_audit(&self) -> Result<Result<(), String>, CoreError> {
        let answer = self
            .access_review("", "configmaps", "create", SYSTEM_NAMESPACE)
            .await?;
        if answer.allowed {
            Ok(Ok(()))
        } else {
            Ok(Err(self
                .identity()
                .await
                .unwrap_or_else(|_| "unknown".into())))
        }
    }

    /// Whether the cluster lets us use `verb` on `resource` (API group `group`) in `namespace`:
    /// the API server's own answer (a SelfSubjectAccessReview).
    pub(super) async fn access_review(
        &self,
        group: &str,
        resource: &str,
        verb: &str,
        namespace: &str,
    ) -> Result<SubjectAccessReviewStatus, CoreError> {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(group.into()),
                    resource: Some(resource.into()),
                    verb: Some(verb.into()),
                    namespace: Some(namespace.into()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| {
                err(
                    &format!("asking whether we may {verb} {resource} (SelfSubjectAccessReview)"),
                    e,
                )
            })?;
        Ok(answer.status.unwrap_or_default())
    }

    /// Wait until the command recorded at `sent.time` on `namespace/name` is marked audited by
    /// the controller `holder`, at most `wait`; the number of its entry (`None`: a later command
    /// replaced ours, which means ours was audited — the admission policy takes no command while
    /// the one before it waits for its entry).
    pub(super) async fn wait_audited(
        &self,
        namespace: &str,
        name: &str,
        sent: &CommandRecord,
        holder: &str,
    ) -> Result<Option<u64>, CoreError> {
        let not_yet = format!(
            "not acknowledged: the command is recorded in the rollout's status, but the controller ({holder}) has not written its audit entry"
        );
        self.wait_for_mark(namespace, name, &sent.verb, &not_yet, |cr| {
            match cr.status.as_ref().and_then(|s| s.last_command.as_ref()) {
                Some(c) if c.time == sent.time && c.audited.is_none() => None,
                Some(c) if c.time == sent.time => Some(c.audited),
                _ => Some(None),
            }
        })
        .await
    }

    /// Wait until the controller `holder` has written the start entry of the new rollout
    /// `namespace/name` and marked it (`status.startAudited`), at most `MLOPS_AUDIT_TIMEOUT`;
    /// the rollout as it is then.
    pub(super) async fn wait_start_audited(
        &self,
        namespace: &str,
        name: &str,
        holder: &str,
    ) -> Result<RolloutRecord, CoreError> {
        let not_yet = format!(
            "not acknowledged: the rollout is created, but the controller ({holder}) has not written its start entry in the audit log"
        );
        let context = self.context.clone();
        self.wait_for_mark(namespace, name, "start", &not_yet, |cr| {
            cr.status
                .as_ref()
                .and_then(|s| s.start_audited)
                .map(|_| cr.record(&context))
        })
        .await
    }

    /// Read `namespace/name` until `marked` finds what it waits for, at most `MLOPS_AUDIT_TIMEOUT`;
    /// past it, `verb` failed with `not_yet` and where to look.
    async fn wait_for_mark<T>(
        &self,
        namespace: &str,
        name: &str,
        verb: &str,
        not_yet: &str,
        marked: impl Fn(&ModelRollout) -> Option<T>,
    ) -> Result<T, CoreError> {
        let wait = audit_wait()?;
        let api: Api<ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        let deadline = Instant::now() + wait;
        loop {
            let cr = api
                .get(name)
                .await
                .map_err(|e| err(&format!("reading ModelRollout {namespace}/{name}"), e))?;
            if let Some(found) = marked(&cr) {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(err(
                    &format!("{verb} of ModelRollout {namespace}/{name}"),
                    format!(
                        "{not_yet} within {}s ({AUDIT_WAIT_ENV} sets how long to wait); it writes it when it gets to it: check `mlops audit list --target {namespace}/{name}` and the controller's log",
                        wait.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_read_from_the_environment_and_a_bad_value_is_named() {
        assert_eq!(parse_wait(None).ok(), Some(AUDIT_WAIT));
        assert_eq!(parse_wait(Some(" 45 ")).ok(), Some(Duration::from_secs(45)));
        for bad in ["0", "ten", "-3", ""] {
            let e = parse_wait(Some(bad)).expect_err(bad).to_string();
            assert!(
                e.contains(AUDIT_WAIT_ENV) && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
    }
}
