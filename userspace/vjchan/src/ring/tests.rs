//! The ring against a fake mapping: an anonymous mapping that the test writes as the
//! kernel would, including hostile producer values and descriptors.

use super::*;
use memmap2::MmapMut;
use proptest::prelude::*;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;

const NR_SLOTS: u32 = 16;
const NR_BUFS: u32 = 14;
const BUF_SIZE: u32 = 2048;
const HEADROOM: u32 = 256;
const FRAME_MAX: u32 = BUF_SIZE - HEADROOM;
const SIZE: u64 = 4096 + NR_BUFS as u64 * BUF_SIZE as u64;

fn offsets() -> uapi::RingOffsets {
    uapi::RingOffsets {
        mmap_size: SIZE,
        producer: 0,
        status: 64,
        desc: 128,
        consumer: 128 + 32 * NR_SLOTS as u64,
        flags: 192 + 32 * NR_SLOTS as u64,
        buffers: 4096,
        nr_slots: NR_SLOTS,
        desc_size: 32,
        buf_size: BUF_SIZE,
        headroom: HEADROOM,
        nr_bufs: NR_BUFS,
        frame_max: FRAME_MAX,
        reserved: [0; 2],
    }
}

/// The test's "kernel": writes the fake mapping through raw pointers, as the real one does.
struct Kernel {
    base: *mut u8,
    off: uapi::RingOffsets,
    producer: u32,
    /// The first index: buffers go round from there (a real kernel keeps a free list).
    start: u32,
}

impl Kernel {
    fn word(&self, off: u64) -> &AtomicU32 {
        // SAFETY: test offsets are in bounds and aligned; the mapping outlives the test's
        // `Kernel` (the ring owns it and is dropped after).
        unsafe { AtomicU32::from_ptr(self.base.add(off as usize).cast()) }
    }
    fn consumer(&self) -> u32 {
        self.word(self.off.consumer).load(Ordering::Acquire)
    }
    fn flags(&self) -> u32 {
        self.word(self.off.flags).load(Ordering::Relaxed)
    }
    fn set_producer(&mut self, p: u32) {
        self.producer = p;
        self.word(self.off.producer).store(p, Ordering::Release);
    }
    fn set_status(&self, s: u32) {
        self.word(self.off.status).store(s, Ordering::Relaxed);
    }
    fn write_desc(&self, index: u32, d: uapi::Desc) {
        let slot = (index & (self.off.nr_slots - 1)) as u64;
        let p = self.off.desc + slot * u64::from(self.off.desc_size);
        // SAFETY: in bounds and aligned; the slot is not published, or the test plays a
        // hostile writer of a descriptor (read only by volatile copies).
        unsafe {
            self.base
                .add(p as usize)
                .cast::<uapi::Desc>()
                .write_volatile(d)
        }
    }
    fn buf_addr(&self, index: u32) -> u64 {
        let buf = u64::from(index.wrapping_sub(self.start) % self.off.nr_bufs);
        self.off.buffers + buf * u64::from(self.off.buf_size) + u64::from(self.off.headroom)
    }
    /// Publishes one frame in the next slot, as a driver would; `false` if the ring is full.
    fn publish(&mut self, payload: &[u8], flags: u32) -> bool {
        let index = self.producer;
        if index.wrapping_sub(self.consumer()) >= self.off.nr_bufs {
            return false;
        }
        let addr = self.buf_addr(index);
        // SAFETY: the buffer of this index is free: its previous user (index - nr_bufs) is
        // behind the consumer index, so no Frame borrows it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                payload.as_ptr(),
                self.base.add(addr as usize),
                payload.len(),
            )
        };
        self.write_desc(
            index,
            uapi::Desc {
                addr,
                len: payload.len() as u32,
                flags,
                rxhash: if flags & uapi::VJ_DESC_F_RXHASH != 0 {
                    index ^ 0x5a5a
                } else {
                    0
                },
                reserved: 0,
                tstamp: if flags & uapi::VJ_DESC_F_TSTAMP != 0 {
                    1000 + u64::from(index)
                } else {
                    0
                },
            },
        );
        self.set_producer(index.wrapping_add(1));
        true
    }
}

