//! `mlops rollout …`: ModelRollouts on a real cluster — list, get, start, the operator verbs, and
//! the step templates.

use std::{process::ExitCode, time::Duration};

use anyhow::Result;
use clap::Subcommand;
use mlops_core::{
    CoreError,
    ports::RegistryPort,
    rollout::{
        self, ApprovalNeeds, ApprovalRefused, Command, RolloutKey, RolloutRecord, TicketRule, Verb,
    },
};

use super::{
    cluster_verb,
    output::{self, Output},
};
use crate::{
    adapters::{
        kube::{
            KubeCluster,
            names::{check_deployment, check_object_name},
            start::{StartFailed, StartPlan, start_rollout},
        },
        mlflow::check_model_name,
    },
    wiring::Options,
};

/// The longest `start --wait --timeout`: a week.
pub const MAX_WAIT_SECONDS: u64 = 7 * 24 * 3600;

#[derive(Debug, Subcommand)]
pub enum RolloutCmd {
    /// List the step templates `start --template` takes: shipped ones and the user's
    /// `[templates.NAME]` in config.toml.
    Templates,
    /// List rollouts (all namespaces unless -n is given).
    List,
    /// Start a canary rollout of a validated model version against its serving Deployment (what a
    /// CI/CD pipeline calls).
    Start(StartArgs),
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
    /// Wait for a rollout's outcome and exit with it: 0 promoted, 2 rolled back or aborted,
    /// 3 waiting for approval (0 with --until approval), 4 timed out, 1 failed or an error.
    Wait {
        name: String,
        /// `approval` ends successfully at an approval gate.
        #[arg(long, value_enum, default_value_t = super::rollout_wait::UntilArg::Promoted)]
        until: super::rollout_wait::UntilArg,
        /// Give up after this many seconds (at most a week): exit 4.
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECONDS))]
        timeout: u64,
    },
}

// The flags of `mlops rollout start` (its help is the variant's doc comment).
#[derive(Debug, clap::Args)]
pub struct StartArgs {
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
    /// Follow the rollout and exit with its outcome: 0 promoted, 2 rolled back or aborted,
    /// 3 waiting for approval, 4 timed out, 1 failed or an error.
    #[arg(long)]
    wait: bool,
    /// With --wait: `approval` ends successfully at an approval gate (the pipeline hands over
    /// to a release manager).
    #[arg(long, value_enum, default_value_t = super::rollout_wait::UntilArg::Promoted, requires = "wait")]
    until: super::rollout_wait::UntilArg,
    /// The change ticket (CHG-123), where policy.toml requires one.
    #[arg(long)]
    change: Option<String>,
    /// Also fail the analysis when the canary's input features drift from the stable's:
    /// the largest PSI over the features above this (0.1 moderate, 0.25 significant).
    #[arg(long, value_parser = parse_psi)]
    max_drift: Option<f64>,
    /// Also fail the analysis when the canary burns its SLO's error budget faster than this
    /// while the stable does not (a burn rate: 1 spends the budget exactly over the SLO's
    /// window; 14.4 spends 2 % of a 30-day budget in an hour).
    #[arg(long, value_parser = parse_burn)]
    max_burn: Option<f64>,
    /// The availability objective --max-burn burns against: the share of requests that must
    /// not fail with a 5xx (default: the model's SLO, `[slo]` in config.toml, else 0.995).
    #[arg(long, value_parser = parse_objective, requires = "max_burn")]
    slo_objective: Option<f64>,
    /// With --wait: give up after this many seconds (at most a week).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECONDS))]
    timeout: u64,
}

impl RolloutCmd {
    /// Whether the verb changes the cluster (refused under `--readonly`).
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            RolloutCmd::List
                | RolloutCmd::Get { .. }
                | RolloutCmd::Templates
                | RolloutCmd::Wait { .. }
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
            | RolloutCmd::Get { name }
            | RolloutCmd::Wait { name, .. } => Some(name),
            RolloutCmd::Templates | RolloutCmd::List | RolloutCmd::Start(_) => None,
        }
    }
}

