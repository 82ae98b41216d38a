//! The async channel ends (feature `tokio`) in a real tokio runtime,
//! against plain blocking ends in forked processes.
#![cfg(feature = "tokio")]

use std::time::Duration;

use interlink_core::{RecvError, RingConfig};
use interlink_linux::channel::{
    AsyncByteReceiver, AsyncByteSender, AsyncReceiver, AsyncSender, ByteChannel, ChannelOptions,
    SpscChannel,
};
use interlink_linux::process::{fork, Exit};
use interlink_linux::shm::TempName;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn options() -> ChannelOptions {
    ChannelOptions::new().peer_check(Duration::from_millis(10))
}

/// A forked blocking sender streams 20 000 values, pausing now and then so
/// that the async receiver really parks in the reactor; they arrive in
/// order. A `recv` cancelled by a timeout before the sender starts loses
/// nothing.
#[test]
fn async_recv_from_a_blocking_sender_in_another_process() {
    const COUNT: u64 = 20_000;
    let name = TempName::new("il-async").unwrap();
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(64), &options()).unwrap();
    let child = fork(|| {
        std::thread::sleep(Duration::from_millis(50));
        let Ok(mut tx) = ch.sender() else { return 2 };
        for v in 0..COUNT {
            if v % 2000 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            if tx.send(v).is_err() {
                return 3;
            }
        }
        0
    })
    .unwrap();
    runtime().block_on(async {
        let mut rx = AsyncReceiver::new(&ch).unwrap();
        // Cancelled while nothing is there: nothing is lost by it.
        let early = tokio::time::timeout(Duration::from_millis(5), rx.recv()).await;
        assert!(early.is_err(), "{early:?}");
        for expected in 0..COUNT {
            assert_eq!(rx.recv().await, Ok(expected));
        }
    });
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// The async sender awaits room: a capacity-4 ring, a forked blocking
/// receiver that pauses every 100 values.
#[test]
fn async_send_awaits_room_from_a_slow_blocking_receiver() {
    const COUNT: u64 = 2_000;
    let name = TempName::new("il-async").unwrap();
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(4), &options()).unwrap();
    let child = fork(|| {
        let Ok(mut rx) = ch.receiver() else { return 2 };
        for expected in 0..COUNT {
            if expected % 100 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            if rx.recv() != Ok(expected) {
                return 3;
            }
        }
        0
    })
    .unwrap();
    runtime().block_on(async {
        let mut tx = AsyncSender::new(&ch).unwrap();
        for v in 0..COUNT {
            tx.send(v).await.unwrap();
        }
    });
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// A sender that dies holding its role is reported to an awaiting
/// receiver as `PeerDied`, after what it sent. (A sender that drops its end
/// releases the role: the receiver then just waits for the next one.)
#[test]
fn a_dead_sender_ends_an_awaiting_recv_with_peer_died() {
    let name = TempName::new("il-async").unwrap();
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    let child = fork(|| {
        let Ok(mut tx) = ch.sender() else { return 2 };
        let code = i32::from(tx.send(5).is_err());
        std::mem::forget(tx); // exit holding the role, as a crash would
        code
    })
    .unwrap();
    let pid = child.pid();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    runtime().block_on(async {
        let mut rx = AsyncReceiver::new(&ch).unwrap();
        assert_eq!(rx.recv().await, Ok(5));
        let died = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await;
        assert_eq!(died, Ok(Err(RecvError::PeerDied { holder: pid })));
    });
}

/// Messages of many sizes through a small byte channel: async sender in
/// the runtime, blocking receiver in a child that echoes a checksum back
/// over a second byte channel to an async receiver.
#[test]
fn async_byte_ends_against_a_blocking_peer() {
    const COUNT: u32 = 3_000;
    let (out_name, back_name) = (
        TempName::new("il-async").unwrap(),
        TempName::new("il-async").unwrap(),
    );
    let out = ByteChannel::create(&out_name, RingConfig::new(512), &options()).unwrap();
    let back = ByteChannel::create(&back_name, RingConfig::new(512), &options()).unwrap();
    let payload = |i: u32| vec![i as u8; (i % 97) as usize];
    let child = fork(|| {
        let (Ok(mut rx), Ok(mut tx)) = (out.receiver(), back.sender()) else {
            return 2;
        };
        let mut buf = [0u8; 128];
        let mut sum = 0u64;
        for i in 0..COUNT {
            match rx.recv(&mut buf) {
                Ok((tag, len)) if tag == i && buf[..len] == payload(i)[..] => sum += len as u64,
                _ => return 3,
            }
        }
        i32::from(tx.send(COUNT, &sum.to_le_bytes()).is_err())
    })
    .unwrap();
    runtime().block_on(async {
        let mut tx = AsyncByteSender::new(&out).unwrap();
        let mut rx = AsyncByteReceiver::new(&back).unwrap();
        let mut expected = 0u64;
        for i in 0..COUNT {
            tx.send(i, &payload(i)).await.unwrap();
            expected += payload(i).len() as u64;
        }
        let mut buf = [0u8; 8];
        assert_eq!(rx.recv(&mut buf).await, Ok((COUNT, 8)));
        assert_eq!(u64::from_le_bytes(buf), expected);
    });
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// Outside a runtime, making an async end is an error, not a panic.
#[test]
fn an_async_end_outside_a_runtime_is_an_error() {
    let name = TempName::new("il-async").unwrap();
    let ch = SpscChannel::<u64>::create(&name, RingConfig::new(8), &options()).unwrap();
    let err = AsyncReceiver::new(&ch).unwrap_err();
    assert!(err.to_string().contains("no tokio runtime"), "{err}");
}
