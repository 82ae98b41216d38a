//! Layer 0, the foundation: what every structure in shared memory is made
//! of, and nothing that waits or synchronises.
//!
//! - [`atomics`]: the loom switch — the one place that picks `core`'s or
//!   loom's atomics and cells;
//! - [`holder`]: the ids of role holders, users and lock owners;
//! - [`plain`]: the element types that may be copied through shared memory;
//! - [`region`]: borrowed, aligned memory a structure is placed in;
//! - [`layout`]: the common header, kinds, fingerprints, and the errors of
//!   creating or attaching a structure;
//! - [`frame`]: the frame header, a wire format shared by the byte ring and
//!   the stream codec.
//!
//! Nothing here imports from a higher layer. The public modules are
//! re-exported at the crate root (`interlink_core::layout`, …), which is
//! where users name them.

pub(crate) mod atomics;
pub mod frame;
pub mod holder;
pub mod layout;
pub mod plain;
pub mod region;
