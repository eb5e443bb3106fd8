//! `mlops rollout …`: ModelRollouts on a real cluster — list, get, start, the operator verbs, and
//! the step templates.

use std::{process::ExitCode, time::Duration};

use anyhow::Result;
use clap::Subcommand;
use mlops_core::{
    CoreError,
    ports::RegistryPort,
    rollout::{self, Command, Phase, RolloutRecord, Verb},
};

use super::{
    cluster_verb,
    output::{self, Output},
};
use crate::{
    adapters::{
        kube::{
            KubeCluster, StartNote,
            names::{check_deployment, check_object_name},
        },
        mlflow::check_model_name,
    },
    wiring::Options,
};

/// The longest `start --wait --timeout`: a week.
pub const MAX_WAIT_SECONDS: u64 = 7 * 24 * 3600;
/// How often `start --wait` reads the rollout again.
const WAIT_POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Subcommand)]
pub enum RolloutCmd {
    /// List the step templates `start --template` takes: shipped ones and the user's
    /// `[templates.NAME]` in config.toml.
    Templates,
    /// List rollouts (all namespaces unless -n is given).
    List,
    /// Start a canary rollout of a validated model version against its serving Deployment (what a
    /// CI/CD pipeline calls).
    Start {
        /// The registered model.
        #[arg(long)]
        model: String,
        /// The version to roll out.
        #[arg(long)]
        version: u32,
        /// Step template: canary, canary-approval, quick, or one of yours from config.toml
        /// (`mlops rollout templates` lists them).
        #[arg(long, default_value = "canary")]
        template: String,
        /// Container image; default: the version's `image` tag in the registry (MLFLOW_TRACKING_URI).
        #[arg(long)]
        image: Option<String>,
        /// The serving Deployment; default: the model's name.
        #[arg(long)]
        deployment: Option<String>,
        /// Approvers an approval step needs.
        #[arg(long, default_value_t = 1)]
        approvers: u32,
        /// Follow the rollout; exit 0 only when it is Promoted.
        #[arg(long)]
        wait: bool,
        /// The change ticket (CHG-123), where policy.toml requires one.
        #[arg(long)]
        change: Option<String>,
        /// Also fail the analysis when the canary's input features drift from the stable's:
        /// the largest PSI over the features above this (0.1 moderate, 0.25 significant).
        #[arg(long, value_parser = parse_psi)]
        max_drift: Option<f64>,
        /// With --wait: give up after this many seconds (at most a week).
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECONDS))]
        timeout: u64,
    },
    /// Approve a rollout waiting at an approval gate, as the user the cluster says you are.
    Approve {
        name: String,
        /// Why: goes to the rollout's approvals and the audit trail.
        #[arg(long)]
        comment: String,
        /// The change ticket (CHG-123), recorded with the approval; required where
        /// policy.toml says `change_ticket = true`.
        #[arg(long)]
        change: Option<String>,
    },
    /// Skip the current step (a pause, a weight), or with --full go straight to promotion.
    /// An approval gate cannot be skipped.
    Promote {
        name: String,
        #[arg(long)]
        full: bool,
        /// Why: goes to the status history and the audit trail.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Abort: all traffic back to stable.
    Abort {
        name: String,
        /// Why: goes to the status and the audit trail.
        #[arg(long)]
        reason: String,
    },
    /// Roll back a rollout under way.
    Rollback {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Hold the rollout where it is.
    Pause {
        name: String,
        /// Why: goes to the status history and the audit trail.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Let a paused rollout go on.
    Resume {
        name: String,
        /// Why: goes to the status history and the audit trail.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Show one rollout: spec, status, history.
    Get { name: String },
}

impl RolloutCmd {
    /// Whether the verb changes the cluster (refused under `--readonly`).
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            RolloutCmd::List | RolloutCmd::Get { .. } | RolloutCmd::Templates
        )
    }

    /// The rollout a verb names, if it names one.
    fn rollout_name(&self) -> Option<&str> {
        match self {
            RolloutCmd::Approve { name, .. }
            | RolloutCmd::Promote { name, .. }
            | RolloutCmd::Abort { name, .. }
            | RolloutCmd::Rollback { name, .. }
            | RolloutCmd::Pause { name, .. }
            | RolloutCmd::Resume { name, .. }
            | RolloutCmd::Get { name } => Some(name),
            RolloutCmd::Templates | RolloutCmd::List | RolloutCmd::Start { .. } => None,
        }
    }
}

pub fn run(cmd: &RolloutCmd, options: &Options, output: Output) -> Result<ExitCode> {
    // Names go into request paths: refuse a bad one before anything is sent.
    if let Some(name) = cmd.rollout_name() {
        check_object_name("ModelRollout", name)?;
    }
    match cmd {
        RolloutCmd::Templates => {
            for e in &options.config_errors {
                eprintln!("warning: {}", output::error_text(e));
            }
            let all = options.settings.templates();
            output::print(&output::render(output, &all, |all| {
                all.iter()
                    .map(|t| {
                        let steps: Vec<String> = t.steps.iter().map(ToString::to_string).collect();
                        format!(
                            "{:<18} {:<8} {}\n{:<27} {}",
                            output::safe(&t.name),
                            if t.builtin { "shipped" } else { "config" },
                            output::safe(&t.description),
                            "",
                            output::safe(&steps.join(" → "))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }));
            Ok(ExitCode::SUCCESS)
        }
        RolloutCmd::List => cluster_verb(options, async |c| {
            let rollouts = c.rollouts().await?;
            Ok(output::render(output, &rollouts, |r| {
                output::rollout_table(r)
            }))
        }),
        RolloutCmd::Get { name } => cluster_verb(options, async |c| {
            let r = c.rollout(&c.default_namespace(), name).await?;
            Ok(output::render(output, &r, output::rollout_detail))
        }),
        RolloutCmd::Approve {
            name,
            comment,
            change,
        } => {
            if comment.trim().is_empty() {
                anyhow::bail!("--comment must say why (it goes to the audit trail)");
            }
            cluster_verb(options, async |c| {
                let ns = c.default_namespace();
                let ticket = change.as_deref().map(str::trim).filter(|t| !t.is_empty());
                let refuse = |reason: String| CoreError::Refused {
                    rollout: format!("{ns}/{name}"),
                    command: "approve".into(),
                    reason,
                };
                if let Some(t) = ticket {
                    mlops_core::policy::check_ticket(t).map_err(refuse)?;
                }
                // The change-ticket gate: of policy.toml for this cluster and namespace (before
                // anything is asked of the cluster), then of the policy the rollout started
                // under (which the cluster enforces too).
                let policy = super::policy::load_policy(options)?;
                if ticket.is_none()
                    && policy
                        .is_some_and(|p| p.for_target(&c.describe_context(), &ns).change_ticket)
                {
                    return Err(refuse(format!(
                        "policy.toml requires a change ticket on {} in {ns}: give --change CHG-…",
                        c.describe_context()
                    )));
                }
                if ticket.is_none()
                    && c.rollout(&ns, name)
                        .await?
                        .policy
                        .is_some_and(|p| p.rules.change_ticket)
                {
                    return Err(refuse(
                        "the policy this rollout started under requires a change ticket: give --change CHG-…".into(),
                    ));
                }
                // The ticket is recorded with the approval and in the audit trail.
                let comment = match ticket {
                    Some(t) => format!("{t}: {}", comment.trim()),
                    None => comment.clone(),
                };
                let user = c.identity().await?;
                let r = c.approve_as(&ns, name, &user, &comment).await?;
                let tags =
                    rollout::command_tags(&r, &Command::new(Verb::Approve, user.clone(), comment));
                tag_in_registry(options, &r, &tags).await;
                Ok(output::render(output, &r, |r| {
                    format!(
                        "{} approved {ns}/{name}: {}/{} approvals",
                        output::safe(&user),
                        r.status.approvals.len(),
                        r.spec.approval.required
                    )
                }))
            })
        }
        RolloutCmd::Promote { .. }
        | RolloutCmd::Abort { .. }
        | RolloutCmd::Rollback { .. }
        | RolloutCmd::Pause { .. }
        | RolloutCmd::Resume { .. } => operator_verb(cmd, options, output),
        RolloutCmd::Start {
            model,
            version,
            template,
            image,
            deployment,
            approvers,
            wait,
            timeout,
            change,
            max_drift,
        } => {
            let analysis = || {
                let mut a = rollout::default_analysis(model);
                if let Some(max) = max_drift {
                    a.metrics.push(rollout::drift_check(model, *version, *max));
                }
                a
            };
            let steps = find_template(options, template)?;
            let deployment = deployment.clone().unwrap_or_else(|| model.clone());
            // Everything that can be checked here is, before the registry or the cluster is
            // asked anything.
            check_model_name(model)?;
            check_object_name("ModelRollout", &format!("{model}-v{version}"))?;
            check_deployment(&deployment)?;
            rollout::validate(&rollout::RolloutSpec {
                model: rollout::ModelRef {
                    name: model.clone(),
                    version: *version,
                },
                stable_version: 0,
                deployment: deployment.clone(),
                image: image.clone().unwrap_or_else(|| "from-the-registry".into()),
                replicas: 1,
                http_route: None,
                steps: steps.clone(),
                analysis: analysis(),
                approval: rollout::ApprovalGate {
                    required: *approvers,
                },
            })?;
            cluster_verb(options, async |c| {
                let ns = c.default_namespace();
                let image = match image {
                    Some(i) => i.clone(),
                    None => image_from_registry(options, model, *version).await?,
                };
                let name = format!("{model}-v{version}");
                let ticket = change.as_deref().map(str::trim).unwrap_or_default();
                if !ticket.is_empty() {
                    mlops_core::policy::check_ticket(ticket).map_err(|reason| {
                        CoreError::Refused {
                            rollout: format!("{ns}/{name}"),
                            command: "start".into(),
                            reason,
                        }
                    })?;
                }
                let mut note = StartNote {
                    change: ticket.to_string(),
                    ..StartNote::default()
                };
                // The policy gates (policy.toml), before anything changes.
                if let Some(recorded) =
                    super::policy::verdict(options, &c, &ns, model, *version, change.as_deref())
                        .await?
                {
                    if let Some(why) = recorded.start.refusal() {
                        return Err(CoreError::Refused {
                            rollout: format!("{ns}/{name}"),
                            command: "start".into(),
                            reason: why,
                        });
                    }
                    // Residency on a multi-region cluster: the pods are pinned to the regions
                    // allowed (the canary's and, once promoted, the stable's).
                    note.regions = recorded.start.pinned_regions.clone().unwrap_or_default();
                    note.policy = Some(recorded);
                }
                let serving = c.serving(&ns, &deployment).await?;
                let spec = rollout::RolloutSpec {
                    model: rollout::ModelRef {
                        name: model.clone(),
                        version: *version,
                    },
                    stable_version: serving.version,
                    deployment: deployment.clone(),
                    image,
                    replicas: serving.replicas.max(1),
                    http_route: None,
                    steps,
                    analysis: analysis(),
                    approval: rollout::ApprovalGate {
                        required: *approvers,
                    },
                };
                rollout::validate(&spec)?;
                let mut record = c.create_pinned_rollout(&ns, &name, spec, &note).await?;
                let user = c.identity().await?;
                let tags = rollout::action_tags(
                    rollout::START_ACTION,
                    &user,
                    chrono::Utc::now(),
                    ticket,
                    &record,
                );
                tag_in_registry(options, &record, &tags).await;
                if *wait {
                    record = wait_until_done(&c, &ns, &name, Duration::from_secs(*timeout)).await?;
                }
                Ok(output::render(output, &record, |r| {
                    format!(
                        "started {ns}/{name}: {} v{} → v{version}, {} steps",
                        output::safe(&r.spec.model.name),
                        r.spec.stable_version,
                        r.spec.steps.len()
                    )
                }))
            })
        }
    }
}

/// Leave an action's tags on the rollout's model version, where a registry is configured. The
/// action is done and audited by then: a registry that cannot take the tags is a warning, not a
/// failure.
async fn tag_in_registry(options: &Options, r: &RolloutRecord, tags: &[(String, String)]) {
    let Some(registry) = options.registry() else {
        return;
    };
    let result = match registry {
        Ok(registry) => rollout::tag_version(&registry, r, tags).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!(
            "mlops: warning: done and audited, but the tags of {} v{} were not set in the registry: {}",
            output::safe(&r.spec.model.name),
            r.spec.model.version,
            output::error_text(&e.to_string())
        );
    }
}

/// A PSI threshold: a positive number.
fn parse_psi(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a PSI threshold: a positive number such as 0.25"
        )),
    }
}

/// The steps of a template by name, from the shipped ones and the user's config.toml.
fn find_template(options: &Options, name: &str) -> Result<Vec<rollout::Step>> {
    let all = options.settings.templates();
    if let Some(t) = all.iter().find(|t| t.name == name) {
        return Ok(t.steps.clone());
    }
    let known: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    let why = format!("unknown template {name:?} (known: {})", known.join(", "));
    if options.config_errors.is_empty() {
        anyhow::bail!(why)
    }
    let errors: Vec<String> = options
        .config_errors
        .iter()
        .map(ToString::to_string)
        .collect();
    anyhow::bail!(
        "{why}; config.toml has errors, so its templates were not read:\n  {}",
        errors.join("\n  ")
    )
}

/// The `image` tag of a model version in the registry.
async fn image_from_registry(
    options: &Options,
    model: &str,
    version: u32,
) -> Result<String, CoreError> {
    let registry = options.require_registry()?;
    let m = registry.model(model).await?;
    let v = m.require_version(version)?;
    v.image().map(str::to_string).ok_or_else(|| {
        CoreError::backend(
            "mlflow",
            format!("{model} v{version} has no `image` tag; pass --image"),
        )
    })
}

/// Follow a rollout until it is Promoted (Ok), or RolledBack/Failed/timed out (an error that says why).
async fn wait_until_done(
    c: &KubeCluster,
    ns: &str,
    name: &str,
    limit: Duration,
) -> Result<RolloutRecord, CoreError> {
    let start = tokio::time::Instant::now();
    // A limit past what the clock can hold means "no limit", never an overflow.
    let deadline = start.checked_add(limit);
    let why = |r: &RolloutRecord| {
        if r.status.message.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", r.status.message)
        }
    };
    loop {
        let r = c.rollout(ns, name).await?;
        match r.status.phase {
            Phase::Promoted => return Ok(r),
            Phase::RolledBack | Phase::Failed => {
                return Err(CoreError::backend(
                    "rollout",
                    format!("{ns}/{name} is {}{}", r.status.phase, why(&r)),
                ));
            }
            _ => {}
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return Err(CoreError::backend(
                "rollout",
                format!(
                    "{ns}/{name} is still {} after {}s (step {}){}",
                    r.status.phase,
                    limit.as_secs(),
                    r.step_label(),
                    why(&r)
                ),
            ));
        }
        tokio::time::sleep(WAIT_POLL.min(limit)).await;
    }
}

