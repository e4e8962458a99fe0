//! Fallback source on `pnet_datalink` (selected with `backend = "pnet"`):
//! one `poll` + `recv` per packet into pnet's buffer, from a plain
//! (ring-less) `AF_PACKET` socket.
//!
//! The socket is created here, not by pnet, and handed to pnet through
//! `Config::socket_fd` (pnet binds it to the interface, sets promiscuous
//! mode, fanout and `O_NONBLOCK`, and owns it from then on), so that:
//! * Receive buffer: it is set to [`RingConfig::ring_bytes`] (64 MiB by
//!   default) with `SO_RCVBUFFORCE` (needs `CAP_NET_ADMIN`; otherwise
//!   `SO_RCVBUF`, capped by `net.core.rmem_max`). The kernel's default
//!   (~208 KiB) overflows within milliseconds of a TCP download on a fast
//!   link, and the kernel then drops frames.
//! * Drops are reported: `kernel_drops` accumulates `tp_drops` of
//!   `PACKET_STATISTICS` (frames the kernel dropped because the receive
//!   buffer was full; the counter resets on each read), read through a
//!   duplicate of the socket's descriptor. `kernel_freezes` stays 0 (no
//!   ring).
//! * Loopback: as with the ring, the outgoing copy of each packet on a
//!   loopback interface is not captured (a classic BPF filter on
//!   `SKF_AD_PKTTYPE` drops it in the kernel), so each packet is seen once.
//!   On all other interfaces both directions are captured.
//!
//! Remaining limitations (pnet's receive API gives only the bytes):
//! * Timestamps: pnet gives none, so `ts_ns` is `SystemTime::now()` taken
//!   when `recv` returns (user-space time, later than the kernel's).
//! * `orig_len`: the length `recv` returned. The read buffer is
//!   max(snaplen, 64 KiB) + headroom, so only larger (GSO/jumbo) frames are
//!   cut, without notice; `data` is cut to snaplen.
//! * VLAN tags stripped by the NIC/kernel are not reinserted.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pnet_datalink::{Channel, Config, DataLinkReceiver, FanoutOption, FanoutType};

use crate::iface::{arphrd_to_linktype, interface_index, interface_is_up, valid_ifname};
use crate::ring::{sys, FanoutMode, RingConfig};
use crate::{CaptureError, CaptureStats, Frame, Next, Source};

/// Extra read-buffer room beyond snaplen.
const HEADROOM: usize = 4096;
/// Smallest receive buffer requested, whatever `ring_bytes` says.
const MIN_RCVBUF: usize = 64 * 1024;
/// `PACKET_OUTGOING` as the `u32` a BPF comparison takes.
const PKT_OUTGOING: u32 = libc::PACKET_OUTGOING as u32;

/// Classic BPF program for loopback interfaces: drop the outgoing copy of
/// each packet (`sll_pkttype == PACKET_OUTGOING`), accept the rest whole.
fn loopback_filter() -> [libc::sock_filter; 4] {
    let insn = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    // Ancillary load: the kernel puts skb->pkt_type in A.
    let pkttype = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
    [
        insn(libc::BPF_LD | libc::BPF_B | libc::BPF_ABS, 0, 0, pkttype),
        insn(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            0,
            1,
            PKT_OUTGOING,
        ),
        insn(libc::BPF_RET | libc::BPF_K, 0, 0, 0),
        insn(libc::BPF_RET | libc::BPF_K, 0, 0, u32::MAX),
    ]
}

/// A live source on `pnet_datalink`. See the module docs.
pub struct PnetSource {
    rx: Box<dyn DataLinkReceiver>,
    /// A duplicate of the descriptor of `rx`'s socket (pnet owns and
    /// closes the original), for `PACKET_STATISTICS`.
    stats_fd: OwnedFd,
    /// Receive buffer in effect (as reported by `SO_RCVBUF`).
    rcvbuf: usize,
    iface: String,
    ifindex: u32,
    describe: String,
    linktype: u32,
    snaplen: usize,
    stats: CaptureStats,
    gone: bool,
}

