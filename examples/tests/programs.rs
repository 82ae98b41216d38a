//! The example programs as a newcomer meets them: `--help`, refused
//! command lines, exit codes that tell the truth, errors for people, and
//! restarts after a SIGKILL. Every program is run as its own process; each
//! is killed and reaped if a test fails, and every wait has a deadline.
//! Nothing here depends on how fast the machine is beyond generous bounds.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long any one step may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// Every program, by name, with its path.
const PROGRAMS: [(&str, &str); 21] = [
    ("async-service", env!("CARGO_BIN_EXE_async-service")),
    ("echo-client", env!("CARGO_BIN_EXE_echo-client")),
    ("echo-server", env!("CARGO_BIN_EXE_echo-server")),
    ("engine-loop", env!("CARGO_BIN_EXE_engine-loop")),
    ("fifo-reader", env!("CARGO_BIN_EXE_fifo-reader")),
    ("fifo-writer", env!("CARGO_BIN_EXE_fifo-writer")),
    ("frame-pool", env!("CARGO_BIN_EXE_frame-pool")),
    ("interlink-inspect", env!("CARGO_BIN_EXE_interlink-inspect")),
    ("ipc-bench", env!("CARGO_BIN_EXE_ipc-bench")),
    ("memfd-handoff", env!("CARGO_BIN_EXE_memfd-handoff")),
    ("mq-priorities", env!("CARGO_BIN_EXE_mq-priorities")),
    ("pipe-parent-child", env!("CARGO_BIN_EXE_pipe-parent-child")),
    ("pipeline", env!("CARGO_BIN_EXE_pipeline")),
    ("ring-daemon", env!("CARGO_BIN_EXE_ring-daemon")),
    ("rt-signal", env!("CARGO_BIN_EXE_rt-signal")),
    ("shm-reader", env!("CARGO_BIN_EXE_shm-reader")),
    ("shm-writer", env!("CARGO_BIN_EXE_shm-writer")),
    ("spsc_stream", env!("CARGO_BIN_EXE_spsc_stream")),
    ("sysv-hybrid", env!("CARGO_BIN_EXE_sysv-hybrid")),
    ("sysv-queue", env!("CARGO_BIN_EXE_sysv-queue")),
    ("worker-pool", env!("CARGO_BIN_EXE_worker-pool")),
];

/// A running program: stdout and stderr arrive line by line through
/// threads; the process (and its group) is killed and reaped on drop.
struct Running {
    exe: &'static str,
    child: Child,
    out: Receiver<String>,
    err: Receiver<String>,
    seen_out: Vec<String>,
    seen_err: Vec<String>,
    reaped: bool,
}

fn lines_of(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn start(exe: &'static str, args: &[&str]) -> Running {
    let mut child = Command::new(exe)
        .args(args)
        // Its own process group: a failing test kills what it forked too.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {exe}: {e}"));
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    Running {
        exe,
        child,
        out,
        err,
        seen_out: Vec::new(),
        seen_err: Vec::new(),
        reaped: false,
    }
}

/// What a finished program left: its status and its output lines.
struct Finished {
    status: ExitStatus,
    out: Vec<String>,
    err: Vec<String>,
}

impl Finished {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
    fn stdout(&self) -> String {
        self.out.join("\n")
    }
    fn stderr(&self) -> String {
        self.err.join("\n")
    }
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout(),
            self.stderr()
        )
    }
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line on stdout (`err`: stderr) that satisfies `wanted`.
    fn line(&mut self, stderr: bool, wanted: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let (rx, seen) = if stderr {
                (&self.err, &mut self.seen_err)
            } else {
                (&self.out, &mut self.seen_out)
            };
            match rx.recv_timeout(left) {
                Ok(line) => {
                    seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "{}: no such line ({e:?}); stdout {:?}, stderr {:?}",
                    self.exe, self.seen_out, self.seen_err
                ),
            }
        }
    }

    /// Waits (with the deadline) for the program to exit.
    fn finish(mut self) -> Finished {
        let end = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < end, "{} still running", self.exe);
            std::thread::sleep(Duration::from_millis(5));
        };
        self.reaped = true;
        let take = |rx: &Receiver<String>, seen: &mut Vec<String>| loop {
            match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(line) => seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break std::mem::take(seen),
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("{}: output still open", self.exe),
            }
        };
        let out = take(&self.out, &mut self.seen_out);
        let err = take(&self.err, &mut self.seen_err);
        Finished { status, out, err }
    }

    /// SIGKILLs the program (only it: not its group) and reaps it.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.reaped = true;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: kill takes no pointers; a negative pid names the
            // child's process group.
            unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

