//! # interlink-core
//!
//! Rings and synchronisation that live *inside caller memory*, so that
//! unrelated processes mapping the same bytes can use them together.
//! `#![no_std]`, no allocator, nothing OS-specific: the memory comes from
//! the caller (a POSIX shm object, a memfd, a file, an anonymous shared
//! mapping, a device window, or a plain buffer in tests).
//!
//! Every structure begins with a [`layout::Header`] (magic, layout version,
//! kind, element fingerprint, capacity, init state) and is validated on
//! attach; every element type is [`Plain`], so a hostile or crashed peer can
//! cause errors or junk values but never out-of-bounds access or undefined
//! behaviour.
//!
//! ```
//! use interlink_core::{Holder, Region, RingConfig, spsc::SpscRing};
//!
//! # #[repr(C, align(128))] struct Mem([u8; 4096]);
//! # let mut mem = Mem([0; 4096]);
//! // Any 128-byte-aligned memory will do; here a buffer, usually a mapping.
//! let ring = SpscRing::<u64>::init(Region::new(&mut mem.0), RingConfig::new(64))?;
//! let mut tx = ring.producer(Holder::fixed::<1>())?;
//! let mut rx = ring.consumer(Holder::fixed::<2>())?;
//! tx.try_send(42)?;
//! assert_eq!(rx.try_recv()?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # One verb scheme
//!
//! Every ring (and every channel of `interlink-linux`) names the same
//! operation the same way, and a name says whether it can wait:
//!
//! | operation | never waits | waits |
//! |---|---|---|
//! | send one | `try_send(v)` | core: `send(v, &blocking, timeout)`; channels: `send(v)`, `send_timeout(v, t)` |
//! | receive one | `try_recv()` | core: `recv(&blocking, timeout)`; channels: `recv()`, `recv_timeout(t)` |
//! | send a batch | `try_send_slice(&items)` → how many (0: full) | channels: `send_slice(&items, timeout)` |
//! | receive a batch | `try_recv_slice(&mut out)` → how many (0: empty) | channels: `recv_slice(&mut out, timeout)` |
//! | write in place | `reserve(n)` → `commit` | — |
//! | read in place | `peek(..)` → `release` | — |
//! | wake a parked peer | `wake_consumer(s)` / `wake_producer(s)` | — |
//!
//! - `try_*`, `reserve` and `peek` never wait, never sleep and make no
//!   syscall. What waits takes a [`Blocking`] strategy (spin, yield, park
//!   on a [`Wait`]) and a timeout (`None`: no limit) in the core; the
//!   channels hold their strategy and check that their peer lives while
//!   they wait.
//! - Every send fails with one [`SendError`], every receive with one
//!   [`RecvError`], on every ring and channel: `Full`/`Empty` from `try_*`,
//!   `TimedOut` from a wait, and the cases only some rings have
//!   (`TooLarge` and `BufferTooSmall` on the byte ring, `Stalled` on the
//!   MPMC ring, `PeerDied` where liveness is judged). Zero-copy chunks of
//!   the SPSC ring fail with [`ChunkError`] (it says how many are there).
//! - The byte ring's messages carry a tag: `try_send(tag, payload)`,
//!   `try_recv(&mut buf)` → `(tag, len)`; its batch read is
//!   [`drain`](bytes::Consumer::drain), in place.
//!
//! # Layers
//!
//! The modules form layers, each built only on the ones before it (a test,
//! `tests/module_layers.rs`, checks that imports point one way and never
//! round a loop):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | foundation | [`plain`], [`holder`], [`region`], [`layout`], [`frame`] | element types, holder ids, caller memory, the common header, the frame format |
//! | waiting | [`wait`] ([`blocking`]) | how a thread waits for a shared word; blocking around `try_*` |
//! | sync types | [`sync`]: [`mutex`], [`semaphore`], [`condvar`], [`event`] | futex-word synchronisation in fixed layouts |
//! | rings | [`ring`]: [`spsc`], [`mpmc`], [`bytes`], [`many_to_one`], [`pool`] | the rings, what they share (configuration, errors), and the block pool whose handles they carry |
//! | codec | [`codec`] | frames on byte streams |
//!
//! Every module is also named at the crate root (`interlink_core::spsc`,
//! …), where it was before the layers had folders.
#![cfg_attr(not(test), no_std)]

// The `atomic-wait` feature's waiter needs std's clock and sleeps.
#[cfg(all(feature = "atomic-wait", not(test)))]
extern crate std;

// The layers, bottom up; each module imports only from layers below it
// (checked by `tests/module_layers.rs`):
//   0 foundation: atomics (the loom switch), `Plain`, regions, header, frame
//   1 wait:       `Wait`, deadlines, `Blocking`
//   2 sync:       futex-word sync types (mutex, semaphore, condvar, event)
//   3 ring:       the SPSC, MPMC and byte rings and what they share
//   4 codec:      the stream codec (frames on byte streams)
pub mod codec;
mod foundation;
pub mod ring;
pub mod sync;
pub mod wait;

// Module paths kept from the flat layout: every module that was at the
// crate root is still named there, as a re-export of its place in a layer.
pub use foundation::{frame, holder, layout, plain, region};
pub use ring::{broadcast, bytes, fanout, latest, many_to_one, mpmc, pool, spsc};
pub use sync::{condvar, event, mutex, semaphore};

/// Blocking around non-blocking operations: the path of
/// [`wait::blocking`] before the layers had folders.
pub mod blocking {
    pub use crate::wait::blocking::*;
}

#[cfg(test)]
mod test_util;

pub use holder::Holder;
pub use layout::{AttachError, ElementCheck, Kind, LAYOUT_VERSION};
pub use plain::Plain;
pub use region::{Region, RegionError};
pub use ring::{
    ChunkError, Corrupt, InitError, RecvError, RingConfig, RingError, RoleError, SendError,
};
pub use wait::blocking::Blocking;
pub use wait::{Deadline, Expired, Spin, Wait, WaitOutcome};

macro_rules! impl_error {
    ($($t:ty),*) => {$(
        impl core::error::Error for $t {}
    )*};
}
impl_error!(
    AttachError,
    Expired,
    codec::DecodeError,
    codec::EncodeError,
    frame::HeaderError,
    RegionError,
    ChunkError,
    Corrupt,
    InitError,
    RecvError,
    RingError,
    RoleError,
    SendError
);
