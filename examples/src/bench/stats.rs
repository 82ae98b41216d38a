//! Round-trip latency, summarised the way users compare mechanisms: p50,
//! p99, p99.9, the worst case and the mean one-way latency (round trip ÷ 2),
//! from an HDR histogram.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Nanoseconds the histogram can hold (one minute: more than the
/// benchmark's watchdog allows a measurement).
const MAX_NS: u64 = 60_000_000_000;

/// Round trips recorded with three significant digits (a value is off by at
/// most 0.1 %), from 1 ns to a minute.
#[derive(Clone, Debug)]
pub struct Recorder {
    histogram: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_NS, 3)
                .expect("1 ns .. 60 s at 3 digits is a valid histogram"),
        }
    }
}

impl Recorder {
    /// Records one round trip (clamped into the histogram's range).
    pub fn record(&mut self, trip: Duration) {
        let ns = (trip.as_nanos().min(u128::from(MAX_NS)) as u64).max(1);
        self.histogram.saturating_record(ns);
    }

    /// Adds every round trip another recorder holds.
    pub fn add(&mut self, other: &Recorder) {
        // Both have the same bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// How many round trips were recorded.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The summary; `None` when nothing was recorded.
    pub fn latency(&self) -> Option<Latency> {
        if self.is_empty() {
            return None;
        }
        let h = &self.histogram;
        let at = |q: f64| Duration::from_nanos(h.value_at_quantile(q));
        Some(Latency {
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: Duration::from_nanos(h.max()),
            mean_one_way: Duration::from_nanos((h.mean() / 2.0).round() as u64),
        })
    }
}

/// Summary of a set of round-trip times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    /// Median round trip.
    pub p50: Duration,
    /// 99th percentile round trip.
    pub p99: Duration,
    /// 99.9th percentile round trip.
    pub p999: Duration,
    /// The slowest round trip.
    pub max: Duration,
    /// Mean round trip ÷ 2: the one-way latency peers publish.
    pub mean_one_way: Duration,
}

/// The median of `values` (sorted in place); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_worst_case_and_one_way_mean() {
        let mut r = Recorder::default();
        assert!(r.latency().is_none());
        for ns in 1..=1000u64 {
            r.record(Duration::from_nanos(ns));
        }
        let l = r.latency().unwrap();
        assert_eq!(l.p50, Duration::from_nanos(500));
        assert_eq!(l.p99, Duration::from_nanos(990));
        assert_eq!(l.p999, Duration::from_nanos(999));
        assert_eq!(l.max, Duration::from_nanos(1000));
        // Mean round trip 500.5 ns: one way 250 ns.
        assert_eq!(l.mean_one_way, Duration::from_nanos(250));

        let mut more = Recorder::default();
        more.record(Duration::from_secs(3600)); // clamped, still counted
        r.add(&more);
        assert_eq!(r.len(), 1001);
        let max = r.latency().unwrap().max.as_nanos() as u64;
        assert!(max.abs_diff(MAX_NS) <= MAX_NS / 1000, "{max}");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