/// A ring over a fresh anonymous mapping whose indexes start at `start`, with the socket
/// end the ring polls and the peer that can make it readable.
fn fake_with(off: uapi::RingOffsets, start: u32) -> Result<(RxRing, Kernel, UnixDatagram)> {
    let mut map = MmapMut::map_anon(off.mmap_size as usize).unwrap();
    let base = map.as_mut_ptr();
    let (a, b) = UnixDatagram::pair().unwrap();
    let mut k = Kernel {
        base,
        off,
        producer: start,
        start,
    };
    if off.consumer + 4 <= off.mmap_size && off.producer + 4 <= off.mmap_size {
        k.word(off.consumer).store(start, Ordering::Relaxed);
        k.set_producer(start);
    }
    let ch = Channel::from_fd_unchecked(OwnedFd::from(a));
    let ring = RxRing::from_parts(MmapRaw::from(map), off, true, ch)?;
    Ok((ring, k, b))
}

fn fake(start: u32) -> (RxRing, Kernel, UnixDatagram) {
    fake_with(offsets(), start).unwrap()
}

fn payload(index: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (index as usize * 7 + i) as u8).collect()
}

#[test]
fn receives_in_order_and_releases_with_one_store() {
    let (rx, mut k, _peer) = fake(u32::MAX - 2);
    let f = uapi::VJ_DESC_F_CSUM_OK | uapi::VJ_DESC_F_RXHASH | uapi::VJ_DESC_F_TSTAMP | 0x8000;
    for i in 0..5u32 {
        assert!(k.publish(
            &payload((u32::MAX - 2).wrapping_add(i), 60 + i as usize),
            if i == 1 { f } else { 0 }
        ));
    }
    assert_eq!(rx.available().unwrap(), 5);
    let batch = rx.recv_batch(16).unwrap();
    assert_eq!(batch.len(), 5);
    for (i, fr) in batch.enumerate() {
        let index = (u32::MAX - 2).wrapping_add(i as u32);
        assert_eq!(fr.index(), index);
        assert_eq!(fr.bytes(), &payload(index, 60 + i)[..]);
        if i == 1 {
            assert!(fr.csum_ok());
            assert_eq!(fr.rxhash(), Some(index ^ 0x5a5a));
            assert_eq!(fr.tstamp(), Some(1000 + u64::from(index)));
            assert_eq!(fr.flags().bits(), f);
        } else {
            assert!(!fr.csum_ok());
            assert_eq!((fr.rxhash(), fr.tstamp()), (None, None));
        }
        // Not yet handed back: consumer moves at the end of the batch.
        assert_eq!(k.consumer(), u32::MAX - 2);
    }
    assert_eq!(k.consumer(), 2, "wrapped past u32::MAX");
    assert_eq!(rx.outstanding(), 0);
    assert_eq!(rx.recv_batch(16).unwrap().len(), 0);
}

#[test]
fn out_of_order_release_moves_consumer_over_released_prefix_only() {
    let (rx, mut k, _peer) = fake(100);
    for i in 0..4 {
        assert!(k.publish(&payload(100 + i, 64), 0));
    }
    let mut frames: Vec<_> = rx.recv_batch(4).unwrap().collect();
    let f3 = frames.pop().unwrap();
    let f2 = frames.pop().unwrap();
    let f1 = frames.pop().unwrap();
    let f0 = frames.pop().unwrap();
    drop(f2);
    drop(f3);
    rx.flush();
    assert_eq!(k.consumer(), 100);
    // More frames while some are held: received after the held ones.
    assert!(k.publish(&payload(104, 64), 0));
    let more: Vec<_> = rx.recv_batch(8).unwrap().collect();
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].index(), 104);
    drop(f0);
    rx.flush();
    assert_eq!(k.consumer(), 101);
    assert_eq!(f1.bytes(), &payload(101, 64)[..]);
    drop(f1);
    rx.flush();
    assert_eq!(k.consumer(), 104);
    drop(more);
    rx.flush();
    assert_eq!(k.consumer(), 105);
}

#[test]
fn batch_releases_frames_not_taken() {
    let (rx, mut k, _peer) = fake(0);
    for i in 0..6 {
        assert!(k.publish(&payload(i, 100), 0));
    }
    let mut b = rx.recv_batch(4).unwrap();
    let first = b.next().unwrap();
    drop(b);
    assert_eq!(k.consumer(), 0, "first still held");
    drop(first);
    let b = rx.recv_batch(10).unwrap();
    assert_eq!(k.consumer(), 4);
    assert_eq!(b.map(|f| f.index()).collect::<Vec<_>>(), vec![4, 5]);
    assert_eq!(k.consumer(), 6);
}

