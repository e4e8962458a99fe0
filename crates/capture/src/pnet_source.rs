//! Portable fallback source on `pnet_datalink` (selected with
//! `backend = "pnet"`): one `recv` per packet into pnet's buffer.
//!
//! Limitations (documented, by design of pnet's API):
//! * Timestamps: pnet gives none, so `ts_ns` is `SystemTime::now()` taken
//!   when `recv` returns (user-space time, later than the kernel's).
//! * Drops: unknown; `kernel_drops` and `kernel_freezes` stay 0.
//! * `orig_len`: pnet does not report truncation, so it equals the captured
//!   length (the read buffer is snaplen + headroom, so frames up to snaplen
//!   are not truncated by pnet's 4 KiB default).
//! * Loopback: pnet hides the packet direction, so on `lo` each packet is
//!   seen twice (outgoing and incoming copy).
//! * VLAN tags stripped by the NIC/kernel are not reinserted.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pnet_datalink::{Channel, Config, DataLinkReceiver, FanoutOption, FanoutType};

use crate::iface::{arphrd_to_linktype, interface_index, interface_is_up, valid_ifname};
use crate::ring::{sys, FanoutMode, RingConfig};
use crate::{CaptureError, CaptureStats, Frame, Next, Source};

/// Extra read-buffer room beyond snaplen.
const HEADROOM: usize = 4096;

/// A live source on `pnet_datalink`. See the module docs.
pub struct PnetSource {
    rx: Box<dyn DataLinkReceiver>,
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
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PnetSource {
    /// Opens a pnet datalink channel on `iface`. Uses `snaplen`,
    /// `block_timeout_ms` (read timeout → `Idle`), `promiscuous` and
    /// `fanout` from `cfg`; the ring sizes do not apply.
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
            iface: iface.to_string(),
            ifindex,
            describe: format!("{iface} (pnet)"),
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
        self.stats
    }

    fn describe(&self) -> &str {
        &self.describe
    }
}
