//! The two System V example programs, run as a user would: both succeed,
//! say what they did, and leave no System V object behind.

use std::process::Command;

/// Runs a program; returns (exit code, stdout, stderr).
fn run(exe: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(exe).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ids in a `/proc/sysvipc/` table.
fn ids(table: &str) -> Vec<(i32, u32)> {
    let text = std::fs::read_to_string(format!("/proc/sysvipc/{table}")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip(1);
            Some((
                f.next()?.parse().ok()?,
                u32::from_str_radix(f.next()?, 8).ok()?,
            ))
        })
        .collect()
}

#[test]
fn sysv_hybrid_hands_a_2_mib_batch_to_a_reader_that_verifies_it() {
    let (code, out, err) = run(env!("CARGO_BIN_EXE_sysv-hybrid"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("writer: 2097152 bytes in segment id"), "{out}");
    assert!(out.contains(": 2097152 bytes verified"), "{out}");
    assert!(out.contains("the reader verified the batch"), "{out}");
    let id: i32 = out
        .split("segment id ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    // Gone, or at most marked for removal (SHM_DEST) and going.
    for (seg, perms) in ids("shm") {
        assert!(seg != id || perms & 0o1000 != 0, "segment {id} left behind");
    }
}

#[test]
fn sysv_hybrid_refuses_bad_arguments() {
    let (code, _, err) = run(env!("CARGO_BIN_EXE_sysv-hybrid"), &["--size", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(
        env!("CARGO_BIN_EXE_sysv-hybrid"),
        &["--reader", "/nonexistent/sock"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("sysv-hybrid: "), "{err}");
}

#[test]
fn sysv_queue_receives_alarms_then_orders_then_logs() {
    let (code, out, err) = run(env!("CARGO_BIN_EXE_sysv-queue"), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let received: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("received "))
        .collect();
    assert_eq!(
        received,
        [
            "type 1: ALARM pressure",
            "type 1: ALARM temperature",
            "type 2: order 1",
            "type 2: order 2",
            "type 2: order 3",
            "type 3: log: started",
            "type 3: log: order 2 queued",
            "type 3: log: done",
        ]
    );
    let (code, _, _) = run(env!("CARGO_BIN_EXE_sysv-queue"), &["extra"]);
    assert_eq!(code, 2);
}