fn run(exe: &'static str, args: &[&str]) -> Finished {
    start(exe, args).finish()
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

/// Names under /dev/shm that mention `name` (the object itself, or glibc's
/// `sem.NAME` files for named semaphores).
fn leftovers(name: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.contains(name))
        .collect();
    found.sort();
    found
}

// ------------------------------------------------------------ command lines

#[test]
fn every_program_has_help_that_lists_its_arguments_and_options() {
    let expected: &[(&str, &[&str])] = &[
        ("async-service", &["serve", "feed"]),
        ("echo-client", &["--tcp", "--unix", "<MESSAGES>"]),
        ("echo-server", &["--tcp", "--unix", "--clients"]),
        ("engine-loop", &["serve", "feed", "status"]),
        ("fifo-reader", &["<PATH>", "--wait"]),
        (
            "fifo-writer",
            &["<PATH>", "[LINES]", "--pause-ms", "--wait"],
        ),
        ("frame-pool", &["[FRAMES]"]),
        ("interlink-inspect", &["ls", "inspect", "rm", "gc"]),
        (
            "ipc-bench",
            &[
                "--long",
                "--only",
                "--sizes",
                "--round-trips",
                "--format",
                "--svg",
            ],
        ),
        ("memfd-handoff", &["[MEBIBYTES]", "65536"]),
        ("mq-priorities", &["Usage: mq-priorities"]),
        ("pipe-parent-child", &["[LINES]"]),
        ("pipeline", &["[DIR]"]),
        ("ring-daemon", &["serve", "feed"]),
        ("rt-signal", &["Usage: rt-signal"]),
        ("shm-reader", &["<NAME>"]),
        ("shm-writer", &["<NAME>", "[COUNT]"]),
        ("spsc_stream", &["[COUNT]"]),
        ("sysv-hybrid", &["--size", "--reader"]),
        ("sysv-queue", &["Usage: sysv-queue"]),
        (
            "worker-pool",
            &["[PRODUCERS]", "[WORKERS]", "[JOBS]", "[IDLE_MS]"],
        ),
    ];
    assert_eq!(expected.len(), PROGRAMS.len());
    for ((name, exe), (listed, options)) in PROGRAMS.iter().zip(expected) {
        assert_eq!(name, listed);
        let help = run(exe, &["--help"]);
        assert_eq!(help.code(), Some(0), "{name} --help: {help:?}");
        let text = help.stdout();
        assert!(text.contains("Usage:"), "{name}: {text}");
        assert!(text.contains("--help"), "{name}: {text}");
        for option in *options {
            assert!(
                text.contains(option),
                "{name} --help lacks {option}:\n{text}"
            );
        }
    }
    // Subcommands have their own.
    for (exe, args, option) in [
        (
            env!("CARGO_BIN_EXE_interlink-inspect"),
            ["rm", "--help"],
            "--force",
        ),
        (
            env!("CARGO_BIN_EXE_ring-daemon"),
            ["feed", "--help"],
            "<COUNT>",
        ),
    ] {
        let help = run(exe, &args);
        assert_eq!(help.code(), Some(0), "{help:?}");
        assert!(help.stdout().contains(option), "{help:?}");
    }
}

