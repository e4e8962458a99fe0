//! Decoder tests on annotated byte vectors. Checksums are left zero on
//! purpose: captured outbound packets often carry bad checksums (offload),
//! and the decoder must not care.
use super::*;

/// Ethernet II + IPv4 + TCP SYN with MSS, SACK-permitted, timestamps, NOP, wscale.
#[rustfmt::skip]
const ETH_IPV4_TCP_SYN: &[u8] = &[
    // Ethernet: dst, src, ethertype IPv4
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  0x08, 0x00,
    // IPv4: ver/ihl 0x45, tos, total len 60, id 0x1234, flags DF, ttl 64, proto 6, csum 0
    0x45, 0x00, 0x00, 0x3c,  0x12, 0x34, 0x40, 0x00,  0x40, 0x06, 0x00, 0x00,
    192, 0, 2, 10,   203, 0, 113, 5,
    // TCP: sport 40000, dport 443, seq 1000, ack 0, doff 10 (40 bytes), flags SYN, window 64240
    0x9c, 0x40, 0x01, 0xbb,  0x00, 0x00, 0x03, 0xe8,  0x00, 0x00, 0x00, 0x00,
    0xa0, 0x02, 0xfa, 0xf0,  0x00, 0x00, 0x00, 0x00,
    // options: MSS 1460; SACK permitted; timestamps 7/0; NOP; wscale 7
    0x02, 0x04, 0x05, 0xb4,  0x04, 0x02,  0x08, 0x0a, 0, 0, 0, 7, 0, 0, 0, 0,  0x01,  0x03, 0x03, 0x07,
];

#[test]
fn ethernet_ipv4_tcp_syn() {
    let p = decode(linktype::ETHERNET, ETH_IPV4_TCP_SYN, 5, 74).unwrap();
    assert_eq!(p.ip.src, "192.0.2.10".parse::<IpAddr>().unwrap());
    assert_eq!(p.ip.dst, "203.0.113.5".parse::<IpAddr>().unwrap());
    assert_eq!(
        (p.ip.ttl, p.ip.ip_id, p.ip.df, p.ip.version),
        (64, 0x1234, true, 4)
    );
    assert_eq!(p.proto(), PacketProto::Tcp);
    let Transport::Tcp(t) = p.l4 else {
        panic!("not tcp")
    };
    assert_eq!(
        (t.sport, t.dport, t.seq, t.ack, t.window),
        (40000, 443, 1000, 0, 64240)
    );
    assert!(t.syn() && !t.ack_flag() && !t.rst());
    assert_eq!(t.seq_len(), 1);
    assert_eq!(t.options.mss, Some(1460));
    assert_eq!(t.options.wscale, Some(7));
    assert!(t.options.sack_permitted);
    assert_eq!(t.options.timestamps, Some((7, 0)));
    assert!(!t.options.malformed);
    assert_eq!(t.payload_len, 0);
}

#[test]
fn truncated_variants_never_panic_and_name_a_reason() {
    for cut in 0..ETH_IPV4_TCP_SYN.len() {
        let r = decode(linktype::ETHERNET, &ETH_IPV4_TCP_SYN[..cut], 0, 74);
        match cut {
            0..=13 => assert_eq!(
                r,
                Err(Undecoded::Error(DecodeError::LinkTruncated)),
                "cut {cut}"
            ),
            14..=33 => assert_eq!(
                r,
                Err(Undecoded::Error(DecodeError::Ipv4Header)),
                "cut {cut}"
            ),
            // IP header complete but the TCP header is cut short
            34..=73 => assert_eq!(
                r,
                Err(Undecoded::Error(DecodeError::TcpHeader)),
                "cut {cut}"
            ),
            _ => unreachable!(),
        }
    }
}

#[test]
fn every_byte_flip_is_harmless() {
    // Flip each byte to a few values: decoding may fail but must not panic.
    for i in 0..ETH_IPV4_TCP_SYN.len() {
        for v in [0x00u8, 0xff, 0x0f, 0x45, 0x60] {
            let mut b = ETH_IPV4_TCP_SYN.to_vec();
            b[i] = v;
            let _ = decode(linktype::ETHERNET, &b, 0, 74);
        }
    }
}

