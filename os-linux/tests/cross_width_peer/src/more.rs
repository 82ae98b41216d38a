//! The newer structures, across widths (the second part of the exchange
//! in `peer.rs`, run by both widths): a many-to-one channel, a broadcast
//! channel, latest tables of `u64` and `f64`, fan-out rings of `u64` and
//! `f64` (the core ring in a shared memory object), a block pool whose
//! handles travel through an SPSC channel, and request–response (the
//! receiver serves, the sender calls).
//!
//! As in `peer.rs`, the receiver creates every structure ([`create`], at
//! the start) and receives ([`Created::receive`]); the sender opens them
//! and sends ([`send`]), in the same order.

use std::time::{Duration, Instant};

use interlink_core::broadcast::Start;
use interlink_core::fanout::FanoutRing;
use interlink_core::pool::{Handle, Recipient};
use interlink_core::{AttachError, Plain, RecvError, RingConfig, SendError};
use interlink_linux::channel::pool::PoolChannel;
use interlink_linux::channel::{
    BroadcastChannel, Client, LatestChannel, ManyToOneChannel, Server, SpscChannel,
};
use interlink_linux::process;
use interlink_linux::shm::{self, MapOptions, Mapping, Shm};

use crate::peer::{ctx, expect, float, message, name, options, word, PATIENCE};

/// Bytes of the many-to-one channel: fewer than the messages sent, so
/// the sender waits for room.
const M2O_CAPACITY: u32 = 4096;
/// Bytes of the broadcast channel: fewer than the messages sent, so a
/// slow reader is lapped (and told how many records it missed).
const BROADCAST_CAPACITY: u32 = 1 << 16;
/// Cells of each latest table.
const CELLS: u32 = 16;
/// Slots of each fan-out ring: fewer than the values sent, so the writer
/// is held back by the subscriber.
const FANOUT_CAPACITY: u32 = 256;
/// Blocks of the pool (fewer than the messages: blocks are reused) and
/// their size (a message's payload fits).
const BLOCKS: u32 = 8;
const BLOCK_SIZE: u32 = 512;
/// Calls made (at most; fewer if fewer values are sent), and the bytes of
/// the request channel and of the client's response channel.
const CALLS: u32 = 2000;
const CALL_BYTES: u32 = 4096;

/// The server's answer to call `i`: the request's body reversed.
fn answer(i: u32) -> Vec<u8> {
    let mut body = message(i).1;
    body.reverse();
    body
}

/// The value written `n`th into cell `cell` (`n` from 0) of the `u64`
/// latest table: the cell's version `n + 1` carries it.
fn cell_word(cell: u32, n: u64) -> u64 {
    word(cell + CELLS * n as u32)
}

fn cell_float(cell: u32, n: u64) -> f64 {
    float(cell + CELLS * n as u32)
}

/// Writes of cell `cell` when `count` values go round the cells.
fn writes_of(cell: u32, count: u32) -> u64 {
    u64::from(count / CELLS + u32::from(cell < count % CELLS))
}

/// A fan-out ring of `T` in its own shared memory object, unlinked when
/// dropped.
pub struct FanoutObject {
    name: String,
    map: Mapping,
}

impl Drop for FanoutObject {
    fn drop(&mut self) {
        let _ = shm::unlink(&self.name);
    }
}

fn create_fanout<T: Plain>(name: String) -> Result<FanoutObject, String> {
    let len = FanoutRing::<T>::bytes_needed(FANOUT_CAPACITY).map_err(ctx("fan-out size"))?;
    let object = Shm::create(&name, len).map_err(ctx("create the fan-out object"))?;
    let map = object
        .map(&MapOptions::new())
        .map_err(ctx("map the fan-out ring"))?;
    FanoutRing::<T>::init(map.region(), RingConfig::new(FANOUT_CAPACITY))
        .map_err(ctx("init the fan-out ring"))?;
    Ok(FanoutObject { name, map })
}

