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
//! (`blackhole`) or *stalls* (`throttling`) excuse what the drop explains
//! ([`LinkDown::explains_silence`], [`LinkDown::explains_stall`]).
//! Replays have no such knowledge: a log that was never written explains
//! nothing, and events are those of before.
//!
//! A period explains only a flow that was already under way when it began
//! (its silence, or its download, began before the link went down, or at
//! most one poll after the period's start): while the carrier is gone
//! nothing is captured on that interface, so a flow the capture saw begin
//! later came through another interface, or after the link was back (found
//! in review, session lp: an interface down from the start, or a retry
//! just after the link came back, hid every block meanwhile). And only a
//! silence that began at most [`LINK_DOWN_DARK`] before the link went down:
//! a longer silence on a working link was a block before the link went
//! anywhere.
//!
//! Bounded and deterministic: at most [`LINK_DOWN_PERIODS`] periods, in
//! time order; a link that flaps more often forgets its oldest period.

use crate::time::{Nanos, SECOND};

/// Periods kept (the latest). A flow is judged up to an idle timeout (the
/// established one: 10 minutes) after its silence began, so the periods of
/// the last 10 minutes are the ones that matter: 32 keep them for a link
/// that drops every 20 s.
pub const LINK_DOWN_PERIODS: usize = 32;

/// A link-down period that began up to this long after a flow's last
/// packet still explains the flow's silence: a Wi-Fi link stops carrying
/// traffic (beacons lost, the access point gone) a moment before the driver
/// reports the carrier lost, and packets the client sends meanwhile are
/// still captured on their way out.
pub const LINK_DOWN_MARGIN: Nanos = 2 * SECOND;

/// How long after a period's start (the last poll that saw the link up)
/// the link may really have gone down: a capture polls its interface about
/// once a second, a little late when busy. A flow whose silence (or
/// download) the capture saw begin later than this after the period began
/// is not explained by it: nothing is captured on an interface without a
/// carrier, so the flow came through another interface, or the link was
/// back (its up-poll comes up to a second late).
pub const LINK_DOWN_POLL: Nanos = 3 * SECOND / 2;

