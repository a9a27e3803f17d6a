// SPDX-License-Identifier: GPL-2.0

//! The geometry of a channel's ring: how many slots and buffers, how big, and where each part
//! of the mapping is.
//!
//! Pure logic, like `ring.rs`: the vjchan module and the host crate `kernel-rust/host` (tested
//! there with proptest) build the same file.
//!
//! # Layout
//!
//! ```text
//!   0                   producer (u32)           written by the kernel only
//!   64                  status (u32)             written by the kernel only
//!   128                 nr_slots descriptors     written by the kernel only
//!   consumer            consumer (u32)           written by user space only
//!   consumer + 64       flags (u32)              written by user space only
//!   buffers             nr_bufs buffers          frames written by drivers
//!   size
//! ```
//!
//! `consumer` is the first cache line after the descriptors; `buffers` the first page after
//! the flags word. The buffers fill the rest of the mapping: every page charged is used, and
//! a buffer never spans two pages (its size is a power of two, at most a page).

/// A cache line, as far as the layout is concerned: each shared word has one of its own.
pub const CACHE_LINE: usize = 64;
/// The size of a descriptor (`struct vj_desc`).
pub const DESC_SIZE: usize = 32;
/// Bytes before the frame in each buffer.
pub const HEADROOM: usize = 256;
/// The default buffer size.
pub const BUF_SIZE_DEFAULT: usize = 2048;
/// The smallest buffer (`VJ_RING_BUF_SIZE_MIN`).
pub const BUF_SIZE_MIN: usize = 1024;
/// The default size of a ring (`VJ_RING_SIZE_DEFAULT`): 256 pages of 4 KiB.
pub const SIZE_DEFAULT: usize = 1 << 20;
/// The largest ring (`VJ_RING_SIZE_MAX`).
pub const SIZE_MAX: usize = 1 << 30;
/// The fewest slots, and buffers, of a ring (`VJ_RING_SLOTS_MIN`).
pub const SLOTS_MIN: usize = 16;
/// The most slots of a ring (`VJ_RING_SLOTS_MAX`); buffer numbers fit a `u16`.
pub const SLOTS_MAX: usize = 1 << 15;

/// Where the producer index is.
pub const PRODUCER_OFF: usize = 0;
/// Where the status word is.
pub const STATUS_OFF: usize = CACHE_LINE;
/// Where the descriptors are.
pub const DESC_OFF: usize = 2 * CACHE_LINE;

/// What user space asked for (`struct vj_ring_setup`); 0 means "default" or "derive it".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Bytes to map.
    pub size: u64,
    /// Slots.
    pub nr_slots: u32,
    /// Bytes per buffer.
    pub buf_size: u32,
}

/// Why a [`Request`] was refused (`EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// `buf_size` is not a power of two from [`BUF_SIZE_MIN`] to the page size.
    BufSize,
    /// `nr_slots` is not a power of two from [`SLOTS_MIN`] to [`SLOTS_MAX`].
    Slots,
    /// `size` is not a multiple of the page size, or above [`SIZE_MAX`].
    Size,
    /// The size holds fewer than [`SLOTS_MIN`] buffers, or more than `nr_slots` (pages that
    /// would never be used).
    Buffers,
}

/// The geometry of one ring.
///
/// # Invariants
///
/// - `page_size` and `buf_size` are powers of two, `BUF_SIZE_MIN <= buf_size <= page_size`,
///   `buf_size > HEADROOM`;
/// - `nr_slots` is a power of two in `SLOTS_MIN..=SLOTS_MAX`;
/// - `SLOTS_MIN <= nr_bufs <= nr_slots`;
/// - the producer, status, consumer and flags words each sit on a cache line of their own, in
///   that order, before the descriptors' end and the buffers respectively (see the
///   [module documentation](self));
/// - `buffers` is a multiple of `page_size`, `buffers + nr_bufs * buf_size == size`, and
///   `size` is a multiple of `page_size`, at most `SIZE_MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    page_size: usize,
    size: usize,
    nr_slots: usize,
    nr_bufs: usize,
    buf_size: usize,
    consumer: usize,
    buffers: usize,
}

/// `x` rounded up to a multiple of `a`, a power of two; `None` on overflow.
fn align_up(x: usize, a: usize) -> Option<usize> {
    Some(x.checked_add(a - 1)? & !(a - 1))
}

/// Where the consumer index and the buffers are for `nr_slots` slots (at most `SLOTS_MAX`) and
/// pages of `page_size` bytes (a power of two): nothing here overflows, and there is no
/// division (no divide-by-zero panic path).
fn control(page_size: usize, nr_slots: usize) -> (usize, usize) {
    let consumer = (DESC_OFF + nr_slots * DESC_SIZE + CACHE_LINE - 1) & !(CACHE_LINE - 1);
    let buffers = (consumer + 2 * CACHE_LINE + page_size - 1) & !(page_size - 1);
    (consumer, buffers)
}

/// The smallest size, a multiple of `page_size`, that holds the control part of `nr_slots`
/// slots and `nr_bufs` buffers of `buf_size` bytes; `None` on overflow.
fn size_for(page_size: usize, nr_slots: usize, nr_bufs: usize, buf_size: usize) -> Option<usize> {
    let (_, buffers) = control(page_size, nr_slots);
    align_up(
        buffers.checked_add(nr_bufs.checked_mul(buf_size)?)?,
        page_size,
    )
}

