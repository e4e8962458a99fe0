//! Replays `fuzz/corpus/<target>/*` and `fuzz/artifacts/<target>/*` through
//! a target body: included with `#[path]` by the stable replay tests (not
//! part of the fuzz crate's library).

use std::path::{Path, PathBuf};

/// The repository's `fuzz/` directory, from a crate's manifest directory.
pub fn fuzz_dir(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("../../fuzz")
}

/// Every corpus and crash file of `target`, sorted.
pub fn inputs(manifest_dir: &str, target: &str) -> Vec<PathBuf> {
    let mut out = vec![];
    for kind in ["corpus", "artifacts"] {
        let dir = fuzz_dir(manifest_dir).join(kind).join(target);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs `body` on every input of `target`; panics naming each input that
/// panicked. Returns how many inputs ran.
pub fn replay(manifest_dir: &str, target: &str, body: fn(&[u8])) -> usize {
    let files = inputs(manifest_dir, target);
    let mut failed = vec![];
    for p in &files {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: inputs that panic:\n{}",
        failed.join("\n")
    );
    files.len()
}