#[test]
fn unknown_options_and_extra_arguments_are_refused() {
    for (name, exe) in PROGRAMS {
        let refused = run(exe, &["--no-such-option"]);
        assert_eq!(refused.code(), Some(2), "{name}: {refused:?}");
        assert!(
            refused.stderr().contains("--no-such-option"),
            "{name} does not name the option: {refused:?}"
        );
        assert!(refused.out.is_empty(), "{name} ran anyway: {refused:?}");
    }
    // One argument too many, for programs with fixed positions. (Before,
    // `fifo-writer --help` made a FIFO named `--help`; these ran.)
    for (exe, args) in [
        (env!("CARGO_BIN_EXE_rt-signal"), &["extra"][..]),
        (env!("CARGO_BIN_EXE_mq-priorities"), &["extra"]),
        (env!("CARGO_BIN_EXE_spsc_stream"), &["10", "20"]),
        (env!("CARGO_BIN_EXE_fifo-writer"), &["/tmp/x", "1", "2"]),
        (env!("CARGO_BIN_EXE_shm-reader"), &["/a", "/b"]),
        (env!("CARGO_BIN_EXE_interlink-inspect"), &["gc", "a", "b"]),
        (env!("CARGO_BIN_EXE_ring-daemon"), &["feed", "/x", "1", "2"]),
    ] {
        let refused = run(exe, args);
        assert_eq!(refused.code(), Some(2), "{exe} {args:?}: {refused:?}");
        assert!(
            refused.stderr().contains("unexpected argument"),
            "{refused:?}"
        );
    }
    assert!(!std::path::Path::new("--help").exists());
}

#[test]
fn numbers_are_validated() {
    // `memfd-handoff 0` used to become 1 MiB silently.
    let refused = run(env!("CARGO_BIN_EXE_memfd-handoff"), &["0"]);
    assert_eq!(refused.code(), Some(2), "{refused:?}");
    assert!(
        refused.stderr().contains("'0'") && refused.stderr().contains("1..=65536"),
        "{refused:?}"
    );
    assert!(refused.out.is_empty(), "{refused:?}");
    for (exe, args, complaint) in [
        (env!("CARGO_BIN_EXE_spsc_stream"), &["0"][..], "at least 1"),
        (env!("CARGO_BIN_EXE_spsc_stream"), &["-5"], "-5"),
        (
            env!("CARGO_BIN_EXE_ring-daemon"),
            &["feed", "/x", "0"],
            "at least 1",
        ),
        (env!("CARGO_BIN_EXE_worker-pool"), &["65"], "65"),
        (
            env!("CARGO_BIN_EXE_fifo-writer"),
            &["/tmp/x", "many"],
            "many",
        ),
        (
            env!("CARGO_BIN_EXE_fifo-reader"),
            &["/tmp/x", "--wait", "0"],
            "out of range",
        ),
        (
            env!("CARGO_BIN_EXE_echo-server"),
            &["--unix", "/tmp/x", "--clients", "0"],
            "at least 1",
        ),
        (
            env!("CARGO_BIN_EXE_ipc-bench"),
            &["--round-trips", "0"],
            "--round-trips",
        ),
    ] {
        let refused = run(exe, args);
        assert_eq!(refused.code(), Some(2), "{exe} {args:?}: {refused:?}");
        assert!(refused.stderr().contains(complaint), "{refused:?}");
    }
}

#[test]
fn errors_are_printed_for_people() {
    let path = "/nonexistent-interlink-dir/demo.fifo";
    let failed = run(env!("CARGO_BIN_EXE_fifo-reader"), &[path]);
    assert_eq!(failed.code(), Some(1), "{failed:?}");
    let err = failed.stderr();
    assert!(
        err.starts_with("fifo-reader: ") && err.contains(path) && err.contains("No such file"),
        "{failed:?}"
    );
    assert!(
        !err.contains("OsError") && !err.contains("errno:"),
        "{failed:?}"
    );
    let failed = run(
        env!("CARGO_BIN_EXE_echo-client"),
        &["--unix", "/nonexistent-interlink-dir/echo.sock", "hi"],
    );
    assert_eq!(failed.code(), Some(1), "{failed:?}");
    assert!(
        failed
            .stderr()
            .contains("connect to unix /nonexistent-interlink-dir/echo.sock")
            && failed.stderr().contains("No such file"),
        "{failed:?}"
    );
}

// ------------------------------------------------------------------- FIFOs

