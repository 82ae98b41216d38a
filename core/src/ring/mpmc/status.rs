//! What an inspector reads from an MPMC ring without knowing its
//! element type.

use super::*;

/// What an inspector can read from an MPMC ring without knowing its
/// element type: the header, the users table and the two indices, as they
/// were at some moment during [`status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The header, validated (magic, version, kind, state, capacity, length).
    pub header: HeaderSnapshot,
    /// The users table.
    pub users: Users,
    /// Positions ever claimed by producers (wrapping).
    pub tail: u32,
    /// Positions ever claimed by consumers (wrapping).
    pub head: u32,
}

impl Status {
    /// Positions claimed by producers and not yet by consumers, or `None`
    /// if the indices say more than the capacity (corrupt).
    pub fn fill(&self) -> Option<u32> {
        crate::ring::fill(self.tail, self.head, self.header.capacity)
    }
}

/// Reads the status of the MPMC ring at the start of `region` with loads
/// only (so the region may be a read-only mapping), validating the header
/// without knowing the element type: the recorded element size and
/// alignment must be plausible and agree with the capacity (at least 2)
/// and the total length, and the region must hold the whole ring.
#[cfg(not(loom))]
pub fn status(region: &Region<'_>) -> Result<Status, AttachError> {
    let base = region.check(size_of::<Control>(), align_of::<Control>())?;
    // SAFETY: the region holds an aligned Control; every bit pattern is a
    // valid AtomicU32 outside loom, and all access below is atomic loads.
    let control = unsafe { base.cast::<Control>().as_ref() };
    let header = control.meta.header.snapshot();
    crate::ring::check_untyped_ring_header(
        &header,
        Kind::Mpmc,
        2,
        (size_of::<Control>(), align_of::<Control>()),
        untyped_slot,
        region,
    )?;
    Ok(Status {
        header,
        users: UsersTable::of(&control.meta.users, &control.meta.overflow).read(),
        tail: control.tail.index.load(Ordering::Acquire),
        head: control.head.index.load(Ordering::Acquire),
    })
}

/// The size and alignment of `Slot<T>` for a `T` of `size` and recorded
/// (shared) alignment `align` (a power of two, `size` a multiple of it):
/// the value at 0, the `u32` sequence word at `size` rounded up to 4, the
/// slot aligned to `max(8, align)` and padded to it.
#[cfg(not(loom))]
const fn untyped_slot(size: usize, align: usize) -> (usize, usize) {
    let slot_align = if align > 8 { align } else { 8 };
    // `size` is at most u32::MAX: no overflow on a 64-bit usize, and on a
    // 32-bit one a total that does not fit fails the length check anyway.
    let end = (size.saturating_add(3) & !3).saturating_add(4);
    (
        end.saturating_add(slot_align - 1) & !(slot_align - 1),
        slot_align,
    )
}

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(untyped_slot(1, 1).0, size_of::<Slot<u8>>());
    const_assert_eq!(untyped_slot(4, 4).0, size_of::<Slot<u32>>());
    const_assert_eq!(untyped_slot(8, 8).0, size_of::<Slot<u64>>());
    const_assert_eq!(untyped_slot(60, 1).0, size_of::<Slot<[u8; 60]>>());
    const_assert_eq!(untyped_slot(12, 4).0, size_of::<Slot<[u32; 3]>>());
    // u128 is 16-aligned on x86-64 and 8-aligned on 32-bit Arm.
    const U128: (usize, usize) = untyped_slot(
        size_of::<u128>(),
        crate::foundation::layout::shared_align_of::<u128>(),
    );
    const_assert_eq!(U128.0, size_of::<Slot<u128>>());
    const_assert_eq!(U128.1, align_of::<Slot<u128>>());
};
