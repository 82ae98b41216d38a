//! A System V message queue whose receiver picks messages by type.
//!
//! ```text
//! cargo run -p interlink-examples --bin sysv-queue
//! ```
//!
//! A forked producer sends alarms (type 1), orders (type 2) and log lines
//! (type 3), interleaved. The receiver then takes every alarm first
//! (`Select::Type(1)`), then everything but log lines
//! (`Select::Except(3)`), then the rest (`Select::Any`), each time the
//! oldest that matches: the kernel keeps one queue in sending order and
//! `msgrcv`'s type argument picks from it. The queue is private (its id is
//! inherited over `fork`) and removed when the creator's handle drops.
//!
//! Exit status: 0 the messages came out in the expected order; 1 otherwise
//! or on any error.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use interlink_examples::cli;
use interlink_linux::process::fork;
use interlink_linux::sysv::{Key, Queue, QueueOptions, Select, SysvError};

const PROGRAM: &str = "sysv-queue";

const ALARM: i64 = 1;
const ORDER: i64 = 2;
const LOG: i64 = 3;

/// What the producer sends, in this order.
const PLAN: [(i64, &str); 8] = [
    (LOG, "log: started"),
    (ORDER, "order 1"),
    (ALARM, "ALARM pressure"),
    (ORDER, "order 2"),
    (LOG, "log: order 2 queued"),
    (ALARM, "ALARM temperature"),
    (ORDER, "order 3"),
    (LOG, "log: done"),
];

/// Shows a receiver picking System V messages by type (no arguments);
/// exits 1 if they come out in another order.
#[derive(Parser)]
#[command(name = PROGRAM)]
struct Args {}

fn main() -> ExitCode {
    let Args {} = Args::parse();
    cli::run(PROGRAM, run)
}

fn run() -> cli::Result {
    let queue = Queue::create(Key::PRIVATE, &QueueOptions::new())?;
    let id = queue.id();
    let producer = fork(|| {
        // The child uses the queue by id, as a process given it would.
        let Ok(tx) = Queue::from_id(id) else { return 2 };
        for (mtype, text) in PLAN {
            if tx
                .send_timeout(mtype, text.as_bytes(), Duration::from_secs(5))
                .is_err()
            {
                return 3;
            }
        }
        0
    })?;
    let exit = producer.wait()?;
    if !exit.success() {
        return Err(format!("the producer {}", cli::exit_text(exit)).into());
    }
    for (mtype, text) in PLAN {
        println!("sent     type {mtype}: {text}");
    }

    let mut buf = [0u8; 256];
    let mut received = Vec::new();
    for (select, what) in [
        (Select::Type(ALARM), "alarms first"),
        (Select::Except(LOG), "then all but logs"),
        (Select::Any, "then the rest"),
    ] {
        println!("receiving {what} ({select:?})");
        loop {
            match queue.try_recv(select, &mut buf) {
                Ok(got) => {
                    let text = String::from_utf8_lossy(&buf[..got.len]).into_owned();
                    println!("received type {}: {text}", got.mtype);
                    received.push((got.mtype, text));
                }
                Err(SysvError::Empty) => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    // Alarms, then orders, then logs; each kind in sending order: a
    // stable sort of the plan by type.
    let mut expected: Vec<(i64, String)> = PLAN.iter().map(|&(t, s)| (t, s.to_owned())).collect();
    expected.sort_by_key(|&(t, _)| t);
    if received != expected {
        return Err(format!("expected {expected:?}, received {received:?}").into());
    }
    Ok(())
}