#[test]
fn fifo_stream_outlives_the_peer_watchdog() {
    // Both watchdogs are far shorter than the stream (30 lines, 100 ms
    // apart: at least 3 s). They cover only the wait for the peer, so the
    // whole stream arrives and both exit 0. (Before, the watchdog fired
    // mid-stream and the reader reported end of file with status 0.)
    let path = temp_path("il-prog-fifo");
    let p = path.to_str().unwrap();
    let mut writer = start(
        env!("CARGO_BIN_EXE_fifo-writer"),
        &[p, "30", "--pause-ms", "100", "--wait", "2"],
    );
    // It has armed its watchdog and is about to block in `open`.
    writer.line(true, |l| l.contains("waiting for a reader to open"));
    let reader = start(env!("CARGO_BIN_EXE_fifo-reader"), &[p, "--wait", "1"]);
    let writer_pid = writer.pid();
    let started = Instant::now();
    let (w, r) = (writer.finish(), reader.finish());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the stream was meant to outlast the watchdogs"
    );
    assert_eq!(w.code(), Some(0), "writer: {w:?}");
    assert_eq!(r.code(), Some(0), "reader: {r:?}");
    assert_eq!(w.out, ["writer: sent 30 lines"]);
    let expected: Vec<String> = (1..=30)
        .map(|i| format!("reader: line {i} from writer {writer_pid}"))
        .chain(["reader: end of file after 30 lines".into()])
        .collect();
    assert_eq!(r.out, expected);
    assert!(
        r.stderr()
            .contains("fifo-reader: waiting for a writer to open"),
        "{r:?}"
    );
    assert!(!path.exists(), "the creator removes the FIFO");
}

#[test]
fn a_fifo_stream_cut_short_exits_non_zero() {
    let path = temp_path("il-prog-fifo-cut");
    let p = path.to_str().unwrap();
    let mut writer = start(
        env!("CARGO_BIN_EXE_fifo-writer"),
        &[p, "100000", "--pause-ms", "20"],
    );
    writer.line(true, |l| l.contains("waiting for a reader"));
    let mut reader = start(env!("CARGO_BIN_EXE_fifo-reader"), &[p]);
    reader.line(false, |l| l.starts_with("reader: line 3 "));
    writer.kill(); // SIGKILL mid-stream: the FIFO sees end of file
    let r = reader.finish();
    assert_eq!(r.code(), Some(1), "a cut stream is a failure: {r:?}");
    assert!(r.stderr().contains("cut short"), "{r:?}");
    assert!(
        !r.out.iter().any(|l| l.contains("end of file after")),
        "{r:?}"
    );
    // The killed writer made the FIFO and could not remove it.
    let _ = std::fs::remove_file(&path);

    // And the other way round: a reader that goes away fails the writer.
    let path = temp_path("il-prog-fifo-cut");
    let p = path.to_str().unwrap();
    let mut writer = start(
        env!("CARGO_BIN_EXE_fifo-writer"),
        &[p, "100000", "--pause-ms", "20"],
    );
    writer.line(true, |l| l.contains("waiting for a reader"));
    let mut reader = start(env!("CARGO_BIN_EXE_fifo-reader"), &[p]);
    reader.line(false, |l| l.starts_with("reader: line 3 "));
    reader.kill();
    let w = writer.finish();
    assert_eq!(w.code(), Some(1), "{w:?}");
    assert!(w.stderr().contains("Broken pipe"), "{w:?}");
    assert!(!path.exists(), "the writer made the FIFO and removes it");
}

// ------------------------------------------------------- restart after kill

#[test]
fn shm_writer_restarts_after_sigkill() {
    let name = format!("/{}", unique("il-prog-shm"));
    let mut first = start(env!("CARGO_BIN_EXE_shm-writer"), &[&name, "3"]);
    first.line(false, |l| l.starts_with("writer: created"));
    let first_pid = first.pid();
    first.kill(); // no Drop ran: the object and both semaphores stay
    let bare = &name[1..];
    assert_eq!(
        leftovers(bare),
        [
            bare.to_owned(),
            format!("sem.{bare}-empty"),
            format!("sem.{bare}-full")
        ]
    );

    // The restart finds its dead predecessor's leftovers and replaces them.
    let mut second = start(env!("CARGO_BIN_EXE_shm-writer"), &[&name, "3"]);
    second.line(false, |l| l.starts_with("writer: created"));
    let note = second.line(true, |l| l.contains("replaced"));
    assert!(note.contains(&format!("pid {first_pid}")), "{note}");

    // While it runs, a third writer is refused, naming the holder.
    let refused = run(env!("CARGO_BIN_EXE_shm-writer"), &[&name, "3"]);
    assert_eq!(refused.code(), Some(1), "{refused:?}");
    assert!(
        refused.stderr().contains("in use") && refused.stderr().contains(&second.pid().to_string()),
        "{refused:?}"
    );

    let reader = run(env!("CARGO_BIN_EXE_shm-reader"), &[&name]);
    assert_eq!(reader.code(), Some(0), "{reader:?}");
    assert_eq!(reader.out.last().unwrap(), "reader: end after 3 messages");
    let w = second.finish();
    assert_eq!(w.code(), Some(0), "{w:?}");
    assert_eq!(leftovers(bare), Vec::<String>::new());
}

