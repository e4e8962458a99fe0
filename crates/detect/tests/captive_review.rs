//! Found in review (session 18) of the captive-portal link tracker
//! (218f3bd..9c5e39e): reproducers on raw frames through `LinkTracker`;
//! those that failed then pass since the fixes (a busy link's check with no
//! handshake seen, a reused port, a login page longer than a segment, the
//! answer to an earlier request, counters with two dispatchers).

use tw_detect::decode::linktype as lt;
use tw_detect::link::LinkTracker;

const S: i64 = 1_000_000_000;

/// An IPv4 TCP segment between 192.0.2.10:`cport` and `server`:80.
#[allow(clippy::too_many_arguments)]
fn seg(
    to_server: bool,
    server: [u8; 4],
    cport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = u16::try_from(40 + payload.len()).unwrap().to_be_bytes();
    let mut f = vec![0x45, 0, total[0], total[1], 0, 1, 0x40, 0, ttl, 6, 0, 0];
    let client = [192, 0, 2, 10];
    let (src, dst, sport, dport) = if to_server {
        (client, server, cport, 80u16)
    } else {
        (server, client, 80, cport)
    };
    f.extend(src);
    f.extend(dst);
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend(seq.to_be_bytes());
    f.extend(ack.to_be_bytes());
    f.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend(payload);
    f
}

const SYNACK: u8 = 0x12;
const PSH: u8 = 0x18;
const CHECK: &[u8] = b"GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n\r\n";
const REDIRECT: &[u8] =
    b"HTTP/1.1 302 Found\r\nLocation: http://ads.example/\r\nContent-Length: 0\r\n\r\n";

/// FINDING (medium): the SYN/ACK ring holds 8 entries: on a link where more
/// than 8 other port-80 handshakes complete between a check's SYN/ACK and
/// its GET (a gateway), the check has no SYN/ACK TTL and an injector's
/// redirect racing the server (other TTL) counts as a portal: 10 minutes of
/// withholding.
#[test]
fn an_injected_redirect_is_no_portal_on_a_busy_link() {
    let gs = [203, 0, 113, 60];
    let mut k = LinkTracker::default();
    // the check's handshake: the real server, TTL 50
    k.observe(lt::RAW, &seg(false, gs, 40001, 0, 7, SYNACK, 50, b""), S);
    // nine other HTTP handshakes complete meanwhile
    for i in 0..9u16 {
        let f = seg(false, [198, 51, 100, 1], 50000 + i, 0, 1, SYNACK, 57, b"");
        k.observe(lt::RAW, &f, S + i64::from(i) + 1);
    }
    k.observe(lt::RAW, &seg(true, gs, 40001, 7, 1, PSH, 64, CHECK), S + 50);
    let next = 7 + CHECK.len() as u32;
    // an injector's redirect (TTL 40) races the server
    let inj = seg(false, gs, 40001, 1, next, PSH, 40, REDIRECT);
    k.observe(lt::RAW, &inj, S + 60);
    assert_eq!(k.clock().captive.portal_checks, 0);
}

/// FINDING (low-medium): the ring is searched from index 0, not newest
/// first: a stale SYN/ACK of an earlier connection that used the same client
/// port (to another server, other TTL) decides, and the portal that
/// answers the check from its own handshake is missed.
#[test]
fn the_newest_synack_of_a_port_decides() {
    let mut k = LinkTracker::default();
    // an earlier connection from port 40001 to a far server (TTL 45)
    k.observe(
        lt::RAW,
        &seg(false, [198, 51, 100, 7], 40001, 0, 1, SYNACK, 45, b""),
        S,
    );
    // later the same port is reused for the check; the portal (TTL 64)
    // completes the handshake and redirects
    let gs = [203, 0, 113, 60];
    k.observe(
        lt::RAW,
        &seg(false, gs, 40001, 0, 7, SYNACK, 64, b""),
        20 * S,
    );
    k.observe(
        lt::RAW,
        &seg(true, gs, 40001, 7, 1, PSH, 64, CHECK),
        20 * S + 1,
    );
    let next = 7 + CHECK.len() as u32;
    k.observe(
        lt::RAW,
        &seg(false, gs, 40001, 1, next, PSH, 64, REDIRECT),
        20 * S + 2,
    );
    assert_eq!(k.clock().captive.portal_checks, 1);
}

