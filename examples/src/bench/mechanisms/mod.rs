//! Every mechanism the benchmark compares, each as a [`Mechanism`].

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use interlink_core::blocking::Blocking;
use interlink_core::bytes::{self, ByteRing};
use interlink_core::many_to_one::{self, ManyToOneRing};
use interlink_core::mpmc::{self, MpmcRing};
use interlink_core::pool::{self, Handle, Pool, PoolConfig, Recipient};
use interlink_core::spsc::{Consumer, Producer, SpscRing};
use interlink_core::{Holder, Plain, Region, RingConfig};
use interlink_linux::futex::Futex;
use interlink_linux::shm::Mapping;
use interlink_linux::socket::SeqPacket;
use interlink_linux::sysv;
use interlink_linux::{eventfd, mq, pipe};

use super::link::{Link, Mechanism, Pair};

mod handover;
mod kernel;
mod request;
mod rings;

pub use handover::*;
pub use kernel::*;
pub use request::*;
pub use rings::*;

/// All mechanisms, in the order the report lists them.
pub fn all() -> Vec<Box<dyn Mechanism>> {
    vec![
        Box::new(Floor),
        Box::new(SpscSpin),
        Box::new(SpscParked),
        Box::new(Mpmc { parked: false }),
        Box::new(Mpmc { parked: true }),
        Box::new(Bytes { parked: false }),
        Box::new(Bytes { parked: true }),
        Box::new(ManyToOne),
        Box::new(PoolHandOver),
        Box::new(SpscSysvSegment),
        Box::new(Pipe),
        Box::new(Fifo),
        Box::new(UnixStreamSocket),
        Box::new(RequestResponse { parked: false }),
        Box::new(RequestResponse { parked: true }),
        Box::new(UnixSeqpacket),
        Box::new(TcpLoopback),
        Box::new(MessageQueue),
        Box::new(SysvQueue),
        Box::new(EventFd),
    ]
}

/// A unique name for kernel objects of this run.
pub(super) fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
