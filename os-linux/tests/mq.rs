//! POSIX message queues between real processes, and their limits.

mod common;

use std::time::Duration;

use common::unique_name;
use interlink_linux::mq::{Access, MessageQueue, MqError, MqLimit, QueueAttrs, PRIORITY_MAX};
use interlink_linux::process::{fork, Exit};

const SMALL: QueueAttrs = QueueAttrs {
    max_messages: 10,
    message_size: 64,
};

/// A child that opens the queue by name sends messages of mixed
/// priorities; the parent receives the highest priority first, and
/// equal priorities oldest first.
#[test]
fn priorities_are_delivered_highest_first_across_processes() {
    let name = unique_name("mq-prio");
    let queue = MessageQueue::create(&name, SMALL, 0o600, Access::Read).unwrap();
    let sent = [
        (1, "low"),
        (5, "five-a"),
        (3, "three"),
        (5, "five-b"),
        (0, "zero"),
        (9, "nine"),
    ];
    let child = fork(|| {
        let Ok(q) = MessageQueue::open(&name, Access::Write) else {
            return 2;
        };
        for (prio, text) in sent {
            if q.send(text.as_bytes(), prio).is_err() {
                return 3;
            }
        }
        0
    })
    .unwrap();
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
    assert_eq!(queue.state().unwrap().current_messages, 6);
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Ok((n, prio)) = queue.try_recv(&mut buf) {
        got.push((prio, String::from_utf8_lossy(&buf[..n]).into_owned()));
    }
    let expected: Vec<(u32, String)> = [
        (9, "nine"),
        (5, "five-a"),
        (5, "five-b"),
        (3, "three"),
        (1, "low"),
        (0, "zero"),
    ]
    .into_iter()
    .map(|(p, t)| (p, t.to_string()))
    .collect();
    assert_eq!(got, expected);
}

