//! [`SmallList`]: a list that keeps its first few items inline.

use std::fmt;

/// A list of `Copy` items that keeps up to `N` of them inline and moves
/// them all to the heap when it outgrows that.
///
/// A peer's topics and score counters are lists of one item for nearly
/// every peer, read by every heartbeat: inline, they sit in the peer
/// table's one allocation, where the heartbeat reads them in a stream,
/// instead of in two small allocations per peer, each a cache miss of its
/// own.
#[derive(Clone)]
pub(crate) struct SmallList<T: Copy + Default, const N: usize> {
    /// How many of `inline` are items; [`SPILLED`] once the items are in
    /// `heap` (and then they stay there).
    len: usize,
    inline: [T; N],
    /// The items once spilled, boxed: a list that never spills (nearly
    /// all) pays one word for it, not three, and a heartbeat reads 12
    /// peers' entries with two of these each.
    #[allow(clippy::box_collection)]
    heap: Option<Box<Vec<T>>>,
}

/// [`SmallList::len`]'s mark for a list whose items are on the heap.
const SPILLED: usize = usize::MAX;

impl<T: Copy + Default, const N: usize> SmallList<T, N> {
    /// An empty list.
    pub(crate) fn new() -> Self {
        SmallList {
            len: 0,
            inline: [T::default(); N],
            heap: None,
        }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        match self.len {
            SPILLED => self.heap.as_deref().map_or(&[], Vec::as_slice),
            len => &self.inline[..len],
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self.len {
            SPILLED => self.spilled(),
            len => &mut self.inline[..len],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// The spilled items (an empty vector if, wrongly, there were none).
    fn spilled(&mut self) -> &mut Vec<T> {
        self.heap.get_or_insert_with(Box::default)
    }

    /// Inserts `item` at position `at` (at most the length), as
    /// [`Vec::insert`].
    pub(crate) fn insert(&mut self, at: usize, item: T) {
        match self.len {
            SPILLED => self.spilled().insert(at, item),
            len if len < N => {
                self.inline.copy_within(at..len, at + 1);
                self.inline[at] = item;
                self.len += 1;
            }
            len => {
                let mut heap = Vec::with_capacity(len + 1);
                heap.extend_from_slice(&self.inline[..len]);
                heap.insert(at, item);
                self.heap = Some(Box::new(heap));
                self.len = SPILLED;
            }
        }
    }

    /// Appends `item`.
    pub(crate) fn push(&mut self, item: T) {
        self.insert(self.len(), item);
    }

    /// Removes the item at `at`, as [`Vec::remove`].
    pub(crate) fn remove(&mut self, at: usize) -> T {
        match self.len {
            SPILLED => self.spilled().remove(at),
            len => {
                let item = self.inline[..len][at];
                self.inline.copy_within(at + 1..len, at);
                self.len -= 1;
                item
            }
        }
    }

    /// Keeps the items `keep` accepts, in order, as [`Vec::retain`].
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self.len {
            SPILLED => self.spilled().retain(keep),
            len => {
                let mut kept = 0;
                for i in 0..len {
                    if keep(&self.inline[i]) {
                        self.inline[kept] = self.inline[i];
                        kept += 1;
                    }
                }
                self.len = kept;
            }
        }
    }
}

impl<T: Copy + Default, const N: usize> Default for SmallList<T, N> {
    fn default() -> Self {
        SmallList::new()
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for SmallList<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Default + fmt::Debug, const N: usize> fmt::Debug for SmallList<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The list agrees with a `Vec` through any sequence of inserts,
        /// removals and retains, inline or spilled.
        #[test]
        fn agrees_with_a_vec(ops in proptest::collection::vec((0u8..3, any::<u8>()), 0..60)) {
            let mut list: SmallList<u8, 2> = SmallList::new();
            let mut model: Vec<u8> = Vec::new();
            for (op, x) in ops {
                match op {
                    0 => {
                        let at = usize::from(x) % (model.len() + 1);
                        list.insert(at, x);
                        model.insert(at, x);
                    }
                    1 if !model.is_empty() => {
                        let at = usize::from(x) % model.len();
                        prop_assert_eq!(list.remove(at), model.remove(at));
                    }
                    1 => {
                        list.push(x);
                        model.push(x);
                    }
                    _ => {
                        list.retain(|&y| y % 3 != x % 3);
                        model.retain(|&y| y % 3 != x % 3);
                    }
                }
                prop_assert_eq!(list.as_slice(), &model[..]);
                prop_assert_eq!(list.len(), model.len());
            }
        }
    }
}
