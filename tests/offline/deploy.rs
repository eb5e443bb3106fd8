//! `deploy/` is generated from the one source `mlops install --dry-run` prints
//! (`mlops_console::cli::install_deploy`): a committed file that differs, or a file there that is
//! not generated, fails here. Regenerate with `MLOPS_BLESS_DEPLOY=1 cargo test --test offline deploy`.

use std::{collections::BTreeSet, fs, path::Path};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, as paths from the repository root.
fn tree(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            tree(&path, out);
        } else if let Ok(rel) = path.strip_prefix(root()) {
            out.insert(rel.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn deploy_is_generated_from_the_install_manifests() {
    let files = mlops_console::cli::install_deploy::files();
    let bless = std::env::var("MLOPS_BLESS_DEPLOY").is_ok_and(|v| !v.is_empty() && v != "0");
    let mut stale = Vec::new();
    for (rel, text) in &files {
        let path = root().join(rel);
        if bless {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            }
            fs::write(&path, text)
                .unwrap_or_else(|e| panic!("{}: cannot write: {e}", path.display()));
        } else if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(rel.clone());
        }
    }
    let generated: BTreeSet<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let mut there = BTreeSet::new();
    tree(&root().join("deploy/kustomize"), &mut there);
    tree(&root().join("deploy/helm"), &mut there);
    let extra: Vec<&String> = there.difference(&generated).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "deploy/ is not what `mlops install --dry-run` generates: stale {stale:?}, not generated {extra:?}.\n\
         Regenerate with `MLOPS_BLESS_DEPLOY=1 cargo test -p mlops-console --test offline deploy` and commit (delete files not generated)."
    );
}

#[test]
fn the_dry_run_yaml_comments_every_rule_of_the_controllers_roles() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlops"))
        .args(["install", "--controller", "--dry-run", "-o", "yaml"])
        .env("MLOPS_CONFIG_DIR", "/nonexistent/mlops-test-config")
        .output()
        .expect("run mlops");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8_lossy(&out.stdout);
    let reasons = out.matches("\n  # ").count();
    let rules = mlops_console::adapters::kube::deploy::ROLLOUT_RULES.len()
        + mlops_console::adapters::kube::deploy::LEASE_RULES.len()
        + mlops_console::adapters::kube::deploy::AUDIT_RULES.len();
    assert_eq!(reasons, rules, "{out}");
    assert!(
        out.contains(
            "  # events: records an Event for every rollout transition, and for a notification that failed or is misconfigured\n  - \"apiGroups\":"
        ),
        "{out}"
    );
}
