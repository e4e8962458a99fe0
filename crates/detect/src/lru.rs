//! A bounded map with least-recently-used eviction, allocated once.
//! Used for per-server state (baselines shared by all flows to a server).

use std::collections::HashMap;
use std::hash::Hash;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node<K, V> {
    entry: Option<(K, V)>,
    prev: u32,
    next: u32,
}

/// Bounded LRU map.
#[derive(Debug)]
pub struct Lru<K, V> {
    nodes: Vec<Node<K, V>>,
    free: Vec<u32>,
    index: HashMap<K, u32>,
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
        });
        Lru {
            nodes,
            free: (0..cap as u32).rev().collect(),
            index: HashMap::with_capacity(cap),
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

    /// The entry for `k`, created with `make` if absent (evicting the least
    /// recently used entry when full), marked most recently used. The
    /// evicted entry, if any, is passed to `on_evict`.
    pub fn get_or_insert_with(
        &mut self,
        k: K,
        make: impl FnOnce() -> V,
        on_evict: impl FnOnce(K, V),
    ) -> Option<&mut V> {
        let i = match self.index.get(&k) {
            Some(&i) => {
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
                }
                self.index.insert(k, i);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut l: Lru<u32, u32> = Lru::new(2);
        let mut ev = vec![];
        *l.get_or_insert_with(1, || 10, |k, _| ev.push(k)).unwrap() += 1;
        l.get_or_insert_with(2, || 20, |k, _| ev.push(k));
        l.get_or_insert_with(1, || 0, |k, _| ev.push(k)); // touch 1
        l.get_or_insert_with(3, || 30, |k, _| ev.push(k)); // evicts 2
        assert_eq!(ev, vec![2]);
        assert_eq!(l.peek(&1), Some(&11));
        assert_eq!(l.peek(&2), None);
        assert_eq!(l.len(), 2);
        for k in 4..100 {
            l.get_or_insert_with(k, || k, |_, _| {});
        }
        assert_eq!(l.len(), 2);
        assert_eq!(l.peek(&99), Some(&99));
    }
}
