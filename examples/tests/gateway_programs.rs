//! The order-gateway program as real processes: client processes send
//! orders to one matching-engine process by name and every answer reaches
//! the client that sent the order (each client checks the order id and its
//! own id in every answer and exits 1 otherwise); the engine's per-client
//! counts agree with the clients'. Every wait has a deadline; a process
//! left over is killed and reaped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_order-gateway");
const DEADLINE: Duration = Duration::from_secs(120);

/// A child killed and reaped if the test fails before it is waited for.
struct Reaped(Option<Child>);

impl Reaped {
    fn start(args: &[&str]) -> Self {
        let child = Command::new(EXE)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start order-gateway");
        Self(Some(child))
    }

    /// Its stdout, line by line (taken from what [`Reaped::finish`]
    /// returns).
    fn lines(&mut self) -> Receiver<String> {
        let out = self.0.as_mut().and_then(|c| c.stdout.take());
        let out = out.expect("stdout not yet taken");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    fn id(&self) -> u32 {
        self.0.as_ref().expect("running").id()
    }

    /// Waits at most [`DEADLINE`]; its output.
    fn finish(mut self) -> Output {
        let mut child = self.0.take().expect("not yet waited for");
        let start = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let out = child.wait_with_output().expect("reap");
                panic!("order-gateway did not finish in time: {out:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.wait_with_output().expect("collect the output")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `client PID.N: ORDERS orders, ...` lines: client id → the line.
fn client_lines(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("client ")?;
            let (id, _) = rest.split_once(':')?;
            Some((id.to_owned(), l.to_owned()))
        })
        .collect()
}

/// `engine: client PID.N: ORDERS orders, F filled at once, R rested`
/// lines: client id → (orders, filled, rested).
fn engine_lines(out: &str) -> BTreeMap<String, (u64, u64, u64)> {
    out.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("engine: client ")?;
            let (id, rest) = rest.split_once(": ")?;
            let n: Vec<u64> = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            Some((id.to_owned(), (*n.first()?, *n.get(1)?, *n.get(2)?)))
        })
        .collect()
}

/// The number right before `word` in `line` (`42251 filled`).
fn number_before(line: &str, word: &str) -> u64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.trim_end_matches([',', ';']) == word)
        .unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
    words[at - 1]
        .parse()
        .unwrap_or_else(|_| panic!("no number before {word:?} in {line:?}"))
}

/// Each client's line says it got every answer, and the engine's count
/// for that client agrees with it; the engine served no one else.
fn check_agreement(clients: &BTreeMap<String, String>, engine: &str, orders: u64) {
    let served = engine_lines(engine);
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        clients.keys().collect::<Vec<_>>(),
        "the engine served exactly the clients that ran:\n{engine}"
    );
    check_clients(clients, engine, orders);
}

/// Each client's line says it got every answer, and the engine's count
/// for that client agrees with it.
fn check_clients(clients: &BTreeMap<String, String>, engine: &str, orders: u64) {
    let served = engine_lines(engine);
    for (id, line) in clients {
        assert!(
            line.contains(&format!("{orders} orders, {orders} answers, all its own")),
            "{line}"
        );
        let (n, filled, rested) = served[id];
        assert_eq!(n, orders, "engine's count for client {id}");
        assert_eq!(number_before(line, "filled"), filled, "{line}");
        assert_eq!(number_before(line, "rested"), rested, "{line}");
    }
}

/// Issue 16's proof: 8 clients × 10 000 requests each, every answer to
/// the right client.
#[test]
fn eight_client_processes_each_get_every_answer_and_only_theirs() {
    let out = Reaped::start(&["run", "--clients", "8", "--orders", "10000"]).finish();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let clients = client_lines(&stdout);
    assert_eq!(clients.len(), 8, "{stdout}");
    check_agreement(&clients, &stdout, 10_000);
    assert!(
        stdout.contains("engine: 80000 orders from 8 clients"),
        "{stdout}"
    );
}