#[test]
fn echo_server_restarts_after_sigkill() {
    let sock = temp_path("il-prog-echo.sock");
    let s = sock.to_str().unwrap();
    let mut first = start(env!("CARGO_BIN_EXE_echo-server"), &["--unix", s]);
    first.line(false, |l| l.starts_with("listening on"));

    // While it runs, a second server is refused, and its liveness probe
    // does not count as one of the first server's clients.
    let refused = run(env!("CARGO_BIN_EXE_echo-server"), &["--unix", s]);
    assert_eq!(refused.code(), Some(1), "{refused:?}");
    assert!(
        refused.stderr().contains("another server is listening"),
        "{refused:?}"
    );
    first.kill(); // the socket file stays behind
    assert!(sock.exists());

    let mut second = start(
        env!("CARGO_BIN_EXE_echo-server"),
        &["--unix", s, "--clients", "1"],
    );
    second.line(false, |l| l.starts_with("listening on"));
    let client = run(env!("CARGO_BIN_EXE_echo-client"), &["--unix", s, "again"]);
    assert_eq!(client.code(), Some(0), "{client:?}");
    assert_eq!(client.out, ["echo #1: again"]);
    let server = second.finish();
    assert_eq!(server.code(), Some(0), "{server:?}");
    assert!(
        server.stderr().contains("replaced the stale socket file"),
        "{server:?}"
    );
    assert!(!sock.exists());

    // Something that is not a socket is never removed.
    let file = temp_path("il-prog-not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let refused = run(
        env!("CARGO_BIN_EXE_echo-server"),
        &["--unix", file.to_str().unwrap()],
    );
    assert_eq!(refused.code(), Some(1), "{refused:?}");
    assert!(refused.stderr().contains("not a socket"), "{refused:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    std::fs::remove_file(&file).unwrap();
}

// --------------------------------------------------------------- ring-daemon

/// Waits for `child` with `wait4`: its exit status and peak RSS in KiB.
fn wait_with_peak_rss(mut running: Running) -> (i32, i64) {
    let pid = running.pid() as libc::pid_t;
    let end = Instant::now() + DEADLINE;
    let mut status = 0;
    // SAFETY: rusage is plain data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid out-pointers; `pid` is our unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        assert!(Instant::now() < end, "still running");
        std::thread::sleep(Duration::from_millis(5));
    }
    running.reaped = true;
    assert!(libc::WIFEXITED(status), "status {status:#x}");
    // A C long: 32 bits on i686, where this widens.
    #[allow(clippy::useless_conversion)]
    let max_rss = i64::from(usage.ru_maxrss);
    (libc::WEXITSTATUS(status), max_rss)
}

#[test]
fn ring_daemon_feed_streams_instead_of_building_every_value() {
    let name = format!("/{}", unique("il-prog-daemon"));
    let config = temp_path("il-prog-daemon.conf");
    std::fs::write(&config, "label = x\n").unwrap();
    let mut daemon = start(
        env!("CARGO_BIN_EXE_ring-daemon"),
        &["serve", &name, config.to_str().unwrap()],
    );
    daemon.line(false, |l| l.starts_with("ready:"));
    // 2×10⁷ u64 values are 160 MB if built first; streamed, the feeder
    // stays at a few MB whatever the count.
    let count = 20_000_000u64;
    let feeder = start(
        env!("CARGO_BIN_EXE_ring-daemon"),
        &["feed", &name, &count.to_string()],
    );
    let (code, peak_kib) = wait_with_peak_rss(feeder);
    assert_eq!(code, 0);
    assert!(peak_kib < 64 * 1024, "the feeder peaked at {peak_kib} KiB");
    interlink_linux::signal::kill(daemon.pid(), libc::SIGTERM).unwrap();
    let d = daemon.finish();
    assert_eq!(d.code(), Some(0), "{d:?}");
    let sum = count * (count + 1) / 2;
    assert!(
        d.out
            .last()
            .unwrap()
            .ends_with(&format!(": {count} items, sum {sum}")),
        "{d:?}"
    );
    std::fs::remove_file(&config).unwrap();
}

