//! The side-by-side benchmark runs end to end and reports every selected
//! mechanism, in each output format.

use std::process::Command;

fn ipc_bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ipc-bench"))
        .args(args)
        .output()
        .expect("run ipc-bench");
    assert!(
        out.status.success(),
        "ipc-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn measures_the_selected_mechanisms() {
    let svg = std::env::temp_dir().join(format!("interlink-bench-{}.svg", std::process::id()));
    let csv = ipc_bench(&[
        "--only",
        "floor,spsc,pipe,eventfd",
        "--sizes",
        "64,4096",
        "--round-trips",
        "500",
        "--format",
        "csv",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("mechanism,round_trip_p50_ns"), "{csv}");
    let names: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "floor: cache line",
            "spsc ring (spin)",
            "spsc ring (futex)",
            "spsc ring in a sysv segment (spin)",
            "pipe",
            "eventfd",
            "floor: memcpy"
        ]
    );
    // Every mechanism that streams payloads has a positive rate at 64 B.
    for row in [&rows[2], &rows[3], &rows[5]] {
        let cells: Vec<&str> = row.split(',').collect();
        let p50: f64 = cells[1].parse().unwrap();
        let rate: f64 = cells[3].parse().unwrap();
        assert!(p50 > 0.0 && rate > 0.0, "{row}");
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("spsc ring (spin)"));
}

#[test]
fn measures_this_sessions_mechanisms() {
    let csv = ipc_bench(&[
        "--only",
        "many-to-one,block pool,sysv",
        "--sizes",
        "64",
        "--round-trips",
        "200",
        "--format",
        "csv",
    ]);
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|r| r.split(',').collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        names,
        [
            "many-to-one ring (spin)",
            "block pool 1 MiB hand-over (spin)",
            "spsc ring in a sysv segment (spin)",
            "sysv queue"
        ]
    );
    for row in &rows {
        let p50: f64 = row[1].parse().unwrap();
        assert!(p50 > 0.0, "{row:?}");
    }
    // Only the many-to-one ring streams; the others are round trips only.
    let rate: f64 = rows[0][3].parse().unwrap();
    assert!(rate > 0.0, "{:?}", rows[0]);
    assert!(rows[1..].iter().all(|r| r[3].is_empty()), "{csv}");
}

#[test]
fn rejects_bad_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_ipc-bench"))
        .args(["--sizes", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sizes"));
}
