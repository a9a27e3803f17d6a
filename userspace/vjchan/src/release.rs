//! The consumer side's bookkeeping, pure logic with no memory shared with anybody: which
//! slots are received and which released, and how far the consumer index may advance.
//!
//! Frames may be released in any order, but the consumer index only says "everything
//! before me is released": it advances over the longest released prefix of the received
//! slots, and a slot released out of order waits until every slot before it is released.

/// Why [`ReleaseTracker::release`] refused an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseError {
    /// The index is not one of the received, unreleased slots (never received, already
    /// behind the consumer index, or not yet received).
    NotReceived,
    /// The slot was already released (and waits for the slots before it).
    AlreadyReleased,
}

impl std::fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReleaseError::NotReceived => "slot not received",
            ReleaseError::AlreadyReleased => "slot already released",
        })
    }
}

impl std::error::Error for ReleaseError {}

/// Tracks the slots `consumer .. received` (free-running `u32` ring indexes, wrapping): the
/// slots handed out and not yet given back through the consumer index.
///
/// At most `capacity` slots (the ring's slot count, a power of two) are ever outstanding;
/// [`receive`](Self::receive) refuses more.
#[derive(Clone, Debug)]
pub struct ReleaseTracker {
    consumer: u32,
    received: u32,
    mask: u32,
    /// One bit per slot (by `index & mask`): released, waiting for the slots before it.
    released: Vec<u64>,
}

impl ReleaseTracker {
    /// A tracker for a ring of `capacity` slots (rounded up to a power of two, at least 1)
    /// whose consumer index is now `consumer`.
    pub fn new(consumer: u32, capacity: u32) -> Self {
        let cap = capacity
            .max(1)
            .checked_next_power_of_two()
            .unwrap_or(1 << 31);
        ReleaseTracker {
            consumer,
            received: consumer,
            mask: cap - 1,
            released: vec![0; (cap as usize).div_ceil(64)],
        }
    }

    /// The consumer index: the first slot not released.  Every slot before it is released.
    pub fn consumer(&self) -> u32 {
        self.consumer
    }

    /// The first slot not yet received.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Slots received and not yet behind the consumer index (released out of order ones
    /// included).
    pub fn outstanding(&self) -> u32 {
        self.received.wrapping_sub(self.consumer)
    }

    /// How many more slots may be received.
    pub fn room(&self) -> u32 {
        (self.mask + 1) - self.outstanding()
    }

    /// Receives the next `n` slots: returns the index of the first.  `None` (and nothing
    /// changes) if that would make more than `capacity` slots outstanding.
    pub fn receive(&mut self, n: u32) -> Option<u32> {
        if n > self.room() {
            return None;
        }
        let first = self.received;
        self.received = self.received.wrapping_add(n);
        Some(first)
    }

    fn bit(&self, index: u32) -> (usize, u64) {
        let slot = index & self.mask;
        ((slot / 64) as usize, 1u64 << (slot % 64))
    }

    /// Releases the received slot `index`; returns how far the consumer index advanced.
    pub fn release(&mut self, index: u32) -> Result<u32, ReleaseError> {
        if index.wrapping_sub(self.consumer) >= self.outstanding() {
            return Err(ReleaseError::NotReceived);
        }
        let (w, b) = self.bit(index);
        if self.released[w] & b != 0 {
            return Err(ReleaseError::AlreadyReleased);
        }
        self.released[w] |= b;
        let start = self.consumer;
        while self.consumer != self.received {
            let (w, b) = self.bit(self.consumer);
            if self.released[w] & b == 0 {
                break;
            }
            self.released[w] &= !b;
            self.consumer = self.consumer.wrapping_add(1);
        }
        Ok(self.consumer.wrapping_sub(start))
    }