#[test]
fn tso_total_length_zero_and_gro_oversize() {
    let mut b = ETH_IPV4_TCP_SYN.to_vec();
    // TSO: outbound packet captured before segmentation has IPv4 total length 0.
    b[16] = 0;
    b[17] = 0;
    // and carries a large payload (GRO/TSO super-frame, beyond the MTU)
    b.extend(std::iter::repeat_n(0xaa, 3000));
    b[47] = 0x18; // flags PSH|ACK
    let p = decode(linktype::ETHERNET, &b, 0, b.len() as u32).unwrap();
    let Transport::Tcp(t) = p.l4 else { panic!() };
    assert_eq!(t.payload.len(), 3000);
    assert_eq!(t.payload_len, 3000);
}

#[test]
fn tcp_checksums_are_verified_where_the_segment_is_whole() {
    // the SYN above with its right checksum (0xad14: the one's complement
    // sum over the pseudo-header 192.0.2.10, 203.0.113.5, 0, 6, length 40,
    // then the 40-byte header)
    let mut b = ETH_IPV4_TCP_SYN.to_vec();
    b[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&[0xad, 0x14]);
    let ok = |b: &[u8]| {
        let p = decode(linktype::ETHERNET, b, 0, b.len() as u32).unwrap();
        let Transport::Tcp(t) = p.l4 else { panic!() };
        tcp_checksum_ok(&p.ip, &t)
    };
    assert_eq!(ok(&b), Some(true));
    // a bit flipped in the window: damage
    b[14 + 20 + 14] ^= 0x01;
    assert_eq!(ok(&b), Some(false));
    b[14 + 20 + 14] ^= 0x01;
    // a zero checksum (as in the vectors above): wrong
    assert_eq!(ok(ETH_IPV4_TCP_SYN), Some(false));
    // the pseudo-header's sum alone (0xfe3e: 192.0.2.10, 203.0.113.5, 6,
    // 40), which a sender leaves for its card and GRO writes over merged
    // segments: cannot be told
    b[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&[0xfe, 0x3e]);
    assert_eq!(ok(&b), None);
    // IPv6, an odd payload ("abc": its last byte padded with a zero)
    #[rustfmt::skip]
    let v6: &[u8] = &[
        // IPv6, payload 23, next header TCP, hop limit 60
        0x60,0,0,0, 0x00,0x17, 6, 60,
        0x20,0x01,0x0d,0xb8, 0,0,0,0, 0,0,0,0, 0,0,0,1,
        0x20,0x01,0x0d,0xb8, 0,0,0,0, 0,0,0,0, 0,0,0,2,
        // TCP 80 -> 40000, seq 1, ack 2, doff 5, PSH+ACK, window 256,
        // checksum 0xf25e (pseudo-header: the addresses, length 23, 6)
        0x00,0x50, 0x9c,0x40, 0,0,0,1, 0,0,0,2, 0x50,0x18, 0x01,0x00, 0xf2,0x5e, 0,0,
        b'a', b'b', b'c',
    ];
    let p = decode(linktype::RAW, v6, 0, v6.len() as u32).unwrap();
    let Transport::Tcp(t) = p.l4 else { panic!() };
    assert_eq!(t.payload, b"abc");
    assert_eq!(tcp_checksum_ok(&p.ip, &t), Some(true));
    // cut by the snaplen: cannot be told
    let p = decode(linktype::RAW, &v6[..v6.len() - 1], 0, v6.len() as u32).unwrap();
    let Transport::Tcp(t) = p.l4 else { panic!() };
    assert_eq!(tcp_checksum_ok(&p.ip, &t), None);
}

#[test]
fn snaplen_truncated_payload_keeps_wire_length() {
    // IPv4 total length says 60 + 100 payload bytes, but only 10 were captured.
    let mut b = ETH_IPV4_TCP_SYN.to_vec();
    b[16..18].copy_from_slice(&160u16.to_be_bytes());
    b[47] = 0x10; // ACK
    b.extend([0u8; 10]);
    let p = decode(linktype::ETHERNET, &b, 0, 174).unwrap();
    let Transport::Tcp(t) = p.l4 else { panic!() };
    assert_eq!(t.payload.len(), 10);
    assert_eq!(t.payload_len, 100);
}

