//! A hostile peer process against every structure a second process can
//! map: for each named channel kind (SPSC of `u64`, bytes, MPMC of `u64`)
//! and for the futex-word sync types in one shared mapping (mutex,
//! semaphore, condvar, event), a forked *hostile* process maps the same
//! memory and keeps writing chosen and random values — 0, `u32::MAX`, the
//! capacity and capacity ± 1, 2³¹ ± 1, 2³⁰, the word's current value ± k,
//! another index ± k, a flipped bit, live and dead pids, header values in
//! the wrong place — into every 32-bit word of the structure (header,
//! role words, indices, event words, users table, slot sequence words,
//! record headers, data), in bursts, in focused runs on one word and in
//! quiet spells, while a forked *worker* runs every public operation of
//! the channel ends or sync types with short timeouts.
//!
//! What must hold (the README's "Untrusted peers" contract):
//! - no panic (a debug build has overflow checks: an unchecked subtraction
//!   is a panic here), no signal (SIGSEGV, SIGBUS), no sanitizer report;
//! - every call returns within its own timeout plus [`SLACK`]: a watchdog
//!   in the test process reads the worker's current operation from shared
//!   memory and kills it with a message naming the operation on a hang;
//! - every result is `Ok` or a typed error, and counts stay in range: a
//!   batch, a chunk, a free or ready count never exceeds the capacity (a
//!   count beyond it means memory past the slots was handed out).
//!
//! The worker and the hostile peer are both forked children, so a crash
//! shows as a failed test with the operation, the hostile peer's last
//! write and the seed, not as a dead harness.
//!
//! # Running
//!
//! ```text
//! # debug, overflow checks on (the default test profile):
//! cargo test -p interlink-linux --test hostile_peer
//! # longer, or again with a seed a failure printed:
//! INTERLINK_HOSTILE_SECS=30 INTERLINK_HOSTILE_SEED=0x1234abcd \
//!     cargo test -p interlink-linux --test hostile_peer -- --nocapture
//! # under AddressSanitizer (what .ci/asan-hostile-peer runs; needs nightly
//! # and `rustup component add --toolchain nightly rust-src`; cold, about
//! # 150 s of CPU — 8.5 min on a shared 2-core machine — then about 30 s):
//! ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 RUSTFLAGS="-Zsanitizer=address" \
//!     RUSTDOCFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan \
//!     cargo +nightly test -Zbuild-std --target x86_64-unknown-linux-gnu \
//!     -p interlink-linux --test hostile_peer
//! ```
//!
//! AddressSanitizer watches the heap, the stack and std: a copy out of the
//! ring past a caller's buffer, say. It does not watch the shared mapping
//! itself, so the worker also checks after every operation that the rest
//! of the structure's last page is still zero (a write past the structure
//! that stays inside that page faults nowhere), and that no count it gets
//! back exceeds the capacity. No leak checking: the forked children end
//! with `_exit`.
//!
//! The seed fixes both processes' choices (operations, words, values,
//! phases), not how the two interleave: a failure seen once may need a
//! few runs with its seed, or a longer one, to come back.

mod common;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};
use std::sync::Once;
use std::time::{Duration, Instant};

use common::{unique_name, Rng};
use interlink_core::bytes::ByteRing;
use interlink_core::condvar::Condvar;
use interlink_core::event::Event;
use interlink_core::mpmc::MpmcRing;
use interlink_core::mutex::{LockError, Mutex};
use interlink_core::semaphore::Semaphore;
use interlink_core::spsc::SpscRing;
use interlink_core::{ChunkError, RecvError, Region, RingConfig, SendError};
use interlink_linux::channel::{
    ByteChannel, ByteReceiver, ByteSender, ChannelOptions, MpmcChannel, MpmcHandle, Receiver,
    Sender, SpscChannel, Waiting,
};
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::inspect;
use interlink_linux::process::{self, fork, Child, Exit};
use interlink_linux::shm::{MapOptions, Mapping, Shm};

/// How long past its own timeout a call may take before the watchdog
/// calls it a hang: generous, for a loaded machine and a sanitizer build.
const SLACK: Duration = Duration::from_secs(5);

/// The longest timeout a worker passes to a blocking call.
const MAX_TIMEOUT_MS: u64 = 20;

// Words of the `Shared` page.
/// Parent → hostile: stop.
const STOP: usize = 0;
/// Worker: index of the operation it runs now.
const OP: usize = 1;
/// Worker: when the current operation must have returned (ms since the
/// test's start, 0 = none armed).
const DEADLINE: usize = 2;
/// Worker: operations done.
const ITERATIONS: usize = 3;
/// Worker: results that were `Ok`.
const OKS: usize = 4;
/// Worker: results that were typed errors.
const ERRS: usize = 5;
/// Hostile: words written.
const WRITES: usize = 6;
/// Parent: the worker's pid (a value the hostile peer writes).
const WORKER_PID: usize = 7;
/// Worker: bytes of the failure text.
const TEXT_LEN: usize = 8;
/// Hostile: the word it wrote last, and the value.
const LAST_WORD: usize = 9;
const LAST_VALUE: usize = 10;
/// Hostile: its exit reason when it could not start (nonzero).
const HOSTILE_FAULT: usize = 11;

/// Where the failure text starts in the `Shared` page.
const TEXT_AT: usize = 256;
const PAGE: usize = 4096;

/// A page of anonymous shared memory the test process, the worker and
/// the hostile peer all see: bookkeeping words and a failure text.
struct Shared(Mapping);

impl Shared {
    fn new() -> Self {
        Self(Mapping::anonymous(PAGE).expect("shared page"))
    }

    fn word(&self, i: usize) -> &AtomicU32 {
        assert!(i < TEXT_AT / 4);
        // SAFETY: in bounds of the page (checked), 4-aligned (the mapping
        // is page-aligned), zero-initialised, only accessed atomically.
        unsafe { &*self.0.as_ptr().cast::<AtomicU32>().add(i) }
    }

    fn text(&self) -> String {
        let n = (self.word(TEXT_LEN).load(Acquire) as usize).min(PAGE - TEXT_AT);
        let mut bytes = vec![0u8; n];
        // SAFETY: the text lies inside the page; the worker that wrote it
        // has exited (its Release store of the length was acquired).
        unsafe {
            std::ptr::copy_nonoverlapping(self.0.as_ptr().add(TEXT_AT), bytes.as_mut_ptr(), n)
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Records `text` as the failure in the shared page at address `page`
/// (an address, so a `'static` panic hook can hold it) and prints it with
/// one `write(2)` — no lock a thread of the parent might have held at
/// `fork` time.
fn record_failure(page: usize, text: &str) {
    let n = text.len().min(PAGE - TEXT_AT);
    // SAFETY: `page` is the Shared page, mapped for the whole child; the
    // text goes to its tail, the length word is atomic.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), (page + TEXT_AT) as *mut u8, n);
        (*(page as *const AtomicU32).add(TEXT_LEN)).store(n as u32, Release);
    }
    say(&format!("hostile_peer worker: {text}\n"));
}

/// Writes to stderr with one syscall, taking no lock.
fn say(text: &str) {
    // SAFETY: writes `text`'s bytes, which live for the call, to fd 2.
    unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
}

/// In a worker child: the address of its `Shared` page (0 elsewhere).
static WORKER_PAGE: AtomicUsize = AtomicUsize::new(0);

/// Installs, once and before the first fork, a panic hook that in a
/// worker child records the panic in the shared page and prints it with
/// one `write(2)`, and elsewhere does what the default hook does. A hook
/// set in the child instead could deadlock: `set_hook` and the default
/// hook take locks that another test thread may have held at `fork` time
/// (while it was printing its own panic).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| match WORKER_PAGE.load(Relaxed) {
            0 => default(info),
            page => record_failure(page, &format!("panic: {info}")),
        }));
    });
}

