//! Live capture on Linux: an `AF_PACKET` socket with a `TPACKET_V3`
//! memory-mapped receive ring, plus the few `ioctl`s the interface helpers
//! need. This is the only module of the crate with `unsafe` code; every
//! block carries a `// SAFETY:` comment. Everything that parses ring
//! contents works on bounds-checked slices.
//!
//! Ring protocol: the ring is `block_nr` blocks of `block_size` bytes. The
//! kernel fills a block with packets and hands it to user space by setting
//! `TP_STATUS_USER` in the block descriptor (after a full block, or when the
//! block timeout retires a partially filled one). We walk its packets in
//! order and give the block back (`TP_STATUS_KERNEL`) when the caller calls
//! `next()` past the block's last frame, since the last `Frame` borrows from
//! it until then.
//!
//! VLAN: the kernel strips 802.1Q/802.1ad tags into `tp_vlan_tci`. We
//! reinsert the tag (like libpcap), so frames look as they did on the wire;
//! this costs one copy into a per-source scratch buffer (allocated once), and
//! only for tagged frames.
//!
//! Loopback: every packet on `lo` is seen twice (outgoing and incoming); the
//! outgoing copy is skipped on loopback interfaces only (like libpcap). On all
//! other interfaces both directions are captured: tamperwatch must see the
//! host's own packets.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::iface::{arphrd_to_linktype, interface_index, valid_ifname};
use crate::{linktype, CaptureError, CaptureStats, Frame, Next, Source};

/// `TPACKET_V3` from `enum tpacket_versions`.
const TPACKET_V3: libc::c_int = 2;
/// `TP_STATUS_KERNEL`.
const TP_STATUS_KERNEL: u32 = 0;
/// Nominal frame size for `tpacket_req3` (V3 packs variable-length frames;
/// the kernel only checks the arithmetic).
const NOMINAL_FRAME: usize = 2048;
/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where `sockaddr_ll` follows.
const TPACKET3_HDR_ALIGNED: usize = 48;
/// Offset of `sll_pkttype` in `sockaddr_ll`.
const SLL_PKTTYPE: usize = 10;
/// Offset of `sll_hatype` (u16, native endian) in `struct sockaddr_ll`.
const SLL_HATYPE: usize = 8;
/// Block descriptor: `hdr.bh1.num_pkts` and `offset_to_first_pkt`.
const BD_NUM_PKTS: usize = 12;
const BD_FIRST_PKT: usize = 16;
/// Byte offset of `hdr.bh1.block_status` in `tpacket_block_desc`.
const BD_STATUS: usize = 8;

/// `PACKET_FANOUT` mode: how the kernel spreads packets over the sockets of
/// a fanout group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutMode {
    /// By flow hash (IP fragments are defragmented first so a flow stays on
    /// one socket: `PACKET_FANOUT_FLAG_DEFRAG`).
    Hash,
    /// By receiving CPU.
    Cpu,
    /// Round-robin.
    Lb,
}

/// Configuration of a live source ([`RingSource`], and partly [`crate::PnetSource`]).
#[derive(Debug, Clone)]
pub struct RingConfig {
    /// Total ring size in bytes (a whole number of blocks is used). Default 64 MiB.
    /// For [`crate::PnetSource`]: the socket receive buffer size.
    pub ring_bytes: usize,
    /// Block size: a power of two, multiple of the page size. Default 1 MiB.
    /// Also bounds the largest frame the ring can hold.
    pub block_bytes: usize,
    /// The kernel hands a partially filled block over after this long;
    /// also the poll timeout after which `next()` returns `Idle`. Default 100.
    pub block_timeout_ms: u32,
    /// Bytes captured per packet (longer packets are truncated; `orig_len`
    /// keeps the wire length). Default 65535.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode (undone when the source is
    /// dropped). Default false.
    pub promiscuous: bool,
    /// Join `PACKET_FANOUT` group `id` with this mode. Default None.
    pub fanout: Option<(u16, FanoutMode)>,
    /// With `fanout`: ignore its id and have the kernel create a new group
    /// with an id no other socket uses (`PACKET_FANOUT_FLAG_UNIQUEID`); read
    /// it back with [`RingSource::fanout_id`] to open the group's other
    /// sockets with. Ring backend only. Default false.
    pub fanout_unique: bool,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            ring_bytes: 64 * 1024 * 1024,
            block_bytes: 1024 * 1024,
            block_timeout_ms: 100,
            snaplen: 65535,
            promiscuous: false,
            fanout: None,
            fanout_unique: false,
        }
    }
}

/// Small syscall wrappers for interface information.
pub(crate) mod sys {
    use super::*;

    fn last_err() -> io::Error {
        io::Error::last_os_error()
    }

