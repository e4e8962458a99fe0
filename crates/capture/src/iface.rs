//! Interface helpers: default-route interface, up/down, index, link type.
//!
//! The /proc parsers are pure functions over the file text so they can be
//! unit-tested with sample text. Index, flags and hardware type come from
//! `ioctl`s on a socket (see `ring::sys`), which are correct for the network
//! namespace of the calling thread (unlike /sys, which shows the namespace
//! that mounted it).

use crate::{linktype, ring::sys, CaptureError};

/// `RTF_UP` in the route flags.
const RTF_UP: u32 = 0x0001;
/// `RTF_REJECT`: unreachable/prohibit routes (e.g. the kernel's `lo` default
/// in ipv6_route when IPv6 has no default route).
const RTF_REJECT: u32 = 0x0200;

/// The interface of the default route: the IPv4 default (destination and
/// mask `00000000`, flag `RTF_UP`) with the lowest metric in /proc/net/route,
/// else the IPv6 default (`::/0`, not a reject route, not `lo`) with the
/// lowest metric in /proc/net/ipv6_route.
pub fn default_route_interface() -> Result<String, CaptureError> {
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        if let Some(name) = parse_ipv4_default_route(&text) {
            return Ok(name);
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/ipv6_route") {
        if let Some(name) = parse_ipv6_default_route(&text) {
            return Ok(name);
        }
    }
    Err(CaptureError::NoDefaultRoute)
}

/// Pure part of [`default_route_interface`] for /proc/net/route text:
/// `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT`
/// (hex fields, header line first).
pub(crate) fn parse_ipv4_default_route(text: &str) -> Option<String> {
    let mut best: Option<(u32, &str)> = None;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (iface, dest, flags, metric, mask) = (f[0], f[1], f[3], f[6], f[7]);
        if dest != "00000000" || mask != "00000000" {
            continue;
        }
        let Ok(flags) = u32::from_str_radix(flags, 16) else {
            continue;
        };
        if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || iface == "*" {
            continue;
        }
        let metric = metric.parse::<u32>().unwrap_or(u32::MAX);
        if best.is_none_or(|(m, _)| metric < m) {
            best = Some((metric, iface));
        }
    }
    best.map(|(_, n)| n.to_string())
}

/// Pure part of [`default_route_interface`] for /proc/net/ipv6_route text:
/// `dest(32 hex) dest_plen src src_plen nexthop metric refcnt use flags dev`
/// (no header line; metric and flags in hex).
pub(crate) fn parse_ipv6_default_route(text: &str) -> Option<String> {
    let mut best: Option<(u32, &str)> = None;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (dest, plen, metric, flags, dev) = (f[0], f[1], f[5], f[8], f[9]);
        if dest.len() != 32 || dest.bytes().any(|b| b != b'0') || plen != "00" {
            continue;
        }
        let Ok(flags) = u32::from_str_radix(flags, 16) else {
            continue;
        };
        if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || dev == "lo" {
            continue;
        }
        let metric = u32::from_str_radix(metric, 16).unwrap_or(u32::MAX);
        if best.is_none_or(|(m, _)| metric < m) {
            best = Some((metric, dev));
        }
    }
    best.map(|(_, n)| n.to_string())
}

/// True when the interface exists, is administratively up (`IFF_UP`) and
/// operationally up (`IFF_RUNNING`, which the kernel sets for operstate
/// `up` and `unknown`, e.g. `lo` and tun devices).
pub fn interface_is_up(name: &str) -> bool {
    if !valid_ifname(name) {
        return false;
    }
    match sys::if_flags(name) {
        Ok(flags) => {
            let up = libc::IFF_UP as u32;
            let running = libc::IFF_RUNNING as u32;
            flags & up != 0 && flags & running != 0
        }
        Err(_) => false,
    }
}