pub fn run(cmd: &RolloutCmd, options: &Options, output: Output) -> Result<ExitCode> {
    // Names go into request paths: refuse a bad one before anything is sent.
    if let Some(name) = cmd.rollout_name() {
        check_object_name("ModelRollout", name)?;
    }
    match cmd {
        RolloutCmd::Templates => Ok(templates(options, output)),
        RolloutCmd::List => super::cluster_read(async || {
            let answers = super::each_cluster(options, false, async |c| c.rollouts().await).await?;
            Ok(answers.printed(|a| {
                output::render(output, &a.items, |r| output::rollout_table(r, a.several()))
            }))
        }),
        RolloutCmd::Get { name } if options.is_multi() => get_each(options, output, name),
        RolloutCmd::Get { name } => cluster_verb(options, async |c| {
            let r = c.rollout(&c.default_namespace(), name).await?;
            Ok(output::render(output, &r, output::rollout_detail))
        }),
        RolloutCmd::Approve {
            name,
            comment,
            change,
        } => approve(options, output, name, comment, change.as_deref()),
        RolloutCmd::Promote { .. }
        | RolloutCmd::Abort { .. }
        | RolloutCmd::Rollback { .. }
        | RolloutCmd::Pause { .. }
        | RolloutCmd::Resume { .. } => operator_verb(cmd, options, output),
        RolloutCmd::Start(args) => start(args, options, output),
        RolloutCmd::Wait {
            name,
            until,
            timeout,
        } => super::rollout_wait::wait(options, output, name, (*until).into(), *timeout),
    }
}

