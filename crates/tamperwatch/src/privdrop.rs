//! Least privilege for `tamperwatch run`: once the capture sockets, the
//! metrics listener and the event file are open, every capability is
//! dropped (bounding, ambient, inheritable, permitted, effective),
//! `no_new_privs` is set and, when started as root, the process becomes an
//! unprivileged user.
//!
//! Capabilities, the bounding set and `no_new_privs` are per *thread* in
//! Linux: [`drop_privileges`] must run while the process has a single
//! thread, before any worker, capture, sink or tokio thread is spawned, so
//! that every later thread inherits the empty sets.

use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The unprivileged identity to switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Whether the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and takes no pointers.
    unsafe { libc::geteuid() == 0 }
}

/// The user to switch to: `None` when not root or when `user` is empty.
/// `check-config` calls it too, so that a typo is found before the daemon
/// is started as root (and is not reported where `run` would not look).
pub fn target(user: &str) -> Result<Option<Target>> {
    if user.is_empty() || !is_root() {
        return Ok(None);
    }
    // uid 0 without CAP_SETUID and CAP_SETGID (a container run with
    // `--cap-drop ALL --cap-add NET_RAW`) cannot switch: it stays uid 0
    // with no capability at all.
    const CAP_SETGID: u32 = 6;
    const CAP_SETUID: u32 = 7;
    if let Ok(d) = capget() {
        let has = |c: u32| d[0].effective & (1 << c) != 0;
        if !(has(CAP_SETUID) && has(CAP_SETGID)) {
            tracing::warn!(user, "started as uid 0 without CAP_SETUID/CAP_SETGID: staying uid 0 (without any capability) instead of switching user");
            return Ok(None);
        }
    }
    lookup(user).map(Some)
}

/// Looks `user` up in the password database: an error unless it exists and
/// is not uid 0.
fn lookup(user: &str) -> Result<Target> {
    let c = CString::new(user).context("security.user contains NUL")?;
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: every pointer is valid for the call; `buf` outlives `pw`'s use.
    let rc = unsafe {
        libc::getpwnam_r(
            c.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        bail!(
            "security.user {user:?}: cannot look it up: {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
    if result.is_null() {
        bail!("security.user {user:?}: no such user (create it, or set [security] user = \"\" to stay root without capabilities)");
    }
    if pw.pw_uid == 0 {
        bail!("security.user {user:?} is uid 0: not an unprivileged user");
    }
    Ok(Target {
        name: user.to_string(),
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}

/// Before the event file is opened, as root: creates its missing directory
/// owned by `t` (mode 0700), so that rotation keeps working after the
/// switch. An existing directory is left as it is, with a warning when `t`
/// cannot write to it.
pub fn prepare_event_dir(file: &Path, t: &Target) -> Result<()> {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating event directory {}", dir.display()))?;
        std::os::unix::fs::chown(dir, Some(t.uid), Some(t.gid))
            .with_context(|| format!("chown {} to {}", dir.display(), t.name))?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        tracing::info!(dir = %dir.display(), user = %t.name, "created the event directory for the unprivileged user");
        return Ok(());
    }
    let m = std::fs::metadata(dir)?;
    let writable = (m.uid() == t.uid && m.mode() & 0o300 == 0o300)
        || (m.gid() == t.gid && m.mode() & 0o030 == 0o030)
        || m.mode() & 0o003 == 0o003;
    if !writable {
        tracing::warn!(dir = %dir.display(), user = %t.name, "the event directory is not writable by the unprivileged user: rotation and reopening the event file will fail (chown it to that user)");
    }
    Ok(())
}

/// After the event file is opened, as root: an event file we own is handed
/// to `t` when its directory belongs to `t`, so that it can be reopened.
pub fn hand_over_event_file(file: &Path, t: &Target) {
    let dir_ok = file
        .parent()
        .and_then(|d| std::fs::metadata(d).ok())
        .is_some_and(|m| m.uid() == t.uid);
    let ours = std::fs::metadata(file).is_ok_and(|m| m.uid() == 0);
    if dir_ok && ours {
        if let Err(e) = std::os::unix::fs::chown(file, Some(t.uid), Some(t.gid)) {
            tracing::warn!(file = %file.display(), error = %e, "cannot hand the event file to the unprivileged user");
        }
    }
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
        .min(63)
}

fn prctl(op: libc::c_int, a: libc::c_ulong) -> std::io::Result<()> {
    // SAFETY: prctl(2) with integer arguments only.
    let r = unsafe {
        libc::prctl(
            op,
            a,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn capget() -> std::io::Result<[CapData; 2]> {
    let mut h = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut d = [CapData::default(); 2];
    // SAFETY: capget(2) with a v3 header and two data structs, as documented.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(d)
}

fn capset_empty() -> std::io::Result<()> {
    let mut h = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let d = [CapData::default(); 2];
    // SAFETY: capset(2) with a v3 header and two data structs, as documented.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// What [`drop_privileges`] achieved.
#[derive(Debug, Clone, Default)]
pub struct Dropped {
    /// Capabilities left in the bounding set (without CAP_SETPCAP they
    /// cannot be removed from it; permitted and effective are empty anyway).
    pub bounding_left: Vec<u32>,
}

/// Drops every capability, sets `no_new_privs` and switches to `target`.
/// Must be called while the process has a single thread.
pub fn drop_privileges(target: Option<&Target>) -> Result<Dropped> {
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u32>().ok())
        });
    if threads.is_some_and(|n| n != 1) {
        bail!("internal error: privileges must be dropped before any thread starts ({threads:?} threads)");
    }
    let mut out = Dropped::default();
    // Bounding set first: it needs CAP_SETPCAP, which the rest removes.
    for cap in 0..=last_cap() {
        // SAFETY: prctl(2) with integer arguments only.
        let present = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
        if present == 1 && prctl(libc::PR_CAPBSET_DROP, cap.into()).is_err() {
            out.bounding_left.push(cap);
        }
    }
    // Ambient: cleared (absent on kernels before 4.3, where there is none).
    // SAFETY: prctl(2) with integer arguments only.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) {
            bail!("clearing the ambient capabilities: {e}");
        }
    }
    if let Some(t) = target {
        // SAFETY: plain syscalls with integer arguments (setgroups with an
        // empty list and a null pointer, as documented).
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0 {
                bail!("setgroups([]): {}", std::io::Error::last_os_error());
            }
            if libc::setresgid(t.gid, t.gid, t.gid) != 0 {
                bail!("setresgid({}): {}", t.gid, std::io::Error::last_os_error());
            }
            if libc::setresuid(t.uid, t.uid, t.uid) != 0 {
                bail!("setresuid({}): {}", t.uid, std::io::Error::last_os_error());
            }
        }
        let (mut r, mut e, mut s) = (0, 0, 0);
        // SAFETY: getresuid(2) writes three uids to valid pointers.
        unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
        if [r, e, s] != [t.uid; 3] {
            bail!("switching to {} did not take (uids {r} {e} {s})", t.name);
        }
    }
    capset_empty().context("clearing the capability sets")?;
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).context("PR_SET_NO_NEW_PRIVS")?;
    let d = capget().context("capget")?;
    if d.iter()
        .any(|c| c.effective != 0 || c.permitted != 0 || c.inheritable != 0)
    {
        bail!("capabilities are still held after dropping them");
    }
    Ok(out)
}