    /// A datagram socket for `ioctl`s; it is in the calling thread's network
    /// namespace, so the answers are too.
    fn ioctl_socket() -> io::Result<OwnedFd> {
        // SAFETY: plain socket(2) call with constant arguments.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        let fd = if fd < 0 {
            // SAFETY: as above; AF_UNIX exists even without IPv4.
            unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) }
        } else {
            fd
        };
        if fd < 0 {
            return Err(last_err());
        }
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// `ioctl(cmd)` on an `ifreq` named `name`; returns the filled `ifreq`.
    fn ifreq_ioctl(name: &str, cmd: libc::c_ulong) -> io::Result<libc::ifreq> {
        if !valid_ifname(name) {
            return Err(io::Error::from_raw_os_error(libc::ENODEV));
        }
        // SAFETY: ifreq is plain old data (a name array and a union of
        // integers and sockaddrs); all-zero is a valid value.
        let mut ifr: libc::ifreq = unsafe { mem::zeroed() };
        // valid_ifname guarantees len < IFNAMSIZ, so the name stays NUL-terminated.
        for (dst, &b) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
            *dst = b as libc::c_char;
        }
        let sock = ioctl_socket()?;
        // SAFETY: `ifr` is a valid, writable ifreq that outlives the call,
        // which is what SIOCGIF* ioctls expect as their argument.
        let r = unsafe { libc::ioctl(sock.as_raw_fd(), cmd as _, &mut ifr as *mut libc::ifreq) };
        if r < 0 {
            return Err(last_err());
        }
        Ok(ifr)
    }

    pub(crate) fn if_index(name: &str) -> io::Result<u32> {
        let ifr = ifreq_ioctl(name, libc::SIOCGIFINDEX)?;
        // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
        let idx = unsafe { ifr.ifr_ifru.ifru_ifindex };
        Ok(u32::try_from(idx).unwrap_or(0))
    }

    pub(crate) fn if_flags(name: &str) -> io::Result<u32> {
        let ifr = ifreq_ioctl(name, libc::SIOCGIFFLAGS)?;
        // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        Ok(u32::from(flags as u16))
    }

    pub(crate) fn if_hwtype(name: &str) -> io::Result<u16> {
        let ifr = ifreq_ioctl(name, libc::SIOCGIFHWADDR)?;
        // SAFETY: SIOCGIFHWADDR filled the hwaddr (sockaddr) member; its
        // family is the ARPHRD_* type.
        Ok(unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_family })
    }

    /// setsockopt with a plain-data value.
    pub(crate) fn setsockopt<T>(
        fd: RawFd,
        level: libc::c_int,
        opt: libc::c_int,
        val: &T,
        op: &'static str,
    ) -> Result<(), CaptureError> {
        // SAFETY: `val` points to a live T of the given size for the call;
        // the kernel only reads it.
        let r = unsafe {
            libc::setsockopt(
                fd,
                level,
                opt,
                (val as *const T).cast::<libc::c_void>(),
                mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(CaptureError::os(op, last_err()));
        }
        Ok(())
    }

    /// Reads and clears the socket's pending error (`SO_ERROR`).
    pub(super) fn so_error(fd: RawFd) -> io::Result<i32> {
        let mut err: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: err/len are valid for writes of the advertised size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast::<libc::c_void>(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(last_err());
        }
        Ok(err)
    }

    /// The interface index the packet socket is bound to (`getsockname`):
    /// -1 once the kernel unbound it from a deleted interface, whatever
    /// interface has its index now.
    pub(crate) fn bound_ifindex(fd: RawFd) -> io::Result<i32> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: sll/len are valid for writes of the advertised size.
        let r = unsafe {
            libc::getsockname(
                fd,
                (&mut sll as *mut libc::sockaddr_ll).cast::<libc::sockaddr>(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(last_err());
        }
        Ok(sll.sll_ifindex)
    }

    /// The id of the `PACKET_FANOUT` group the socket is in (the low 16 bits
    /// of what `getsockopt(PACKET_FANOUT)` returns).
    pub(crate) fn fanout_id(fd: RawFd) -> io::Result<u16> {
        let mut v: u32 = 0;
        let mut len = mem::size_of::<u32>() as libc::socklen_t;
        // SAFETY: v/len are valid for writes of the advertised size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                (&mut v as *mut u32).cast::<libc::c_void>(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(last_err());
        }
        Ok((v & 0xffff) as u16)
    }

    /// `PACKET_STATISTICS` (the kernel resets the counters on each read).
    /// Also right for sockets without a `TPACKET_V3` ring: the kernel then
    /// fills only the `struct tpacket_stats` prefix (`tp_packets`,
    /// `tp_drops`) and `tp_freeze_q_cnt` stays 0.
    pub(crate) fn packet_stats(fd: RawFd) -> io::Result<libc::tpacket_stats_v3> {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: st/len are valid for writes of the advertised size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast::<libc::c_void>(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(last_err());
        }
        Ok(st)
    }

    /// poll(2) one descriptor; returns revents (0 on timeout).
    pub(super) fn poll_one(
        fd: RawFd,
        events: libc::c_short,
        timeout_ms: libc::c_int,
    ) -> io::Result<libc::c_short> {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd array of length 1 for the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            return Err(last_err());
        }
        Ok(if r == 0 { 0 } else { pfd.revents })
    }

    /// A raw `AF_PACKET` socket with protocol 0: it receives nothing until
    /// `bind()` names the protocol and interface, so no packets from other
    /// interfaces are queued during setup.
    pub(crate) fn packet_socket() -> Result<OwnedFd, CaptureError> {
        // SAFETY: plain socket(2) call with constant arguments.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(CaptureError::os(
                "socket(AF_PACKET, SOCK_RAW) (needs CAP_NET_RAW)",
                last_err(),
            ));
        }
        // SAFETY: raw is a fresh descriptor owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }

    /// `SO_RCVBUFFORCE` (missing from the `libc` crate for Linux/glibc).
    #[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
    const SO_RCVBUFFORCE: libc::c_int = 0x100b;
    #[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
    const SO_RCVBUFFORCE: libc::c_int = 33;

    /// Sets the socket receive buffer to `bytes` (clamped to what the
    /// kernel accepts): `SO_RCVBUFFORCE` ignores `net.core.rmem_max` but
    /// needs `CAP_NET_ADMIN`; without it, `SO_RCVBUF` (capped by
    /// `rmem_max`). Returns the size in effect (`SO_RCVBUF`; the kernel
    /// doubles the request to account for its bookkeeping).
    pub(crate) fn set_rcvbuf(fd: RawFd, bytes: usize) -> Result<usize, CaptureError> {
        // The kernel doubles the value into an int.
        let val = libc::c_int::try_from(bytes)
            .unwrap_or(libc::c_int::MAX)
            .min(libc::c_int::MAX / 2);
        if setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_RCVBUFFORCE,
            &val,
            "setsockopt(SO_RCVBUFFORCE)",
        )
        .is_err()
        {
            setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &val,
                "setsockopt(SO_RCVBUF)",
            )?;
        }
        let mut got: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: got/len are valid for writes of the advertised size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut got as *mut libc::c_int).cast::<libc::c_void>(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(CaptureError::os("getsockopt(SO_RCVBUF)", last_err()));
        }
        Ok(usize::try_from(got).unwrap_or(0))
    }

    /// Attaches a classic BPF program (`SO_ATTACH_FILTER`).
    pub(crate) fn attach_filter(
        fd: RawFd,
        prog: &mut [libc::sock_filter],
    ) -> Result<(), CaptureError> {
        let fprog = libc::sock_fprog {
            len: u16::try_from(prog.len()).unwrap_or(u16::MAX),
            filter: prog.as_mut_ptr(),
        };
        // The kernel copies the program during the call; `prog` outlives it.
        setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog,
            "setsockopt(SO_ATTACH_FILTER)",
        )
    }

    pub(super) fn page_size() -> usize {
        // SAFETY: sysconf has no memory-safety preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
    }
}

