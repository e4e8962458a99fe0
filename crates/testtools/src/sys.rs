//! Thin libc wrappers for the tools: AF_PACKET sockets, raw IP sockets,
//! poll, a SIGTERM/SIGINT flag and random numbers. Linux only.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

// <linux/if_packet.h> socket options (not all are in the libc crate).
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// `sll_pkttype` of frames the host sent.
pub const PACKET_OUTGOING: u8 = 4;
/// Size of `struct virtio_net_hdr` (PACKET_VNET_HDR prefix).
pub const VNET_HDR_LEN: usize = 10;

#[repr(C)]
struct PacketMreq {
    mr_ifindex: libc::c_int,
    mr_type: libc::c_ushort,
    mr_alen: libc::c_ushort,
    mr_address: [libc::c_uchar; 8],
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live `T` of the given size for the call.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned from here on.
    let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The index of interface `name`.
pub fn ifindex(name: &str) -> io::Result<i32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: `c` is a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface {name:?}: {}", io::Error::last_os_error()),
        ));
    }
    Ok(i as i32)
}

/// How to open a [`PacketSocket`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketOpts {
    /// SOCK_DGRAM (frames without the link header) instead of SOCK_RAW.
    pub cooked: bool,
    /// Receive nothing (protocol 0): a send-only socket.
    pub send_only: bool,
    /// Put the interface in promiscuous mode while the socket is open.
    pub promisc: bool,
    /// Do not receive the frames the host sends (PACKET_IGNORE_OUTGOING).
    pub ignore_outgoing: bool,
    /// Prefix frames with a `virtio_net_hdr` (PACKET_VNET_HDR), which
    /// carries checksum-offload and GSO metadata through.
    pub vnet_hdr: bool,
}

/// An AF_PACKET socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

/// Metadata of a received frame.
#[derive(Debug, Clone, Copy)]
pub struct RecvMeta {
    pub len: usize,
    /// `sll_pkttype` (PACKET_HOST, PACKET_OUTGOING, ...).
    pub pkttype: u8,
    /// The link-layer protocol (ETH_P_IP, ETH_P_IPV6, ...), host order.
    pub protocol: u16,
}

impl PacketSocket {
    pub fn open(iface: &str, o: PacketOpts) -> io::Result<PacketSocket> {
        let ifindex = ifindex(iface)?;
        let proto = if o.send_only {
            0
        } else {
            (libc::ETH_P_ALL as u16).to_be()
        };
        let ty = if o.cooked {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_RAW
        };
        let fd = socket(libc::AF_PACKET, ty, libc::c_int::from(proto))?;
        if o.vnet_hdr {
            setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, PACKET_VNET_HDR, &1i32)?;
        }
        if o.ignore_outgoing {
            setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                &1i32,
            )?;
        }
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = proto;
        sa.sll_ifindex = ifindex;
        // SAFETY: `sa` is a valid sockaddr_ll of the given size.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        if o.promisc {
            let m = PacketMreq {
                mr_ifindex: ifindex,
                mr_type: PACKET_MR_PROMISC,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, PACKET_ADD_MEMBERSHIP, &m)?;
        }
        // Large receive buffer: bursts must not be dropped while we sleep.
        let _ = setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &(4i32 << 20),
        );
        Ok(PacketSocket { fd, ifindex })
    }

    /// Receives one frame without blocking (`Ok(None)` when none is
    /// queued).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<RecvMeta>> {
        // SAFETY: zeroed sockaddr_ll is valid; recvfrom writes at most
        // `buf.len()` bytes and `salen` bytes of address.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut salen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&mut sa as *mut libc::sockaddr_ll).cast(),
                &mut salen,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(RecvMeta {
            len: n as usize,
            pkttype: sa.sll_pkttype,
            protocol: u16::from_be(sa.sll_protocol),
        }))
    }

    /// Sends one frame out of the bound interface (with the vnet header
    /// prefix if the socket was opened with one).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: zeroed sockaddr_ll is valid; `frame` is readable.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_ifindex = self.ifindex;
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Raw IP sockets (IPPROTO_RAW: the caller writes the whole IP header) for
/// IPv4 and IPv6, the latter opened on first use.
#[derive(Debug)]
pub struct RawSender {
    v4: OwnedFd,
    v6: Option<OwnedFd>,
}

impl RawSender {
    pub fn open() -> io::Result<RawSender> {
        let v4 = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
        // Implied by IPPROTO_RAW; explicit for clarity.
        setsockopt(v4.as_raw_fd(), libc::IPPROTO_IP, libc::IP_HDRINCL, &1i32)?;
        Ok(RawSender { v4, v6: None })
    }

    /// Sends the complete IP packet `pkt` to `dst`.
    pub fn send(&mut self, dst: IpAddr, pkt: &[u8]) -> io::Result<()> {
        let n = match dst {
            IpAddr::V4(a) => {
                // SAFETY: zeroed sockaddr_in is valid.
                let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                sa.sin_family = libc::AF_INET as u16;
                sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                // SAFETY: valid buffer and address of the given sizes.
                unsafe {
                    libc::sendto(
                        self.v4.as_raw_fd(),
                        pkt.as_ptr().cast(),
                        pkt.len(),
                        0,
                        (&sa as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            IpAddr::V6(a) => {
                if self.v6.is_none() {
                    // IPPROTO_RAW on AF_INET6 implies IPV6_HDRINCL.
                    self.v6 = Some(socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_RAW)?);
                }
                let fd = self.v6.as_ref().map(AsRawFd::as_raw_fd).unwrap_or(-1);
                // SAFETY: zeroed sockaddr_in6 is valid.
                let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
                sa.sin6_family = libc::AF_INET6 as u16;
                sa.sin6_addr.s6_addr = a.octets();
                // SAFETY: valid buffer and address of the given sizes.
                unsafe {
                    libc::sendto(
                        fd,
                        pkt.as_ptr().cast(),
                        pkt.len(),
                        0,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Waits until `fd` is readable or `timeout_ms` passed (or a signal came):
/// whether it is readable.
pub fn poll_readable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(r > 0 && p.revents & libc::POLLIN != 0)
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs SIGTERM and SIGINT handlers that set a flag (no SA_RESTART, so
/// a blocking poll returns); returns the flag.
pub fn stop_flag() -> &'static AtomicBool {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an
        // atomic (async-signal-safe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    &STOP
}

/// A small xorshift generator seeded from the kernel (`getrandom`).
#[derive(Debug, Clone)]
pub struct Rand(u64);

impl Rand {
    pub fn from_kernel() -> Rand {
        let mut b = [0u8; 8];
        // SAFETY: writes at most 8 bytes into `b`.
        let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
        let seed = if n == 8 {
            u64::from_ne_bytes(b)
        } else {
            u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15
        };
        Rand(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A random non-zero u16 (Linux would replace 0).
    pub fn u16_nonzero(&mut self) -> u16 {
        loop {
            let v = (self.next_u64() >> 24) as u16;
            if v != 0 {
                return v;
            }
        }
    }
}