#[test]
fn hostile_producer_is_an_error_and_harmless() {
    let (rx, mut k, _peer) = fake(7);
    k.set_producer(7 + NR_BUFS + 1);
    assert!(
        matches!(rx.recv_batch(64), Err(Error::Producer { producer, .. }) if producer == 7 + NR_BUFS + 1)
    );
    k.set_producer(6);
    assert!(matches!(rx.recv_batch(64), Err(Error::Producer { .. })));
    k.set_producer(7);
    assert!(k.publish(&payload(7, 60), 0));
    assert!(k.publish(&payload(8, 60), 0));
    let held: Vec<_> = rx.recv_batch(64).unwrap().collect();
    // Behind frames already received: refused even though within nr_bufs of the consumer.
    k.set_producer(8);
    assert!(matches!(
        rx.available(),
        Err(Error::Producer { received: 9, .. })
    ));
    k.set_producer(9);
    assert_eq!(held[1].bytes(), &payload(8, 60)[..]);
}

#[test]
fn hostile_descriptors_are_refused() {
    let cases: [(u64, u32, DescProblem); 8] = [
        (0, 60, DescProblem::OutsideBuffers),
        (4096 - 1, 60, DescProblem::OutsideBuffers),
        (SIZE, 60, DescProblem::OutsideBuffers),
        (u64::MAX, 60, DescProblem::OutsideBuffers),
        (4096, 60, DescProblem::Misaligned),
        (4096 + 2048 + 257, 60, DescProblem::Misaligned),
        (4096 + 256, 0, DescProblem::Empty),
        (4096 + 256, FRAME_MAX + 1, DescProblem::TooLong),
    ];
    for (addr, len, problem) in cases {
        let (rx, mut k, _peer) = fake(3);
        assert!(k.publish(&payload(3, 60), 0));
        assert!(k.publish(&payload(4, 60), 0));
        assert!(k.publish(&payload(5, 60), 0));
        k.write_desc(
            4,
            uapi::Desc {
                addr,
                len,
                ..Default::default()
            },
        );
        // The good frame before the bad one comes first.
        let b: Vec<_> = rx.recv_batch(64).unwrap().collect();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].bytes(), &payload(3, 60)[..]);
        drop(b);
        match rx.recv_batch(64) {
            Err(Error::Descriptor {
                index: 4,
                addr: a,
                len: l,
                problem: p,
            }) => {
                assert_eq!((a, l, p), (addr, len, problem));
            }
            other => panic!("{addr:#x}/{len}: {other:?}"),
        }
        // The longest frame in the last buffer is fine.
        let last = 4096 + u64::from(NR_BUFS - 1) * 2048 + 256;
        k.write_desc(
            4,
            uapi::Desc {
                addr: last,
                len: FRAME_MAX,
                ..Default::default()
            },
        );
        let b: Vec<_> = rx.recv_batch(64).unwrap().collect();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].len(), FRAME_MAX as usize);
        drop(b);
        // skip() gets past a bad slot.
        k.write_desc(
            k.producer,
            uapi::Desc {
                addr,
                len,
                ..Default::default()
            },
        );
        k.set_producer(k.producer + 1);
        assert!(rx.recv_batch(64).is_err());
        assert!(rx.skip().unwrap());
        assert!(!rx.skip().unwrap());
        assert_eq!(k.consumer(), 7);
    }
}

