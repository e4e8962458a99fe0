#![no_main]
//! The binary's configuration parser. `config.rs` lives in the bin crate
//! (no library to link), so it is compiled here from its source file; the
//! stable replay test runs `tamperwatch check-config` on each corpus file
//! instead (crates/tamperwatch/tests/fuzz_corpus.rs).

#[allow(dead_code, clippy::all)]
#[path = "../../crates/tamperwatch/src/config.rs"]
mod config;

/// What config.rs calls in the binary's main.rs.
#[allow(dead_code)]
fn vantage(_: &config::Config) -> Option<tw_metrics::VantageInfo> {
    None
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Fingerprint list paths would make the parser read files named by the
    // input (/dev/zero, /dev/stdin): operators' paths, not hostile input.
    if tamperwatch_fuzz::config_input::names_files(text) {
        return;
    }
    if let Ok(c) = config::Config::parse_str(text, "fuzz") {
        let _ = c.to_toml();
        let _ = c.engine();
        let _ = c.watch();
        let _ = c.listen_addr();
        let _ = c.workers();
    }
});
