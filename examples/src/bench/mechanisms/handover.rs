//! The many-to-one ring and the block pool's hand-over.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------- many-to-one, block pool

/// Two many-to-one byte rings (1 MiB each), one per direction, each with
/// one producer here: the cost of the multi-producer record protocol for
/// variable-length records, spinning.
pub struct ManyToOne;

pub(super) struct ManyToOneLink {
    tx: many_to_one::Producer<'static>,
    rx: many_to_one::Consumer<'static>,
    memory: RingMemory,
}

impl Link for ManyToOneLink {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        loop {
            match self.tx.try_send(0, msg) {
                Ok(()) => return Ok(()),
                Err(many_to_one::SendError::Full) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        loop {
            match self.rx.try_recv(buf) {
                Ok((_, len)) => return expect_len(len, buf.len()),
                // Stalled: the producer claimed the record and is
                // descheduled mid-copy; with a live peer that is transient.
                Err(many_to_one::RecvError::Empty | many_to_one::RecvError::Stalled { .. }) => {
                    backoff.snooze()
                }
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
}

impl Mechanism for ManyToOne {
    fn name(&self) -> &'static str {
        "many-to-one ring (spin)"
    }
    fn max_message(&self) -> usize {
        1 << 16
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        const CAPACITY: u32 = 1 << 20;
        let memory = RingMemory::new(ManyToOneRing::bytes_needed(CAPACITY).map_err(other)?)?;
        let ring =
            |i| ManyToOneRing::init(memory.region(i)?, RingConfig::new(CAPACITY)).map_err(other);
        let (down, up) = (ring(0)?, ring(1)?);
        // Role ids for the two ends (the child is forked later).
        let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
        Ok(Pair {
            parent: Box::new(ManyToOneLink {
                tx: down.producer(parent_id),
                rx: up.consumer(parent_id).map_err(other)?,
                memory: memory.clone(),
            }),
            child: Box::new(ManyToOneLink {
                tx: up.producer(child_id),
                rx: down.consumer(child_id).map_err(other)?,
                memory,
            }),
        })
    }
}

/// Bytes in a block of the pool row: a message this large is handed over,
/// never copied.
pub(super) const POOL_BLOCK: u32 = 1 << 20;
/// Blocks in the pool row's pool.
pub(super) const POOL_BLOCKS: u32 = 4;

/// A shared block pool of 1 MiB blocks: a message is a block lent, handed
/// off to the peer, its 12-byte handle sent over an SPSC ring, accepted
/// and released. The payload is not touched: this is the cost of handing
/// over a block of any size. Round trips only.
pub struct PoolHandOver;

pub(super) struct PoolLink {
    pool: Pool<'static>,
    /// This end's holder id and its peer's.
    me: Holder,
    peer: Holder,
    tx: Producer<'static, Handle>,
    rx: Consumer<'static, Handle>,
    memory: RingMemory,
}

impl Link for PoolLink {
    fn populate(&mut self) -> io::Result<()> {
        self.memory.populate()
    }
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        let loan = loop {
            match self.pool.try_loan(self.me) {
                Ok(loan) => break loan,
                // The peer has not released its blocks yet: transient.
                Err(pool::LoanError::Exhausted(_)) => backoff.snooze(),
                Err(e) => return Err(other(e)),
            }
        };
        let handle = loan
            .hand_off(POOL_BLOCK, Recipient::Holder(self.peer))
            .map_err(other)?;
        let mut backoff = Backoff::new();
        loop {
            match self.tx.try_send(handle) {
                Ok(()) => return Ok(()),
                Err(interlink_core::SendError::Full) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        }
    }
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<()> {
        let mut backoff = Backoff::new();
        let handle = loop {
            match self.rx.try_recv() {
                Ok(handle) => break handle,
                Err(interlink_core::RecvError::Empty) => backoff.snooze(),
                Err(e) => return Err(other(format!("{e:?}"))),
            }
        };
        let sample = self.pool.accept(&handle, self.me).map_err(other)?;
        // Dropping the sample releases the block.
        expect_len(sample.len(), POOL_BLOCK as usize)
    }
}

impl Mechanism for PoolHandOver {
    fn name(&self) -> &'static str {
        "block pool 1 MiB hand-over (spin)"
    }
    fn round_trip_only(&self) -> bool {
        true
    }
    fn pair(&self, _size: usize) -> io::Result<Pair> {
        const SLOTS: u32 = 16;
        let ring_bytes = SpscRing::<Handle>::bytes_needed(SLOTS).map_err(other)?;
        let pool_bytes = Pool::bytes_needed(POOL_BLOCKS, POOL_BLOCK).map_err(other)?;
        let memory = RingMemory::mappings(&[ring_bytes, ring_bytes, pool_bytes])?;
        let ring =
            |i| SpscRing::<Handle>::init(memory.region(i)?, RingConfig::new(SLOTS)).map_err(other);
        let (down, up) = (ring(0)?, ring(1)?);
        let pool = Pool::init(memory.region(2)?, PoolConfig::new(POOL_BLOCKS, POOL_BLOCK))
            .map_err(other)?;
        let (parent_id, child_id) = (Holder::fixed::<1>(), Holder::fixed::<2>());
        Ok(Pair {
            parent: Box::new(PoolLink {
                pool,
                me: parent_id,
                peer: child_id,
                tx: down.producer(parent_id).map_err(other)?,
                rx: up.consumer(parent_id).map_err(other)?,
                memory: memory.clone(),
            }),
            child: Box::new(PoolLink {
                pool,
                me: child_id,
                peer: parent_id,
                tx: up.producer(child_id).map_err(other)?,
                rx: down.consumer(child_id).map_err(other)?,
                memory,
            }),
        })
    }
}
