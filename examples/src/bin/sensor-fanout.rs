//! One sensor process writing readings to three subscriber processes —
//! a planner, a logger and a monitor — over one named fan-out channel:
//! each receives **every** reading, in order, and the sensor waits for the
//! slowest (lossless fan-out; compare a broadcast channel, where a slow
//! reader loses records instead).
//!
//! ```text
//! cargo run --release -p interlink-examples --bin sensor-fanout -- [READINGS]   # default 100000
//! ```
//!
//! The sensor creates the channel and starts the subscribers as separate
//! programs (this executable again, with `--subscriber ROLE`), which open
//! it by name and subscribe; it starts writing once all three have
//! joined. Each subscriber prints one line about what it received.

use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use interlink_core::RingConfig;
use interlink_examples::cli;
use interlink_linux::channel::{ChannelOptions, FanoutChannel};
use interlink_linux::process;

const PROGRAM: &str = "sensor-fanout";
/// How long anyone waits for anyone else.
const WAIT: Duration = Duration::from_secs(10);
const ROLES: [&str; 3] = ["planner", "logger", "monitor"];

interlink_core::plain_struct! {
    /// One reading of the sensor.
    struct Reading {
        seq: u64,
        micros: u64,
        temperature: f64,
        pressure: f64,
    }
}

/// A sensor writing readings to a planner, a logger and a monitor process
/// over a fan-out channel; each receives every reading.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {
    /// Readings to write.
    #[arg(default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    readings: u64,
    /// Slots in the channel: how far the slowest subscriber may lag.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1 << 20))]
    capacity: u32,
    /// Run as a subscriber (planner, logger or monitor) of `--channel`.
    #[arg(long, hide = true, requires = "channel", value_parser = ROLES)]
    subscriber: Option<String>,
    /// The channel a subscriber opens.
    #[arg(long, hide = true)]
    channel: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match (&args.subscriber, &args.channel) {
        (Some(role), Some(channel)) => {
            cli::run(PROGRAM, || subscriber(role, channel, args.readings))
        }
        _ => cli::run(PROGRAM, || sensor(args.readings, args.capacity)),
    }
}

/// The temperature of reading `seq` (deterministic, so that subscribers
/// can tell a wrong reading).
fn temperature(seq: u64) -> f64 {
    20.0 + (seq % 200) as f64 / 20.0
}

fn sensor(readings: u64, capacity: u32) -> cli::Result {
    if !capacity.is_power_of_two() {
        return Err(format!("--capacity {capacity} is not a power of two").into());
    }
    let name = format!("/interlink-sensor-fanout-{}", process::current_pid());
    let channel =
        FanoutChannel::<Reading>::create(&name, RingConfig::new(capacity), &ChannelOptions::new())?;
    let exe = std::env::current_exe()?;
    let mut children: Vec<(&str, Child)> = Vec::new();
    for role in ROLES {
        let child = Command::new(&exe)
            .args(["--subscriber", role, "--channel", &name])
            .arg(readings.to_string())
            .spawn()?;
        children.push((role, child));
    }
    // Readings go to those subscribed when they are written: wait for all.
    let start = Instant::now();
    while channel
        .subscriber_holders()
        .iter()
        .filter(|&&h| h != 0)
        .count()
        < ROLES.len()
    {
        for (role, child) in &mut children {
            if let Some(status) = child.try_wait()? {
                return Err(format!("the {role} ended before subscribing ({status})").into());
            }
        }
        if start.elapsed() > WAIT {
            return Err("the subscribers did not join within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut tx = channel.writer()?;
    let start = Instant::now();
    for seq in 0..readings {
        let reading = Reading {
            seq,
            micros: start.elapsed().as_micros() as u64,
            temperature: temperature(seq),
            pressure: 1013.25 + (seq % 7) as f64,
        };
        tx.send_timeout(reading, WAIT)?;
    }
    let elapsed = start.elapsed();
    let mut failed = Vec::new();
    for (role, mut child) in children {
        let status = child.wait()?;
        if !status.success() {
            failed.push(format!("the {role} {status}"));
        }
    }
    if !failed.is_empty() {
        return Err(failed.join("; ").into());
    }
    println!(
        "sensor: wrote {readings} readings to {} subscribers in {:.1} ms",
        ROLES.len(),
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}

fn subscriber(role: &str, name: &str, readings: u64) -> cli::Result {
    let channel = FanoutChannel::<Reading>::open(name, &ChannelOptions::new())?;
    let mut rx = channel.subscribe()?;
    let mut buf = [Reading {
        seq: 0,
        micros: 0,
        temperature: 0.0,
        pressure: 0.0,
    }; 64];
    let (mut next, mut sum, mut max, mut alarms, mut last) = (0u64, 0.0f64, f64::MIN, 0u64, 0u64);
    while next < readings {
        let n = rx.recv_slice(&mut buf, Some(WAIT))?;
        for r in &buf[..n] {
            if r.seq != next || r.temperature != temperature(next) {
                return Err(
                    format!("{role}: reading {} arrived where {next} was due", r.seq).into(),
                );
            }
            next += 1;
            last = r.micros;
            sum += r.temperature;
            max = max.max(r.temperature);
            alarms += u64::from(r.temperature >= 29.5);
        }
    }
    let line = match role {
        "planner" => format!("mean temperature {:.2}", sum / readings as f64),
        "logger" => format!("the last written {last} us after the first"),
        _ => format!("max temperature {max:.2}, {alarms} alarms"),
    };
    println!("{role}: {readings} readings, all in order; {line}");
    Ok(())
}
