//! Owned shared mappings and the options latency users ask for: prefault,
//! `mlock`, huge pages. Where the bytes come from (a POSIX shm object, a
//! memfd, a file, nothing at all) is the business of `shm/`, `memfd.rs`
//! and the caller; this module only maps, unmaps and, when asked, unlinks. One idea per
//! file: the options (`options.rs`), the pages of one `mmap` (`pages.rs`),
//! the writable [`Mapping`] (`writable.rs`), the [`ReadOnlyMapping`]
//! (`read_only.rs`), reading without mapping (`copy.rs`) and what a
//! descriptor says about its file (`fd.rs`).

mod copy;
mod fd;
mod options;
mod pages;
mod read_only;
mod writable;

pub use options::{memlock_limit, HugePages, MapOptions, HUGE_PAGE};
pub use read_only::ReadOnlyMapping;
pub use writable::Mapping;

pub(crate) use copy::{pread_full, PrivateCopy};
pub(crate) use fd::{fd_len, fd_stat};
pub(crate) use pages::populate_writable;
pub(crate) use writable::UnlinkOnDrop;