/// Where the frame to hand out lives.
#[derive(Debug, Clone, Copy)]
enum Loc {
    /// In the current ring block: `start..start+len`.
    Ring { start: usize, len: usize },
    /// In the VLAN scratch buffer: `..len`.
    Scratch { len: usize },
}

/// Live capture on an `AF_PACKET` `TPACKET_V3` ring. See the module docs.
pub struct RingSource {
    fd: OwnedFd,
    /// Start of the mmap'ed ring (`block_size * block_nr` bytes).
    map: *mut u8,
    map_len: usize,
    block_size: usize,
    block_nr: usize,
    /// Block being read / waited for.
    cur: usize,
    /// We own block `cur` (TP_STATUS_USER seen) and are walking it.
    in_block: bool,
    pkts_left: u32,
    pkt_off: usize,
    /// All frames of `cur` were handed out; return it on the next call.
    release_pending: bool,
    iface: String,
    ifindex: u32,
    describe: String,
    linktype: u32,
    loopback: bool,
    snaplen: usize,
    poll_ms: libc::c_int,
    fanout_id: Option<u16>,
    scratch: Vec<u8>,
    stats: CaptureStats,
    gone: bool,
    /// The interface went down (and still exists): wait for it.
    down: bool,
    /// Promiscuous mode was asked for (set again on [`RingSource::reattach`]).
    promiscuous: bool,
    /// Blocks still to read, after the socket was bound to another
    /// interface, in which each frame's link type is read from its own
    /// `sockaddr_ll` (the ring may still hold frames of the interface
    /// before, and the block open at the move holds both).
    mixed_blocks: usize,
    /// The link type of the frame handed out last.
    frame_lt: u32,
}

// SAFETY: the mapping is owned exclusively by this value (nothing else holds
// `map`); moving it to another thread moves that ownership with it. The
// kernel-shared status words are accessed atomically.
unsafe impl Send for RingSource {}

impl std::fmt::Debug for RingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingSource")
            .field("iface", &self.iface)
            .field("fd", &self.fd)
            .field("block_size", &self.block_size)
            .field("block_nr", &self.block_nr)
            .field("cur", &self.cur)
            .field("linktype", &self.linktype)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn cfg_err(reason: String) -> CaptureError {
    CaptureError::Config { reason }
}

impl RingSource {
    /// Opens a `TPACKET_V3` ring on `iface` (needs `CAP_NET_RAW`).
    pub fn open(iface: &str, cfg: &RingConfig) -> Result<RingSource, CaptureError> {
        RingSource::open_inner(iface, cfg, false)
    }

    /// Opens a ring for an interface that does not exist yet (a PPP link
    /// not dialled yet when the daemon starts), unbound: it captures
    /// nothing, and [`Source::next`] reports [`CaptureError::InterfaceGone`]
    /// until [`RingSource::reattach`] finds the interface. Needs
    /// `CAP_NET_RAW` now, none later. Not in a fanout group.
    pub fn open_waiting(iface: &str, cfg: &RingConfig) -> Result<RingSource, CaptureError> {
        if cfg.fanout.is_some() {
            return Err(cfg_err(format!(
                "{iface}: a capture in a PACKET_FANOUT group cannot wait for its interface"
            )));
        }
        RingSource::open_inner(iface, cfg, true)
    }

