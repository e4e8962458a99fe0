//! Pure, deterministic core of tamperwatch: frame decoding, flow tracking,
//! detector plumbing and events.
//!
//! Nothing in this crate performs I/O or reads a clock: time comes only from
//! packet timestamps (nanoseconds since the Unix epoch), so replaying a
//! capture gives the same events as the live run that recorded it.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod decode;
pub mod detectors;
pub mod dns;
pub mod engine;
pub mod event;
pub mod fingerprints;
pub mod flow;
pub mod link;
pub mod linkdown;
pub mod local;
pub mod lru;
pub mod memory;
pub mod proto;
pub mod quic;
pub mod stats;
pub mod time;
pub mod watch;

pub use engine::{shard_key, shard_of_frame, Engine, EngineConfig};
pub use event::Event;
pub use stats::Stats;
