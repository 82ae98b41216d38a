//! What an inspector reads from a fan-out ring: the writer, the tail and
//! every subscriber's holder, cursor and lag.

use super::*;
use crate::foundation::layout::HeaderSnapshot;

/// Reads the status of the fan-out ring at the start of `region` with
/// loads only (so the region may be a read-only mapping or a private
/// copy), validating the header without knowing the element type (as
/// [`crate::spsc::status`] does).
pub fn status(region: &Region<'_>) -> Result<Status, AttachError> {
    let base = region.check(size_of::<Control>(), align_of::<Control>())?;
    // SAFETY: the region holds an aligned Control; every bit pattern is a
    // valid AtomicU32 outside loom, and all access below is atomic loads.
    let control = unsafe { base.cast::<Control>().as_ref() };
    let header = control.meta.header.snapshot();
    crate::ring::check_untyped_ring_header(
        &header,
        Kind::Fanout,
        1,
        (size_of::<Control>(), align_of::<Control>()),
        |size, align| (size, align),
        region,
    )?;
    let tail = control.tail.index.load(Ordering::Acquire);
    let subscribers = core::array::from_fn(|i| {
        let entry = &control.subscribers[i];
        let holder = entry.holder.load(Ordering::Acquire);
        let cursor = entry.cursor.load(Ordering::Acquire);
        SubscriberStatus {
            holder,
            cursor,
            lag: span(tail, cursor, header.capacity).ok(),
        }
    });
    Ok(Status {
        header,
        writer: control.meta.writer.load(Ordering::Acquire),
        tail,
        subscribers,
    })
}

/// A fan-out ring's words as [`status`] read them (a report, not
/// something to address memory with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The header, validated.
    pub header: HeaderSnapshot,
    /// The writer's holder id (0: none).
    pub writer: u32,
    /// Elements ever written (wrapping).
    pub tail: u32,
    /// Every entry of the subscriber table, free ones included.
    pub subscribers: [SubscriberStatus; MAX_SUBSCRIBERS],
}

/// One entry of the subscriber table as [`status`] read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriberStatus {
    /// The holder id (0: the entry is free).
    pub holder: u32,
    /// Elements it has received (wrapping).
    pub cursor: u32,
    /// Elements written that it has not received (`tail − cursor`), or
    /// `None` when that is more than the capacity (a joiner that has not
    /// set its cursor yet, or a corrupt word).
    pub lag: Option<u32>,
}

impl Status {
    /// The occupied entries: index, holder and lag.
    pub fn occupied(&self) -> impl Iterator<Item = (usize, &SubscriberStatus)> {
        self.subscribers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.holder != 0)
    }

    /// The largest lag of an occupied entry (0 without subscribers): how
    /// far the slowest subscriber is behind.
    pub fn max_lag(&self) -> u32 {
        self.occupied()
            .filter_map(|(_, s)| s.lag)
            .max()
            .unwrap_or(0)
    }
}
