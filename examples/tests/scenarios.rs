//! Every scenario example, run as its own process and checked on what it
//! prints (so none of them rots). Each spawned program is killed and reaped
//! if a test fails, and every wait has a deadline.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one step may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// A running example: stdout arrives line by line through a thread; the
/// process is killed and reaped on drop unless it was waited for.
struct Running {
    exe: &'static str,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
}

fn start(exe: &'static str, args: &[&str]) -> Running {
    let mut child = Command::new(exe)
        .args(args)
        // A process group of its own, so that a failing test can kill the
        // program together with any children it forked.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {exe}: {e}"));
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    Running {
        exe,
        child,
        lines,
        seen: Vec::new(),
        stderr: Some(stderr),
    }
}

/// Runs an example to completion; its exit status and stdout lines.
fn run(exe: &'static str, args: &[&str]) -> (ExitStatus, Vec<String>) {
    start(exe, args).finish()
}

/// Runs an example that must succeed; its stdout lines.
fn run_ok(exe: &'static str, args: &[&str]) -> Vec<String> {
    let (status, out) = run(exe, args);
    assert!(status.success(), "{exe} exited with {status}: {out:?}");
    out
}

/// The rest of each line that starts with `prefix`.
fn after<'a>(out: &'a [String], prefix: &str) -> Vec<&'a str> {
    out.iter().filter_map(|l| l.strip_prefix(prefix)).collect()
}

