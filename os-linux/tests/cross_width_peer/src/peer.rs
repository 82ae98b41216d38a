//! Both halves of the cross-width exchange: the same code runs in a 32-bit
//! process (the peer program, built for i686) and in a 64-bit one (the
//! test, which includes this file), so each structure is created by one
//! width and opened by the other.
//!
//! The receiver creates every structure and the sender opens them: an
//! SPSC channel of `u64` and one of `f64`, an MPMC channel of `u64` and one
//! of `f64` (elements whose alignment differs between the widths: 4 on
//! i686, 8 on x86-64), a byte channel, and a robust mutex around a `u64` in
//! a shared memory object. Both sides increment the counter under the
//! mutex at the same time; the sender sends `count` values through each
//! channel, every one checked on arrival; then a thread of the sender takes
//! the mutex and dies holding it, and the receiver must be told
//! `OwnerDied` and find every increment.
//!
//! Between the byte channel and the mutex's death, the newer structures
//! take their turn (`more.rs`): many-to-one, broadcast, latest tables and
//! fan-out rings of `u64` and `f64`, and a block pool.

use std::fmt::Display;
use std::time::{Duration, Instant};

use interlink_core::mutex::{LockError, Mutex};
use interlink_core::{AttachError, RingConfig};
use interlink_linux::channel::{ByteChannel, ChannelOptions, MpmcChannel, SpscChannel};
use interlink_linux::futex::{Futex, Robust};
use interlink_linux::shm::{self, MapOptions, Mapping, Shm};

/// How long any one step may wait for the other process.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);
/// Slots (bytes for the byte channel): fewer than the values sent, so
/// both sides block and wake each other.
const CAPACITY: u32 = 256;
const BYTES_CAPACITY: u32 = 4096;
/// Increments of the shared counter by each side.
const ROUNDS: u64 = 2000;
/// The last value on the `u64` SPSC channel: the sender's thread now
/// holds the mutex, dead.
const SENTINEL: u64 = u64::MAX;

