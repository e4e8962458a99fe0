#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ from the project's own
generated fixtures (tests/fixtures/*.pcap, see docs/testing.md) and
config/. Run from the repository root: python3 fuzz/make_seed_corpus.py
Small on purpose (a few KB per target); libFuzzer grows its own working
corpus in fuzz/work/ (ignored by git)."""
import glob, hashlib, os, re, struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")
# Index of each link type in fuzz/src/detect.rs LINKTYPES.
SEL = {1: 0, 101: 1, 228: 2, 229: 3, 113: 4, 276: 5, 0: 6, 108: 7}
BUDGET = 6000  # bytes per target


def frames(path):
    b = open(os.path.join(FIX, path), "rb").read()
    if b[:4] != b"\xd4\xc3\xb2\xa1" and b[:4] != b"\x4d\x3c\xb2\xa1":
        return []
    lt = struct.unpack("<I", b[20:24])[0]
    out, off = [], 24
    while off + 16 <= len(b):
        sec, frac, cap, _ = struct.unpack("<IIII", b[off:off + 16])
        out.append((lt, sec * 10**9 + frac * (1000 if b[0] == 0xd4 else 1), b[off + 16:off + 16 + cap]))
        off += 16 + cap
    return out


def l4(lt, d):
    """(proto, sport, dport, payload) of an IPv4/IPv6 TCP or UDP frame."""
    if lt == 1:
        et, d = struct.unpack(">H", d[12:14])[0], d[14:]
        while et in (0x8100, 0x88A8):
            et, d = struct.unpack(">H", d[2:4])[0], d[4:]
    elif lt == 113:
        d = d[16:]
    elif lt == 276:
        d = d[20:]
    elif lt in (0, 108):
        d = d[4:]
    if not d:
        return None
    if d[0] >> 4 == 4:
        proto, hl = d[9], (d[0] & 15) * 4
        tot = struct.unpack(">H", d[2:4])[0]
        ip, d = d[:hl], d[hl:tot]
    elif d[0] >> 4 == 6:
        proto, d = d[6], d[40:]
    else:
        return None
    if proto == 6 and len(d) >= 20:
        sp, dp = struct.unpack(">HH", d[:4])
        return 6, sp, dp, d[(d[12] >> 4) * 4:]
    if proto == 17 and len(d) >= 8:
        sp, dp = struct.unpack(">HH", d[:4])
        return 17, sp, dp, d[8:]
    return None


class Target:
    def __init__(self, name):
        self.name, self.used, self.seen = name, 0, set()
        os.makedirs(os.path.join(OUT, name), exist_ok=True)

    def add(self, data, force=False):
        h = hashlib.sha1(data).hexdigest()
        if h in self.seen or (not force and self.used + len(data) > BUDGET):
            return
        self.seen.add(h)
        self.used += len(data)
        with open(os.path.join(OUT, self.name, h[:16]), "wb") as f:
            f.write(data)


def main():
    t = {n: Target(n) for n in ["decode", "dns", "tls", "quic", "http_fingerprints", "pcap", "engine", "config"]}
    fixtures = sorted(os.path.basename(p) for p in glob.glob(os.path.join(FIX, "*.pcap")))
    # decode: a few frames of every link type and protocol.
    kinds = {}
    for fx in fixtures:
        for lt, _, d in frames(fx):
            info = l4(lt, d)
            k = (lt, info[0] if info else None, bool(info and info[3]), fx.split("_")[0])
            if kinds.get(k, 0) < 2 and len(d) < 400:
                kinds[k] = kinds.get(k, 0) + 1
                t["decode"].add(bytes([SEL.get(lt, 10)]) + d)
    for fx in fixtures:
        for lt, _, d in frames(fx):
            info = l4(lt, d)
            if not info or not info[3]:
                continue
            proto, sp, dp, p = info
            if proto == 17 and 53 in (sp, dp):
                t["dns"].add(p)
            if proto == 6 and dp in (443, 80):
                t["tls"].add(p[:1500])
            if proto == 17 and dp == 443 and len(t["quic"].seen) < 2:
                # The fixtures' Initials are random bytes behind a valid
                # header (they do not decrypt): one plain, one length-prefixed.
                t["quic"].add(p if not t["quic"].seen else struct.pack(">H", len(p)) + p, force=True)
            if proto == 6 and sp == 80 and p.startswith(b"HTTP/"):
                t["http_fingerprints"].add(p[:1500])
    # Initials that decrypt: the RFC 9001 / RFC 9369 Appendix A.2 examples
    # (test vectors, as in crates/detect/src/quic/tests.rs), and their
    # CRYPTO frame; the ClientHello in it as a TLS record for the tls target.
    rs = open(os.path.join(ROOT, "crates", "detect", "src", "quic", "tests.rs")).read()

    def const(name):
        m = re.search(r"const " + name + r': &str = "(.*?)";', rs, re.S)
        return bytes.fromhex(re.sub(r"\s", "", m.group(1)))

    for n in ["RFC9001_CLIENT_INITIAL", "RFC9369_CLIENT_INITIAL", "RFC_CRYPTO_FRAME"]:
        t["quic"].add(const(n), force=True)
    hs = const("RFC_CRYPTO_FRAME")[4:]  # CRYPTO frame: type, offset 0, 2-byte length
    t["tls"].add(bytes([0x16, 3, 1]) + len(hs).to_bytes(2, "big") + hs, force=True)
    csv = open(os.path.join(ROOT, "config", "http-fingerprints.csv"), "rb").read()
    t["http_fingerprints"].add(b"\n".join(csv.splitlines()[:6]) + b"\n", force=True)
    # pcap: whole small fixtures of each format and link type, and a cut one.
    for fx in sorted(fixtures, key=lambda f: os.path.getsize(os.path.join(FIX, f))):
        b = open(os.path.join(FIX, fx), "rb").read()
        if fx.startswith(("linktypes_", "pcapng_", "tcp_refused", "udp_dns_clean")):
            t["pcap"].add(b, force=fx.startswith("pcapng_"))
    t["pcap"].add(open(os.path.join(FIX, "tcp_refused.pcap"), "rb").read()[:100])
    # engine: whole short fixture sequences in the engine target's format.
    for fx in ["rst_inject_inpath.pcap", "dns_inject_inpath_iran.pcap", "http_inject_inpath_page.pcap",
               "bh_quic_blocked.pcap", "tcp_refused.pcap", "linktypes_sll.pcap", "bh_trap_impatient_and_icmp.pcap",
               "captive_portal_login_page.pcap"]:
        fr = frames(fx)
        if not fr:
            continue
        out, prev = bytearray([SEL.get(fr[0][0], 10)]), fr[0][1]
        for _, ts, d in fr:
            delta = max(1, min(254, (ts - prev) // 10**7))
            prev = ts
            out += bytes([delta]) + struct.pack(">H", len(d)) + d
        # (the captive-portal sequence is over budget but the only one with
        # a connectivity check and a portal's answer: forced)
        t["engine"].add(bytes(out), force=fx.startswith("captive_"))
    for name in ["tamperwatch.toml"]:
        t["config"].add(open(os.path.join(ROOT, "config", name), "rb").read(), force=True)
    t["config"].add(b"[flows]\nmax_flows = 10\n[watch_list]\nnews = [\"example.com\"]\n", force=True)
    t["config"].add(b"[pipeline]\nworkers = 0\n", force=True)
    for k, v in t.items():
        print(f"{k}: {len(v.seen)} files, {v.used} bytes")


main()
