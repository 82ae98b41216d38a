//! Placing a fixed-size synchronisation structure — a [`Header`] followed
//! by a few words — in caller memory, and attaching to one. Shared by the
//! mutex, semaphore, condvar and event.

use core::ptr::NonNull;

use crate::foundation::atomics::{init_atomic, AtomicU32};
use crate::foundation::layout::InitError;
use crate::foundation::layout::{
    AttachError, ElementCheck, Fingerprint, Header, HeaderFields, HeaderSnapshot, Kind,
};
use crate::foundation::region::{Region, RegionError};

/// Checks that `region` holds `total` bytes aligned to `align`, and marks
/// the header at its start `INITIALISING` (under loom: creates its atomics).
/// The caller then initialises its own words and calls [`publish`].
pub(crate) fn begin(
    region: &Region<'_>,
    total: usize,
    align: usize,
) -> Result<NonNull<u8>, RegionError> {
    let base = region.check(total, align)?;
    // SAFETY: the region holds `total >= size_of::<Header>()` bytes aligned
    // to `align >= 4`; the creator owns them until publication.
    unsafe { Header::begin(base.cast::<Header>().as_ptr()) };
    Ok(base)
}

/// Records what the structure is and publishes it as ready (`Release`,
/// which also publishes every word the creator wrote after [`begin`]).
///
/// # Safety
///
/// [`begin`] returned `base`.
pub(crate) unsafe fn publish(
    base: NonNull<u8>,
    kind: Kind,
    element: Fingerprint,
    capacity: u32,
    total: usize,
) {
    let fields = HeaderFields {
        kind,
        element,
        capacity,
        creator_pid: 0,
        total_len: total as u64,
    };
    // SAFETY: forwarded from the caller: begin() ran on this header.
    unsafe { Header::publish(base.cast::<Header>().as_ptr(), &fields) };
}

/// Validates the header at the start of `region` against `kind`,
/// `element` and the structure's exact length `total`, and checks that the
/// region holds all of it. Returns the start and the header as read, so
/// the caller can check its capacity word.
pub(crate) fn attach(
    region: &Region<'_>,
    kind: Kind,
    (element, check): (Fingerprint, ElementCheck),
    total: usize,
    align: usize,
) -> Result<(NonNull<u8>, HeaderSnapshot), AttachError> {
    let base = region.check(core::mem::size_of::<Header>(), align)?;
    // SAFETY: the region holds an aligned Header; all access is atomic.
    let snap = unsafe { base.cast::<Header>().as_ref() }.snapshot();
    snap.validate_as(kind, element, check)?;
    if snap.total_len != total as u64 {
        return Err(AttachError::Corrupt {
            field: "total_len",
            value: snap.total_len,
        });
    }
    region.check(total, align)?;
    Ok((base, snap))
}

/// The shape the event, the semaphore and the condvar share: a header and
/// sixteen words, of which each uses the first few (the rest are reserved
/// and zero).
#[repr(C)]
pub(crate) struct Words {
    header: Header,
    pub(crate) words: [AtomicU32; 16],
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    use static_assertions::const_assert_eq;
    const_assert_eq!(size_of::<Words>(), 128);
    const_assert_eq!(align_of::<Words>(), 4);
    const_assert_eq!(offset_of!(Words, words), 64);
};

impl Words {
    /// Bytes of the structure.
    pub(crate) const BYTES: usize = core::mem::size_of::<Self>();
    /// The alignment its region needs.
    pub(crate) const ALIGN: usize = core::mem::align_of::<Self>();

    /// Creates the structure in `region`: words from `first`, the rest 0.
    pub(crate) fn init(
        region: &Region<'_>,
        kind: Kind,
        capacity: u32,
        first: &[u32],
    ) -> Result<NonNull<Self>, InitError> {
        let base = begin(region, Self::BYTES, Self::ALIGN)?;
        let w = base.cast::<Self>().as_ptr();
        for i in 0..16 {
            // SAFETY: `w` points to a writable Words the creator owns.
            unsafe {
                init_atomic(
                    core::ptr::addr_of_mut!((*w).words[i]),
                    first.get(i).copied().unwrap_or(0),
                )
            };
        }
        // SAFETY: begin() returned `base`.
        unsafe { publish(base, kind, Fingerprint::NONE, capacity, Self::BYTES) };
        Ok(base.cast())
    }

    /// Attaches to the structure of `kind` in `region`.
    pub(crate) fn attach(
        region: &Region<'_>,
        kind: Kind,
    ) -> Result<(NonNull<Self>, HeaderSnapshot), AttachError> {
        let (base, snap) = attach(
            region,
            kind,
            (Fingerprint::NONE, ElementCheck::Exact),
            Self::BYTES,
            Self::ALIGN,
        )?;
        Ok((base.cast(), snap))
    }
}
