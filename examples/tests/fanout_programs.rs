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