#[test]
fn ethernet_padding_is_ignored() {
    // A 54-byte RST padded to the 60-byte Ethernet minimum.
    #[rustfmt::skip]
    let b: &[u8] = &[
        0x02,0,0,0,0,1, 0x02,0,0,0,0,2, 0x08,0x00,
        // IPv4 total 40, id 0x3412, no DF, ttl 43
        0x45,0, 0x00,0x28, 0x34,0x12, 0x00,0x00, 43,6, 0,0, 203,0,113,5, 192,0,2,10,
        // TCP 80 -> 40000, seq 5, ack 0, doff 5, flags RST + one reserved bit, window 65535
        0x00,0x50, 0x9c,0x40, 0,0,0,5, 0,0,0,0, 0x52,0x04, 0xff,0xff, 0,0, 0,0,
        // Ethernet padding
        0,0,0,0,0,0,
    ];
    let p = decode(linktype::ETHERNET, b, 0, 60).unwrap();
    let Transport::Tcp(t) = p.l4 else { panic!() };
    assert!(t.rst());
    assert_eq!(t.flags & tcp_flags::RESERVED, 0x200);
    assert_eq!(t.payload_len, 0);
    assert!(t.payload.is_empty());
    assert_eq!((p.ip.ip_id, p.ip.df, p.ip.ttl), (0x3412, false, 43));
}

/// 802.1Q QinQ (0x88a8 outer, 0x8100 inner) + IPv6 + UDP.
#[rustfmt::skip]
const QINQ_IPV6_UDP: &[u8] = &[
    0x02,0,0,0,0,2, 0x02,0,0,0,0,1,
    0x88, 0xa8, 0x00, 0x64,   // S-tag, VLAN 100
    0x81, 0x00, 0x00, 0xc8,   // C-tag, VLAN 200
    0x86, 0xdd,               // IPv6
    // IPv6: version 6, payload length 12, next header UDP (17), hop limit 57
    0x60,0,0,0, 0x00,0x0c, 17, 57,
    0x20,0x01,0x0d,0xb8, 0,0,0,0, 0,0,0,0, 0,0,0,1,   // 2001:db8::1
    0x20,0x01,0x0d,0xb8, 0,0,0,0, 0,0,0,0, 0,0,0,0x53, // 2001:db8::53
    // UDP 5353 -> 53, length 12, checksum 0, payload 4 bytes
    0x14,0xe9, 0x00,0x35, 0x00,0x0c, 0,0, 0xde,0xad,0xbe,0xef,
];

#[test]
fn qinq_ipv6_udp() {
    let p = decode(linktype::ETHERNET, QINQ_IPV6_UDP, 0, 70).unwrap();
    assert_eq!(p.vlan, Some(100));
    assert_eq!(p.ip.version, 6);
    assert_eq!(p.ip.ttl, 57);
    let Transport::Udp(u) = p.l4 else { panic!() };
    assert_eq!(
        (u.sport, u.dport, u.payload),
        (5353, 53, &[0xde, 0xad, 0xbe, 0xef][..])
    );
}

#[test]
fn ipv6_with_hop_by_hop_extension() {
    #[rustfmt::skip]
    let b: &[u8] = &[
        // IPv6, payload 8 (hop-by-hop) + 8 (UDP), next header 0 (hop-by-hop)
        0x60,0,0,0, 0x00,0x10, 0, 64,
        0x20,0x01,0x0d,0xb8, 0,0,0,0, 0,0,0,0, 0,0,0,1,
        0x20,0x01,0x0d,0xb8, 0,0,0,0, 0,0,0,0, 0,0,0,2,
        // hop-by-hop: next UDP, len 0 (8 bytes), PadN 4 + padding
        17, 0, 1, 4, 0, 0, 0, 0,
        // UDP 1000 -> 2000, length 8
        0x03,0xe8, 0x07,0xd0, 0,8, 0,0,
    ];
    let p = decode(linktype::RAW, b, 0, b.len() as u32).unwrap();
    let Transport::Udp(u) = p.l4 else {
        panic!("{:?}", p.l4)
    };
    assert_eq!((u.sport, u.dport), (1000, 2000));
}

