//! ModelRollouts: listing, reading, creating, and operator commands written to the status.

use chrono::Utc;
use k8s_openapi::{
    api::{
        apps::v1::Deployment as K8sDeployment,
        core::v1::{Event as K8sEvent, ObjectReference},
    },
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time},
};
use kube::{
    Api, Resource,
    api::{ListParams, PostParams},
};
use mlops_core::{
    CoreError,
    model::Deployment,
    policy,
    rollout::{self, Command, RolloutRecord, RolloutSpec, Verb},
};

use super::{
    KubeCluster,
    command_audit::AuditBy,
    crd::{ModelRollout, ModelRolloutSpec},
    err,
    map::map_deployment,
    names::{FIELD_MANAGER, check_deployment, check_namespace, check_object_name},
    rbac::{AUTHOR_ANNOTATION, POLICY_ANNOTATION, REGIONS_ANNOTATION, START_AUDIT_ANNOTATION},
};

/// What `rollout start` records with a new rollout besides its spec.
#[derive(Debug, Clone, Default)]
pub struct StartNote {
    /// The regions its pods must run in (data residency); empty: anywhere.
    pub regions: Vec<String>,
    /// The change ticket: the comment of its audit entry.
    pub change: String,
    /// The policy it starts under: checked again before it is promoted.
    pub policy: Option<policy::Recorded>,
    /// The RolloutTrigger (and delivery) that started it, if one did.
    pub origin: Option<super::start::Origin>,
}

impl KubeCluster {
    /// The ModelRollouts; none (not an error) when the CRD is not installed.
    pub async fn rollouts(&self) -> Result<Vec<RolloutRecord>, CoreError> {
        let api: Api<ModelRollout> = self.namespaced();
        match super::list_all(&api, &ListParams::default()).await {
            Ok(list) => Ok(list.iter().map(|r| r.record(&self.context)).collect()),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(err("listing ModelRollouts", e)),
        }
    }

    /// One ModelRollout.
    pub async fn rollout(&self, namespace: &str, name: &str) -> Result<RolloutRecord, CoreError> {
        check_namespace(namespace)?;
        check_object_name("ModelRollout", name)?;
        let api: Api<ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        match api.get(name).await {
            Ok(r) => Ok(r.record(&self.context)),
            Err(kube::Error::Api(status)) if status.is_not_found() => Err(CoreError::NotFound {
                kind: "ModelRollout",
                name: format!("{namespace}/{name}"),
            }),
            Err(e) => Err(err(&format!("reading ModelRollout {namespace}/{name}"), e)),
        }
    }