/// promote, abort, rollback, pause, resume: recorded in the rollout's status as the cluster's user.
fn operator_verb(cmd: &RolloutCmd, options: &Options, output: Output) -> Result<ExitCode> {
    let (name, reason) = match cmd {
        RolloutCmd::Abort { name, reason } | RolloutCmd::Rollback { name, reason } => {
            if reason.trim().is_empty() {
                anyhow::bail!("--reason must say why (it goes to the audit trail)");
            }
            (name, reason.clone())
        }
        RolloutCmd::Promote { name, comment, .. }
        | RolloutCmd::Pause { name, comment }
        | RolloutCmd::Resume { name, comment } => (name, comment.clone().unwrap_or_default()),
        _ => anyhow::bail!("internal: not an operator verb"),
    };
    let verb = match cmd {
        RolloutCmd::Promote { full: true, .. } => Verb::PromoteFull,
        RolloutCmd::Promote { .. } => Verb::Promote,
        RolloutCmd::Abort { .. } => Verb::Abort,
        RolloutCmd::Rollback { .. } => Verb::Rollback,
        RolloutCmd::Pause { .. } => Verb::Pause,
        _ => Verb::Resume,
    };
    let command = |user: String| Command::new(verb, user, reason);
    cluster_verb(options, async |c| {
        let ns = c.default_namespace();
        let user = c.identity().await?;
        let command = command(user.clone());
        let verb = command.verb();
        let r = c.send_command(&ns, name, &command).await?;
        tag_in_registry(options, &r, &rollout::command_tags(&r, &command)).await;
        Ok(output::render(output, &r, |r| {
            format!(
                "{}: {verb} {ns}/{name} recorded; now {} — the controller carries it out",
                output::safe(&user),
                r.status.phase
            )
        }))
    })
}