#[test]
fn an_engine_and_clients_started_separately_meet_by_name() {
    let name = format!("/interlink-gateway-test-{}", std::process::id());
    // The clients first: they wait for the engine's name.
    let a = Reaped::start(&["client", &name, "--orders", "2000", "--in-flight", "1"]);
    let b = Reaped::start(&["client", &name, "--orders", "2000", "--in-flight", "16"]);
    let engine = Reaped::start(&["engine", &name, "--clients", "2"]);
    let (a, b) = (a.finish(), b.finish());
    let engine = engine.finish();
    let mut clients = BTreeMap::new();
    for out in [&a, &b, &engine] {
        assert!(
            out.status.success(),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    for out in [&a, &b] {
        clients.extend(client_lines(&text(&out.stdout)));
    }
    assert_eq!(clients.len(), 2, "{clients:?}");
    check_agreement(&clients, &text(&engine.stdout), 2000);
    assert!(
        !std::path::Path::new(&format!("/dev/shm{name}")).exists(),
        "the engine removes its channel's name"
    );
}

/// A client killed mid-run costs only itself: the engine notices it dead,
/// counts it as gone, and serves the others to the end.
#[test]
fn a_client_killed_mid_run_costs_only_itself() {
    let name = format!("/interlink-gateway-kill-{}", std::process::id());
    let mut engine = Reaped::start(&["engine", &name, "--clients", "3"]);
    let engine_out = engine.lines();
    // Never finishes on its own.
    let mut victim = Reaped::start(&["client", &name, "--orders", "1000000000"]);
    let victim_pid = victim.id();
    let seen = format!("engine: new client {victim_pid}.");
    let mut engine_text = String::new();
    let start = Instant::now();
    loop {
        let line = engine_out
            .recv_timeout(DEADLINE.saturating_sub(start.elapsed()))
            .expect("the engine hears from the victim");
        engine_text.push_str(&line);
        engine_text.push('\n');
        if line.starts_with(&seen) {
            break;
        }
    }
    let others = [
        Reaped::start(&["client", &name, "--orders", "2000"]),
        Reaped::start(&["client", &name, "--orders", "2000", "--in-flight", "1"]),
    ];
    // SIGKILL, mid-run: its orders keep coming until now.
    let killed = victim.0.as_mut().expect("running").kill();
    killed.expect("kill the victim");
    let victim_out = victim.finish();
    assert!(!victim_out.status.success());
    let mut clients = BTreeMap::new();
    for other in others {
        let out = other.finish();
        assert!(out.status.success(), "{}", text(&out.stderr));
        clients.extend(client_lines(&text(&out.stdout)));
    }
    let out = engine.finish();
    assert!(out.status.success(), "{}", text(&out.stderr));
    engine_text.extend(engine_out.iter().map(|l| l + "\n"));
    assert_eq!(clients.len(), 2, "{clients:?}");
    check_clients(&clients, &engine_text, 2000);
    let victim_line = engine_text
        .lines()
        .find(|l| l.starts_with(&format!("engine: client {victim_pid}.")))
        .unwrap_or_else(|| panic!("no line for the victim:\n{engine_text}"));
    assert!(victim_line.ends_with("(died)"), "{victim_line}");
    assert!(
        engine_text.contains("orders from 3 clients"),
        "{engine_text}"
    );
    // The engine removed the victim's response channel, and its own.
    let leftovers: Vec<String> = std::fs::read_dir("/dev/shm")
        .expect("list /dev/shm")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.starts_with(&name[1..]))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn help_lists_the_roles_and_bad_arguments_are_refused() {
    let help = Command::new(EXE).arg("--help").output().expect("run");
    assert_eq!(help.status.code(), Some(0));
    let help = text(&help.stdout);
    for word in ["run", "engine", "client", "Usage:"] {
        assert!(help.contains(word), "{help}");
    }
    for args in [
        &["run", "--clients", "0"][..],
        &["client", "/x", "--orders", "0"],
        &["engine"],
        &["--no-such-option"],
    ] {
        let out = Command::new(EXE).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}

/// The benchmark's request–response rows (issue 16) run between two
/// processes and report a round trip, next to the Unix stream socket's.
#[test]
fn ipc_bench_has_request_response_rows() {
    let bench = Command::new(env!("CARGO_BIN_EXE_ipc-bench"))
        .args(["--only", "request-response,unix stream", "--sizes", "64"])
        .args(["--round-trips", "200", "--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ipc-bench");
    // Its objects are named after it: /interlink-bench-request-PID-N.
    let ours = format!("interlink-bench-request-{}-", bench.id());
    let out = bench.wait_with_output().expect("wait for ipc-bench");
    let csv = text(&out.stdout);
    assert!(out.status.success(), "{csv}\n{}", text(&out.stderr));
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
            "unix stream",
            "request-response (spin)",
            "request-response (parked)"
        ],
        "{csv}"
    );
    for row in &rows {
        let p50: f64 = row[1].parse().expect("a p50");
        assert!(p50 > 0.0, "{row:?}");
    }
    let leftovers: Vec<String> = std::fs::read_dir("/dev/shm")
        .expect("list /dev/shm")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.starts_with(&ours))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
