//! Layer 2, the futex-word synchronisation types: [`mutex`], [`semaphore`],
//! [`condvar`] and [`event`]. Each lives in a fixed layout (a header and a
//! few 32-bit words) inside caller memory and waits through a
//! [`Wait`](crate::wait::Wait).
//!
//! Built on the foundation and the waiting layer ([`crate::wait`]); the
//! rings do not use them. The modules are also re-exported at the crate
//! root (`interlink_core::mutex`, …), their paths before the layers had
//! folders.
//!
//! For compatibility this module also re-exports the atomic types that
//! shared layouts are built from ([`AtomicU32`], [`Ordering`]): `core`'s,
//! or loom's under `cfg(loom)` — the loom switch itself is private.

pub use crate::foundation::atomics::{AtomicU32, Ordering};

pub mod condvar;
pub mod event;
mod fixed;
pub mod mutex;
pub mod semaphore;