fn raw_ipv4_tcp() -> Vec<u8> {
    ETH_IPV4_TCP_SYN[14..].to_vec()
}

#[test]
fn linux_sll_and_sll2() {
    // SLL: packet type 4 (outgoing), ARPHRD 1, addr len 6, addr (8), protocol 0x0800
    let mut sll = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend(raw_ipv4_tcp());
    assert!(matches!(
        decode(linktype::LINUX_SLL, &sll, 0, 0).unwrap().l4,
        Transport::Tcp(_)
    ));
    // SLL2: protocol 0x0800, reserved, ifindex 2, ARPHRD 1, type 0, addr len 6, addr (8)
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend(raw_ipv4_tcp());
    assert!(matches!(
        decode(linktype::LINUX_SLL2, &sll2, 0, 0).unwrap().l4,
        Transport::Tcp(_)
    ));
    // SLL2 carrying ARP (0x0806) is not IP, not an error.
    let mut arp = sll2.clone();
    arp[0..2].copy_from_slice(&[0x08, 0x06]);
    assert!(matches!(
        decode(linktype::LINUX_SLL2, &arp, 0, 0),
        Err(Undecoded::NonIp | Undecoded::Error(_))
    ));
    assert_eq!(
        decode(linktype::LINUX_SLL2, &sll2[..10], 0, 0),
        Err(Undecoded::Error(DecodeError::LinkTruncated))
    );
}

/// The sender's link-layer address: Ethernet's source, a cooked header's
/// 6-byte address; none for raw IP, other address lengths, or the all-zero
/// address of `lo`. The same from the direct path and etherparse's.
#[test]
fn link_source_address() {
    let src = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    let eth = decode(linktype::ETHERNET, ETH_IPV4_TCP_SYN, 0, 0).unwrap();
    assert_eq!(eth.link_src, Some(src));
    assert_eq!(
        decode_sliced(linktype::ETHERNET, ETH_IPV4_TCP_SYN, 0, 0).unwrap(),
        eth
    );
    // SLL: packet type 0 (to us), ARPHRD 1, addr len 6, addr 02:aa:..:05 + 2 pad, protocol 0x0800
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0xaa, 0, 0, 0, 5, 0, 0, 0x08, 0x00];
    sll.extend(raw_ipv4_tcp());
    let p = decode(linktype::LINUX_SLL, &sll, 0, 0).unwrap();
    assert_eq!(p.link_src, Some([2, 0xaa, 0, 0, 0, 5]));
    // address length 0 (a tunnel's frames): none
    sll[5] = 0;
    assert_eq!(
        decode(linktype::LINUX_SLL, &sll, 0, 0).unwrap().link_src,
        None
    );
    // SLL2: protocol 0x0800, reserved, ifindex 2, ARPHRD 1, type 4 (outgoing), addr len 6, addr (8)
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0xbb, 0, 0, 0, 7, 0, 0,
    ];
    sll2.extend(raw_ipv4_tcp());
    let p = decode(linktype::LINUX_SLL2, &sll2, 0, 0).unwrap();
    assert_eq!(p.link_src, Some([2, 0xbb, 0, 0, 0, 7]));
    // the all-zero address of loopback: none
    sll2[12..18].fill(0);
    assert_eq!(
        decode(linktype::LINUX_SLL2, &sll2, 0, 0).unwrap().link_src,
        None
    );
    // raw IP: none
    assert_eq!(
        decode(linktype::RAW, &raw_ipv4_tcp(), 0, 0)
            .unwrap()
            .link_src,
        None
    );
    // a frame too short for the address never panics
    assert_eq!(link_src(linktype::LINUX_SLL2, &sll2[..11]), None);
    assert_eq!(link_src(linktype::ETHERNET, &ETH_IPV4_TCP_SYN[..8]), None);
}

