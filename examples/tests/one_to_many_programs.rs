//! The one-writer, many-readers example programs, run as real processes:
//! `price-feed` (a named broadcast channel read by several strategy
//! processes, one read-only) and `latest-monitor` (a named latest-value
//! table written by a sensor process, read by a monitor process). Only
//! what holds under any schedule is asserted: every strategy accounts for
//! every tick (`received + missed = sent`), no reading or tick is torn or
//! out of order (the programs check each one and fail otherwise), and the
//! monitor sees every cell's final reading. Every run has a deadline.

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one program run may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `exe` with `args` to the end (killing it past [`DEADLINE`]);
/// its output.
fn run(exe: &str, args: &[&str]) -> Output {
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the program");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("wait for the program"),
        Err(_) => {
            // SAFETY: kill takes a pid and a signal; no memory.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("{exe} {args:?} did not finish within {DEADLINE:?}");
        }
    }
}

/// Runs `exe` and insists it succeeded; its stdout.
fn run_ok(exe: &str, args: &[&str]) -> String {
    let out = run(exe, args);
    assert!(
        out.status.success(),
        "{exe} {args:?} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A channel name of this test process.
fn name(what: &str) -> String {
    format!("/il-p15-{what}-{}", std::process::id())
}

/// Whether `/dev/shm` still holds `name`.
fn left_behind(name: &str) -> bool {
    std::path::Path::new("/dev/shm")
        .join(name.trim_start_matches('/'))
        .exists()
}

/// The number after `label ` in `line` (up to the next space or comma).
fn number(line: &str, label: &str) -> u64 {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} in {line:?}"))
        + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number after {label:?} in {line:?}"))
}

// ---------------------------------------------------------- price-feed

/// Four strategy processes read 50 000 ticks; the slow ones are lapped.
/// Each accounts for every tick exactly (`received + missed`), strategy 0
/// reads through a read-only mapping, and the name is gone afterwards.
#[test]
fn price_feed_strategies_account_for_every_tick() {
    const TICKS: u64 = 50_000;
    let name = name("feed");
    let out = run_ok(
        env!("CARGO_BIN_EXE_price-feed"),
        &[
            "--strategies",
            "4",
            "--ticks",
            "50000",
            "--rate",
            "0",
            "--name",
            &name,
        ],
    );
    assert!(
        out.contains(&format!("feed: published {TICKS} ticks to 4 strategies")),
        "{out}"
    );
    let mut strategies: Vec<u64> = Vec::new();
    for line in out.lines().filter(|l| l.starts_with("strategy ")) {
        let i = number(line, "strategy");
        let (got, missed) = (number(line, "received"), number(line, "missed"));
        assert_eq!(got + missed, TICKS, "{line}");
        assert!(line.contains(&format!("(of {TICKS} ticks)")), "{line}");
        let mapping = if i == 0 { "read-only" } else { "read-write" };
        assert!(line.ends_with(mapping), "{line}");
        strategies.push(i);
    }
    strategies.sort_unstable();
    assert_eq!(strategies, [0, 1, 2, 3], "{out}");
    assert!(!left_behind(&name), "{name} left in /dev/shm");
}

/// One strategy, one tick: the smallest feed works too.
#[test]
fn price_feed_with_one_strategy_and_one_tick() {
    let name = name("feed-one");
    let out = run_ok(
        env!("CARGO_BIN_EXE_price-feed"),
        &["--strategies", "1", "--ticks", "1", "--name", &name],
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("strategy 0:"))
        .unwrap_or_else(|| panic!("{out}"));
    // Nothing else is written, so the one tick cannot be overwritten.
    assert_eq!(number(line, "received"), 1, "{line}");
    assert_eq!(number(line, "missed"), 0, "{line}");
    assert_eq!(number(line, "last tick"), 0, "{line}");
}

/// A paced feed (at most 200 000 ticks a second) works the same way:
/// every strategy still accounts for every tick.
#[test]
fn price_feed_at_a_rate() {
    let name = name("feed-rate");
    let out = run_ok(
        env!("CARGO_BIN_EXE_price-feed"),
        &[
            "--strategies",
            "2",
            "--ticks",
            "20000",
            "--rate",
            "200000",
            "--name",
            &name,
        ],
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("strategy ")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    for line in lines {
        assert_eq!(
            number(line, "received") + number(line, "missed"),
            20_000,
            "{line}"
        );
    }
}

/// `--help` lists every option and exits 0.
#[test]
fn price_feed_and_latest_monitor_explain_themselves() {
    for (exe, options) in [
        (
            env!("CARGO_BIN_EXE_price-feed"),
            &["--strategies", "--ticks", "--work", "--rate", "--name"][..],
        ),
        (
            env!("CARGO_BIN_EXE_latest-monitor"),
            &["--sensors", "--updates", "--rate", "--name"][..],
        ),
    ] {
        let help = run_ok(exe, &["--help"]);
        for option in options {
            assert!(
                help.contains(option),
                "{exe} --help lacks {option}:\n{help}"
            );
        }
    }
}

/// Bad command lines are refused with exit status 2 before anything runs.
#[test]
fn price_feed_and_latest_monitor_refuse_bad_arguments() {
    for (exe, args) in [
        (env!("CARGO_BIN_EXE_price-feed"), ["--strategies", "0"]),
        (env!("CARGO_BIN_EXE_price-feed"), ["--ticks", "0"]),
        (env!("CARGO_BIN_EXE_latest-monitor"), ["--sensors", "0"]),
        (env!("CARGO_BIN_EXE_latest-monitor"), ["--updates", "x"]),
    ] {
        let out = run(exe, &args);
        assert_eq!(out.status.code(), Some(2), "{exe} {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]), "{exe} {args:?}: {err}");
    }
}

// ------------------------------------------------------- latest-monitor

/// A sensor process writes 20 000 readings into each of 3 cells without
/// pause while the monitor follows: every reading the monitor got was
/// whole, of its version and newer than the last (else it fails), and it
/// saw each cell's final reading. The name is gone afterwards.
#[test]
fn latest_monitor_sees_every_final_reading() {
    const UPDATES: u64 = 20_000;
    let name = name("latest");
    let out = run_ok(
        env!("CARGO_BIN_EXE_latest-monitor"),
        &[
            "--sensors",
            "3",
            "--updates",
            "20000",
            "--rate",
            "0",
            "--name",
            &name,
        ],
    );
    assert!(
        out.contains(&format!(
            "sensor: stored {UPDATES} readings into each of 3 cells"
        )),
        "{out}"
    );
    let cells: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("monitor: cell "))
        .collect();
    assert_eq!(cells.len(), 3, "{out}");
    for (c, line) in cells.iter().enumerate() {
        assert_eq!(number(line, "monitor: cell"), c as u64, "{line}");
        assert_eq!(number(line, "version"), UPDATES, "{line}");
        let saw = number(line, "saw");
        assert!((1..=UPDATES).contains(&saw), "{line}");
    }
    assert!(!left_behind(&name), "{name} left in /dev/shm");
}

/// One sensor, one reading: the monitor sees it (version 1).
#[test]
fn latest_monitor_with_one_sensor_and_one_update() {
    let name = name("latest-one");
    let out = run_ok(
        env!("CARGO_BIN_EXE_latest-monitor"),
        &["--sensors", "1", "--updates", "1", "--name", &name],
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("monitor: cell 0:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(number(line, "version"), 1, "{line}");
    assert_eq!(number(line, "saw"), 1, "{line}");
}