impl Running {
    /// Waits for a stdout line that satisfies `wanted` and returns it.
    fn line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("{}: no such line ({e:?}); got {:?}", self.exe, self.seen),
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (with the deadline) for the process to exit; returns its
    /// status and every stdout line. Prints its stderr if it failed.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let end = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            self.seen.extend(self.lines.try_iter()); // for the message below
            assert!(
                Instant::now() < end,
                "{} still running: {:?}",
                self.exe,
                self.seen
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        // The reader thread ends at end-of-file (every holder of the pipe
        // gone: the program and any children it left behind).
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("{}: stdout still open", self.exe),
            }
        }
        if !status.success() {
            let err = self.stderr.take().unwrap().join().unwrap();
            eprintln!("{} exited with {status}; stderr:\n{err}", self.exe);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The whole group: the program and whatever it forked (a group
        // outlives its leader while members remain). ESRCH when all are gone.
        let group = -(self.child.id() as i32);
        // SAFETY: kill takes no pointers; a negative pid names our child's group.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A name no other test, and no other run, uses.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

fn temp_path(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(unique(prefix))
}

#[test]
fn pipe_parent_child_reads_until_eof() {
    let out = run_ok(env!("CARGO_BIN_EXE_pipe-parent-child"), &["4"]);
    let expected: Vec<String> = (1..=4)
        .map(|i| format!("child: got \"message {i} from the parent\""))
        .chain(["child: end of file after 4 lines".into()])
        .chain(["parent: child exited with Code(0)".into()])
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn pipeline_counts_like_the_shell() {
    let dir = temp_path("il-ex-ls");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..7 {
        std::fs::write(dir.join(format!("file{i}")), b"").unwrap();
    }
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for d in [dir.to_str().unwrap(), repo] {
        let (status, out) = run(env!("CARGO_BIN_EXE_pipeline"), &[d]);
        assert!(status.success());
        let shell = Command::new("sh")
            .args(["-c", &format!("ls '{d}' | wc -l")])
            .output()
            .unwrap();
        let shell = String::from_utf8(shell.stdout).unwrap();
        assert_eq!(out, [shell.trim()], "{d}");
    }
    assert_eq!(
        run(env!("CARGO_BIN_EXE_pipeline"), &[dir.to_str().unwrap()]).1,
        ["7"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // ls fails on a missing directory, and the program says so.
    let (status, _) = run(env!("CARGO_BIN_EXE_pipeline"), &["/no/such/dir"]);
    assert!(!status.success());
}

type Program<'a> = (&'static str, &'a [&'a str]);

/// Starts a writer and a reader program, the one chosen 100 ms before the
/// other, and lets both finish successfully; the writer's pid and both
/// outputs.
fn writer_and_reader(
    writer_first: bool,
    writer: Program<'_>,
    reader: Program<'_>,
) -> (u32, Vec<String>, Vec<String>) {
    let (first, second) = if writer_first {
        (writer, reader)
    } else {
        (reader, writer)
    };
    let first = start(first.0, first.1);
    std::thread::sleep(Duration::from_millis(100));
    let second = start(second.0, second.1);
    let (writer, reader) = if writer_first {
        (first, second)
    } else {
        (second, first)
    };
    let writer_pid = writer.pid();
    let (w_status, w_out) = writer.finish();
    let (r_status, r_out) = reader.finish();
    assert!(
        w_status.success() && r_status.success(),
        "{w_out:?} {r_out:?}"
    );
    (writer_pid, w_out, r_out)
}

#[test]
fn fifo_writer_and_reader_in_either_order() {
    for writer_first in [false, true] {
        let path = temp_path("il-ex-fifo");
        let p = path.to_str().unwrap();
        let (writer_pid, w_out, r_out) = writer_and_reader(
            writer_first,
            (env!("CARGO_BIN_EXE_fifo-writer"), &[p, "6"]),
            (env!("CARGO_BIN_EXE_fifo-reader"), &[p]),
        );
        assert_eq!(w_out, ["writer: sent 6 lines"]);
        let expected: Vec<String> = (1..=6)
            .map(|i| format!("reader: line {i} from writer {writer_pid}"))
            .chain(["reader: end of file after 6 lines".into()])
            .collect();
        assert_eq!(r_out, expected, "writer first: {writer_first}");
        assert!(!path.exists(), "the FIFO's creator removes it");
    }
}

#[test]
fn echo_over_tcp_and_unix_sockets() {
    let long = "x".repeat(3000);
    let messages = ["hello", "a stream has no message boundaries", &long];
    let wire_bytes: usize = messages.iter().map(|m| 16 + m.len()).sum();
    let sock = temp_path("il-ex-echo.sock");
    for transport in ["--tcp", "--unix"] {
        let bind = if transport == "--tcp" {
            "127.0.0.1:0"
        } else {
            sock.to_str().unwrap()
        };
        let mut server = start(
            env!("CARGO_BIN_EXE_echo-server"),
            &[transport, bind, "--clients", "1"],
        );
        let listening = server.line(|l| l.starts_with("listening on"));
        let addr = listening.rsplit(' ').next().unwrap().to_owned();
        let mut args = vec![transport, addr.as_str()];
        args.extend(messages);
        let (status, out) = run(env!("CARGO_BIN_EXE_echo-client"), &args);
        assert!(status.success(), "{transport}: {out:?}");
        let expected: Vec<String> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| format!("echo #{}: {m}", i + 1))
            .collect();
        assert_eq!(out, expected, "{transport}");
        let (status, out) = server.finish();
        assert!(status.success(), "{transport}: {out:?}");
        assert!(
            out.last()
                .unwrap()
                .ends_with(&format!("echoed {wire_bytes} bytes")),
            "{out:?}"
        );
    }
    assert!(!sock.exists(), "the Unix listener removes its socket file");
}

/// Whether anything under /dev/shm mentions `name` (the object itself, or
/// glibc's `sem.NAME` files for named semaphores).
fn leftovers(name: &str) -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.contains(name))
        .collect()
}

#[test]
fn shm_writer_and_reader_in_either_order() {
    for writer_first in [true, false] {
        let name = format!("/{}", unique("il-ex-shm"));
        let (writer_pid, w_out, r_out) = writer_and_reader(
            writer_first,
            (env!("CARGO_BIN_EXE_shm-writer"), &[&name, "4"]),
            (env!("CARGO_BIN_EXE_shm-reader"), &[&name]),
        );
        let expected: Vec<String> = (1..=4)
            .map(|i| format!("reader: #{i}: message {i} of 4 from pid {writer_pid}"))
            .chain(["reader: end after 4 messages".into()])
            .collect();
        assert_eq!(r_out, expected);
        assert_eq!(
            w_out.last().unwrap(),
            "writer: the reader took all 4 messages"
        );
        assert_eq!(leftovers(&name[1..]), Vec::<String>::new());
    }
}