/// FINDING (low): answers are matched by client port and cumulative ACK.
/// With pipelining (or a request sent before the previous response's first
/// segment was captured), the answer to an EARLIER ordinary request ACKs
/// the check's end too, and its 200 page is taken for a portal's.
#[test]
fn the_answer_to_an_earlier_request_is_not_the_checks() {
    let srv = [203, 0, 113, 60];
    let mut k = LinkTracker::default();
    k.observe(lt::RAW, &seg(false, srv, 40001, 0, 1, SYNACK, 50, b""), S);
    let first = b"GET /favicon.ico HTTP/1.1\r\nHost: www.google.com\r\n\r\n";
    k.observe(lt::RAW, &seg(true, srv, 40001, 1, 1, PSH, 64, first), S + 1);
    let seq2 = 1 + first.len() as u32;
    let check = b"GET /gen_204 HTTP/1.1\r\nHost: www.google.com\r\n\r\n";
    k.observe(
        lt::RAW,
        &seg(true, srv, 40001, seq2, 1, PSH, 64, check),
        S + 2,
    );
    let end = seq2 + check.len() as u32;
    // the favicon's answer, sent after both requests arrived: ACKs both
    let icon = b"HTTP/1.1 200 OK\r\nContent-Type: image/x-icon\r\nContent-Length: 5\r\n\r\nICON!";
    k.observe(
        lt::RAW,
        &seg(false, srv, 40001, 1, end, PSH, 50, icon),
        S + 3,
    );
    assert_eq!(k.clock().captive.portal_checks, 0);
}

/// Fine: a check split after its request line (Host in the next segment) is
/// not recognised for host-bound paths, and for /generate_204 its answer
/// ACKs past the first segment: missed, never a false portal.
#[test]
fn a_check_split_over_two_segments_is_missed_not_misread() {
    let gs = [203, 0, 113, 60];
    let mut k = LinkTracker::default();
    let (a, b) = CHECK.split_at(27);
    k.observe(lt::RAW, &seg(true, gs, 40001, 7, 1, PSH, 64, a), S);
    k.observe(
        lt::RAW,
        &seg(true, gs, 40001, 7 + a.len() as u32, 1, PSH, 64, b),
        S + 1,
    );
    let next = 7 + CHECK.len() as u32;
    k.observe(
        lt::RAW,
        &seg(false, gs, 40001, 1, next, PSH, 64, REDIRECT),
        S + 2,
    );
    let c = k.clock().captive;
    assert_eq!((c.portal_checks, c.online_checks), (0, 0));
}

/// Fine: seq wrap, HTTP/1.0 answers, a resent request.
#[test]
fn seq_wrap_http10_and_resent_requests() {
    let gs = [203, 0, 113, 60];
    let mut k = LinkTracker::default();
    let seq = u32::MAX - 10;
    k.observe(lt::RAW, &seg(true, gs, 40001, seq, 1, PSH, 64, CHECK), S);
    k.observe(
        lt::RAW,
        &seg(true, gs, 40001, seq, 1, PSH, 64, CHECK),
        2 * S,
    );
    let next = seq.wrapping_add(CHECK.len() as u32);
    let ok = b"HTTP/1.0 204 No Content\r\n\r\n";
    k.observe(
        lt::RAW,
        &seg(false, gs, 40001, 1, next, PSH, 64, ok),
        2 * S + 1,
    );
    assert_eq!(k.clock().captive.online_checks, 1);
}

