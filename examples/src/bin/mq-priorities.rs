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

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use interlink_examples::cli;

use interlink_linux::mq::{Access, MessageQueue, MqError, QueueAttrs};
use interlink_linux::process::fork;

const ROUTINE: u32 = 0;
const URGENT: u32 = 9;

const PROGRAM: &str = "mq-priorities";

/// Shows urgent messages overtaking routine ones in a POSIX message queue
/// (no arguments); exits 1 if they come out in another order.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {}

/// What the producer sends, in this order.
const PLAN: [(u32, &str); 8] = [
    (ROUTINE, "routine 1"),
    (ROUTINE, "routine 2"),
    (URGENT, "URGENT a"),
    (ROUTINE, "routine 3"),
    (URGENT, "URGENT b"),
    (ROUTINE, "routine 4"),
    (ROUTINE, "routine 5"),
    (URGENT, "URGENT c"),
];

fn main() -> ExitCode {
    let Args {} = Args::parse();
    cli::run(PROGRAM, run)
}

fn run() -> cli::Result {
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
        for (priority, text) in PLAN {
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
        return Err(format!("the producer {}", cli::exit_text(exit)).into());
    }

    // A receive buffer must hold the queue's largest message, whatever
    // the next message's length (the kernel checks the buffer, not it).
    let mut buf = vec![0u8; queue.message_size()];
    let mut received = Vec::new();
    loop {
        match queue.try_recv(&mut buf) {
            Ok((len, priority)) => {
                let text = String::from_utf8_lossy(&buf[..len]).into_owned();
                println!("received prio {priority}: {text}");
                received.push((priority, text));
            }
            Err(MqError::Empty) => break,
            Err(e) => return Err(e.into()),
        }
    }
    // Highest priority first, in sending order within a priority: a
    // stable sort of the plan by descending priority.
    let mut expected: Vec<(u32, String)> = PLAN.iter().map(|&(p, t)| (p, t.to_owned())).collect();
    expected.sort_by_key(|&(p, _)| std::cmp::Reverse(p));
    if received != expected {
        return Err(format!("expected {expected:?}, received {received:?}").into());
    }
    Ok(())
}
