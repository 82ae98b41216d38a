//! Contenders measured in interleaved rounds: one short round of each in
//! turn, many times over, with the ratios of their times taken *within* a
//! round — when all ran in the same machine state. On the VM the README's
//! numbers come from, the cost of moving a cache line between cores
//! changes every few seconds, so two functions measured one after the
//! other (criterion's way) can land in different states.

use std::time::Duration;

/// One contender: its name and one timed round.
pub type Contender = (&'static str, fn() -> Duration);

/// Runs `rounds` rounds of every contender in turn and prints the quartiles
/// of each one's time per operation (`per` operations a round), then of
/// each `(a, b)` ratio of their times within a round.
pub fn compare(
    title: &str,
    contenders: &[Contender],
    rounds: usize,
    per: u64,
    ratios: &[(usize, usize)],
) {
    let mut times = vec![Vec::with_capacity(rounds); contenders.len()];
    for _ in 0..rounds {
        for (k, (_, run)) in contenders.iter().enumerate() {
            times[k].push(run().as_secs_f64() * 1e9 / per as f64);
        }
    }
    println!("{title} ({rounds} interleaved rounds; quartiles 25 % / 50 % / 75 %)");
    for (k, (name, _)) in contenders.iter().enumerate() {
        let [a, b, c] = quartiles(times[k].clone());
        println!("  {name:<40} {a:>9.2} {b:>9.2} {c:>9.2}  ns");
    }
    println!("  time ratios within a round (below 1: the first is faster)");
    for &(a, b) in ratios {
        let r = times[a].iter().zip(&times[b]).map(|(x, y)| x / y).collect();
        let [q1, q2, q3] = quartiles(r);
        let name = format!("{} / {}", contenders[a].0, contenders[b].0);
        println!("  {name:<72} {q1:>6.3} {q2:>6.3} {q3:>6.3}");
    }
}

/// The 25th, 50th and 75th percentiles of `v` (not empty).
pub fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    [v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4]]
}

/// Whether the bench runs for real (`cargo bench` passes `--bench`);
/// `cargo test --benches` runs every bench without it, as a smoke test of
/// one short round each.
pub fn quick() -> bool {
    !std::env::args().any(|a| a == "--bench")
}