// ------------------------------------------------------------ async-service

/// The tokio service answers a TCP client while it waits on its channel,
/// then receives every value a blocking feeder process sends, and stops
/// with their sum.
#[test]
fn async_service_answers_tcp_while_it_awaits_the_channel() {
    use std::io::{BufRead, BufReader, Write};
    const COUNT: u64 = 50_000;
    let exe = env!("CARGO_BIN_EXE_async-service");
    let name = format!("/{}", unique("il-prog-async"));
    let mut service = start(exe, &["serve", &name, &COUNT.to_string()]);
    let ready = service.line(false, |l| l.starts_with("ready:"));
    let port: u16 = ready.rsplit(' ').next().unwrap().parse().unwrap();
    // Nothing sent yet: the service is parked on the channel and the socket.
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.write_all(b"total\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&tcp).read_line(&mut reply).unwrap();
    assert!(reply.starts_with("items "), "{reply:?}");
    let feeder = run(exe, &["feed", &name, &COUNT.to_string()]);
    assert_eq!(feeder.code(), Some(0), "{feeder:?}");
    let s = service.finish();
    assert_eq!(s.code(), Some(0), "{s:?}");
    let sum = COUNT * (COUNT + 1) / 2;
    assert_eq!(
        s.out.last().unwrap(),
        &format!("received {COUNT} values, sum {sum}"),
        "{s:?}"
    );
}

// -------------------------------------------------------------- engine-loop

/// Three feeder processes fill the engine's three channels while it sleeps
/// in one `epoll_wait` with a socket and a signalfd; a status request over
/// the socket sees everything once it is drained, and SIGTERM ends the
/// engine with exit code 0, the totals, and its channels' names removed.
#[test]
fn engine_loop_drains_three_channels_answers_the_socket_and_stops_on_sigterm() {
    const COUNT: u64 = 100_000;
    let exe = env!("CARGO_BIN_EXE_engine-loop");
    let prefix = format!("/{}", unique("il-prog-engine"));
    let socket = temp_path("il-prog-engine.sock");
    let socket = socket.to_str().unwrap();
    let mut engine = start(exe, &["serve", &prefix, socket]);
    engine.line(false, |l| l.starts_with("ready:"));
    let feeders: Vec<Running> = (0..3)
        .map(|i| start(exe, &["feed", &prefix, &i.to_string(), &COUNT.to_string()]))
        .collect();
    for feeder in feeders {
        let f = feeder.finish();
        assert_eq!(f.code(), Some(0), "{f:?}");
    }
    let sum = 3 * COUNT * (COUNT + 1) / 2;
    let expected = format!("items {} sum {sum}", 3 * COUNT);
    // Sent is not yet received: ask until the engine has drained it all.
    let end = Instant::now() + DEADLINE;
    loop {
        let status = run(exe, &["status", socket]);
        assert_eq!(status.code(), Some(0), "{status:?}");
        if status.stdout().trim() == expected {
            break;
        }
        assert!(Instant::now() < end, "last status: {status:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    interlink_linux::signal::kill(engine.pid(), libc::SIGTERM).unwrap();
    let e = engine.finish();
    assert_eq!(e.code(), Some(0), "{e:?}");
    assert!(e.out.last().unwrap().ends_with(&expected), "{e:?}");
    for i in 0..3 {
        let object = format!("/dev/shm{prefix}-{i}");
        assert!(
            !std::path::Path::new(&object).exists(),
            "{object} left behind"
        );
    }
}

// ------------------------------------------------------------------ inspect

#[test]
fn inspect_rm_refuses_an_object_in_use_unless_forced() {
    use interlink_core::RingConfig;
    use interlink_linux::channel::{ChannelOptions, SpscChannel};
    use interlink_linux::shm::TempName;

    let inspect = |args: &[&str]| run(env!("CARGO_BIN_EXE_interlink-inspect"), args);
    let name = TempName::new("il-prog-insp").unwrap();
    let opts = ChannelOptions::new().unlink_on_drop(false);
    let channel = SpscChannel::<u64>::create(&name, RingConfig::new(64), &opts).unwrap();
    let _tx = channel.sender().unwrap();

    let refused = inspect(&["rm", &name]);
    assert_eq!(refused.code(), Some(2), "{refused:?}");
    let me = std::process::id();
    assert!(
        refused.stderr().contains("in use")
            && refused.stderr().contains(&format!("pid {me} is alive"))
            && refused.stderr().contains("--force"),
        "{refused:?}"
    );
    // Still there.
    let shown = inspect(&["inspect", &name]);
    assert_eq!(shown.code(), Some(0), "{shown:?}");
    // Kinds, states and pids by name, not raw numbers.
    for wanted in [
        "kind:      spsc (single-producer single-consumer ring",
        "state:     ready (initialised and published",
        &format!("creator:   {me} (alive)"),
        &format!("producer:  {me} (alive)"),
        "consumer:  - (none)",
        "stale:     no (creator pid",
    ] {
        assert!(shown.stdout().contains(wanted), "{wanted:?} in {shown:?}");
    }

    let forced = inspect(&["rm", "--force", &name]);
    assert_eq!(forced.code(), Some(0), "{forced:?}");
    assert_eq!(forced.out, [format!("removed {}", name.as_str())]);
    assert_eq!(inspect(&["inspect", &name]).code(), Some(2));

    // gc says when there was nothing to remove.
    let prefix = format!("/{}", unique("il-prog-none"));
    let gc = inspect(&["gc", &prefix]);
    assert_eq!(gc.code(), Some(0), "{gc:?}");
    assert_eq!(
        gc.out,
        [format!(
            "nothing to remove: no stale object whose name starts with {prefix}"
        )]
    );
}

// ---------------------------------------------------------------- ipc-bench

#[test]
fn ipc_bench_only_with_an_unknown_name_lists_the_names() {
    let refused = run(env!("CARGO_BIN_EXE_ipc-bench"), &["--only", "spsc,bogus"]);
    assert_eq!(refused.code(), Some(2), "{refused:?}");
    let err = refused.stderr();
    assert!(err.contains("\"bogus\" matches no mechanism"), "{err}");
    for name in ["spsc ring (spin)", "pipe", "eventfd", "floor: memcpy"] {
        assert!(err.contains(name), "{name} not listed: {err}");
    }
    assert!(refused.out.is_empty(), "nothing was measured: {refused:?}");
}

#[test]
fn ipc_bench_unwritable_svg_fails_before_the_run() {
    let refused = run(
        env!("CARGO_BIN_EXE_ipc-bench"),
        &["--svg", "/nonexistent-interlink-dir/chart.svg"],
    );
    assert_eq!(refused.code(), Some(2), "{refused:?}");
    assert!(
        refused
            .stderr()
            .contains("cannot write the chart to /nonexistent-interlink-dir/chart.svg"),
        "{refused:?}"
    );
    // Nothing was measured: no table, no progress.
    assert!(refused.out.is_empty(), "{refused:?}");
    assert!(!refused.stderr().contains("rows in"), "{refused:?}");
}

#[test]
fn ipc_bench_progress_is_plain_off_a_terminal_and_agrees_with_the_footer() {
    let done = run(
        env!("CARGO_BIN_EXE_ipc-bench"),
        &[
            "--only",
            "floor",
            "--sizes",
            "64",
            "--round-trips",
            "100",
            "--rounds",
            "3",
        ],
    );
    assert_eq!(done.code(), Some(0), "{done:?}");
    let err = done.stderr();
    assert!(!err.contains('\x1b') && !err.contains('\r'), "{err:?}");
    // One plain line per round.
    let progress: Vec<&str> = done
        .err
        .iter()
        .filter_map(|l| l.split("] ").nth(1))
        .collect();
    assert_eq!(progress, ["round 1/3", "round 2/3", "round 3/3"]);
    assert!(
        done.err
            .iter()
            .any(|l| l.starts_with("2 rows in ") && l.contains(": 3 rounds;")),
        "{err}"
    );
}
