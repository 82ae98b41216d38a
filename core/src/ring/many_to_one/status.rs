//! What an inspector reads from a many-to-one ring: [`Status`].

use super::*;

/// What an inspector can read from a many-to-one ring without knowing its
/// type id, with loads only: the header, validated, the consumer's holder,
/// the two indices and the skipped count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The header, validated.
    pub header: HeaderSnapshot,
    /// The consumer's holder id (0: none).
    pub consumer: u32,
    /// Bytes ever claimed (wrapping).
    pub tail: u32,
    /// Bytes ever released (wrapping).
    pub head: u32,
    /// Records skipped (wrapping).
    pub skipped: u32,
}

impl Status {
    /// Bytes in use, or `None` if the indices say more than the capacity.
    pub fn fill(&self) -> Option<u32> {
        span(self.tail, self.head, self.header.capacity).ok()
    }
}

/// Reads a many-to-one ring's [`Status`] from `region` (which may be a
/// read-only mapping or a private copy).
#[cfg(not(loom))]
pub fn status(region: &Region<'_>) -> Result<Status, AttachError> {
    let base = region.check(size_of::<Control>(), ManyToOneRing::region_align())?;
    // SAFETY: the region holds an aligned Control; every bit pattern is a
    // valid AtomicU32 outside loom, and all access below is atomic loads.
    let control = unsafe { base.cast::<Control>().as_ref() };
    let header = control.meta.header.snapshot();
    check_ring_header(
        &header,
        Kind::ManyToOne,
        (ELEMENT, ElementCheck::LayoutOnly),
        ManyToOneRing::bytes_needed,
        region,
        ManyToOneRing::region_align(),
    )?;
    let head = control.head.index.load(Ordering::Acquire);
    Ok(Status {
        header,
        consumer: control.meta.consumer.load(Ordering::Acquire),
        tail: control.tail.index.load(Ordering::Acquire),
        head,
        skipped: control.meta.skipped.load(Ordering::Relaxed),
    })
}