/// A receiver blocked in another process wakes when the parent sends,
/// and answers on a second queue.
#[test]
fn blocking_receive_across_processes() {
    let (down, up) = (unique_name("mq-down"), unique_name("mq-up"));
    let to_child = MessageQueue::create(&down, SMALL, 0o600, Access::Write).unwrap();
    let from_child = MessageQueue::create(&up, SMALL, 0o600, Access::Read).unwrap();
    let child = fork(|| {
        let (Ok(rx), Ok(tx)) = (
            MessageQueue::open(&down, Access::Read),
            MessageQueue::open(&up, Access::Write),
        ) else {
            return 2;
        };
        let mut buf = [0u8; 64];
        match rx.recv(&mut buf) {
            Ok((4, 7)) if &buf[..4] == b"ping" => i32::from(tx.send(b"pong", 1).is_err()),
            _ => 3,
        }
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(5)); // let the child block in recv
    to_child.send(b"ping", 7).unwrap();
    let mut buf = [0u8; 64];
    let (n, prio) = from_child
        .recv_timeout(&mut buf, Duration::from_secs(10))
        .unwrap();
    assert_eq!((&buf[..n], prio), (&b"pong"[..], 1));
    assert_eq!(child.wait().unwrap(), Exit::Code(0));
}

/// Asking beyond msg_max or msgsize_max is an error naming the limit and
/// its /proc file; zero sizes and bad names are EINVAL.
#[test]
fn limits_are_named() {
    let name = unique_name("mq-limit");
    let msg_max = MqLimit::MsgMax.current().unwrap() as usize;
    let size_max = MqLimit::MsgsizeMax.current().unwrap() as usize;
    let too_many = QueueAttrs {
        max_messages: msg_max + 1,
        message_size: 64,
    };
    match MessageQueue::create(&name, too_many, 0o600, Access::ReadWrite) {
        Err(
            e @ MqError::Limit {
                limit: MqLimit::MsgMax,
                ..
            },
        ) => {
            let text = e.to_string();
            assert!(text.contains("/proc/sys/fs/mqueue/msg_max"), "{text}");
            assert!(text.contains(&format!("{}", msg_max + 1)), "{text}");
        }
        other => panic!("expected the msg_max limit, got {other:?}"),
    }
    let too_big = QueueAttrs {
        max_messages: 1,
        message_size: size_max + 1,
    };
    match MessageQueue::create(&name, too_big, 0o600, Access::ReadWrite) {
        Err(
            e @ MqError::Limit {
                limit: MqLimit::MsgsizeMax,
                ..
            },
        ) => {
            assert!(
                e.to_string().contains("/proc/sys/fs/mqueue/msgsize_max"),
                "{e}"
            );
        }
        other => panic!("expected the msgsize_max limit, got {other:?}"),
    }
    let huge = QueueAttrs {
        max_messages: usize::MAX,
        message_size: usize::MAX,
    };
    assert!(matches!(
        MessageQueue::create(&name, huge, 0o600, Access::ReadWrite),
        Err(MqError::Limit { .. })
    ));
    for zero in [
        QueueAttrs {
            max_messages: 0,
            message_size: 64,
        },
        QueueAttrs {
            max_messages: 1,
            message_size: 0,
        },
    ] {
        match MessageQueue::create(&name, zero, 0o600, Access::ReadWrite) {
            Err(MqError::Os(e)) => assert!(e.is(libc::EINVAL)),
            other => panic!("{other:?}"),
        }
    }
    for bad in ["queue", "/", "/a/b"] {
        match MessageQueue::open(bad, Access::Read) {
            Err(MqError::Os(e)) => assert!(e.is(libc::EINVAL), "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // At the limits exactly is fine.
    let at = QueueAttrs {
        max_messages: msg_max,
        message_size: size_max,
    };
    let q = MessageQueue::create(&name, at, 0o600, Access::ReadWrite).unwrap();
    assert_eq!(q.message_size(), size_max);
}

/// Full and empty queues in non-blocking use, timeouts, sizes and
/// priorities out of range: all typed errors.
#[test]
fn full_empty_timeouts_and_bad_sizes() {
    let name = unique_name("mq-full");
    let attrs = QueueAttrs {
        max_messages: 2,
        message_size: 16,
    };
    let q = MessageQueue::create(&name, attrs, 0o600, Access::ReadWrite).unwrap();
    let state = q.state().unwrap();
    assert_eq!(
        (
            state.max_messages,
            state.message_size,
            state.current_messages
        ),
        (2, 16, 0)
    );
    assert!(!state.nonblocking);
    let mut buf = [0u8; 16];
    assert_eq!(q.try_recv(&mut buf), Err(MqError::Empty));
    assert_eq!(
        q.recv_timeout(&mut buf, Duration::from_millis(20)),
        Err(MqError::TimedOut)
    );
    q.try_send(b"1", 0).unwrap();
    q.send(b"2", PRIORITY_MAX).unwrap();
    assert_eq!(q.try_send(b"3", 0), Err(MqError::Full));
    assert_eq!(
        q.send_timeout(b"3", 0, Duration::from_millis(20)),
        Err(MqError::TimedOut)
    );

    // Non-blocking mode makes the plain calls fail instead of waiting.
    q.set_nonblocking(true).unwrap();
    assert!(q.state().unwrap().nonblocking);
    assert_eq!(q.send(b"3", 0), Err(MqError::Full));
    assert_eq!(q.recv(&mut buf).unwrap(), (1, PRIORITY_MAX));
    assert_eq!(q.recv(&mut buf).unwrap(), (1, 0));
    assert_eq!(q.recv(&mut buf), Err(MqError::Empty));

    assert_eq!(
        q.try_send(&[0; 17], 0),
        Err(MqError::TooLong {
            len: 17,
            message_size: 16
        })
    );
    assert_eq!(
        q.try_send(b"x", PRIORITY_MAX + 1),
        Err(MqError::BadPriority(PRIORITY_MAX + 1))
    );
    assert_eq!(
        q.try_recv(&mut [0u8; 15]),
        Err(MqError::BufferTooSmall {
            len: 15,
            message_size: 16
        })
    );
    // Direction is enforced by the kernel.
    let reader = MessageQueue::open(&name, Access::Read).unwrap();
    match reader.try_send(b"x", 0) {
        Err(MqError::Os(e)) => assert!(e.is(libc::EBADF)),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(MessageQueue::create(&name, attrs, 0o600, Access::Read), Err(MqError::Os(e)) if e.is(libc::EEXIST))
    );

    // The creator removes the name on drop.
    drop((q, reader));
    assert!(
        matches!(MessageQueue::open(&name, Access::Read), Err(MqError::Os(e)) if e.is(libc::ENOENT))
    );
    assert!(MessageQueue::unlink(&name).is_err());
}
