//! # interlink-linux
//!
//! A thin shim over `libc`: shared mappings, the shared futex, and the
//! kernel's own IPC, plus interlink's core rings placed in real mappings.
//! One file per kernel noun; an owned type per kernel object.
#![cfg(target_os = "linux")]

pub mod channel;
pub mod clock;
pub mod error;
pub mod eventfd;
pub mod futex;
pub mod inspect;
pub mod liveness;
pub mod lock;
pub mod mapping;
pub mod memfd;
pub mod mq;
pub mod pipe;
mod posix;
pub mod process;
pub mod sem;
pub mod shm;
pub mod signal;
pub mod socket;

pub use error::OsError;
pub use futex::{Futex, Robust};