    fn open_inner(
        iface: &str,
        cfg: &RingConfig,
        waiting: bool,
    ) -> Result<RingSource, CaptureError> {
        let no_such = || CaptureError::NoSuchInterface {
            iface: iface.to_string(),
        };
        if !valid_ifname(iface) {
            return Err(no_such());
        }
        let (ifindex, arphrd, lt) = if waiting {
            // (found out when the interface appears)
            (0, libc::ARPHRD_ETHER, linktype::ETHERNET)
        } else {
            let ifindex = match sys::if_index(iface) {
                Ok(i) if i > 0 => i,
                Ok(_) => return Err(no_such()),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Err(no_such()),
                Err(e) => return Err(CaptureError::os("ioctl(SIOCGIFINDEX)", e)),
            };
            let arphrd =
                sys::if_hwtype(iface).map_err(|e| CaptureError::os("ioctl(SIOCGIFHWADDR)", e))?;
            let lt =
                arphrd_to_linktype(arphrd).ok_or_else(|| CaptureError::UnsupportedLinkType {
                    iface: iface.to_string(),
                    arphrd,
                })?;
            (ifindex, arphrd, lt)
        };

        // Geometry.
        let page = sys::page_size();
        let bs = cfg.block_bytes;
        if !bs.is_power_of_two() || bs < page || !bs.is_multiple_of(page) || bs > (1 << 30) {
            return Err(cfg_err(format!(
                "block_bytes {bs} must be a power of two, a multiple of the page size {page}, at most 1 GiB"
            )));
        }
        let block_nr = cfg.ring_bytes / bs;
        if !(2..=65536).contains(&block_nr) {
            return Err(cfg_err(format!(
                "ring_bytes {} must hold 2..=65536 blocks of {bs} bytes",
                cfg.ring_bytes
            )));
        }
        if cfg.snaplen == 0 {
            return Err(cfg_err("snaplen must be at least 1".into()));
        }
        let map_len = bs * block_nr;

        // Protocol 0: no packets are queued until bind() below names the
        // protocol and interface, so nothing from other interfaces lands in
        // the ring during setup.
        let fd = sys::packet_socket()?;
        let rfd = fd.as_raw_fd();

        sys::setsockopt(
            rfd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &TPACKET_V3,
            "setsockopt(PACKET_VERSION, TPACKET_V3)",
        )?;

        // Snap length as a one-instruction classic BPF program
        // "ret #snaplen": the kernel then copies at most snaplen bytes into
        // the ring (tp_len keeps the wire length).
        let mut insn = [libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: cfg.snaplen,
        }];
        sys::attach_filter(rfd, &mut insn)?;

        let req = libc::tpacket_req3 {
            tp_block_size: bs as u32,
            tp_block_nr: block_nr as u32,
            tp_frame_size: NOMINAL_FRAME as u32,
            tp_frame_nr: ((bs / NOMINAL_FRAME) * block_nr) as u32,
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sys::setsockopt(
            rfd,
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req,
            "setsockopt(PACKET_RX_RING)",
        )?;

        // SAFETY: maps the ring the kernel just allocated for this socket;
        // length and offset match the PACKET_RX_RING request.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                rfd,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(CaptureError::os("mmap(ring)", io::Error::last_os_error()));
        }

        let snaplen = (cfg.snaplen as usize).min(bs);
        // From here on Drop unmaps and closes on any error.
        let mut src = RingSource {
            fd,
            map: map.cast::<u8>(),
            map_len,
            block_size: bs,
            block_nr,
            cur: 0,
            in_block: false,
            pkts_left: 0,
            pkt_off: 0,
            release_pending: false,
            iface: iface.to_string(),
            ifindex,
            describe: format!("{iface} (AF_PACKET TPACKET_V3)"),
            linktype: lt,
            loopback: arphrd == libc::ARPHRD_LOOPBACK,
            snaplen,
            poll_ms: libc::c_int::try_from(cfg.block_timeout_ms).unwrap_or(libc::c_int::MAX),
            fanout_id: None,
            scratch: vec![0u8; snaplen + 4],
            stats: CaptureStats::default(),
            gone: false,
            down: false,
            promiscuous: cfg.promiscuous,
            mixed_blocks: 0,
            frame_lt: lt,
        };

        if waiting {
            src.gone = true;
            return Ok(src);
        }
        src.bind(ifindex)?;

