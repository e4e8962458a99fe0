//! Replays the `config` fuzz corpus and crashes (`fuzz/corpus/config/`,
//! `fuzz/artifacts/config/`) through the binary's configuration parser on
//! stable. The parser lives in the binary crate, so this runs
//! `tamperwatch check-config FILE` (parse, validate, print the effective
//! configuration) and requires a clean exit (0: valid, 1: rejected), never
//! a panic. See docs/fuzzing.md.

#[allow(dead_code)]
#[path = "../../../fuzz/src/config_input.rs"]
mod config_input;

#[allow(dead_code)]
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn config_corpus() {
    let files = replay::inputs(env!("CARGO_MANIFEST_DIR"), "config");
    assert!(!files.is_empty());
    let mut ran = 0;
    for p in &files {
        let data = std::fs::read(p).unwrap();
        // The fuzz target skips non-UTF-8 and file-naming inputs; so does this.
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if config_input::names_files(text) {
            continue;
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
            .arg("check-config")
            .arg(p)
            .output()
            .unwrap();
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{}: check-config exited {:?}\n{}",
            p.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran > 0);
}
