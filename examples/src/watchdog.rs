//! A last-resort deadline for the example programs: ends the process if it
//! is still running after a time limit (stuck in a blocking `open`,
//! `accept` or `wait` whose peer never came), so that no example can hang
//! a test or a terminal.

use std::time::Duration;

/// Starts a thread that, once `limit` has passed, prints `what` to stderr,
/// runs `cleanup` (remove what the program created) and exits with status
/// 3. A program that finishes in time simply exits; the thread dies with it.
///
/// Call it after blocking signals the program reads from a `signalfd`: the
/// thread inherits the caller's signal mask.
pub fn exit_after(limit: Duration, what: &str, cleanup: impl FnOnce() + Send + 'static) {
    let what = what.to_owned();
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("{what}: still waiting after {limit:?}, giving up");
        cleanup();
        std::process::exit(3);
    });
}
