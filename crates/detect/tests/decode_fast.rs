//! The direct decoding path against etherparse's lax slicing: on every frame
//! of the committed fixtures, of the shared corpus (`../shared/corpus`, when
//! present) and of mutated copies of them (every truncation of a frame's
//! first 120 bytes, and random byte changes in the headers),
//! `decode` must give exactly what `decode_sliced` gives, and the link
//! clock's reading of the raw frame (`link::link_event`) what the decoded
//! packet says (`link::of_packet`).

use std::path::{Path, PathBuf};
use tw_capture::{FileSource, Next, Source};
use tw_detect::decode::{decode, decode_sliced};

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
        {
            out.push(p);
        }
    }
}

/// Frames of a capture as (link type, bytes, wire length); stops at damage.
fn frames(p: &Path) -> Vec<(u32, Vec<u8>, u32)> {
    let mut v = Vec::new();
    let Ok(mut src) = FileSource::open(p) else {
        return v;
    };
    while let Ok(Next::Frame(f)) = src.next() {
        v.push((f.linktype, f.data.to_vec(), f.orig_len));
    }
    v
}

/// The direct path agrees with etherparse, and the link clock's
/// classification of the raw frame with the decoded packet's (a single
/// engine and the dispatchers of several workers must agree on it).
fn same(lt: u32, b: &[u8], wire: u32) -> bool {
    let decoded = decode(lt, b, 7, wire);
    let link = decoded.as_ref().ok().and_then(tw_detect::link::of_packet);
    decoded == decode_sliced(lt, b, 7, wire) && tw_detect::link::link_event(lt, b) == link
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check_dir(dir: &Path, mutate_every: usize) -> (usize, usize) {
    let mut files = Vec::new();
    captures(dir, &mut files);
    files.sort();
    let (mut n, mut mutated) = (0, 0);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for f in &files {
        for (i, (lt, b, wire)) in frames(f).into_iter().enumerate() {
            n += 1;
            assert!(same(lt, &b, wire), "{} frame {i}", f.display());
            if i % mutate_every != 0 {
                continue;
            }
            for cut in 0..b.len().min(120) {
                mutated += 1;
                assert!(
                    same(lt, &b[..cut], wire),
                    "{} frame {i} cut at {cut}",
                    f.display()
                );
            }
            for _ in 0..64 {
                let mut m = b.clone();
                for _ in 0..1 + rng.next() % 3 {
                    let at = (rng.next() as usize) % m.len().clamp(1, 80);
                    if let Some(x) = m.get_mut(at) {
                        *x = rng.next() as u8;
                    }
                }
                mutated += 1;
                assert!(
                    same(lt, &m, wire),
                    "{} frame {i} mutated {:02x?}",
                    f.display(),
                    &m[..m.len().min(80)]
                );
            }
        }
    }
    (n, mutated)
}

#[test]
fn direct_path_matches_etherparse_on_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let (n, m) = check_dir(&dir, 7);
    assert!(n > 10_000, "only {n} fixture frames");
    eprintln!("{n} fixture frames, {m} mutated frames: identical");
}

#[test]
fn direct_path_matches_etherparse_on_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if !dir.is_dir() {
        eprintln!("skipped: {} absent", dir.display());
        return;
    }
    let (n, m) = check_dir(&dir, 31);
    eprintln!("{n} corpus frames, {m} mutated frames: identical");
}

/// A frame the direct path takes (VLAN, IPv4, TCP with options and a
/// payload), its truncations and its IPv4 length corner cases.
#[test]
fn vlan_and_length_corner_cases() {
    #[rustfmt::skip]
    let frame: Vec<u8> = [
        // Ethernet, 802.1Q tag VLAN 0x123 with priority and DEI bits set, IPv4
        &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0xf1, 0x23, 0x08, 0x00][..],
        // IPv4: total length 48, id 7, no flags, ttl 50, TCP
        &[0x45, 0, 0, 48, 0, 7, 0, 0, 50, 6, 0, 0, 192, 0, 2, 1, 203, 0, 113, 9],
        // TCP: 443 -> 50000, seq 1, ack 2, doff 6, ACK|PSH, window 512, MSS option
        &[1, 187, 0xc3, 0x50, 0, 0, 0, 1, 0, 0, 0, 2, 0x60, 0x18, 2, 0, 0, 0, 0, 0, 2, 4, 5, 0xb4],
        // 4 bytes of payload
        b"abcd",
    ]
    .concat();
    let p = decode(1, &frame, 1, frame.len() as u32).unwrap();
    assert_eq!(p.vlan, Some(0x123));
    let tw_detect::decode::Transport::Tcp(t) = p.l4 else {
        panic!("not tcp")
    };
    assert_eq!(
        (t.payload, t.payload_len, t.options.mss),
        (&b"abcd"[..], 4, Some(1460))
    );
    for total in [0u16, 10, 20, 44, 48, 60, 1500] {
        let mut f = frame.clone();
        f[20..22].copy_from_slice(&total.to_be_bytes());
        for cut in 0..=f.len() {
            assert!(same(1, &f[..cut], 1500), "total {total} cut {cut}");
        }
    }
}

/// UDP length corner cases over IPv6 (below 8, exactly 8, shorter and longer
/// than the captured datagram) and an IPv6 payload length of 0.
#[test]
fn udp_and_ipv6_length_corner_cases() {
    #[rustfmt::skip]
    let frame: Vec<u8> = [
        // Ethernet, IPv6
        &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd][..],
        // IPv6: payload length 12, next header UDP, hop limit 60, 2001:db8::1 -> 2001:db8::2
        &[0x60, 0, 0, 0, 0, 12, 17, 60],
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        // UDP 5353 -> 53, length 12, checksum 0, 4 bytes of payload
        &[0x14, 0xe9, 0, 53, 0, 12, 0, 0],
        b"wxyz",
    ]
    .concat();
    let p = decode(1, &frame, 1, frame.len() as u32).unwrap();
    let tw_detect::decode::Transport::Udp(u) = p.l4 else {
        panic!("not udp")
    };
    assert_eq!((u.sport, u.dport, u.payload), (5353, 53, &b"wxyz"[..]));
    for plen in [0u16, 4, 8, 12, 13, 100] {
        for ulen in [0u16, 7, 8, 9, 11, 12, 13, 100] {
            let mut f = frame.clone();
            f[18..20].copy_from_slice(&plen.to_be_bytes());
            f[58..60].copy_from_slice(&ulen.to_be_bytes());
            for cut in 0..=f.len() {
                assert!(same(1, &f[..cut], 100), "plen {plen} ulen {ulen} cut {cut}");
            }
        }
    }
}
