//! The side-by-side benchmark runs end to end and reports every selected
//! mechanism, in each output format.

use std::process::Command;

/// Runs ipc-bench; returns its standard output and error.
fn ipc_bench_with_stderr(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ipc-bench"))
        .args(args)
        .output()
        .expect("run ipc-bench");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ipc-bench failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn ipc_bench(args: &[&str]) -> String {
    ipc_bench_with_stderr(args).0
}

/// CSV columns: the name, seven round-trip columns, then two per size.
const P50: usize = 1;
const P99: usize = 2;
const P999: usize = 3;
const MAX: usize = 4;
const ONE_WAY: usize = 5;
const VS_FLOOR: usize = 6;
const CPU: usize = 7;
const FIRST_STREAM: usize = 8;

fn number(row: &[&str], column: usize) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("column {column} of {row:?}"))
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
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with(
            "mechanism,round_trip_p50_ns,round_trip_p99_ns,round_trip_p999_ns,round_trip_max_ns,\
             one_way_mean_ns,p50_vs_floor,cpu_per_msg_ns,stream_64B_msgs_per_s"
        ),
        "{csv}"
    );
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|r| r.split(',').collect()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
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
    // Every row with round trips: ordered percentiles, a worst case, a
    // one-way mean, a ratio to the floor of its rounds, CPU time spent.
    for row in &rows[..6] {
        let p50 = number(row, P50);
        assert!(p50 > 0.0, "{row:?}");
        assert!(number(row, P99) >= p50, "{row:?}");
        assert!(number(row, P999) >= number(row, P99), "{row:?}");
        assert!(number(row, MAX) >= number(row, P999), "{row:?}");
        assert!(number(row, ONE_WAY) > 0.0, "{row:?}");
        assert!(number(row, VS_FLOOR) > 0.0, "{row:?}");
        assert!(number(row, CPU) > 0.0, "{row:?}");
    }
    // The floor against itself, round by round: exactly 1.
    assert_eq!(number(&rows[0], VS_FLOOR), 1.0);
    // Every mechanism that streams payloads has a positive rate at 64 B.
    for row in [&rows[1], &rows[2], &rows[4]] {
        assert!(number(row, FIRST_STREAM) > 0.0, "{row:?}");
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("spsc ring (spin)"));
}

#[test]
fn interleaves_rounds_and_says_where_it_ran() {
    let (csv, stderr) = ipc_bench_with_stderr(&[
        "--only",
        "pipe",
        "--sizes",
        "64",
        "--round-trips",
        "300",
        "--rounds",
        "3",
        "--no-pin",
        "--format",
        "csv",
    ]);
    // The floor runs in every round even when not asked for.
    let names: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(names, ["floor: cache line", "pipe"]);
    assert!(stderr.contains("3 rounds"), "{stderr}");
    assert!(stderr.contains("not pinned"), "{stderr}");
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
            "floor: cache line",
            "many-to-one ring (spin)",
            "block pool 1 MiB hand-over (spin)",
            "spsc ring in a sysv segment (spin)",
            "sysv queue"
        ]
    );
    for row in &rows {
        assert!(number(row, P50) > 0.0, "{row:?}");
    }
    // Only the many-to-one ring streams; the others are round trips only.
    assert!(number(&rows[1], FIRST_STREAM) > 0.0, "{:?}", rows[1]);
    assert!(
        rows[2..].iter().all(|r| r[FIRST_STREAM].is_empty()),
        "{csv}"
    );
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
