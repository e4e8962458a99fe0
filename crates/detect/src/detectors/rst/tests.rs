use super::*;

fn rec(seq: u32, ttl: u8, window: u16, ts: Nanos) -> RstRec {
    RstRec {
        ts,
        seq,
        ack: 1,
        ack_flag: true,
        flags: tcp_flags::RST | tcp_flags::ACK,
        ttl,
        ip_id: 7,
        df: true,
        window,
        ..Default::default()
    }
}

fn flow_with(rsts: &[RstRec]) -> RstHit {
    let mut st = RstHit::default();
    for (i, r) in rsts.iter().enumerate() {
        st.rsts[i] = *r;
    }
    st.n_rst = rsts.len() as u8;
    st.server_next_before = Some(1000);
    st
}

#[test]
fn burst_needs_steps_beyond_what_the_server_used() {
    // GFW: +1460, +4380 within 2 s
    let st = flow_with(&[
        rec(1000, 40, 0, 0),
        rec(2460, 40, 0, MILLI),
        rec(5380, 40, 0, 2 * MILLI),
    ]);
    assert_eq!(burst(&st, false).unwrap()["kind"], "seq_step");
    // identical retransmitted RSTs are not a burst
    let st = flow_with(&[rec(1000, 52, 0, 0), rec(1000, 52, 0, 200 * MILLI)]);
    assert!(burst(&st, false).is_none());
    // same seq, other window (2025) or other TTL (2023): a burst
    let st = flow_with(&[rec(1000, 52, 1980, 0), rec(1000, 52, 1981, 1)]);
    assert_eq!(burst(&st, false).unwrap()["kind"], "same_seq_other_headers");
    let st = flow_with(&[rec(1000, 52, 0, 0), rec(1000, 49, 0, 1)]);
    assert!(burst(&st, false).is_some());
    // a step of 1-2 (RST for SYN then for FIN) or beyond 2 s is not
    let st = flow_with(&[rec(1000, 52, 0, 0), rec(1002, 52, 0, 1)]);
    assert!(burst(&st, false).is_none());
    let st = flow_with(&[rec(1000, 40, 0, 0), rec(2460, 40, 0, 3 * SECOND)]);
    assert!(burst(&st, false).is_none());
    // steps below what the server already sent are not beyond it
    let mut st = flow_with(&[rec(1000, 40, 0, 0), rec(2460, 40, 0, 1)]);
    st.server_next_before = Some(9000);
    assert!(burst(&st, false).is_none());
    // nothing after a FIN
    let mut st = flow_with(&[rec(1000, 40, 0, 0), rec(2460, 40, 0, 1)]);
    st.fin_before = true;
    assert!(burst(&st, false).is_none());
}

#[test]
fn baseline_ttl_range_and_id_sequence() {
    let mut b = Baseline::default();
    for (ttl, id) in [(52, 100), (53, 101), (52, 103)] {
        b.add(ttl, true, Some(id), 10);
    }
    assert_eq!(b.ttl_distance(52), 0);
    assert_eq!(b.ttl_distance(55), 2);
    assert_eq!(b.ttl_distance(40), 12);
    assert!(b.ids_sequential());
    b.add(52, true, Some(40_000), 0);
    assert!(!b.ids_sequential());
    assert_eq!(b.ids(), &[100, 101, 103, 40_000]);
    assert_eq!(b.ids().len(), 4);
    assert!(b.payload());
    assert!(b.df_set() && !b.df_clear());
    // flags, not counters: what the rules ask is "any"
    let mut e = Baseline::default();
    e.add(52, false, None, 0);
    assert!(!e.payload() && e.df_clear() && !e.df_set());
    e.add(52, true, None, 1);
    assert!(e.payload() && e.df_clear() && e.df_set());
}

#[test]
fn fingerprints_are_labels() {
    let mut henan = rec(1, 58, 0, 0);
    henan.payload_len = 10;
    henan.payload_head = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0];
    assert_eq!(fingerprint(&henan, 1, &[henan], true), Some("henan"));
    let mut sv = rec(1, 60, 0, 0);
    sv.ip_id = 0x3412;
    sv.df = false;
    assert_eq!(fingerprint(&sv, 1, &[sv], true), Some("sandvine"));
    let mut t1 = rec(1, 60, 0, 0);
    t1.ip_id = 0;
    t1.df = false;
    t1.ack_flag = false;
    assert_eq!(fingerprint(&t1, 1, &[t1], true), Some("gfw_type1"));
    // IPv6 has no IP ID or DF: a RST without ACK is not gfw_type1 there
    assert_eq!(fingerprint(&t1, 1, &[t1], false), None);
    let three = [
        rec(1, 50, 1980, 0),
        rec(1, 50, 1981, 0),
        rec(1, 50, 1982, 0),
    ];
    assert_eq!(
        fingerprint(&three[0], 3, &three, true),
        Some("gfw_2025_port443")
    );
    assert_eq!(
        fingerprint(&rec(1, 52, 0, 0), 1, &[rec(1, 52, 0, 0)], true),
        None
    );
}