/// True for a tunnel's interface (tun devices and WireGuard, IPIP, SIT,
/// GRE): what is captured there is the traffic inside the tunnel, which
/// crosses the network of the tunnel's far end (a VPN provider's), not the
/// link the tunnel runs over. PPP and raw-IP devices (PPPoE and cellular
/// uplinks) are not tunnels, and neither is a device without a link-layer
/// header that sits on hardware (a USB LTE modem in raw-IP mode, such as
/// `qmi_wwan`, is `ARPHRD_NONE` like a tun device, but has a parent device
/// in sysfs; tun and WireGuard devices have none). Without sysfs, every
/// `ARPHRD_NONE` device counts as a tunnel.
pub fn interface_is_tunnel(name: &str) -> bool {
    if !valid_ifname(name) {
        return false;
    }
    let Ok(t) = sys::if_hwtype(name) else {
        return false;
    };
    tunnel_kind(t, || {
        std::path::Path::new("/sys/class/net")
            .join(name)
            .join("device")
            .exists()
    })
}

/// Pure part of [`interface_is_tunnel`]: the hardware type, and whether the
/// interface sits on a device (asked only when it matters).
fn tunnel_kind(arphrd: u16, on_hardware: impl FnOnce() -> bool) -> bool {
    match arphrd {
        libc::ARPHRD_TUNNEL
        | libc::ARPHRD_TUNNEL6
        | libc::ARPHRD_SIT
        | libc::ARPHRD_IPGRE
        | ARPHRD_IP6GRE => true,
        libc::ARPHRD_NONE => !on_hardware(),
        _ => false,
    }
}