impl std::fmt::Debug for PnetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PnetSource")
            .field("iface", &self.iface)
            .field("linktype", &self.linktype)
            .field("rcvbuf", &self.rcvbuf)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PnetSource {
    /// Opens a pnet datalink channel on `iface`. Uses `snaplen`,
    /// `block_timeout_ms` (read timeout → `Idle`), `promiscuous` and
    /// `fanout` from `cfg`, and `ring_bytes` as the socket receive buffer
    /// size (at least 64 KiB); `block_bytes` does not apply.
    pub fn open(iface: &str, cfg: &RingConfig) -> Result<PnetSource, CaptureError> {
        let no_such = || CaptureError::NoSuchInterface {
            iface: iface.to_string(),
        };
        if !valid_ifname(iface) {
            return Err(no_such());
        }
        let ifindex = interface_index(iface).ok_or_else(no_such)?;
        let arphrd =
            sys::if_hwtype(iface).map_err(|e| CaptureError::os("ioctl(SIOCGIFHWADDR)", e))?;
        let linktype =
            arphrd_to_linktype(arphrd).ok_or_else(|| CaptureError::UnsupportedLinkType {
                iface: iface.to_string(),
                arphrd,
            })?;
        if cfg.snaplen == 0 {
            return Err(CaptureError::Config {
                reason: "snaplen must be at least 1".into(),
            });
        }
        let ni = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == iface)
            .ok_or_else(no_such)?;
        let snaplen = cfg.snaplen as usize;

        let sock = sys::packet_socket()?;
        let rcvbuf = sys::set_rcvbuf(sock.as_raw_fd(), cfg.ring_bytes.max(MIN_RCVBUF))?;
        if arphrd == libc::ARPHRD_LOOPBACK {
            sys::attach_filter(sock.as_raw_fd(), &mut loopback_filter())?;
        }
        let stats_fd = sock
            .try_clone()
            .map_err(|e| CaptureError::os("fcntl(F_DUPFD_CLOEXEC, AF_PACKET socket)", e))?;
        let config = Config {
            read_buffer_size: snaplen.max(65536) + HEADROOM,
            write_buffer_size: 64,
            read_timeout: Some(Duration::from_millis(u64::from(
                cfg.block_timeout_ms.max(1),
            ))),
            promiscuous: cfg.promiscuous,
            linux_fanout: cfg.fanout.map(|(group_id, mode)| FanoutOption {
                group_id,
                fanout_type: match mode {
                    FanoutMode::Hash => FanoutType::HASH,
                    FanoutMode::Cpu => FanoutType::CPU,
                    FanoutMode::Lb => FanoutType::LB,
                },
                defrag: mode == FanoutMode::Hash,
                rollover: false,
            }),
            // pnet takes ownership: it closes the socket on error and when
            // the receiver is dropped.
            socket_fd: Some(sock.into_raw_fd()),
            ..Config::default()
        };
        let rx = match pnet_datalink::channel(&ni, config) {
            Ok(Channel::Ethernet(_tx, rx)) => rx,
            Ok(_) => {
                return Err(CaptureError::os(
                    "pnet_datalink::channel",
                    io::Error::other("unsupported channel type"),
                ))
            }
            Err(e) => {
                return Err(CaptureError::os(
                    "pnet_datalink::channel (needs CAP_NET_RAW)",
                    e,
                ))
            }
        };
        Ok(PnetSource {
            rx,
            stats_fd,
            rcvbuf,
            iface: iface.to_string(),
            ifindex,
            describe: format!("{iface} (pnet, receive buffer {} KiB)", rcvbuf / 1024),
            linktype,
            snaplen,
            stats: CaptureStats::default(),
            gone: false,
        })
    }
}

/// The interface was deleted (index gone or changed) or is down.
fn iface_gone(iface: &str, ifindex: u32) -> bool {
    interface_index(iface) != Some(ifindex) || !interface_is_up(iface)
}

impl Source for PnetSource {
    fn next(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.gone {
            return Err(CaptureError::InterfaceGone {
                iface: self.iface.clone(),
            });
        }
        let err = match self.rx.next() {
            Ok(pkt) => {
                let ts_ns = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
                    .unwrap_or(0);
                let data = pkt.get(..self.snaplen.min(pkt.len())).unwrap_or_default();
                self.stats.packets += 1;
                self.stats.bytes += data.len() as u64;
                return Ok(Next::Frame(Frame {
                    ts_ns,
                    linktype: self.linktype,
                    data,
                    orig_len: u32::try_from(pkt.len()).unwrap_or(u32::MAX),
                    iface: 0,
                }));
            }
            Err(e) => e,
        };
        match err.raw_os_error() {
            Some(libc::ENETDOWN) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
                self.gone = true;
                return Err(CaptureError::InterfaceGone {
                    iface: self.iface.clone(),
                });
            }
            _ => {}
        }
        match err.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => {
                Ok(Next::Idle)
            }
            _ => {
                // pnet reports POLLERR as "Unexpected poll event" without the
                // socket error: decide from the interface's state.
                if iface_gone(&self.iface, self.ifindex) {
                    self.gone = true;
                    return Err(CaptureError::InterfaceGone {
                        iface: self.iface.clone(),
                    });
                }
                Err(CaptureError::os("pnet recv", err))
            }
        }
    }

    fn stats(&mut self) -> CaptureStats {
        // The kernel resets its counters on each read: accumulate.
        if let Ok(st) = sys::packet_stats(self.stats_fd.as_raw_fd()) {
            self.stats.kernel_drops += u64::from(st.tp_drops);
        }
        // An administrative down ends this source (see iface_gone); a lost
        // carrier does not, and only the interface's flags show it.
        self.stats.link_down = !interface_is_up(&self.iface);
        self.stats
    }

    fn describe(&self) -> &str {
        &self.describe
    }
}