/// The `i`th `u64`: every bit of it in use.
pub(crate) fn word(i: u32) -> u64 {
    (u64::from(i) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The `i`th `f64`: a value whose bytes a 4-byte shift would garble.
pub(crate) fn float(i: u32) -> f64 {
    f64::from(i) / 3.0 + 1e12
}

/// The `i`th byte message: a tag and up to 300 bytes.
pub(crate) fn message(i: u32) -> (u32, Vec<u8>) {
    let len = (i as usize * 37) % 301;
    let payload = (0..len).map(|j| (i as usize * 7 + j) as u8).collect();
    (i % 7, payload)
}

pub(crate) fn name(prefix: &str, what: &str) -> String {
    format!("{prefix}-{what}")
}

pub(crate) fn options() -> ChannelOptions {
    ChannelOptions::new().open_timeout(PATIENCE)
}

/// Maps an error to a message saying what failed.
pub(crate) fn ctx<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

pub(crate) fn expect<T: PartialEq + std::fmt::Debug>(
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

/// Adds 1 to the counter `rounds` times, each under the lock.
fn increment(mutex: &Mutex<'_, u64>, rounds: u64) -> Result<(), String> {
    let me = Robust::new();
    for _ in 0..rounds {
        let mut guard = mutex
            .lock(&Futex, &me, Some(PATIENCE))
            .map_err(ctx("mutex lock"))?;
        guard.update(|n| *n += 1);
    }
    Ok(())
}

/// Unlinks the mutex's object when the receiver is done (or fails).
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = shm::unlink(&self.0);
    }
}

/// Creates every structure, then receives and checks everything the
/// sender sends.
pub fn recv(prefix: &str, count: u32) -> Result<(), String> {
    let opts = options();
    let spsc_u64 =
        SpscChannel::<u64>::create(&name(prefix, "su"), RingConfig::new(CAPACITY), &opts)
            .map_err(ctx("create the u64 SPSC channel"))?;
    let spsc_f64 =
        SpscChannel::<f64>::create(&name(prefix, "sf"), RingConfig::new(CAPACITY), &opts)
            .map_err(ctx("create the f64 SPSC channel"))?;
    let mpmc_u64 =
        MpmcChannel::<u64>::create(&name(prefix, "mu"), RingConfig::new(CAPACITY), &opts)
            .map_err(ctx("create the u64 MPMC channel"))?;
    let mpmc_f64 =
        MpmcChannel::<f64>::create(&name(prefix, "mf"), RingConfig::new(CAPACITY), &opts)
            .map_err(ctx("create the f64 MPMC channel"))?;
    let bytes = ByteChannel::create(&name(prefix, "b"), RingConfig::new(BYTES_CAPACITY), &opts)
        .map_err(ctx("create the byte channel"))?;
    let mutex_name = name(prefix, "m");
    let object = Shm::create(&mutex_name, Mutex::<u64>::bytes_needed())
        .map_err(ctx("create the mutex's object"))?;
    let _unlink = Unlink(mutex_name);
    let map = object
        .map(&MapOptions::new())
        .map_err(ctx("map the mutex"))?;
    let mutex = Mutex::init(map.region(), 0u64).map_err(ctx("init the mutex"))?;
    let more = crate::more::create(prefix)?;

    increment(&mutex, ROUNDS)?;

    let mut rx = spsc_u64.receiver().map_err(ctx("u64 SPSC receiver"))?;
    for i in 0..count {
        let got = rx.recv_timeout(PATIENCE).map_err(ctx("u64 SPSC recv"))?;
        expect("u64 SPSC", i, got, word(i))?;
    }
    let mut rx_f = spsc_f64.receiver().map_err(ctx("f64 SPSC receiver"))?;
    for i in 0..count {
        let got = rx_f.recv_timeout(PATIENCE).map_err(ctx("f64 SPSC recv"))?;
        expect("f64 SPSC", i, got.to_bits(), float(i).to_bits())?;
    }
    let h = mpmc_u64.handle().map_err(ctx("u64 MPMC handle"))?;
    for i in 0..count {
        let got = h.recv_timeout(PATIENCE).map_err(ctx("u64 MPMC recv"))?;
        expect("u64 MPMC", i, got, word(i))?;
    }
    let h = mpmc_f64.handle().map_err(ctx("f64 MPMC handle"))?;
    for i in 0..count {
        let got = h.recv_timeout(PATIENCE).map_err(ctx("f64 MPMC recv"))?;
        expect("f64 MPMC", i, got.to_bits(), float(i).to_bits())?;
    }
    let mut rx_b = bytes.receiver().map_err(ctx("byte receiver"))?;
    let mut buf = [0u8; 512];
    for i in 0..count {
        let (tag, n) = rx_b
            .recv_timeout(&mut buf, PATIENCE)
            .map_err(ctx("byte recv"))?;
        let (want_tag, want) = message(i);
        expect("byte message tag", i, tag, want_tag)?;
        expect("byte message", i, &buf[..n], &want[..])?;
    }
    more.receive(count)?;

    let last = rx
        .recv_timeout(PATIENCE)
        .map_err(ctx("u64 SPSC sentinel"))?;
    expect("u64 SPSC sentinel", count, last, SENTINEL)?;
    // A thread of the other process died holding the lock.
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
        Err(e) => Err(format!("mutex lock after the owner died: {e}")),
    };
    outcome
}