/// The addresses of every interface of this host (its network namespace),
/// IPv4 and IPv6, each with its prefix length (`getifaddrs`); empty if they
/// cannot be read.
pub fn local_addresses() -> Vec<(std::net::IpAddr, u8)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list it allocated, freed below
    // with freeifaddrs; nothing from it outlives this function.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs returned, not yet
        // freed; its ifa_addr is null or points to a sockaddr whose family
        // says which sockaddr_* it is.
        unsafe {
            let a = (*p).ifa_addr;
            let m = (*p).ifa_netmask;
            if !a.is_null() {
                match i32::from((*a).sa_family) {
                    libc::AF_INET => {
                        let sin = &*a.cast::<libc::sockaddr_in>();
                        let len = if m.is_null() {
                            32
                        } else {
                            (*m.cast::<libc::sockaddr_in>())
                                .sin_addr
                                .s_addr
                                .count_ones() as u8
                        };
                        out.push((
                            std::net::IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                            len,
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*a.cast::<libc::sockaddr_in6>();
                        let len = if m.is_null() {
                            128
                        } else {
                            (*m.cast::<libc::sockaddr_in6>())
                                .sin6_addr
                                .s6_addr
                                .iter()
                                .map(|b| b.count_ones() as u8)
                                .sum()
                        };
                        out.push((std::net::IpAddr::from(sin6.sin6_addr.s6_addr), len));
                    }
                    _ => {}
                }
            }
            p = (*p).ifa_next;
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The interface's index (`SIOCGIFINDEX`), `None` if it does not exist.
pub fn interface_index(name: &str) -> Option<u32> {
    if !valid_ifname(name) {
        return None;
    }
    sys::if_index(name).ok().filter(|&i| i > 0)
}

/// Linux interface name rules (`dev_valid_name`): 1..=15 bytes, not `.` or
/// `..`, no `/`, `:`, whitespace or NUL.
pub(crate) fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < libc::IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
}

/// pcap link type of what an `AF_PACKET`/`SOCK_RAW` socket delivers for an
/// interface of hardware type `arphrd`, or `None` if unsupported.
pub(crate) fn arphrd_to_linktype(arphrd: u16) -> Option<u32> {
    match arphrd {
        // Ethernet, and loopback (which carries a zeroed 14-byte Ethernet header).
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Some(linktype::ETHERNET),
        // Devices without a link-layer header deliver bare IP packets:
        // tun / WireGuard (NONE), RAWIP (e.g. cellular modems), PPP,
        // IPIP/IP6IP6/SIT tunnels, and point-to-point GRE tunnels
        // (ip_gre sets header_ops only for broadcast/multicast GRE; best effort).
        libc::ARPHRD_NONE
        | ARPHRD_RAWIP
        | libc::ARPHRD_PPP
        | libc::ARPHRD_TUNNEL
        | libc::ARPHRD_TUNNEL6
        | libc::ARPHRD_SIT
        | libc::ARPHRD_IPGRE
        | ARPHRD_IP6GRE => Some(linktype::RAW),
        _ => None,
    }
}

/// `ARPHRD_RAWIP` (linux/if_arp.h).
const ARPHRD_RAWIP: u16 = 519;
/// `ARPHRD_IP6GRE` (linux/if_arp.h).
const ARPHRD_IP6GRE: u16 = 823;

#[cfg(test)]
mod tests {

    #[test]
    fn tunnels_and_uplinks() {
        // tun and WireGuard (no parent device), IP-in-IP, SIT, GRE
        assert!(tunnel_kind(libc::ARPHRD_NONE, || false));
        for t in [
            libc::ARPHRD_TUNNEL,
            libc::ARPHRD_SIT,
            libc::ARPHRD_IPGRE,
            ARPHRD_IP6GRE,
        ] {
            assert!(tunnel_kind(t, || panic!("not asked")), "{t}");
        }
        // a USB LTE modem in raw-IP mode (qmi_wwan: ARPHRD_NONE on a USB
        // device), PPP, raw IP, Ethernet and Wi-Fi
        assert!(!tunnel_kind(libc::ARPHRD_NONE, || true));
        for t in [libc::ARPHRD_PPP, ARPHRD_RAWIP, libc::ARPHRD_ETHER] {
            assert!(!tunnel_kind(t, || panic!("not asked")), "{t}");
        }
        // this host's addresses include its loopback ones
        let l = local_addresses();
        assert!(l.contains(&("127.0.0.1".parse().unwrap(), 8)), "{l:?}");
        // (a real tun device is checked live in faults_e2e)
        assert!(!interface_is_tunnel("lo"));
        assert!(!interface_is_tunnel("no such if"));
    }

    use super::*;

    // Real-looking /proc/net/route: a docker bridge, the default via eth0
    // (metric 100) and a backup default via wlan0 (metric 600).
    const ROUTE: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0102A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";

    #[test]
    fn ipv4_default_lowest_metric() {
        assert_eq!(parse_ipv4_default_route(ROUTE).as_deref(), Some("eth0"));
    }

    #[test]
    fn ipv4_no_default_or_garbage() {
        assert_eq!(parse_ipv4_default_route(""), None);
        assert_eq!(parse_ipv4_default_route("Iface\n"), None);
        // Only a subnet route, then garbage lines, then a default that is not up.
        let t = "Iface\tDestination\n\
                 eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\n\
                 \u{0}\u{1} garbage ### \n\
                 eth1\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\n\
                 eth2\t00000000\t010200C0\tZZZZ\t0\t0\t0\t00000000\n";
        assert_eq!(parse_ipv4_default_route(t), None);
    }

    // /proc/net/ipv6_route: a ::/0 via eth0 (metric 0x400), a reject default
    // on lo (the kernel's placeholder), a /64 route.
    const ROUTE6: &str = "\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000800 00000001 00000000 00000003     wlan0
";

    #[test]
    fn ipv6_default() {
        assert_eq!(parse_ipv6_default_route(ROUTE6).as_deref(), Some("eth0"));
        assert_eq!(parse_ipv6_default_route(""), None);
        assert_eq!(parse_ipv6_default_route("short line"), None);
    }

    #[test]
    fn ifname_rules() {
        assert!(valid_ifname("eth0"));
        assert!(valid_ifname("a23456789012345"));
        assert!(!valid_ifname("a234567890123456"));
        assert!(!valid_ifname(""));
        assert!(!valid_ifname(".."));
        assert!(!valid_ifname("../etc"));
        assert!(!valid_ifname("a b"));
        assert!(!valid_ifname("eth0:1"));
        assert_eq!(interface_index("../x"), None);
        assert!(!interface_is_up("no/such"));
    }

    #[test]
    fn loopback_is_known() {
        // `lo` exists in every network namespace.
        assert!(interface_index("lo").is_some());
        assert_eq!(interface_index("tw-nonexistent0"), None);
        assert!(!interface_is_up("tw-nonexistent0"));
    }

    #[test]
    fn arphrd_mapping() {
        assert_eq!(arphrd_to_linktype(1), Some(linktype::ETHERNET));
        assert_eq!(arphrd_to_linktype(772), Some(linktype::ETHERNET));
        assert_eq!(arphrd_to_linktype(65534), Some(linktype::RAW));
        assert_eq!(arphrd_to_linktype(776), Some(linktype::RAW));
        assert_eq!(arphrd_to_linktype(803), None); // radiotap
        assert_eq!(arphrd_to_linktype(0xffff), None);
    }
}
