//! What a named [`Channel`](super::Channel) can hold: the [`Shape`] of its structure.

use interlink_core::layout::Kind;
use interlink_core::mpmc::UserSlot;
use interlink_core::{AttachError, ElementCheck, Holder, InitError, Region, RingConfig};

/// A structure a named [`Channel`](super::Channel) can hold: its kind, its size for a
/// configuration, how to initialise it, how to check one that another
/// process initialised and, for structures without roles, how a process
/// records that it uses one. Implemented by the marker types [`Spsc`](super::Spsc),
/// [`Bytes`](super::Bytes) and [`Mpmc`](super::Mpmc).
pub trait Shape {
    /// The kind recorded in the header.
    const KIND: Kind;
    /// Bytes needed for `capacity`, header included.
    fn bytes_needed(capacity: u32) -> Result<usize, InitError>;
    /// Initialises and publishes the structure in `region`.
    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError>;
    /// Validates the structure in `region`, comparing its element type as
    /// `check` says; returns its capacity.
    fn attach(region: Region<'_>, check: ElementCheck) -> Result<u32, AttachError>;

    /// Records process `holder` as a user of the validated structure in
    /// `region`, for as long as a [`Channel`](super::Channel) has it open, so that the
    /// inspector sees it in use; returns what [`Shape::leave`] needs, or
    /// `None` when nothing was recorded. Structures whose users hold roles
    /// (SPSC, bytes) record them when a role is claimed instead: the
    /// default records nothing.
    fn join(region: Region<'_>, check: ElementCheck, holder: Holder) -> Option<UserSlot> {
        let _ = (region, check, holder);
        None
    }

    /// Undoes [`Shape::join`] for `holder` at `slot` (frees nothing another
    /// process took over meanwhile). The default does nothing.
    fn leave(region: Region<'_>, check: ElementCheck, slot: UserSlot, holder: Holder) {
        let _ = (region, check, slot, holder);
    }
}