/// Opens the fan-out object `name` once its creator has published it.
fn open_fanout<T: Plain>(name: &str) -> Result<Mapping, String> {
    let start = Instant::now();
    loop {
        let mapped = Shm::open(name).and_then(|shm| shm.map(&MapOptions::new()));
        if let Ok(map) = mapped {
            match FanoutRing::<T>::attach(map.region()) {
                Ok(_) => return Ok(map),
                Err(AttachError::NotReady { .. }) => {}
                Err(e) => return Err(format!("attach the fan-out ring {name}: {e}")),
            }
        }
        if start.elapsed() > PATIENCE {
            return Err(format!("the fan-out ring {name} did not appear"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Receives `count` elements from the fan-out ring in `map` as its one
/// subscriber, `want(i)` being the `i`th (compared as `key` maps them).
fn fanout_recv<T: Plain, K: PartialEq + std::fmt::Debug>(
    what: &str,
    map: &Mapping,
    count: u32,
    key: impl Fn(T) -> K,
    want: impl Fn(u32) -> K,
) -> Result<(), String> {
    let ring = FanoutRing::<T>::attach(map.region()).map_err(ctx("attach the fan-out ring"))?;
    let mut sub = ring
        .subscribe(process::holder(), |_| true)
        .map_err(ctx("subscribe to the fan-out ring"))?;
    let start = Instant::now();
    let mut i = 0;
    while i < count {
        match sub.try_recv() {
            Ok(got) => {
                expect(what, i, key(got), want(i))?;
                i += 1;
            }
            Err(RecvError::Empty) if start.elapsed() < PATIENCE => std::thread::yield_now(),
            Err(e) => return Err(format!("{what} #{i}: {e}")),
        }
    }
    Ok(())
}

/// Writes `count` elements into the fan-out ring at `name` once a
/// subscriber has joined, each as soon as the subscriber has room.
fn fanout_send<T: Plain>(name: &str, count: u32, value: impl Fn(u32) -> T) -> Result<(), String> {
    let map = open_fanout::<T>(name)?;
    let ring = FanoutRing::<T>::attach(map.region()).map_err(ctx("attach the fan-out ring"))?;
    let start = Instant::now();
    // Elements written before anyone subscribed reach no one.
    while ring.subscriber_holders().iter().all(|&h| h == 0) {
        if start.elapsed() > PATIENCE {
            return Err(format!("no subscriber joined the fan-out ring {name}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut w = ring
        .writer(process::holder())
        .map_err(ctx("fan-out writer"))?;
    for i in 0..count {
        loop {
            match w.try_send(value(i)) {
                Ok(()) => break,
                Err(SendError::Full) if start.elapsed() < PATIENCE => std::thread::yield_now(),
                Err(e) => return Err(format!("fan-out send #{i} to {name}: {e}")),
            }
        }
    }
    Ok(())
}

/// Everything the receiver made, before the sender opens it.
pub struct Created {
    many_to_one: ManyToOneChannel,
    broadcast: BroadcastChannel,
    latest_u64: LatestChannel<u64>,
    latest_f64: LatestChannel<f64>,
    fanout_u64: FanoutObject,
    fanout_f64: FanoutObject,
    pool: PoolChannel<BLOCK_SIZE>,
    handles: SpscChannel<Handle>,
    server: Server,
}

/// Creates every newer structure under `prefix`.
pub fn create(prefix: &str) -> Result<Created, String> {
    let opts = options();
    Ok(Created {
        many_to_one: ManyToOneChannel::create(
            &name(prefix, "m2o"),
            RingConfig::new(M2O_CAPACITY),
            &opts,
        )
        .map_err(ctx("create the many-to-one channel"))?,
        broadcast: BroadcastChannel::create(
            &name(prefix, "bc"),
            RingConfig::new(BROADCAST_CAPACITY),
            &opts,
        )
        .map_err(ctx("create the broadcast channel"))?,
        latest_u64: LatestChannel::create(&name(prefix, "lu"), RingConfig::new(CELLS), &opts)
            .map_err(ctx("create the u64 latest table"))?,
        latest_f64: LatestChannel::create(&name(prefix, "lf"), RingConfig::new(CELLS), &opts)
            .map_err(ctx("create the f64 latest table"))?,
        fanout_u64: create_fanout::<u64>(name(prefix, "fu"))?,
        fanout_f64: create_fanout::<f64>(name(prefix, "ff"))?,
        pool: PoolChannel::create(&name(prefix, "pool"), RingConfig::new(BLOCKS), &opts)
            .map_err(ctx("create the pool"))?,
        handles: SpscChannel::create(&name(prefix, "ph"), RingConfig::new(BLOCKS), &opts)
            .map_err(ctx("create the handle channel"))?,
        server: Server::create(&name(prefix, "rr"), CALL_BYTES, &opts)
            .map_err(ctx("create the request-response server"))?,
    })
}

/// Reads cell after cell of a latest table until each holds its last
/// value, checking every value seen against its version.
/// Values are compared as `key` maps them (floats by their bits).
fn latest_recv<T: Plain, K: PartialEq + std::fmt::Debug>(
    what: &str,
    table: &LatestChannel<T>,
    count: u32,
    key: impl Fn(T) -> K,
    want: impl Fn(u32, u64) -> K,
) -> Result<(), String> {
    let r = table.reader().map_err(ctx("latest reader"))?;
    for cell in 0..CELLS {
        let last = writes_of(cell, count);
        let mut seen = 0;
        let start = Instant::now();
        while seen < last {
            let (got, version) = match r.recv_timeout(cell, seen, PATIENCE) {
                Ok(read) => read,
                // A writer busy with this very cell at every one of the
                // read's tries (documented): read again.
                Err(RecvError::Stalled { .. }) if start.elapsed() < PATIENCE => continue,
                Err(e) => return Err(format!("{what} cell {cell} after version {seen}: {e}")),
            };
            if version <= seen || version > last {
                return Err(format!(
                    "{what} cell {cell}: version {version} after {seen} (at most {last})"
                ));
            }
            expect(what, cell, key(got), want(cell, version - 1))?;
            seen = version;
        }
    }
    Ok(())
}

impl Created {
    /// Receives and checks everything [`send`] sends.
    pub fn receive(&self, count: u32) -> Result<(), String> {
        let mut buf = [0u8; 512];

        let mut rx = self
            .many_to_one
            .receiver()
            .map_err(ctx("many-to-one receiver"))?;
        for i in 0..count {
            let (tag, n) = rx
                .recv_timeout(&mut buf, PATIENCE)
                .map_err(ctx("many-to-one recv"))?;
            let (want_tag, want) = message(i);
            expect("many-to-one tag", i, tag, want_tag)?;
            expect("many-to-one message", i, &buf[..n], &want[..])?;
        }
        expect("many-to-one records skipped", 0, rx.skipped(), 0)?;

        // Lossy: each record is the one its tag numbers, numbers go up by
        // one, or by one more than the reader was told it missed; the
        // last one arrives.
        let mut reader = self
            .broadcast
            .reader(Start::Oldest)
            .map_err(ctx("broadcast reader"))?;
        let mut next: Option<u64> = None;
        loop {
            match reader.recv_timeout(&mut buf, PATIENCE) {
                Ok((i, n)) => {
                    if let Some(next) = next {
                        expect("broadcast record number", i, u64::from(i), next)?;
                    }
                    expect("broadcast record", i, &buf[..n], &message(i).1[..])?;
                    if i + 1 == count {
                        break;
                    }
                    next = Some(u64::from(i) + 1);
                }
                Err(RecvError::Lapped { missed }) => {
                    next = next.map(|n| n + missed);
                }
                Err(e) => return Err(format!("broadcast recv after {next:?}: {e}")),
            }
        }

        latest_recv("u64 latest", &self.latest_u64, count, |v| v, cell_word)?;
        latest_recv(
            "f64 latest",
            &self.latest_f64,
            count,
            f64::to_bits,
            |c, n| cell_float(c, n).to_bits(),
        )?;

        fanout_recv("u64 fan-out", &self.fanout_u64.map, count, |v| v, word)?;
        fanout_recv(
            "f64 fan-out",
            &self.fanout_f64.map,
            count,
            f64::to_bits,
            |i| float(i).to_bits(),
        )?;

        let pool = self.pool.pool().map_err(ctx("pool handle"))?;
        let mut handles = self.handles.receiver().map_err(ctx("handle receiver"))?;
        for i in 0..count {
            let handle = handles.recv_timeout(PATIENCE).map_err(ctx("handle recv"))?;
            let sample = pool.accept(&handle).map_err(ctx("pool accept"))?;
            expect("pool block", i, sample.as_slice(), &message(i).1[..])?;
        }

        let mut serving = self.server.serve().map_err(ctx("serve"))?;
        let mut client = None;
        for i in 0..count.min(CALLS) {
            let request = serving
                .recv_timeout(&mut buf, PATIENCE)
                .map_err(ctx("request recv"))?;
            let (tag, body) = message(i);
            expect("request tag", i, request.tag, tag)?;
            expect("request", i, &buf[..request.len], &body[..])?;
            expect(
                "request correlation",
                i,
                request.correlation,
                u64::from(i) + 1,
            )?;
            // One client throughout.
            expect(
                "request client",
                i,
                request.client,
                *client.get_or_insert(request.client),
            )?;
            serving
                .respond(&request, tag + 100, &answer(i))
                .map_err(ctx("respond"))?;
        }
        Ok(())
    }
}

/// Opens every newer structure under `prefix` and sends `count` values
/// through each.
pub fn send(prefix: &str, count: u32) -> Result<(), String> {
    let opts = options();

    let m2o = ManyToOneChannel::open(&name(prefix, "m2o"), &opts)
        .map_err(ctx("open the many-to-one channel"))?;
    let mut tx = m2o.sender().map_err(ctx("many-to-one sender"))?;
    for i in 0..count {
        let (tag, payload) = message(i);
        tx.send_timeout(tag, &payload, PATIENCE)
            .map_err(ctx("many-to-one send"))?;
    }

    let bc = BroadcastChannel::open(&name(prefix, "bc"), &opts)
        .map_err(ctx("open the broadcast channel"))?;
    let mut w = bc.writer().map_err(ctx("broadcast writer"))?;
    for i in 0..count {
        w.send(i, &message(i).1).map_err(ctx("broadcast send"))?;
    }

    let lu = LatestChannel::<u64>::open(&name(prefix, "lu"), &opts)
        .map_err(ctx("open the u64 latest table"))?;
    let mut w = lu.writer().map_err(ctx("u64 latest writer"))?;
    for i in 0..count {
        w.send(i % CELLS, word(i)).map_err(ctx("u64 latest send"))?;
    }
    let lf = LatestChannel::<f64>::open(&name(prefix, "lf"), &opts)
        .map_err(ctx("open the f64 latest table"))?;
    let mut w = lf.writer().map_err(ctx("f64 latest writer"))?;
    for i in 0..count {
        w.send(i % CELLS, float(i))
            .map_err(ctx("f64 latest send"))?;
    }

    fanout_send(&name(prefix, "fu"), count, word)?;
    fanout_send(&name(prefix, "ff"), count, float)?;

    let pool = PoolChannel::<BLOCK_SIZE>::open(&name(prefix, "pool"), &opts)
        .map_err(ctx("open the pool"))?;
    let handles = SpscChannel::<Handle>::open(&name(prefix, "ph"), &opts)
        .map_err(ctx("open the handle channel"))?;
    let p = pool.pool().map_err(ctx("pool handle"))?;
    let mut tx = handles.sender().map_err(ctx("handle sender"))?;
    for i in 0..count {
        let payload = message(i).1;
        let mut loan = p.loan_timeout(PATIENCE).map_err(ctx("pool loan"))?;
        loan.as_mut_slice()[..payload.len()].copy_from_slice(&payload);
        let handle = loan
            .hand_off(payload.len() as u32, Recipient::Anyone)
            .map_err(ctx("pool hand-off"))?;
        tx.send_timeout(handle, PATIENCE)
            .map_err(ctx("handle send"))?;
    }

    let mut client =
        Client::connect(&name(prefix, "rr"), CALL_BYTES, &opts).map_err(ctx("connect"))?;
    let mut buf = [0u8; 512];
    for i in 0..count.min(CALLS) {
        let (tag, body) = message(i);
        let (got_tag, n) = client
            .call(tag, &body, &mut buf, PATIENCE)
            .map_err(ctx("call"))?;
        expect("answer tag", i, got_tag, tag + 100)?;
        expect("answer", i, &buf[..n], &answer(i)[..])?;
    }
    Ok(())
}