/// Milliseconds since `base`, as a shared word holds them.
fn ms_since(base: Instant) -> u32 {
    u32::try_from(base.elapsed().as_millis()).unwrap_or(u32::MAX)
}

/// The run's length and seed, from `INTERLINK_HOSTILE_SECS` (default 2)
/// and `INTERLINK_HOSTILE_SEED` (hex with `0x`, or decimal; default from
/// the clock). Read in the test process: children never touch the
/// environment (its lock may be held by another test thread at `fork`).
struct Config {
    duration: Duration,
    seed: u64,
}

impl Config {
    fn from_env() -> Self {
        let duration = std::env::var("INTERLINK_HOSTILE_SECS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(Duration::from_secs(2), Duration::from_secs_f64);
        let seed = std::env::var("INTERLINK_HOSTILE_SEED")
            .ok()
            .and_then(|s| match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            })
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                t ^ u64::from(std::process::id()).rotate_left(32)
            });
        Self { duration, seed }
    }
}

/// The worker's side of the bookkeeping: which operation runs, until
/// when, and how results came out.
struct Worker<'s> {
    shared: &'s Shared,
    ops: &'static [&'static str],
    rng: Rng,
    base: Instant,
    end: Instant,
    /// The structure's end in the worker's mapping: the rest of that page
    /// must stay zero (nobody may write past the structure).
    tail: Option<(*const u8, usize)>,
}

impl Worker<'_> {
    /// Checks after every operation that the bytes from `len` to the end
    /// of the page at `base` (the structure's mapping) stay zero: a write
    /// past the structure that stays inside its last page faults nowhere,
    /// and the mapping is not the sanitizer's to watch.
    fn watch_tail(&mut self, base: *const u8, len: usize) {
        self.tail = Some((base, len));
    }

    /// The first nonzero word past the structure (its byte offset), if
    /// any. Eight bytes at a time: this runs after every operation.
    fn tail_written(&self) -> Option<usize> {
        let (base, len) = self.tail?;
        let (mut at, end) = (len.next_multiple_of(8), len.next_multiple_of(PAGE));
        while at < end {
            // SAFETY: inside the mapping's last page, which the kernel maps
            // whole, 8-aligned (the page is); read volatile, as another
            // process may write it.
            if unsafe { base.add(at).cast::<u64>().read_volatile() } != 0 {
                return Some(at);
            }
            at += 8;
        }
        None
    }

    fn running(&self) -> bool {
        Instant::now() < self.end
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.next() % n.max(1)
    }

    fn coin(&mut self) -> bool {
        self.rng.next() & 1 == 0
    }

    /// Picks the next operation, records it, arms a zero timeout.
    fn pick(&mut self) -> &'static str {
        let i = self.below(self.ops.len() as u64) as usize;
        self.shared.word(OP).store(i as u32, Relaxed);
        self.arm(Duration::ZERO);
        self.ops[i]
    }

    /// The current operation may block for `timeout`.
    fn arm(&self, timeout: Duration) {
        let at = ms_since(self.base)
            .saturating_add(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX))
            .max(1);
        self.shared.word(DEADLINE).store(at, Relaxed);
    }

    /// A short timeout, armed: 0 to 20 ms.
    fn timeout(&mut self) -> Duration {
        let t = Duration::from_millis(self.below(MAX_TIMEOUT_MS + 1));
        self.arm(t);
        t
    }

    /// Ends an operation; the exit code if it wrote past the structure.
    fn done(&self) -> Option<i32> {
        self.shared.word(DEADLINE).store(0, Relaxed);
        self.shared.word(ITERATIONS).fetch_add(1, Relaxed);
        let at = self.tail_written()?;
        Some(self.broken(format!(
            "a byte past the structure, at offset {at}, was written"
        )))
    }

    fn tally<T, E>(&self, r: &Result<T, E>) {
        let i = if r.is_ok() { OKS } else { ERRS };
        self.shared.word(i).fetch_add(1, Relaxed);
    }

    /// Reports a broken guarantee; returns the worker's exit code.
    fn broken(&self, text: String) -> i32 {
        record_failure(self.shared.0.as_ptr() as usize, &text);
        10
    }
}

/// Fails the worker with a message unless `cond` holds.
macro_rules! ensure {
    ($w:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return $w.broken(format!($($fmt)+));
        }
    };
}

/// What the hostile peer attacks: the structure's 32-bit words, by class.
#[derive(Clone, Debug)]
struct Target {
    /// Words in the structure (from its start).
    words: usize,
    /// Control words: role words, indices, event words, users table, sync
    /// words.
    hot: Vec<usize>,
    /// Words the protocol reads as metadata inside the body: MPMC slot
    /// sequence words, byte-ring record headers, mutex data.
    body: Vec<usize>,
    /// The capacity values are drawn around.
    capacity: u32,
}

/// Where the hostile peer finds the structure.
#[derive(Clone, Copy)]
enum Memory<'a> {
    /// A named shm object: the peer opens and maps it itself.
    Named(&'a str),
    /// A mapping inherited over `fork`, at this address.
    Inherited(*mut u8),
}

/// Header words (64 bytes).
const HEADER_WORDS: usize = 16;