#[test]
fn flag_names_read_well() {
    assert_eq!(
        flag_names(tcp_flags::RST | tcp_flags::ACK | 0x200),
        "ACK|RST|RESERVED"
    );
}

#[test]
fn answer_paths_keep_the_last_four_distinct_newest_last() {
    let p = |ttl: u8, df: bool, port: u16| AnswerPath {
        ttl,
        df,
        port,
        answer_ms: ANSWER_MS_UNKNOWN,
    };
    let mut a = AnswerPaths::default();
    assert_eq!(a.fitting(52, true, 443, 3), None);
    a.note(p(52, true, 443));
    a.note(p(52, true, 443));
    assert_eq!(a.paths(), &[p(52, true, 443)]);
    for q in [p(57, false, 443), p(52, true, 80), p(116, true, 443)] {
        a.note(q);
    }
    // known again: moves up instead of taking a place
    a.note(p(57, false, 443));
    assert_eq!(
        a.paths(),
        &[
            p(52, true, 443),
            p(52, true, 80),
            p(116, true, 443),
            p(57, false, 443)
        ]
    );
    // a fifth pushes out the oldest
    a.note(p(60, false, 8443));
    assert_eq!(a.paths().len(), 4);
    assert_eq!(a.paths()[0], p(52, true, 80));
    assert_eq!(a.fitting(52, true, 443, 3), None);
    // within the tolerance, on the port, with the DF
    assert_eq!(a.fitting(114, true, 443, 3), Some(p(116, true, 443)));
    assert_eq!(a.fitting(113, true, 443, 3), None);
    assert_eq!(a.fitting(116, false, 443, 3), None);
    assert_eq!(a.fitting(52, true, 80, 3), Some(p(52, true, 80)));
}

#[test]
fn answer_paths_keep_the_fastest_answer_time() {
    let p = |ttl: u8, answer_ms: u16| AnswerPath {
        ttl,
        df: true,
        port: 80,
        answer_ms,
    };
    let mut a = AnswerPaths::default();
    assert_eq!(a.fitting_answer_ms(52, true, 80, 3), None);
    // a path first recorded without a time, then timed: the time is kept
    a.note(p(52, ANSWER_MS_UNKNOWN));
    assert_eq!(a.fitting_answer_ms(52, true, 80, 3), None);
    a.note(p(52, 120));
    assert_eq!(a.paths(), &[p(52, 120)]);
    // the faster wins, an untimed run forgets nothing
    a.note(p(52, 300));
    a.note(p(52, ANSWER_MS_UNKNOWN));
    a.note_time(p(52, 45));
    a.note_time(p(52, 90));
    assert_eq!(a.paths(), &[p(52, 45)]);
    assert_eq!(a.fitting_answer_ms(53, true, 80, 3), Some(45));
    // not on another port or DF; note_time adds no path
    assert_eq!(a.fitting_answer_ms(52, false, 80, 3), None);
    assert_eq!(a.fitting_answer_ms(52, true, 443, 3), None);
    a.note_time(p(60, 1));
    assert_eq!(a.paths().len(), 1);
    // two paths fit: the faster; one of them untimed: none (it may be that
    // one's answer)
    a.note(p(53, 30));
    assert_eq!(a.fitting_answer_ms(52, true, 80, 3), Some(30));
    a.note(p(51, ANSWER_MS_UNKNOWN));
    assert_eq!(a.fitting_answer_ms(52, true, 80, 3), None);
    assert_eq!(a.fitting_answer_ms(55, true, 80, 3), Some(30));
}

#[test]
fn run_len_keeps_the_other_bits() {
    let mut st = RstFlow {
        bits: HAS_TRIGGER | PREV_CLIENT | TIME_NEXT,
        ..Default::default()
    };
    st.set_run_len(RUN_VOID);
    assert_eq!(st.run_len(), RUN_VOID);
    st.set_run_len(2);
    assert_eq!(st.run_len(), 2);
    assert_eq!(st.bits & !(7 << 2), HAS_TRIGGER | PREV_CLIENT | TIME_NEXT);
}
