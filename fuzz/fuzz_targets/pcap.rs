#![no_main]
// Body shared with the stable replay test: see src/capture.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tamperwatch_fuzz::capture::pcap(data));
