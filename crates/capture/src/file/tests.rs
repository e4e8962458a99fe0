//! Tests of the pcap/pcapng reader on hand-written byte vectors.

use super::*;
use crate::linktype;
use std::io::Cursor;

/// A frame copied out of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct F {
    ts: i64,
    lt: u32,
    data: Vec<u8>,
    orig: u32,
    iface: u32,
}

fn src(bytes: &[u8]) -> Result<FileSource, CaptureError> {
    FileSource::from_reader("t.cap", Cursor::new(bytes.to_vec()))
}

/// All frames, then the error (if the file did not end cleanly).
fn read_all(bytes: &[u8]) -> (Vec<F>, Option<CaptureError>) {
    let mut s = match src(bytes) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match s.next() {
            Ok(Next::Frame(f)) => out.push(F {
                ts: f.ts_ns,
                lt: f.linktype,
                data: f.data.to_vec(),
                orig: f.orig_len,
                iface: f.iface,
            }),
            Ok(Next::End) => {
                // End is sticky.
                assert!(matches!(s.next(), Ok(Next::End)));
                return (out, None);
            }
            Ok(Next::Idle) => panic!("file source returned Idle"),
            Err(e) => {
                // After an error the source is finished.
                assert!(matches!(s.next(), Ok(Next::End)));
                return (out, Some(e));
            }
        }
    }
}

fn frames_ok(bytes: &[u8]) -> Vec<F> {
    let (f, e) = read_all(bytes);
    assert!(e.is_none(), "unexpected error {e:?}");
    f
}

fn f(ts: i64, lt: u32, data: &[u8], orig: u32, iface: u32) -> F {
    F {
        ts,
        lt,
        data: data.to_vec(),
        orig,
        iface,
    }
}

// ---------------------------------------------------------------- pcap ----

/// Little-endian, microsecond pcap with two records.
#[rustfmt::skip]
const PCAP_LE_US: &[u8] = &[
    // global header
    0xd4, 0xc3, 0xb2, 0xa1, // magic a1b2c3d4 written little-endian (µs)
    0x02, 0x00, 0x04, 0x00, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0xff, 0xff, 0x00, 0x00, // snaplen 65535
    0x01, 0x00, 0x00, 0x00, // linktype 1 = ETHERNET
    // record 1 at offset 24
    0x01, 0x00, 0x00, 0x00, // ts_sec 1
    0x02, 0x00, 0x00, 0x00, // ts_usec 2
    0x04, 0x00, 0x00, 0x00, // caplen 4
    0x3c, 0x00, 0x00, 0x00, // orig_len 60
    0xde, 0xad, 0xbe, 0xef, // data
    // record 2 at offset 44
    0x00, 0x5e, 0xd0, 0xb2, // ts_sec 3000000000 (after 2038: u32)
    0x3f, 0x42, 0x0f, 0x00, // ts_usec 999999
    0x01, 0x00, 0x00, 0x00, // caplen 1
    0x01, 0x00, 0x00, 0x00, // orig_len 1
    0xaa,                   // data
];

#[test]
fn pcap_le_usec() {
    let got = frames_ok(PCAP_LE_US);
    assert_eq!(
        got,
        vec![
            f(
                1_000_002_000,
                linktype::ETHERNET,
                &[0xde, 0xad, 0xbe, 0xef],
                60,
                0
            ),
            f(3_000_000_000_999_999_000, linktype::ETHERNET, &[0xaa], 1, 0),
        ]
    );
    let mut s = src(PCAP_LE_US).unwrap();
    while let Ok(Next::Frame(_)) = s.next() {}
    assert_eq!(s.bytes_read(), PCAP_LE_US.len() as u64);
    assert_eq!(s.total_bytes(), None);
    assert_eq!(
        s.stats(),
        CaptureStats {
            packets: 2,
            bytes: 5,
            ..Default::default()
        }
    );
    assert_eq!(s.describe(), "t.cap");
}

/// Big-endian, nanosecond pcap, linktype field with FCS bits set.
#[rustfmt::skip]
const PCAP_BE_NS: &[u8] = &[
    0xa1, 0xb2, 0x3c, 0x4d, // magic a1b23c4d big-endian (ns)
    0x00, 0x02, 0x00, 0x04, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0x00, 0x04, 0x00, 0x00, // snaplen 262144
    0x24, 0x00, 0x00, 0x65, // FCS len 2 (bits 28..31), F bit 26, linktype 101 = RAW
    // record at 24
    0x00, 0x00, 0x00, 0x02, // ts_sec 2
    0x00, 0x00, 0x00, 0x07, // ts_nsec 7
    0x00, 0x00, 0x00, 0x02, // caplen 2
    0x00, 0x00, 0x00, 0x02, // orig_len 2
    0x45, 0x00,             // data
];

#[test]
fn pcap_be_nsec_and_fcs_bits_masked() {
    assert_eq!(
        frames_ok(PCAP_BE_NS),
        vec![f(2_000_000_007, linktype::RAW, &[0x45, 0], 2, 0)]
    );
}

