//! GPUs: the DCGM exporter's gauges, joined with which model version serves on each GPU's pod,
//! and each GPU's utilisation history for the idle figures.
//!
//! Label spellings differ between exporter versions and scrape setups: the node is `Hostname`
//! (dcgm-exporter) or `hostname`, else `node` or `instance`; the workload is `pod` / `namespace` /
//! `container` (dcgm-exporter 2.x and later) or `pod_name` / `pod_namespace` / `container_name`
//! (1.x), each possibly `exported_…` when Prometheus's service discovery put the exporter's own
//! label under the plain name.

use std::collections::{BTreeMap, HashMap};

use mlops_core::{
    gpu::{UtilHistory, gpu_key},
    model::Gpu,
};

use super::{
    DCGM_FB_FREE, DCGM_FB_USED, DCGM_POWER, DCGM_TEMP, DCGM_UTIL, DCGM_XID, Sample, Series,
};

/// The first of `names` that the series carries with a value, else "".
fn first_label<'a>(s: &'a Series, names: &[&str]) -> &'a str {
    names
        .iter()
        .map(|n| s.label(n))
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

/// A workload label (`pod`, `namespace`, `container`) in any spelling. `exported_NAME` (or
/// `exported_OLD`) wins whenever it is there, even empty: Prometheus's service discovery then put
/// the exporter's own pod under NAME. Else NAME, else the older exporter's OLD.
pub(super) fn workload_label<'a>(s: &'a Series, name: &str) -> &'a str {
    let old = match name {
        "pod" => "pod_name",
        "namespace" => "pod_namespace",
        "container" => "container_name",
        other => other,
    };
    [format!("exported_{name}"), format!("exported_{old}")]
        .iter()
        .find_map(|n| s.labels.get(n).map(String::as_str))
        .unwrap_or_else(|| first_label(s, &[name, old]))
}

/// The node a DCGM series was read on.
pub(super) fn node_label(s: &Series) -> &str {
    first_label(s, &["Hostname", "hostname", "node", "instance"])
}

/// The key that joins one GPU's series: its UUID, else node and index.
fn key_of(s: &Series) -> String {
    gpu_key(s.label("UUID"), node_label(s), s.label("gpu"))
}

fn some(v: &str) -> Option<String> {
    Some(v.to_string()).filter(|v| !v.is_empty())
}

/// One history per utilisation series of a range query: a GPU whose pod changed in the window
/// has one per pod.
pub(super) fn map_util_history(util: &[Series]) -> Vec<UtilHistory> {
    util.iter()
        .map(|s| UtilHistory {
            key: key_of(s),
            pod: some(workload_label(s, "pod")),
            namespace: some(workload_label(s, "namespace")),
            points: s.samples.iter().map(|p| (p.time, p.value)).collect(),
        })
        .collect()
}

/// The model version a pod serves, from its name: the longest model of the serving series (in
/// its namespace) that prefixes the name, the track from a `-canary-` in it, and the version
/// when that model serves exactly one version on that track.
pub(super) fn model_of_pod(
    pod: &str,
    namespace: &str,
    serving: &[Series],
) -> (Option<String>, Option<u32>) {
    let in_ns = |s: &&Series| namespace.is_empty() || s.label("namespace") == namespace;
    let Some(model) = serving
        .iter()
        .filter(in_ns)
        .map(|s| s.label("model"))
        .filter(|m| !m.is_empty() && pod.starts_with(&format!("{m}-")))
        .max_by_key(|m| m.len())
    else {
        return (None, None);
    };
    let track = if pod[model.len()..].contains("-canary-") {
        "canary"
    } else {
        "stable"
    };
    let mut versions: Vec<&str> = serving
        .iter()
        .filter(in_ns)
        .filter(|s| s.label("model") == model && s.label("track") == track)
        .map(|s| s.label("version"))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let version = match versions.as_slice() {
        [one] => one.parse().ok(),
        _ => None,
    };
    (Some(model.to_string()), version)
}

/// The largest value a DCGM gauge is believed (MiB, W, °C, %): more is a broken exporter.
const MAX_GAUGE: f64 = 1e7;

/// Join the DCGM gauges per GPU (by `UUID`, else node and `gpu`). A gauge the exporter does
/// not export, or one that reads NaN, infinite, negative or absurdly large, reads NaN.
pub(super) fn map_gpus(dcgm: &[Series], serving: &[Series], default_cluster: &str) -> Vec<Gpu> {
    struct Acc<'a> {
        labels: &'a Series,
        values: HashMap<&'a str, Sample>,
    }
    let mut by_gpu: BTreeMap<String, Acc> = BTreeMap::new();
    for s in dcgm {
        let Some(sample) = s.last() else { continue };
        let name = s.label("__name__");
        let key = key_of(s);
        let acc = by_gpu.entry(key).or_insert_with(|| Acc {
            labels: s,
            values: HashMap::new(),
        });
        // The utilisation series' labels win; within one gauge, the newest sample.
        if name == DCGM_UTIL {
            acc.labels = s;
        }
        match acc.values.get(name) {
            Some(old) if old.time > sample.time => {}
            _ => {
                acc.values.insert(name, sample);
            }
        }
    }
    let mut gpus: Vec<Gpu> = by_gpu
        .into_values()
        .map(|acc| {
            let s = acc.labels;
            // A gauge that cannot be true (NaN, infinite, negative, absurdly large) reads as
            // missing, like one the exporter does not export.
            let value = |name: &str| {
                acc.values
                    .get(name)
                    .map(|v| v.value)
                    .filter(|v| v.is_finite() && (0.0..=MAX_GAUGE).contains(v))
                    .filter(|v| name != DCGM_UTIL || *v <= 100.0)
                    .unwrap_or(f64::NAN)
            };
            let pod = some(workload_label(s, "pod"));
            let namespace = some(workload_label(s, "namespace"));
            let (mut model, mut version) = (
                Some(s.label("model").to_string()).filter(|m| !m.is_empty()),
                s.label("version").parse().ok(),
            );
            if model.is_none()
                && let Some(p) = &pod
            {
                (model, version) = model_of_pod(p, namespace.as_deref().unwrap_or(""), serving);
            }
            Gpu {
                cluster: match s.label("cluster") {
                    "" => default_cluster.to_string(),
                    c => c.to_string(),
                },
                node: node_label(s).to_string(),
                index: s.label("gpu").parse().unwrap_or(0),
                uuid: s.label("UUID").to_string(),
                product: s.label("modelName").to_string(),
                util_pct: value(DCGM_UTIL),
                mem_used_mib: value(DCGM_FB_USED),
                mem_total_mib: value(DCGM_FB_USED) + value(DCGM_FB_FREE),
                power_w: value(DCGM_POWER),
                temp_c: value(DCGM_TEMP),
                pod,
                namespace,
                container: some(workload_label(s, "container")),
                model,
                version,
                xid: acc
                    .values
                    .get(DCGM_XID)
                    .map(|v| v.value)
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .map(|v| v as u32),
            }
        })
        .collect();
    gpus.sort_by(|a, b| {
        (&a.cluster, &a.node, a.index, &a.uuid).cmp(&(&b.cluster, &b.node, b.index, &b.uuid))
    });
    gpus
}