        if let Some((group, mode)) = cfg.fanout {
            let m = match mode {
                FanoutMode::Hash => libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG,
                FanoutMode::Cpu => libc::PACKET_FANOUT_CPU,
                FanoutMode::Lb => libc::PACKET_FANOUT_LB,
            };
            let (group, m) = if cfg.fanout_unique {
                (0, m | libc::PACKET_FANOUT_FLAG_UNIQUEID)
            } else {
                (group, m)
            };
            let arg: u32 = u32::from(group) | (m << 16);
            sys::setsockopt(
                rfd,
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                &arg,
                "setsockopt(PACKET_FANOUT)",
            )?;
            src.fanout_id = Some(if cfg.fanout_unique {
                sys::fanout_id(rfd).map_err(|e| CaptureError::os("getsockopt(PACKET_FANOUT)", e))?
            } else {
                group
            });
        }
        Ok(src)
    }

    /// Binds the socket to `ifindex` for every protocol, and asks for
    /// promiscuous mode there if configured.
    fn bind(&mut self, ifindex: u32) -> Result<(), CaptureError> {
        let rfd = self.fd.as_raw_fd();
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: sll is a valid sockaddr_ll for the duration of the call.
        let r = unsafe {
            libc::bind(
                rfd,
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ENODEV) | Some(libc::ENXIO) => CaptureError::NoSuchInterface {
                    iface: self.iface.clone(),
                },
                _ => CaptureError::os("bind(AF_PACKET)", e),
            });
        }
        if self.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex as libc::c_int,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            sys::setsockopt(
                rfd,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "setsockopt(PACKET_ADD_MEMBERSHIP, promiscuous)",
            )
            .map_err(|e| match e {
                // deleted between the bind and this
                CaptureError::Os { ref source, .. }
                    if source.raw_os_error() == Some(libc::ENODEV) =>
                {
                    CaptureError::NoSuchInterface {
                        iface: self.iface.clone(),
                    }
                }
                e => e,
            })?;
        }
        Ok(())
    }

    /// Whether [`RingSource::reattach`] can work: not for a socket in a
    /// `PACKET_FANOUT` group, which the kernel does not let bind again.
    pub fn can_reattach(&self) -> bool {
        self.fanout_id.is_none()
    }

    /// After the interface was deleted ([`CaptureError::InterfaceGone`]):
    /// binds the socket, with its ring, to an interface of the same name if
    /// one exists now (a PPP link redialled, a USB modem plugged back in, a
    /// VPN's device made again). Needs no privilege: the capability check
    /// is at the socket's creation, and the daemon keeps the socket it
    /// opened before dropping its privileges. `Ok(true)`: capturing again
    /// (the interface may still be down: it is then waited for as any down
    /// interface); `Ok(false)`: no such interface yet.
    pub fn reattach(&mut self) -> Result<bool, CaptureError> {
        if !self.gone {
            return Ok(true);
        }
        if !self.can_reattach() {
            return Err(cfg_err(format!(
                "{}: a capture in a PACKET_FANOUT group cannot be bound again",
                self.iface
            )));
        }
        let ifindex = match sys::if_index(&self.iface) {
            Ok(i) if i > 0 => i,
            _ => return Ok(false),
        };
        let Ok(arphrd) = sys::if_hwtype(&self.iface) else {
            return Ok(false);
        };
        let lt = arphrd_to_linktype(arphrd).ok_or_else(|| CaptureError::UnsupportedLinkType {
            iface: self.iface.clone(),
            arphrd,
        })?;
        // (reading the error the deletion left clears it)
        let _ = sys::so_error(self.fd.as_raw_fd());
        match self.bind(ifindex) {
            Ok(()) => {}
            // deleted again meanwhile
            Err(CaptureError::NoSuchInterface { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        if self.ifindex != ifindex || self.linktype != lt {
            self.mixed_blocks = self.block_nr + 1;
        }
        self.ifindex = ifindex;
        self.linktype = lt;
        self.loopback = arphrd == libc::ARPHRD_LOOPBACK;
        self.gone = false;
        self.down = !crate::iface::interface_is_up(&self.iface);
        Ok(true)
    }

    /// Captures on `iface` from now on (the default route moved to it: a
    /// laptop's Ethernet plugged in beside its Wi-Fi, a gateway failing
    /// over to its mobile uplink): binds the socket, with its ring, there,
    /// as [`RingSource::reattach`] does (no privilege needed). Frames still
    /// in the ring from the old interface are read first. `Ok(false)`: no
    /// such interface, nothing changed.
    pub fn move_to(&mut self, iface: &str) -> Result<bool, CaptureError> {
        if !valid_ifname(iface) {
            return Ok(false);
        }
        let old = mem::replace(&mut self.iface, iface.to_string());
        let (old_index, was_gone) = (self.ifindex, self.gone);
        self.gone = true;
        match self.reattach() {
            Ok(true) => {
                if self.promiscuous && !was_gone {
                    // (best effort: the old interface leaves promiscuous mode)
                    let mreq = libc::packet_mreq {
                        mr_ifindex: old_index as libc::c_int,
                        mr_type: libc::PACKET_MR_PROMISC as u16,
                        mr_alen: 0,
                        mr_address: [0; 8],
                    };
                    let _ = sys::setsockopt(
                        self.fd.as_raw_fd(),
                        libc::SOL_PACKET,
                        libc::PACKET_DROP_MEMBERSHIP,
                        &mreq,
                        "setsockopt(PACKET_DROP_MEMBERSHIP)",
                    );
                }
                self.describe = format!("{iface} (AF_PACKET TPACKET_V3)");
                Ok(true)
            }
            Ok(false) => {
                // (no such interface: the bind failed, nothing changed)
                self.iface = old;
                self.gone = was_gone;
                Ok(false)
            }
            Err(e) => {
                // The socket may be bound to the new interface already (a
                // membership refused after the bind): back to the old name,
                // marked gone, so that the capture binds there again.
                self.iface = old;
                self.gone = true;
                Err(e)
            }
        }
    }

    /// The `PACKET_FANOUT` group this socket is in, if any.
    pub fn fanout_id(&self) -> Option<u16> {
        self.fanout_id
    }

    /// The link type of frames from this interface.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Pointer to the `block_status` word of block `i`.
    fn status_word(&self, i: usize) -> &AtomicU32 {
        let off = (i % self.block_nr) * self.block_size + BD_STATUS;
        // SAFETY: off + 4 <= map_len (blocks are >= one page); the word is
        // 4-byte aligned (page-aligned block + 8) and lives as long as the
        // mapping, i.e. as long as &self. The kernel writes it concurrently,
        // hence the atomic access.
        unsafe { AtomicU32::from_ptr(self.map.add(off).cast::<u32>()) }
    }

    /// Block `i` as bytes. Only call while user space owns it
    /// (TP_STATUS_USER observed with Acquire and not yet released): the
    /// kernel does not write a user-owned block.
    fn block(&self, i: usize) -> &[u8] {
        let off = (i % self.block_nr) * self.block_size;
        // SAFETY: [off, off + block_size) is inside the mapping, which lives
        // as long as &self; the caller guarantees the kernel is not writing
        // this block while the slice exists (it is borrowed from &self, and
        // release() needs &mut self).
        unsafe { std::slice::from_raw_parts(self.map.add(off), self.block_size) }
    }

    fn release(&mut self) {
        self.mixed_blocks = self.mixed_blocks.saturating_sub(1);
        self.status_word(self.cur)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.cur = (self.cur + 1) % self.block_nr;
        self.in_block = false;
        self.release_pending = false;
    }

    /// Handles readiness/errors reported by poll; Ok(()) means "look again".
    fn wait(&mut self) -> Result<bool, CaptureError> {
        let fd = self.fd.as_raw_fd();
        let revents = match sys::poll_one(fd, libc::POLLIN | libc::POLLERR, self.poll_ms) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(CaptureError::os("poll(AF_PACKET)", e)),
        };
        if revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            let err = sys::so_error(fd).unwrap_or(0);
            match err {
                // Down, not deleted: the kernel re-attaches the socket when
                // the interface comes back up; wait for it.
                libc::ENETDOWN if self.still_there() => {
                    self.down = true;
                    return Ok(false);
                }
                libc::ENETDOWN | libc::ENXIO | libc::ENODEV => return Err(self.gone()),
                0 => {}
                e => {
                    return Err(CaptureError::os(
                        "poll(AF_PACKET)",
                        io::Error::from_raw_os_error(e),
                    ))
                }
            }
            if !self.still_there() {
                return Err(self.gone());
            }
        }
        if self.down {
            // deleted while down, or up again? (frames still in the ring
            // from before the link went down say nothing)
            if !self.still_there() {
                return Err(self.gone());
            }
            if crate::iface::interface_is_up(&self.iface) {
                self.down = false;
            }
        }
        Ok(revents != 0)
    }

    /// Whether the interface the socket was bound to is still there: its
    /// name has the same index, and the socket is still bound to it. The
    /// name alone can mislead: an interface deleted and made again with
    /// the same index (`ip link add ... index N`, while the capture was
    /// waiting for it to come up) has the old one's name and index, but the
    /// kernel unbound the socket at the deletion and will not bind it to the
    /// new one by itself. (A failed `getsockname` is taken as still bound.)
    fn still_there(&self) -> bool {
        interface_index(&self.iface) == Some(self.ifindex)
            && sys::bound_ifindex(self.fd.as_raw_fd())
                .map_or(true, |i| i64::from(i) == i64::from(self.ifindex))
    }

    fn gone(&mut self) -> CaptureError {
        self.gone = true;
        CaptureError::InterfaceGone {
            iface: self.iface.clone(),
        }
    }

    /// Finds the next frame to hand out; `None` = nothing yet (Idle).
    fn locate(&mut self) -> Result<Option<(Loc, i64, u32)>, CaptureError> {
        let mut polled = false;
        loop {
            if self.release_pending {
                self.release();
            }
            if !self.in_block {
                let st = self.status_word(self.cur).load(Ordering::Acquire);
                if st & libc::TP_STATUS_USER == 0 {
                    if polled {
                        return Ok(None);
                    }
                    polled = true;
                    self.wait()?;
                    continue;
                }
                let blk = self.block(self.cur);
                let num = u32::from_ne_bytes(arr(blk, BD_NUM_PKTS));
                let first = u32::from_ne_bytes(arr(blk, BD_FIRST_PKT)) as usize;
                if num == 0 {
                    self.release_pending = true;
                    continue;
                }
                self.in_block = true;
                self.pkts_left = num;
                self.pkt_off = first;
            }
            // One packet: struct tpacket3_hdr at pkt_off, sockaddr_ll after it.
            let p = self.pkt_off;
            let blk = self.block(self.cur);
            let Some(h) = blk.get(p..p + TPACKET3_HDR_LEN) else {
                // Inconsistent block: give it back.
                self.release_pending = true;
                continue;
            };
            let PktHdr {
                next_off,
                sec,
                nsec,
                snap,
                wire,
                status,
                mac,
                tci,
                tpid,
                pkttype,
            } = parse_pkt(h, blk.get(p + TPACKET3_HDR_ALIGNED + SLL_PKTTYPE).copied());
            let start = p + mac;
            let len = snap.min(self.snaplen);
            let in_range = blk.get(start..start + len).is_some();

            // (after a move to another interface: each frame's own)
            let (lt, loopback) = if self.mixed_blocks > 0 {
                let at = p + TPACKET3_HDR_ALIGNED + SLL_HATYPE;
                match blk.get(at..at + 2) {
                    Some(b) => {
                        let h = u16::from_ne_bytes([b[0], b[1]]);
                        (
                            arphrd_to_linktype(h).unwrap_or(self.linktype),
                            h == libc::ARPHRD_LOOPBACK,
                        )
                    }
                    None => (self.linktype, self.loopback),
                }
            } else {
                (self.linktype, self.loopback)
            };
            self.pkts_left -= 1;
            if self.pkts_left == 0 || next_off == 0 {
                self.release_pending = true;
            } else {
                self.pkt_off = p + next_off;
            }
            if !in_range || (loopback && pkttype == libc::PACKET_OUTGOING) {
                continue;
            }
            self.frame_lt = lt;
            let ts_ns = i64::from(sec) * 1_000_000_000 + i64::from(nsec);
            let mut orig_len = wire.max(len as u32);
            let vlan = status & libc::TP_STATUS_VLAN_VALID != 0 || tci != 0;
            if vlan && lt == linktype::ETHERNET && len >= 12 {
                let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
                    tpid
                } else {
                    0x8100
                };
                let n = len + 4;
                // Taking the Vec out (no allocation) lets us read the block
                // (borrowed from &self) while writing the scratch buffer.
                let mut s = mem::take(&mut self.scratch);
                if s.len() < n {
                    s.resize(n, 0);
                }
                let data = self
                    .block(self.cur)
                    .get(start..start + len)
                    .unwrap_or_default();
                if let Some(dst) = s.get_mut(..n) {
                    insert_vlan_tag(dst, data, tpid, tci as u16);
                }
                self.scratch = s;
                orig_len = orig_len.saturating_add(4);
                return Ok(Some((Loc::Scratch { len: n }, ts_ns, orig_len)));
            }
            return Ok(Some((Loc::Ring { start, len }, ts_ns, orig_len)));
        }
    }
}