#[test]
fn pcap_le_nsec_and_be_usec() {
    // Same content as PCAP_LE_US / PCAP_BE_NS with the other magic: only the
    // timestamp unit changes.
    let mut le_ns = PCAP_LE_US.to_vec();
    le_ns[..4].copy_from_slice(&[0x4d, 0x3c, 0xb2, 0xa1]);
    assert_eq!(frames_ok(&le_ns)[0].ts, 1_000_000_002);
    let mut be_us = PCAP_BE_NS.to_vec();
    be_us[..4].copy_from_slice(&[0xa1, 0xb2, 0xc3, 0xd4]);
    assert_eq!(frames_ok(&be_us)[0].ts, 2_000_007_000);
}

#[test]
fn pcap_modified_kuznetzov() {
    #[rustfmt::skip]
    let b: &[u8] = &[
        0x34, 0xcd, 0xb2, 0xa1, // magic a1b2cd34 little-endian
        0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
        0xff, 0xff, 0x00, 0x00, // snaplen
        0x01, 0x00, 0x00, 0x00, // ETHERNET
        0x05, 0x00, 0x00, 0x00, // ts_sec 5
        0x00, 0x00, 0x00, 0x00, // ts_usec
        0x01, 0x00, 0x00, 0x00, // caplen 1
        0x01, 0x00, 0x00, 0x00, // orig 1
        0x02, 0x00, 0x00, 0x00, // ifindex 2
        0x00, 0x08, 0x00, 0x00, // protocol, pkt_type, pad
        0x77,
    ];
    assert_eq!(frames_ok(b), vec![f(5_000_000_000, 1, &[0x77], 1, 0)]);
}

#[test]
fn pcap_header_only_is_clean_end() {
    assert_eq!(frames_ok(&PCAP_LE_US[..24]), vec![]);
    // Ends exactly after record 1.
    assert_eq!(frames_ok(&PCAP_LE_US[..44]).len(), 1);
}

#[test]
fn pcap_truncated_header() {
    let (_, e) = read_all(&PCAP_LE_US[..10]);
    let e = e.unwrap();
    assert!(e.is_truncated(), "{e}");
    assert_eq!(e.offset(), Some(0));
    assert_eq!(
        e.to_string(),
        "t.cap: truncated capture file header at byte offset 0: \
         pcap header ends after 10 of 24 bytes (capture cut short, e.g. writer killed mid-write?)"
    );
    // 3 bytes: not even a magic.
    let (_, e) = read_all(&PCAP_LE_US[..3]);
    assert!(e.unwrap().is_truncated());
}

#[test]
fn pcap_truncated_record_header_and_data() {
    // Record 2 header cut after 7 bytes.
    let (got, e) = read_all(&PCAP_LE_US[..44 + 7]);
    assert_eq!(got.len(), 1);
    let e = e.unwrap();
    assert!(e.is_truncated());
    assert_eq!(e.offset(), Some(44));
    assert!(
        e.to_string()
            .contains("truncated pcap record at byte offset 44"),
        "{e}"
    );
    // Record 1 data cut after 2 of 4 bytes.
    let (got, e) = read_all(&PCAP_LE_US[..24 + 16 + 2]);
    assert_eq!(got.len(), 0);
    let e = e.unwrap();
    assert_eq!(e.offset(), Some(24));
    assert!(e.to_string().contains("after 2 of 4 packet bytes"), "{e}");
}

#[test]
fn pcap_absurd_caplen() {
    let mut b = PCAP_LE_US.to_vec();
    // Record 2's caplen := 0x7fffffff
    b[44 + 8..44 + 12].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
    let (got, e) = read_all(&b);
    assert_eq!(got.len(), 1);
    let e = e.unwrap();
    assert!(!e.is_truncated());
    assert_eq!(e.offset(), Some(44));
    assert_eq!(
        e.to_string(),
        "t.cap: corrupt pcap record at byte offset 44: captured length 2147483647 exceeds the maximum 262144"
    );
}

#[test]
fn pcap_orig_len_below_caplen_is_raised() {
    let mut b = PCAP_LE_US[..44].to_vec();
    b[24 + 12..24 + 16].copy_from_slice(&[1, 0, 0, 0]); // orig_len 1 < caplen 4
    assert_eq!(frames_ok(&b)[0].orig, 4);
}

#[test]
fn pcap_bad_version() {
    let mut b = PCAP_LE_US.to_vec();
    b[4] = 9;
    let e = src(&b).unwrap_err();
    assert!(
        e.to_string().contains("unsupported pcap version 9.4"),
        "{e}"
    );
}

