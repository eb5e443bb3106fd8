//! The one bridge between the two clocks: the core keeps times as chrono's `DateTime<Utc>`, the
//! Kubernetes API types (k8s-openapi 0.29, under kube 5) as jiff's `Timestamp`. Every conversion
//! goes through here, so the precision they agree on (whole seconds, as `Time` carries it) is
//! decided once. Nothing else in the wing names jiff.

use chrono::{DateTime, Utc};
use k8s_openapi::jiff::Timestamp;

/// A time as the Kubernetes API's `MicroTime`/`Time` carry it (whole seconds; a time outside
/// jiff's range is the epoch, never a panic).
pub fn to_k8s(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_second(t.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A time from the Kubernetes API (whole seconds; outside chrono's range: the epoch).
pub fn from_k8s(t: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t.as_second(), 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_go_both_ways_in_whole_seconds() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T10:00:00.750Z")
            .expect("time")
            .with_timezone(&Utc);
        let back = from_k8s(to_k8s(t));
        assert_eq!(back.timestamp(), t.timestamp());
        assert_eq!(back.timestamp_subsec_millis(), 0);
    }
}