/// Hostile input: random request and response payloads, with a pending
/// check whose answer they are (so `Reply::read`, `header` and `check_of`
/// all run): no panic.
#[test]
fn random_payloads_do_not_panic() {
    let gs = [203, 0, 113, 60];
    let mut rng = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let alphabet: &[u8] =
        b"HTTP/1.0 2345\r\n:GET /generate_204?host Hostcontent-length:Success 0123456789";
    let mut k = LinkTracker::default();
    for i in 0..200_000i64 {
        let len = (next() % 120) as usize;
        let mut p: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let prefix: &[u8] = match next() % 4 {
            0 => b"GET /generate_204",
            1 => b"GET / HTTP/1.1\r\nHost:",
            2 => b"HTTP/1.",
            _ => b"",
        };
        p.splice(0..0, prefix.iter().copied());
        let port = 40000 + (next() % 3) as u16;
        k.observe(
            lt::RAW,
            &seg(true, gs, port, 7, 1, PSH, 64, CHECK),
            i * 1000,
        );
        let next_seq = 7 + CHECK.len() as u32;
        let to_server = prefix.starts_with(b"GET");
        let f = seg(to_server, gs, port, 1, next_seq, PSH, 64, &p);
        k.observe(lt::RAW, &f, i * 1000 + 1);
        for cut in [0, 20, 39, 40, 41, 47, 50] {
            if cut < f.len() {
                k.observe(lt::RAW, &f[..cut], i * 1000 + 2);
            }
        }
    }
}

/// FINDING (medium, live with `capture.fanout` > 1 or several interfaces):
/// each dispatcher keeps its own tracker, which sees only its ring's flows;
/// worker 0 takes the check counts (absolute values) from whichever
/// dispatcher's clock came with its latest frame: the counters go down and
/// up again (the publisher then counts the rise again), and a ring that saw
/// no check withholds nothing while the other ring's portal is open.
#[test]
fn check_counters_never_go_down_with_two_dispatchers() {
    use tw_detect::detectors::{default_detectors, DetectorsConfig};
    use tw_detect::link::{Captive, LinkClock};
    use tw_detect::{Engine, EngineConfig};
    let mut e = Engine::new(
        EngineConfig::default(),
        default_detectors(&DetectorsConfig::default()),
    );
    let clock = |portal: u32, now: i64| LinkClock {
        now,
        captive: Captive {
            since: S,
            last_portal: S,
            portal_checks: portal,
            ..Captive::default()
        },
        ..LinkClock::default()
    };
    let gs = [203, 0, 113, 60];
    let mut seen = vec![];
    for (i, portal) in [3u32, 1, 3].into_iter().enumerate() {
        let ts = 2 * S + i as i64;
        let f = seg(true, gs, 40001, 1, 1, PSH, 64, b"x");
        e.process_frame_linked(lt::RAW, &f, ts, f.len() as u32, clock(portal, ts));
        seen.push(e.stats().captive_checks[0]);
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}

/// FINDING (medium, missed portal): a text check (Apple, Windows, Firefox,
/// NetworkManager) answered with the portal's own login page (200) longer
/// than the first segment is "neither": the page is not whole in it. Login
/// pages are usually several kB; a laptop with only such checks (a Mac, a
/// Windows PC) behind that portal gets every interception reported.
#[test]
fn a_text_check_answered_with_a_multi_segment_login_page_is_a_portal() {
    let gs = [17, 253, 109, 201];
    let apple = b"GET /hotspot-detect.html HTTP/1.1\r\nHost: captive.apple.com\r\n\r\n";
    let mut k = LinkTracker::default();
    k.observe(lt::RAW, &seg(false, gs, 40001, 0, 7, SYNACK, 64, b""), S);
    k.observe(lt::RAW, &seg(true, gs, 40001, 7, 1, PSH, 64, apple), S + 1);
    let next = 7 + apple.len() as u32;
    let mut page =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5200\r\n\r\n<html><head><title>Hotel Wi-Fi</title>"
            .to_vec();
    page.resize(1400, b' ');
    k.observe(
        lt::RAW,
        &seg(false, gs, 40001, 1, next, PSH, 64, &page),
        S + 2,
    );
    assert_eq!(k.clock().captive.portal_checks, 1);
}