    /// Record an operator's command on a ModelRollout. The core decides whether the rollout's phase
    /// allows it (and refuses a duplicate approver); only the command's own status change is written
    /// — an approval, a pause flag, the phase a promote or abort moves to — with the resourceVersion
    /// it was read at. A conflict (another writer in between) is retried on fresh data, so two
    /// approvals sent at the same moment are both recorded. `mlops controller` carries out the
    /// consequences (traffic, registry) on its next reconcile. Its audit entry is written by that
    /// controller, and the command is acknowledged once it is (`command_audit`); with no
    /// controller running, by us before the status write.
    pub async fn send_command(
        &self,
        namespace: &str,
        name: &str,
        command: &Command,
    ) -> Result<RolloutRecord, CoreError> {
        check_namespace(namespace)?;
        check_object_name("ModelRollout", name)?;
        let api: Api<ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        // Who writes the entry: the controller (from the status), or we (no controller runs;
        // refused here if we may not write the log).
        let (by, no_controller) = self.audit_by().await?;
        let mut audited = None;
        for _ in 0..10 {
            let cr = api.get(name).await.map_err(|e| match e {
                kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                    kind: "ModelRollout",
                    name: format!("{namespace}/{name}"),
                },
                e => err(&format!("reading ModelRollout {namespace}/{name}"), e),
            })?;
            let record = cr.record(&self.context);
            // The command before ours still waits for its entry: the cluster takes no other
            // until it is written, so wait for it (bounded) and read again.
            if let (AuditBy::Controller { holder }, Some(previous)) = (
                &by,
                rollout::unaudited_command(&record).and(record.status.last_command.as_ref()),
            ) {
                self.wait_audited(namespace, name, previous, holder).await?;
                continue;
            }
            if command.verb == Verb::Approve {
                let author = cr
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(AUTHOR_ANNOTATION))
                    .map(String::as_str);
                // An admin's approval of a rollout created before authors were recorded is the
                // server's to refuse or allow (admins hold every verb); a known author is not a
                // second person.
                if author.is_some() {
                    rollout::check_two_person(name, author, &command.user)?;
                }
            }
            let mut status =
                rollout::record_command(name, &record.spec, &record.status, command, Utc::now())?;
            let write = async |status: &mlops_core::rollout::RolloutStatus, dry_run: bool| {
                let mut updated = cr.clone();
                updated.status = Some(status.clone());
                let params = PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    dry_run,
                };
                api.replace_status(name, &params, &updated).await
            };
            // No change without its audit entry. The server is asked first (a dry run: RBAC and
            // the admission policies answer), so a command it refuses is not recorded as done.
            if audited.is_none() {
                match write(&status, true).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => continue,
                    Err(e) => return Err(refused(namespace, name, command, e)),
                }
                if by == AuditBy::Sender {
                    self.check_sender_may_audit(namespace, name, command.verb(), &no_controller)
                        .await?;
                    let entry = rollout::command_audit(&record, command, &status, Utc::now());
                    audited = Some(self.append_audit(entry).await?);
                }
            }
            if let Some(entry) = &audited {
                mark(&mut status, entry.seq);
            }
            match write(&status, false).await {
                Ok(r) => {
                    let AuditBy::Controller { holder } = &by else {
                        // The command as an Event on the rollout, as its audit entry says it
                        // (the controller leaves it when it writes the entry).
                        if let Some(entry) = &audited {
                            self.post_event(
                                namespace,
                                &r.object_ref(&()),
                                command.verb.event_reason(),
                                &rollout::command_event(entry),
                                matches!(command.verb, Verb::Abort | Verb::Rollback),
                                &command.user,
                            )
                            .await;
                        }
                        return Ok(r.record(&self.context));
                    };
                    let sent = status.last_command.as_ref().ok_or_else(|| {
                        err("recording a command", "the status carries no lastCommand")
                    })?;
                    // Acknowledged once the controller has written its entry; the rollout as
                    // the command left it (the controller may have acted on it since), marked.
                    let seq = self.wait_audited(namespace, name, sent, holder).await?;
                    let mut record = r.record(&self.context);
                    if let Some(seq) = seq {
                        mark(&mut record.status, seq);
                    }
                    return Ok(record);
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(refused(namespace, name, command, e)),
            }
        }
        Err(err(
            &format!("{} ModelRollout {namespace}/{name}", command.verb()),
            "the status kept changing under us (10 conflicts); try again",
        ))
    }

    /// Record an approval by `user` (see `send_command`).
    pub async fn approve_as(
        &self,
        namespace: &str,
        name: &str,
        user: &str,
        comment: &str,
    ) -> Result<RolloutRecord, CoreError> {
        self.send_command(namespace, name, &Command::new(Verb::Approve, user, comment))
            .await
    }

    /// The serving Deployment a rollout starts from: its replicas and the version it serves.
    pub async fn serving(
        &self,
        namespace: &str,
        deployment: &str,
    ) -> Result<Deployment, CoreError> {
        check_namespace(namespace)?;
        check_deployment(deployment)?;
        let api: Api<K8sDeployment> = Api::namespaced(self.client.clone(), namespace);
        let d = api.get(deployment).await.map_err(|e| match e {
            kube::Error::Api(s) if s.is_not_found() => CoreError::NotFound {
                kind: "Deployment",
                name: format!("{namespace}/{deployment}"),
            },
            e => err(&format!("reading Deployment {namespace}/{deployment}"), e),
        })?;
        map_deployment(&d, &self.context).ok_or_else(|| {
            err(
                &format!("Deployment {namespace}/{deployment}"),
                "has no mlops.dev/model label: it is not a model server",
            )
        })
    }

    /// Create a ModelRollout; refuses one that exists already.
    pub async fn create_rollout(
        &self,
        namespace: &str,
        name: &str,
        spec: RolloutSpec,
    ) -> Result<RolloutRecord, CoreError> {
        self.create_pinned_rollout(namespace, name, spec, &StartNote::default())
            .await
    }

    /// Create a ModelRollout with what `note` says: the regions its pods run in, the policy it
    /// starts under (both annotations the cluster keeps from changing), and the change ticket
    /// and policy evidence of its audit entry.
    pub async fn create_pinned_rollout(
        &self,
        namespace: &str,
        name: &str,
        spec: RolloutSpec,
        note: &StartNote,
    ) -> Result<RolloutRecord, CoreError> {
        let regions = &note.regions;
        check_namespace(namespace)?;
        check_object_name("ModelRollout", name)?;
        check_deployment(&spec.deployment)?;
        let api: Api<ModelRollout> = Api::namespaced(self.client.clone(), namespace);
        let exists = api
            .get_opt(name)
            .await
            .map_err(|e| err(&format!("reading ModelRollout {namespace}/{name}"), e))?
            .is_some();
        let mut entry = rollout::StartEntry {
            comment: note.change.clone(),
            details: start_details(&spec, note),
            audited: None,
            sent: Some(chrono::Utc::now()),
        };
        // Who writes the start entry: the controller holding the Lease, from what the rollout
        // records (people need no write rights on the audit log); else we do, now. The
        // controller's own triggers write theirs at once.
        let by = if note.origin.is_some() {
            AuditBy::Sender
        } else {
            let (by, no_controller) = self.audit_by().await?;
            if by == AuditBy::Sender && !exists {
                self.check_sender_may_audit(namespace, name, "start", &no_controller)
                    .await?;
            }
            by
        };
        if by == AuditBy::Sender && !exists {
            let written = self
                .audit(
                    rollout::START_ACTION,
                    &format!("{namespace}/{name}"),
                    &entry.comment,
                    &entry.details,
                )
                .await?;
            entry.audited = Some(written.seq);
        }
        let mut mr = ModelRollout::new(name, ModelRolloutSpec { rollout: spec });
        mr.metadata.namespace = Some(namespace.to_string());
        // Who started it: the two-person rule keeps them from approving it (the cluster's
        // admission policy checks that this names the creator).
        let mut annotations = std::collections::BTreeMap::from([(
            AUTHOR_ANNOTATION.to_string(),
            self.identity().await?,
        )]);
        if !regions.is_empty() {
            annotations.insert(REGIONS_ANNOTATION.to_string(), regions.join(","));
        }
        if let Some(policy) = &note.policy {
            let json = serde_json::to_string(policy)
                .map_err(|e| err("encoding the rollout's policy", e))?;
            annotations.insert(POLICY_ANNOTATION.to_string(), json);
        }
        if let Some(origin) = &note.origin {
            annotations.insert(
                mlops_core::triggers::TRIGGERED_BY_ANNOTATION.to_string(),
                origin.trigger.clone(),
            );
            annotations.insert(
                mlops_core::triggers::DELIVERY_ANNOTATION.to_string(),
                origin.delivery.clone(),
            );
        }
        annotations.insert(
            START_AUDIT_ANNOTATION.to_string(),
            serde_json::to_string(&entry).map_err(|e| err("encoding the start entry", e))?,
        );
        mr.metadata.annotations = Some(annotations);
        let created = match api
            .create(
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PostParams::default()
                },
                &mr,
            )
            .await
        {
            Ok(r) => r,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                return Err(err(
                    &format!("creating ModelRollout {namespace}/{name}"),
                    "it exists already",
                ));
            }
            Err(e) => return Err(err(&format!("creating ModelRollout {namespace}/{name}"), e)),
        };
        match by {
            AuditBy::Controller { holder } => {
                self.wait_start_audited(namespace, name, &holder).await
            }
            AuditBy::Sender => Ok(created.record(&self.context)),
        }
    }
}

