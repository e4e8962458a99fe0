//! Offline capture files: pcap (µs and ns, both byte orders, and the
//! "modified" Kuznetzov variant) and pcapng (several sections of either byte
//! order, several interfaces, EPB/SPB/PB packet blocks).
//!
//! Reading is streaming and zero-copy in user space: records and blocks are
//! parsed in place out of one owned 1 MiB read buffer that is filled with
//! `read()` straight from the file, and [`Frame::data`] is a slice of that
//! buffer. When a record straddles the end of the buffer, its partial head
//! (shorter than the record) is moved to the front and the rest of the
//! buffer is refilled. Nothing allocates per packet: the buffer only grows,
//! once, for a record or block larger than itself (bounded by
//! [`MAX_CAPLEN`] for packets and [`MAX_META_BLOCK`] for interface
//! descriptions), and the packet bytes of a pcapng packet block too large
//! for the buffer (huge options) are set aside in a spill buffer that only
//! grows (bounded by [`MAX_CAPLEN`]). There is deliberately no `mmap`: a
//! hostile or live file can be truncated while mapped, which kills the
//! process with `SIGBUS`.
//!
//! Files are hostile: every length is checked before use, and damage is
//! reported as [`CaptureError::Format`] with the file name and the byte
//! offset of the damaged header, record or block.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::{CaptureError, CaptureStats, Frame, Next, Source};

/// Largest captured length accepted for one packet (pcap record caplen,
/// pcapng packet data). Larger values are treated as corruption.
pub const MAX_CAPLEN: u32 = 256 * 1024;
/// Largest pcapng Interface Description Block accepted (its options are
/// parsed in memory). Blocks we skip are streamed, whatever their size.
pub const MAX_META_BLOCK: u32 = 1024 * 1024;
/// Most interfaces one pcapng section may describe. Each takes a small
/// entry in memory, more than its 20-byte minimal block takes in the file:
/// without a limit, a file of interface blocks alone would need about three
/// times its size in memory (found in review, session 15).
pub const MAX_INTERFACES: usize = 65_536;
/// Read buffer size: 4x the largest record, so a straddling record costs
/// a small move at most every few hundred KiB, yet small enough to stay in
/// a typical L2 cache between the kernel's copy and parsing (measured on
/// the 2M-packet bench: 256 KiB-2 MiB equally fast, 4 MiB ~3% slower,
/// 16 MiB ~25% slower in a read-only loop).
const READ_BUF: usize = 1024 * 1024;
/// A pcapng packet block up to this size is parsed in place even when it is
/// larger than the read buffer (which then grows to hold it); larger ones
/// (only possible with huge options) are streamed through the spill buffer.
/// Covers every block with up to [`MAX_CAPLEN`] packet bytes and modest
/// options.
const GROW_MAX: usize = MAX_CAPLEN as usize + 64 * 1024;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_PB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;

const WHAT_TRUNC_HDR: &str = "truncated capture file header";
const WHAT_BAD_HDR: &str = "unrecognized capture file header";
const WHAT_BAD_PCAP_HDR: &str = "corrupt pcap file header";
const WHAT_TRUNC_REC: &str = "truncated pcap record";
const WHAT_BAD_REC: &str = "corrupt pcap record";
const WHAT_TRUNC_BLOCK: &str = "truncated pcapng block";
const WHAT_BAD_BLOCK: &str = "corrupt pcapng block";
const TRUNC_HINT: &str = "(capture cut short, e.g. writer killed mid-write?)";

/// Timestamp unit of a pcapng interface, as a conversion to nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsRes {
    /// units of 10^-n s with n <= 9: multiply.
    Mul(u64),
    /// units of 10^-n s with n > 9: divide.
    Div(u128),
    /// units of 2^-n s: `t * 1e9 >> n`.
    Shift(u32),
}

