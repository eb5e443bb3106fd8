//! The audit log on a cluster: one ConfigMap per entry in `mlops-system`, named by its sequence
//! number (`mlops-audit-0000000042`), each entry carrying the SHA-256 of the one before. Appending
//! is a create: two writers that race for the same number cannot both win, and the loser
//! re-reads the head and chains after it. Nothing here updates or deletes an entry, so RBAC can
//! grant `create`, `get` and `list` on these ConfigMaps and nothing more.
//!
//! Each entry also carries the UTC day it was written as a label (`mlops.dev/audit-day`), so a
//! time window is listed by a label selector on its days — the API server sends only those
//! entries — instead of reading the whole log. Entries written before the label existed have
//! none and are always listed with a window.

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, NaiveDate, Utc};

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
/// The UTC day an entry was written (`2026-11-30`).
pub const DAY_LABEL: &str = "mlops.dev/audit-day";
/// Longer windows than this many days list the whole log (a selector naming every day would
/// be longer than the log is slow).
const MAX_WINDOW_DAYS: i64 = 92;
/// The command an entry records, on entries the controller writes from a rollout's status
/// (`rollout::command_key`): a second writer finds the entry by it instead of writing another.
pub const COMMAND_LABEL: &str = "mlops.dev/audit-command";

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
        self.append_keyed(record, None).await
    }

    /// The entry of the command `key` names (`rollout::command_key`), if it was written.
    pub async fn find_command(&self, key: &str) -> Result<Option<AuditEntry>, CoreError> {
        Ok(self
            .list(&format!("{AUDIT_LABEL}=entry,{COMMAND_LABEL}={key}"))
            .await?
            .into_iter()
            .next())
    }

    /// Append a record; with `key`, the entry carries it as its `COMMAND_LABEL`.
    pub async fn append_keyed(
        &self,
        record: AuditRecord,
        key: Option<&str>,
    ) -> Result<AuditEntry, CoreError> {
        let mut head = self.head.lock().await;
        for attempt in 0..20 {
            // The head this process wrote or read last is nearly always the log's (one leader
            // writes): chain after it at once, and read the log's head only when nothing is
            // known yet or that number was taken. The create is what guards the chain: it
            // cannot succeed at a number another writer holds.
            let prev = match head.clone() {
                Some(known) if attempt == 0 => Some(known),
                known => self.read_head(known).await?,
            };
            let entry = AuditEntry::after(prev.as_ref(), record.clone());
            let json =
                serde_json::to_string(&entry).map_err(|e| err("encoding an audit entry", e))?;
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name(entry.seq)),
                    namespace: Some(SYSTEM_NAMESPACE.into()),
                    labels: Some(
                        [
                            (AUDIT_LABEL.into(), "entry".into()),
                            (DAY_LABEL.into(), entry.time.format("%Y-%m-%d").to_string()),
                        ]
                        .into_iter()
                        .chain(key.map(|k| (COMMAND_LABEL.to_string(), k.to_string())))
                        .collect(),
                    ),
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
        self.list(&format!("{AUDIT_LABEL}=entry")).await
    }

    /// The entries written in `[since, until)`, oldest first. A window of up to
    /// [`MAX_WINDOW_DAYS`] days reads only the entries of its days (and any without a day label).
    pub async fn entries_between(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        let inside =
            |e: &AuditEntry| since.is_none_or(|s| e.time >= s) && until.is_none_or(|u| e.time < u);
        let mut out = match since.map(|s| days(s, until.unwrap_or_else(Utc::now))) {
            Some(days) if !days.is_empty() && days.len() <= MAX_WINDOW_DAYS as usize => {
                let mut out = self
                    .list(&format!(
                        "{AUDIT_LABEL}=entry,{DAY_LABEL} in ({})",
                        days.join(",")
                    ))
                    .await?;
                out.extend(
                    self.list(&format!("{AUDIT_LABEL}=entry,!{DAY_LABEL}"))
                        .await?,
                );
                out
            }
            // The window ends before it begins.
            Some(days) if days.is_empty() => Vec::new(),
            _ => self.entries().await?,
        };
        out.retain(inside);
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }

    /// The entries matching `selector`, every page, oldest first.
    async fn list(&self, selector: &str) -> Result<Vec<AuditEntry>, CoreError> {
        let mut out = Vec::new();
        let mut params = ListParams::default().labels(selector).limit(500);
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

/// The UTC days from `since` to `until`, both included (`until` before `since`: none).
fn days(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let first: NaiveDate = since.date_naive();
    let last: NaiveDate = until.date_naive();
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .take(MAX_WINDOW_DAYS as usize + 1)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect()
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
    fn a_window_lists_its_days() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").to_utc();
        assert_eq!(
            days(at("2026-11-29T23:00:00Z"), at("2026-12-01T00:30:00Z")),
            vec!["2026-11-29", "2026-11-30", "2026-12-01"]
        );
        assert!(days(at("2026-11-29T23:00:00Z"), at("2026-11-28T00:00:00Z")).is_empty());
        assert_eq!(
            days(at("2025-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")).len(),
            MAX_WINDOW_DAYS as usize + 1,
            "a long window is cut short, so it lists the whole log"
        );
    }

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
