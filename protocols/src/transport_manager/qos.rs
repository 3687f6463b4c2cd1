//! Priority queues: the seed's `QoSManager`, four bounded queues served
//! strictly by priority.
//!
//! Sizes are the seed's: emergency 10, high 50, normal 200, low 500. A
//! message for a full queue is dropped and counted. (The seed's
//! `queue_message` drops "a low priority message to make room" when the
//! emergency queue is full, which makes no room in the emergency queue; a
//! full queue here simply refuses, whatever its priority.)

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// A message's priority, highest first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Priority {
    /// Served before everything.
    Emergency,
    /// Served before normal and low.
    High,
    /// The default.
    #[default]
    Normal,
    /// Served last.
    Low,
}

impl Priority {
    /// Every priority, highest first.
    pub const ALL: [Priority; 4] = [
        Priority::Emergency,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The QUIC stream priority that stands for it (lower goes first;
    /// normal is QUIC's default, 3).
    pub fn quic(self) -> u8 {
        match self {
            Priority::Emergency => 0,
            Priority::High => 1,
            Priority::Normal => 3,
            Priority::Low => 5,
        }
    }
}

/// How many messages each queue holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSizes {
    /// Seed: 10.
    pub emergency: usize,
    /// Seed: 50.
    pub high: usize,
    /// Seed: 200.
    pub normal: usize,
    /// Seed: 500.
    pub low: usize,
}

impl Default for QueueSizes {
    fn default() -> Self {
        QueueSizes {
            emergency: 10,
            high: 50,
            normal: 200,
            low: 500,
        }
    }
}

impl QueueSizes {
    fn of(&self, priority: Priority) -> usize {
        match priority {
            Priority::Emergency => self.emergency,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

/// Four bounded FIFO queues, one per priority.
#[derive(Clone, Debug)]
pub struct Queues<T> {
    sizes: QueueSizes,
    queues: [VecDeque<T>; 4],
    dropped: [u64; 4],
}

impl<T> Queues<T> {
    /// Empty queues of `sizes`.
    pub fn new(sizes: QueueSizes) -> Self {
        Queues {
            sizes,
            queues: Default::default(),
            dropped: [0; 4],
        }
    }

    /// Queues `item` at `priority`; gives it back (and counts it dropped)
    /// if that queue is full.
    pub fn push(&mut self, priority: Priority, item: T) -> Result<(), T> {
        let queue = &mut self.queues[priority.index()];
        if queue.len() >= self.sizes.of(priority) {
            self.dropped[priority.index()] += 1;
            return Err(item);
        }
        queue.push_back(item);
        Ok(())
    }

    /// The oldest item of the highest non-empty priority.
    pub fn pop(&mut self) -> Option<(Priority, T)> {
        Priority::ALL
            .into_iter()
            .find_map(|p| self.queues[p.index()].pop_front().map(|item| (p, item)))
    }

    /// Items waiting at `priority`.
    pub fn len(&self, priority: Priority) -> usize {
        self.queues[priority.index()].len()
    }

    /// Items dropped at `priority` because its queue was full.
    pub fn dropped(&self, priority: Priority) -> u64 {
        self.dropped[priority.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_strictly_by_priority_and_full_queues_refuse() {
        let sizes = QueueSizes {
            emergency: 1,
            high: 2,
            normal: 2,
            low: 2,
        };
        let mut q = Queues::new(sizes);
        for (p, item) in [
            (Priority::Low, 1),
            (Priority::Normal, 2),
            (Priority::High, 3),
            (Priority::Emergency, 4),
            (Priority::Low, 5),
            (Priority::High, 6),
        ] {
            assert!(q.push(p, item).is_ok());
        }
        assert_eq!(q.push(Priority::Emergency, 7), Err(7));
        assert_eq!(q.push(Priority::Low, 8), Err(8));
        assert_eq!(
            (q.dropped(Priority::Emergency), q.dropped(Priority::Low)),
            (1, 1)
        );
        let order: Vec<i32> = std::iter::from_fn(|| q.pop().map(|(_, i)| i)).collect();
        assert_eq!(order, [4, 3, 6, 2, 1, 5]);
        assert_eq!(QueueSizes::default().of(Priority::Low), 500);
    }
}
