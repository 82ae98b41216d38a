//! Percentiles of measured durations.

use std::time::Duration;

/// Summary of a set of round-trip times.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// The `q`-quantile (0.0 ..= 1.0) of sorted samples, by the nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// p50 and p99 of `samples` (sorted in place).
pub fn latency(samples: &mut [Duration]) -> Latency {
    samples.sort_unstable();
    Latency {
        p50: quantile(samples, 0.50),
        p99: quantile(samples, 0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_nanos).collect();
        let l = latency(&mut v);
        assert_eq!(l.p50, Duration::from_nanos(50));
        assert_eq!(l.p99, Duration::from_nanos(99));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
        assert_eq!(quantile(&v[..1], 0.99), Duration::from_nanos(1));
    }
}
