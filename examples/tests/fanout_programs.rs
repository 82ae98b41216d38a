//! The fan-out example program: one sensor process, three subscriber
//! processes (planner, logger, monitor), each receiving every reading.

use std::process::{Command, Stdio};
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_sensor-fanout");

#[test]
fn every_subscriber_process_receives_every_reading_in_order() {
    let child = Command::new(EXE)
        .args(["5000", "--capacity", "64"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for role in ["planner", "logger", "monitor"] {
        let line = format!("{role}: 5000 readings, all in order");
        assert!(
            stdout.lines().any(|l| l.starts_with(&line)),
            "{role} missing:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("monitor: 5000 readings, all in order; max temperature 29.95, 250 alarms")
    );
    assert!(stdout.contains("sensor: wrote 5000 readings to 3 subscribers"));
    // The sensor created the channel, and unlinked it when done.
    let object = format!("/dev/shm/interlink-sensor-fanout-{pid}");
    std::thread::sleep(Duration::from_millis(10));
    assert!(
        !std::path::Path::new(&object).exists(),
        "{object} left behind"
    );
}

#[test]
fn bad_arguments_are_refused_before_anything_runs() {
    let out = Command::new(EXE).args(["0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(EXE)
        .args(["10", "--capacity", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a power of two"));
    let out = Command::new(EXE)
        .args(["10", "--subscriber", "cook", "--channel", "/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `interlink-inspect` lists a fan-out channel's writer and each
/// subscriber with its lag, in `ls` and in `inspect`.
#[test]
fn the_inspector_shows_subscribers_and_their_lag() {
    use interlink_core::RingConfig;
    use interlink_linux::channel::{ChannelOptions, FanoutChannel};
    use interlink_linux::shm::TempName;

    let temp = TempName::new("il-fan-insp").unwrap();
    let name: &str = &temp;
    let ch =
        FanoutChannel::<u64>::create(name, RingConfig::new(16), &ChannelOptions::new()).unwrap();
    let mut tx = ch.writer().unwrap();
    let mut a = ch.subscribe().unwrap();
    let b = ch.subscribe().unwrap();
    for v in 0..7 {
        tx.try_send(v).unwrap();
    }
    for _ in 0..3 {
        a.try_recv().unwrap();
    }
    let me = std::process::id();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_interlink-inspect"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ls = run(&["ls"]);
    let line = ls
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} not listed:\n{ls}"));
    let (ia, ib) = (a.index(), b.index());
    assert!(line.contains(&format!("writer={me}")), "{line}");
    assert!(line.contains(&format!("sub{ia}={me}/lag=4")), "{line}");
    assert!(line.contains(&format!("sub{ib}={me}/lag=7")), "{line}");
    let one = run(&["inspect", name]);
    assert!(one.contains("lag 7 of 16"), "{one}");
    assert!(one.contains("fill:      7 of 16"), "{one}");
}
