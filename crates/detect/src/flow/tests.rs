use super::*;

#[test]
fn sequence_comparisons_wrap() {
    assert!(seq_lt(u32::MAX - 5, 3));
    assert!(seq_gt(3, u32::MAX - 5));
    assert!(!seq_lt(7, 7));
}

#[test]
fn keys_are_canonical_and_ports_rank_servers() {
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "203.0.113.9".parse().unwrap();
    let (k1, lo1) = FlowKey::new(6, a, 40000, b, 443);
    let (k2, lo2) = FlowKey::new(6, b, 443, a, 40000);
    assert_eq!(k1, k2);
    assert_ne!(lo1, lo2);
    assert!(first_is_server(b, 443, a, 40000));
    assert!(!first_is_server(a, 40000, b, 443));
    assert!(
        first_is_server(a, 8000, b, 50000),
        "registered beats ephemeral"
    );
    assert_eq!(port_rank(53), 0);
    assert_eq!(port_rank(1000), 1);
    assert_eq!(port_rank(60000), 3);
}

#[test]
fn table_lru_and_expiry() {
    let cfg = FlowConfig {
        tcp_closed_linger: 5,
        udp_timeout: 100,
        ..FlowConfig::default()
    };
    let mut t = Table::new(3);
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let mk = |port: u16, ts: Nanos| {
        let (k, _) = FlowKey::new(17, ip, port, ip, 53);
        Flow::new(k, FlowProto::Udp, (ip, port), (ip, 53), true, ts)
    };
    let a = t.insert(mk(1, 0), Class::Udp).unwrap();
    let b = t.insert(mk(2, 10), Class::Udp).unwrap();
    let c = t.insert(mk(3, 20), Class::Udp).unwrap();
    assert!(t.is_full());
    assert_eq!(t.insert(mk(4, 30), Class::Udp), None);
    assert_eq!(t.oldest(), Some(a));
    t.flow_mut(a).unwrap().last_ts = 50;
    t.touch(a, Class::Udp);
    assert_eq!(t.oldest(), Some(b));
    assert_eq!(t.expired(105, &cfg), None);
    assert_eq!(t.expired(111, &cfg), Some(b));
    t.remove(b).unwrap();
    assert_eq!(t.expired(111, &cfg), None);
    assert_eq!(t.expired(121, &cfg), Some(c));
    assert_eq!(t.all_slots(), vec![a, c]);
    assert_eq!(t.len(), 2);
}
