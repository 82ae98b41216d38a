//! C and C++ programs that include `include/interlink.h` and link the
//! library exchange with this (Rust) test process through every channel
//! kind and the robust mutex, in both directions; and a check that the
//! header and the code declare the same functions and codes.
//!
//! The programs (`tests/programs/peer.c`, `peer.cpp`) are compiled here
//! with `gcc -std=c99 -Wall -Wextra -Werror -pedantic` and
//! `g++ -std=c++17 -Wall -Wextra -Werror -pedantic`; a missing compiler
//! fails the test saying what to install. They link
//! `libinterlink_c.a` that `cargo test -p interlink-c` built with this
//! test (in `target/<profile>/deps`; see [`library_dir`]), or, when it is
//! missing, one a nested `cargo build -p interlink-c` makes in the same
//! target directory. The C program is also linked once against
//! `libinterlink_c.so`.
//!
//! Every exchange: the receiving side creates an SPSC channel of a
//! 16-byte struct, a byte channel, an MPMC channel of `u64` and a robust
//! mutex around a `u64`; both sides increment the counter under the mutex
//! at once; the sender sends `COUNT` values through each channel, each
//! checked on arrival (MPMC: each exactly once); then a process of the
//! sending side dies holding the mutex (the C or C++ sender itself; for
//! the Rust sender, a child process running this test binary's
//! `rust_process_dies_holding_the_mutex`), and the receiver must be told
//! "owner died" and find every increment.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use interlink_core::mutex::{LockError, Mutex};
use interlink_core::{AttachError, ElementCheck, RingConfig};
use interlink_linux::channel::{ByteChannel, ChannelOptions, MpmcChannel, SpscChannel};
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::shm::{self, MapOptions, Mapping, Shm};

/// Values sent through each channel, each way.
const COUNT: u32 = 5_000;
const PATIENCE: Duration = Duration::from_secs(60);
const CAPACITY: u32 = 256;
const BYTES_CAPACITY: u32 = 4096;
const ROUNDS: u64 = 2000;
const SENTINEL: u64 = u64::MAX;

interlink_core::plain_struct! {
    /// The SPSC element: `quote` in the programs (16 bytes, alignment 8).
    struct Quote { seq: u64, a: u32, b: u32 }
}

fn quote(i: u32) -> Quote {
    Quote {
        seq: (u64::from(i) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        a: i,
        b: !i,
    }
}

fn word(i: u32) -> u64 {
    (0xA5A5_A5A5u64 << 32) | u64::from(i)
}

fn message(i: u32) -> (u32, Vec<u8>) {
    let len = (i as usize * 37) % 301;
    (
        (i % 7),
        (0..len).map(|j| (i as usize * 7 + j) as u8).collect(),
    )
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/deps`: where cargo put this test and the libraries
/// it built with it.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

/// Fails, saying what to install, unless `compiler` runs.
fn require(compiler: &str) {
    let ok = Command::new(compiler)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{compiler}` is needed to test the C API (Debian/Ubuntu: apt-get install {})",
        if compiler == "g++" { "g++" } else { "gcc" }
    );
}

/// The directory holding `libinterlink_c.a` and `libinterlink_c.so`.
///
/// `cargo test -p interlink-c` compiles the library once for all its
/// crate types, into `target/<profile>/deps` (without copying the static
/// and shared libraries up to `target/<profile>`, as `cargo build`
/// does): they are then exactly the code this test was built with. When
/// they are missing, a nested `cargo build -p interlink-c` into the same
/// target directory makes them.
fn library_dir() -> PathBuf {
    let deps = deps_dir();
    let have = |dir: &Path| {
        dir.join("libinterlink_c.a").exists() && dir.join("libinterlink_c.so").exists()
    };
    if have(&deps) {
        return deps;
    }
    let profile = deps.parent().expect("target/<profile>").to_path_buf();
    if !have(&profile) {
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "interlink-c", "--target-dir"]);
        build.arg(profile.parent().expect("target dir"));
        if profile.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build -p interlink-c");
        assert!(status.success(), "cargo build -p interlink-c failed");
    }
    assert!(
        have(&profile),
        "libinterlink_c.a/.so not found in {} or {}",
        deps.display(),
        profile.display()
    );
    profile
}

