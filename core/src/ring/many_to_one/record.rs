//! A message seen in place: [`RecordRef`] (a view, valid for a borrow)
//! and [`Record`] (a peeked message, released by the consumer).

use super::consumer::{Consumer, Located};
use super::*;

/// A message in the ring, seen in place: valid for the borrow `'r`, during
/// which no producer touches its bytes.
#[derive(Clone, Copy)]
pub struct RecordRef<'r> {
    ring: ManyToOneRing<'r>,
    at: Located,
    _borrow: PhantomData<&'r [u8]>,
}

impl fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordRef")
            .field("tag", &self.at.tag)
            .field("len", &self.at.len)
            .finish()
    }
}

impl<'r> RecordRef<'r> {
    pub(super) fn new(ring: ManyToOneRing<'r>, at: Located) -> Self {
        Self {
            ring,
            at,
            _borrow: PhantomData,
        }
    }

    /// The message's tag.
    pub fn tag(&self) -> u32 {
        self.at.tag
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.at.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.at.len == 0
    }

    /// Copies payload bytes from `offset` into `dst`, as many as both hold;
    /// returns how many (0 for an offset at or past the end). Atomic loads:
    /// sound against any peer.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> usize {
        let n = self.len().saturating_sub(offset).min(dst.len());
        if n == 0 {
            return 0;
        }
        // n > 0, so offset < len < capacity: the sum fits in u32.
        let at = self.at.at.wrapping_add((RECORD_OVERHEAD + offset) as u32);
        self.ring.read_bytes(at, &mut dst[..n]);
        n
    }

    /// The payload, in place in the ring (8-byte aligned). A view: sound
    /// only against cooperating producers (see the module docs).
    #[cfg(not(loom))]
    pub fn as_slice(&self) -> &'r [u8] {
        self.bytes(RECORD_OVERHEAD as u32, self.at.len)
    }

    /// Frame header and payload as they lie in the ring: exactly one
    /// [`crate::codec`] stream frame. A view, as [`RecordRef::as_slice`].
    #[cfg(not(loom))]
    pub fn frame(&self) -> &'r [u8] {
        self.bytes(STAMP_LEN as u32, HEADER_LEN as u32 + self.at.len)
    }

    #[cfg(not(loom))]
    fn bytes(&self, offset: u32, len: u32) -> &'r [u8] {
        // SAFETY: offset + len <= size <= the bytes to the end of the buffer
        // (locate checked); the record is published and no producer writes
        // it before the consumer releases it, which the borrow 'r outlasts.
        unsafe {
            core::slice::from_raw_parts(
                self.ring.byte_ptr(self.at.at.wrapping_add(offset)),
                len as usize,
            )
        }
    }
}

/// The next message, borrowed from a [`Consumer`] by [`Consumer::peek`].
/// It stays in the ring until [`Record::release`].
pub struct Record<'c, 'a> {
    consumer: &'c mut Consumer<'a>,
    at: Located,
}

impl fmt::Debug for Record<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

impl<'c, 'a> Record<'c, 'a> {
    pub(super) fn new(consumer: &'c mut Consumer<'a>, at: Located) -> Self {
        Self { consumer, at }
    }
}

impl Record<'_, '_> {
    /// The message in place, for as long as `self` is borrowed.
    pub fn view(&self) -> RecordRef<'_> {
        RecordRef::new(self.consumer.ring(), self.at)
    }

    /// The message's tag.
    pub fn tag(&self) -> u32 {
        self.at.tag
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.at.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.at.len == 0
    }

    /// The payload in place; a view (see [`RecordRef::as_slice`]).
    #[cfg(not(loom))]
    pub fn as_slice(&self) -> &[u8] {
        self.view().as_slice()
    }

    /// Frees the message for the producers.
    #[inline]
    pub fn release(self) {
        self.consumer.step(self.at.size);
    }
}
