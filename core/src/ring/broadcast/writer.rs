//! The writing end: claiming the role (checking and repairing the shared
//! positions), moving `head` past what a write overwrites, and writing.

use super::*;
use crate::foundation::atomics::fence;
use crate::wait::blocking::Blocking;
use crate::wait::Wait;

/// The writing end. Exactly one exists per ring at a time; it releases the
/// role when dropped. It never waits for a reader.
pub struct Writer<'a> {
    ring: BroadcastRing<'a>,
    /// Bytes ever written (wrapping); the shared tail mirrors it.
    tail: u32,
    /// Where the oldest intact record starts; the shared head mirrors it.
    head: u32,
    /// The number of the next data record.
    seq: u64,
    holder: u32,
}

// SAFETY: the writer's state is its own; the shared words are atomics.
unsafe impl Send for Writer<'_> {}

impl fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("holder", &self.holder)
            .field("tail", &self.tail)
            .field("head", &self.head)
            .field("seq", &self.seq)
            .finish()
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        role::release(&self.ring.control().meta.writer, self.holder);
    }
}

impl<'a> Writer<'a> {
    /// The writer for `holder`, who has just won the role word: loads and
    /// checks the shared positions, reads the newest record's number, and
    /// covers a dead predecessor's unfinished record with padding. On any
    /// failed check the role is freed again.
    pub(super) fn new(ring: BroadcastRing<'a>, holder: u32) -> Result<Self, RoleError> {
        match Self::resume(ring, holder) {
            Some(w) => Ok(w),
            None => {
                role::release(&ring.control().meta.writer, holder);
                Err(RoleError::Corrupt)
            }
        }
    }

    fn resume(ring: BroadcastRing<'a>, holder: u32) -> Option<Self> {
        let cap = ring.capacity;
        let p = &ring.control().pos;
        // Acquire (with the role claim's): the previous writer's records.
        let tail = p.tail.load(Ordering::Acquire);
        let intent = p.intent.load(Ordering::Relaxed);
        let head = p.head.load(Ordering::Relaxed);
        let latest = p.latest.load(Ordering::Relaxed);
        let aligned = |x: u32| (x as usize).is_multiple_of(RECORD_ALIGN);
        if !(aligned(tail) && aligned(intent) && aligned(head) && aligned(latest)) {
            return None;
        }
        // Checked against the intent, not the tail: a writer that died
        // mid-record may have moved head and latest to its new record,
        // past the tail.
        if intent.wrapping_sub(tail) > cap
            || intent.wrapping_sub(head) > cap
            || intent.wrapping_sub(latest) > cap
        {
            return None;
        }
        // The next number, as the previous writer recorded it (only a
        // writer reads it; junk there only misnumbers records).
        let seq = p.seq_lo.load(Ordering::Relaxed) as u64
            | (p.seq_hi.load(Ordering::Relaxed) as u64) << 32;
        let mut w = Self {
            ring,
            tail,
            head,
            seq,
            holder,
        };
        if intent != tail {
            w.fill_gap(intent)?;
        }
        Some(w)
    }

    /// Covers `tail..end` (a dead writer's unfinished write) with padding
    /// records and publishes it, so that the tail intent never moves back.
    fn fill_gap(&mut self, end: u32) -> Option<()> {
        let cap = self.ring.capacity;
        let ring = self.ring;
        let p = &ring.control().pos;
        // At most two pieces (up to the end of the buffer, then from the
        // front); a third is corrupt.
        for _ in 0..3 {
            let gap = end.wrapping_sub(self.tail);
            if gap == 0 {
                p.tail.store(self.tail, Ordering::Release);
                return Some(());
            }
            let at = self.tail & (cap - 1);
            let to_end = cap - at;
            let piece = gap.min(to_end);
            if piece < PREFIX_LEN as u32 && piece != to_end {
                return None;
            }
            let start = self.tail;
            let new_tail = start.wrapping_add(piece);
            self.advance_head(new_tail, start, start);
            p.head.store(self.head, Ordering::Relaxed);
            if piece >= PREFIX_LEN as u32 {
                let pad = prefix(self.seq, pad_header(piece - PREFIX_LEN as u32));
                // SAFETY: at + 24 <= at + piece <= capacity; at is 8-aligned;
                // the handle is writable (checked by the role claim).
                unsafe { self.ring.write(at, &pad) };
            }
            self.tail = new_tail;
        }
        None
    }

