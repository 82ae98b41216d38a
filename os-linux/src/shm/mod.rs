//! Shared memory: memory that several processes see as the same bytes.
//!
//! This module holds POSIX shared-memory objects by name, one idea per
//! file: names and their validation ([`ShmName`], `name.rs`), the error
//! every mapping step returns ([`ShmError`], `error.rs`), the objects
//! themselves ([`Shm`]: `shm_open`, `ftruncate`, `shm_unlink`;
//! `object.rs`), building one under a private name and publishing it
//! atomically (`building.rs`) and the claim lock taken meanwhile
//! ([`CLAIM_BYTE`], `claim.rs`). Mappings themselves are in
//! [`crate::mapping`] (re-exported here), sealed anonymous files in
//! [`crate::memfd`].
//!
//! ```no_run
//! use interlink_linux::shm::{MapOptions, Shm};
//!
//! // Exclusive create, mode 0600, sized and reserved on /dev/shm.
//! let shm = Shm::create("/demo", 1 << 20)?;
//! let mut map = shm.map(&MapOptions::new())?;
//! map.unlink_on_drop_of(&shm)?; // the name goes when the mapping does
//! # Ok::<(), interlink_linux::shm::ShmError>(())
//! ```
//!
//! # Hostile names
//!
//! Whatever sits at a name may be a FIFO, a directory, a symlink, a
//! socket or a device, or an object that changes size while it is looked
//! at. Every open of a name here is non-blocking and does not follow a
//! symlink, and anything but a regular file is refused at once with
//! [`ShmError::NotRegular`] naming the path and what was found there.
//!
//! # Truncation
//!
//! Any process of the same user that can open an object can resize it
//! (`ftruncate`). Shrinking it under a mapping makes every access to a
//! page past the new end raise `SIGBUS` in every process that has it
//! mapped; that is the kernel's contract for shared files and no check
//! made before mapping can prevent it afterwards. What this crate does:
//! probing ([`crate::inspect::probe`], hence `ls`, `gc` and `create`'s
//! stale check) maps nothing and reads with `pread`; opening a channel
//! validates the header from a `pread` copy and the size with `fstat`
//! before it maps exactly the structure's length, and touches nothing
//! mapped before returning (except an MPMC channel's users table, which
//! it writes). Everything after that touches the mapping: creating (which
//! initialises the object it just sized), claiming a role, sending,
//! receiving, releasing a role on drop. A peer that truncates a named
//! object kills with `SIGBUS` every process that then touches a page past
//! the new end, whatever the crate checks. To rule that out, use a sealed memfd
//! ([`crate::memfd`], [`crate::channel::Channel::create_sealed`]), whose
//! size no process can change.

mod building;
mod claim;
mod object;

pub use crate::error::{FileKind, ShmError};
pub use crate::mapping::{memlock_limit, HugePages, MapOptions, Mapping, ReadOnlyMapping};
pub use crate::shm_name::{unlink, ShmName, TempName, NAME_MAX, SHM_DIR};
pub use building::{building_pid, BUILDING_MARKER};
pub use claim::CLAIM_BYTE;
pub use object::{Shm, ShmOptions};

pub(crate) use crate::shm_name::name_identity;
pub(crate) use building::Building;
pub(crate) use claim::{is_claimed, release_claim, try_claim};
pub(crate) use object::check_len;
