//! The flow table's index: from a flow key's hash to the flow's slot.
//!
//! One 8-byte bucket per entry: 32 bits of the key's hash (the *tag*, which
//! also gives the home bucket) and the slot number. Linear probing over a
//! power-of-two array sized once, at most two thirds full, with deletion by
//! backward shift (no tombstones, so lookups never slow down as flows come
//! and go). A lookup reads one cache line of the index (eight buckets), then
//! the slot whose tag matched; a general-purpose hash table (hashbrown) reads
//! a control-byte group and then a bucket elsewhere in memory, one cache miss
//! more per packet. The hasher is seeded per process (see `flow`), so a
//! spoofed flood cannot aim at one run of buckets.
//!
//! The array is allocated once, for the table's capacity, but only a
//! power-of-two prefix of it is in use: the *active* part, which doubles
//! when it is two thirds full and halves when it is less than one eighth
//! full (never below [`MIN_ACTIVE`]). A vantage point with a few thousand
//! flows thus probes a few tens of kilobytes that stay in the cache, instead
//! of landing at random in the whole array (2 MiB with the default
//! `max_flows`), where every lookup was a cache miss. Resizing reinserts the
//! entries by their tags (a bucket holds the hash bits that give its home),
//! so no key is hashed again; memory stays what was allocated up front,
//! apart from a transient list of the entries while they move.

/// A free bucket. Buckets hold the slot number plus one (slot numbers are
/// below `u32::MAX`), so no used bucket is zero and the array starts as
/// zeroed memory: the allocator hands out fresh zero pages that the kernel
/// only backs when a bucket on them is first used, instead of every page
/// being written at start-up.
const EMPTY: u64 = 0;

/// The bucket for `slot` under `tag`.
#[inline]
fn bucket(tag: u32, slot: u32) -> u64 {
    (u64::from(tag) << 32) | (u64::from(slot) + 1)
}

/// The slot number a used bucket holds.
#[inline]
fn slot_of(b: u64) -> u32 {
    (b as u32).wrapping_sub(1)
}

/// The smallest active part (buckets): 8 KiB.
pub(crate) const MIN_ACTIVE: usize = 1024;

#[derive(Debug)]
pub(crate) struct FlowIndex {
    /// Every bucket the index may use; those past the active part are empty.
    buckets: Vec<u64>,
    /// The active part's length minus one (a power of two minus one).
    mask: usize,
    len: usize,
}

/// The 32 bits of a 64-bit hash the index keeps (the high half: ahash's
/// low bits are as good, but the high ones are what `Table` does not use
/// elsewhere).
#[inline]
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

impl FlowIndex {
    /// Buckets for `cap` entries: the next power of two at or above 1.5 ×
    /// `cap` (so at most two thirds full).
    pub(crate) fn buckets_for(cap: usize) -> usize {
        cap.max(1)
            .saturating_add(cap / 2)
            .checked_next_power_of_two()
            .unwrap_or(1 << 31)
            .max(8)
    }

    /// An index for up to `cap` entries, allocated now.
    pub(crate) fn with_capacity(cap: usize) -> FlowIndex {
        let n = Self::buckets_for(cap);
        FlowIndex {
            buckets: vec![EMPTY; n],
            mask: n.min(MIN_ACTIVE) - 1,
            len: 0,
        }
    }

    /// Buckets in the active part.
    #[inline]
    fn active(&self) -> usize {
        self.mask + 1
    }

    /// Moves every entry into an active part of `n` buckets (a power of two,
    /// at most the array, more than `len`).
    fn resize(&mut self, n: usize) {
        let old = self.active();
        let mut live = Vec::with_capacity(self.len);
        for b in self.buckets.iter_mut().take(old) {
            if *b != EMPTY {
                live.push(*b);
                *b = EMPTY;
            }
        }
        self.mask = n - 1;
        for b in live {
            self.place(b);
        }
    }