#[test]
fn urgent_messages_overtake_routine_ones() {
    let out = run_ok(env!("CARGO_BIN_EXE_mq-priorities"), &[]);
    let received = after(&out, "received ");
    assert_eq!(
        received,
        [
            "prio 9: URGENT a",
            "prio 9: URGENT b",
            "prio 9: URGENT c",
            "prio 0: routine 1",
            "prio 0: routine 2",
            "prio 0: routine 3",
            "prio 0: routine 4",
            "prio 0: routine 5",
        ]
    );
    // They were sent interleaved.
    assert_eq!(out[2], "sent     prio 9: URGENT a");
}

#[test]
fn ring_daemon_reloads_on_sighup_and_drains_on_sigterm() {
    use interlink_linux::signal::kill;
    let name = format!("/{}", unique("il-ex-daemon"));
    let config = temp_path("il-ex-daemon.conf");
    std::fs::write(&config, "label = first\n").unwrap();
    let mut daemon = start(
        env!("CARGO_BIN_EXE_ring-daemon"),
        &["serve", &name, config.to_str().unwrap()],
    );
    daemon.line(|l| l.starts_with("ready:"));

    let fed = run_ok(
        env!("CARGO_BIN_EXE_ring-daemon"),
        &["feed", &name, "100000"],
    );
    assert_eq!(fed, ["fed 100000 items"]);
    std::fs::write(&config, "label = second\n").unwrap();
    kill(daemon.pid(), libc::SIGHUP).unwrap();
    daemon.line(|l| l == "reloaded: label = second");
    // A second feeder takes the producer role over from the first (dead).
    run_ok(env!("CARGO_BIN_EXE_ring-daemon"), &["feed", &name, "10"]);

    kill(daemon.pid(), libc::SIGTERM).unwrap();
    let (status, out) = daemon.finish();
    assert!(status.success(), "exit {status}: {out:?}");
    let sum = 100_000u64 * 100_001 / 2 + 55;
    let last = out.last().unwrap();
    assert!(
        last.starts_with("stopped by signal 15")
            && last.ends_with(&format!(": 100010 items, sum {sum}")),
        "{out:?}"
    );
    assert_eq!(out[0], "config: label = first");
    assert_eq!(
        leftovers(&name[1..]),
        Vec::<String>::new(),
        "the daemon removes its ring"
    );
    std::fs::remove_file(&config).unwrap();
}

#[test]
fn real_time_signals_queue_with_values_and_standard_ones_merge() {
    let out = run_ok(env!("CARGO_BIN_EXE_rt-signal"), &[]);
    let values = after(&out, "SIGRTMIN+1 value ");
    assert_eq!(
        values,
        (1..=5)
            .map(|i| format!("{} from the child", i * 10))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        out.last().unwrap(),
        "SIGUSR1: sent 3 times, delivered 1 (standard signals merge)"
    );
}

#[test]
fn memfd_handoff_checksums_match() {
    let out = run_ok(env!("CARGO_BIN_EXE_memfd-handoff"), &["4"]);
    let checksum = |prefix: &str| {
        let line = out.iter().find(|l| l.starts_with(prefix)).unwrap();
        let at = line.find("checksum 0x").unwrap() + 9;
        line[at..at + 18].to_owned()
    };
    let produced = checksum("producer: 4194304 bytes in a sealed memfd");
    let consumed = checksum("consumer: mapped 4194304 bytes read-only");
    assert_eq!(produced, consumed);
    assert!(out.last().unwrap().contains("(match)"), "{out:?}");
}

#[test]
fn worker_pool_does_every_job_once_and_parks_when_idle() {
    // 3 producers x 2000 jobs, 3 workers, 400 ms idle before producing.
    let out = run_ok(
        env!("CARGO_BIN_EXE_worker-pool"),
        &["3", "3", "2000", "400"],
    );
    let mut jobs = 0;
    let mut workers = 0;
    for line in out.iter().filter(|l| l.starts_with("worker ")) {
        let count: u64 = line.split(' ').nth(2).unwrap().parse().unwrap();
        jobs += count;
        workers += 1;
    }
    assert_eq!((workers, jobs), (3, 6000), "{out:?}");
    assert_eq!(
        out.last().unwrap(),
        "every job done exactly once: count and sum match"
    );
    // The program reports its workers' CPU time (parked workers use next
    // to none); how much is the scheduler's to decide, so it is shown, not
    // asserted.
    let summary = out.iter().find(|l| l.contains("workers' CPU")).unwrap();
    eprintln!("{summary}");
}
