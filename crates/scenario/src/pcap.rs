//! Classic pcap and pcapng writers (little-endian files).

use std::io::Write;

use crate::{Error, Result};

/// Link-layer header types (LINKTYPE_* values, identical in pcap and pcapng).
pub mod linktype {
    /// BSD loopback: 4-byte host-order address family, then the IP packet.
    pub const NULL: u32 = 0;
    /// Ethernet II (optionally with 802.1Q / 802.1ad tags).
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4/IPv6, no link header.
    pub const RAW: u32 = 101;
    /// Linux "cooked" capture v1 (16-byte header).
    pub const LINUX_SLL: u32 = 113;
    /// Linux "cooked" capture v2 (20-byte header).
    pub const LINUX_SLL2: u32 = 276;

    /// Human-readable name of a link type this crate knows.
    pub fn name(lt: u32) -> &'static str {
        match lt {
            NULL => "null",
            ETHERNET => "ethernet",
            RAW => "raw",
            LINUX_SLL => "linux_sll",
            LINUX_SLL2 => "linux_sll2",
            _ => "unknown",
        }
    }
}

/// Default snapshot length recorded in file headers.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// Classic pcap magic, microsecond timestamps.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Classic pcap magic, nanosecond timestamps.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Classic pcap writer. Writes the 24-byte global header on construction.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    nanosecond: bool,
    linktype: u32,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// New writer with the default snaplen (262144).
    pub fn new(w: W, linktype: u32, nanosecond: bool) -> Result<Self> {
        Self::with_snaplen(w, linktype, nanosecond, DEFAULT_SNAPLEN)
    }

    /// New writer recording `snaplen` in the global header.
    pub fn with_snaplen(mut w: W, linktype: u32, nanosecond: bool, snaplen: u32) -> Result<Self> {
        let mut h = [0u8; 24];
        let magic = if nanosecond {
            MAGIC_NANOS
        } else {
            MAGIC_MICROS
        };
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone (8..12) and sigfigs (12..16) stay zero.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter {
            w,
            nanosecond,
            linktype,
            packets: 0,
            bytes: 0,
        })
    }

    /// The file's link type.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Write a whole frame (captured length = original length).
    pub fn write(&mut self, ts_ns: i64, frame: &[u8]) -> Result<()> {
        self.write_record(ts_ns, frame, frame.len())
    }

    /// Write a frame truncated to `snaplen` bytes; the original length stays `frame.len()`.
    pub fn write_truncated(&mut self, ts_ns: i64, frame: &[u8], snaplen: u32) -> Result<()> {
        let incl = frame.len().min(snaplen as usize);
        self.write_record(ts_ns, &frame[..incl], frame.len())
    }

    /// Write a record with explicit captured bytes and original length.
    pub fn write_record(&mut self, ts_ns: i64, captured: &[u8], orig_len: usize) -> Result<()> {
        if ts_ns < 0 {
            return Err(Error::TimestampOutOfRange(ts_ns));
        }
        let secs = ts_ns / 1_000_000_000;
        let sub = ts_ns % 1_000_000_000;
        let secs = u32::try_from(secs).map_err(|_| Error::TimestampOutOfRange(ts_ns))?;
        let frac = if self.nanosecond { sub } else { sub / 1000 } as u32;
        let incl =
            u32::try_from(captured.len()).map_err(|_| Error::FrameTooLarge(captured.len()))?;
        let orig = u32::try_from(orig_len).map_err(|_| Error::FrameTooLarge(orig_len))?;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(captured)?;
        self.packets += 1;
        self.bytes += 16 + captured.len() as u64;
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes written so far (including the 24-byte header).
    pub fn bytes_written(&self) -> u64 {
        24 + self.bytes
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.w.flush()?;
        Ok(())
    }

    /// Flush and return the underlying writer.
    pub fn into_inner(mut self) -> Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// pcapng block type: Section Header Block.
pub const BT_SHB: u32 = 0x0A0D_0D0A;
/// pcapng block type: Interface Description Block.
pub const BT_IDB: u32 = 0x0000_0001;
/// pcapng block type: Enhanced Packet Block.
pub const BT_EPB: u32 = 0x0000_0006;

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    tsresol: u8,
}

/// pcapng writer: one section, any number of interfaces (each with its own link type and
/// base-10 timestamp resolution), Enhanced Packet Blocks.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    w: W,
    ifaces: Vec<Iface>,
    packets: u64,
}

fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

