//! Users of the test cluster: client certificates signed by its CA, their groups in O=.

use std::path::{Path, PathBuf};

/// A kubeconfig for `name` in `groups` (each an O= of its certificate; none: no group), with a
/// client certificate from the cluster's CA.
pub fn kubeconfig(dir: &Path, name: &str, groups: &[&str]) -> PathBuf {
    let env = super::env();
    let pki = format!("{}/pki", env.get("MLOPS_K8S_STATE_DIR"));
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let crt = dir.join(format!("{name}.crt"));
    let ext = dir.join("client.ext");
    std::fs::write(&ext, "extendedKeyUsage=clientAuth\n").expect("ext");
    let run = |args: &[&str]| super::openssl(dir, args);
    let p = |p: &Path| p.to_str().expect("utf-8").to_string();
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &p(&key),
    ]);
    run(&[
        "req",
        "-new",
        "-key",
        &p(&key),
        "-subj",
        &format!(
            "{}/CN={name}",
            groups.iter().fold(String::new(), |s, g| s + "/O=" + g)
        ),
        "-out",
        &p(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &format!("{pki}/ca.crt"),
        "-CAkey",
        &format!("{pki}/ca.key"),
        "-set_serial",
        &format!(
            "{}",
            u64::from(std::process::id()) * 100 + u64::from(name.as_bytes()[0])
        ),
        "-days",
        "1",
        "-sha256",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&crt),
    ]);
    let kubeconfig = dir.join(format!("{name}.kubeconfig"));
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {name}\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: {name}\n  context:\n    cluster: test\n    user: {name}\ncurrent-context: {name}\n",
            env.get("MLOPS_KUBE_SERVER"),
            env.get("MLOPS_KUBE_CA_FILE"),
            p(&crt),
            p(&key)
        ),
    )
    .expect("kubeconfig");
    kubeconfig
}
