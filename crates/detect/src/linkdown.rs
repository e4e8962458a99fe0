//! When the capture's link was down: periods of packet time during which a
//! live capture's interface was administratively down or had no carrier
//! (a Wi-Fi drop, a cable pulled).
//!
//! The engine cannot see this in the packets: while the link is down there
//! are none, and a request that goes unanswered because the Wi-Fi dropped
//! just after it looks exactly like a request a censor dropped. A live
//! capture knows, though (`tw_capture::CaptureStats::link_down`, polled
//! about once a second), and hands the periods to every engine
//! ([`crate::Engine::note_link_down`]); detectors that judge *silence*
//! (`blackhole`) or *stalls* (`throttling`) excuse what overlaps them.
//! Replays have no such knowledge: a log that was never written overlaps
//! nothing, and events are those of before.
//!
//! Bounded and deterministic: at most [`LINK_DOWN_PERIODS`] periods, in
//! time order. A link that flaps more often merges its oldest two periods
//! into one (the time between them counts as down too: a flapping link
//! explains a silence as well as a dead one), so nothing grows.

use crate::time::{Nanos, SECOND};

/// Periods kept (the latest). Older ones merge, never vanish while newer
/// remain, so a flow judged late still meets the period it overlapped.
pub const LINK_DOWN_PERIODS: usize = 8;

/// A link-down period that began up to this long after a flow's last
/// packet still explains the flow's silence: a Wi-Fi link stops carrying
/// traffic (beacons lost, the access point gone) a moment before the driver
/// reports the carrier lost, and packets the client sends meanwhile are
/// still captured on their way out.
pub const LINK_DOWN_MARGIN: Nanos = 2 * SECOND;

/// The end of a period still open (the link is down now).
const OPEN: Nanos = Nanos::MAX;

/// Link-down periods (packet time), the latest [`LINK_DOWN_PERIODS`].
/// A plain value (no allocation): engines and the throttling judge keep a
/// copy each and take a newer one by [`LinkDown::version`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkDown {
    /// (start, end) in time order, `end` = [`OPEN`] for a period still open
    /// (only the last can be).
    periods: [(Nanos, Nanos); LINK_DOWN_PERIODS],
    len: u8,
    /// Changes made so far: of two copies of one log, the one with the
    /// larger version is newer.
    version: u64,
}

impl Default for LinkDown {
    fn default() -> Self {
        LinkDown {
            periods: [(0, 0); LINK_DOWN_PERIODS],
            len: 0,
            version: 0,
        }
    }
}

