//! What an inspector reads from a broadcast ring: [`Status`].

use super::*;

/// What an inspector can read from a broadcast ring without knowing its
/// type id, with loads only: the header (validated) and the writer's words.
#[cfg(not(loom))]
pub fn status(region: &Region<'_>) -> Result<Status, AttachError> {
    let base = region.check(size_of::<Control>(), BroadcastRing::region_align())?;
    // SAFETY: the region holds an aligned Control; every bit pattern is a
    // valid AtomicU32 outside loom, and all access below is atomic loads.
    let control = unsafe { base.cast::<Control>().as_ref() };
    let header = control.meta.header.snapshot();
    crate::ring::check_ring_header(
        &header,
        Kind::Broadcast,
        (ELEMENT, ElementCheck::LayoutOnly),
        BroadcastRing::bytes_needed,
        region,
        BroadcastRing::region_align(),
    )?;
    let p = &control.pos;
    Ok(Status {
        header,
        writer: control.meta.writer.load(Ordering::Acquire),
        tail: p.tail.load(Ordering::Acquire),
        intent: p.intent.load(Ordering::Relaxed),
        latest: p.latest.load(Ordering::Relaxed),
        head: p.head.load(Ordering::Relaxed),
    })
}

/// A broadcast ring's words as [`status`] read them (unchecked beyond the
/// header: a report, not something to address memory with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The header, validated.
    pub header: HeaderSnapshot,
    /// The writer's holder id (0: none).
    pub writer: u32,
    /// Bytes ever published (wrapping).
    pub tail: u32,
    /// Where the record being written ends (= `tail` when none is).
    pub intent: u32,
    /// Where the newest data record starts.
    pub latest: u32,
    /// Where the oldest intact record starts.
    pub head: u32,
}
