//! SPSC ring against rtrb and the cache-line floors, in interleaved rounds.
//!
//! Criterion measures one function for a few seconds, then the next. On a
//! machine whose cost of moving a cache line between cores changes every
//! few seconds (the VM the README's numbers come from switches between
//! about 50 ns and 450 ns per round trip of a bare line), two functions
//! measured one after the other can land in different states, and their
//! ratio says more about the machine than about the code. This bench runs
//! one short round of every contender in turn, many times over, and
//! reports quartiles of each one's time and of the ratios taken *within*
//! a round, when all ran in the same state. The loops are the ones
//! `spsc.rs` measures with criterion ([`queues`]).
//!
//! ```text
//! cargo bench -p interlink-core --bench spsc_interleaved
//! ```
//!
//! Two rows measure the bench rather than the code. `rtrb/… again` runs
//! rtrb a second time in each round: its ratio to the first run is what
//! the same code scatters by in this state of the machine (A/A), so a
//! ratio inside that scatter says nothing. `interlink/apart` is the
//! ping-pong with the pong ring's region 2 KiB into its page: two rings
//! that each start a page (as two mappings do) put their tails and
//! slots at the same page offsets, so a load from one can be held up by
//! a pending store to the other (4K aliasing); rtrb's heap blocks do
//! not line up that way.

use std::time::Duration;

mod common;

use common::interleave::{compare, quick};
use common::queues::{self, Idle};
use common::Memory;
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::Holder;
use interlink_core::{Region, RingConfig};

/// Elements per streaming round.
const ITEMS: u64 = 1 << 20;
/// Capacity of the streaming rings.
const CAPACITY: u32 = 4096;
/// Round trips per ping-pong round.
const ROUNDS: u64 = 10_000;
/// Capacity of the ping-pong rings.
const PING_CAPACITY: u32 = 64;

/// Runs `f` with a fresh interlink ring of `capacity` and both its ends.
fn with_interlink<R>(
    capacity: u32,
    f: impl FnOnce((Producer<'_, u64>, Consumer<'_, u64>)) -> R,
) -> R {
    with_interlink_at(capacity, 0, f)
}

/// [`with_interlink`], the region starting `offset` bytes into a page.
fn with_interlink_at<R>(
    capacity: u32,
    offset: usize,
    f: impl FnOnce((Producer<'_, u64>, Consumer<'_, u64>)) -> R,
) -> R {
    let mut mem = Memory::new(SpscRing::<u64>::bytes_needed(capacity).unwrap() + offset);
    let region = Region::new(&mut mem.bytes()[offset..]);
    let ring = SpscRing::<u64>::init(region, RingConfig::new(capacity)).unwrap();
    f((
        ring.producer(Holder::fixed::<1>()).unwrap(),
        ring.consumer(Holder::fixed::<2>()).unwrap(),
    ))
}

fn interlink_stream(idle: Idle) -> Duration {
    with_interlink(CAPACITY, |(tx, rx)| queues::stream(ITEMS, tx, rx, idle))
}

fn rtrb_stream(idle: Idle) -> Duration {
    let (tx, rx) = rtrb::RingBuffer::new(CAPACITY as usize);
    queues::stream(ITEMS, tx, rx, idle)
}

fn interlink_ping_pong() -> Duration {
    with_interlink(PING_CAPACITY, |ping| {
        with_interlink(PING_CAPACITY, |pong| queues::ping_pong(ROUNDS, ping, pong))
    })
}

/// The ping-pong with the pong ring off the ping ring's page offsets.
fn interlink_ping_pong_apart() -> Duration {
    with_interlink(PING_CAPACITY, |ping| {
        with_interlink_at(PING_CAPACITY, 2048, |pong| {
            queues::ping_pong(ROUNDS, ping, pong)
        })
    })
}

fn rtrb_ping_pong() -> Duration {
    let ping = rtrb::RingBuffer::new(PING_CAPACITY as usize);
    let pong = rtrb::RingBuffer::new(PING_CAPACITY as usize);
    queues::ping_pong(ROUNDS, ping, pong)
}

fn main() {
    // `cargo test --benches` runs every bench without `--bench`: one short
    // round each then, as a smoke test.
    let (stream_rounds, ping_rounds) = if quick() { (1, 1) } else { (60, 100) };
    compare(
        "throughput, ns per element",
        &[
            ("interlink/slip", || interlink_stream(Idle::Slip)),
            ("rtrb/slip", || rtrb_stream(Idle::Slip)),
            ("interlink/busy_poll", || interlink_stream(Idle::BusyPoll)),
            ("rtrb/busy_poll", || rtrb_stream(Idle::BusyPoll)),
            ("rtrb/busy_poll again", || rtrb_stream(Idle::BusyPoll)),
        ],
        stream_rounds,
        ITEMS,
        &[(0, 1), (2, 3), (4, 3)],
    );
    compare(
        "ping-pong, ns per round trip",
        &[
            ("floor/one_line", || queues::one_line(ROUNDS)),
            ("floor/two_lines", || queues::two_lines(ROUNDS)),
            ("interlink", interlink_ping_pong),
            ("rtrb", rtrb_ping_pong),
            ("interlink/apart", interlink_ping_pong_apart),
            ("rtrb again", rtrb_ping_pong),
        ],
        ping_rounds,
        ROUNDS,
        &[(2, 3), (4, 3), (5, 3), (2, 0), (2, 1), (1, 0)],
    );
}
