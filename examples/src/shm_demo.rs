//! What `shm-writer` and `shm-reader` agree on: the record in the shared
//! object and the names of the two semaphores beside it.

use std::time::Duration;

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

/// The semaphores for the object `name`: (*empty*, *full*). *empty* counts
/// free records (starts at 1), *full* filled ones (starts at 0).
pub fn semaphore_names(name: &str) -> (String, String) {
    (format!("{name}-empty"), format!("{name}-full"))
}

/// How long either side waits for the other at any one step.
pub const WAIT: Duration = Duration::from_secs(10);