impl TsRes {
    /// From the `if_tsresol` option byte.
    fn from_option(b: u8) -> TsRes {
        if b & 0x80 == 0 {
            let n = u32::from(b);
            if n <= 9 {
                TsRes::Mul(10u64.pow(9 - n))
            } else {
                // 10^(n-9) overflows u128 beyond n = 47: such units are so small
                // that every representable timestamp is 0 ns.
                TsRes::Div(10u128.checked_pow(n - 9).unwrap_or(u128::MAX))
            }
        } else {
            TsRes::Shift(u32::from(b & 0x7f))
        }
    }

    fn to_ns(self, t: u64) -> i64 {
        let v: u128 = match self {
            TsRes::Mul(m) => u128::from(t) * u128::from(m),
            TsRes::Div(d) => u128::from(t) / d,
            TsRes::Shift(n) => (u128::from(t) * 1_000_000_000) >> n,
        };
        i64::try_from(v).unwrap_or(i64::MAX)
    }
}

/// A pcapng interface (IDB) of the current section.
#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    res: TsRes,
    /// `if_tsoffset` in ns.
    offset_ns: i64,
}

#[derive(Debug)]
enum Format {
    Pcap {
        big: bool,
        nanos: bool,
        linktype: u32,
        /// Extra record-header bytes (8 for the Kuznetzov "modified" format).
        extra: usize,
    },
    Pcapng {
        big: bool,
        ifaces: Vec<Iface>,
        last_ts: i64,
    },
}

/// Where the bytes of the packet to hand out are.
#[derive(Debug, Clone, Copy)]
enum Loc {
    /// In the read buffer at this index (consumed, but untouched until the
    /// next read from the buffer).
    Buf(usize),
    /// At the start of the spill buffer.
    Spill,
}

/// Where a packet is, and its metadata.
#[derive(Debug, Clone, Copy)]
struct Meta {
    loc: Loc,
    ts_ns: i64,
    linktype: u32,
    caplen: usize,
    orig_len: u32,
    iface: u32,
}

