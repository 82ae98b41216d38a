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
            "pipe",
            "eventfd",
            "floor: memcpy"
        ]
    );
    // Every mechanism that carries payloads has a positive rate at 64 B.
    for row in &rows[2..5] {
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
fn rejects_bad_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_ipc-bench"))
        .args(["--sizes", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sizes"));
}
