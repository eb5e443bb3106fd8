//! The audit log on a cluster: one ConfigMap per entry in `mlops-system`, named by its sequence
//! number (`mlops-audit-0000000042`), each entry carrying the SHA-256 of the one before. Appending
//! is a create: two writers that race for the same number cannot both win, and the loser
//! re-reads the head and chains after it. Nothing here updates or deletes an entry, so RBAC can
//! grant `create`, `get` and `list` on these ConfigMaps and nothing more.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, Client,
    api::{ListParams, ObjectMeta, PostParams},
};
use mlops_core::{
    CoreError,
    audit::{AuditEntry, AuditRecord},
};

use super::{
    err,
    names::{AUDIT_LABEL, SYSTEM_NAMESPACE},
};

const KEY: &str = "entry.json";

fn name(seq: u64) -> String {
    format!("mlops-audit-{seq:010}")
}

/// The hash-chained audit log kept in the cluster.
#[derive(Clone)]
pub struct KubeAudit {
    api: Api<ConfigMap>,
    /// The last entry this process wrote or saw: the next one chains after it.
    head: Arc<tokio::sync::Mutex<Option<AuditEntry>>>,
}

impl KubeAudit {
    pub fn new(client: Client) -> Self {
        Self {
            api: Api::namespaced(client, SYSTEM_NAMESPACE),
            head: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    async fn get(&self, seq: u64) -> Result<Option<AuditEntry>, CoreError> {
        let cm = self
            .api
            .get_opt(&name(seq))
            .await
            .map_err(|e| err(&format!("reading audit entry {}", name(seq)), e))?;
        cm.map(|cm| parse(&cm)).transpose()
    }

    /// The newest entry: entries are never removed, so "entry n exists" is monotonic and a
    /// doubling probe then a binary search find the last one in O(log n) reads.
    async fn read_head(&self, from: Option<AuditEntry>) -> Result<Option<AuditEntry>, CoreError> {
        let start = from.as_ref().map_or(0, |e| e.seq);
        let mut known = from;
        let mut step = 1;
        let mut missing = loop {
            let seq = start + step;
            match self.get(seq).await? {
                Some(e) => {
                    known = Some(e);
                    step *= 2;
                }
                None => break seq,
            }
        };
        let mut low = known.as_ref().map_or(0, |e| e.seq);
        while missing - low > 1 {
            let mid = low + (missing - low) / 2;
            match self.get(mid).await? {
                Some(e) => {
                    low = mid;
                    known = Some(e);
                }
                None => missing = mid,
            }
        }
        Ok(known)
    }

    /// Append a record after the newest entry; returns the entry as stored.
    pub async fn append(&self, record: AuditRecord) -> Result<AuditEntry, CoreError> {
        let mut head = self.head.lock().await;
        for _ in 0..20 {
            let prev = self.read_head(head.clone()).await?;
            let entry = AuditEntry::after(prev.as_ref(), record.clone());
            let json =
                serde_json::to_string(&entry).map_err(|e| err("encoding an audit entry", e))?;
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name(entry.seq)),
                    namespace: Some(SYSTEM_NAMESPACE.into()),
                    labels: Some(BTreeMap::from([(AUDIT_LABEL.into(), "entry".into())])),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(KEY.into(), json)])),
                ..ConfigMap::default()
            };
            match self.api.create(&PostParams::default(), &cm).await {
                Ok(_) => {
                    *head = Some(entry.clone());
                    return Ok(entry);
                }
                // Another writer took this number: chain after theirs.
                Err(kube::Error::Api(s)) if s.code == 409 => *head = prev,
                Err(e) => return Err(err(&format!("writing audit entry {}", name(entry.seq)), e)),
            }
        }
        Err(err(
            "writing an audit entry",
            "other writers kept taking the next number (20 tries)",
        ))
    }

    /// Every entry, oldest first.
    pub async fn entries(&self) -> Result<Vec<AuditEntry>, CoreError> {
        let mut out = Vec::new();
        let mut params = ListParams::default()
            .labels(&format!("{AUDIT_LABEL}=entry"))
            .limit(500);
        loop {
            let page = match self.api.list(&params).await {
                Ok(p) => p,
                Err(kube::Error::Api(s)) if s.is_not_found() => return Ok(Vec::new()),
                Err(e) => return Err(err("listing the audit log", e)),
            };
            for cm in &page.items {
                out.push(parse(cm)?);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => params = params.continue_token(&c),
                None => break,
            }
        }
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }
}

/// One stored entry; a malformed one is named, never skipped (the chain check would miss it).
fn parse(cm: &ConfigMap) -> Result<AuditEntry, CoreError> {
    let name = cm.metadata.name.clone().unwrap_or_default();
    let text = cm.data.as_ref().and_then(|d| d.get(KEY)).ok_or_else(|| {
        err(
            &format!("audit entry {SYSTEM_NAMESPACE}/{name}"),
            format!("has no {KEY}"),
        )
    })?;
    serde_json::from_str(text)
        .map_err(|e| err(&format!("audit entry {SYSTEM_NAMESPACE}/{name}: {KEY}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_entry_is_named() {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name(7)),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(KEY.into(), "{\"seq\": \"x\"}".into())])),
            ..ConfigMap::default()
        };
        let e = parse(&cm).expect_err("malformed");
        assert!(
            e.to_string()
                .contains("mlops-system/mlops-audit-0000000007: entry.json"),
            "{e}"
        );
    }
}