#[test]
fn empty_and_garbage() {
    let e = src(&[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.cap: truncated capture file header at byte offset 0: file is empty (0 bytes)"
    );
    let e = src(b"GET / HTTP/1.1\r\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.cap: unrecognized capture file header at byte offset 0: magic 47455420 is neither pcap nor pcapng"
    );
    let e = src(&[0x1f, 0x8b, 0x08, 0x00, 0, 0]).unwrap_err();
    assert!(e.to_string().contains("gzip"), "{e}");
}

// -------------------------------------------------------------- pcapng ----

/// A little-endian pcapng section with two interfaces of different link
/// types and every packet block type, plus blocks to skip.
#[rustfmt::skip]
const NG_LE: &[u8] = &[
    // @0 SHB, 28 bytes
    0x0a, 0x0d, 0x0d, 0x0a, // block type
    0x1c, 0x00, 0x00, 0x00, // block length 28
    0x4d, 0x3c, 0x2b, 0x1a, // byte-order magic (LE)
    0x01, 0x00, 0x00, 0x00, // version 1.0
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length -1
    0x1c, 0x00, 0x00, 0x00, // block length 28
    // @28 IDB 0: ETHERNET, snaplen 65535, no options (µs), 20 bytes
    0x01, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00, // 20
    0x01, 0x00, 0x00, 0x00, // linktype 1, reserved
    0xff, 0xff, 0x00, 0x00, // snaplen
    0x14, 0x00, 0x00, 0x00,
    // @48 IDB 1: RAW, if_tsresol = 9 (ns), if_tsoffset = 10 s, 44 bytes
    0x01, 0x00, 0x00, 0x00,
    0x2c, 0x00, 0x00, 0x00, // 44
    0x65, 0x00, 0x00, 0x00, // linktype 101, reserved
    0x00, 0x00, 0x00, 0x00, // snaplen 0 (unlimited)
    0x09, 0x00, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, // opt 9 if_tsresol len 1: 9, pad 3
    0x0e, 0x00, 0x08, 0x00, // opt 14 if_tsoffset len 8
    0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   10
    0x00, 0x00, 0x00, 0x00, // opt_endofopt
    0x2c, 0x00, 0x00, 0x00,
    // @92 NRB (type 4), skipped, 16 bytes
    0x04, 0x00, 0x00, 0x00,
    0x10, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, // nrb_record_end
    0x10, 0x00, 0x00, 0x00,
    // @108 EPB on interface 0, 1.5 s in µs, 40 bytes (with an option)
    0x06, 0x00, 0x00, 0x00,
    0x28, 0x00, 0x00, 0x00, // 40
    0x00, 0x00, 0x00, 0x00, // interface 0
    0x00, 0x00, 0x00, 0x00, // ts high
    0x60, 0xe3, 0x16, 0x00, // ts low 1500000
    0x03, 0x00, 0x00, 0x00, // caplen 3
    0x40, 0x00, 0x00, 0x00, // orig_len 64
    0x11, 0x22, 0x33, 0x00, // data + 1 pad
    0x02, 0x00, 0x00, 0x00, // opt 2 (epb_flags) len 0 -- odd but legal
    0x28, 0x00, 0x00, 0x00,
    // @148 EPB on interface 1: 5 ns + 10 s offset, 36 bytes
    0x06, 0x00, 0x00, 0x00,
    0x24, 0x00, 0x00, 0x00, // 36
    0x01, 0x00, 0x00, 0x00, // interface 1
    0x00, 0x00, 0x00, 0x00,
    0x05, 0x00, 0x00, 0x00, // ts 5
    0x04, 0x00, 0x00, 0x00, // caplen 4
    0x04, 0x00, 0x00, 0x00, // orig 4
    0x45, 0x00, 0x00, 0x14, // data
    0x24, 0x00, 0x00, 0x00,
    // @184 ISB (type 5), skipped, 24 bytes
    0x05, 0x00, 0x00, 0x00,
    0x18, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, // interface 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ts
    0x18, 0x00, 0x00, 0x00,
    // @208 SPB: orig_len 5, 5 bytes + 3 pad, 24 bytes
    0x03, 0x00, 0x00, 0x00,
    0x18, 0x00, 0x00, 0x00,
    0x05, 0x00, 0x00, 0x00, // orig_len 5
    0x01, 0x02, 0x03, 0x04, 0x05, 0x00, 0x00, 0x00,
    0x18, 0x00, 0x00, 0x00,
    // @232 custom block 0x40000BAD, skipped, 20 bytes
    0xad, 0x0b, 0x00, 0x40,
    0x14, 0x00, 0x00, 0x00,
    0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00,
    // @252 obsolete PB (type 2) on interface 0, 7 s in µs, 36 bytes
    0x02, 0x00, 0x00, 0x00,
    0x24, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, // interface 0 (u16), drops 0 (u16)
    0x00, 0x00, 0x00, 0x00,
    0xc0, 0xcf, 0x6a, 0x00, // 7000000 µs
    0x02, 0x00, 0x00, 0x00, // caplen 2
    0x02, 0x00, 0x00, 0x00, // orig 2
    0xab, 0xcd, 0x00, 0x00,
    0x24, 0x00, 0x00, 0x00,
    // @288 end
];

#[test]
fn pcapng_le_all_block_types() {
    let got = frames_ok(NG_LE);
    assert_eq!(
        got,
        vec![
            f(
                1_500_000_000,
                linktype::ETHERNET,
                &[0x11, 0x22, 0x33],
                64,
                0
            ),
            f(10_000_000_005, linktype::RAW, &[0x45, 0, 0, 0x14], 4, 1),
            // SPB: interface 0's link type, previous packet's timestamp.
            f(10_000_000_005, linktype::ETHERNET, &[1, 2, 3, 4, 5], 5, 0),
            f(7_000_000_000, linktype::ETHERNET, &[0xab, 0xcd], 2, 0),
        ]
    );
    assert_eq!(NG_LE.len(), 288);
}

#[test]
fn pcapng_block_length_too_small() {
    let mut b = NG_LE[..148].to_vec();
    b.extend_from_slice(&[0x06, 0, 0, 0, 0x03, 0, 0, 0]); // EPB, length 3
    let (got, e) = read_all(&b);
    assert_eq!(got.len(), 1);
    assert_eq!(
        e.unwrap().to_string(),
        "t.cap: corrupt pcapng block at byte offset 148: block length 3 too small"
    );
    let mut b = NG_LE[..148].to_vec();
    b.extend_from_slice(&[0x06, 0, 0, 0, 0x0e, 0, 0, 0, 0, 0, 0, 0, 0x0e, 0, 0, 0]);
    let e = read_all(&b).1.unwrap();
    assert!(e.to_string().contains("not a multiple of 4"), "{e}");
}

#[test]
fn pcapng_trailer_mismatch() {
    let mut b = NG_LE.to_vec();
    b[148 + 32] = 0x28; // EPB@148 trailing length 40 != 36
    let (got, e) = read_all(&b);
    assert_eq!(got.len(), 1);
    let e = e.unwrap();
    assert_eq!(e.offset(), Some(148));
    assert!(
        e.to_string()
            .contains("trailing block length 40 does not match leading block length 36"),
        "{e}"
    );
}

#[test]
fn pcapng_truncated_everywhere() {
    // Cutting at a block boundary is a clean end; anywhere else is a
    // "truncated" error whose offset is the start of the cut block.
    let boundaries = [28usize, 48, 92, 108, 148, 184, 208, 232, 252, 288];
    let frames_before = |cut: usize| {
        [(148usize, 1usize), (184, 2), (232, 3), (288, 4)]
            .iter()
            .filter(|(end, _)| *end <= cut)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    };
    for cut in 0..NG_LE.len() {
        let (got, e) = read_all(&NG_LE[..cut]);
        if cut == 0 {
            assert!(e.is_some());
            continue;
        }
        if boundaries.contains(&cut) {
            assert!(e.is_none(), "cut {cut}: {e:?}");
        } else {
            let e = e.unwrap_or_else(|| panic!("cut {cut}: no error"));
            assert!(e.is_truncated(), "cut {cut}: {e}");
            let start = [0usize]
                .iter()
                .chain(boundaries.iter())
                .copied()
                .filter(|&b| b <= cut)
                .max()
                .unwrap();
            assert_eq!(e.offset(), Some(start as u64), "cut {cut}");
            assert!(
                e.to_string().starts_with("t.cap: truncated "),
                "cut {cut}: {e}"
            );
        }
        assert_eq!(got.len(), frames_before(cut), "cut {cut}");
    }
}

#[test]
fn pcapng_unknown_interface() {
    let mut b = NG_LE.to_vec();
    b[148 + 8] = 7; // EPB@148 on interface 7
    let (got, e) = read_all(&b);
    assert_eq!(got.len(), 1);
    let e = e.unwrap();
    assert_eq!(e.offset(), Some(148));
    assert!(
        e.to_string()
            .contains("interface 7 but the section defines 2"),
        "{e}"
    );
}

#[test]
fn pcapng_caplen_exceeds_block() {
    let mut b = NG_LE.to_vec();
    b[148 + 20] = 9; // caplen 9 in a 36-byte EPB (room for 4)
    let e = read_all(&b).1.unwrap();
    assert_eq!(e.offset(), Some(148));
    assert!(
        e.to_string()
            .contains("captured length 9 does not fit in block length 36"),
        "{e}"
    );
    let mut b = NG_LE.to_vec();
    b[148 + 20..148 + 24].copy_from_slice(&[0, 0, 0, 0x10]); // 256 MiB
    let e = read_all(&b).1.unwrap();
    assert!(e.to_string().contains("exceeds the maximum"), "{e}");
}

#[test]
fn pcapng_idb_option_overrun() {
    let mut b = NG_LE.to_vec();
    b[48 + 26] = 0x40; // if_tsoffset length 64 > block
    let e = read_all(&b).1.unwrap();
    assert_eq!(e.offset(), Some(48));
    assert!(
        e.to_string()
            .contains("option 14 of length 64 overruns the block"),
        "{e}"
    );
}

#[test]
fn pcapng_interfaces_per_section_are_bounded() {
    // A section describing one interface more than the limit: the block
    // past it is reported as corrupt at its offset; a new section starts
    // counting again.
    let mut b = Vec::new();
    shb(&mut b, false);
    let first_idb = b.len();
    for _ in 0..MAX_INTERFACES {
        idb(&mut b, false, 1, None);
    }
    let idb_len = (b.len() - first_idb) / MAX_INTERFACES;
    let mut again = b.clone();
    let over = b.len();
    idb(&mut b, false, 1, None);
    let e = read_all(&b).1.unwrap();
    assert_eq!(e.offset(), Some(over as u64), "{e}");
    assert!(e.to_string().contains("more than 65536 interfaces"), "{e}");
    assert_eq!(idb_len, 20);
    // a new section starts counting again: its interface and a packet on
    // it read fine
    shb(&mut again, false);
    idb(&mut again, false, 1, None);
    epb(&mut again, false, 0, 7, &[1, 2, 3, 4]);
    let got = frames_ok(&again);
    assert_eq!(got.len(), 1);
}

#[test]
fn pcapng_bad_shb() {
    let mut b = NG_LE.to_vec();
    b[8] = 0x00; // byte-order magic
    let e = src(&b).unwrap_err();
    assert_eq!(e.offset(), Some(0));
    assert!(
        e.to_string()
            .contains("byte-order magic 003c2b1a is invalid"),
        "{e}"
    );
    let mut b = NG_LE.to_vec();
    b[12] = 2; // version 2.0
    assert!(src(&b)
        .unwrap_err()
        .to_string()
        .contains("unsupported pcapng version 2.0"));
    let mut b = NG_LE.to_vec();
    b[4] = 12; // SHB length 12
    assert!(src(&b)
        .unwrap_err()
        .to_string()
        .contains("section header block length 12 is invalid"));
}

#[test]
fn pcapng_spb_without_idb() {
    let mut b = NG_LE[..28].to_vec();
    b.extend_from_slice(&NG_LE[208..232]);
    let e = read_all(&b).1.unwrap();
    assert_eq!(e.offset(), Some(28));
    assert!(
        e.to_string()
            .contains("interface 0 but the section defines 0"),
        "{e}"
    );
}

#[test]
fn pcapng_huge_unknown_block_is_truncation() {
    let mut b = NG_LE[..48].to_vec();
    b.extend_from_slice(&[0x99, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    let e = read_all(&b).1.unwrap();
    assert!(e.is_truncated());
    assert_eq!(e.offset(), Some(48));
}

// Builders for the multi-section test (the single-section vector above is
// the annotated reference; these produce the same layout in either order).
fn w32(v: &mut Vec<u8>, big: bool, x: u32) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}
fn w16(v: &mut Vec<u8>, big: bool, x: u16) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}
fn block(v: &mut Vec<u8>, big: bool, btype: u32, body: &[u8]) {
    let len = 12 + body.len() as u32;
    assert_eq!(len % 4, 0);
    w32(v, big, btype);
    w32(v, big, len);
    v.extend_from_slice(body);
    w32(v, big, len);
}
fn shb(v: &mut Vec<u8>, big: bool) {
    let mut b = Vec::new();
    w32(&mut b, big, 0x1a2b_3c4d);
    w16(&mut b, big, 1);
    w16(&mut b, big, 0);
    b.extend_from_slice(&[0xff; 8]);
    block(v, big, 0x0a0d_0d0a, &b);
}
fn idb(v: &mut Vec<u8>, big: bool, lt: u16, tsresol: Option<u8>) {
    let mut b = Vec::new();
    w16(&mut b, big, lt);
    w16(&mut b, big, 0);
    w32(&mut b, big, 0);
    if let Some(r) = tsresol {
        w16(&mut b, big, 9);
        w16(&mut b, big, 1);
        b.extend_from_slice(&[r, 0, 0, 0]);
        w16(&mut b, big, 0);
        w16(&mut b, big, 0);
    }
    block(v, big, 1, &b);
}
fn epb(v: &mut Vec<u8>, big: bool, iface: u32, ts: u64, data: &[u8]) {
    let mut b = Vec::new();
    w32(&mut b, big, iface);
    w32(&mut b, big, (ts >> 32) as u32);
    w32(&mut b, big, ts as u32);
    w32(&mut b, big, data.len() as u32);
    w32(&mut b, big, data.len() as u32);
    b.extend_from_slice(data);
    while b.len() % 4 != 0 {
        b.push(0);
    }
    block(v, big, 6, &b);
}

#[test]
fn pcapng_multiple_sections_mixed_endianness() {
    let mut v = Vec::new();
    // Section 1, little-endian: ETHERNET interface, µs.
    shb(&mut v, false);
    idb(&mut v, false, 1, None);
    epb(&mut v, false, 0, 2_000_000, &[1, 2, 3]);
    // Section 2, big-endian: interface numbering restarts; RAW, 2^-10 s units.
    shb(&mut v, true);
    idb(&mut v, true, 101, Some(0x80 | 10));
    epb(&mut v, true, 0, 3 * 1024 + 512, &[0x60, 0, 0, 0]);
    // Section 3, little-endian again, ms units (10^-3), timestamp > 2^32.
    shb(&mut v, false);
    idb(&mut v, false, 229, Some(3));
    epb(&mut v, false, 0, 1_700_000_000_123, &[0x60]);
    assert_eq!(
        frames_ok(&v),
        vec![
            f(2_000_000_000, linktype::ETHERNET, &[1, 2, 3], 3, 0),
            f(3_500_000_000, linktype::RAW, &[0x60, 0, 0, 0], 4, 0),
            f(1_700_000_000_123_000_000, linktype::IPV6, &[0x60], 1, 0),
        ]
    );
    // An interface of section 1 is unknown in section 2.
    let mut w = Vec::new();
    shb(&mut w, false);
    idb(&mut w, false, 1, None);
    idb(&mut w, false, 1, None);
    shb(&mut w, true);
    idb(&mut w, true, 1, None);
    epb(&mut w, true, 1, 0, &[0]);
    let e = read_all(&w).1.unwrap();
    assert!(
        e.to_string()
            .contains("interface 1 but the section defines 1"),
        "{e}"
    );
}

#[test]
fn tsresol_conversions() {
    assert_eq!(TsRes::from_option(6), TsRes::Mul(1000));
    assert_eq!(TsRes::from_option(9), TsRes::Mul(1));
    assert_eq!(TsRes::from_option(0), TsRes::Mul(1_000_000_000));
    assert_eq!(TsRes::from_option(12), TsRes::Div(1000));
    assert_eq!(TsRes::from_option(12).to_ns(5_000), 5);
    assert_eq!(TsRes::from_option(0x80 | 30).to_ns(1 << 30), 1_000_000_000);
    // Extremes: no panic, saturation.
    assert_eq!(TsRes::from_option(127).to_ns(u64::MAX), 0);
    assert_eq!(TsRes::from_option(0xff).to_ns(u64::MAX), 0);
    assert_eq!(TsRes::from_option(0).to_ns(u64::MAX), i64::MAX);
    assert_eq!(TsRes::from_option(0x80).to_ns(u64::MAX), i64::MAX);
}

/// Every single-byte corruption and every truncation of the reference
/// vectors: never a panic, never an endless loop, frames are bounded.
#[test]
fn mutations_never_panic() {
    for base in [NG_LE, PCAP_LE_US, PCAP_BE_NS] {
        for i in 0..base.len() {
            for val in [0x00u8, 0x01, 0x03, 0x7f, 0x80, 0xff, base[i] ^ 0x40] {
                let mut b = base.to_vec();
                b[i] = val;
                let (got, _) = read_all(&b);
                assert!(got.len() <= 8);
                for fr in got {
                    assert!(fr.data.len() as u32 <= fr.orig);
                }
            }
        }
        for cut in 0..base.len() {
            let _ = read_all(&base[..cut]);
        }
    }
}

// ------------------------------------------------------------ on disk ----

#[test]
fn open_by_path_progress_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.pcapng");
    std::fs::write(&p, NG_LE).unwrap();
    let mut s = FileSource::open(&p).unwrap();
    assert_eq!(s.total_bytes(), Some(288));
    assert_eq!(s.bytes_read(), 28);
    let mut n = 0;
    while let Next::Frame(_) = s.next().unwrap() {
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(s.bytes_read(), 288);
    assert_eq!(s.describe(), p.display().to_string());

    let missing = dir.path().join("missing.pcap");
    let e = FileSource::open(&missing).unwrap_err();
    assert!(matches!(e, CaptureError::Io { .. }));
    assert!(e.to_string().starts_with(&missing.display().to_string()));
}

/// Round trip through tcpdump when it is installed: tcpdump re-reads our
/// reference pcap and writes its own; we read that and compare.
#[test]
fn tcpdump_round_trip() {
    let Ok(out) = std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
    else {
        eprintln!("tcpdump not installed: skipping");
        return;
    };
    if !out.status.success() {
        eprintln!("tcpdump unusable: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.pcap");
    let b = dir.path().join("b.pcap");
    // A plausible Ethernet/IPv4/UDP frame in a µs pcap.
    #[rustfmt::skip]
    let frame: &[u8] = &[
        0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
        0x45, 0, 0, 29, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, // IPv4
        0x30, 0x39, 0, 9, 0, 9, 0, 0, 0x42, // UDP + 1 byte
    ];
    let mut v = PCAP_LE_US[..24].to_vec();
    for (i, (sec, usec)) in [(1_700_000_000u32, 1u32), (1_700_000_001, 999_999)]
        .iter()
        .enumerate()
    {
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&usec.to_le_bytes());
        v.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        v.extend_from_slice(&(frame.len() as u32 + i as u32).to_le_bytes());
        v.extend_from_slice(frame);
    }
    std::fs::write(&a, &v).unwrap();
    let st = std::process::Command::new("tcpdump")
        .args(["-Z", "root", "-r"])
        .arg(&a)
        .arg("-w")
        .arg(&b)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    if !st.success() {
        eprintln!("tcpdump -r/-w failed: skipping");
        return;
    }
    let ours = frames_ok(&v);
    let mut s = FileSource::open(&b).unwrap();
    let mut theirs = Vec::new();
    while let Next::Frame(fr) = s.next().unwrap() {
        theirs.push(f(fr.ts_ns, fr.linktype, fr.data, fr.orig_len, fr.iface));
    }
    assert_eq!(ours, theirs);
    assert_eq!(theirs[1].ts, 1_700_000_001_999_999_000);
}

// ------------------------------------------- read buffer boundaries ----

/// A reader that returns at most `chunk` bytes per `read` (pipes, sockets
/// and decompressors return short reads).
struct Chunky {
    data: Cursor<Vec<u8>>,
    chunk: usize,
}

impl Read for Chunky {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = b.len().min(self.chunk);
        self.data.read(&mut b[..n])
    }
}

