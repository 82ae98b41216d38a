//! What an inspector reads from a latest-value table: [`Status`].

use super::*;

/// What an inspector can read from a latest-value table without knowing
/// its element type, with loads only: the header, validated (the recorded
/// element's size and alignment must be plausible and the length must be
/// what they and the number of cells make), and the writer's holder.
#[cfg(not(loom))]
pub fn status(region: &Region<'_>) -> Result<Status, AttachError> {
    let base = region.check(CONTROL, 128)?;
    // SAFETY: the region holds an aligned header; the snapshot loads.
    let header = unsafe { base.cast::<Header>().as_ref() }.snapshot();
    header.validate(Kind::Latest, header.element)?;
    let corrupt = |field, value: u64| AttachError::Corrupt { field, value };
    let (size, align) = (header.element.size as usize, header.element.align as usize);
    if !align.is_power_of_two() || align > 1 << 16 {
        return Err(corrupt("elem_align", align as u64));
    }
    if size % align != 0 {
        return Err(corrupt("elem_size", size as u64));
    }
    if header.capacity == 0 || header.capacity > MAX_CELLS {
        return Err(corrupt("capacity", header.capacity as u64));
    }
    let cell_align = max(64, align);
    let stride = round_up(round_up(16, align) + size, cell_align);
    let total = (header.capacity as usize)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(round_up(CONTROL, cell_align)));
    if total.map(|t| t as u64) != Some(header.total_len) {
        return Err(corrupt("total_len", header.total_len));
    }
    region.check(header.total_len as usize, max(128, cell_align))?;
    // SAFETY: the writer's word is inside the checked control block.
    let writer = unsafe { &*base.as_ptr().add(WRITER_OFFSET).cast::<AtomicU32>() };
    Ok(Status {
        header,
        writer: writer.load(Ordering::Acquire),
    })
}

/// A latest-value table as [`status`] read it.
#[cfg(not(loom))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The header, validated.
    pub header: HeaderSnapshot,
    /// The writer's holder id (0: none).
    pub writer: u32,
}

#[cfg(not(loom))]
const _: () = {
    use static_assertions::const_assert_eq;
    const_assert_eq!(WRITER_OFFSET, 64);
    const_assert_eq!(WAKE_OFFSET, 128);
    const_assert_eq!(CONTROL, 256);
    const_assert_eq!(LatestTable::<u64>::VALUE, 16);
    const_assert_eq!(LatestTable::<u64>::STRIDE, 64);
    const_assert_eq!(LatestTable::<u64>::CELLS, 256);
    const_assert_eq!(LatestTable::<[u64; 8]>::STRIDE, 128);
    const_assert_eq!(LatestTable::<u128>::VALUE, 16);
};