#[test]
fn geometry_is_checked() {
    let good = offsets();
    assert!(fake_with(good, 0).is_ok());
    type Edit = fn(&mut uapi::RingOffsets);
    let edits: &[(&str, Edit)] = &[
        ("size", |o| o.mmap_size += 4096),
        ("slots 0", |o| o.nr_slots = 0),
        ("slots 24", |o| o.nr_slots = 24),
        ("slots huge", |o| o.nr_slots = 1 << 31),
        ("desc_size", |o| o.desc_size = 24),
        ("desc_size odd", |o| o.desc_size = 36),
        ("desc misaligned", |o| o.desc = 132),
        ("desc out", |o| o.desc = SIZE - 64),
        ("desc huge", |o| o.desc = u64::MAX - 8),
        ("buf_size 0", |o| o.buf_size = 0),
        ("headroom", |o| o.headroom = BUF_SIZE),
        ("frame_max", |o| o.frame_max = FRAME_MAX + 1),
        ("frame_max 0", |o| o.frame_max = 0),
        ("nr_bufs 0", |o| o.nr_bufs = 0),
        ("nr_bufs > slots", |o| o.nr_bufs = NR_SLOTS + 1),
        ("buffers out", |o| o.buffers = 8192),
        ("buffers huge", |o| o.buffers = u64::MAX - 100),
        ("desc over buffers", |o| o.buffers = 512),
        ("consumer in buffers", |o| o.consumer = 4096 + 256),
        ("flags in descs", |o| o.flags = 160),
        ("producer misaligned", |o| o.producer = 2),
        ("consumer == flags", |o| o.flags = o.consumer),
        ("status == producer", |o| o.status = o.producer),
        ("status out", |o| o.status = SIZE),
        ("word at end", |o| o.flags = SIZE - 2),
    ];
    for (what, edit) in edits {
        let mut o = good;
        edit(&mut o);
        let size = o.mmap_size;
        o.mmap_size = SIZE;
        // Map the original size; a changed mmap_size must differ from the mapping.
        let r = fake_with(o, 0).map(|_| ());
        let r = if size != SIZE {
            let mut map = MmapMut::map_anon(SIZE as usize).unwrap();
            let _ = map.as_mut_ptr();
            let (a, _) = UnixDatagram::pair().unwrap();
            let mut o2 = o;
            o2.mmap_size = size;
            RxRing::from_parts(
                MmapRaw::from(map),
                o2,
                true,
                Channel::from_fd_unchecked(a.into()),
            )
            .map(|_| ())
        } else {
            r
        };
        assert!(matches!(r, Err(Error::Geometry(_))), "{what}: {r:?}");
    }
}

#[test]
fn status_word_and_wait() {
    let (rx, mut k, peer) = fake(0);
    assert_eq!(rx.status(), RingStatus(0));
    k.set_status(uapi::VJ_RING_STATUS_NEED_KICK | 0x100);
    assert!(rx.status().need_kick() && !rx.status().dev_gone());
    // Empty ring with NEED_KICK: recv_batch kicks (a poll of 0 on the fake socket).
    assert_eq!(rx.recv_batch(8).unwrap().len(), 0);
    k.set_status(0);

    let t = Instant::now();
    assert_eq!(
        rx.wait(Some(Duration::from_millis(20))).unwrap(),
        WaitOutcome::TimedOut
    );
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert_eq!(
        k.flags() & uapi::VJ_RING_NEED_WAKEUP,
        0,
        "flag cleared after the sleep"
    );

    // Frames already there: no sleep at all.
    assert!(k.publish(&payload(0, 60), 0));
    let t = Instant::now();
    assert_eq!(
        rx.wait(Some(Duration::from_secs(10))).unwrap(),
        WaitOutcome::Ready
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(rx.recv_batch(8).unwrap());

    // prepare_sleep leaves the flag set for the caller's own poll loop.
    assert!(!rx.prepare_sleep());
    assert_eq!(
        k.flags() & uapi::VJ_RING_NEED_WAKEUP,
        uapi::VJ_RING_NEED_WAKEUP
    );
    rx.end_sleep();
    assert_eq!(k.flags(), 0);

    // A wakeup (the socket readable) with the producer moved.
    peer.send(b"x").unwrap();
    assert!(k.publish(&payload(1, 60), 0));
    assert_eq!(rx.wait(None).unwrap(), WaitOutcome::Ready);
    drop(rx.recv_batch(8).unwrap());

    // The device went away and the ring is drained.
    k.set_status(uapi::VJ_RING_STATUS_DEV_GONE);
    assert_eq!(rx.wait(None).unwrap(), WaitOutcome::DeviceGone);
}

#[derive(Clone, Debug)]
enum Op {
    /// The kernel publishes frames of these lengths (as many as fit).
    Publish(Vec<u16>),
    /// recv_batch(max), keeping the frames.
    Recv(usize),
    /// Drop the k-th held frame (modulo their number).
    Drop(usize),
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(1u16..=FRAME_MAX as u16, 0..6).prop_map(Op::Publish),
        3 => (0usize..20).prop_map(Op::Recv),
        4 => any::<usize>().prop_map(Op::Drop),
        1 => Just(Op::Flush),
    ]
}

