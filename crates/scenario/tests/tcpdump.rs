//! Every catalogue scenario must be readable by tcpdump with the expected packet count.
//! Skipped (with a note) when tcpdump is not installed.

use std::path::PathBuf;
use std::process::Command;

use tw_scenario::catalogue;

fn tcpdump() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("tcpdump"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    std::iter::once(PathBuf::from("/usr/bin/tcpdump"))
        .chain(std::iter::once(PathBuf::from("/usr/sbin/tcpdump")))
        .chain(candidates)
        .find(|p| p.is_file())
}

#[test]
fn tcpdump_reads_every_scenario() {
    let Some(td) = tcpdump() else {
        eprintln!("tcpdump not found; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let paths = catalogue::write_all(dir.path()).unwrap();
    assert_eq!(paths.len(), catalogue::catalogue().len());
    for s in catalogue::catalogue() {
        let path = dir.path().join(s.file_name());
        let out = Command::new(&td)
            .arg("-nn")
            .arg("-r")
            .arg(&path)
            .output()
            .expect("run tcpdump");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if s.name == "pcapng_multi_iface"
            && !out.status.success()
            && stderr.contains("different from the type of the first interface")
        {
            // libpcap <= 1.10 rejects pcapng sections mixing link types; that is a
            // reader limitation, not a malformed file (see pcapng_multi_iface_eth).
            eprintln!(
                "{}: libpcap refuses mixed link types: {}",
                s.name,
                stderr.trim()
            );
            continue;
        }
        assert!(out.status.success(), "{}: tcpdump failed: {stderr}", s.name);
        assert!(
            !stderr.contains("truncated dump file") && !stderr.contains("bogus"),
            "{}: {stderr}",
            s.name
        );
        let lines = String::from_utf8_lossy(&out.stdout).lines().count();
        assert_eq!(
            lines, s.expected.packets,
            "{}: tcpdump packet count",
            s.name
        );
    }
}