/// Opens the mutex's object once the receiver has made it.
fn open_mutex(name: &str) -> Result<Mapping, String> {
    let start = Instant::now();
    loop {
        let mapped = Shm::open(name).and_then(|shm| shm.map(&MapOptions::new()));
        if let Ok(map) = mapped {
            match Mutex::<u64>::attach(map.region()) {
                Ok(_) => return Ok(map),
                Err(AttachError::NotReady { .. }) => {}
                Err(e) => return Err(format!("attach the mutex: {e}")),
            }
        }
        if start.elapsed() > PATIENCE {
            return Err(format!("the mutex {name} did not appear"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Opens every structure and sends `count` values through each channel;
/// then leaves the mutex held by a dead thread and sends the sentinel.
pub fn send(prefix: &str, count: u32) -> Result<(), String> {
    let opts = options();
    let spsc_u64 = SpscChannel::<u64>::open(&name(prefix, "su"), &opts)
        .map_err(ctx("open the u64 SPSC channel"))?;
    let spsc_f64 = SpscChannel::<f64>::open(&name(prefix, "sf"), &opts)
        .map_err(ctx("open the f64 SPSC channel"))?;
    let mpmc_u64 = MpmcChannel::<u64>::open(&name(prefix, "mu"), &opts)
        .map_err(ctx("open the u64 MPMC channel"))?;
    let mpmc_f64 = MpmcChannel::<f64>::open(&name(prefix, "mf"), &opts)
        .map_err(ctx("open the f64 MPMC channel"))?;
    let bytes =
        ByteChannel::open(&name(prefix, "b"), &opts).map_err(ctx("open the byte channel"))?;
    let map = open_mutex(&name(prefix, "m"))?;
    let mutex = Mutex::<u64>::attach(map.region()).map_err(ctx("attach the mutex"))?;

    increment(&mutex, ROUNDS)?;

    let mut tx = spsc_u64.sender().map_err(ctx("u64 SPSC sender"))?;
    for i in 0..count {
        tx.send_timeout(word(i), PATIENCE)
            .map_err(ctx("u64 SPSC send"))?;
    }
    let mut tx_f = spsc_f64.sender().map_err(ctx("f64 SPSC sender"))?;
    for i in 0..count {
        tx_f.send_timeout(float(i), PATIENCE)
            .map_err(ctx("f64 SPSC send"))?;
    }
    let h = mpmc_u64.handle().map_err(ctx("u64 MPMC handle"))?;
    for i in 0..count {
        h.send_timeout(word(i), PATIENCE)
            .map_err(ctx("u64 MPMC send"))?;
    }
    let h = mpmc_f64.handle().map_err(ctx("f64 MPMC handle"))?;
    for i in 0..count {
        h.send_timeout(float(i), PATIENCE)
            .map_err(ctx("f64 MPMC send"))?;
    }
    let mut tx_b = bytes.sender().map_err(ctx("byte sender"))?;
    for i in 0..count {
        let (tag, payload) = message(i);
        tx_b.send_timeout(tag, &payload, PATIENCE)
            .map_err(ctx("byte send"))?;
    }
    crate::more::send(prefix, count)?;

    // A thread takes the lock, counts once more and ends holding it.
    std::thread::scope(|s| {
        s.spawn(|| -> Result<(), String> {
            let me = Robust::new();
            let mut guard = mutex
                .lock(&Futex, &me, Some(PATIENCE))
                .map_err(ctx("mutex lock before dying"))?;
            guard.update(|n| *n += 1);
            std::mem::forget(guard);
            Ok(())
        })
        .join()
        .map_err(|_| "the dying thread panicked".to_owned())?
    })?;
    tx.send_timeout(SENTINEL, PATIENCE)
        .map_err(ctx("u64 SPSC sentinel"))?;
    Ok(())
}

/// The SPSC capacity of a ring that a 32-bit process cannot address: 2²⁹
/// `u64`s, 4 GiB of slots.
pub const HUGE_CAPACITY: u32 = 1 << 29;

/// Creates the huge ring at `name`, sparse: nothing but its header and
/// control block is ever touched (a 64-bit process only).
pub fn create_huge(name: &str) -> Result<SpscChannel<u64>, String> {
    let mut opts = options().map(MapOptions::new().prefault(false));
    opts.shm = shm::ShmOptions::new().reserve(false);
    SpscChannel::<u64>::create(name, RingConfig::new(HUGE_CAPACITY), &opts)
        .map_err(ctx("create the huge ring"))
}

/// What a process that cannot address the huge ring at `name` must get:
/// a clear refusal from opening it, and `TooLarge` from the core given
/// only its header.
pub fn refuse_huge(name: &str) -> Result<(), String> {
    match SpscChannel::<u64>::open(name, &options()) {
        Ok(_) => return Err("the huge ring was opened".to_owned()),
        Err(e) if e.to_string().contains("address") => {}
        Err(e) => return Err(format!("opening the huge ring: unexpected error: {e}")),
    }
    // The header and control block, as a private copy: the core says why.
    #[repr(C, align(128))]
    struct Copy([u8; 4096]);
    let mut copy = Copy([0; 4096]);
    let path = shm::ShmName::new(name).map_err(ctx("name"))?.path();
    let file = std::fs::File::open(path).map_err(ctx("open the huge ring's file"))?;
    std::io::Read::read_exact(&mut &file, &mut copy.0).map_err(ctx("read its header"))?;
    let len = 384 + 8 * u64::from(HUGE_CAPACITY);
    match interlink_core::spsc::SpscRing::<u64>::attach(interlink_core::Region::new(&mut copy.0)) {
        Err(AttachError::TooLarge { len: found }) if found == len => Ok(()),
        Err(e) => Err(format!(
            "attaching the huge ring's header: {e}, expected TooLarge"
        )),
        Ok(_) => Err("the huge ring's header was attached".to_owned()),
    }
}
