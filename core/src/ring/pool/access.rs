//! The two guards: a [`Loan`] (the lender writes the block in place) and a
//! [`Sample`] (a reader reads it in place). Each releases its holder word
//! when dropped.

use super::*;

/// Who a shared reference is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// The holder with this id (a pid for processes): only it can accept
    /// the reference, and if it dies before accepting, [`Pool::reclaim`]
    /// takes the reference back. Use it when the receiving end is known
    /// (an SPSC channel's receiver, a subscriber).
    Holder(Holder),
    /// Whoever accepts the handle first (an MPMC ring's consumers): the
    /// reference is charged to its sender until then.
    Anyone,
}

/// A block lent to a holder, who writes it in place. Dropping it releases
/// the lender's hold; references shared before stay.
#[derive(Debug)]
pub struct Loan<'a> {
    pool: Pool<'a>,
    index: u32,
    generation: u32,
    holder: Holder,
    /// The published length, once [`Loan::publish`] ran.
    len: Option<u32>,
}

impl<'a> Loan<'a> {
    pub(super) fn new(pool: Pool<'a>, index: u32, generation: u32, holder: Holder) -> Self {
        Self {
            pool,
            index,
            generation,
            holder,
            len: None,
        }
    }

    /// The block's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The block's generation in this loan.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Bytes the block holds (the pool's block size).
    pub fn capacity(&self) -> u32 {
        self.pool.block_size()
    }

    /// The whole block, to write in place. A view into shared memory:
    /// sound against cooperating peers (no other process writes a block
    /// it does not hold); facing a hostile one, use [`Loan::write_at`].
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the index was range-checked when the block was lent, the
        // block has `block_size` bytes inside the region, and this loan
        // holds it alone (no reader holds a word) while `&mut self` lives.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.pool.block_ptr(self.index),
                self.pool.block_size() as usize,
            )
        }
    }

    /// Copies `bytes` into the block at `offset`, with relaxed atomic
    /// stores (a peer writing the same bytes garbles values, nothing
    /// else). `false` (nothing written) if they do not fit.
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) -> bool {
        let size = self.pool.block_size() as usize;
        if offset > size || bytes.len() > size - offset {
            return false;
        }
        let dst = self.pool.block_ptr(self.index);
        #[cfg(not(loom))]
        // SAFETY: offset + len ≤ block size: inside the block; `bytes` is
        // the caller's own memory.
        unsafe {
            crate::ring::shared_copy::copy_bytes_to_shared(
                bytes.as_ptr(),
                dst.add(offset),
                bytes.len(),
            )
        };
        #[cfg(loom)]
        // SAFETY: as above (loom models do not race on block bytes).
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.add(offset), bytes.len())
        };
        true
    }

    /// Records `len` (at most the block size) as the payload length and
    /// returns the handle to send. Publish before sharing; publishing
    /// again changes the length that later accepts check.
    pub fn publish(&mut self, len: u32) -> Result<Handle, HandleError> {
        if len > self.pool.block_size() {
            return Err(HandleError::BadLength {
                len,
                expected: self.pool.block_size(),
            });
        }
        let r = self.pool.record(self.index)?;
        r.len.store(len, Ordering::Release);
        self.len = Some(len);
        Ok(self.handle_of(len))
    }

    /// Adds a reference for `to` to the published block (see
    /// [`Recipient`]); returns the handle to send. Call it once per
    /// reader, before sending it the handle.
    pub fn share(&self, to: Recipient) -> Result<Handle, HandleError> {
        let len = self.len.ok_or(HandleError::NotPublished)?;
        let handle = self.handle_of(len);
        self.pool.add_reference(&handle, self.holder, to)?;
        Ok(handle)
    }

    /// Publishes `len`, shares with `to` and drops the loan: the usual
    /// end of writing one message for one reader.
    pub fn hand_off(mut self, len: u32, to: Recipient) -> Result<Handle, HandleError> {
        self.publish(len)?;
        self.share(to)
    }

    /// The handle of this loan (with the published length, 0 before).
    pub fn handle(&self) -> Handle {
        self.handle_of(self.len.unwrap_or(0))
    }

    fn handle_of(&self, len: u32) -> Handle {
        Handle {
            index: self.index,
            generation: self.generation,
            len,
        }
    }
}

impl Drop for Loan<'_> {
    fn drop(&mut self) {
        if let Ok(r) = self.pool.record(self.index) {
            // Release: the writes to the block happen before a reader (or
            // the next lender) that sees the word free.
            let _ = r.holders[0].compare_exchange(
                self.holder.get(),
                0,
                Ordering::Release,
                Ordering::Relaxed,
            );
        }
    }
}

/// A block a reader holds: it reads it in place. Dropping it releases the
/// reader's reference; the last release frees the block.
#[derive(Debug)]
pub struct Sample<'a> {
    pool: Pool<'a>,
    handle: Handle,
    holder: Holder,
    /// The holder word this sample holds.
    word: usize,
}

impl<'a> Sample<'a> {
    pub(super) fn new(pool: Pool<'a>, handle: Handle, holder: Holder, word: usize) -> Self {
        Self {
            pool,
            handle,
            holder,
            word,
        }
    }

    /// The handle it was accepted with (checked).
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.handle.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.handle.len == 0
    }

    /// The payload, in place. A view into shared memory: sound against
    /// cooperating peers (nobody writes a block while it has readers);
    /// facing a hostile one, use [`Sample::read_at`].
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the handle passed `accept`'s checks (index in range,
        // len ≤ block size), so the bytes are inside the block; this
        // sample's reference keeps the block from being lent again.
        unsafe {
            core::slice::from_raw_parts(
                self.pool.block_ptr(self.handle.index),
                self.handle.len as usize,
            )
        }
    }

    /// Copies payload bytes from `offset` into `out` with relaxed atomic
    /// loads (a peer writing them garbles values, nothing else); returns
    /// how many (up to the payload's end).
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        let len = self.len();
        if offset >= len {
            return 0;
        }
        let n = out.len().min(len - offset);
        let src = self.pool.block_ptr(self.handle.index);
        #[cfg(not(loom))]
        // SAFETY: offset + n ≤ len ≤ block size: inside the block; `out`
        // is the caller's own memory.
        unsafe {
            crate::ring::shared_copy::copy_bytes_from_shared(src.add(offset), out.as_mut_ptr(), n)
        };
        #[cfg(loom)]
        // SAFETY: as above (loom models do not race on block bytes).
        unsafe {
            core::ptr::copy_nonoverlapping(src.add(offset), out.as_mut_ptr(), n)
        };
        n
    }

    /// Adds a reference for `to` (a relay forwarding what it received);
    /// returns the handle to send on.
    pub fn share(&self, to: Recipient) -> Result<Handle, HandleError> {
        self.pool.add_reference(&self.handle, self.holder, to)?;
        Ok(self.handle)
    }

    /// Keeps the reference past this guard: the holder releases it later
    /// with [`Pool::release`] (or a reclaim takes it back if it dies).
    pub fn keep(self) -> Handle {
        let handle = self.handle;
        core::mem::forget(self);
        handle
    }
}

impl Drop for Sample<'_> {
    fn drop(&mut self) {
        if let Ok(r) = self.pool.record(self.handle.index) {
            if let Some(w) = r.holders.get(self.word) {
                let _ =
                    w.compare_exchange(self.holder.get(), 0, Ordering::Release, Ordering::Relaxed);
            }
        }
    }
}
