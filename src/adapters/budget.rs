//! One memory budget for every answer being read, whatever the backend: the bytes of response
//! bodies held at once by this process (MLflow, Prometheus, Kubernetes calls and watches
//! together) never exceed [`TOTAL`]. Each answer is also capped on its own (the HTTP layer's and
//! the Kubernetes clients' limits); this bounds what many answers read at the same time can
//! hold. An answer that would go over fails at once with a clear error — nothing waits, so
//! nothing can deadlock — and its bytes are given back when it is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The most bytes of answers held at once, by all calls together.
pub const TOTAL: usize = 128 * 1024 * 1024;

static HELD: AtomicUsize = AtomicUsize::new(0);

/// The share of the budget one answer holds; given back on drop.
#[derive(Debug, Default)]
pub struct Share {
    bytes: usize,
}

impl Share {
    /// Take `n` more bytes for this answer, or say why not.
    pub fn take(&mut self, n: usize) -> Result<(), String> {
        let before = HELD.fetch_add(n, Ordering::AcqRel);
        if before.saturating_add(n) > TOTAL {
            HELD.fetch_sub(n, Ordering::AcqRel);
            return Err(format!(
                "answers being read hold {} MiB together, the most this process reads at once; try again when the other calls are done",
                TOTAL / (1024 * 1024)
            ));
        }
        self.bytes += n;
        Ok(())
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        HELD.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Bytes held now (for tests and diagnostics).
pub fn held() -> usize {
    HELD.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_given_back_and_the_total_is_never_passed() {
        let mut a = Share::default();
        a.take(TOTAL - 10).expect("fits");
        let mut b = Share::default();
        assert!(b.take(11).is_err(), "over the total");
        b.take(10).expect("exactly fits");
        drop(a);
        assert!(held() <= 10 + TOTAL / 2, "a's bytes are back");
        drop(b);
    }
}
