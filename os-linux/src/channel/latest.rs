//! Named tables of latest values: a [`LatestTable`] of `T` in a named
//! object — one writer process stores values into numbered cells and
//! never waits; any number of reader processes load them, never torn, and
//! can wait for a cell to change. Create, open, stale objects and the
//! writer's role work as for [`SpscChannel`](super::SpscChannel); the
//! capacity counts cells.
//!
//! ```no_run
//! use interlink_core::RingConfig;
//! use interlink_linux::channel::{ChannelOptions, LatestChannel};
//!
//! // The sensor process.
//! let cells = LatestChannel::<f64>::create("/sensors", RingConfig::new(4), &ChannelOptions::new())?;
//! let mut w = cells.writer()?;
//! w.send(0, 21.5)?; // cell 0: temperature, version 1
//!
//! // A monitor process.
//! let cells = LatestChannel::<f64>::open("/sensors", &ChannelOptions::new())?;
//! let r = cells.reader()?;
//! let (temp, version) = r.recv(0, 0)?; // waits for a version above 0
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::marker::PhantomData;
use std::time::Duration;

use interlink_core::latest::{LatestTable, LatestWriter};
use interlink_core::layout::Kind;
use interlink_core::{
    AttachError, ElementCheck, InitError, Plain, RecvError, Region, RingConfig, SendError,
};

use super::{patience_setters, Channel, ChannelError, Patience, Shape};
use crate::futex::Futex;
use crate::process;

/// Marker: a channel holding a [`LatestTable`] of `T`.
#[derive(Debug)]
pub struct Latest<T>(PhantomData<T>);

impl<T: Plain> Shape for Latest<T> {
    const KIND: Kind = Kind::Latest;

    fn bytes_needed(capacity: u32) -> Result<usize, InitError> {
        LatestTable::<T>::bytes_needed(capacity)
    }

    fn init(region: Region<'_>, config: RingConfig) -> Result<(), InitError> {
        LatestTable::<T>::init(region, config).map(drop)
    }

    fn attach(region: Region<'_>, check: ElementCheck) -> Result<u32, AttachError> {
        LatestTable::<T>::attach_with(region, check).map(|t| t.cells())
    }
}

/// A named table of latest values of `T`.
pub type LatestChannel<T> = Channel<Latest<T>>;

impl<T: Plain> Channel<Latest<T>> {
    fn table(&self) -> Result<LatestTable<'_, T>, ChannelError> {
        self.attached(LatestTable::attach_with)
    }

    /// Claims the writer role for this process, taking it over if its
    /// holder is dead (a cell it left mid-write reads as `Stalled` until
    /// the new writer writes it).
    pub fn writer(&self) -> Result<LatestSender<'_, T>, ChannelError> {
        let w = self
            .table()?
            .take_over_writer(process::holder(), |pid| self.holder_alive(pid))?;
        Ok(LatestSender { w })
    }

    /// A reading end (any number of them; nothing is recorded).
    pub fn reader(&self) -> Result<LatestReader<'_, T>, ChannelError> {
        Ok(LatestReader {
            table: self.table()?,
            patience: self.patience,
        })
    }

    /// The number of cells.
    pub fn cells(&self) -> u32 {
        self.capacity
    }
}

/// The writing end of a [`LatestChannel`], holding the writer role.
#[derive(Debug)]
pub struct LatestSender<'c, T: Plain> {
    w: LatestWriter<'c, T>,
}

impl<T: Plain> LatestSender<'_, T> {
    /// Stores `value` into cell `index` and wakes readers waiting for a
    /// change (one load (no fence) when none waits); returns the cell's
    /// new version. Never waits. An index beyond the table is
    /// [`SendError::TooLarge`].
    #[inline]
    pub fn try_send(&mut self, index: u32, value: T) -> Result<u64, SendError> {
        let v = self.w.try_send(index, value)?;
        self.w.wake_readers(&Futex);
        Ok(v)
    }

    /// The same as [`LatestSender::try_send`]: the writer never waits.
    #[inline]
    pub fn send(&mut self, index: u32, value: T) -> Result<u64, SendError> {
        self.try_send(index, value)
    }
}

/// A reading end of a [`LatestChannel`].
#[derive(Debug)]
pub struct LatestReader<'c, T: Plain> {
    table: LatestTable<'c, T>,
    patience: Patience,
}

impl<T: Plain> LatestReader<'_, T> {
    /// Cell `index`'s value and version without waiting (`Empty`: never
    /// written; `Stalled`: a write in progress at every try).
    #[inline]
    pub fn try_recv(&self, index: u32) -> Result<(T, u64), RecvError> {
        self.table.try_recv(index)
    }

    /// Cell `index`'s version (0: never written).
    pub fn version(&self, index: u32) -> Result<u64, RecvError> {
        self.table.version(index)
    }

    /// Whether cell `index` changed since version `since`.
    pub fn changed_since(&self, index: u32, since: u64) -> Result<bool, RecvError> {
        self.table.changed_since(index, since)
    }

    /// Cell `index`'s value once its version is above `since`, waiting as
    /// long as the writer lives (`PeerDied` when it has died without a
    /// newer value).
    pub fn recv(&self, index: u32, since: u64) -> Result<(T, u64), RecvError> {
        self.recv_inner(index, since, None)
    }

    /// [`LatestReader::recv`], waiting at most `timeout`.
    pub fn recv_timeout(
        &self,
        index: u32,
        since: u64,
        timeout: Duration,
    ) -> Result<(T, u64), RecvError> {
        self.recv_inner(index, since, Some(timeout))
    }

    fn recv_inner(
        &self,
        index: u32,
        since: u64,
        mut left: Option<Duration>,
    ) -> Result<(T, u64), RecvError> {
        let table = self.table;
        self.patience.wait(
            &mut left,
            || table.writer_holder(),
            |b, t| table.recv(index, since, b, t),
        )
    }
}

patience_setters!([T: Plain] LatestReader<'_, T>);
