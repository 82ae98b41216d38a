//! Runnable interlink programs live in `src/bin/`; this library holds what
//! they share. Its documentation is the project README, so that every code
//! block in the README is compiled and run as a doc-test.
#![doc = include_str!("../../README.md")]

pub mod bench;
pub mod cli;
pub mod fifo_demo;
pub mod shm_demo;
pub mod watchdog;

// The rest of the README's API tour, included for the same reason: its
// code blocks are doc-tests.
#[doc = include_str!("../../docs/tour.md")]
pub mod tour {}
