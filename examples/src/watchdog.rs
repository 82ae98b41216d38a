//! A last-resort deadline for the example programs' waits for a peer: ends
//! the process if a blocking `open`, `accept` or `wait` whose peer never
//! came is still blocked after a time limit, so that no example can hang a
//! test or a terminal. It covers the wait only: once the peer is there the
//! program disarms it, and a transfer may then take as long as it takes.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

/// An armed deadline. [`Watchdog::disarm`] (or dropping it) stops it.
#[derive(Debug)]
pub struct Watchdog {
    /// Dropping the sender wakes the thread, which then just ends.
    _disarm: Sender<()>,
}

impl Watchdog {
    /// Starts a thread that, once `limit` has passed without the watchdog
    /// being disarmed, prints `PROGRAM: no WHAT came within LIMIT, giving
    /// up` to stderr, runs `cleanup` (remove what the program created) and
    /// exits with status 3.
    ///
    /// Call it after blocking signals the program reads from a `signalfd`:
    /// the thread inherits the caller's signal mask.
    pub fn arm(
        limit: Duration,
        program: &str,
        what: &str,
        cleanup: impl FnOnce() + Send + 'static,
    ) -> Self {
        let message = format!(
            "{program}: no {what} came within {}, giving up",
            crate::cli::seconds(limit)
        );
        let (disarm, disarmed) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            // Nothing is ever sent: the sender's drop (disarm) ends the
            // wait with `Disconnected`.
            // A disarm racing the deadline wins if it lands before the
            // second look.
            if let Err(RecvTimeoutError::Timeout) = disarmed.recv_timeout(limit) {
                if disarmed
                    .try_recv()
                    .is_err_and(|e| e == mpsc::TryRecvError::Disconnected)
                {
                    return;
                }
                eprintln!("{message}");
                cleanup();
                std::process::exit(3);
            }
        });
        Self { _disarm: disarm }
    }

    /// Stops the deadline: the peer came.
    pub fn disarm(self) {}
}