    /// Moves the private head past every record that a write ending at
    /// `new_tail` overwrites, walking the records from the head up to
    /// `floor` (where the new bytes start). Any record it cannot read
    /// (a corrupted buffer) or a walk that does not end moves the head to
    /// `fallback`, the first record of the write. Bounded by the number of
    /// 8-byte units in the buffer.
    fn advance_head(&mut self, new_tail: u32, floor: u32, fallback: u32) {
        let cap = self.ring.capacity;
        for _ in 0..cap as usize / RECORD_ALIGN + 2 {
            if new_tail.wrapping_sub(self.head) <= cap {
                return;
            }
            let h = self.head;
            let before_floor = floor.wrapping_sub(h);
            if before_floor == 0 || before_floor > cap {
                break;
            }
            let to_end = cap - (h & (cap - 1));
            let step = if to_end < PREFIX_LEN as u32 {
                to_end
            } else {
                match self.ring.read_prefix(h).as_ref().and_then(decode_prefix) {
                    Some((_, _, size)) if size <= to_end => size,
                    _ => break,
                }
            };
            if step > before_floor {
                break;
            }
            self.head = h.wrapping_add(step);
        }
        if new_tail.wrapping_sub(self.head) > cap {
            self.head = fallback;
        }
    }

    /// The largest payload: `capacity − 24`.
    pub fn max_payload(&self) -> u32 {
        self.ring.max_payload()
    }

    /// The number the next record will carry: records written so far.
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    /// Writes `payload` as one record tagged `tag`, overwriting the oldest
    /// records if needed. Never waits; wakes nobody (call
    /// [`Writer::wake_readers`], or use [`Writer::send`]). Fails only with
    /// [`SendError::TooLarge`] (above [`Writer::max_payload`]).
    pub fn try_send(&mut self, tag: u32, payload: &[u8]) -> Result<(), SendError> {
        let cap = self.ring.capacity;
        let max = self.max_payload();
        if payload.len() > max as usize {
            return Err(SendError::TooLarge {
                len: payload.len(),
                max,
            });
        }
        let len = payload.len() as u32;
        // len <= capacity − 24, so the size is at most the capacity.
        let size = record_size(len).unwrap_or(cap);
        let t = self.tail;
        let at = t & (cap - 1);
        let to_end = cap - at;
        let pad = if size > to_end { to_end } else { 0 };
        let start = t.wrapping_add(pad);
        let new_tail = start.wrapping_add(size);
        self.advance_head(new_tail, t, start);
        let ring = self.ring;
        let p = &ring.control().pos;
        // The intent before any byte: a reader whose copy sees one of the
        // bytes below sees this store when it re-checks (the fences pair).
        p.intent.store(new_tail, Ordering::Relaxed);
        fence(Ordering::Release);
        p.head.store(self.head, Ordering::Relaxed);
        if pad >= PREFIX_LEN as u32 {
            let bytes = prefix(self.seq, pad_header(pad - PREFIX_LEN as u32));
            // SAFETY: at + 24 <= capacity (pad = to_end >= 24); 8-aligned;
            // a writer's handle is writable.
            unsafe { self.ring.write(at, &bytes) };
        }
        let s = start & (cap - 1);
        let bytes = prefix(self.seq, FrameHeader::new(tag, len));
        // SAFETY: s + size <= capacity (the record fits before the end by
        // the choice of `pad`); s is 8-aligned; the handle is writable.
        unsafe {
            self.ring.write(s, &bytes);
            self.ring.write(s + PREFIX_LEN as u32, payload);
        }
        self.seq = self.seq.wrapping_add(1);
        p.latest.store(start, Ordering::Relaxed);
        p.seq_lo.store(self.seq as u32, Ordering::Relaxed);
        p.seq_hi.store((self.seq >> 32) as u32, Ordering::Relaxed);
        p.tail.store(new_tail, Ordering::Release);
        self.tail = new_tail;
        Ok(())
    }

    /// [`Writer::try_send`], then wakes the readers parked in
    /// [`Reader::recv`] (one load (no fence) when none is). Never
    /// waits: `blocking` is used only to wake, and `timeout` is accepted
    /// for the verb scheme's shape. Fails only with
    /// [`SendError::TooLarge`].
    pub fn send<W: Wait>(
        &mut self,
        tag: u32,
        payload: &[u8],
        blocking: &Blocking<W>,
        _timeout: Option<core::time::Duration>,
    ) -> Result<(), SendError> {
        self.try_send(tag, payload)?;
        blocking.notify(self.ring.wake_word());
        Ok(())
    }

    /// Wakes the readers parked in [`Reader::recv`], if any; returns
    /// whether it had to (made a syscall). Call it after
    /// [`Writer::try_send`] when readers may block.
    pub fn wake_readers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(self.ring.wake_word(), wait)
    }
}
