//! The side-by-side benchmark behind `ipc-bench`: every mechanism doing the
//! same job between two processes, measured in one run.
//!
//! A [`Mechanism`] makes a connected [`Pair`] of [`Link`]s before `fork`;
//! the parent keeps one end, the child the other, and [`run`] times
//! ping-pong round trips and one-way streaming over them; [`rounds`]
//! interleaves every mechanism in short rounds.

pub mod link;
pub mod mechanisms;
pub mod report;
pub mod rounds;
pub mod run;
pub mod stats;
pub mod svg;

pub use link::{Link, Mechanism, Pair};