/// How long a silence may have lasted when the link goes down and still be
/// explained by it: about as long as a Wi-Fi station stays associated, and
/// dark, after its access point stops answering, before the driver reports
/// the carrier lost. A request unanswered for longer on a link that still
/// had its carrier was blocked before the link went anywhere (found in
/// review, session lp: a ClientHello resent for 15 s, then the lid closed).
pub const LINK_DOWN_DARK: Nanos = 10 * SECOND;

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
        self.all()
            .iter()
            .map(|&(s, e)| (s, (e != OPEN).then_some(e)))
    }

    fn all(&self) -> &[(Nanos, Nanos)] {
        &self.periods[..usize::from(self.len)]
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
        self.all().last()
    }

    /// Appends a period open since `start`; full, the oldest is forgotten.
    /// (Not merged into the next, as before session lp: a merged period
    /// claims the link down between two drops, hiding a block there, and
    /// loses the later drop's start, which the rules of
    /// [`LinkDown::explains_silence`] judge by; the oldest period is the
    /// one a flow still waiting to be judged is least likely to need.)
    fn push_open(&mut self, start: Nanos) {
        if usize::from(self.len) == LINK_DOWN_PERIODS {
            self.periods.copy_within(1.., 0);
            self.len -= 1;
        }
        // (a `start` before the last period's start cannot come from one
        // capture's polls; kept in order all the same)
        let start = self.last().map_or(start, |p| start.max(p.0));
        self.periods[usize::from(self.len)] = (start, OPEN);
        self.len += 1;
    }

    /// The link went down, at the latest at `since` (a capture that polls
    /// its interface should give the time it last saw it up). Nothing if
    /// it is down already. A period that ended after `since` (another
    /// capture's poll) is opened again rather than followed by a new one;
    /// one that ended at `since` (the poll that saw the link up again
    /// before this drop) is followed by a new one, whose start is this
    /// drop's.
    pub fn went_down(&mut self, since: Nanos) {
        if self.is_down() {
            return;
        }
        self.version += 1;
        let n = usize::from(self.len);
        if let Some(p) = self.periods[..n].last_mut() {
            if p.1 > since {
                p.1 = OPEN;
                return;
            }
        }
        self.push_open(since);
    }

    /// While the link is down (another capture's interface), one more
    /// capture sees its own interface go down, at the latest at `since`:
    /// the open period ends there and a new one opens, so that this drop
    /// has its own start (the flows it explains are judged by it). Nothing
    /// if the link is not down, or the open period began less than
    /// [`LINK_DOWN_POLL`] before (the same drop seen by another capture
    /// of the interface).
    pub fn also_down(&mut self, since: Nanos) {
        let Some(&(start, OPEN)) = self.last() else {
            return;
        };
        if since <= start.saturating_add(LINK_DOWN_POLL) {
            return;
        }
        self.version += 1;
        let n = usize::from(self.len);
        self.periods[n - 1].1 = since;
        self.push_open(since);
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
        self.all().iter().any(|&(s, e)| s <= to && e >= from)
    }

    /// Whether a download whose data ran from `from` to `to` stalled in a
    /// period: one overlaps `from` to [`LINK_DOWN_MARGIN`] after `to`, and
    /// the download had begun when it did (`from` at most
    /// [`LINK_DOWN_POLL`] after its start: a download first seen later
    /// came through another interface, or the link was back).
    pub fn explains_stall(&self, from: Nanos, to: Nanos) -> bool {
        let to = to.saturating_add(LINK_DOWN_MARGIN);
        self.all()
            .iter()
            .any(|&(s, e)| s <= to && e >= from && from <= s.saturating_add(LINK_DOWN_POLL))
    }

    /// Whether a silence from `from` (the first unanswered attempt: the
    /// first SYN or Initial, or the request) to a flow's last packet at
    /// `last` is explained by a period: one that overlaps it or began
    /// within [`LINK_DOWN_MARGIN`] after it, whose start the silence's
    /// start lies at most [`LINK_DOWN_POLL`] after (the flow was under way
    /// when the link went down) and at most [`LINK_DOWN_DARK`] before (not
    /// a long silence on a working link that then went down).
    pub fn explains_silence(&self, from: Nanos, last: Nanos) -> bool {
        let to = last.saturating_add(LINK_DOWN_MARGIN);
        self.all().iter().any(|&(s, e)| {
            s <= to
                && e >= from
                && from <= s.saturating_add(LINK_DOWN_POLL)
                && s <= from.saturating_add(LINK_DOWN_DARK)
        })
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
        assert!(l.explains_silence(2 * SECOND, 8 * SECOND + SECOND / 2));
        assert!(!l.explains_silence(2 * SECOND, 7 * SECOND));
        // up again at the poll the next down says it last saw it up: a new
        // period, with this drop's start
        l.went_down(20 * SECOND);
        assert_eq!(l.periods().count(), 2);
        assert!(l.is_down());
        assert!(l.explains_silence(21 * SECOND, 21 * SECOND));
        // another capture's poll saw it up later than this one saw it down:
        // the same period
        l.came_up(30 * SECOND);
        l.went_down(29 * SECOND);
        assert_eq!(
            l.periods().collect::<Vec<_>>(),
            vec![(10 * SECOND, Some(20 * SECOND)), (20 * SECOND, None)]
        );
    }

    /// Only a flow under way when the link went down: its silence began at
    /// most a poll after the period's start, and at most `LINK_DOWN_DARK`
    /// before it.
    #[test]
    fn a_silence_is_explained_only_by_a_drop_it_was_under_way_at() {
        let mut l = LinkDown::default();
        l.went_down(100 * SECOND);
        // a request 3 s before, retransmitted until the drop: the Wi-Fi case
        assert!(l.explains_silence(97 * SECOND, 99 * SECOND));
        // a request captured just before the poll noticed the drop
        assert!(l.explains_silence(101 * SECOND, 101 * SECOND));
        // captured 2 s after the period began: another interface, or the
        // link back (an interface down from the start; a retry at once)
        assert!(!l.explains_silence(102 * SECOND, 110 * SECOND));
        assert!(!l.explains_silence(3_700 * SECOND, 3_703 * SECOND));
        // 15 s of silence before the drop: a block on a working link
        assert!(!l.explains_silence(85 * SECOND, 99 * SECOND));
        assert!(l.explains_silence(90 * SECOND, 99 * SECOND));
        // a download: stalled by a drop in its middle, not by one before it
        l.came_up(102 * SECOND);
        assert!(l.explains_stall(50 * SECOND, 150 * SECOND));
        assert!(!l.explains_stall(103 * SECOND, 150 * SECOND));
        assert!(!l.explains_stall(10 * SECOND, 97 * SECOND));
    }

    #[test]
    fn flapping_stays_bounded_and_keeps_the_latest() {
        let mut l = LinkDown::default();
        for k in 0..1000 {
            l.went_down(k * 10 * SECOND);
            l.came_up(k * 10 * SECOND + SECOND);
        }
        let p: Vec<_> = l.periods().collect();
        assert_eq!(p.len(), LINK_DOWN_PERIODS);
        // the oldest forgotten, nothing merged: the time between drops is
        // not claimed as down
        let first = (1000 - LINK_DOWN_PERIODS as i64) * 10 * SECOND;
        assert_eq!(p[0], (first, Some(first + SECOND)));
        assert!(!l.overlaps(5 * SECOND, 6 * SECOND));
        assert!(!l.overlaps(first + 2 * SECOND, first + 9 * SECOND));
        assert_eq!(
            p[LINK_DOWN_PERIODS - 1],
            (9990 * SECOND, Some(9991 * SECOND))
        );
        assert!(!l.overlaps(9992 * SECOND, 9999 * SECOND));
        for w in p.windows(2) {
            assert!(w[0].1.unwrap() < w[1].0, "{p:?}");
        }
    }

    /// A second capture's interface goes down while the first's is: its
    /// drop gets a start of its own; the same drop seen by another capture
    /// of the interface (a poll later) does not.
    #[test]
    fn another_capture_going_down_starts_its_own_period() {
        let mut l = LinkDown::default();
        l.also_down(5 * SECOND);
        assert!(l.is_empty(), "not down: nothing");
        l.went_down(10 * SECOND);
        l.also_down(10 * SECOND + SECOND);
        assert_eq!(l.periods().count(), 1, "the same drop");
        l.also_down(40 * SECOND);
        assert_eq!(
            l.periods().collect::<Vec<_>>(),
            vec![(10 * SECOND, Some(40 * SECOND)), (40 * SECOND, None)]
        );
        // a request 2 s before the second drop: explained by it
        assert!(l.explains_silence(38 * SECOND, 39 * SECOND));
        l.came_up(50 * SECOND);
        assert_eq!(l.periods().nth(1), Some((40 * SECOND, Some(50 * SECOND))));
    }
}