/// An offline pcap / pcapng source. See the module docs.
pub struct FileSource {
    name: String,
    rd: Box<dyn Read + Send>,
    /// Bytes consumed so far = file offset of the next byte (`buf[head]`).
    pos: u64,
    total: Option<u64>,
    /// Read buffer; `buf[head..tail]` are the bytes read from `rd` and not
    /// consumed yet. Its length is its capacity (it only grows).
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    /// Packet bytes of a pcapng packet block too large for `buf`.
    spill: Vec<u8>,
    fmt: Format,
    stats: CaptureStats,
    /// Set after the first error or the end: `next()` then returns `End`.
    done: bool,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("name", &self.name)
            .field("pos", &self.pos)
            .field("total", &self.total)
            .field("fmt", &self.fmt)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

#[inline]
fn u16_of(b: [u8; 2], big: bool) -> u16 {
    if big {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    }
}

#[inline]
fn u32_of(b: [u8; 4], big: bool) -> u32 {
    if big {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// `N` bytes of `b` at `at`, zeros if out of range (callers index fixed-size
/// headers whose size they checked).
#[inline]
fn arr<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at.saturating_add(N)) {
        out.copy_from_slice(s);
    }
    out
}

#[inline]
fn pad4(n: u32) -> u64 {
    (u64::from(n) + 3) & !3
}

impl FileSource {
    /// Opens a capture file, detecting pcap or pcapng by its magic number.
    /// A missing, empty or unrecognized file is an error.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Io {
            path: name.clone(),
            source,
        })?;
        let total = file.metadata().ok().map(|m| m.len());
        let mut src = Self::from_reader(name, file)?;
        src.total = total;
        Ok(src)
    }

    /// Reads a capture from any reader (e.g. stdin or a decompressor); `name`
    /// is used in errors and [`Source::describe`]. Reads the file header now.
    pub fn from_reader(
        name: impl Into<String>,
        reader: impl Read + Send + 'static,
    ) -> Result<FileSource, CaptureError> {
        Self::with_buffer(name.into(), Box::new(reader), READ_BUF)
    }

    /// [`FileSource::from_reader`] with a read buffer of `buf_size` bytes
    /// (tests use tiny ones to put records across the buffer's end).
    pub(crate) fn with_buffer(
        name: String,
        rd: Box<dyn Read + Send>,
        buf_size: usize,
    ) -> Result<FileSource, CaptureError> {
        let mut src = FileSource {
            name,
            rd,
            pos: 0,
            total: None,
            buf: vec![0; buf_size],
            head: 0,
            tail: 0,
            spill: Vec::new(),
            fmt: Format::Pcap {
                big: false,
                nanos: false,
                linktype: 0,
                extra: 0,
            },
            stats: CaptureStats::default(),
            done: false,
        };
        src.read_file_header()?;
        Ok(src)
    }

    /// Size of the file in bytes, if known (files opened by path).
    pub fn total_bytes(&self) -> Option<u64> {
        self.total
    }

    /// Bytes consumed so far (for a progress bar).
    pub fn bytes_read(&self) -> u64 {
        self.pos
    }

    fn err(&self, offset: u64, what: &'static str, reason: String) -> CaptureError {
        CaptureError::Format {
            path: self.name.clone(),
            offset,
            what,
            reason,
        }
    }

    fn io_err(&self, source: io::Error) -> CaptureError {
        CaptureError::Io {
            path: self.name.clone(),
            source,
        }
    }

    /// Unconsumed bytes in the read buffer.
    #[inline]
    fn avail(&self) -> usize {
        self.tail - self.head
    }

    /// The unconsumed bytes in the read buffer.
    #[inline]
    fn peek(&self) -> &[u8] {
        self.buf.get(self.head..self.tail).unwrap_or_default()
    }

    /// Makes at least `n` unconsumed bytes available in the read buffer;
    /// returns how many are (fewer than `n` only at the end of the file).
    #[inline]
    fn ensure(&mut self, n: usize) -> Result<usize, CaptureError> {
        let a = self.avail();
        if a >= n {
            return Ok(a);
        }
        self.refill(n)
    }

    /// Slow path of [`Self::ensure`]: moves the unconsumed bytes (fewer
    /// than `n`: the partial record at the end of the buffer) to the front,
    /// grows the buffer if `n` does not fit (callers bound `n`), and reads
    /// until `n` bytes are there or the file ends.
    #[inline(never)]
    fn refill(&mut self, n: usize) -> Result<usize, CaptureError> {
        if self.head > 0 {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.tail < n {
            let Some(dst) = self.buf.get_mut(self.tail..) else {
                break;
            };
            let room = dst.len();
            match self.rd.read(dst) {
                Ok(0) => break,
                // min: a misbehaving reader cannot claim more than it was given.
                Ok(k) => self.tail += k.min(room),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e)),
            }
        }
        Ok(self.avail())
    }

    /// Marks `n` buffered bytes as read (they stay in place until the next
    /// [`Self::ensure`] that has to refill).
    #[inline]
    fn consume(&mut self, n: usize) {
        let n = n.min(self.avail());
        self.head += n;
        self.pos += n as u64;
    }

    /// Consumes everything buffered (after a short `ensure`: up to the end
    /// of the file, so `pos` is the file size, as truncation errors expect).
    fn consume_all(&mut self) {
        self.consume(self.avail());
    }

    /// Discards `n` bytes; returns the number discarded (< n at EOF).
    fn skip(&mut self, n: u64) -> Result<u64, CaptureError> {
        let mut left = n;
        loop {
            let take = usize::try_from(left).map_or(self.avail(), |l| l.min(self.avail()));
            self.consume(take);
            left -= take as u64;
            if left == 0 || self.refill(1)? == 0 {
                break;
            }
        }
        Ok(n - left)
    }

    fn read_file_header(&mut self) -> Result<(), CaptureError> {
        let got = self.ensure(4)?.min(4);
        let magic = arr::<4>(self.peek(), 0);
        self.consume(got);
        if got == 0 {
            return Err(self.err(0, WHAT_TRUNC_HDR, "file is empty (0 bytes)".into()));
        }
        if got < 4 {
            return Err(self.err(
                0,
                WHAT_TRUNC_HDR,
                format!("file is only {got} bytes long {TRUNC_HINT}"),
            ));
        }
        // (big-endian?, nanosecond?, extra record bytes)
        let pcap = match magic {
            [0xa1, 0xb2, 0xc3, 0xd4] => Some((true, false, 0)),
            [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false, 0)),
            [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true, 0)),
            [0x4d, 0x3c, 0xb2, 0xa1] => Some((false, true, 0)),
            [0xa1, 0xb2, 0xcd, 0x34] => Some((true, false, 8)),
            [0x34, 0xcd, 0xb2, 0xa1] => Some((false, false, 8)),
            _ => None,
        };
        if let Some((big, nanos, extra)) = pcap {
            return self.read_pcap_header(big, nanos, extra);
        }
        if u32::from_be_bytes(magic) == PCAPNG_SHB {
            self.fmt = Format::Pcapng {
                big: false,
                ifaces: Vec::new(),
                last_ts: 0,
            };
            return self.read_shb(0);
        }
        let hint = if magic[..2] == [0x1f, 0x8b] {
            " (gzip-compressed? decompress it first)"
        } else {
            ""
        };
        Err(self.err(
            0,
            WHAT_BAD_HDR,
            format!(
                "magic {:02x}{:02x}{:02x}{:02x} is neither pcap nor pcapng{hint}",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ))
    }

    /// The 20 bytes of the pcap global header after the magic.
    fn read_pcap_header(
        &mut self,
        big: bool,
        nanos: bool,
        extra: usize,
    ) -> Result<(), CaptureError> {
        // version_major u16, version_minor u16, thiszone i32, sigfigs u32,
        // snaplen u32, network (linktype + FCS bits) u32
        let got = self.ensure(20)?.min(20);
        let h = arr::<20>(self.peek(), 0);
        self.consume(got);
        if got < h.len() {
            return Err(self.err(
                0,
                WHAT_TRUNC_HDR,
                format!(
                    "pcap header ends after {} of 24 bytes {TRUNC_HINT}",
                    4 + got
                ),
            ));
        }
        let major = u16_of(arr(&h, 0), big);
        if major != 2 {
            return Err(self.err(
                0,
                WHAT_BAD_PCAP_HDR,
                format!(
                    "unsupported pcap version {major}.{}",
                    u16_of(arr(&h, 2), big)
                ),
            ));
        }
        // Lower 16 bits: LINKTYPE_*; bits 16..25 reserved; bit 26: FCS-length
        // present; bits 28..31: FCS length. Frames keep their FCS (if any).
        let linktype = u32_of(arr(&h, 16), big) & 0xFFFF;
        self.fmt = Format::Pcap {
            big,
            nanos,
            linktype,
            extra,
        };
        Ok(())
    }

    fn next_pcap(
        &mut self,
        big: bool,
        nanos: bool,
        linktype: u32,
        extra: usize,
    ) -> Result<Option<Meta>, CaptureError> {
        let off = self.pos;
        // ts_sec u32, ts_frac u32 (µs or ns), caplen u32, orig_len u32
        // [+ ifindex u32, protocol u16, pkt_type u8, pad u8 for "modified" pcap]
        let hl = 16 + extra;
        let got = self.ensure(hl)?;
        if got == 0 {
            return Ok(None);
        }
        if got < hl {
            self.consume_all();
            return Err(self.err(
                off,
                WHAT_TRUNC_REC,
                format!("file ends after {got} of {hl} record header bytes {TRUNC_HINT}"),
            ));
        }
        let h = self.peek();
        let sec = u32_of(arr(h, 0), big);
        let frac = u32_of(arr(h, 4), big);
        let caplen = u32_of(arr(h, 8), big);
        let orig_len = u32_of(arr(h, 12), big);
        if caplen > MAX_CAPLEN {
            self.consume(hl);
            return Err(self.err(
                off,
                WHAT_BAD_REC,
                format!("captured length {caplen} exceeds the maximum {MAX_CAPLEN}"),
            ));
        }
        let n = caplen as usize;
        // Header and data in the buffer (grows at most to 24 + MAX_CAPLEN).
        let got = self.ensure(hl + n)?;
        if got < hl + n {
            self.consume_all();
            let got = got - hl;
            return Err(self.err(
                off,
                WHAT_TRUNC_REC,
                format!("file ends after {got} of {caplen} packet bytes {TRUNC_HINT}"),
            ));
        }
        let at = self.head + hl;
        self.consume(hl + n);
        let frac_ns = if nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        // u32 seconds * 1e9 + frac < 2^63: no overflow.
        let ts_ns = (u64::from(sec) * 1_000_000_000 + frac_ns) as i64;
        Ok(Some(Meta {
            loc: Loc::Buf(at),
            ts_ns,
            linktype,
            caplen: n,
            orig_len: orig_len.max(caplen),
            iface: 0,
        }))
    }

    /// Reads the trailing block length and checks it against the leading one.
    fn check_trailer(&mut self, off: u64, blen: u32, big: bool) -> Result<(), CaptureError> {
        if self.ensure(4)? < 4 {
            return Err(self.trunc_eof(off, blen));
        }
        let tl = u32_of(arr(self.peek(), 0), big);
        self.consume(4);
        if tl != blen {
            return Err(self.trailer_mismatch(off, blen, tl));
        }
        Ok(())
    }

    fn trailer_mismatch(&self, off: u64, blen: u32, tl: u32) -> CaptureError {
        self.err(
            off,
            WHAT_BAD_BLOCK,
            format!("trailing block length {tl} does not match leading block length {blen}"),
        )
    }

    /// The rest of a pcapng packet block at `off` (the 8-byte block header
    /// is consumed): a fixed part of `fixed` bytes (already checked), `n`
    /// packet bytes, padding and options, and the trailing length. Returns
    /// where the packet bytes are and consumes the block.
    fn packet_block_rest(
        &mut self,
        off: u64,
        blen: u32,
        big: bool,
        fixed: usize,
        n: usize,
    ) -> Result<Loc, CaptureError> {
        let rest = blen as usize - 8;
        if rest <= self.buf.len().max(GROW_MAX) {
            // Usual case: the whole block in the buffer, parsed in place.
            if self.ensure(rest)? < rest {
                return Err(self.trunc_eof(off, blen));
            }
            let start = self.head;
            let tl = u32_of(arr(self.peek(), rest - 4), big);
            self.consume(rest);
            if tl != blen {
                return Err(self.trailer_mismatch(off, blen, tl));
            }
            return Ok(Loc::Buf(start + fixed));
        }
        // A block larger than the buffer (huge options): set the packet
        // bytes aside, then stream over the rest.
        let need = fixed + n;
        if self.ensure(need)? < need {
            return Err(self.trunc_eof(off, blen));
        }
        let data = self
            .buf
            .get(self.head + fixed..self.head + need)
            .unwrap_or_default();
        self.spill.clear();
        self.spill.extend_from_slice(data);
        self.consume(need);
        self.skip_in_block(off, blen, (rest - 4).saturating_sub(need) as u64)?;
        self.check_trailer(off, blen, big)?;
        Ok(Loc::Spill)
    }

    /// [`Self::trunc_block`] after a short read: consumes the rest of the
    /// file first, so the error counts every byte of the block there is.
    fn trunc_eof(&mut self, off: u64, blen: u32) -> CaptureError {
        self.consume_all();
        self.trunc_block(off, blen)
    }

    fn trunc_block(&self, off: u64, blen: u32) -> CaptureError {
        let have = self.pos.saturating_sub(off);
        self.err(
            off,
            WHAT_TRUNC_BLOCK,
            format!("file ends after {have} of {blen} block bytes {TRUNC_HINT}"),
        )
    }

    /// Skips `n` bytes inside the block at `off`, or reports truncation.
    fn skip_in_block(&mut self, off: u64, blen: u32, n: u64) -> Result<(), CaptureError> {
        if self.skip(n)? < n {
            return Err(self.trunc_block(off, blen));
        }
        Ok(())
    }

    /// Section Header Block at `off`; its 4-byte type was already consumed.
    fn read_shb(&mut self, off: u64) -> Result<(), CaptureError> {
        // block total length u32, byte-order magic u32, major u16, minor u16,
        // section length i64, options..., block total length u32
        let got = self.ensure(12)?.min(12);
        let h = arr::<12>(self.peek(), 0);
        self.consume(got);
        if got < h.len() {
            return Err(self.err(
                off,
                WHAT_TRUNC_BLOCK,
                format!(
                    "section header ends after {} of 16 header bytes {TRUNC_HINT}",
                    4 + got
                ),
            ));
        }
        let big = match arr::<4>(&h, 4) {
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            m => {
                return Err(self.err(
                    off,
                    WHAT_BAD_BLOCK,
                    format!(
                        "section header byte-order magic {:02x}{:02x}{:02x}{:02x} is invalid",
                        m[0], m[1], m[2], m[3]
                    ),
                ))
            }
        };
        let blen = u32_of(arr(&h, 0), big);
        if blen < 28 || !blen.is_multiple_of(4) {
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!(
                    "section header block length {blen} is invalid (minimum 28, multiple of 4)"
                ),
            ));
        }
        let major = u16_of(arr(&h, 8), big);
        if major != 1 {
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!(
                    "unsupported pcapng version {major}.{}",
                    u16_of(arr(&h, 10), big)
                ),
            ));
        }
        // Section length and options are not needed.
        self.skip_in_block(off, blen, u64::from(blen) - 16 - 4)?;
        self.check_trailer(off, blen, big)?;
        // A new section: new byte order, interface numbering restarts.
        if let Format::Pcapng { big: b, ifaces, .. } = &mut self.fmt {
            *b = big;
            ifaces.clear();
        }
        Ok(())
    }

    fn next_pcapng(&mut self) -> Result<Option<Meta>, CaptureError> {
        loop {
            let Format::Pcapng { big, .. } = self.fmt else {
                return Ok(None);
            };
            let off = self.pos;
            let got = self.ensure(8)?;
            if got == 0 {
                return Ok(None);
            }
            if got < 4 {
                self.consume_all();
                return Err(self.err(
                    off,
                    WHAT_TRUNC_BLOCK,
                    format!("file ends after {got} of 8 block header bytes {TRUNC_HINT}"),
                ));
            }
            let btype = u32_of(arr(self.peek(), 0), big);
            if btype == PCAPNG_SHB {
                self.consume(4);
                self.read_shb(off)?;
                continue;
            }
            if got < 8 {
                self.consume_all();
                let got = got - 4;
                return Err(self.err(
                    off,
                    WHAT_TRUNC_BLOCK,
                    format!(
                        "file ends after {} of 8 block header bytes {TRUNC_HINT}",
                        4 + got
                    ),
                ));
            }
            let blen = u32_of(arr(self.peek(), 4), big);
            self.consume(8);
            if blen < 12 {
                return Err(self.err(
                    off,
                    WHAT_BAD_BLOCK,
                    format!("block length {blen} too small"),
                ));
            }
            if !blen.is_multiple_of(4) {
                return Err(self.err(
                    off,
                    WHAT_BAD_BLOCK,
                    format!("block length {blen} is not a multiple of 4"),
                ));
            }
            let body = blen - 12;
            match btype {
                PCAPNG_IDB => self.read_idb(off, blen, big)?,
                PCAPNG_EPB | PCAPNG_PB => return self.read_epb(off, blen, big, btype).map(Some),
                PCAPNG_SPB => return self.read_spb(off, blen, big).map(Some),
                _ => {
                    // NRB, ISB, DSB, custom and unknown blocks.
                    self.skip_in_block(off, blen, u64::from(body))?;
                    self.check_trailer(off, blen, big)?;
                }
            }
        }
    }

    fn read_idb(&mut self, off: u64, blen: u32, big: bool) -> Result<(), CaptureError> {
        if blen > MAX_META_BLOCK {
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("interface description block length {blen} exceeds {MAX_META_BLOCK}"),
            ));
        }
        let body = (blen - 12) as usize;
        if body < 8 {
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("interface description block length {blen} too small (minimum 20)"),
            ));
        }
        // Body and trailer in the buffer (grows at most to MAX_META_BLOCK).
        let rest = body + 4;
        if self.ensure(rest)? < rest {
            return Err(self.trunc_eof(off, blen));
        }
        let start = self.head;
        let tl = u32_of(arr(self.peek(), body), big);
        // Consumed, but the bytes stay in place while we parse them.
        self.consume(rest);
        if tl != blen {
            return Err(self.trailer_mismatch(off, blen, tl));
        }
        // linktype u16, reserved u16, snaplen u32, options
        let b = self.buf.get(start..start + body).unwrap_or_default();
        let linktype = u32::from(u16_of(arr(b, 0), big));
        let snaplen = u32_of(arr(b, 4), big);
        let mut res = TsRes::Mul(1000); // default: microseconds
        let mut offset_s: i64 = 0;
        let mut p = 8usize;
        let mut bad: Option<String> = None;
        while p + 4 <= b.len() {
            let code = u16_of(arr(b, p), big);
            let len = usize::from(u16_of(arr(b, p + 2), big));
            p += 4;
            if code == 0 {
                break; // opt_endofopt
            }
            let Some(val) = b.get(p..p + len) else {
                bad = Some(format!("option {code} of length {len} overruns the block"));
                break;
            };
            match (code, len) {
                (9, 1) => res = TsRes::from_option(val.first().copied().unwrap_or(6)),
                (14, 8) if big => offset_s = i64::from_be_bytes(arr(val, 0)),
                (14, 8) => offset_s = i64::from_le_bytes(arr(val, 0)),
                _ => {}
            }
            p += (len + 3) & !3;
        }
        if let Some(reason) = bad {
            return Err(self.err(off, WHAT_BAD_BLOCK, reason));
        }
        let described = match &self.fmt {
            Format::Pcapng { ifaces, .. } => ifaces.len(),
            Format::Pcap { .. } => 0,
        };
        if described >= MAX_INTERFACES {
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("more than {MAX_INTERFACES} interfaces in one section"),
            ));
        }
        if let Format::Pcapng { ifaces, .. } = &mut self.fmt {
            ifaces.push(Iface {
                linktype,
                snaplen,
                res,
                offset_ns: offset_s.saturating_mul(1_000_000_000),
            });
        }
        Ok(())
    }

    fn iface(&self, id: u32) -> Option<Iface> {
        match &self.fmt {
            Format::Pcapng { ifaces, .. } => ifaces.get(id as usize).copied(),
            Format::Pcap { .. } => None,
        }
    }

    fn no_iface(&self, off: u64, id: u32) -> CaptureError {
        let n = match &self.fmt {
            Format::Pcapng { ifaces, .. } => ifaces.len(),
            Format::Pcap { .. } => 0,
        };
        self.err(
            off,
            WHAT_BAD_BLOCK,
            format!("packet refers to interface {id} but the section defines {n} interface(s)"),
        )
    }

    /// Enhanced Packet Block (type 6) or obsolete Packet Block (type 2).
    fn read_epb(
        &mut self,
        off: u64,
        blen: u32,
        big: bool,
        btype: u32,
    ) -> Result<Meta, CaptureError> {
        let body = blen - 12;
        // EPB: interface id u32, ts high u32, ts low u32, caplen u32, orig_len u32
        // PB:  interface id u16, drops u16, ts high, ts low, caplen, orig_len
        if body < 20 {
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("packet block length {blen} too small (minimum 32)"),
            ));
        }
        if self.ensure(20)? < 20 {
            return Err(self.trunc_eof(off, blen));
        }
        let h = arr::<20>(self.peek(), 0);
        let id = if btype == PCAPNG_PB {
            u32::from(u16_of(arr(&h, 0), big))
        } else {
            u32_of(arr(&h, 0), big)
        };
        let ts = (u64::from(u32_of(arr(&h, 4), big)) << 32) | u64::from(u32_of(arr(&h, 8), big));
        let caplen = u32_of(arr(&h, 12), big);
        let orig_len = u32_of(arr(&h, 16), big);
        if caplen > MAX_CAPLEN {
            self.consume(20);
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("captured length {caplen} exceeds the maximum {MAX_CAPLEN}"),
            ));
        }
        if 20 + pad4(caplen) > u64::from(body) {
            self.consume(20);
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("captured length {caplen} does not fit in block length {blen}"),
            ));
        }
        let Some(ifc) = self.iface(id) else {
            self.consume(20);
            return Err(self.no_iface(off, id));
        };
        let n = caplen as usize;
        let loc = self.packet_block_rest(off, blen, big, 20, n)?;
        let ts_ns = ifc.res.to_ns(ts).saturating_add(ifc.offset_ns);
        if let Format::Pcapng { last_ts, .. } = &mut self.fmt {
            *last_ts = ts_ns;
        }
        Ok(Meta {
            loc,
            ts_ns,
            linktype: ifc.linktype,
            caplen: n,
            orig_len: orig_len.max(caplen),
            iface: id,
        })
    }

    /// Simple Packet Block: interface 0, no timestamp (the previous packet's
    /// is used), captured length = min(orig_len, snaplen, room in the block).
    fn read_spb(&mut self, off: u64, blen: u32, big: bool) -> Result<Meta, CaptureError> {
        let body = blen - 12;
        if body < 4 {
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("simple packet block length {blen} too small (minimum 16)"),
            ));
        }
        if self.ensure(4)? < 4 {
            return Err(self.trunc_eof(off, blen));
        }
        let orig_len = u32_of(arr(self.peek(), 0), big);
        let Some(ifc) = self.iface(0) else {
            self.consume(4);
            return Err(self.no_iface(off, 0));
        };
        // Packet data length = min(orig_len, snaplen) (snaplen 0 = none),
        // clamped to what the block holds (lenient with sloppy writers).
        let mut caplen = orig_len;
        if ifc.snaplen > 0 {
            caplen = caplen.min(ifc.snaplen);
        }
        caplen = caplen.min(body - 4);
        if caplen > MAX_CAPLEN {
            self.consume(4);
            return Err(self.err(
                off,
                WHAT_BAD_BLOCK,
                format!("captured length {caplen} exceeds the maximum {MAX_CAPLEN}"),
            ));
        }
        let n = caplen as usize;
        let loc = self.packet_block_rest(off, blen, big, 4, n)?;
        let ts_ns = match &self.fmt {
            Format::Pcapng { last_ts, .. } => *last_ts,
            Format::Pcap { .. } => 0,
        };
        Ok(Meta {
            loc,
            ts_ns,
            linktype: ifc.linktype,
            caplen: n,
            orig_len: orig_len.max(caplen),
            iface: 0,
        })
    }
}

impl Source for FileSource {
    /// Next frame, or `End` at a clean end of file. After an error (returned
    /// once, naming the file and byte offset), further calls return `End`.
    fn next(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.done {
            return Ok(Next::End);
        }
        let r = match self.fmt {
            Format::Pcap {
                big,
                nanos,
                linktype,
                extra,
            } => self.next_pcap(big, nanos, linktype, extra),
            Format::Pcapng { .. } => self.next_pcapng(),
        };
        let meta = match r {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.done = true;
                return Ok(Next::End);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        let data = match meta.loc {
            Loc::Buf(at) => self.buf.get(at..at + meta.caplen),
            Loc::Spill => self.spill.get(..meta.caplen),
        }
        .unwrap_or_default();
        self.stats.packets += 1;
        self.stats.bytes += data.len() as u64;
        Ok(Next::Frame(Frame {
            ts_ns: meta.ts_ns,
            linktype: meta.linktype,
            data,
            orig_len: meta.orig_len,
            iface: meta.iface,
        }))
    }

    fn stats(&mut self) -> CaptureStats {
        self.stats
    }

    fn describe(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests;
