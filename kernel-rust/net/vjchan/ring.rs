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
//! index `i` is `i & (N - 1)` for a ring of `N` slots, a power of two. The producer index is
//! written only by the kernel, the consumer index only by user space. The kernel never trusts
//! the consumer index: it is read once and passed to [`RxRing::observe_consumer`], which
//! accepts it only if it lies between the last accepted value and the producer index, and
//! otherwise ignores it (the caller counts it).
//!
//! # Buffers
//!
//! A channel has `B <= N` buffers. Each buffer is always in exactly one state:
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
//! Because there are no more buffers than slots, `free + posted + published == B <= N`: a
//! posted buffer always has a slot to be published into, and a full ring shows as
//! [`RxRing::get_buffer`] returning `None`, so the driver drops the frame before it lands
//! anywhere. An unreleased slot is never overwritten.
//!
//! The ring's state lives in one array of `u16`s that the caller allocates
//! ([`RxRing::storage_len`]): a `KVVec` in the kernel, a `Vec` on the host.

use core::ops::DerefMut;

/// The number of a buffer of a channel, `0..B`.
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

impl BufState {
    const fn encode(self) -> u16 {
        match self {
            Self::Free => 0,
            Self::Posted => 1,
            Self::Published => 2,
        }
    }

    const fn decode(v: u16) -> Self {
        match v {
            1 => Self::Posted,
            2 => Self::Published,
            _ => Self::Free,
        }
    }
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

/// The sizes given to [`RxRing::new`] are not those of a ring, or the storage has the wrong
/// length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadGeometry;

/// The kernel's private accounting of one receive ring of `N` slots and `B` buffers.
///
/// # Invariants
///
/// - `N == mask + 1` is a power of two, at most `1 << 16`; `B == nbufs <= N`.
/// - `mem` has `2 * B + N` entries: the free stack (`B`), the buffers' states (`B`), and the
///   buffer published in each slot (`N`).
/// - `prod.wrapping_sub(cons) == published <= B`.
/// - The free stack's first `nfree` entries are exactly the buffers whose state is `Free`.
/// - For `i` in `cons..prod` (wrapping), the slot of `i` holds a `Published` buffer, and every
///   `Published` buffer is in exactly one such slot.
/// - `nfree + posted + (prod - cons) == B`.
pub struct RxRing<S> {
    prod: u32,
    cons: u32,
    posted: u32,
    nfree: usize,
    mask: u32,
    nbufs: usize,
    mem: S,
}

impl<S: DerefMut<Target = [u16]>> RxRing<S> {
    /// The length of the storage a ring of `nr_slots` slots and `nr_bufs` buffers needs.
    pub const fn storage_len(nr_slots: usize, nr_bufs: usize) -> usize {
        2 * nr_bufs + nr_slots
    }

    /// A ring of `nr_slots` slots (a power of two, at most `1 << 16`) and `nr_bufs <=
    /// nr_slots` buffers, whose indexes start at `start` (tests start near `u32::MAX`), all
    /// buffers free. `mem` has [`RxRing::storage_len`] entries, whatever their values.
    pub fn new(
        start: u32,
        nr_slots: usize,
        nr_bufs: usize,
        mut mem: S,
    ) -> Result<Self, BadGeometry> {
        if !nr_slots.is_power_of_two()
            || nr_slots > 1 << 16
            || nr_bufs > nr_slots
            || mem.len() != Self::storage_len(nr_slots, nr_bufs)
        {
            return Err(BadGeometry);
        }
        let (free, rest) = mem.split_at_mut(nr_bufs);
        // Pop order 0, 1, 2, ...: buffer `k` is the `B - 1 - k`th entry of the stack.
        for (i, slot) in free.iter_mut().enumerate() {
            *slot = (nr_bufs - 1 - i) as BufId;
        }
        rest.fill(BufState::Free.encode());
        // INVARIANT: checked above; all `B` buffers are free, nothing is posted or published.
        Ok(Self {
            prod: start,
            cons: start,
            posted: 0,
            nfree: nr_bufs,
            mask: (nr_slots - 1) as u32,
            nbufs: nr_bufs,
            mem,
        })
    }

    /// The slot of index `i`.
    pub fn slot(&self, i: u32) -> usize {
        (i & self.mask) as usize
    }

    /// The number of slots.
    pub fn nr_slots(&self) -> usize {
        self.mask as usize + 1
    }

    /// The number of buffers.
    pub fn nr_bufs(&self) -> usize {
        self.nbufs
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
        self.state_idx(buf)
            .and_then(|i| self.mem.get(i))
            .map(|&v| BufState::decode(v))
    }

    /// Takes a free buffer for a driver to fill (`vj_get_buffer()`); `None` when every buffer is
    /// posted or published: the ring is full.
    pub fn get_buffer(&mut self) -> Option<BufId> {
        let top = self.nfree.checked_sub(1)?;
        let buf = *self.mem.get(top)?;
        self.nfree = top;
        self.set_state(buf, BufState::Posted);
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
        let slot = self.slot(self.prod);
        // A posted buffer means `published < B <= N`, so `slot` is not an unreleased one.
        let i = 2 * self.nbufs + slot;
        if let Some(s) = self.mem.get_mut(i) {
            *s = buf;
        }
        self.set_state(buf, BufState::Published);
        self.prod = self.prod.wrapping_add(1);
        Ok(slot)
    }

    /// Judges a consumer index read from shared memory; on [`ConsumerIndex::Released`] the
    /// buffers of the released slots are free again. The work done is bounded by `B` whatever
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
            let i = 2 * self.nbufs + self.slot(self.cons);
            let buf = self.mem.get(i).copied().unwrap_or(0);
            self.push_free(buf);
            self.cons = self.cons.wrapping_add(1);
        }
        ConsumerIndex::Released(advance)
    }

    fn state_idx(&self, buf: BufId) -> Option<usize> {
        let b = usize::from(buf);
        (b < self.nbufs).then_some(self.nbufs + b)
    }

    fn set_state(&mut self, buf: BufId, st: BufState) {
        if let Some(i) = self.state_idx(buf) {
            if let Some(s) = self.mem.get_mut(i) {
                *s = st.encode();
            }
        }
    }

    fn take_posted(&mut self, buf: BufId) -> Result<(), NotPosted> {
        if self.state(buf) != Some(BufState::Posted) {
            return Err(NotPosted(buf));
        }
        self.set_state(buf, BufState::Free);
        self.posted -= 1;
        Ok(())
    }

    fn push_free(&mut self, buf: BufId) {
        if self.nfree < self.nbufs {
            if let Some(s) = self.mem.get_mut(self.nfree) {
                *s = buf;
                self.nfree += 1;
            }
        }
        self.set_state(buf, BufState::Free);
    }
}