impl<W: Write> PcapNgWriter<W> {
    /// New writer; writes the Section Header Block (with an `shb_userappl` option).
    pub fn new(mut w: W) -> Result<Self> {
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        push_option(&mut body, 4, b"tw-scenario"); // shb_userappl
        push_option(&mut body, 0, &[]); // opt_endofopt
        write_block(&mut w, BT_SHB, &body)?;
        Ok(PcapNgWriter {
            w,
            ifaces: Vec::new(),
            packets: 0,
        })
    }

    /// Add an interface (IDB). `tsresol_exponent` is the base-10 exponent: 6 = µs, 9 = ns.
    /// Returns the interface id to pass to [`write`](Self::write).
    pub fn add_interface(&mut self, linktype: u32, tsresol_exponent: u8) -> Result<u32> {
        self.add_interface_named(linktype, tsresol_exponent, None)
    }

    /// Like [`add_interface`](Self::add_interface) with an optional `if_name` option.
    pub fn add_interface_named(
        &mut self,
        linktype: u32,
        tsresol_exponent: u8,
        name: Option<&str>,
    ) -> Result<u32> {
        if tsresol_exponent > 9 {
            return Err(Error::BadTsResol(tsresol_exponent));
        }
        let linktype16 =
            u16::try_from(linktype).map_err(|_| Error::UnsupportedLinkType(linktype))?;
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&linktype16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&DEFAULT_SNAPLEN.to_le_bytes());
        if let Some(n) = name {
            push_option(&mut body, 2, n.as_bytes()); // if_name
        }
        push_option(&mut body, 9, &[tsresol_exponent]); // if_tsresol
        push_option(&mut body, 0, &[]);
        write_block(&mut self.w, BT_IDB, &body)?;
        self.ifaces.push(Iface {
            linktype,
            tsresol: tsresol_exponent,
        });
        Ok(self.ifaces.len() as u32 - 1)
    }

    /// Link type of a registered interface.
    pub fn interface_linktype(&self, iface: u32) -> Option<u32> {
        self.ifaces.get(iface as usize).map(|i| i.linktype)
    }

    /// Write a whole frame as an Enhanced Packet Block on interface `iface`.
    pub fn write(&mut self, iface: u32, ts_ns: i64, frame: &[u8]) -> Result<()> {
        self.write_record(iface, ts_ns, frame, frame.len())
    }

    /// Write a frame truncated to `snaplen` bytes (original length = `frame.len()`).
    pub fn write_truncated(
        &mut self,
        iface: u32,
        ts_ns: i64,
        frame: &[u8],
        snaplen: u32,
    ) -> Result<()> {
        let incl = frame.len().min(snaplen as usize);
        self.write_record(iface, ts_ns, &frame[..incl], frame.len())
    }

    /// Write an EPB with explicit captured bytes and original length.
    pub fn write_record(
        &mut self,
        iface: u32,
        ts_ns: i64,
        captured: &[u8],
        orig_len: usize,
    ) -> Result<()> {
        let info = *self
            .ifaces
            .get(iface as usize)
            .ok_or(Error::UnknownInterface(iface))?;
        if ts_ns < 0 {
            return Err(Error::TimestampOutOfRange(ts_ns));
        }
        let div = 10u64.pow(9 - info.tsresol as u32);
        let units = ts_ns as u64 / div;
        let incl =
            u32::try_from(captured.len()).map_err(|_| Error::FrameTooLarge(captured.len()))?;
        let orig = u32::try_from(orig_len).map_err(|_| Error::FrameTooLarge(orig_len))?;
        let padded = (captured.len() + 3) & !3;
        let total = 28 + padded as u32 + 4;
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&BT_EPB.to_le_bytes());
        h[4..8].copy_from_slice(&total.to_le_bytes());
        h[8..12].copy_from_slice(&iface.to_le_bytes());
        h[12..16].copy_from_slice(&((units >> 32) as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(units as u32).to_le_bytes());
        h[20..24].copy_from_slice(&incl.to_le_bytes());
        h[24..28].copy_from_slice(&orig.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(captured)?;
        self.w.write_all(&[0u8; 3][..padded - captured.len()])?;
        self.w.write_all(&total.to_le_bytes())?;
        self.packets += 1;
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flush and return the underlying writer.
    pub fn into_inner(mut self) -> Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

fn write_block<W: Write>(w: &mut W, block_type: u32, body: &[u8]) -> Result<()> {
    debug_assert!(body.len().is_multiple_of(4));
    let total = 12 + body.len() as u32;
    w.write_all(&block_type.to_le_bytes())?;
    w.write_all(&total.to_le_bytes())?;
    w.write_all(body)?;
    w.write_all(&total.to_le_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_header_and_record_bytes() {
        let mut w = PcapWriter::new(Vec::new(), linktype::ETHERNET, false).unwrap();
        w.write(1_500_000_123_000_456_789, &[0xaa, 0xbb, 0xcc])
            .unwrap();
        w.write_truncated(2_000_000_000, &[1, 2, 3, 4, 5], 2)
            .unwrap();
        let b = w.into_inner().unwrap();
        let expected_hdr: [u8; 24] = [
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x04, 0x00, 1,
            0, 0, 0,
        ];
        assert_eq!(&b[..24], &expected_hdr);
        // 1_500_000_123 s; 456_789 ns -> 456 µs.
        assert_eq!(&b[24..28], &1_500_000_123u32.to_le_bytes());
        assert_eq!(&b[28..32], &456u32.to_le_bytes());
        assert_eq!(&b[32..36], &3u32.to_le_bytes());
        assert_eq!(&b[36..40], &3u32.to_le_bytes());
        assert_eq!(&b[40..43], &[0xaa, 0xbb, 0xcc]);
        // truncated record: incl 2, orig 5
        assert_eq!(&b[43..47], &2u32.to_le_bytes());
        assert_eq!(&b[47..51], &0u32.to_le_bytes());
        assert_eq!(&b[51..55], &2u32.to_le_bytes());
        assert_eq!(&b[55..59], &5u32.to_le_bytes());
        assert_eq!(&b[59..], &[1, 2]);
    }

    #[test]
    fn pcap_nanosecond_magic() {
        let mut w = PcapWriter::new(Vec::new(), linktype::RAW, true).unwrap();
        w.write(1_000_000_007, &[0x45]).unwrap();
        let b = w.into_inner().unwrap();
        assert_eq!(&b[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&b[20..24], &101u32.to_le_bytes());
        assert_eq!(&b[28..32], &7u32.to_le_bytes());
        let mut w = PcapWriter::new(Vec::new(), linktype::RAW, true).unwrap();
        assert!(w.write(-1, &[0]).is_err());
        assert!(w.write(i64::MAX, &[0]).is_err());
    }

    /// Walk pcapng blocks, checking lengths and returning (type, body) pairs.
    pub(crate) fn walk_pcapng(b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut off = 0;
        while off < b.len() {
            let bt = u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
            let len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0, "block length multiple of 4");
            assert!(len >= 12);
            let trail = u32::from_le_bytes(b[off + len - 4..off + len].try_into().unwrap());
            assert_eq!(trail as usize, len, "trailing length matches");
            out.push((bt, b[off + 8..off + len - 4].to_vec()));
            off += len;
        }
        assert_eq!(off, b.len());
        out
    }

    #[test]
    fn pcapng_blocks_well_formed() {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        let a = w.add_interface(linktype::ETHERNET, 6).unwrap();
        let c = w
            .add_interface_named(linktype::RAW, 9, Some("tun0"))
            .unwrap();
        assert_eq!((a, c), (0, 1));
        w.write(a, 1_000_001_999, &[1, 2, 3, 4, 5]).unwrap();
        w.write(c, 1_000_001_999, &[9; 8]).unwrap();
        w.write_truncated(c, 5, &[7; 10], 3).unwrap();
        assert!(w.write(7, 0, &[]).is_err());
        assert!(w.add_interface(1, 10).is_err());
        let b = w.into_inner().unwrap();
        let blocks = walk_pcapng(&b);
        let types: Vec<u32> = blocks.iter().map(|x| x.0).collect();
        assert_eq!(types, vec![BT_SHB, BT_IDB, BT_IDB, BT_EPB, BT_EPB, BT_EPB]);
        assert_eq!(&blocks[0].1[..4], &0x1A2B_3C4Du32.to_le_bytes());
        // IDB: linktype, reserved, snaplen, then if_tsresol option.
        assert_eq!(&blocks[1].1[..2], &1u16.to_le_bytes());
        assert_eq!(&blocks[1].1[8..13], &[9, 0, 1, 0, 6]);
        // EPB on µs interface: 1_000_001 µs.
        let epb = &blocks[3].1;
        assert_eq!(&epb[..4], &0u32.to_le_bytes());
        assert_eq!(
            u32::from_le_bytes(epb[8..12].try_into().unwrap()),
            1_000_001
        );
        assert_eq!(&epb[12..16], &5u32.to_le_bytes());
        assert_eq!(&epb[20..25], &[1, 2, 3, 4, 5]);
        // EPB on ns interface.
        let epb = &blocks[4].1;
        assert_eq!(
            u32::from_le_bytes(epb[8..12].try_into().unwrap()),
            1_000_001_999
        );
        // truncated
        let epb = &blocks[5].1;
        assert_eq!(&epb[12..16], &3u32.to_le_bytes());
        assert_eq!(&epb[16..20], &10u32.to_le_bytes());
    }
}
