//! A bounded map with least-recently-used eviction, allocated once.
//! Used for per-server state (baselines shared by all flows to a server).

use std::collections::HashMap;

/// Keyed with a random seed per process (ahash): spoofed floods cannot aim at collisions.
type Hasher = ahash::RandomState;
use std::hash::Hash;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct Node<K, V> {
    entry: Option<(K, V)>,
    prev: u32,
    next: u32,
    /// When the entry last moved to the front.
    linked: i64,
}

/// An entry moves to the front at most this often (in the caller's time
/// unit, packet nanoseconds): moving touches neighbouring nodes, which costs
/// cache misses on every packet. Eviction is least-recently-used to within
/// this granularity.
pub const RELINK_EVERY: i64 = 1_000_000_000;

/// Bounded LRU map.
#[derive(Debug)]
pub struct Lru<K, V> {
    nodes: Vec<Node<K, V>>,
    free: Vec<u32>,
    index: HashMap<K, u32, Hasher>,
    head: u32,
    tail: u32,
}

impl<K: Hash + Eq + Copy, V> Lru<K, V> {
    /// An empty map holding at most `cap` entries (at least one).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        let mut nodes = Vec::with_capacity(cap);
        nodes.resize_with(cap, || Node {
            entry: None,
            prev: NIL,
            next: NIL,
            linked: i64::MIN,
        });
        Lru {
            nodes,
            free: (0..cap as u32).rev().collect(),
            index: HashMap::with_capacity_and_hasher(cap, Hasher::new()),
            head: NIL,
            tail: NIL,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn unlink(&mut self, i: u32) {
        let Some(n) = self.nodes.get(i as usize) else {
            return;
        };
        let (p, nx) = (n.prev, n.next);
        if p == NIL {
            self.head = nx;
        } else if let Some(pn) = self.nodes.get_mut(p as usize) {
            pn.next = nx;
        }
        if nx == NIL {
            self.tail = p;
        } else if let Some(nn) = self.nodes.get_mut(nx as usize) {
            nn.prev = p;
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.prev = NIL;
            n.next = old;
        }
        if old == NIL {
            self.tail = i;
        } else if let Some(o) = self.nodes.get_mut(old as usize) {
            o.prev = i;
        }
        self.head = i;
    }

    /// Looks `k` up without changing recency.
    pub fn peek(&self, k: &K) -> Option<&V> {
        let i = *self.index.get(k)?;
        self.nodes.get(i as usize)?.entry.as_ref().map(|(_, v)| v)
    }

    /// Looks `k` up for a change without changing recency.
    pub fn peek_mut(&mut self, k: &K) -> Option<&mut V> {
        let i = *self.index.get(k)?;
        self.nodes
            .get_mut(i as usize)?
            .entry
            .as_mut()
            .map(|(_, v)| v)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.nodes
            .iter()
            .filter_map(|n| n.entry.as_ref().map(|(k, v)| (k, v)))
    }

    /// The entry for `k`, created with `make` if absent (evicting the least
    /// recently used entry when full), marked most recently used. The
    /// evicted entry, if any, is passed to `on_evict`.
    pub fn get_or_insert_with(
        &mut self,
        k: K,
        now: i64,
        make: impl FnOnce() -> V,
        on_evict: impl FnOnce(K, V),
    ) -> Option<&mut V> {
        let mut hint = NIL;
        self.get_or_insert_hinted(&mut hint, k, now, make, on_evict)
    }

    /// [`Lru::get_or_insert_with`] that first tries the node `*hint` (where
    /// `k` was last time) and saves where `k` is now in `*hint`: a caller
    /// that looks the same key up again and again (a flow's server, on each
    /// of its packets) skips the hash lookup. A stale hint (the entry was
    /// evicted, or the node reused for another key) only costs the lookup.
    pub fn get_or_insert_hinted(
        &mut self,
        hint: &mut u32,
        k: K,
        now: i64,
        make: impl FnOnce() -> V,
        on_evict: impl FnOnce(K, V),
    ) -> Option<&mut V> {
        let hinted = self
            .nodes
            .get(*hint as usize)
            .and_then(|n| n.entry.as_ref())
            .is_some_and(|(nk, _)| *nk == k);
        let found = if hinted {
            Some(*hint)
        } else {
            self.index.get(&k).copied()
        };
        let i = match found {
            Some(i) => {
                *hint = i;
                let fresh = self
                    .nodes
                    .get(i as usize)
                    .is_some_and(|n| now.saturating_sub(n.linked) < RELINK_EVERY);
                if fresh {
                    return self
                        .nodes
                        .get_mut(i as usize)?
                        .entry
                        .as_mut()
                        .map(|(_, v)| v);
                }
                if let Some(n) = self.nodes.get_mut(i as usize) {
                    n.linked = now;
                }
                self.unlink(i);
                i
            }
            None => {
                if self.free.is_empty() {
                    let t = self.tail;
                    self.unlink(t);
                    if let Some((ok, ov)) =
                        self.nodes.get_mut(t as usize).and_then(|n| n.entry.take())
                    {
                        self.index.remove(&ok);
                        on_evict(ok, ov);
                    }
                    self.free.push(t);
                }
                let i = self.free.pop()?;
                if let Some(n) = self.nodes.get_mut(i as usize) {
                    n.entry = Some((k, make()));
                    n.linked = now;
                }
                self.index.insert(k, i);
                *hint = i;
                i
            }
        };
        self.push_front(i);
        self.nodes
            .get_mut(i as usize)?
            .entry
            .as_mut()
            .map(|(_, v)| v)
    }
}

impl<K: Hash + Eq + Copy, V> Lru<K, V> {
    /// Removes every entry `keep` says no to; returns how many. Which
    /// entries go depends on their values alone (not on the order of the
    /// list), and removal has no other effect, so the order of the scan
    /// does not matter.
    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) -> usize {
        let mut removed = 0;
        for i in 0..self.nodes.len() as u32 {
            let gone = self
                .nodes
                .get(i as usize)
                .and_then(|n| n.entry.as_ref())
                .is_some_and(|(_, v)| !keep(v));
            if !gone {
                continue;
            }
            self.unlink(i);
            if let Some((k, _)) = self.nodes.get_mut(i as usize).and_then(|n| n.entry.take()) {
                self.index.remove(&k);
                self.free.push(i);
                removed += 1;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retain_removes_by_value_and_frees_the_nodes() {
        let mut m: Lru<u32, i64> = Lru::new(4);
        for k in 0..4u32 {
            m.get_or_insert_with(k, i64::from(k) * RELINK_EVERY, || i64::from(k), |_, _| {});
        }
        assert_eq!(m.retain(|v| v % 2 == 1), 2);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m.peek(&0), m.peek(&1), m.peek(&2), m.peek(&3)),
            (None, Some(&1), None, Some(&3))
        );
        // the freed nodes take new entries without evicting the others
        let mut evicted = vec![];
        for k in [10u32, 11] {
            m.get_or_insert_with(k, 9 * RELINK_EVERY, || 0, |k, _| evicted.push(k));
        }
        assert!(evicted.is_empty(), "{evicted:?}");
        assert_eq!(m.len(), 4);
        // and the list still ends at the least recently used entry
        m.get_or_insert_with(12, 10 * RELINK_EVERY, || 0, |k, _| evicted.push(k));
        assert_eq!(evicted, vec![1]);
    }

    #[test]
    fn hints_find_the_entry_and_stale_hints_fall_back_to_the_index() {
        let t = |n: i64| n * RELINK_EVERY;
        let mut m: Lru<u32, u32> = Lru::new(2);
        let (mut h1, mut h2, mut h3) = (NIL, NIL, NIL);
        *m.get_or_insert_hinted(&mut h1, 1, t(0), || 10, |_, _| {})
            .unwrap() += 1;
        assert_ne!(h1, NIL);
        assert_eq!(
            m.get_or_insert_hinted(&mut h1, 1, t(0), || 0, |_, _| {}),
            Some(&mut 11)
        );
        m.get_or_insert_hinted(&mut h2, 2, t(2), || 20, |_, _| {});
        // A wrong hint (another key's node) still finds the key and is corrected.
        let mut wrong = h2;
        assert_eq!(
            m.get_or_insert_hinted(&mut wrong, 1, t(4), || 0, |_, _| {}),
            Some(&mut 11)
        );
        assert_eq!(wrong, h1);
        // Key 2 is evicted by key 3, which reuses its node: key 2's stale
        // hint must not return key 3's value.
        let mut evicted = Vec::new();
        m.get_or_insert_hinted(&mut h3, 3, t(6), || 30, |k, v| evicted.push((k, v)));
        assert_eq!(evicted, vec![(2, 20)]);
        assert_eq!(h3, h2);
        m.get_or_insert_hinted(&mut h1, 1, t(7), || 0, |_, _| {});
        assert_eq!(
            m.get_or_insert_hinted(&mut h2, 2, t(8), || 21, |_, _| {}),
            Some(&mut 21)
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m.peek(&3), None);
        assert_eq!(m.peek(&1), Some(&11));
        assert_eq!(m.peek(&2), Some(&21));
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut l: Lru<u32, u32> = Lru::new(2);
        let mut ev = vec![];
        let s = RELINK_EVERY;
        *l.get_or_insert_with(1, 0, || 10, |k, _| ev.push(k))
            .unwrap() += 1;
        l.get_or_insert_with(2, s, || 20, |k, _| ev.push(k));
        l.get_or_insert_with(1, 2 * s, || 0, |k, _| ev.push(k)); // touch 1
        l.get_or_insert_with(3, 3 * s, || 30, |k, _| ev.push(k)); // evicts 2
        assert_eq!(ev, vec![2]);
        assert_eq!(l.peek(&1), Some(&11));
        assert_eq!(l.peek(&2), None);
        assert_eq!(l.len(), 2);
        for k in 4..100 {
            l.get_or_insert_with(k, i64::from(k) * s, || k, |_, _| {});
        }
        assert_eq!(l.len(), 2);
        assert_eq!(l.peek(&99), Some(&99));
        // Used again within RELINK_EVERY: not moved, so it is evicted first.
        let mut l: Lru<u32, u32> = Lru::new(2);
        l.get_or_insert_with(1, 0, || 1, |_, _| {});
        l.get_or_insert_with(2, 1, || 2, |_, _| {});
        l.get_or_insert_with(1, 2, || 1, |_, _| {});
        let mut gone = vec![];
        l.get_or_insert_with(3, 3, || 3, |k, _| gone.push(k));
        assert_eq!(gone, vec![1]);
    }
}