/// What the static library needs from the system (`rustc --print
/// native-static-libs` on glibc).
const SYSTEM_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// Compiles one program; panics with the compiler's output on failure.
fn compile(compiler: &str, flags: &[&str], source: &str, link: &[String], out: &Path) {
    require(compiler);
    let src = manifest_dir().join("tests/programs").join(source);
    let output = Command::new(compiler)
        .args(flags)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-I"])
        .arg(manifest_dir().join("include"))
        .arg(&src)
        .args(link)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{compiler} {}: failed\n{}",
        src.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

struct Programs {
    c: PathBuf,
    cpp: PathBuf,
    c_shared: PathBuf,
}

/// Compiles the programs once per test run.
fn programs() -> &'static Programs {
    static PROGRAMS: OnceLock<Programs> = OnceLock::new();
    PROGRAMS.get_or_init(|| {
        let dir = library_dir();
        let lib = dir.join("libinterlink_c.a");
        let out = deps_dir().join("../c-api-tests");
        std::fs::create_dir_all(&out).expect("create the programs' directory");
        let mut static_link = vec![lib.display().to_string()];
        static_link.extend(SYSTEM_LIBS.iter().map(|s| s.to_string()));
        let programs = Programs {
            c: out.join("peer-c"),
            cpp: out.join("peer-cpp"),
            c_shared: out.join("peer-c-shared"),
        };
        compile("gcc", &["-std=c99"], "peer.c", &static_link, &programs.c);
        let mut cpp_link = static_link.clone();
        cpp_link.push("-pthread".to_owned());
        compile("g++", &["-std=c++17"], "peer.cpp", &cpp_link, &programs.cpp);
        let shared_link = vec![
            format!("-L{}", dir.display()),
            "-linterlink_c".to_owned(),
            format!("-Wl,-rpath,{}", dir.display()),
        ];
        compile(
            "gcc",
            &["-std=c99"],
            "peer.c",
            &shared_link,
            &programs.c_shared,
        );
        programs
    })
}

fn prefix(tag: &str) -> String {
    format!("/il-capi-{tag}-{}", std::process::id())
}

fn name(prefix: &str, what: &str) -> String {
    format!("{prefix}-{what}")
}

/// Waits for `child`, killing it after `limit`.
fn finish(mut child: Child, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the program") {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            return if status.success() {
                Ok(())
            } else {
                Err(format!("the program failed ({status}): {stderr}"))
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the program did not finish in time".to_owned());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run(program: &Path, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()))
}

/// Runs `program` in `role` against this process's other half.
fn exchange(program: &Path, role: &str, tag: &str) {
    let prefix = prefix(tag);
    let child = run(program, &[role, &prefix, &COUNT.to_string()]);
    let here = std::thread::scope(|s| {
        let half = s.spawn(|| {
            if role == "recv" {
                rust_send(&prefix, COUNT)
            } else {
                rust_recv(&prefix, COUNT)
            }
        });
        // Reaped here as soon as it exits (a dead owner is then plainly dead).
        let there = finish(child, Duration::from_secs(300));
        let here = half
            .join()
            .unwrap_or_else(|_| Err("the Rust half panicked".into()));
        (here, there)
    });
    for what in ["s", "b", "m", "x"] {
        let _ = shm::unlink(&name(&prefix, what));
    }
    assert_eq!(here, (Ok(()), Ok(())), "(this Rust process, the program)");
}

fn ctx<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

fn expect<T: PartialEq + std::fmt::Debug>(
    what: &str,
    i: u32,
    got: T,
    want: T,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} #{i}: got {got:?}, expected {want:?}"))
    }
}

fn increment(mutex: &Mutex<'_, u64>) -> Result<(), String> {
    let me = Robust::new();
    for _ in 0..ROUNDS {
        let mut guard = mutex
            .lock(&Futex, &me, Some(PATIENCE))
            .map_err(ctx("mutex lock"))?;
        guard.update(|n| *n += 1);
    }
    Ok(())
}

