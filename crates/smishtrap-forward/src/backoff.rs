//! Capped exponential back-off between forwarding attempts.

use std::time::Duration;

/// Doubles the delay after each failure, from `initial` up to `max`; a success resets it.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `initial`, never waits longer than `max` (at least `initial`).
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max: max.max(initial), next: initial }
    }

    /// The delay before the next attempt; the one after it is twice as long (capped).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// After a success: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(initial_ms: u64, max_ms: u64, expect_ms: &[u64]) {
        let mut b = Backoff::new(Duration::from_millis(initial_ms), Duration::from_millis(max_ms));
        let got: Vec<u64> =
            expect_ms.iter().map(|_| u64::try_from(b.next_delay().as_millis()).unwrap()).collect();
        assert_eq!(got, expect_ms);
    }

    #[test]
    fn doubles_up_to_the_cap() {
        check(100, 1000, &[100, 200, 400, 800, 1000, 1000]);
        check(100, 50, &[100, 100]);
        check(0, 10, &[0, 0]);
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
        b.next_delay();
        b.next_delay();
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(10));
    }
}