/// The fields of a `struct tpacket3_hdr` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PktHdr {
    next_off: usize,
    sec: u32,
    nsec: u32,
    snap: usize,
    wire: u32,
    status: u32,
    mac: usize,
    tci: u32,
    tpid: u16,
    pkttype: u8,
}

/// Size of the `struct tpacket3_hdr` fields read by [`parse_pkt`].
const TPACKET3_HDR_LEN: usize = 40;

/// Decodes a `struct tpacket3_hdr` (native byte order):
/// `tp_next_offset@0 tp_sec@4 tp_nsec@8 tp_snaplen@12 tp_len@16 tp_status@20
/// tp_mac@24(u16) tp_net@26(u16) hv1.tp_rxhash@28 hv1.tp_vlan_tci@32
/// hv1.tp_vlan_tpid@36(u16)`; `pkttype` is `sll_pkttype` of the
/// `sockaddr_ll` that follows at [`TPACKET3_HDR_ALIGNED`].
fn parse_pkt(h: &[u8], pkttype: Option<u8>) -> PktHdr {
    PktHdr {
        next_off: u32::from_ne_bytes(arr(h, 0)) as usize,
        sec: u32::from_ne_bytes(arr(h, 4)),
        nsec: u32::from_ne_bytes(arr(h, 8)),
        snap: u32::from_ne_bytes(arr(h, 12)) as usize,
        wire: u32::from_ne_bytes(arr(h, 16)),
        status: u32::from_ne_bytes(arr(h, 20)),
        mac: u16::from_ne_bytes(arr(h, 24)) as usize,
        tci: u32::from_ne_bytes(arr(h, 32)),
        tpid: u16::from_ne_bytes(arr(h, 36)),
        pkttype: pkttype.unwrap_or(0),
    }
}