/// What a start entry says after its change ticket: the versions, steps and image, the regions
/// it is pinned to, the policy's evidence and the trigger that started it.
fn start_details(spec: &RolloutSpec, note: &StartNote) -> String {
    let pinned = if note.regions.is_empty() {
        String::new()
    } else {
        format!(", pinned to {}", note.regions.join(","))
    };
    let evidence = note
        .policy
        .as_ref()
        .map(|p| format!("; {}", p.start.evidence()))
        .unwrap_or_default();
    let origin = note
        .origin
        .as_ref()
        .map(|o| {
            format!(
                "; started by RolloutTrigger {} (delivery {})",
                o.trigger, o.delivery
            )
        })
        .unwrap_or_default();
    format!(
        "{} v{} → v{}, {} steps, image {}{pinned}{evidence}{origin}",
        spec.model.name,
        spec.stable_version,
        spec.model.version,
        spec.steps.len(),
        spec.image
    )
}

/// An Event to record about `object` (for `kubectl describe` and `kubectl get events`),
/// reported by `instance`, with the time it happened: a controller's passes queue theirs to one
/// writer (`KubeCluster::record_event`) rather than wait on the API server.
pub struct PendingEvent {
    pub namespace: String,
    pub object: ObjectReference,
    pub reason: String,
    pub message: String,
    pub warning: bool,
    pub instance: String,
    pub at: chrono::DateTime<Utc>,
}