impl LinkDown {
    /// The periods in time order: (start, end), `end` `None` while open.
    pub fn periods(&self) -> impl Iterator<Item = (Nanos, Option<Nanos>)> + '_ {
        self.periods
            .iter()
            .take(usize::from(self.len))
            .map(|&(s, e)| (s, (e != OPEN).then_some(e)))
    }

    /// No period was ever noted (every replay).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the link is down now (the last period is open).
    pub fn is_down(&self) -> bool {
        self.last().is_some_and(|p| p.1 == OPEN)
    }

    /// How many changes this log has seen (see [`Engine::note_link_down`]).
    ///
    /// [`Engine::note_link_down`]: crate::Engine::note_link_down
    pub fn version(&self) -> u64 {
        self.version
    }

    fn last(&self) -> Option<&(Nanos, Nanos)> {
        self.periods.get(usize::from(self.len).checked_sub(1)?)
    }

    /// The link went down, at the latest at `since` (a capture that polls
    /// its interface should give the time it last saw it up). Nothing if
    /// it is down already. A period that ended at or after `since` is
    /// opened again rather than followed by a new one.
    pub fn went_down(&mut self, since: Nanos) {
        if self.is_down() {
            return;
        }
        self.version += 1;
        let n = usize::from(self.len);
        if let Some(p) = self.periods.get_mut(n.wrapping_sub(1)) {
            if p.1 >= since {
                p.1 = OPEN;
                return;
            }
        }
        if n == LINK_DOWN_PERIODS {
            // full: the oldest two become one
            self.periods[0].1 = self.periods[1].1;
            self.periods.copy_within(2.., 1);
            self.len -= 1;
        }
        // (a `since` before the last period's start cannot come from one
        // capture's polls; kept in order all the same)
        let start = self.last().map_or(since, |p| since.max(p.0));
        self.periods[usize::from(self.len)] = (start, OPEN);
        self.len += 1;
    }

    /// The link is up again, at the latest at `at` (the poll that saw it
    /// up). Nothing if it was not down.
    pub fn came_up(&mut self, at: Nanos) {
        if !self.is_down() {
            return;
        }
        self.version += 1;
        if let Some(p) = self.periods.get_mut(usize::from(self.len) - 1) {
            p.1 = at.max(p.0);
        }
    }

    /// Whether the link was down at any time from `from` to `to`
    /// (inclusive).
    pub fn overlaps(&self, from: Nanos, to: Nanos) -> bool {
        self.periods
            .iter()
            .take(usize::from(self.len))
            .any(|&(s, e)| s <= to && e >= from)
    }

    /// Whether a silence from `from` to a flow's last packet at `last` is
    /// explained: the link was down at some time in it, or began to go
    /// down within [`LINK_DOWN_MARGIN`] after it.
    pub fn explains_silence(&self, from: Nanos, last: Nanos) -> bool {
        !self.is_empty() && self.overlaps(from, last.saturating_add(LINK_DOWN_MARGIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_open_close_and_overlap() {
        let mut l = LinkDown::default();
        assert!(l.is_empty() && !l.is_down());
        assert!(!l.explains_silence(0, 100 * SECOND));
        l.went_down(10 * SECOND);
        assert!(l.is_down());
        let v = l.version();
        l.went_down(11 * SECOND);
        assert_eq!(l.version(), v, "already down: no change");
        assert!(l.overlaps(100 * SECOND, 200 * SECOND), "open: down since");
        l.came_up(20 * SECOND);
        assert!(!l.is_down());
        assert_eq!(
            l.periods().collect::<Vec<_>>(),
            vec![(10 * SECOND, Some(20 * SECOND))]
        );
        assert!(l.overlaps(5 * SECOND, 10 * SECOND));
        assert!(l.overlaps(20 * SECOND, 30 * SECOND));
        assert!(!l.overlaps(21 * SECOND, 30 * SECOND));
        assert!(!l.overlaps(0, 9 * SECOND));
        // the margin: a silence that ended 1.5 s before the link went down
        assert!(l.explains_silence(0, 8 * SECOND + SECOND / 2));
        assert!(!l.explains_silence(0, 7 * SECOND));
        // up again at the poll the next down says it last saw it up: one period
        l.went_down(20 * SECOND);
        assert_eq!(l.periods().count(), 1);
        assert!(l.is_down());
    }

    #[test]
    fn flapping_stays_bounded_and_keeps_covering() {
        let mut l = LinkDown::default();
        for k in 0..1000 {
            l.went_down(k * 10 * SECOND);
            l.came_up(k * 10 * SECOND + SECOND);
        }
        let p: Vec<_> = l.periods().collect();
        assert_eq!(p.len(), LINK_DOWN_PERIODS);
        // the oldest merged: everything since the first down is covered
        assert_eq!(p[0].0, 0);
        assert!(l.overlaps(5 * SECOND, 6 * SECOND));
        // the latest are exact
        assert_eq!(
            p[LINK_DOWN_PERIODS - 1],
            (9990 * SECOND, Some(9991 * SECOND))
        );
        assert!(!l.overlaps(9992 * SECOND, 9999 * SECOND));
        for w in p.windows(2) {
            assert!(w[0].1.unwrap() < w[1].0, "{p:?}");
        }
    }
}