impl Geometry {
    /// The geometry for request `r` on a kernel with pages of `page_size` bytes (a power of
    /// two of at least 4096).
    pub fn new(page_size: usize, r: Request) -> Result<Self, Invalid> {
        let buf_size = match r.buf_size {
            0 => BUF_SIZE_DEFAULT.min(page_size),
            b => b as usize,
        };
        if !buf_size.is_power_of_two() || buf_size < BUF_SIZE_MIN || buf_size > page_size {
            return Err(Invalid::BufSize);
        }
        let size = usize::try_from(r.size).map_err(|_| Invalid::Size)?;
        if size > SIZE_MAX || size & (page_size - 1) != 0 {
            return Err(Invalid::Size);
        }
        let slots_ok = |n: usize| n.is_power_of_two() && (SLOTS_MIN..=SLOTS_MAX).contains(&n);
        let (size, nr_slots) = match (size, r.nr_slots as usize) {
            (0, 0) => {
                // The default size, or more if big buffers need it to hold `SLOTS_MIN` of them.
                let least =
                    size_for(page_size, SLOTS_MIN, SLOTS_MIN, buf_size).ok_or(Invalid::Size)?;
                let size = align_up(SIZE_DEFAULT, page_size)
                    .ok_or(Invalid::Size)?
                    .max(least);
                (size, Self::derive_slots(page_size, size, buf_size)?)
            }
            (size, 0) => (size, Self::derive_slots(page_size, size, buf_size)?),
            (0, n) => {
                if !slots_ok(n) {
                    return Err(Invalid::Slots);
                }
                let size = size_for(page_size, n, n, buf_size).ok_or(Invalid::Size)?;
                if size > SIZE_MAX {
                    return Err(Invalid::Size);
                }
                (size, n)
            }
            (size, n) => {
                if !slots_ok(n) {
                    return Err(Invalid::Slots);
                }
                (size, n)
            }
        };
        let (consumer, buffers) = control(page_size, nr_slots);
        let nr_bufs =
            size.checked_sub(buffers).ok_or(Invalid::Buffers)? >> buf_size.trailing_zeros();
        // With `size` derived from `nr_slots` above, a page bigger than `nr_slots` buffers
        // leaves room for more: they are not used (only with pages above 16 KiB).
        let nr_bufs = if r.size == 0 {
            nr_bufs.min(nr_slots)
        } else {
            nr_bufs
        };
        if nr_bufs < SLOTS_MIN || nr_bufs > nr_slots {
            return Err(Invalid::Buffers);
        }
        // INVARIANT: checked above; `control` places the words and the buffers; `size` is a
        // multiple of `page_size` and of `buf_size`, so the buffers end exactly at `size` when
        // `size` was given, and `nr_bufs` buffers end within it otherwise.
        Ok(Self {
            page_size,
            size: if r.size == 0 {
                size_for(page_size, nr_slots, nr_bufs, buf_size).ok_or(Invalid::Size)?
            } else {
                size
            },
            nr_slots,
            nr_bufs,
            buf_size,
            consumer,
            buffers,
        })
    }

    /// The smallest power-of-two slot count that describes every buffer fitting in `size`.
    fn derive_slots(page_size: usize, size: usize, buf_size: usize) -> Result<usize, Invalid> {
        let mut n = SLOTS_MIN;
        while n <= SLOTS_MAX {
            let (_, buffers) = control(page_size, n);
            let fit =
                size.checked_sub(buffers).ok_or(Invalid::Buffers)? >> buf_size.trailing_zeros();
            if fit <= n {
                return Ok(n);
            }
            n *= 2;
        }
        Err(Invalid::Buffers)
    }

    /// The default geometry.
    pub fn default_for(page_size: usize) -> Self {
        match Self::new(page_size, Request::default()) {
            Ok(g) => g,
            // Unreachable for page sizes from 4 KiB to 256 KiB (tested). Otherwise the smallest
            // ring: `SLOTS_MIN` slots and buffers of a page each, which keeps the invariants.
            Err(_) => {
                let (consumer, buffers) = control(page_size, SLOTS_MIN);
                Self {
                    page_size,
                    size: buffers + SLOTS_MIN * page_size,
                    nr_slots: SLOTS_MIN,
                    nr_bufs: SLOTS_MIN,
                    buf_size: page_size,
                    consumer,
                    buffers,
                }
            }
        }
    }

    /// The size of the mapping.
    pub fn size(&self) -> usize {
        self.size
    }
    /// Pages in the ring.
    pub fn nr_pages(&self) -> usize {
        self.size >> self.page_size.trailing_zeros()
    }
    /// Slots (a power of two).
    pub fn nr_slots(&self) -> usize {
        self.nr_slots
    }
    /// Buffers.
    pub fn nr_bufs(&self) -> usize {
        self.nr_bufs
    }
    /// Bytes per buffer, headroom included.
    pub fn buf_size(&self) -> usize {
        self.buf_size
    }
    /// The longest frame a buffer holds.
    pub fn frame_max(&self) -> usize {
        self.buf_size - HEADROOM
    }
    /// Where the consumer index is.
    pub fn consumer_off(&self) -> usize {
        self.consumer
    }
    /// Where the flags word is.
    pub fn flags_off(&self) -> usize {
        self.consumer + CACHE_LINE
    }
    /// Where the buffers are.
    pub fn buffers_off(&self) -> usize {
        self.buffers
    }
    /// Where the descriptor of `slot` is, if there is such a slot.
    pub fn desc_off(&self, slot: usize) -> Option<usize> {
        (slot < self.nr_slots).then(|| DESC_OFF + slot * DESC_SIZE)
    }
    /// Where the frame of buffer `buf` starts, if there is such a buffer.
    pub fn frame_off(&self, buf: usize) -> Option<usize> {
        (buf < self.nr_bufs).then(|| self.buffers + buf * self.buf_size + HEADROOM)
    }
}