/// The hostile peer: maps the structure and writes into its words until
/// told to stop.
fn hostile(memory: Memory<'_>, target: &Target, shared: &Shared, seed: u64) -> i32 {
    let mapping;
    let base = match memory {
        Memory::Named(name) => {
            let shm = match Shm::open(name) {
                Ok(shm) => shm,
                Err(_) => return fault(shared, 2),
            };
            mapping = match shm.map(&MapOptions::new().prefault(false)) {
                Ok(m) => m,
                Err(_) => return fault(shared, 3),
            };
            if mapping.len() < target.words * 4 {
                return fault(shared, 4);
            }
            mapping.as_ptr()
        }
        Memory::Inherited(p) => p,
    };
    let word = |i: usize| -> &AtomicU32 {
        debug_assert!(i < target.words);
        // SAFETY: i < target.words, and the mapping holds that many
        // 4-aligned words (checked above, or the inherited mapping was
        // made for them); reached only atomically, by either process.
        unsafe { &*base.cast::<AtomicU32>().add(i) }
    };
    let header: Vec<u32> = (0..HEADER_WORDS).map(|i| word(i).load(Relaxed)).collect();
    let cap = target.capacity;
    let me = process::current_pid();
    let parent = std::os::unix::process::parent_id();
    let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1);
    let mut writes = 0u32;
    let pick_word = |rng: &mut Rng| -> usize {
        let r = rng.next();
        let list = match r % 100 {
            0..5 => return (r >> 8) as usize % HEADER_WORDS,
            5..55 => &target.hot,
            55..85 => &target.body,
            _ => return (r >> 8) as usize % target.words,
        };
        if list.is_empty() {
            (r >> 8) as usize % target.words
        } else {
            list[(r >> 8) as usize % list.len()]
        }
    };
    let value = |rng: &mut Rng, class: u64, i: usize| -> u32 {
        let r = rng.next();
        let span = 2 * i64::from(cap) + 2;
        let k = (r % (2 * span as u64 + 1)) as i64 - span;
        match class {
            0 => 0,
            1 => u32::MAX,
            2 => cap,
            3 => cap.wrapping_sub(1),
            4 => cap.wrapping_add(1),
            5 => 1 << 31,
            6 => (1u32 << 31)
                .wrapping_add((r >> 32) as u32 % 3)
                .wrapping_sub(1),
            7 => 0x4000_0000,
            8 => word(i).load(Relaxed).wrapping_add(k as u32),
            9 => {
                let other = target.hot[(r >> 40) as usize % target.hot.len()];
                word(other).load(Relaxed).wrapping_add(k as u32)
            }
            10 => word(i).load(Relaxed) ^ 1 << ((r >> 32) % 32),
            11 => (r >> 16) as u32,
            12 => {
                let pid = shared.word(WORKER_PID).load(Relaxed);
                if r & 1 << 40 != 0 {
                    pid | 1 << 31
                } else {
                    pid
                }
            }
            13 => [me, parent, 1, 0x3fff_ffff][(r >> 40) as usize % 4],
            14 => header[(r >> 40) as usize % HEADER_WORDS],
            _ => (r >> 16) as u32 % (2 * cap + 2),
        }
    };
    let store = |i: usize, v: u32, writes: &mut u32| {
        word(i).store(v, Relaxed);
        *writes += 1;
        shared.word(LAST_WORD).store(i as u32, Relaxed);
        shared.word(LAST_VALUE).store(v, Relaxed);
    };
    while shared.word(STOP).load(Relaxed) == 0 {
        match rng.next() % 100 {
            // Quiet: let the worker make honest progress.
            0..20 => std::thread::sleep(Duration::from_micros(rng.next() % 3000)),
            // A burst of writes to words and values chosen one by one.
            20..60 => {
                for _ in 0..1 + rng.next() % 200 {
                    let i = pick_word(&mut rng);
                    let class = rng.next() % 16;
                    let v = value(&mut rng, class, i);
                    store(i, v, &mut writes);
                }
            }
            // One word, one kind of value, hammered for up to 2 ms: wins
            // the race against the worker's own stores to that word.
            60..85 => {
                let i = pick_word(&mut rng);
                let class = rng.next() % 16;
                let until = Instant::now() + Duration::from_micros(rng.next() % 2000);
                while Instant::now() < until {
                    let v = value(&mut rng, class, i);
                    store(i, v, &mut writes);
                }
            }
            // Read a word, perturb it by a little, write it back.
            _ => {
                for _ in 0..1 + rng.next() % 50 {
                    let i = pick_word(&mut rng);
                    let k = (rng.next() % 5) as u32;
                    let v = word(i).load(Relaxed).wrapping_add(k).wrapping_sub(2);
                    store(i, v, &mut writes);
                }
            }
        }
        // Mostly a corrupt header lasts one phase, so that attaching,
        // claiming and opening get past validation often.
        if !rng.next().is_multiple_of(10) {
            for (i, &v) in header.iter().enumerate() {
                word(i).store(v, Relaxed);
            }
        }
        shared.word(WRITES).store(writes, Relaxed);
    }
    0
}

fn fault(shared: &Shared, code: u32) -> i32 {
    shared.word(HOSTILE_FAULT).store(code, Relaxed);
    code as i32
}

/// Runs `worker` (in a forked child, for `config.duration`) against a
/// forked hostile peer attacking `target` in `memory`, and watches both.
/// Panics with the operation, the hostile peer's last write and the seed
/// when the worker panics, dies of a signal, hangs, or reports a broken
/// guarantee.
fn run(
    kind: &str,
    ops: &'static [&'static str],
    memory: Memory<'_>,
    target: &Target,
    worker: impl FnOnce(&mut Worker<'_>) -> i32,
) {
    let config = Config::from_env();
    let seed = config.seed;
    eprintln!(
        "hostile_peer {kind}: seed {seed:#x}, {:?} (INTERLINK_HOSTILE_SEED={seed:#x} repeats its choices)",
        config.duration
    );
    let shared = Shared::new();
    let base = Instant::now();
    install_panic_hook();
    shared.word(OP).store(u32::MAX, Relaxed);
    let worker = fork(|| {
        WORKER_PAGE.store(shared.0.as_ptr() as usize, Relaxed);
        let mut w = Worker {
            shared: &shared,
            ops,
            rng: Rng(seed | 1),
            base,
            end: Instant::now() + config.duration,
            tail: None,
        };
        w.arm(Duration::ZERO); // a stuck start is a hang too
        worker(&mut w)
    })
    .expect("fork the worker");
    shared.word(WORKER_PID).store(worker.pid(), Relaxed);
    let hostile = fork(|| hostile(memory, target, &shared, seed)).expect("fork the hostile peer");

    let verdict = watch(&shared, base, worker, config.duration);
    shared.word(STOP).store(1, Relaxed);
    let hostile_exit = reap_within(hostile, Duration::from_secs(10));

    let w = |i| shared.word(i).load(Relaxed);
    let op = ops.get(w(OP) as usize).copied().unwrap_or("(start)");
    let last = w(LAST_WORD);
    let context = format!(
        "{kind}, seed {seed:#x}: during `{op}` (operation {} of the run; {} ok, {} typed errors; \
         hostile peer: {} writes, the last word {last} (offset {}) = {:#x})",
        w(ITERATIONS) + 1,
        w(OKS),
        w(ERRS),
        w(WRITES),
        last * 4,
        w(LAST_VALUE),
    );
    eprintln!(
        "hostile_peer {kind}: {} operations, {} ok, {} typed errors; hostile peer wrote {} words",
        w(ITERATIONS),
        w(OKS),
        w(ERRS),
        w(WRITES)
    );
    match verdict {
        Verdict::Exited(Exit::Code(0)) => {}
        Verdict::Exited(Exit::Code(10)) => {
            panic!("broken guarantee: {} — {context}", shared.text())
        }
        Verdict::Exited(Exit::Code(101)) => {
            panic!("the worker panicked: {} — {context}", shared.text())
        }
        Verdict::Exited(Exit::Signal(s)) => panic!(
            "the worker died of signal {s} ({}) — {context}",
            signal_name(s)
        ),
        Verdict::Exited(Exit::Code(c)) => panic!(
            "the worker exited with {c} (1: an AddressSanitizer report, without \
             abort_on_error; see stderr) — {context}"
        ),
        Verdict::Hung { past } => panic!(
            "hang: the call was still running {past:?} past its timeout (killed) — {context}"
        ),
        Verdict::Overran => panic!(
            "the worker ran far past its {:?} (killed) — {context}",
            config.duration
        ),
    }
    assert_eq!(
        hostile_exit,
        Some(Exit::Code(0)),
        "the hostile peer failed (fault {}) — {context}",
        w(HOSTILE_FAULT)
    );
    assert!(w(ITERATIONS) > 0, "the worker did nothing — {context}");
}

