//! A POSIX message queue where urgent messages overtake routine ones.
//!
//! ```text
//! cargo run -p interlink-examples --bin mq-priorities
//! ```
//!
//! A forked producer sends routine (priority 0) and urgent (priority 9)
//! messages, interleaved, while the consumer is busy elsewhere; then the
//! consumer drains the queue. The kernel keeps a queue sorted by priority,
//! oldest first within a priority, so every urgent message comes out
//! before every routine one, and each kind in the order it was sent.
//!
//! A queue holds at most `/proc/sys/fs/mqueue/msg_max` messages (10 by
//! default; only `CAP_SYS_RESOURCE` may ask for more), so 8 are sent. The
//! queue's name includes the pid, and the creator's guard removes it.

use std::time::Duration;

use interlink_linux::mq::{Access, MessageQueue, MqError, QueueAttrs};
use interlink_linux::process::fork;

const ROUTINE: u32 = 0;
const URGENT: u32 = 9;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("/interlink-mq-demo-{}", std::process::id());
    let attrs = QueueAttrs {
        max_messages: 8,
        message_size: 64,
    };
    let queue = MessageQueue::create(&name, attrs, 0o600, Access::ReadWrite)?;

    let producer = fork(|| {
        // The child opens the queue by name, as an unrelated program would.
        let Ok(tx) = MessageQueue::open(&name, Access::Write) else {
            return 2;
        };
        let plan = [
            (ROUTINE, "routine 1"),
            (ROUTINE, "routine 2"),
            (URGENT, "URGENT a"),
            (ROUTINE, "routine 3"),
            (URGENT, "URGENT b"),
            (ROUTINE, "routine 4"),
            (ROUTINE, "routine 5"),
            (URGENT, "URGENT c"),
        ];
        for (priority, text) in plan {
            if tx
                .send_timeout(text.as_bytes(), priority, Duration::from_secs(5))
                .is_err()
            {
                return 3;
            }
            println!("sent     prio {priority}: {text}");
        }
        0
    })?;
    // Let the producer fill the queue before anything is received.
    let exit = producer.wait()?;
    if !exit.success() {
        return Err(format!("producer failed: {exit:?}").into());
    }

    // A receive buffer must hold the queue's largest message, whatever
    // the next message's length (the kernel checks the buffer, not it).
    let mut buf = vec![0u8; queue.message_size()];
    loop {
        match queue.try_recv(&mut buf) {
            Ok((len, priority)) => {
                let text = String::from_utf8_lossy(&buf[..len]);
                println!("received prio {priority}: {text}");
            }
            Err(MqError::Empty) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
