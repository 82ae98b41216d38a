//! One run of the benchmark: every mechanism measured in short rounds,
//! interleaved, so that all rows see the same machine states.
//!
//! A VM like the reference machine changes speed every few seconds; rows
//! measured one after another could come from different states. Here each
//! round measures every mechanism once (a slice of its round trips, a slice
//! of each stream), and each mechanism's round-trip median is divided by
//! the cache-line floor's median *of the same round*: the median of those
//! ratios (`× floor`) compares rows of one run even when the machine's
//! speed moved between rounds.

use std::time::Duration;

use super::link::Mechanism;
use super::report::{Report, RoundTrip, Row, Throughput};
use super::run::{self, Cpus};
use super::stats::{median, Recorder};

/// What to measure.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Message size of the round trips, bytes.
    pub ping_size: usize,
    /// Round trips per mechanism, over all rounds.
    pub trips: usize,
    /// Streaming message sizes, bytes.
    pub sizes: Vec<usize>,
    /// Bytes streamed per mechanism and size, over all rounds.
    pub stream_bytes: usize,
    /// Rounds the measurements are split into.
    pub rounds: usize,
    /// Where the two processes run (`None`: wherever the scheduler likes).
    pub cpus: Option<Cpus>,
    /// Whether to add the `memcpy` floor row.
    pub memcpy: bool,
}

/// What the run reports as it goes.
pub trait Progress {
    /// `round` (from 1) of `rounds` measures `what` of mechanism `name`.
    fn step(&mut self, round: usize, rounds: usize, name: &str, what: &str);
}

/// The name of the `memcpy` floor's row (measured here, not a mechanism).
pub const MEMCPY: &str = "floor: memcpy";

/// One mechanism's measurements so far.
struct Tally {
    trips: Recorder,
    /// This mechanism's round-trip p50 in each round it completed.
    round_p50: Vec<Option<Duration>>,
    cpu: Duration,
    messages: u32,
    /// Per size: messages and seconds streamed so far.
    streams: Vec<(usize, Duration)>,
    /// Round trips or a stream failed: the mechanism is left out of later
    /// rounds (its error is reported once).
    failed: bool,
}

/// Runs `plan` over `mechanisms`; `floor` is the index of the cache-line
/// floor among them (the reference of every round), if it is there.
/// Returns the report and the failures (one line each).
pub fn run(
    plan: &Plan,
    mechanisms: &[Box<dyn Mechanism>],
    floor: Option<usize>,
    progress: &mut dyn Progress,
) -> (Report, Vec<String>) {
    let rounds = plan.rounds.max(1);
    let mut tallies: Vec<Tally> = mechanisms
        .iter()
        .map(|_| Tally {
            trips: Recorder::default(),
            round_p50: Vec::new(),
            cpu: Duration::ZERO,
            messages: 0,
            streams: vec![(0, Duration::ZERO); plan.sizes.len()],
            failed: false,
        })
        .collect();
    let mut memcpy = vec![(0usize, Duration::ZERO); plan.sizes.len()];
    let mut failures = Vec::new();
    let trips_per_round = plan.trips.div_ceil(rounds).max(1);
    for round in 1..=rounds {
        for (mech, tally) in mechanisms.iter().zip(&mut tallies) {
            if tally.failed {
                continue;
            }
            let name = mech.name();
            progress.step(round, rounds, name, "round trips");
            let size = plan.ping_size.min(mech.max_message());
            match run::round_trips(mech.as_ref(), size, trips_per_round, plan.cpus) {
                Ok(trips) => {
                    let mut this_round = Recorder::default();
                    for &t in &trips.samples {
                        this_round.record(t);
                    }
                    tally.trips.add(&this_round);
                    tally.round_p50.push(this_round.latency().map(|l| l.p50));
                    tally.cpu += trips.cpu;
                    tally.messages += trips.messages;
                }
                Err(e) => {
                    failures.push(format!("{name} round trips: {e}"));
                    tally.failed = true;
                    continue;
                }
            }
            for (s, &size) in plan.sizes.iter().enumerate() {
                if !streams(mech.as_ref(), size) {
                    continue;
                }
                progress.step(round, rounds, name, &format!("stream {size} B"));
                let count = stream_count(plan, size, rounds);
                match run::stream(mech.as_ref(), size, count, plan.cpus) {
                    Ok(elapsed) => {
                        tally.streams[s].0 += count;
                        tally.streams[s].1 += elapsed;
                    }
                    Err(e) => {
                        failures.push(format!("{name} stream {size} B: {e}"));
                        tally.failed = true;
                        break;
                    }
                }
            }
        }
        if plan.memcpy {
            progress.step(round, rounds, MEMCPY, "copying");
            for (s, &size) in plan.sizes.iter().enumerate() {
                let count = stream_count(plan, size, rounds);
                memcpy[s].0 += count;
                memcpy[s].1 += memcpy_time(size, count);
            }
        }
    }

    let floor_p50 = floor.map(|f| tallies[f].round_p50.clone());
    let mut rows: Vec<Row> = mechanisms
        .iter()
        .zip(&tallies)
        .map(|(mech, tally)| Row {
            mechanism: mech.name(),
            round_trip: tally.trips.latency().map(|latency| RoundTrip {
                latency,
                vs_floor: floor_p50
                    .as_ref()
                    .and_then(|floor| ratio_median(&tally.round_p50, floor)),
                cpu_per_message: tally.cpu / tally.messages.max(1),
            }),
            streams: plan
                .sizes
                .iter()
                .zip(&tally.streams)
                .map(|(&size, &(count, elapsed))| rate(count, size, elapsed))
                .collect(),
        })
        .collect();
    if plan.memcpy {
        rows.push(Row {
            mechanism: MEMCPY,
            round_trip: None,
            streams: plan
                .sizes
                .iter()
                .zip(&memcpy)
                .map(|(&size, &(count, elapsed))| rate(count, size, elapsed))
                .collect(),
        });
    }
    let report = Report {
        ping_size: plan.ping_size,
        sizes: plan.sizes.clone(),
        rows,
    };
    (report, failures)
}