#[test]
fn raw_null_and_loop() {
    let ip = raw_ipv4_tcp();
    for lt in [linktype::RAW, linktype::IPV4, linktype::RAW_OLD] {
        assert!(decode(lt, &ip, 0, 0).is_ok());
    }
    // BSD null: AF_INET = 2 in little-endian (written on x86) ...
    let mut null = vec![2, 0, 0, 0];
    null.extend(&ip);
    assert!(decode(linktype::NULL, &null, 0, 0).is_ok());
    // ... and OpenBSD loop: big-endian family
    let mut lo = vec![0, 0, 0, 2];
    lo.extend(&ip);
    assert!(decode(linktype::LOOP, &lo, 0, 0).is_ok());
    assert_eq!(
        decode(linktype::NULL, &[2, 0], 0, 0),
        Err(Undecoded::Error(DecodeError::LinkTruncated))
    );
    assert_eq!(
        decode(9999, &ip, 0, 0),
        Err(Undecoded::Error(DecodeError::UnsupportedLinkType))
    );
}

#[test]
fn arp_is_non_ip() {
    #[rustfmt::skip]
    let b: &[u8] = &[
        0xff,0xff,0xff,0xff,0xff,0xff, 0x02,0,0,0,0,1, 0x08,0x06,
        0,1, 0x08,0, 6, 4, 0,1, 0x02,0,0,0,0,1, 192,0,2,1, 0,0,0,0,0,0, 192,0,2,2,
    ];
    assert_eq!(decode(linktype::ETHERNET, b, 0, 42), Err(Undecoded::NonIp));
}

#[test]
fn ipv4_fragments_are_counted_not_tracked() {
    let mut first = raw_ipv4_tcp();
    first[6] = 0x20; // MF, offset 0
    assert_eq!(
        decode(linktype::RAW, &first, 0, 0),
        Err(Undecoded::Error(DecodeError::Fragment))
    );
    let mut later = raw_ipv4_tcp();
    later[6] = 0x00;
    later[7] = 0x10; // offset 16 * 8
    assert_eq!(
        decode(linktype::RAW, &later, 0, 0),
        Err(Undecoded::Error(DecodeError::Fragment))
    );
}

#[test]
fn icmp_time_exceeded_quotes_the_probe() {
    #[rustfmt::skip]
    let b: &[u8] = &[
        // IPv4 from a router 198.51.100.1 to the client, proto ICMP, total 56
        0x45,0, 0,56, 0,1, 0,0, 250,1, 0,0, 198,51,100,1, 192,0,2,10,
        // ICMP type 11 code 0, checksum, unused
        11, 0, 0,0, 0,0,0,0,
        // quoted IPv4 header: total 60, ttl 1, proto TCP, client -> server
        0x45,0, 0,60, 0x12,0x34, 0x40,0, 1,6, 0,0, 192,0,2,10, 203,0,113,5,
        // first 8 bytes of TCP: ports 40000 -> 80, seq 1000
        0x9c,0x40, 0x00,0x50, 0,0,0x03,0xe8,
    ];
    let p = decode(linktype::RAW, b, 0, 56).unwrap();
    assert_eq!(p.proto(), PacketProto::Icmp);
    let Transport::Icmp(i) = p.l4 else { panic!() };
    assert_eq!((i.icmp_type, i.code), (11, 0));
    let q = i.quoted.unwrap();
    assert_eq!(q.dst, "203.0.113.5".parse::<IpAddr>().unwrap());
    assert_eq!(
        (q.proto, q.ttl, q.sport, q.dport, q.tcp_seq),
        (6, 1, Some(40000), Some(80), Some(1000))
    );
}

