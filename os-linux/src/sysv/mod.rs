//! System V IPC: shared memory segments ([`Segment`]) and typed message
//! queues ([`Queue`]), found by a [`Key`] (`ftok`, an explicit number, or
//! `IPC_PRIVATE` and the id passed on).
//!
//! Prefer POSIX ([`crate::shm`], [`crate::channel`], [`crate::mq`]) for new
//! programs: System V objects have no names a file system shows, outlive
//! every process that used them until someone removes them, are found by
//! keys that can collide, and `msgrcv` has no timeout. This module is for
//! talking to programs (and databases) that use System V already; see
//! `docs/sysv.md` for when to choose it, how the timeouts work and how
//! cleanup works.
//!
//! ```
//! use interlink_linux::sysv::{Key, Queue, QueueOptions, Segment, SegmentOptions, Select};
//!
//! // A private segment: another process attaches it by id.
//! let segment = Segment::create(Key::PRIVATE, 4096, &SegmentOptions::new())?;
//! segment.write(0, b"hello")?;
//! let mut hello = [0u8; 5];
//! segment.read(0, &mut hello)?;
//! assert_eq!(&hello, b"hello");
//! assert_eq!(segment.stat()?.attaches, 1);
//!
//! // A typed queue: receivers pick messages by type.
//! let queue = Queue::create(Key::PRIVATE, &QueueOptions::new())?;
//! queue.send(2, b"routine")?;
//! queue.send(1, b"urgent")?;
//! let mut buf = [0u8; 64];
//! let got = queue.try_recv(Select::UpTo(9), &mut buf)?; // lowest type first
//! assert_eq!((got.mtype, &buf[..got.len]), (1, &b"urgent"[..]));
//! # Ok::<(), interlink_linux::sysv::SysvError>(())
//! ```
//!
//! Both are removed when the creating handle drops (unless told
//! otherwise), and recorded as interlink's while they live (see
//! [`MARK_DIR_PREFIX`]), so that `interlink-inspect gc`
//! ([`crate::inspect::sysv_gc`]) can remove those a killed creator left —
//! never another program's. A segment is stale when its recorded creator
//! is dead and nobody is attached; a queue when its creator, last sender
//! and last receiver are dead.
//!
//! Errors: [`SysvError`], naming the call, the key or id and the errno, or
//! the `/proc/sys/kernel/` file of the limit a request exceeds
//! ([`SysvLimit`]).

mod error;
mod key;
pub(crate) mod mark;
mod queue;
mod segment;

pub use error::{SysvError, SysvLimit};
pub use key::Key;
pub use mark::{SysvKind, MARK_DIR_PREFIX};
pub use queue::{Queue, QueueOptions, QueueStat, Received, Select, POLL_FIRST, POLL_MAX};
pub use segment::{Attach, Segment, SegmentOptions, SegmentStat, SHM_DEST};
