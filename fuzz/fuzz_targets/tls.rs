#![no_main]
// Body shared with the stable replay test: see src/detect.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tamperwatch_fuzz::detect::tls(data));