/// Writes `data` (an Ethernet frame whose VLAN tag the kernel stripped) into
/// `dst` with the tag reinserted after the MAC addresses: `dst` must be
/// `data.len() + 4` bytes and `data` at least 12; otherwise nothing is written
/// and false is returned.
fn insert_vlan_tag(dst: &mut [u8], data: &[u8], tpid: u16, tci: u16) -> bool {
    if data.len() < 12 || dst.len() != data.len() + 4 {
        return false;
    }
    let (d_mac, d_rest) = dst.split_at_mut(12);
    let (d_tag, d_payload) = d_rest.split_at_mut(4);
    let (s_mac, s_payload) = data.split_at(12);
    d_mac.copy_from_slice(s_mac);
    d_tag[..2].copy_from_slice(&tpid.to_be_bytes());
    d_tag[2..].copy_from_slice(&tci.to_be_bytes());
    d_payload.copy_from_slice(s_payload);
    true
}

#[inline]
fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at.saturating_add(N)) {
        out.copy_from_slice(s);
    }
    out
}

impl Source for RingSource {
    fn next(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.gone {
            return Err(CaptureError::InterfaceGone {
                iface: self.iface.clone(),
            });
        }
        let Some((loc, ts_ns, orig_len)) = self.locate()? else {
            return Ok(Next::Idle);
        };
        if self.down && crate::iface::interface_is_up(&self.iface) {
            // frames again and the link is up (frames left in the ring from
            // before it went down do not count: it is still down then)
            self.down = false;
        }
        let n = match loc {
            Loc::Ring { len, .. } | Loc::Scratch { len } => len,
        };
        self.stats.packets += 1;
        self.stats.bytes += n as u64;
        let data = match loc {
            Loc::Ring { start, len } => self.block(self.cur).get(start..start + len),
            Loc::Scratch { len } => self.scratch.get(..len),
        }
        .unwrap_or_default();
        Ok(Next::Frame(Frame {
            ts_ns,
            linktype: self.frame_lt,
            data,
            orig_len,
            iface: 0,
        }))
    }