/// Everything observable of a read: frames, the error text, and
/// `bytes_read()` after every step.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    frames: Vec<F>,
    err: Option<String>,
    progress: Vec<u64>,
}

/// Reads `bytes` with a read buffer of `buf` bytes, through reads of at
/// most `chunk` bytes.
fn run_with(bytes: &[u8], buf: usize, chunk: usize) -> (Run, Option<FileSource>) {
    let rd = Chunky {
        data: Cursor::new(bytes.to_vec()),
        chunk,
    };
    let mut s = match FileSource::with_buffer("t.cap".into(), Box::new(rd), buf) {
        Ok(s) => s,
        Err(e) => {
            let r = Run {
                frames: Vec::new(),
                err: Some(e.to_string()),
                progress: Vec::new(),
            };
            return (r, None);
        }
    };
    let mut r = Run {
        frames: Vec::new(),
        err: None,
        progress: vec![s.bytes_read()],
    };
    loop {
        match s.next() {
            Ok(Next::Frame(fr)) => {
                r.frames
                    .push(f(fr.ts_ns, fr.linktype, fr.data, fr.orig_len, fr.iface));
            }
            Ok(Next::End) => break,
            Ok(Next::Idle) => panic!("file source returned Idle"),
            Err(e) => {
                r.err = Some(e.to_string());
                break;
            }
        }
        r.progress.push(s.bytes_read());
    }
    r.progress.push(s.bytes_read());
    (r, Some(s))
}

