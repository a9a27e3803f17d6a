// SPDX-License-Identifier: GPL-2.0

//! Slot and buffer accounting of a channel's receive ring.
//!
//! This file is pure logic: it touches no shared memory and needs nothing from the kernel
//! crate, so the same file serves the vjchan module and the host crate `kernel-rust/host`,
//! where `cargo test` checks it against a model with proptest. (It joins the series together
//! with the channel ring glue that uses it.)
//!
//! # The ring
//!
//! The kernel produces, user space consumes. Both indexes are free-running `u32`s; the slot of
//! index `i` is `i & (N - 1)`. The producer index is written only by the kernel, the consumer
//! index only by user space. The kernel never trusts the consumer index: it is read once and
//! passed to [`RxRing::observe_consumer`], which accepts it only if it lies between the last
//! accepted value and the producer index, and otherwise ignores it (the caller counts it).
//!
//! # Buffers
//!
//! A channel has `N` buffers for its `N` slots. Each buffer is always in exactly one state:
//!
//! - [`BufState::Free`]: owned by the kernel, on the free stack;
//! - [`BufState::Posted`]: handed to a driver by [`RxRing::get_buffer`] (`vj_get_buffer()`), to
//!   be filled and given back by [`RxRing::publish`] or [`RxRing::recycle`];
//! - [`BufState::Published`]: its descriptor sits in a slot between the consumer and the
//!   producer index; user space owns it until it advances the consumer index past that slot.
//!
//! The kernel remembers which buffer it published in each slot, so releasing a slot frees
//! exactly the buffer the kernel put there, whatever user space wrote into the descriptor.
//!
//! Because there are as many buffers as slots, `free + posted + published == N`: a posted
//! buffer always has a slot to be published into, and a full ring shows as
//! [`RxRing::get_buffer`] returning `None`, so the driver drops the frame before it lands
//! anywhere. An unreleased slot is never overwritten.

/// The number of a buffer of a channel, `0..N`.
pub type BufId = u16;

/// The state of one buffer; see the [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufState {
    /// On the kernel's free stack.
    Free,
    /// Handed to a driver to fill.
    Posted,
    /// In a slot that user space has not released.
    Published,
}

/// What [`RxRing::observe_consumer`] made of a consumer index read from shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerIndex {
    /// Equal to the last accepted value.
    Unchanged,
    /// Accepted: user space released this many slots, whose buffers are free again.
    Released(u32),
    /// Behind the last accepted value or ahead of the producer index: ignored.
    Invalid,
}

/// A driver gave back a buffer that was not posted to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotPosted(pub BufId);

/// The kernel's private accounting of one receive ring of `N` slots.
///
/// # Invariants
///
/// - `N` is a power of two, at most `1 << 16`.
/// - `prod.wrapping_sub(cons) == published <= N`.
/// - `free[..nfree]` holds exactly the buffers whose state is `Free`.
/// - For `i` in `cons..prod` (wrapping), `shadow[i & MASK]` is a `Published` buffer, and every
///   `Published` buffer is in exactly one such slot.
/// - `nfree + posted + (prod - cons) == N`.
pub struct RxRing<const N: usize> {
    prod: u32,
    cons: u32,
    posted: u32,
    nfree: usize,
    free: [BufId; N],
    shadow: [BufId; N],
    state: [BufState; N],
}

impl<const N: usize> RxRing<N> {
    /// `N - 1`; evaluating it checks `N` at compile time.
    const MASK: u32 = {
        assert!(N.is_power_of_two() && N <= 1 << 16);
        (N - 1) as u32
    };

    /// A ring whose indexes start at `start` (tests start near `u32::MAX`), all buffers free.
    pub fn new(start: u32) -> Self {
        let mut free = [0; N];
        // Pop order 0, 1, 2, ...: buffer `k` is the `N - 1 - k`th entry of the stack.
        for (i, slot) in free.iter_mut().enumerate() {
            *slot = (N - 1 - i) as BufId;
        }
        // INVARIANT: all `N` buffers are free, nothing is posted or published.
        Self {
            prod: start,
            cons: start,
            posted: 0,
            nfree: N,
            free,
            shadow: [0; N],
            state: [BufState::Free; N],
        }
    }

