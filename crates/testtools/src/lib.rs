//! Test tools for tamperwatch's live censorship harness (root, network
//! namespaces, documentation addresses only):
//!
//! * `tw-inject`: an on-path censor. It sniffs the client-facing interface
//!   of a router (AF_PACKET), never forwards anything itself, and when a
//!   client→server TCP segment carries a blocked trigger (a TLS ClientHello
//!   whose SNI is blocked, an HTTP request whose Host is blocked, or a
//!   keyword) it sends forged TCP resets through a raw socket: to the client
//!   claiming to be the server, and optionally to the server claiming to be
//!   the client. TTL, IP ID, DF and window of the forgeries are chosen on
//!   the command line, like the fingerprints of real injectors.
//! * `tw-dns-inject`: an on-path DNS injector. It sniffs DNS queries (UDP
//!   and optionally TCP to port 53) on the same interface and answers
//!   queries for blocked names itself, claiming to be the resolver, with
//!   the addresses, IP TTL and ID and the quirks (a question without
//!   QCLASS, EDNS dropped) of real injectors.
//! * `tw-wire`: a userspace layer-2 "wire" between two interfaces that
//!   delays every frame by a fixed time (the kernel here has no netem), so
//!   that a server behind it is "far" and an injector in front of it wins
//!   the race, as in the wild.
//!
//! The library holds the parsers and packet builders (unit-tested here) and
//! the thin libc wrappers the binaries use ([`sys`]).

pub mod dns;
pub mod http;
pub mod inject;
pub mod packet;
pub mod sys;
pub mod tls;
