//! The writing end of a latest-value table: [`LatestWriter`].

use super::*;

/// The writing end of a table. Exactly one exists at a time; it releases
/// the role when dropped. It never waits.
pub struct LatestWriter<'a, T: Plain> {
    pub(super) table: LatestTable<'a, T>,
    pub(super) holder: u32,
}

impl<T: Plain> fmt::Debug for LatestWriter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatestWriter")
            .field("holder", &self.holder)
            .finish()
    }
}

impl<T: Plain> Drop for LatestWriter<'_, T> {
    fn drop(&mut self) {
        role::release(self.table.word(WRITER_OFFSET), self.holder);
    }
}

impl<'a, T: Plain> LatestWriter<'a, T> {
    /// The table written to (for reading it too).
    pub fn table(&self) -> LatestTable<'a, T> {
        self.table
    }

    /// Stores `value` into cell `index`; returns its new version. Never
    /// waits, wakes nobody (see [`LatestWriter::send`]). An index beyond
    /// the table is [`SendError::TooLarge`] (`len`: the index, `max`: the
    /// number of cells).
    pub fn try_send(&mut self, index: u32, value: T) -> Result<u64, SendError> {
        let t = &self.table;
        if index >= t.cells {
            return Err(SendError::TooLarge {
                len: index as usize,
                max: t.cells,
            });
        }
        let seq = t.cell_word(index, SEQ);
        let begin = seq.load(Ordering::Relaxed) | 1;
        seq.store(begin, Ordering::Relaxed);
        // Readers that see any store below see `begin` (odd) on their
        // re-check: the fences pair.
        fence(Ordering::Release);
        let lo = t.cell_word(index, VER_LO);
        let hi = t.cell_word(index, VER_HI);
        // Never 0 (never written), even after a hostile maximum.
        let version = (lo.load(Ordering::Relaxed) as u64
            | (hi.load(Ordering::Relaxed) as u64) << 32)
            .wrapping_add(1)
            .max(1);
        t.store_value(index, &value);
        lo.store(version as u32, Ordering::Relaxed);
        hi.store((version >> 32) as u32, Ordering::Relaxed);
        seq.store(begin.wrapping_add(1), Ordering::Release);
        Ok(version)
    }

    /// [`LatestWriter::try_send`], then wakes the readers waiting in
    /// [`LatestTable::recv`] (one load (no fence) when none is). Never
    /// waits: `timeout` is accepted for the verb scheme's shape.
    pub fn send<W: Wait>(
        &mut self,
        index: u32,
        value: T,
        blocking: &Blocking<W>,
        _timeout: Option<Duration>,
    ) -> Result<u64, SendError> {
        let v = self.try_send(index, value)?;
        blocking.notify(self.table.word(WAKE_OFFSET));
        Ok(v)
    }

    /// Wakes the readers waiting in [`LatestTable::recv`]; returns whether
    /// it had to (made a syscall).
    pub fn wake_readers(&self, wait: &impl Wait) -> bool {
        crate::wait::event_word::notify(self.table.word(WAKE_OFFSET), wait)
    }
}