enum Verdict {
    Exited(Exit),
    /// The armed operation ran past its deadline by this much.
    Hung {
        past: Duration,
    },
    /// The worker did not finish long after its run should have ended.
    Overran,
}

/// The watchdog: polls the worker until it exits, killing it when its
/// current call runs more than [`SLACK`] past its timeout.
fn watch(shared: &Shared, base: Instant, mut worker: Child, duration: Duration) -> Verdict {
    let give_up = Instant::now() + duration + SLACK * 4;
    loop {
        match worker.try_wait() {
            Ok(Some(exit)) => return Verdict::Exited(exit),
            Ok(None) => {}
            Err(e) => panic!("waitpid on the worker: {e}"),
        }
        let deadline = shared.word(DEADLINE).load(Relaxed);
        let now = ms_since(base);
        let slack = SLACK.as_millis() as u32;
        if deadline != 0 && now > deadline.saturating_add(slack) {
            // Recheck: the call may have just returned.
            if shared.word(DEADLINE).load(Relaxed) == deadline {
                let _ = worker.signal(libc::SIGKILL);
                let _ = worker.wait();
                return Verdict::Hung {
                    past: Duration::from_millis(u64::from(now - deadline)),
                };
            }
        }
        if Instant::now() > give_up {
            let _ = worker.signal(libc::SIGKILL);
            let _ = worker.wait();
            return Verdict::Overran;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `child` at most `limit`, then kills it; `None` if killed.
fn reap_within(mut child: Child, limit: Duration) -> Option<Exit> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(Some(exit)) = child.try_wait() {
            return Some(exit);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None // dropping the child kills and reaps it
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT: an abort or a sanitizer report",
        libc::SIGKILL => "SIGKILL",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        _ => "?",
    }
}

/// Word indices of the control words the SPSC and byte rings share: the
/// two role words, tail and its event word, head and its event word.
const RING_CONTROL: [usize; 6] = [16, 17, 32, 33, 64, 65];

/// Where a ring's body starts, in words.
const BODY: usize = 384 / 4;

// ---------------------------------------------------------------- SPSC

const SPSC_CAPACITY: u32 = 8;

const SPSC_OPS: &[&str] = &[
    "sender",
    "receiver",
    "drop sender",
    "drop receiver",
    "try_send",
    "try_recv",
    "send_timeout",
    "recv_timeout",
    "send_all",
    "recv_into",
    "try_send_slice",
    "reserve",
    "producer slots",
    "try_recv_slice",
    "peek",
    "consumer slots",
    "wake",
    "len",
    "probe",
    "status",
    "open",
    "waiting",
];

fn waiting(w: &mut Worker<'_>) -> Waiting {
    [Waiting::Spin, Waiting::SpinThenPark, Waiting::Park][w.below(3) as usize]
}

#[test]
fn spsc_channel_survives_a_hostile_peer() {
    let name = unique_name("hostile-spsc");
    let channel = SpscChannel::<u64>::create(
        &name,
        RingConfig::new(SPSC_CAPACITY),
        &ChannelOptions::new(),
    )
    .unwrap();
    let words = SpscRing::<u64>::bytes_needed(SPSC_CAPACITY).unwrap() / 4;
    let target = Target {
        words,
        hot: RING_CONTROL.to_vec(),
        body: (BODY..words).collect(),
        capacity: SPSC_CAPACITY,
    };
    run("spsc", SPSC_OPS, Memory::Named(&name), &target, |w| {
        spsc_worker(&channel, &name, w)
    });
}

fn spsc_worker(ch: &SpscChannel<u64>, name: &str, w: &mut Worker<'_>) -> i32 {
    let cap = ch.capacity();
    let big = 3 * cap as usize;
    let len = SpscRing::<u64>::bytes_needed(cap).unwrap_or(0);
    w.watch_tail(ch.mapping().as_ptr(), len);
    let mut tx: Option<Sender<'_, u64>> = None;
    let mut rx: Option<Receiver<'_, u64>> = None;
    let mut next = 0u64;
    let mut out = vec![0u64; big];
    let items: Vec<u64> = (0..big as u64).collect();
    while w.running() {
        match w.pick() {
            "sender" => {
                drop(tx.take()); // dropped first: take the role over from ourselves
                let r = ch.sender();
                w.tally(&r);
                tx = r.ok();
            }
            "receiver" => {
                drop(rx.take());
                let r = ch.receiver();
                w.tally(&r);
                rx = r.ok();
            }
            "drop sender" => tx = None,
            "drop receiver" => rx = None,
            "try_send" => {
                if let Some(tx) = tx.as_mut() {
                    let r = tx.try_send(next);
                    w.tally(&r);
                    next += 1;
                }
            }
            "try_recv" => {
                if let Some(rx) = rx.as_mut() {
                    w.tally(&rx.try_recv());
                }
            }
            "send_timeout" => {
                if let Some(tx) = tx.as_mut() {
                    let t = w.timeout();
                    w.tally(&tx.send_timeout(next, t));
                    next += 1;
                }
            }
            "recv_timeout" => {
                if let Some(rx) = rx.as_mut() {
                    let t = w.timeout();
                    w.tally(&rx.recv_timeout(t));
                }
            }
            "send_all" => {
                if let Some(tx) = tx.as_mut() {
                    let k = 1 + w.below(big as u64) as usize;
                    let t = w.timeout();
                    let r = tx.send_slice(&items[..k], Some(t));
                    if let Err((sent, _)) = r {
                        ensure!(w, sent <= k, "send_all of {k} items reports {sent} sent");
                    }
                    w.tally(&r);
                }
            }
            "recv_into" => {
                if let Some(rx) = rx.as_mut() {
                    let k = 1 + w.below(big as u64) as usize;
                    let t = w.timeout();
                    let r = rx.recv_slice(&mut out[..k], Some(t));
                    if let Ok(n) = r {
                        ensure!(
                            w,
                            (1..=k).contains(&n) && n <= cap as usize + 1,
                            "recv_into a {k}-element buffer on capacity {cap} returned Ok({n})"
                        );
                    }
                    w.tally(&r);
                }
            }
            "try_send_slice" => {
                if let Some(tx) = tx.as_mut() {
                    let k = 1 + w.below(big as u64) as usize;
                    let r = tx.producer().try_send_slice(&items[..k]);
                    if let Ok(n) = r {
                        ensure!(
                            w,
                            n <= k.min(cap as usize),
                            "try_send_slice of {k} items into {cap} slots returned Ok({n}): \
                             it wrote past the slots"
                        );
                        tx.producer().wake_consumer(&Futex);
                    }
                    w.tally(&r);
                }
            }
            "reserve" => {
                if let Some(tx) = tx.as_mut() {
                    let n = 1 + w.below(big as u64) as u32;
                    let commit = w.below(u64::from(n) + 1) as u32;
                    let give_up = w.below(4) == 0;
                    match tx.producer().reserve(n) {
                        Ok(mut chunk) => {
                            // Checked before touching a slot: past the
                            // capacity the slices leave the region.
                            ensure!(
                                w,
                                n <= cap,
                                "reserve({n}) on capacity {cap} handed out {n} slots: \
                                 slices past the region"
                            );
                            let (a, b) = chunk.as_mut_slices();
                            ensure!(
                                w,
                                a.len() + b.len() == n as usize,
                                "reserve({n}) slices hold {} + {}",
                                a.len(),
                                b.len()
                            );
                            a.fill(next);
                            b.fill(next + 1);
                            chunk.set(n - 1, next + 2);
                            if !give_up {
                                chunk.commit(commit);
                            }
                            w.tally(&Ok::<(), ()>(()));
                        }
                        Err(ChunkError::TooFew { available }) => {
                            ensure!(
                                w,
                                available < n && available <= cap,
                                "reserve({n}) on capacity {cap}: TooFew {{ available: {available} }}"
                            );
                            w.tally(&Err::<(), ()>(()));
                        }
                        Err(e) => w.tally(&Err::<(), _>(e)),
                    }
                }
            }
            "producer slots" => {
                if let Some(tx) = tx.as_mut() {
                    let p = tx.producer();
                    let r = p.slots();
                    if let Ok(free) = r {
                        ensure!(
                            w,
                            free <= cap,
                            "producer slots() = {free} on capacity {cap}"
                        );
                    }
                    w.tally(&r);
                    ensure!(w, p.len() <= cap, "producer len() = {} > {cap}", p.len());
                    let _ = (p.is_empty(), p.is_full(), p.capacity());
                }
            }
            "try_recv_slice" => {
                if let Some(rx) = rx.as_mut() {
                    let k = 1 + w.below(big as u64) as usize;
                    let r = rx.consumer().try_recv_slice(&mut out[..k]);
                    if let Ok(n) = r {
                        ensure!(
                            w,
                            n <= k.min(cap as usize),
                            "try_recv_slice a {k}-element buffer on capacity {cap} returned Ok({n})"
                        );
                        rx.consumer().wake_producer(&Futex);
                    }
                    w.tally(&r);
                }
            }
            "peek" => {
                if let Some(rx) = rx.as_mut() {
                    let n = 1 + w.below(big as u64) as u32;
                    let release = w.below(u64::from(n) + 1) as u32;
                    match rx.consumer().peek(n) {
                        Ok(chunk) => {
                            ensure!(
                                w,
                                n <= cap,
                                "peek({n}) on capacity {cap} handed out {n} elements: \
                                 slices past the region"
                            );
                            let (a, b) = chunk.as_slices();
                            ensure!(
                                w,
                                a.len() + b.len() == n as usize,
                                "peek({n}) slices hold {} + {}",
                                a.len(),
                                b.len()
                            );
                            let _ = chunk.get(n - 1);
                            chunk.release(release);
                            w.tally(&Ok::<(), ()>(()));
                        }
                        Err(ChunkError::TooFew { available }) => {
                            ensure!(
                                w,
                                available < n && available <= cap,
                                "peek({n}) on capacity {cap}: TooFew {{ available: {available} }}"
                            );
                            w.tally(&Err::<(), ()>(()));
                        }
                        Err(e) => w.tally(&Err::<(), _>(e)),
                    }
                }
            }
            "consumer slots" => {
                if let Some(rx) = rx.as_mut() {
                    let c = rx.consumer();
                    let r = c.slots();
                    if let Ok(ready) = r {
                        ensure!(
                            w,
                            ready <= cap,
                            "consumer slots() = {ready} on capacity {cap}"
                        );
                    }
                    w.tally(&r);
                    ensure!(w, c.len() <= cap, "consumer len() = {} > {cap}", c.len());
                    let _ = (c.is_empty(), c.is_full(), c.capacity());
                }
            }
            "wake" => {
                if let Some(tx) = tx.as_mut() {
                    tx.producer().wake_consumer(&Futex);
                }
                if let Some(rx) = rx.as_mut() {
                    rx.consumer().wake_producer(&Futex);
                }
            }
            "len" => {
                let len = ch.len();
                ensure!(w, len <= cap, "channel len() = {len} > capacity {cap}");
                let _ = ch.is_empty();
            }
            "probe" => {
                let r = inspect::probe(name);
                if let Ok(o) = &r {
                    let _ = (o.is_interlink(), o.is_stale());
                }
                w.tally(&r);
            }
            "status" => {
                let r = interlink_core::spsc::status(&ch.mapping().region());
                if let Ok(s) = &r {
                    let _ = s.fill();
                }
                w.tally(&r);
            }
            "open" => {
                let t = w.timeout();
                let options = ChannelOptions::new().open_timeout(t);
                let r = SpscChannel::<u64>::open(name, &options);
                if let Ok(other) = &r {
                    let ocap = other.capacity();
                    ensure!(
                        w,
                        other.len() <= ocap,
                        "opened len() {} > {ocap}",
                        other.len()
                    );
                    if tx.is_none() {
                        if let Ok(mut t2) = other.sender() {
                            let k = 1 + w.below(big as u64) as usize;
                            if let Ok(n) = t2.producer().try_send_slice(&items[..k]) {
                                ensure!(
                                    w,
                                    n <= k.min(ocap as usize),
                                    "try_send_slice of {k} items into {ocap} slots (opened channel) \
                                     returned Ok({n})"
                                );
                            }
                        }
                    }
                    if rx.is_none() {
                        if let Ok(mut r2) = other.receiver() {
                            let _ = r2.try_recv();
                        }
                    }
                }
                w.tally(&r);
            }
            "waiting" => {
                let (wt, every) = (waiting(w), Duration::from_millis(w.below(20)));
                if let Some(tx) = tx.as_mut() {
                    tx.set_waiting(wt);
                    tx.set_peer_check(every);
                }
                if let Some(rx) = rx.as_mut() {
                    rx.set_waiting(wt);
                    rx.set_peer_check(every);
                }
            }
            op => return w.broken(format!("unknown operation {op}")),
        }
        if let Some(code) = w.done() {
            return code;
        }
    }
    0
}

// ---------------------------------------------------------------- bytes

const BYTES_CAPACITY: u32 = 256;

const BYTES_OPS: &[&str] = &[
    "sender",
    "receiver",
    "drop sender",
    "drop receiver",
    "try_send",
    "try_recv",
    "send_timeout",
    "recv_timeout",
    "reserve",
    "free_bytes",
    "peek",
    "drain",
    "ready_bytes",
    "wake",
    "max_payload",
    "probe",
    "status",
    "open",
    "waiting",
];

#[test]
fn byte_channel_survives_a_hostile_peer() {
    let name = unique_name("hostile-bytes");
    let channel = ByteChannel::create(
        &name,
        RingConfig::new(BYTES_CAPACITY),
        &ChannelOptions::new(),
    )
    .unwrap();
    let words = ByteRing::bytes_needed(BYTES_CAPACITY).unwrap() / 4;
    let target = Target {
        words,
        hot: RING_CONTROL.to_vec(),
        body: (BODY..words).collect(),
        capacity: BYTES_CAPACITY,
    };
    run("bytes", BYTES_OPS, Memory::Named(&name), &target, |w| {
        bytes_worker(&channel, &name, w)
    });
}

/// A payload length: the edges (0, 1, 7, 8, 9, max − 1, max, max + 1)
/// or anything up to max.
fn payload_len(w: &mut Worker<'_>, max: usize) -> usize {
    match w.below(10) {
        0 => 0,
        1 => 1,
        2 => 7 + w.below(3) as usize,
        3 => max - 1,
        4 => max,
        5 => max + 1,
        _ => w.below(max as u64 + 1) as usize,
    }
}

fn bytes_worker(ch: &ByteChannel, name: &str, w: &mut Worker<'_>) -> i32 {
    let cap = BYTES_CAPACITY;
    let max = ch.max_payload() as usize;
    let len = ByteRing::bytes_needed(cap).unwrap_or(0);
    w.watch_tail(ch.mapping().as_ptr(), len);
    let mut tx: Option<ByteSender<'_>> = None;
    let mut rx: Option<ByteReceiver<'_>> = None;
    let payload: Vec<u8> = (0..=max + 8).map(|i| i as u8).collect();
    let mut buf = vec![0u8; max + 8];
    let mut tag = 0u32;
    while w.running() {
        match w.pick() {
            "sender" => {
                drop(tx.take());
                let r = ch.sender();
                w.tally(&r);
                tx = r.ok();
            }
            "receiver" => {
                drop(rx.take());
                let r = ch.receiver();
                w.tally(&r);
                rx = r.ok();
            }
            "drop sender" => tx = None,
            "drop receiver" => rx = None,
            "try_send" => {
                if let Some(tx) = tx.as_mut() {
                    let len = payload_len(w, max);
                    tag += 1;
                    w.tally(&tx.try_send(tag, &payload[..len]));
                }
            }
            "send_timeout" => {
                if let Some(tx) = tx.as_mut() {
                    let len = payload_len(w, max);
                    let t = w.timeout();
                    tag += 1;
                    w.tally(&tx.send_timeout(tag, &payload[..len], t));
                }
            }
            "try_recv" | "recv_timeout" => {
                if let Some(rx) = rx.as_mut() {
                    let room = payload_len(w, max);
                    let r = if w.coin() {
                        rx.try_recv(&mut buf[..room]).map_err(|e| format!("{e:?}"))
                    } else {
                        let t = w.timeout();
                        rx.recv_timeout(&mut buf[..room], t).map_err(|e| match e {
                            RecvError::BufferTooSmall { needed } => {
                                format!("BufferTooSmall {{ needed: {needed} }}")
                            }
                            e => format!("{e:?}"),
                        })
                    };
                    if let Ok((_, len)) = r {
                        ensure!(
                            w,
                            len <= room && len <= max,
                            "received {len} bytes into {room}"
                        );
                    }
                    w.tally(&r);
                }
            }
            "reserve" => {
                if let Some(tx) = tx.as_mut() {
                    let len = payload_len(w, max);
                    let keep = w.below(len as u64 + 1) as usize;
                    let abandon = w.below(5) == 0;
                    tag += 1;
                    match tx.producer().reserve(len) {
                        Ok(mut r) => {
                            ensure!(
                                w,
                                len <= max && r.len() == len,
                                "reserve({len}) (max {max}) gave {} bytes",
                                r.len()
                            );
                            let s = r.as_mut_slice();
                            ensure!(w, s.len() == len, "reservation slice of {}", s.len());
                            s.fill(0xa5);
                            r.write(0, &payload[..keep]);
                            if !abandon {
                                r.commit(tag, keep);
                            }
                            w.tally(&Ok::<(), ()>(()));
                        }
                        Err(e) => w.tally(&Err::<(), _>(e)),
                    }
                }
            }
            "free_bytes" => {
                if let Some(tx) = tx.as_mut() {
                    let r = tx.producer().free_bytes();
                    if let Ok(free) = r {
                        ensure!(w, free <= cap, "free_bytes() = {free} on capacity {cap}");
                    }
                    w.tally(&r);
                }
            }
            "peek" => {
                if let Some(rx) = rx.as_mut() {
                    let release = w.below(4) != 0;
                    let pick = w.rng.next();
                    match rx.consumer().peek() {
                        Ok(record) => {
                            let len = record.len();
                            ensure!(w, len <= max, "peeked a {len}-byte record (max {max})");
                            let view = record.view();
                            ensure!(
                                w,
                                view.as_slice().len() == len && view.frame().len() == 16 + len,
                                "record views of {} and {} bytes for length {len}",
                                view.as_slice().len(),
                                view.frame().len()
                            );
                            // Offsets past the payload too, half the
                            // time: they read nothing (issue 13's hole 2).
                            let span = if pick & 1 == 0 { 1 } else { 2 * u64::from(cap) };
                            let offset = ((pick >> 1) % (len as u64 + span)) as usize;
                            let n = view.read(offset, &mut buf);
                            ensure!(
                                w,
                                n == len.saturating_sub(offset),
                                "read at {offset} of {len} gave {n}"
                            );
                            let _ = (record.tag(), record.is_empty(), record.as_slice().len());
                            if release {
                                record.release();
                            }
                            w.tally(&Ok::<(), ()>(()));
                        }
                        Err(e) => w.tally(&Err::<(), _>(e)),
                    }
                }
            }
            "drain" => {
                if let Some(rx) = rx.as_mut() {
                    let most = w.below(8) as usize;
                    let mut bad = None;
                    let r = rx.consumer().drain(most, |rec| {
                        let len = rec.len();
                        let mut tmp = [0u8; 64];
                        if len > max
                            || rec.as_slice().len() != len
                            || rec.frame().len() != 16 + len
                            || rec.read(0, &mut tmp) != len.min(64)
                        {
                            bad = Some(len);
                        }
                    });
                    if let Some(len) = bad {
                        return w
                            .broken(format!("drain handed over a {len}-byte record (max {max})"));
                    }
                    if let Ok(n) = r {
                        ensure!(w, n <= most, "drain({most}) returned {n}");
                        rx.consumer().wake_producer(&Futex);
                    }
                    w.tally(&r);
                }
            }
            "ready_bytes" => {
                if let Some(rx) = rx.as_mut() {
                    let r = rx.consumer().ready_bytes();
                    if let Ok(ready) = r {
                        ensure!(w, ready <= cap, "ready_bytes() = {ready} on capacity {cap}");
                    }
                    w.tally(&r);
                }
            }
            "wake" => {
                if let Some(tx) = tx.as_mut() {
                    tx.producer().wake_consumer(&Futex);
                }
                if let Some(rx) = rx.as_mut() {
                    rx.consumer().wake_producer(&Futex);
                }
            }
            "max_payload" => {
                let m = ch.max_payload();
                ensure!(w, m as usize <= max, "max_payload() {m} > {max}");
            }
            "probe" => w.tally(&inspect::probe(name)),
            "status" => {
                let r = interlink_core::bytes::status(&ch.mapping().region());
                if let Ok(s) = &r {
                    let _ = s.fill();
                }
                w.tally(&r);
            }
            "open" => {
                let t = w.timeout();
                let r = ByteChannel::open(name, &ChannelOptions::new().open_timeout(t));
                if let Ok(other) = &r {
                    let m = other.max_payload() as usize;
                    ensure!(w, m <= other.capacity() as usize, "opened max_payload {m}");
                    if tx.is_none() {
                        if let Ok(mut t2) = other.sender() {
                            let len = payload_len(w, m.min(max));
                            let _ = t2.try_send(1, &payload[..len]);
                        }
                    }
                    if rx.is_none() {
                        if let Ok(mut r2) = other.receiver() {
                            let _ = r2.try_recv(&mut buf);
                        }
                    }
                }
                w.tally(&r);
            }
            "waiting" => {
                let (wt, every) = (waiting(w), Duration::from_millis(w.below(20)));
                if let Some(tx) = tx.as_mut() {
                    tx.set_waiting(wt);
                    tx.set_peer_check(every);
                }
                if let Some(rx) = rx.as_mut() {
                    rx.set_waiting(wt);
                    rx.set_peer_check(every);
                }
            }
            op => return w.broken(format!("unknown operation {op}")),
        }
        if let Some(code) = w.done() {
            return code;
        }
    }
    0
}

// ---------------------------------------------------------------- MPMC

const MPMC_CAPACITY: u32 = 8;

const MPMC_OPS: &[&str] = &[
    "handle",
    "try_send",
    "try_recv",
    "send",
    "recv",
    "try_send_slice",
    "try_recv_slice",
    "push with spin limit",
    "pop with spin limit",
    "skip_stalled",
    "abandon",
    "len",
    "users",
    "wake",
    "probe",
    "status",
    "open",
    "waiting",
];

#[test]
fn mpmc_channel_survives_a_hostile_peer() {
    let name = unique_name("hostile-mpmc");
    let channel = MpmcChannel::<u64>::create(
        &name,
        RingConfig::new(MPMC_CAPACITY),
        &ChannelOptions::new(),
    )
    .unwrap();
    let words = MpmcRing::<u64>::bytes_needed(MPMC_CAPACITY).unwrap() / 4;
    // Users table and overflow word, tail, head and their event words;
    // every slot's sequence word (slots of 16 bytes).
    let mut hot: Vec<usize> = (16..32).collect();
    hot.extend([32, 33, 64, 65]);
    let target = Target {
        words,
        hot,
        body: (BODY..words).step_by(4).collect(),
        capacity: MPMC_CAPACITY,
    };
    run("mpmc", MPMC_OPS, Memory::Named(&name), &target, |w| {
        mpmc_worker(&channel, &name, w)
    });
}

/// The position a `Stalled` error of a receive named, if it is one.
fn recv_stalled(e: &RecvError) -> Option<u32> {
    match e {
        RecvError::Stalled { position } => Some(*position),
        _ => None,
    }
}

/// The position a `Stalled` error of a send named, if it is one.
fn send_stalled(e: &SendError) -> Option<u32> {
    match e {
        SendError::Stalled { position } => Some(*position),
        _ => None,
    }
}

fn mpmc_worker(ch: &MpmcChannel<u64>, name: &str, w: &mut Worker<'_>) -> i32 {
    let cap = MPMC_CAPACITY;
    let big = 3 * cap as usize;
    let len = MpmcRing::<u64>::bytes_needed(cap).unwrap_or(0);
    w.watch_tail(ch.mapping().as_ptr(), len);
    let items: Vec<u64> = (0..big as u64).collect();
    let mut out = vec![0u64; big];
    let mut h: Option<MpmcHandle<'_, u64>> = ch.handle().ok();
    let mut last_stall: Option<u32> = None;
    let mut next = 0u64;
    while w.running() {
        let op = w.pick();
        if op == "handle" {
            let r = ch.handle();
            w.tally(&r);
            h = r.ok();
            if let Some(code) = w.done() {
                return code;
            }
            continue;
        }
        let Some(h) = h.as_mut() else {
            if let Some(code) = w.done() {
                return code;
            }
            continue;
        };
        let ring = h.ring();
        match op {
            "try_send" => {
                let r = h.try_send(next);
                if let Err(SendError::Stalled { position }) = r {
                    last_stall = Some(position);
                }
                w.tally(&r);
                next += 1;
            }
            "try_recv" => {
                let r = h.try_recv();
                if let Err(RecvError::Stalled { position }) = r {
                    last_stall = Some(position);
                }
                w.tally(&r);
            }
            "send" => {
                let t = w.timeout();
                let r = h.send_timeout(next, t);
                if let Err(e) = &r {
                    last_stall = send_stalled(e).or(last_stall);
                }
                w.tally(&r);
                next += 1;
            }
            "recv" => {
                let t = w.timeout();
                let r = h.recv_timeout(t);
                if let Err(e) = &r {
                    last_stall = recv_stalled(e).or(last_stall);
                }
                w.tally(&r);
            }
            "try_send_slice" => {
                let k = 1 + w.below(big as u64) as usize;
                let r = ring.try_send_slice(&items[..k]);
                if let Ok(n) = r {
                    ensure!(
                        w,
                        n <= k.min(cap as usize),
                        "try_send_slice of {k} items into {cap} slots returned Ok({n})"
                    );
                    ring.wake_consumers(&Futex);
                }
                w.tally(&r);
            }
            "try_recv_slice" => {
                let k = 1 + w.below(big as u64) as usize;
                let r = ring.try_recv_slice(&mut out[..k]);
                if let Ok(n) = r {
                    ensure!(
                        w,
                        n <= k.min(cap as usize),
                        "try_recv_slice a {k}-element buffer on capacity {cap} returned Ok({n})"
                    );
                    ring.wake_producers(&Futex);
                }
                w.tally(&r);
            }
            "push with spin limit" => {
                let limit = w.below(300) as u32;
                w.tally(&ring.try_send_spinning(next, limit));
                next += 1;
            }
            "pop with spin limit" => {
                let limit = w.below(300) as u32;
                w.tally(&ring.try_recv_spinning(limit));
            }
            "skip_stalled" => {
                let position = match last_stall.take() {
                    Some(p) if w.coin() => p,
                    _ => w.rng.next() as u32,
                };
                w.tally(&ring.skip_stalled(position));
            }
            "abandon" => {
                // A participant that dies between claim and finish, then
                // the recovery a survivor would make.
                let r = if w.coin() {
                    ring.abandon_send().map_err(|_| ())
                } else {
                    ring.abandon_recv().map_err(|_| ())
                };
                if let Ok(p) = r {
                    let _ = ring.skip_stalled(p);
                }
                w.tally(&r);
            }
            "len" => {
                let len = ring.len();
                ensure!(w, len <= cap, "len() = {len} > capacity {cap}");
                let _ = (
                    ring.is_empty(),
                    ring.is_full(),
                    ring.capacity(),
                    ring.header(),
                );
            }
            "users" => {
                let users = ring.users();
                let _ = users.holders().count();
            }
            "wake" => {
                ring.wake_consumers(&Futex);
                ring.wake_producers(&Futex);
            }
            "probe" => w.tally(&inspect::probe(name)),
            "status" => {
                let r = interlink_core::mpmc::status(&ch.mapping().region());
                if let Ok(s) = &r {
                    let _ = s.fill();
                }
                w.tally(&r);
            }
            "open" => {
                // Joins the users table (and leaves it on drop).
                let t = w.timeout();
                let r = MpmcChannel::<u64>::open(name, &ChannelOptions::new().open_timeout(t));
                if let Ok(other) = &r {
                    let _ = other.user_slot();
                    if let Ok(h2) = other.handle() {
                        let _ = h2.try_send(next);
                        let _ = h2.try_recv();
                    }
                }
                w.tally(&r);
            }
            "waiting" => {
                h.set_waiting(waiting(w));
            }
            op => return w.broken(format!("unknown operation {op}")),
        }
        if let Some(code) = w.done() {
            return code;
        }
    }
    0
}

// ---------------------------------------------------------------- sync

const SYNC_OPS: &[&str] = &[
    "mutex attach",
    "try_lock",
    "lock",
    "owner",
    "semaphore attach",
    "try_acquire",
    "acquire",
    "post",
    "count",
    "condvar attach",
    "condvar wait",
    "notify_one",
    "notify_all",
    "event attach",
    "prepare and wait",
    "notify",
    "wait_until",
];

/// Each sync structure in its own 128-byte block of one mapping.
const BLOCK: usize = 128;

/// The four blocks: mutex, semaphore, condvar, event.
fn blocks(map: &Mapping) -> [Region<'_>; 4] {
    let mut r = map.region();
    [0; 4].map(|_| r.take(BLOCK, BLOCK).unwrap())
}

#[test]
fn sync_types_survive_a_hostile_peer() {
    let map = Mapping::anonymous(4 * BLOCK).unwrap();
    let [m, s, c, e] = blocks(&map);
    let mutex = Mutex::init(m, 0u64).unwrap();
    let sem = Semaphore::init(s, 2, 4).unwrap();
    let cv = Condvar::init(c).unwrap();
    let event = Event::init(e).unwrap();
    // The mutex's lock, health and owner words and its data; the
    // semaphore's count and sleepers; the condvar's sequence and
    // sleepers; the event word. Header and reserved words come from the
    // "any word" class.
    let hot = vec![16, 17, 18, 19, 20, 21, 24, 25, 48, 49, 80, 81, 112];
    let target = Target {
        words: 4 * BLOCK / 4,
        hot,
        body: Vec::new(),
        capacity: 4,
    };
    let memory = Memory::Inherited(map.as_ptr());
    run("sync", SYNC_OPS, memory, &target, |w| {
        sync_worker(&map, mutex, sem, cv, event, w)
    });
}

fn sync_worker(
    map: &Mapping,
    mutex: Mutex<'_, u64>,
    sem: Semaphore<'_>,
    cv: Condvar<'_>,
    event: Event<'_>,
    w: &mut Worker<'_>,
) -> i32 {
    w.watch_tail(map.as_ptr(), 4 * BLOCK);
    let robust = Robust::new();
    let wait = Futex;
    while w.running() {
        match w.pick() {
            "mutex attach" => {
                let [m, ..] = blocks(map);
                w.tally(&Mutex::<u64>::attach(m));
            }
            "try_lock" | "lock" => {
                let repair = w.coin();
                let value = w.rng.next();
                let r = if w.coin() {
                    mutex.try_lock(&wait, &robust)
                } else {
                    let t = w.timeout();
                    mutex.lock(&wait, &robust, Some(t))
                };
                let mut ok = false;
                match r {
                    Ok(mut g) => {
                        g.update(|v| *v = v.wrapping_add(1));
                        g.set(value);
                        let _ = g.get();
                        ok = true;
                    }
                    Err(LockError::OwnerDied(mut g)) => {
                        g.set(value);
                        if repair {
                            g.mark_consistent();
                        }
                        ok = true;
                    }
                    Err(_) => {}
                }
                w.tally(&if ok { Ok(()) } else { Err(()) });
            }
            "owner" => {
                let _ = (mutex.owner(), mutex.is_not_recoverable());
            }
            "semaphore attach" => {
                let [_, s, ..] = blocks(map);
                let r = Semaphore::attach(s);
                if let Ok(s2) = &r {
                    let _ = (s2.count(), s2.max());
                }
                w.tally(&r);
            }
            "try_acquire" => w.tally(&sem.try_acquire()),
            "acquire" => {
                let t = w.timeout();
                w.tally(&sem.acquire(&wait, Some(t)));
            }
            "post" => w.tally(&sem.post(&wait)),
            "count" => {
                let _ = (sem.count(), sem.max());
            }
            "condvar attach" => {
                let [_, _, c, _] = blocks(map);
                w.tally(&Condvar::attach(c));
            }
            "condvar wait" => {
                let t = w.timeout();
                let guard = match mutex.lock(&wait, &robust, Some(t)) {
                    Ok(g) => Some(g),
                    Err(LockError::OwnerDied(mut g)) => {
                        g.mark_consistent();
                        Some(g)
                    }
                    Err(_) => None,
                };
                if let Some(g) = guard {
                    // The relock has no timeout: it returns when the lock
                    // word lets it (the hostile peer keeps changing it).
                    let t2 = w.timeout();
                    w.arm(t + t2);
                    let r = cv.wait(g, Some(t2));
                    w.tally(&r.map(drop).map_err(drop));
                }
            }
            "notify_one" => cv.notify_one(&wait),
            "notify_all" => cv.notify_all(&wait),
            "event attach" => {
                let [.., e] = blocks(map);
                w.tally(&Event::attach(e));
            }
            "prepare and wait" => {
                let key = event.prepare();
                let t = w.timeout();
                let _ = event.wait(key, &wait, Some(t));
            }
            "notify" => {
                let _ = event.notify(&wait);
            }
            "wait_until" => {
                let t = w.timeout();
                let mut polls = w.below(4);
                let r = event.wait_until(&wait, Some(t), || {
                    polls = polls.saturating_sub(1);
                    (polls == 0).then_some(())
                });
                w.tally(&r);
            }
            op => return w.broken(format!("unknown operation {op}")),
        }
        if let Some(code) = w.done() {
            return code;
        }
    }
    0
}

/// The watchdog itself works: a worker stuck in a call is killed and
/// reported as a hang, naming the call.
#[test]
fn the_watchdog_reports_a_hang() {
    let map = Mapping::anonymous(PAGE).unwrap();
    let target = Target {
        words: 16,
        hot: vec![1],
        body: Vec::new(),
        capacity: 1,
    };
    let result = std::panic::catch_unwind(|| {
        run(
            "watchdog",
            &["sleep"],
            Memory::Inherited(map.as_ptr()),
            &target,
            |w| {
                let _ = w.pick();
                w.arm(Duration::from_millis(1));
                std::thread::sleep(SLACK * 3);
                0
            },
        )
    });
    let message = result.expect_err("a hang must fail the run");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("hang") && text.contains("`sleep`"), "{text}");
}

/// The tail check works: a byte written past the structure (inside its
/// last page, where nothing faults) fails the run, naming the offset.
#[test]
fn the_tail_check_reports_a_write_past_the_structure() {
    let map = Mapping::anonymous(PAGE).unwrap();
    let target = Target {
        words: 16,
        hot: vec![1],
        body: Vec::new(),
        capacity: 1,
    };
    let result = std::panic::catch_unwind(|| {
        run(
            "tail",
            &["write past"],
            Memory::Inherited(map.as_ptr()),
            &target,
            |w| {
                w.watch_tail(map.as_ptr(), 64);
                let _ = w.pick();
                // SAFETY: byte 100 of the page, past the 64-byte structure;
                // nothing else reads it as anything but bytes.
                unsafe { map.as_ptr().add(100).write_volatile(1) };
                w.done().unwrap_or(0)
            },
        )
    });
    let message = result.expect_err("a write past the structure must fail the run");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("past the structure, at offset 96"), "{text}");
}