#[derive(Clone, Debug)]
enum Hostile {
    Producer(u32),
    Desc { ahead: u32, addr: u64, len: u32 },
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let addr = prop_oneof![
        any::<u64>(),
        0u64..SIZE + 4096,
        (0u64..u64::from(NR_BUFS + 2)).prop_map(|b| 4096 + b * 2048 + 256),
    ];
    let len = prop_oneof![any::<u32>(), 0u32..FRAME_MAX + 2];
    prop_oneof![
        any::<u32>().prop_map(Hostile::Producer),
        (0u32..4, addr, len).prop_map(|(ahead, addr, len)| Hostile::Desc { ahead, addr, len }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The ring against a plain queue model: frames come out in order with the bytes the
    /// kernel wrote, the consumer index in the mapping is always the released prefix, and
    /// hostile values at the end produce errors or valid frames, never a panic.
    #[test]
    fn ring_matches_model(
        start in prop_oneof![any::<u32>(), (u32::MAX - 30)..=u32::MAX],
        ops in prop::collection::vec(op(), 0..60),
        evil in prop::collection::vec(hostile(), 0..4),
    ) {
        let (rx, mut k, _peer) = fake(start);
        // What the kernel published and the ring has not yet received: (index, len).
        let mut published: std::collections::VecDeque<(u32, usize)> = Default::default();
        // The model of outstanding slots: (index, released).
        let mut model: std::collections::VecDeque<(u32, bool)> = Default::default();
        let mut consumer = start;
        let mut held: Vec<Frame<'_>> = Vec::new();
        for op in ops {
            match op {
                Op::Publish(lens) => {
                    for len in lens {
                        let index = k.producer;
                        if k.publish(&payload(index, len as usize), 0) {
                            published.push_back((index, len as usize));
                        }
                    }
                }
                Op::Recv(max) => {
                    let b = rx.recv_batch(max).unwrap();
                    prop_assert_eq!(b.len(), max.min(published.len()));
                    // recv_batch stored the released prefix first.
                    prop_assert_eq!(k.consumer(), consumer);
                    for f in b {
                        let (index, len) = published.pop_front().unwrap();
                        prop_assert_eq!(f.index(), index);
                        prop_assert_eq!(f.bytes(), &payload(index, len)[..]);
                        model.push_back((index, false));
                        held.push(f);
                    }
                }
                Op::Drop(k_th) => {
                    if !held.is_empty() {
                        let f = held.swap_remove(k_th % held.len());
                        let index = f.index();
                        drop(f);
                        model.iter_mut().find(|e| e.0 == index).unwrap().1 = true;
                        while model.front().is_some_and(|e| e.1) {
                            model.pop_front();
                            consumer = consumer.wrapping_add(1);
                        }
                    }
                }
                Op::Flush => {
                    rx.flush();
                    prop_assert_eq!(k.consumer(), consumer);
                }
            }
            prop_assert_eq!(rx.outstanding() as usize, model.len());
            prop_assert!(k.consumer().wrapping_sub(consumer) as i32 <= 0);
            // Held frames keep their bytes: the kernel never reuses a held buffer.
            for f in &held {
                let len = f.len();
                prop_assert_eq!(f.bytes(), &payload(f.index(), len)[..]);
            }
        }
        for h in evil {
            match h {
                Hostile::Producer(p) => k.set_producer(p),
                Hostile::Desc { ahead, addr, len } => {
                    let i = rx.tracker.borrow().received().wrapping_add(ahead);
                    k.write_desc(i, uapi::Desc { addr, len, flags: u32::MAX, ..Default::default() });
                }
            }
            match rx.recv_batch(64) {
                Ok(b) => {
                    for f in b {
                        prop_assert!(!f.is_empty() && f.len() <= FRAME_MAX as usize);
                        let off = f.offset();
                        prop_assert!(off >= 4096 && off + f.len() as u64 <= SIZE);
                        prop_assert_eq!((off - 4096) % 2048, 256);
                        // Readable, whatever it holds.
                        let _ = f.bytes().iter().fold(0u8, |a, &b| a ^ b);
                        held.push(f);
                    }
                }
                Err(Error::Producer { .. } | Error::Descriptor { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
            prop_assert!(rx.outstanding() <= NR_SLOTS);
        }
        drop(held);
    }
}
