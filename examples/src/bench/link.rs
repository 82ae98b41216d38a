//! What every mechanism offers the benchmark: a way to send and receive one
//! message of a given size between two processes.

use std::io;

/// One end of a connection between two processes.
pub trait Link {
    /// Sends `msg` as one message (blocking until it is accepted).
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Receives one message of `buf.len()` bytes into `buf` (blocking).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// Faults the shared memory this end uses into its process, before the
    /// measurement: a child after `fork` inherits no page-table entries of
    /// shared mappings, and its first lap through a ring would otherwise
    /// time minor page faults. Nothing by default (kernel mechanisms).
    fn populate(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Both ends, made in the parent before `fork`: the parent drops `child`
/// and the child drops `parent`, so each process holds one end.
pub struct Pair {
    /// The parent's end.
    pub parent: Box<dyn Link>,
    /// The child's end.
    pub child: Box<dyn Link>,
}

/// A way for two processes to exchange messages.
pub trait Mechanism {
    /// Short name for tables (`"pipe"`, `"spsc ring (spin)"`).
    fn name(&self) -> &'static str;
    /// The largest message it can carry (e.g. 8 bytes for eventfd, the
    /// queue's limit for POSIX mq); larger sizes are skipped.
    fn max_message(&self) -> usize {
        usize::MAX
    }
    /// Whether only round trips are measured (no streaming rows), for
    /// mechanisms whose row is about the hand-over, not bulk transfer.
    fn round_trip_only(&self) -> bool {
        false
    }
    /// Creates a connected pair for messages of exactly `size` bytes.
    fn pair(&self, size: usize) -> io::Result<Pair>;
}
