//! MLflow's webhook signature (`X-MLflow-Signature: v1,<base64 HMAC-SHA256(secret,
//! "{delivery id}.{timestamp}.{body}")>`), the staleness window of its timestamp and the
//! replay guard of its delivery ids. Pure: the receiver hands in the headers, the body and the
//! clock.

use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest, Sha256};

/// How far a delivery's `X-MLflow-Timestamp` may be from our clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// Delivery ids remembered against replays (older ones are stale anyway).
pub const REMEMBERED_DELIVERIES: usize = 4096;

/// Why a delivery is refused before its body is read as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("X-MLflow-Signature is not `v1,<base64>`")]
    MalformedSignature,
    #[error("the signature does not match the shared secret")]
    BadSignature,
    #[error("X-MLflow-Timestamp {0:?} is not a Unix time in seconds")]
    BadTimestamp(String),
    #[error("stale delivery: its timestamp is {0} s from now (at most {MAX_SKEW_SECONDS} s)")]
    Stale(i64),
    #[error("replayed delivery {0}: already received")]
    Replayed(String),
    #[error("the delivery id {0:?} is not a delivery id")]
    BadDeliveryId(String),
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Equal bytes, in a time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The signature header MLflow sends for this delivery.
pub fn sign(secret: &str, delivery_id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut message = format!("{delivery_id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!("v1,{}", base64(&hmac_sha256(secret.as_bytes(), &message)))
}

/// The headers of a delivery that its verification reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub delivery_id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

/// A delivery whose signature and timestamp check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub delivery_id: String,
    pub timestamp: i64,
}

/// Check the signature (constant time) and the timestamp's distance from `now` (Unix seconds).
/// The replay check is [`ReplayGuard::admit`], after this.
pub fn verify(
    secret: &str,
    headers: &Headers,
    body: &[u8],
    now: i64,
) -> Result<Verified, Rejected> {
    let id = headers
        .delivery_id
        .as_deref()
        .ok_or(Rejected::MissingHeader("X-MLflow-Delivery-Id"))?;
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(Rejected::BadDeliveryId(
            crate::text::truncate(id, 40).into_owned(),
        ));
    }
    let ts_text = headers
        .timestamp
        .as_deref()
        .ok_or(Rejected::MissingHeader("X-MLflow-Timestamp"))?;
    let signature = headers
        .signature
        .as_deref()
        .ok_or(Rejected::MissingHeader("X-MLflow-Signature"))?;
    let Some(given) = signature.trim().strip_prefix("v1,") else {
        return Err(Rejected::MalformedSignature);
    };
    let wanted = sign(secret, id, ts_text, body);
    // Compared as text: both are base64 of 32 bytes when well formed.
    if !constant_time_eq(given.as_bytes(), &wanted.as_bytes()[3..]) {
        return Err(Rejected::BadSignature);
    }
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| Rejected::BadTimestamp(crate::text::truncate(ts_text, 40).into_owned()))?;
    let skew = ts.saturating_sub(now);
    if skew.abs() > MAX_SKEW_SECONDS {
        return Err(Rejected::Stale(skew));
    }
    Ok(Verified {
        delivery_id: id.to_string(),
        timestamp: ts,
    })
}

/// The delivery ids seen within the staleness window: a second delivery with the same id is a
/// replay (MLflow's own retries of a delivery we answered 5xx keep the id, and are admitted
/// while the first was not).
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: BTreeMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl ReplayGuard {
    /// Admit `delivery` at `now` once; later the same id is [`Rejected::Replayed`].
    pub fn admit(&mut self, delivery: &Verified, now: i64) -> Result<(), Rejected> {
        while let Some((at, _)) = self.order.front() {
            if now - at > 2 * MAX_SKEW_SECONDS || self.order.len() > REMEMBERED_DELIVERIES {
                if let Some((_, id)) = self.order.pop_front() {
                    self.seen.remove(&id);
                }
            } else {
                break;
            }
        }
        if self.seen.contains_key(&delivery.delivery_id) {
            return Err(Rejected::Replayed(delivery.delivery_id.clone()));
        }
        self.seen.insert(delivery.delivery_id.clone(), now);
        self.order.push_back((now, delivery.delivery_id.clone()));
        Ok(())
    }

    /// Forget `id` (a delivery we refused to act on with a 5xx, so MLflow's retry is welcome).
    pub fn forget(&mut self, id: &str) {
        self.seen.remove(id);
        self.order.retain(|(_, i)| i != id);
    }
}
