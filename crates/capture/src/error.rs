//! The crate's error type.

use std::io;

/// Errors of every source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading a file failed at the OS level.
    #[error("{path}: {source}")]
    Io {
        /// File name as given to the source.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A capture file is damaged or truncated. Frames before `offset` were
    /// returned normally. Display looks like
    /// `capture.pcap: corrupt pcapng block at byte offset 1234: block length 3 too small`
    /// or `capture.pcap: truncated pcap record at byte offset 88: file ends after 20 of 60 bytes (writer killed mid-write?)`.
    #[error("{path}: {what} at byte offset {offset}: {reason}")]
    Format {
        /// File name as given to the source.
        path: String,
        /// Byte offset of the start of the damaged header, record or block.
        offset: u64,
        /// What is damaged, e.g. `"corrupt pcapng block"`, `"truncated pcap record"`.
        /// Starts with `"truncated"` when the file simply ends too early
        /// (see [`CaptureError::is_truncated`]).
        what: &'static str,
        /// Details.
        reason: String,
    },
    /// The capture interface went away (deleted, or set down) while capturing.
    #[error("interface {iface} is gone (deleted or down)")]
    InterfaceGone {
        /// Interface name.
        iface: String,
    },
    /// The interface does not exist (at open time).
    #[error("no such network interface: {iface}")]
    NoSuchInterface {
        /// Interface name.
        iface: String,
    },
    /// The interface's hardware type has no supported pcap link type.
    #[error("interface {iface}: unsupported hardware type ARPHRD {arphrd}")]
    UnsupportedLinkType {
        /// Interface name.
        iface: String,
        /// Linux `ARPHRD_*` value.
        arphrd: u16,
    },
    /// Invalid [`crate::RingConfig`].
    #[error("invalid capture configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// No default route in /proc/net/route nor /proc/net/ipv6_route.
    #[error("no default route found in /proc/net/route or /proc/net/ipv6_route")]
    NoDefaultRoute,
    /// A system call failed.
    #[error("{op}: {source}")]
    Os {
        /// What was attempted, e.g. `"setsockopt(PACKET_RX_RING)"`.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl CaptureError {
    /// True for a [`CaptureError::Format`] caused by the file ending in the
    /// middle of a header, record or block (e.g. tcpdump killed mid-write).
    pub fn is_truncated(&self) -> bool {
        matches!(self, CaptureError::Format { what, .. } if what.starts_with("truncated"))
    }

    /// Byte offset for [`CaptureError::Format`], else `None`.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Format { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    pub(crate) fn os(op: &'static str, source: io::Error) -> Self {
        CaptureError::Os { op, source }
    }
}