#[test]
fn tcp_options_edge_cases() {
    // empty, end-of-list, NOP padding
    assert_eq!(parse_tcp_options(&[]), TcpOptions::default());
    assert_eq!(parse_tcp_options(&[0, 2, 4]), TcpOptions::default());
    // a kind without length byte, a length of 0, a length beyond the end
    assert!(parse_tcp_options(&[2]).malformed);
    assert!(parse_tcp_options(&[2, 0]).malformed);
    assert!(parse_tcp_options(&[8, 10, 0, 0]).malformed);
    // wrong fixed length for a known option
    assert!(parse_tcp_options(&[2, 3, 5]).malformed);
    // SACK blocks
    let s = parse_tcp_options(&[1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    assert!(s.sack && !s.malformed);
    // unknown option kinds are skipped (kind 30, subtype 0: MP_CAPABLE)
    let u = parse_tcp_options(&[30, 4, 0, 0, 2, 4, 5, 0xb4]);
    assert_eq!(u.mss, Some(1460));
    assert!(!u.mptcp_join);
}

/// Multipath TCP's MP_JOIN on a SYN (RFC 8684 3.2): kind 30, length 12,
/// subtype 1 in the high nibble (flags in the low: B, backup), address ID,
/// the receiver's 32-bit token and the sender's 32-bit random number.
#[test]
fn mptcp_join_is_recognised() {
    let join = [
        30, 12,   // kind 30 (MPTCP), length 12
        0x10, // subtype 1 (MP_JOIN), no backup flag
        2,    // address ID
        0xde, 0xad, 0xbe, 0xef, // token
        0, 0, 0, 7, // random number
    ];
    let mut opts = vec![2, 4, 5, 0xb4, 1, 1]; // MSS 1460, two NOPs
    opts.extend(join);
    let o = parse_tcp_options(&opts);
    assert!(o.mptcp_join && !o.malformed);
    assert_eq!(o.mss, Some(1460));
    // MP_CAPABLE (subtype 0), ADD_ADDR (3) and MP_TCPRST (8) are not joins
    for subtype in [0x01u8, 0x30, 0x80] {
        let mut other = join;
        other[2] = subtype;
        assert!(!parse_tcp_options(&other).mptcp_join, "{subtype:#x}");
    }
    // cut short: malformed, not a join
    let cut = parse_tcp_options(&join[..1]);
    assert!(cut.malformed && !cut.mptcp_join);
}

#[test]
fn other_ip_protocols_decode() {
    let mut gre = raw_ipv4_tcp();
    gre[9] = 47; // GRE
    let p = decode(linktype::RAW, &gre, 0, 0).unwrap();
    assert_eq!(p.l4, Transport::Other(47));
    assert_eq!(p.proto(), PacketProto::OtherIp);
}

/// The ECN field (RFC 3168), from the IPv4 TOS byte's low two bits and
/// the IPv6 traffic class's, the same by the direct path and etherparse's:
/// CE (3) marks a packet a router's AQM marked instead of dropping.
#[test]
fn ecn_field_both_paths() {
    for (tos, want) in [
        (0x00u8, 0u8),
        (0x02, 2),
        (0x01, 1),
        (0x03, 3),
        (0xb8 | 3, 3),
    ] {
        let mut f = ETH_IPV4_TCP_SYN.to_vec();
        f[15] = tos; // IPv4 TOS
        let a = decode(linktype::ETHERNET, &f, 0, 74).unwrap();
        let b = decode_sliced(linktype::ETHERNET, &f, 0, 74).unwrap();
        assert_eq!((a.ip.ecn, b.ip.ecn), (want, want), "tos {tos:#x}");
    }
    #[rustfmt::skip]
    let v6: &[u8] = &[
        // Ethernet, ethertype IPv6
        0x02, 0, 0, 0, 0, 2,  0x02, 0, 0, 0, 0, 1,  0x86, 0xdd,
        // IPv6: version 6, traffic class 0x03 (DSCP 0, CE) = 6 0 3 0 0000,
        // payload length 20, next header TCP, hop limit 57
        0x60, 0x30, 0x00, 0x00,  0x00, 0x14, 0x06, 57,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05,
        // TCP: 443 -> 40000, seq 1, ack 1, doff 5, flags ACK, window 500
        0x01, 0xbb, 0x9c, 0x40,  0, 0, 0, 1,  0, 0, 0, 1,  0x50, 0x10, 0x01, 0xf4,  0, 0, 0, 0,
    ];
    let a = decode(linktype::ETHERNET, v6, 0, 74).unwrap();
    let b = decode_sliced(linktype::ETHERNET, v6, 0, 74).unwrap();
    assert_eq!((a.ip.ecn, b.ip.ecn, a.ip.ttl), (3, 3, 57));
    // ECT(0) with DSCP 46 (EF): traffic class 0xba = 6 b a 0
    let mut ef = v6.to_vec();
    ef[14] = 0x6b;
    ef[15] = 0xa0;
    let a = decode(linktype::ETHERNET, &ef, 0, 74).unwrap();
    let b = decode_sliced(linktype::ETHERNET, &ef, 0, 74).unwrap();
    assert_eq!((a.ip.ecn, b.ip.ecn), (2, 2));
}
