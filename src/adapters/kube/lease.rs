//! The Lease that decides who drives rollouts: one unit with its parameters (namespace, name,
//! duration, renewal period). `mlops controller` and a console driving rollouts itself acquire,
//! renew and release it here; the console's status bar reads who holds it.

use std::time::Duration;

use chrono::Utc;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{Api, Client, api::PostParams};
use mlops_core::{CoreError, model::Driver};

use super::{
    err,
    names::{CONSOLE_PREFIX, LEASE_NAME, SYSTEM_NAMESPACE},
};

/// Where the Lease is and how long a holder keeps it without renewing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseParams {
    pub namespace: String,
    pub name: String,
    /// A holder that has not renewed for this long has lost the lease.
    pub duration: Duration,
    /// How often the holder renews (well inside `duration`).
    pub renew_every: Duration,
}

impl Default for LeaseParams {
    fn default() -> Self {
        Self {
            namespace: SYSTEM_NAMESPACE.into(),
            name: LEASE_NAME.into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// What trying to take or renew the lease came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Someone else holds a live lease: `holder` when we read who (`None`: another candidate
    /// won the write just now).
    No { holder: Option<String> },
    /// We hold it. `from_console`: it was taken from a console driving rollouts, which needs a
    /// renewal period to notice before we act.
    Yes { from_console: bool },
}

/// The Lease as `holder` sees it.
#[derive(Clone)]
pub struct LeaseLock {
    api: Api<Lease>,
    params: LeaseParams,
    holder: String,
}

impl LeaseLock {
    pub fn new(client: Client, holder: &str, params: LeaseParams) -> Self {
        Self {
            api: Api::namespaced(client, &params.namespace),
            params,
            holder: holder.to_string(),
        }
    }

    pub fn params(&self) -> &LeaseParams {
        &self.params
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.params.duration.as_secs()).unwrap_or(i32::MAX)
    }

    fn what(&self) -> String {
        format!("Lease {}/{}", self.params.namespace, self.params.name)
    }

    /// Take the lease when it is free or expired, renew it when ours; with `preempt_console`
    /// (a headless controller) also take it from a console driving rollouts. The write carries
    /// the resourceVersion read, so two candidates cannot both win.
    pub async fn try_acquire_or_renew(&self, preempt_console: bool) -> Result<Acquired, CoreError> {
        let now = Utc::now();
        let micro = MicroTime(super::time::to_k8s(now));
        let current = self
            .api
            .get_opt(&self.params.name)
            .await
            .map_err(|e| err(&format!("reading {}", self.what()), e))?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.params.name.clone()),
                    namespace: Some(self.params.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.holder.clone()),
                    lease_duration_seconds: Some(self.duration_seconds()),
                    acquire_time: Some(micro.clone()),
                    renew_time: Some(micro),
                    ..LeaseSpec::default()
                }),
            };
            return Ok(
                if self
                    .api
                    .create(&PostParams::default(), &lease)
                    .await
                    .is_ok()
                {
                    Acquired::Yes {
                        from_console: false,
                    }
                } else {
                    Acquired::No { holder: None }
                },
            );
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let renewed = spec
            .renew_time
            .as_ref()
            .map_or(0, |t| super::time::from_k8s(t.0).timestamp());
        let expired = holder.is_empty()
            || now.timestamp() - renewed
                > i64::from(
                    spec.lease_duration_seconds
                        .unwrap_or(self.duration_seconds()),
                );
        let mine = holder == self.holder;
        let from_console =
            !mine && !expired && preempt_console && holder.starts_with(CONSOLE_PREFIX);
        if !mine && !expired && !from_console {
            return Ok(Acquired::No {
                holder: Some(holder),
            });
        }
        let mut new = spec;
        if !mine {
            new.acquire_time = Some(micro.clone());
            new.lease_transitions = Some(new.lease_transitions.unwrap_or(0) + 1);
        }
        new.holder_identity = Some(self.holder.clone());
        new.lease_duration_seconds = Some(self.duration_seconds());
        new.renew_time = Some(micro);
        lease.spec = Some(new);
        Ok(
            if self
                .api
                .replace(&self.params.name, &PostParams::default(), &lease)
                .await
                .is_ok()
            {
                Acquired::Yes { from_console }
            } else {
                Acquired::No { holder: None }
            },
        )
    }

    /// Give the lease up if we hold it, so the next candidate need not wait for it to expire.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.params.name).await else {
            return;
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.holder.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        lease.spec = Some(spec);
        match self
            .api
            .replace(&self.params.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(holder = %self.holder, "released the lease"),
            Err(e) => tracing::warn!(error = %e, "releasing the lease"),
        }
    }
}

/// Who drives the rollouts according to `lease`: this process (`me`), another holder whose lease
/// is live, or nobody.
pub fn driver_of(lease: &Lease, me: Option<&str>) -> Driver {
    let spec = lease.spec.clone().unwrap_or_default();
    let renewed = spec
        .renew_time
        .map_or(0, |t| super::time::from_k8s(t.0).timestamp());
    let live = Utc::now().timestamp() - renewed
        <= i64::from(
            spec.lease_duration_seconds
                .unwrap_or(LeaseParams::default().duration_seconds_i32()),
        );
    match spec.holder_identity {
        Some(holder) if live && me == Some(holder.as_str()) => Driver::Embedded,
        Some(holder) if live && !holder.is_empty() => Driver::Controller { holder },
        _ => Driver::Nobody,
    }
}

impl LeaseParams {
    fn duration_seconds_i32(&self) -> i32 {
        i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// Who drives the rollouts now, read from the lease (`me`: this process's identity).
pub async fn driver(client: Client, params: &LeaseParams, me: Option<&str>) -> Driver {
    let api: Api<Lease> = Api::namespaced(client, &params.namespace);
    match api.get_opt(&params.name).await {
        Ok(Some(lease)) => driver_of(&lease, me),
        _ => Driver::Nobody,
    }
}