    fn stats(&mut self) -> CaptureStats {
        if let Ok(st) = sys::packet_stats(self.fd.as_raw_fd()) {
            self.stats.kernel_drops += u64::from(st.tp_drops);
            self.stats.kernel_freezes += u64::from(st.tp_freeze_q_cnt);
        }
        // The socket hears of an administrative down (ENETDOWN) but not of a
        // lost carrier (a cable pulled, a veth peer or an upstream modem
        // down), which stops frames just as surely: ask the interface, once
        // per stats read (the live loop reads stats once a second).
        self.stats.link_down = self.down || !crate::iface::interface_is_up(&self.iface);
        self.stats
    }

    fn describe(&self) -> &str {
        &self.describe
    }

    fn can_reattach(&self) -> bool {
        RingSource::can_reattach(self)
    }

    fn reattach(&mut self) -> Result<bool, CaptureError> {
        RingSource::reattach(self)
    }

    fn move_to(&mut self, iface: &str) -> Result<bool, CaptureError> {
        RingSource::move_to(self, iface)
    }
}

impl Drop for RingSource {
    fn drop(&mut self) {
        // SAFETY: map/map_len are exactly what mmap returned; no slice into
        // the mapping can outlive &mut self. The socket (OwnedFd) is closed
        // after this, which also leaves promiscuous mode and the fanout group.
        unsafe {
            libc::munmap(self.map.cast::<libc::c_void>(), self.map_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tpacket3_hdr() {
        // A tpacket3_hdr as the kernel writes it (native endian), followed
        // by the sockaddr_ll at offset 48.
        let mut h = Vec::new();
        for v in [64u32, 1_700_000_000, 123_456_789, 60, 1514, 0x11] {
            h.extend_from_slice(&v.to_ne_bytes()); // next, sec, nsec, snaplen, len, status
        }
        h.extend_from_slice(&82u16.to_ne_bytes()); // tp_mac
        h.extend_from_slice(&96u16.to_ne_bytes()); // tp_net
        h.extend_from_slice(&0u32.to_ne_bytes()); // rxhash
        h.extend_from_slice(&0x2064u32.to_ne_bytes()); // vlan tci: prio 1, vid 100
        h.extend_from_slice(&0x88a8u16.to_ne_bytes()); // vlan tpid (802.1ad)
        h.resize(48, 0);
        h.extend_from_slice(&[0x11, 0x00, 0x08, 0x00, 2, 0, 0, 0, 1, 0, 4, 6]); // sockaddr_ll ..pkttype=4
        let p = parse_pkt(&h[..TPACKET3_HDR_LEN], h.get(48 + SLL_PKTTYPE).copied());
        assert_eq!(
            p,
            PktHdr {
                next_off: 64,
                sec: 1_700_000_000,
                nsec: 123_456_789,
                snap: 60,
                wire: 1514,
                status: 0x11,
                mac: 82,
                tci: 0x2064,
                tpid: 0x88a8,
                pkttype: libc::PACKET_OUTGOING,
            }
        );
        // Short input: zeros, no panic.
        assert_eq!(parse_pkt(&h[..3], None).sec, 0);
    }

    #[test]
    fn vlan_tag_reinsertion() {
        #[rustfmt::skip]
        let untagged = [
            1, 1, 1, 1, 1, 1, // dst
            2, 2, 2, 2, 2, 2, // src
            0x08, 0x00,       // IPv4
            0x45, 0x00,       // payload
        ];
        let mut out = [0u8; 20];
        assert!(insert_vlan_tag(&mut out, &untagged, 0x8100, 0x2064));
        assert_eq!(
            out,
            [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x81, 0x00, 0x20, 0x64, 0x08, 0x00, 0x45, 0x00]
        );
        assert!(!insert_vlan_tag(&mut out, &untagged[..11], 0x8100, 1));
        assert!(!insert_vlan_tag(&mut out[..19], &untagged, 0x8100, 1));
    }

    #[test]
    fn default_config() {
        let c = RingConfig::default();
        assert_eq!(c.ring_bytes, 64 << 20);
        assert_eq!(c.block_bytes, 1 << 20);
        assert_eq!(c.block_timeout_ms, 100);
        assert_eq!(c.snaplen, 65535);
        assert!(!c.promiscuous);
        assert_eq!(c.fanout, None);
    }
}
