//! An injector from `tw-testtools` (`tw-inject`, `tw-dns-inject`) running
//! in the router, with its count file: one `key=value` line per injection.

use super::censor::tool;
use super::netns::{Guarded, Netns};
use super::poll;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The on-path injector; killed on drop unless [`Injector::finish`]ed.
#[derive(Debug)]
pub struct Injector {
    name: &'static str,
    proc: Guarded,
    count_file: PathBuf,
    _dir: tempfile::TempDir,
    /// The TTL its packets leave with.
    pub ttl: u8,
}

impl Injector {
    /// `tw-inject --iface IFACE --ttl TTL --count-file .. ARGS..` in `ns`;
    /// waits until it listens.
    pub fn start(ns: &Netns, iface: &str, args: &[&str], ttl: u8) -> Injector {
        Injector::start_tool("tw-inject", ns, iface, args, ttl)
    }

    /// The same for another injector of `tw-testtools` that takes these
    /// options (`tw-dns-inject`).
    pub fn start_tool(
        name: &'static str,
        ns: &Netns,
        iface: &str,
        args: &[&str],
        ttl: u8,
    ) -> Injector {
        let dir = tempfile::tempdir().expect("tempdir");
        let count_file = dir.path().join("injections.txt");
        let bin = tool(name);
        let ttl_s = ttl.to_string();
        let mut a = vec![
            "--iface",
            iface,
            "--ttl",
            &ttl_s,
            "--count-file",
            count_file.to_str().unwrap(),
        ];
        a.extend_from_slice(args);
        let mut proc = ns.spawn(bin.to_str().unwrap(), &a);
        let up = poll(Duration::from_secs(5), Duration::from_millis(20), || {
            (count_file.exists() && proc.log().contains("listening")).then_some(())
        });
        if up.is_none() || proc.try_status().is_some() {
            panic!("{name} did not start:\n{}", proc.log());
        }
        Injector {
            name,
            proc,
            count_file,
            _dir: dir,
            ttl,
        }
    }

    /// Stops it (SIGTERM must end it with status 0) and returns the
    /// injection lines as key=value maps.
    pub fn finish(mut self) -> Vec<BTreeMap<String, String>> {
        self.proc.signal(libc::SIGTERM);
        let st = self.proc.wait_timeout(Duration::from_secs(5));
        assert!(
            st.is_some_and(|s| s.success()),
            "{} did not exit cleanly on SIGTERM ({st:?}):\n{}",
            self.name,
            self.proc.log()
        );
        let log = self.proc.log();
        assert!(log.contains("stopped after"), "{log}");
        std::fs::read_to_string(&self.count_file)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }
}