fn run_default(bytes: &[u8]) -> Run {
    run_with(bytes, READ_BUF, usize::MAX).0
}

/// A pcap with `n` records of 0..=`max` bytes (deterministic).
fn pcap_records(n: usize, max: usize) -> Vec<u8> {
    let mut v = PCAP_LE_US[..24].to_vec();
    for i in 0..n {
        let len = (i * 37 + i / 3) % (max + 1);
        v.extend_from_slice(&(i as u32).to_le_bytes());
        v.extend_from_slice(&((i * 1000) as u32).to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(&(len as u32 + 1).to_le_bytes());
        v.extend((0..len).map(|k| (i + k) as u8));
    }
    v
}

/// A pcapng with both byte orders, several interfaces and every block kind.
fn pcapng_mixed() -> Vec<u8> {
    let mut v = NG_LE.to_vec();
    for (k, big) in [(0u8, true), (1, false)] {
        shb(&mut v, big);
        idb(&mut v, big, 1, Some(9));
        idb(&mut v, big, 101, None);
        for i in 0..12u8 {
            let data: Vec<u8> = (0..(i * 7 + k) % 50).map(|b| b ^ i).collect();
            epb(&mut v, big, u32::from(i % 2), u64::from(i) * 1000, &data);
            if i % 4 == 0 {
                block(&mut v, big, 0x99, &[i; 12]);
            }
        }
    }
    v
}

/// Every read buffer size from 1 byte to the whole file: the first refill
/// boundary falls at every offset of every record and block (header, data,
/// padding, options, trailer), later ones elsewhere; small sizes also make
/// the buffer grow. Everything observable is the same as with the 4 MiB
/// buffer.
#[test]
fn records_straddling_the_buffer_end_at_every_offset() {
    let mut multi = Vec::new();
    shb(&mut multi, false);
    idb(&mut multi, false, 1, None);
    epb(&mut multi, false, 0, 2_000_000, &[1, 2, 3]);
    shb(&mut multi, true);
    idb(&mut multi, true, 101, Some(0x80 | 10));
    epb(&mut multi, true, 0, 3 * 1024 + 512, &[0x60, 0, 0, 0]);
    let bases = [
        PCAP_LE_US.to_vec(),
        PCAP_BE_NS.to_vec(),
        NG_LE.to_vec(),
        multi,
        pcap_records(40, 70),
        pcapng_mixed(),
    ];
    for base in &bases {
        let want = run_default(base);
        assert!(want.err.is_none());
        assert_eq!(*want.progress.last().unwrap(), base.len() as u64);
        for buf in 1..=base.len() + 1 {
            let (got, _) = run_with(base, buf, usize::MAX);
            assert_eq!(got, want, "buffer size {buf}");
        }
    }
}

/// Truncations and corruptions report the same errors, at the same
/// offsets, with the same progress, whatever the buffer size and however
/// short the reads are.
#[test]
fn errors_do_not_depend_on_buffer_size_or_short_reads() {
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for base in [PCAP_LE_US, PCAP_BE_NS, NG_LE] {
        for cut in 0..base.len() {
            cases.push(base[..cut].to_vec());
        }
        for i in 0..base.len() {
            for val in [0x00u8, 0x03, 0x80, 0xff, base[i] ^ 0x40] {
                let mut b = base.to_vec();
                b[i] = val;
                cases.push(b);
            }
        }
    }
    for case in &cases {
        let want = run_default(case);
        for (buf, chunk) in [(1, usize::MAX), (13, usize::MAX), (64, 5), (READ_BUF, 1)] {
            let (got, _) = run_with(case, buf, chunk);
            assert_eq!(got, want, "buffer {buf}, reads of {chunk}: {case:02x?}");
        }
    }
}

/// When every record fits, the buffer never grows; the partial record at
/// the end is moved to the front and the rest refilled.
#[test]
fn buffer_does_not_grow_when_records_fit() {
    let v = pcap_records(300, 100); // records of at most 116 bytes
    let want = run_default(&v);
    for buf in [116, 117, 128, 200, 1000] {
        let (got, s) = run_with(&v, buf, usize::MAX);
        assert_eq!(got, want);
        assert_eq!(s.unwrap().buf.len(), buf);
    }
    // Short reads too.
    let (got, s) = run_with(&v, 128, 7);
    assert_eq!(got, want);
    assert_eq!(s.unwrap().buf.len(), 128);
}

/// Records larger than the buffer: it grows (once) to the largest record;
/// a maximal record works with the default buffer.
#[test]
fn records_larger_than_the_buffer() {
    let n = MAX_CAPLEN as usize;
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    let mut v = PCAP_LE_US[..24].to_vec();
    for len in [10usize, n, 3, n - 1] {
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(&data[..len]);
    }
    let (got, s) = run_with(&v, 64, usize::MAX);
    assert_eq!(got.err, None);
    let lens: Vec<usize> = got.frames.iter().map(|fr| fr.data.len()).collect();
    assert_eq!(lens, [10, n, 3, n - 1]);
    assert_eq!(got.frames[1].data, data);
    assert_eq!(s.unwrap().buf.len(), 16 + n);
    assert_eq!(run_default(&v), got);
    // Cut inside the big record: the usual truncation error.
    let cut = 24 + 16 + 10 + 16 + 1000;
    let (got, _) = run_with(&v[..cut], 64, usize::MAX);
    assert_eq!(got.frames.len(), 1);
    assert_eq!(
        got.err.unwrap(),
        "t.cap: truncated pcap record at byte offset 50: \
         file ends after 1000 of 262144 packet bytes (capture cut short, e.g. writer killed mid-write?)"
    );
}

/// A pcapng packet block larger than the buffer and than any record (huge
/// options) goes through the spill buffer: same frames, errors and progress.
#[test]
fn packet_block_larger_than_the_buffer() {
    let opts = GROW_MAX + 4096; // > GROW_MAX, so never parsed in place
    let mut v = Vec::new();
    shb(&mut v, false);
    idb(&mut v, false, 1, None);
    epb(&mut v, false, 0, 1, &[1, 2, 3]);
    let big_at = v.len();
    // EPB with 5 packet bytes (+3 padding) and `opts` bytes of options.
    let mut b = Vec::new();
    for x in [0u32, 0, 2, 5, 9] {
        w32(&mut b, false, x);
    }
    b.extend_from_slice(&[9, 8, 7, 6, 5, 0, 0, 0]);
    b.resize(b.len() + opts, 0xee);
    block(&mut v, false, 6, &b);
    let big_end = v.len();
    epb(&mut v, false, 0, 3, &[4]);
    let blen = big_end - big_at;

    let want = vec![
        f(1000, 1, &[1, 2, 3], 3, 0),
        f(2000, 1, &[9, 8, 7, 6, 5], 9, 0),
        f(3000, 1, &[4], 1, 0),
    ];
    for (buf, chunk) in [(64, usize::MAX), (4096, 1000), (READ_BUF, usize::MAX)] {
        let (got, s) = run_with(&v, buf, chunk);
        assert_eq!(got.frames, want, "buffer {buf}");
        assert_eq!(got.err, None);
        assert_eq!(*got.progress.last().unwrap(), v.len() as u64);
        // The buffer did not grow to the block's size.
        assert!(s.unwrap().buf.len() <= buf.max(64), "buffer {buf}");
    }
    // Truncated in the options, in the trailer; bad trailer.
    for cut in [big_at + 40, big_end - 2] {
        let (got, _) = run_with(&v[..cut], 64, usize::MAX);
        assert_eq!(got.frames.len(), 1);
        let have = cut - big_at;
        assert_eq!(
            got.err.unwrap(),
            format!(
                "t.cap: truncated pcapng block at byte offset {big_at}: \
                 file ends after {have} of {blen} block bytes (capture cut short, e.g. writer killed mid-write?)"
            )
        );
    }
    let mut bad = v.clone();
    bad[big_end - 4] ^= 4;
    let (got, _) = run_with(&bad, 64, usize::MAX);
    assert_eq!(got.frames.len(), 1);
    assert!(
        got.err
            .unwrap()
            .contains("does not match leading block length"),
        "bad trailer"
    );
}
