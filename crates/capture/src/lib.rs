//! tw-capture: packet sources for tamperwatch.
//!
//! Three kinds of [`Source`]:
//!
//! * [`FileSource`]: offline pcap / pcapng files (own reader, no libpcap), with
//!   errors that name the file and the byte offset of the damaged record.
//! * [`RingSource`]: live capture on Linux through an `AF_PACKET`
//!   `TPACKET_V3` memory-mapped ring (the only modules with `unsafe` code
//!   are `ring`, [`clock`] for `clock_gettime`, and `iface` for
//!   `getifaddrs`).
//! * [`PnetSource`]: a fallback on `pnet_datalink` (one `recv` per packet
//!   from a plain `AF_PACKET` socket with a large receive buffer, user-space
//!   timestamps, kernel drops counted).
//!
//! Live sources stamp frames with the host's real-time clock, which can be
//! stepped; [`clock`] maps the stamps onto a steady timeline.
//!
//! All sources hand out [`Frame`]s that borrow the source's internal buffer
//! until the next call to [`Source::next`]; nothing allocates per packet.
//! Packets and files are hostile input: no code path panics on any input.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod clock;
mod error;
mod file;
mod iface;
mod pnet_source;
mod ring;

pub use error::CaptureError;
pub use file::FileSource;
pub use iface::{
    default_route_interface, interface_index, interface_is_tunnel, interface_is_up, local_addresses,
};
pub use pnet_source::PnetSource;
pub use ring::{FanoutMode, RingConfig, RingSource};

/// pcap `LINKTYPE_*` numbers (<https://www.tcpdump.org/linktypes.html>);
/// every [`Frame`] carries one.
pub mod linktype {
    /// BSD loopback: a 4-byte address-family header in the byte order of the
    /// writer's host (readers accept both orders: 2 = IPv4, 24/28/30 = IPv6).
    pub const NULL: u32 = 0;
    /// Ethernet II / 802.3.
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4 or IPv6; the version nibble says which.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: 4-byte address-family header, big-endian.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture v1 (16-byte header).
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux "cooked" capture v2 (20-byte header).
    pub const LINUX_SLL2: u32 = 276;
}

/// One captured frame. `data` borrows from the source until the next call to
/// [`Source::next`].
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// pcap link type of `data` (see [`linktype`]).
    pub linktype: u32,
    /// The captured bytes (possibly shorter than the packet on the wire).
    pub data: &'a [u8],
    /// Length of the packet on the wire; `>= data.len()`.
    pub orig_len: u32,
    /// Index of the interface within this source: the pcapng IDB index;
    /// always 0 for pcap files and live sources.
    pub iface: u32,
}

/// What [`Source::next`] produced.
#[derive(Debug)]
pub enum Next<'a> {
    /// A frame.
    Frame(Frame<'a>),
    /// Live sources only: the poll timed out with no packet; check shutdown
    /// flags and call again.
    Idle,
    /// Offline sources only: the file is finished (cleanly).
    End,
}

/// Counters of a source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames handed out by `next()`.
    pub packets: u64,
    /// Sum of the captured lengths (`Frame::data.len()`) of those frames.
    pub bytes: u64,
    /// Packets the kernel dropped because the ring ([`RingSource`]) or the
    /// socket receive buffer ([`PnetSource`]) was full. Accumulated in 64
    /// bits (the kernel's `PACKET_STATISTICS` counters reset on each read
    /// and are summed here). 0 for files.
    pub kernel_drops: u64,
    /// Times the kernel froze the TPACKET_V3 queue (`tp_freeze_q_cnt`),
    /// accumulated like `kernel_drops`. 0 for files and [`PnetSource`].
    pub kernel_freezes: u64,
    /// The interface is down or has no carrier (it still exists; the
    /// capture resumes when it comes back up): not both `IFF_UP` and
    /// `IFF_RUNNING`, read when the stats are. The pnet backend treats an
    /// administratively down interface as gone and reports only a lost
    /// carrier here. Always false for files.
    pub link_down: bool,
}

/// A packet source: a file, a live ring, or the pnet fallback.
pub trait Source: Send {
    /// The next frame, [`Next::Idle`] (live, timeout) or [`Next::End`]
    /// (file finished). After an error the source should be dropped (live:
    /// reopen; files: the rest of the file is unreadable).
    fn next(&mut self) -> Result<Next<'_>, CaptureError>;
    /// Current counters (for live rings this reads and accumulates the
    /// kernel's counters, hence `&mut self`).
    fn stats(&mut self) -> CaptureStats;
    /// A short human-readable description, e.g. the file name or interface.
    fn describe(&self) -> &str;
    /// Whether the source can capture again after its interface was
    /// deleted ([`CaptureError::InterfaceGone`]) and made again under the
    /// same name ([`Source::reattach`]): a [`RingSource`] outside a fanout
    /// group can; files and [`PnetSource`] cannot.
    fn can_reattach(&self) -> bool {
        false
    }
    /// After [`CaptureError::InterfaceGone`]: captures again on an
    /// interface of the same name if one exists now (`Ok(true)`), or not
    /// yet (`Ok(false)`). See [`RingSource::reattach`].
    fn reattach(&mut self) -> Result<bool, CaptureError> {
        Ok(false)
    }
    /// Captures on another interface from now on (`Ok(true)`), if it
    /// exists (`Ok(false)`: not, and nothing changed). See
    /// [`RingSource::move_to`]; others cannot ([`Source::can_reattach`]).
    fn move_to(&mut self, iface: &str) -> Result<bool, CaptureError> {
        let _ = iface;
        Ok(false)
    }
}
