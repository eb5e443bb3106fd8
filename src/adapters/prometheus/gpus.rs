//! GPUs: the DCGM exporter's gauges, joined with which model version serves on each GPU's pod.

use std::collections::{BTreeMap, HashMap};

use mlops_core::model::Gpu;

use super::{
    DCGM_FB_FREE, DCGM_FB_USED, DCGM_POWER, DCGM_TEMP, DCGM_UTIL, DCGM_XID, Sample, Series,
};

/// The pod label of the workload: `exported_pod` when Prometheus's service discovery put its
/// own (the exporter's) `pod` label on the series, else `pod`.
pub(super) fn workload_label<'a>(s: &'a Series, name: &str) -> &'a str {
    match s.labels.get(&format!("exported_{name}")) {
        Some(v) => v,
        None => s.label(name),
    }
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

/// Join the DCGM gauges per GPU (by `UUID`, else `Hostname`+`gpu`). A gauge the exporter does
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
        let node = [s.label("Hostname"), s.label("node"), s.label("instance")]
            .into_iter()
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let key = match s.label("UUID") {
            "" => format!("{node}/{}", s.label("gpu")),
            uuid => uuid.to_string(),
        };
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
            let pod = Some(workload_label(s, "pod").to_string()).filter(|p| !p.is_empty());
            let namespace =
                Some(workload_label(s, "namespace").to_string()).filter(|n| !n.is_empty());
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
                node: [s.label("Hostname"), s.label("node"), s.label("instance")]
                    .into_iter()
                    .find(|v| !v.is_empty())
                    .unwrap_or_default()
                    .to_string(),
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