impl KubeCluster {
    /// An Event about `object`, now, reported by `instance`. A courtesy: failing to record one
    /// stops nothing, it is logged.
    pub async fn post_event(
        &self,
        namespace: &str,
        object: &ObjectReference,
        reason: &str,
        message: &str,
        warning: bool,
        instance: &str,
    ) {
        self.record_event(PendingEvent {
            namespace: namespace.to_string(),
            object: object.clone(),
            reason: reason.to_string(),
            message: message.to_string(),
            warning,
            instance: instance.to_string(),
            at: Utc::now(),
        })
        .await;
    }

    /// Record `e` (failing stops nothing: it is logged).
    pub async fn record_event(&self, e: PendingEvent) {
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &e.namespace);
        let at = super::time::to_k8s(e.at);
        let event = K8sEvent {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", e.object.name.as_deref().unwrap_or("mlops"))),
                namespace: Some(e.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: e.object,
            // The API server keeps at most 1 KiB of a message.
            message: Some(mlops_core::text::truncate_bytes(&e.message, 1000).into_owned()),
            type_: Some(if e.warning { "Warning" } else { "Normal" }.into()),
            first_timestamp: Some(Time(at)),
            last_timestamp: Some(Time(at)),
            event_time: Some(MicroTime(at)),
            reporting_component: Some(FIELD_MANAGER.into()),
            reporting_instance: Some(e.instance),
            action: Some(e.reason.clone()),
            reason: Some(e.reason),
            count: Some(1),
            ..K8sEvent::default()
        };
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            crate::logging::warn_limited(
                "kube.event",
                &format!("could not record an Event: {}", super::error_chain(&e)),
            );
        }
    }
}

/// Mark the command recorded in `status` as audited by entry `seq`.
fn mark(status: &mut mlops_core::rollout::RolloutStatus, seq: u64) {
    if let Some(c) = status.last_command.as_mut() {
        c.audited = Some(seq);
    }
}

/// A command the API server did not take: its own words (RBAC's "forbidden", the admission
/// policy's message), with the rollout and the verb.
fn refused(namespace: &str, name: &str, command: &Command, e: kube::Error) -> CoreError {
    match e {
        kube::Error::Api(s) if s.code == 403 || s.code == 422 => CoreError::Refused {
            rollout: format!("{namespace}/{name}"),
            command: command.verb().to_string(),
            reason: format!("the cluster refused it: {}", s.message),
        },
        e => err(
            &format!("writing the status of ModelRollout {namespace}/{name}"),
            e,
        ),
    }
}
