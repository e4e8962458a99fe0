//! Fuzz target body for `tw-capture`'s pcap/pcapng reader, shared by the
//! cargo-fuzz target `pcap` and the replay test
//! (`crates/capture/tests/fuzz_corpus.rs` includes this file with `#[path]`).
//! Only `tw_capture` and `std` may be used here.

use std::io::Read;
use tw_capture::{FileSource, Next, Source};

/// A reader that hands out at most `chunk` bytes per call, so that file
/// headers, records and blocks arrive split at every possible point.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads `data` as a capture file to its end (or first error), twice: in
/// one piece and in small chunks (the last byte picks the chunk size); both
/// readings must give the same frames.
pub fn pcap(data: &[u8]) {
    let chunk = data.last().map_or(1, |&b| usize::from(b % 64) + 1);
    let whole = read_all(data, usize::MAX);
    let split = read_all(data, chunk);
    assert_eq!(whole, split, "chunked reads change the frames");
}

/// (frames as (ts, linktype, len, orig_len, iface, checksum), error?)
type Reading = (Vec<(i64, u32, usize, u32, u32, u64)>, bool);

fn read_all(data: &[u8], chunk: usize) -> Reading {
    let rd = Chunked {
        data: data.to_vec(),
        pos: 0,
        chunk,
    };
    let mut src = match FileSource::from_reader("fuzz", rd) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return (vec![], true);
        }
    };
    let mut frames = vec![];
    loop {
        match src.next() {
            Ok(Next::Frame(f)) => {
                // The reader's documented cap (`file::MAX_CAPLEN`, 256 KiB).
                assert!(f.data.len() <= 256 * 1024, "frame above MAX_CAPLEN");
                let sum = f
                    .data
                    .iter()
                    .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                frames.push((f.ts_ns, f.linktype, f.data.len(), f.orig_len, f.iface, sum));
            }
            Ok(Next::Idle) => panic!("a file source went idle"),
            Ok(Next::End) => break (frames, false),
            Err(e) => {
                let _ = e.to_string();
                assert!(matches!(src.next(), Ok(Next::End)), "next() after an error");
                break (frames, true);
            }
        }
    }
}