    /// Whether the received slot `index` is released (`false` for an index not outstanding).
    pub fn is_released(&self, index: u32) -> bool {
        if index.wrapping_sub(self.consumer) >= self.outstanding() {
            return false;
        }
        let (w, b) = self.bit(index);
        self.released[w] & b != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// The reference: a plain queue of (index, released) for the outstanding slots.
    struct Model {
        consumer: u32,
        next: u32,
        q: VecDeque<(u32, bool)>,
        cap: u32,
    }

    impl Model {
        fn receive(&mut self, n: u32) -> Option<u32> {
            if self.q.len() as u32 + n > self.cap {
                return None;
            }
            let first = self.next;
            for _ in 0..n {
                self.q.push_back((self.next, false));
                self.next = self.next.wrapping_add(1);
            }
            Some(first)
        }
        fn release(&mut self, index: u32) -> Result<u32, ReleaseError> {
            let e = self
                .q
                .iter_mut()
                .find(|(i, _)| *i == index)
                .ok_or(ReleaseError::NotReceived)?;
            if e.1 {
                return Err(ReleaseError::AlreadyReleased);
            }
            e.1 = true;
            let mut n = 0;
            while self.q.front().is_some_and(|e| e.1) {
                self.q.pop_front();
                self.consumer = self.consumer.wrapping_add(1);
                n += 1;
            }
            Ok(n)
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Receive(u32),
        /// Release the k-th outstanding slot (modulo their number).
        Release(usize),
        /// Release an arbitrary index (mostly not outstanding).
        ReleaseAny(u32),
        /// Release an index at a small distance from the consumer index.
        ReleaseNear(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u32..8).prop_map(Op::Receive),
            6 => any::<usize>().prop_map(Op::Release),
            1 => any::<u32>().prop_map(Op::ReleaseAny),
            2 => (0u32..80).prop_map(Op::ReleaseNear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn tracker_matches_queue_model(
            start in prop_oneof![any::<u32>(), (u32::MAX - 40)..=u32::MAX],
            cap_log in 0u32..7,
            ops in prop::collection::vec(op(), 0..200),
        ) {
            let cap = 1u32 << cap_log;
            let mut t = ReleaseTracker::new(start, cap);
            let mut m = Model { consumer: start, next: start, q: VecDeque::new(), cap };
            for op in ops {
                match op {
                    Op::Receive(n) => prop_assert_eq!(t.receive(n), m.receive(n)),
                    Op::Release(k) => {
                        if !m.q.is_empty() {
                            let idx = m.q[k % m.q.len()].0;
                            prop_assert_eq!(t.release(idx), m.release(idx));
                        }
                    }
                    Op::ReleaseAny(i) => prop_assert_eq!(t.release(i), m.release(i)),
                    Op::ReleaseNear(d) => {
                        let i = m.consumer.wrapping_add(d).wrapping_sub(8);
                        prop_assert_eq!(t.release(i), m.release(i));
                    }
                }
                prop_assert_eq!(t.consumer(), m.consumer);
                prop_assert_eq!(t.received(), m.next);
                prop_assert_eq!(t.outstanding() as usize, m.q.len());
                prop_assert!(t.outstanding() <= cap);
                for &(i, r) in &m.q {
                    prop_assert_eq!(t.is_released(i), r);
                }
                // The consumer index never passes an unreleased slot.
                if let Some(&(i, r)) = m.q.front() {
                    prop_assert_eq!(i, t.consumer());
                    prop_assert!(!r);
                }
            }
        }
    }

    #[test]
    fn out_of_order_waits_for_prefix() {
        let mut t = ReleaseTracker::new(u32::MAX - 1, 4);
        assert_eq!(t.receive(4), Some(u32::MAX - 1));
        assert_eq!(t.receive(1), None);
        assert_eq!(t.release(0), Ok(0));
        assert_eq!(t.release(1), Ok(0));
        assert_eq!(t.release(0), Err(ReleaseError::AlreadyReleased));
        assert_eq!(t.consumer(), u32::MAX - 1);
        assert_eq!(t.release(u32::MAX), Ok(0));
        assert_eq!(t.release(u32::MAX - 1), Ok(4));
        assert_eq!(t.consumer(), 2);
        assert_eq!(t.release(1), Err(ReleaseError::NotReceived));
        assert_eq!(t.outstanding(), 0);
    }
}
