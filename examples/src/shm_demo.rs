//! What `shm-writer` and `shm-reader` agree on: the layout of the shared
//! object, the names of the two semaphores beside it, and how a writer
//! restarted after being killed recognises (and replaces) what its
//! predecessor left behind.

use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use interlink_linux::shm::Shm;

/// The one record in the shared object: `#[repr(C)]`, integers and bytes
/// only, so that any bytes a peer leaves there are a valid (if wrong)
/// `Record`. Sequence number 0 means "no more".
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Record {
    /// 1, 2, ... for messages; 0 for the end.
    pub seq: u32,
    /// Bytes of `text` in use (untrusted: clamp before slicing).
    pub len: u32,
    /// The message.
    pub text: [u8; 248],
}

/// The whole shared object: who owns it, then the record.
#[repr(C)]
pub struct Shared {
    /// The writer that created the object, written right after creating it
    /// (0 until then). A writer that finds the name taken reads it to tell
    /// a running writer from one that was killed (see [`Owner`]).
    pub writer_pid: AtomicU32,
    /// Zero; keeps the record 8-byte aligned.
    pub reserved: u32,
    /// The record the two sides take turns on.
    pub record: Record,
}

/// The semaphores for the object `name`: (*empty*, *full*). *empty* counts
/// free records (starts at 1), *full* filled ones (starts at 0).
pub fn semaphore_names(name: &str) -> (String, String) {
    (format!("{name}-empty"), format!("{name}-full"))
}

/// How long either side waits for the other at any one step.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long a writer may take between creating the object and recording
/// its pid in it; an object without a pid that is older was left by a
/// writer killed in between.
pub const START_GRACE: Duration = Duration::from_secs(2);

/// Who an existing object at a writer's name belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Not a `shm-writer` object (another size): never replaced.
    Foreign {
        /// Its size in bytes.
        size: u64,
    },
    /// A writer that is (as far as pids tell) running.
    Running {
        /// Its pid.
        pid: u32,
    },
    /// A writer that is starting: no pid recorded yet, and the object is
    /// younger than [`START_GRACE`].
    Starting,
    /// Left behind: its writer is dead, or never recorded itself and the
    /// object is older than [`START_GRACE`].
    Gone {
        /// The dead writer's pid (0: none recorded).
        pid: u32,
    },
}

/// Judges the object `shm` (opened by name) for a writer that wants its
/// name. Reads it with `pread`, never through a mapping, so that nothing
/// in it is trusted beyond the pid it records.
pub fn owner(shm: &Shm) -> std::io::Result<Owner> {
    let file = std::fs::File::from(shm.as_fd().try_clone_to_owned()?);
    let meta = file.metadata()?;
    if meta.len() != size_of::<Shared>() as u64 {
        return Ok(Owner::Foreign { size: meta.len() });
    }
    let mut word = [0u8; 4];
    file.read_exact_at(&mut word, 0)?;
    let pid = u32::from_ne_bytes(word);
    if pid == 0 {
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or(Duration::ZERO);
        return Ok(if age < START_GRACE {
            Owner::Starting
        } else {
            Owner::Gone { pid: 0 }
        });
    }
    Ok(if interlink_linux::liveness::is_alive(pid) {
        Owner::Running { pid }
    } else {
        Owner::Gone { pid }
    })
}