fn open_mutex(name: &str) -> Result<Mapping, String> {
    let start = Instant::now();
    loop {
        if let Ok(map) = Shm::open(name).and_then(|s| s.map(&MapOptions::new())) {
            match Mutex::<u64>::attach_with(map.region(), ElementCheck::LayoutOnly) {
                Ok(_) => return Ok(map),
                Err(AttachError::NotReady { .. }) => {}
                Err(e) => return Err(format!("attach the mutex: {e}")),
            }
        }
        if start.elapsed() > PATIENCE {
            return Err(format!("the mutex {name} did not appear"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The Rust sender: opens what the program created (its element types
/// are `[u8; N]` there: `LayoutOnly`), sends, and leaves the mutex held
/// by a thread that ended.
fn rust_send(prefix: &str, count: u32) -> Result<(), String> {
    let opts = ChannelOptions::new()
        .open_timeout(PATIENCE)
        .element_check(ElementCheck::LayoutOnly);
    let spsc = SpscChannel::<Quote>::open(&name(prefix, "s"), &opts).map_err(ctx("open spsc"))?;
    let bytes = ByteChannel::open(&name(prefix, "b"), &opts).map_err(ctx("open bytes"))?;
    let mpmc = MpmcChannel::<u64>::open(&name(prefix, "m"), &opts).map_err(ctx("open mpmc"))?;
    let map = open_mutex(&name(prefix, "x"))?;
    let mutex = Mutex::<u64>::attach_with(map.region(), ElementCheck::LayoutOnly)
        .map_err(ctx("attach mutex"))?;

    increment(&mutex)?;

    let mut tx = spsc.sender().map_err(ctx("spsc sender"))?;
    for i in 0..count {
        tx.send_timeout(quote(i), PATIENCE)
            .map_err(ctx("spsc send"))?;
    }
    let mut btx = bytes.sender().map_err(ctx("bytes sender"))?;
    for i in 0..count {
        let (tag, payload) = message(i);
        btx.send_timeout(tag, &payload, PATIENCE)
            .map_err(ctx("bytes send"))?;
    }
    let h = mpmc.handle().map_err(ctx("mpmc handle"))?;
    for i in 0..count {
        h.send_timeout(word(i), PATIENCE)
            .map_err(ctx("mpmc send"))?;
    }
    // Another Rust process takes the lock, counts once more and exits
    // holding it.
    let holder = Command::new(std::env::current_exe().map_err(ctx("this test's path"))?)
        .args([
            "--exact",
            "rust_process_dies_holding_the_mutex",
            "--include-ignored",
        ])
        .args(["--nocapture", "--test-threads=1"])
        .env(HOLDER_ENV, name(prefix, "x"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ctx("start the Rust holder"))?;
    finish(holder, PATIENCE).map_err(ctx("the Rust holder"))?;
    let sentinel = Quote {
        seq: SENTINEL,
        a: 0,
        b: 0,
    };
    tx.send_timeout(sentinel, PATIENCE)
        .map_err(ctx("spsc sentinel"))?;
    Ok(())
}

/// The Rust receiver: creates everything with Rust types, receives what
/// the program sends, then finds the mutex left by a dead process.
fn rust_recv(prefix: &str, count: u32) -> Result<(), String> {
    let opts = ChannelOptions::new().open_timeout(PATIENCE);
    let spsc = SpscChannel::<Quote>::create(&name(prefix, "s"), RingConfig::new(CAPACITY), &opts)
        .map_err(ctx("create spsc"))?;
    let bytes = ByteChannel::create(&name(prefix, "b"), RingConfig::new(BYTES_CAPACITY), &opts)
        .map_err(ctx("create bytes"))?;
    let mpmc = MpmcChannel::<u64>::create(&name(prefix, "m"), RingConfig::new(CAPACITY), &opts)
        .map_err(ctx("create mpmc"))?;
    let object = Shm::create(&name(prefix, "x"), Mutex::<u64>::bytes_needed())
        .map_err(ctx("create the mutex's object"))?;
    let map = object.map(&MapOptions::new()).map_err(ctx("map mutex"))?;
    let mutex = Mutex::init(map.region(), 0u64).map_err(ctx("init mutex"))?;

    increment(&mutex)?;

    let mut rx = spsc.receiver().map_err(ctx("spsc receiver"))?;
    for i in 0..count {
        let got = rx.recv_timeout(PATIENCE).map_err(ctx("spsc recv"))?;
        let want = quote(i);
        expect(
            "spsc",
            i,
            (got.seq, got.a, got.b),
            (want.seq, want.a, want.b),
        )?;
    }
    let mut brx = bytes.receiver().map_err(ctx("bytes receiver"))?;
    let mut buf = [0u8; 512];
    for i in 0..count {
        let (tag, n) = brx
            .recv_timeout(&mut buf, PATIENCE)
            .map_err(ctx("bytes recv"))?;
        let (want_tag, want) = message(i);
        expect("bytes tag", i, tag, want_tag)?;
        expect("bytes", i, &buf[..n], &want[..])?;
    }
    let h = mpmc.handle().map_err(ctx("mpmc handle"))?;
    let mut seen = HashSet::new();
    for i in 0..count {
        let v = h.recv_timeout(PATIENCE).map_err(ctx("mpmc recv"))?;
        let fresh = v >> 32 == 0xA5A5_A5A5 && (v as u32) < count && seen.insert(v);
        expect("mpmc (each value once)", i, fresh, true)?;
    }
    let last = rx.recv_timeout(PATIENCE).map_err(ctx("spsc sentinel"))?;
    expect("sentinel", count, last.seq, SENTINEL)?;
    let me = Robust::new();
    let outcome = match mutex.lock(&Futex, &me, Some(PATIENCE)) {
        Err(LockError::OwnerDied(mut guard)) => {
            expect(
                "counter after the owner died",
                0,
                guard.get(),
                2 * ROUNDS + 1,
            )?;
            guard.mark_consistent();
            Ok(())
        }
        Ok(guard) => Err(format!(
            "the mutex was taken cleanly (counter {}): expected OwnerDied",
            guard.get()
        )),
        Err(e) => Err(format!("lock after the owner died: {e}")),
    };
    let _ = object.unlink();
    outcome
}

/// Names the mutex the child process of [`rust_send`] must die holding.
const HOLDER_ENV: &str = "INTERLINK_C_TEST_DIE_HOLDING";

/// Run by [`rust_send`] as a child process (this test binary, only this
/// test, `HOLDER_ENV` set): takes the mutex, counts once more, and exits
/// holding it. Without `HOLDER_ENV` (an `--ignored` run) it does nothing.
#[test]
#[ignore = "the child process of the exchanges, not a test by itself"]
fn rust_process_dies_holding_the_mutex() {
    let Some(name) = std::env::var_os(HOLDER_ENV) else {
        return;
    };
    let name = name.into_string().expect("a UTF-8 name");
    let map = open_mutex(&name).expect("open the mutex");
    let mutex = Mutex::<u64>::attach_with(map.region(), ElementCheck::LayoutOnly)
        .expect("attach the mutex");
    let me = Robust::new();
    let mut guard = mutex
        .lock(&Futex, &me, Some(PATIENCE))
        .expect("lock before dying");
    guard.update(|n| *n += 1);
    std::mem::forget(guard);
    std::process::exit(0);
}

#[test]
fn a_c_program_calls_every_function_static() {
    let p = prefix("smoke-static");
    let status = run(&programs().c, &["smoke", &p]);
    assert_eq!(finish(status, Duration::from_secs(120)), Ok(()));
}

#[test]
fn a_c_program_calls_every_function_shared_library() {
    let programs = programs();
    // Really linked against the shared library.
    let elf = Command::new("readelf")
        .args(["-d"])
        .arg(&programs.c_shared)
        .output();
    if let Ok(out) = elf {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("libinterlink_c.so"),
            "peer-c-shared does not need libinterlink_c.so:\n{text}"
        );
    }
    let p = prefix("smoke-shared");
    let child = run(&programs.c_shared, &["smoke", &p]);
    assert_eq!(finish(child, Duration::from_secs(120)), Ok(()));
}

/// The header's C11 branch (`_Alignof`) compiles too (the programs above
/// use C99's and C++'s).
#[test]
fn the_header_compiles_as_c11() {
    let out = deps_dir().join("../c-api-tests/peer-c11.o");
    std::fs::create_dir_all(out.parent().expect("dir")).expect("create the directory");
    compile("gcc", &["-std=c11", "-c"], "peer.c", &[], &out);
}

#[test]
fn a_c_receiver_and_a_rust_sender() {
    exchange(&programs().c, "recv", "c-recv");
}

#[test]
fn a_c_sender_and_a_rust_receiver() {
    exchange(&programs().c, "send", "c-send");
}

#[test]
fn a_cpp_receiver_and_a_rust_sender() {
    exchange(&programs().cpp, "recv", "cpp-recv");
}

#[test]
fn a_cpp_sender_and_a_rust_receiver() {
    exchange(&programs().cpp, "send", "cpp-send");
}