    /// Stores the used bucket `b` in the first free bucket of its run (its
    /// home is in its tag); false when there is none (never, within the
    /// capacity the index was made for). `len` is the caller's.
    fn place(&mut self, b: u64) -> bool {
        let mut i = self.home((b >> 32) as u32);
        while let Some(x) = self.buckets.get_mut(i) {
            if *x == EMPTY {
                *x = b;
                return true;
            }
            i = (i + 1) & self.mask;
        }
        false
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask
    }

    /// Prefetches the home bucket of `hash`.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        if let Some(b) = self.buckets.get(self.home(tag_of(hash))) {
            tw_hint::prefetch(b);
        }
    }

    /// The first slot in the run of `hash` whose tag matches (the likely
    /// one; not checked against the key).
    #[inline]
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true)
    }

    /// The slot whose tag matches `hash` and for which `eq` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = tag_of(hash);
        let mut i = self.home(tag);
        // At most `len` occupied buckets can be in the way; an empty one
        // always ends the run (the index is never full).
        for _ in 0..=self.len {
            let b = *self.buckets.get(i)?;
            if b == EMPTY {
                return None;
            }
            if (b >> 32) as u32 == tag && eq(slot_of(b)) {
                return Some(slot_of(b));
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Adds `slot` under `hash` (the caller knows it is not there yet).
    /// Returns false when the index is full (never, when it is used within
    /// the capacity it was made for).
    pub(crate) fn insert(&mut self, hash: u64, slot: u32) -> bool {
        if self.len + 1 >= self.buckets.len() || slot == u32::MAX {
            return false;
        }
        if (self.len + 1) * 3 > self.active() * 2 && self.active() < self.buckets.len() {
            self.resize(self.active() * 2);
        }
        if !self.place(bucket(tag_of(hash), slot)) {
            return false;
        }
        self.len += 1;
        true
    }

    /// Removes `slot` (stored under `hash`); false when it was not there.
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let want = bucket(tag_of(hash), slot);
        let mut i = self.home(tag_of(hash));
        for _ in 0..=self.len {
            match self.buckets.get(i) {
                Some(&b) if b == want => {
                    self.remove_at(i);
                    self.len -= 1;
                    if self.len * 8 < self.active() && self.active() > MIN_ACTIVE {
                        self.resize(self.active() / 2);
                    }
                    return true;
                }
                Some(&b) if b == EMPTY => return false,
                Some(_) => i = (i + 1) & self.mask,
                None => return false,
            }
        }
        false
    }

    /// Empties bucket `i` and moves later entries of the run back into the
    /// hole where their home allows it, so every entry stays reachable from
    /// its home without crossing an empty bucket.
    fn remove_at(&mut self, mut hole: usize) {
        let mask = self.mask;
        if let Some(b) = self.buckets.get_mut(hole) {
            *b = EMPTY;
        }
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let Some(&b) = self.buckets.get(j) else {
                return;
            };
            if b == EMPTY {
                return;
            }
            let home = self.home((b >> 32) as u32);
            // The entry at j may fill the hole unless its home lies
            // cyclically in (hole, j].
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                if let Some(h) = self.buckets.get_mut(hole) {
                    *h = b;
                }
                if let Some(e) = self.buckets.get_mut(j) {
                    *e = EMPTY;
                }
                hole = j;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Hashes that pile into few home buckets (the top bits vary, the
    /// home bits do not), to exercise long runs, wrap-around and the
    /// backward shift.
    fn crowded(k: u32) -> u64 {
        let home = u64::from(k % 5) + 13; // 5 homes near the end of 16 buckets
        ((u64::from(k) << 40) | (home << 32)) ^ u64::from(k)
    }

    #[test]
    fn sizes_leave_room() {
        assert_eq!(FlowIndex::buckets_for(0), 8);
        assert_eq!(FlowIndex::buckets_for(10), 16);
        assert_eq!(FlowIndex::buckets_for(163_840), 262_144);
        assert!(FlowIndex::buckets_for(1000) * 2 >= 1000 * 3);
    }

    #[test]
    fn insert_find_remove_against_a_model() {
        // A deterministic pseudo-random sequence of inserts and removals
        // with crowded hashes, checked against a set after every step.
        let cap = 10;
        let mut idx = FlowIndex::with_capacity(cap);
        assert_eq!(idx.buckets.len(), 16);
        let mut model: HashSet<u32> = HashSet::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x % 24) as u32;
            let h = crowded(slot);
            if model.remove(&slot) {
                assert!(idx.remove(h, slot), "step {step}: {slot} not removed");
            } else if idx.len() < cap {
                assert!(idx.insert(h, slot), "step {step}");
                model.insert(slot);
            }
            assert_eq!(idx.len(), model.len());
            for s in 0..24u32 {
                let found = idx.find(crowded(s), |j| j == s);
                assert_eq!(found.is_some(), model.contains(&s), "step {step} slot {s}");
            }
        }
    }

    #[test]
    fn active_part_grows_and_shrinks_with_the_entries() {
        // Slots 0..4,000 come in, then most leave, then some come back; the
        // active part follows (two thirds full at most, one eighth at
        // least, never below MIN_ACTIVE) and every entry stays reachable.
        let cap = 5_000;
        let mut idx = FlowIndex::with_capacity(cap);
        assert_eq!(idx.buckets.len(), 8_192);
        assert_eq!(idx.active(), MIN_ACTIVE);
        let h = |s: u32| u64::from(s).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut model: HashSet<u32> = HashSet::new();
        let check = |idx: &FlowIndex, model: &HashSet<u32>| {
            assert_eq!(idx.len(), model.len());
            assert!(idx.len() * 3 <= idx.active() * 2);
            assert!(idx.active() == MIN_ACTIVE || idx.len() * 8 >= idx.active());
            assert!(idx.buckets[idx.active()..].iter().all(|&b| b == EMPTY));
            for s in 0..4_000u32 {
                assert_eq!(
                    idx.find(h(s), |j| j == s).is_some(),
                    model.contains(&s),
                    "slot {s}"
                );
            }
        };
        let mut peak = 0;
        for s in 0..4_000u32 {
            assert!(idx.insert(h(s), s));
            model.insert(s);
            peak = peak.max(idx.active());
        }
        assert_eq!(peak, 8_192);
        check(&idx, &model);
        for s in 0..3_900u32 {
            assert!(idx.remove(h(s), s));
            model.remove(&s);
        }
        assert_eq!(idx.active(), MIN_ACTIVE);
        check(&idx, &model);
        for s in 1_000..2_000u32 {
            assert!(idx.insert(h(s), s));
            model.insert(s);
        }
        assert_eq!(idx.active(), 2_048);
        check(&idx, &model);
    }

    #[test]
    fn tags_alone_do_not_match() {
        // Two slots under the same hash: `eq` decides.
        let mut idx = FlowIndex::with_capacity(4);
        assert!(idx.insert(42, 1));
        assert!(idx.insert(42, 2));
        assert_eq!(idx.find(42, |j| j == 2), Some(2));
        assert_eq!(idx.find(42, |j| j == 1), Some(1));
        assert_eq!(idx.find(42, |_| false), None);
        assert!(!idx.remove(42, 3));
        assert!(idx.remove(42, 1));
        assert_eq!(idx.find(42, |j| j == 2), Some(2));
        assert_eq!(idx.find(43 << 32, |_| true), None);
    }

    #[test]
    fn never_fills_up() {
        let mut idx = FlowIndex::with_capacity(3);
        let n = idx.buckets.len();
        let mut added = 0;
        for s in 0..(n as u32 + 5) {
            if idx.insert(u64::from(s) << 32, s) {
                added += 1;
            }
        }
        // One bucket always stays empty, so lookups end.
        assert_eq!(added, n - 1);
        assert_eq!(idx.find(u64::from(n as u32 + 100) << 32, |_| true), None);
        assert!(!idx.insert(0, u32::MAX));
    }
}