/// `mlops rollout get NAME --context a,b`: the rollout in every cluster named that has it (each
/// in its context's namespace, or `-n`'s), each with its cluster: a JSON array, or one detail
/// after another under `cluster:`. Found in none: an error naming the contexts searched.
fn get_each(options: &Options, output: Output, name: &str) -> Result<ExitCode> {
    super::cluster_read(async || {
        let answers = super::each_cluster(options, false, async |c| {
            match c.rollout(&c.default_namespace(), name).await {
                Ok(r) => Ok(vec![r]),
                Err(e) if e.kind() == mlops_core::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        })
        .await?;
        if answers.items.is_empty() && answers.answered() {
            let contexts: Vec<String> = options.read_contexts()?.into_iter().flatten().collect();
            let searched = if answers.failed.is_empty() {
                format!("in any of the contexts {}", contexts.join(", "))
            } else {
                format!("in the contexts that answered (of {})", contexts.join(", "))
            };
            let mut failed = answers.failed;
            failed.push(CoreError::of_kind(
                mlops_core::ErrorKind::NotFound,
                "kubernetes",
                format!("ModelRollout {name:?} not found {searched}"),
            ));
            return Ok(output::Partial { text: None, failed });
        }
        Ok(answers.printed(|a| match a.items.as_slice() {
            // `--all-contexts` over a kubeconfig of one context: as `--context` of one.
            [one] if !a.several() => output::render(output, one, output::rollout_detail),
            _ => output::render(output, &a.items, |all| {
                all.iter()
                    .map(|r| {
                        format!(
                            "cluster:  {}\n{}",
                            output::safe(&r.cluster),
                            output::rollout_detail(r)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n\n")
            }),
        }))
    })
}

/// `mlops rollout templates`: the shipped step templates and the user's.
fn templates(options: &Options, output: Output) -> ExitCode {
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
    ExitCode::SUCCESS
}

/// The reason a verb records, from its flag (`--comment`, `--reason`): refused when it says
/// nothing and the verb needs one (`Verb::needs_comment`: the audit trail needs a reason).
fn reason(verb: Verb, flag: &str, text: Option<&str>) -> Result<String> {
    let text = text.unwrap_or_default();
    if verb.needs_comment() && text.trim().is_empty() {
        anyhow::bail!("--{flag} must say why (it goes to the audit trail)");
    }
    Ok(text.to_string())
}

/// `mlops rollout approve`: the approval the core makes of the comment and change ticket
/// (`rollout::approval_comment`), checked against what the rollout needs
/// (`rollout::approval_needs`), sent as the cluster's user and tagged in the registry.
fn approve(
    options: &Options,
    output: Output,
    name: &str,
    comment: &str,
    change: Option<&str>,
) -> Result<ExitCode> {
    let comment = reason(Verb::Approve, "comment", Some(comment))?;
    cluster_verb(options, async |c| {
        let ns = c.default_namespace();
        let context = c.describe_context();
        let refuse = |e: ApprovalRefused| CoreError::Refused {
            rollout: format!("{ns}/{name}"),
            command: Verb::Approve.as_str().into(),
            reason: match e {
                ApprovalRefused::NoTicket(TicketRule::Config) => format!(
                    "policy.toml requires a change ticket on {context} in {ns}: give --change CHG-…"
                ),
                ApprovalRefused::NoTicket(TicketRule::Started) => {
                    format!("{e}: give --change CHG-…")
                }
                e => e.to_string(),
            },
        };
        // The ticket and the gate of policy.toml for this cluster and namespace first, before
        // anything is asked of the cluster; then the gate of the policy the rollout started
        // under (which the cluster enforces too).
        let recorded = rollout::approval_comment(change, &comment).map_err(refuse)?;
        let config = super::policy::load_policy(options)?.map(|p| p.for_target(&context, &ns));
        ApprovalNeeds::of_config(config.as_ref())
            .check(&recorded)
            .map_err(refuse)?;
        let r = c.rollout(&ns, name).await?;
        rollout::approval_needs(&r, config.as_ref())
            .check(&recorded)
            .map_err(refuse)?;
        let user = c.identity().await?;
        let command = Command::new(Verb::Approve, user.clone(), recorded);
        let r = send(options, &c, &r.key(), command).await?;
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

/// Send `command` to the rollout `key` and tag it in the registry (`rollout::send_and_tag`). The
/// command is done and audited once the cluster took it: a registry that cannot be built or did
/// not take the tags is a warning, not a failure.
async fn send(
    options: &Options,
    c: &KubeCluster,
    key: &RolloutKey,
    command: Command,
) -> Result<RolloutRecord, CoreError> {
    let (registry, broken) = match options.registry() {
        Some(Ok(r)) => (Some(r), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let sent = rollout::send_and_tag(
        c,
        registry.as_ref().map(|r| r as &dyn RegistryPort),
        key,
        command,
    )
    .await?;
    if let Some(e) = sent.untagged.or(broken) {
        warn_untagged(&sent.rollout, &e);
    }
    Ok(sent.rollout)
}

fn warn_untagged(r: &RolloutRecord, e: &CoreError) {
    eprintln!(
        "mlops: warning: done and audited, but the tags of {} v{} were not set in the registry: {}",
        output::safe(&r.spec.model.name),
        r.spec.model.version,
        output::error_text(e)
    );
}

/// A PSI threshold: a positive number (clap's value parser: its error is clap's message).
fn parse_psi(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a PSI threshold: a positive number such as 0.25"
        )),
    }
}

/// A burn rate threshold: a positive number.
fn parse_burn(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a burn rate: a positive number such as 14.4 (1 spends the error \
             budget exactly over the SLO's window)"
        )),
    }
}

/// An availability objective: a number between 0 and 1, both excluded.
fn parse_objective(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not an availability objective: a number between 0 and 1 such as 0.995 \
             (99.5 % of requests succeed)"
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

/// The analysis of a rollout of `args`: the default checks, and the drift and SLO burn gates
/// where asked (the burn over the analysis' own interval, at least a minute).
fn analysis(args: &StartArgs, options: &Options) -> rollout::AnalysisSpec {
    let mut a = rollout::default_analysis(&args.model);
    if let Some(max) = args.max_drift {
        a.metrics
            .push(rollout::drift_check(&args.model, args.version, max));
    }
    if let Some(max) = args.max_burn {
        // The model's SLO from config.toml (the flag over it), as `mlops health` judges it.
        let (spec, _) = options.settings.slo.config().spec_for(&args.model, None);
        a.metrics.push(rollout::slo_burn_check(
            &args.model,
            args.version,
            args.slo_objective.unwrap_or(spec.objective),
            max,
            a.interval_seconds,
            spec.window_seconds(),
        ));
    }
    a
}

/// `mlops rollout start`: everything that can be checked here is, before the registry or the
/// cluster is asked anything; then the policy gates, the serving Deployment, the rollout, and
/// with `--wait` its outcome.
fn start(args: &StartArgs, options: &Options, output: Output) -> Result<ExitCode> {
    let steps = find_template(options, &args.template)?;
    let deployment = args
        .deployment
        .clone()
        .unwrap_or_else(|| args.model.clone());
    check_model_name(&args.model)?;
    check_object_name("ModelRollout", &format!("{}-v{}", args.model, args.version))?;
    check_deployment(&deployment)?;
    let spec = rollout::RolloutSpec {
        model: rollout::ModelRef {
            name: args.model.clone(),
            version: args.version,
        },
        stable_version: 0,
        deployment,
        image: args
            .image
            .clone()
            .unwrap_or_else(|| "from-the-registry".into()),
        replicas: 1,
        http_route: None,
        steps,
        analysis: analysis(args, options),
        approval: rollout::ApprovalGate {
            required: args.approvers,
        },
    };
    rollout::validate(&spec)?;
    let runtime = crate::wiring::tokio_runtime(1)?;
    let started = |r: &RolloutRecord| {
        format!(
            "started {}/{}: {} v{} → v{}, {} steps{}",
            output::safe(&r.namespace),
            output::safe(&r.name),
            output::safe(&r.spec.model.name),
            r.spec.stable_version,
            args.version,
            r.spec.steps.len(),
            r.status
                .start_audited
                .map(|n| format!("; audit entry #{n}, written by the controller"))
                .unwrap_or_default()
        )
    };
    if args.wait {
        // The rollout's outcome is the exit code (0 promoted, 2 rolled back, 3 approval, 4 timed
        // out); a failure to start it is 1.
        let limit = Duration::from_secs(args.timeout);
        let result = runtime.block_on(async {
            let c = options.cluster().await?;
            let record = start_on(&c, args, options, spec).await?;
            let done = super::rollout_wait::wait_for(&c, &record.namespace, &record.name, limit)
                .await
                .map_err(StartFailed::Core)?;
            Ok::<_, StartFailed>((started(&record), done))
        });
        return Ok(match result {
            Ok((prefix, done)) => super::rollout_wait::finish(
                output,
                Some(&prefix),
                Ok(done),
                args.until.into(),
                limit,
            ),
            Err(e) => output::finish_with::<StartFailed>(Err(e)),
        });
    }
    let result = runtime.block_on(async {
        let c = options.cluster().await?;
        start_on(&c, args, options, spec).await
    });
    Ok(output::finish_with(
        result.map(|record| output::render(output, &record, started)),
    ))
}

/// The start on cluster `c`, from the `spec` checked offline: the one start path
/// (`adapters::kube::start`), with this user's registry and policy file.
async fn start_on(
    c: &KubeCluster,
    args: &StartArgs,
    options: &Options,
    spec: rollout::RolloutSpec,
) -> Result<RolloutRecord, StartFailed> {
    // A registry that cannot be built fails the start only where the image must come from it;
    // otherwise its tags are a warning, as with the operator verbs.
    let (registry, broken) = match options.registry() {
        Some(Ok(r)) => (Some(r), None),
        Some(Err(e)) if args.image.is_none() => return Err(e.into()),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let policy = super::policy::load_policy(options)?;
    let plan = StartPlan {
        namespace: c.default_namespace(),
        name: format!("{}-v{}", args.model, args.version),
        spec,
        image_given: args.image.is_some(),
        change: args.change.clone(),
        origin: None,
    };
    let started = start_rollout(
        c,
        registry.as_ref().map(|r| r as &dyn RegistryPort),
        policy.as_ref(),
        plan,
    )
    .await?;
    if let Some(e) = started.untagged.or(broken) {
        warn_untagged(&started.rollout, &e);
    }
    Ok(started.rollout)
}

/// promote, abort, rollback, pause, resume: recorded in the rollout's status as the cluster's
/// user, then tagged in the registry.
fn operator_verb(cmd: &RolloutCmd, options: &Options, output: Output) -> Result<ExitCode> {
    let (verb, name, text) = match cmd {
        RolloutCmd::Abort { name, reason } => (Verb::Abort, name, ("reason", Some(reason))),
        RolloutCmd::Rollback { name, reason } => (Verb::Rollback, name, ("reason", Some(reason))),
        RolloutCmd::Promote {
            name,
            comment,
            full,
        } => {
            let verb = if *full {
                Verb::PromoteFull
            } else {
                Verb::Promote
            };
            (verb, name, ("comment", comment.as_ref()))
        }
        RolloutCmd::Pause { name, comment } => (Verb::Pause, name, ("comment", comment.as_ref())),
        RolloutCmd::Resume { name, comment } => (Verb::Resume, name, ("comment", comment.as_ref())),
        _ => anyhow::bail!("internal: not an operator verb"),
    };
    let (flag, text) = text;
    let why = reason(verb, flag, text.map(String::as_str))?;
    cluster_verb(options, async |c| {
        let ns = c.default_namespace();
        let user = c.identity().await?;
        let key = RolloutKey {
            cluster: c.describe_context(),
            namespace: ns.clone(),
            name: name.clone(),
        };
        let r = send(options, &c, &key, Command::new(verb, user.clone(), why)).await?;
        Ok(output::render(output, &r, |r| {
            format!(
                "{}: {verb} {ns}/{name} recorded; now {} — the controller carries it out",
                output::safe(&user),
                r.status.phase
            )
        }))
    })
}