/// Whether `mech` streams `size`-byte messages: eventfd and the floor
/// carry no payload, and round-trip-only rows are about the hand-over.
fn streams(mech: &dyn Mechanism, size: usize) -> bool {
    size <= mech.max_message() && mech.max_message() > 8 && !mech.round_trip_only()
}

/// Messages of `size` bytes streamed per round.
fn stream_count(plan: &Plan, size: usize, rounds: usize) -> usize {
    (plan.stream_bytes / size / rounds).clamp(1_000, 500_000)
}

/// The median, over the rounds both completed, of `mine / floor`.
fn ratio_median(mine: &[Option<Duration>], floor: &[Option<Duration>]) -> Option<f64> {
    let mut ratios: Vec<f64> = mine
        .iter()
        .zip(floor)
        .filter_map(|(m, f)| match (m, f) {
            (Some(m), Some(f)) if !f.is_zero() => Some(m.as_secs_f64() / f.as_secs_f64()),
            _ => None,
        })
        .collect();
    median(&mut ratios)
}

fn rate(count: usize, size: usize, elapsed: Duration) -> Option<Throughput> {
    let secs = elapsed.as_secs_f64();
    (count > 0 && secs > 0.0).then(|| Throughput {
        msgs_per_s: count as f64 / secs,
        bytes_per_s: (count * size) as f64 / secs,
    })
}

/// `count` copies of `size` bytes in one process: the floor for moving
/// them.
fn memcpy_time(size: usize, count: usize) -> Duration {
    let src = vec![0x5au8; size];
    let mut dst = vec![0u8; size];
    let start = std::time::Instant::now();
    for _ in 0..count {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
    }
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_pair_rounds_and_skip_missing_ones() {
        let ns = |n| Some(Duration::from_nanos(n));
        let mine = [ns(200), None, ns(900), ns(300)];
        let floor = [ns(100), ns(100), ns(300), ns(0)];
        // Rounds 1 and 3 pair up: ratios 2 and 3.
        assert_eq!(ratio_median(&mine, &floor), Some(2.5));
        assert_eq!(ratio_median(&[], &floor), None);
    }

    #[test]
    fn rates_need_a_measurement() {
        assert!(rate(0, 64, Duration::from_secs(1)).is_none());
        let r = rate(1000, 64, Duration::from_millis(1)).unwrap();
        assert_eq!(r.msgs_per_s.round(), 1e6);
        assert_eq!(r.bytes_per_s.round(), 64e6);
    }
}