    /// The slot of index `i`.
    pub const fn slot(i: u32) -> usize {
        (i & Self::MASK) as usize
    }

    /// The producer index: the next slot the kernel will publish into.
    pub fn producer(&self) -> u32 {
        self.prod
    }

    /// The last consumer index accepted from user space.
    pub fn consumer(&self) -> u32 {
        self.cons
    }

    /// How many slots are published and not yet released.
    pub fn published(&self) -> u32 {
        self.prod.wrapping_sub(self.cons)
    }

    /// How many buffers are posted to drivers.
    pub fn posted(&self) -> u32 {
        self.posted
    }

    /// How many buffers are free.
    pub fn free_buffers(&self) -> u32 {
        self.nfree as u32
    }

    /// The state of buffer `buf`, or `None` if there is no such buffer.
    pub fn state(&self, buf: BufId) -> Option<BufState> {
        self.state.get(usize::from(buf)).copied()
    }

    /// Takes a free buffer for a driver to fill (`vj_get_buffer()`); `None` when every buffer is
    /// posted or published: the ring is full.
    pub fn get_buffer(&mut self) -> Option<BufId> {
        let top = self.nfree.checked_sub(1)?;
        let buf = *self.free.get(top)?;
        self.nfree = top;
        if let Some(s) = self.state.get_mut(usize::from(buf)) {
            *s = BufState::Posted;
        }
        self.posted += 1;
        Some(buf)
    }

    /// A driver gives back a posted buffer without publishing it (the frame matched no
    /// filter, was bad, or the driver is tearing down).
    pub fn recycle(&mut self, buf: BufId) -> Result<(), NotPosted> {
        self.take_posted(buf)?;
        self.push_free(buf);
        Ok(())
    }

    /// Publishes a posted, filled buffer at the producer index and returns the slot whose
    /// descriptor the caller must write before it makes the new [`RxRing::producer`] visible.
    pub fn publish(&mut self, buf: BufId) -> Result<usize, NotPosted> {
        self.take_posted(buf)?;
        let slot = Self::slot(self.prod);
        // A posted buffer means `published < N`, so `slot` is not an unreleased one.
        if let Some(s) = self.shadow.get_mut(slot) {
            *s = buf;
        }
        if let Some(s) = self.state.get_mut(usize::from(buf)) {
            *s = BufState::Published;
        }
        self.prod = self.prod.wrapping_add(1);
        Ok(slot)
    }

    /// Judges a consumer index read from shared memory; on [`ConsumerIndex::Released`] the
    /// buffers of the released slots are free again. The work done is bounded by `N` whatever
    /// the value.
    pub fn observe_consumer(&mut self, cons: u32) -> ConsumerIndex {
        let advance = cons.wrapping_sub(self.cons);
        if advance == 0 {
            return ConsumerIndex::Unchanged;
        }
        if advance > self.published() {
            return ConsumerIndex::Invalid;
        }
        for _ in 0..advance {
            let buf = self.shadow.get(Self::slot(self.cons)).copied().unwrap_or(0);
            self.push_free(buf);
            self.cons = self.cons.wrapping_add(1);
        }
        ConsumerIndex::Released(advance)
    }

    fn take_posted(&mut self, buf: BufId) -> Result<(), NotPosted> {
        match self.state.get_mut(usize::from(buf)) {
            Some(s) if *s == BufState::Posted => {
                *s = BufState::Free;
                self.posted -= 1;
                Ok(())
            }
            _ => Err(NotPosted(buf)),
        }
    }

    fn push_free(&mut self, buf: BufId) {
        if let Some(s) = self.free.get_mut(self.nfree) {
            *s = buf;
            self.nfree += 1;
        }
        if let Some(s) = self.state.get_mut(usize::from(buf)) {
            *s = BufState::Free;
        }
    }
}
