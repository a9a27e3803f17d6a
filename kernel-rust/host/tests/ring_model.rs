//! Model-based tests of `ring.rs`: random sequences of driver and user-space actions, hostile
//! consumer indexes included, checked step by step against a plain queue, for rings of several
//! geometries (slots a power of two, as many buffers or fewer).

use proptest::prelude::*;
use std::collections::VecDeque;
use vjchan_kernel_logic::ring::{BufId, BufState, ConsumerIndex, NotPosted, RxRing};

/// The largest ring the model tests use.
const N: usize = 32;

type Ring = RxRing<Vec<u16>>;

fn ring(start: u32, nslots: usize, nbufs: usize) -> Ring {
    RxRing::new(
        start,
        nslots,
        nbufs,
        vec![0xdead; Ring::storage_len(nslots, nbufs)],
    )
    .unwrap()
}

/// A geometry: slots a power of two up to `N`, buffers up to the slots.
fn geometry() -> impl Strategy<Value = (usize, usize)> {
    (0u32..6).prop_flat_map(|k| {
        let nslots = 1usize << k;
        (Just(nslots), 0..=nslots)
    })
}

#[derive(Clone, Debug)]
enum Op {
    /// vj_get_buffer().
    Get,
    /// Publish the `k`th posted buffer (mod the number posted).
    Publish(usize),
    /// Recycle the `k`th posted buffer.
    Recycle(usize),
    /// User space releases `k` slots (mod published + 1), honestly.
    Release(u32),
    /// User space writes any value at all into the consumer index.
    Hostile(u32),
    /// User space writes the consumer index plus `d`, for `d` near the limits.
    HostileNear(i64),
    /// A driver gives back a buffer it does not hold.
    BogusRecycle(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Get),
        4 => any::<usize>().prop_map(Op::Publish),
        1 => any::<usize>().prop_map(Op::Recycle),
        3 => any::<u32>().prop_map(Op::Release),
        1 => any::<u32>().prop_map(Op::Hostile),
        1 => prop_oneof![Just(-1i64), Just(1), Just(N as i64 + 1), Just(1 << 31), Just(u32::MAX as i64)]
            .prop_map(Op::HostileNear),
        1 => any::<u16>().prop_map(Op::BogusRecycle),
    ]
}

/// The model: where each buffer is, as plain collections.
struct Model {
    free: Vec<BufId>,
    posted: Vec<BufId>,
    published: VecDeque<BufId>,
    cons: u32,
}

fn check(ring: &Ring, m: &Model) {
    let nb = ring.nr_bufs();
    assert_eq!(ring.free_buffers() as usize, m.free.len());
    assert_eq!(ring.posted() as usize, m.posted.len());
    assert_eq!(ring.published() as usize, m.published.len());
    assert_eq!(ring.consumer(), m.cons);
    assert_eq!(
        ring.producer(),
        m.cons.wrapping_add(m.published.len() as u32)
    );
    assert_eq!(m.free.len() + m.posted.len() + m.published.len(), nb);
    for b in 0..nb as BufId {
        let want = if m.free.contains(&b) {
            BufState::Free
        } else if m.posted.contains(&b) {
            BufState::Posted
        } else {
            assert!(m.published.contains(&b), "buffer {b} is nowhere");
            BufState::Published
        };
        assert_eq!(ring.state(b), Some(want), "buffer {b}");
    }
    assert_eq!(ring.state(nb as BufId), None);
    assert_eq!(ring.state(BufId::MAX), None);
}

fn run(start: u32, (nslots, nbufs): (usize, usize), ops: Vec<Op>) {
    let mut ring = ring(start, nslots, nbufs);
    let mut m = Model {
        free: (0..nbufs as BufId).collect(),
        posted: Vec::new(),
        published: VecDeque::new(),
        cons: start,
    };
    // What user space sees in each slot: the buffer the kernel published there.
    let mut slots: [Option<BufId>; N] = [None; N];
    check(&ring, &m);
    for op in ops {
        match op {
            Op::Get => match ring.get_buffer() {
                Some(b) => {
                    let i = m
                        .free
                        .iter()
                        .position(|&f| f == b)
                        .expect("got a non-free buffer");
                    m.free.swap_remove(i);
                    m.posted.push(b);
                }
                None => assert!(m.free.is_empty(), "no buffer although some are free"),
            },
            Op::Publish(k) | Op::Recycle(k) if m.posted.is_empty() => {
                let _ = k;
            }
            Op::Publish(k) => {
                let b = m.posted.remove(k % m.posted.len());
                let want_slot = ring.slot(ring.producer());
                assert_eq!(
                    slots[want_slot], None,
                    "slot {want_slot} is overwritten unreleased"
                );
                assert_eq!(ring.publish(b), Ok(want_slot));
                slots[want_slot] = Some(b);
                m.published.push_back(b);
            }
            Op::Recycle(k) => {
                let b = m.posted.remove(k % m.posted.len());
                assert_eq!(ring.recycle(b), Ok(()));
                m.free.push(b);
            }
            Op::Release(k) => {
                let k = k % (m.published.len() as u32 + 1);
                let r = ring.observe_consumer(m.cons.wrapping_add(k));
                if k == 0 {
                    assert_eq!(r, ConsumerIndex::Unchanged);
                } else {
                    assert_eq!(r, ConsumerIndex::Released(k));
                }
                for _ in 0..k {
                    let b = m.published.pop_front().unwrap();
                    let s = ring.slot(m.cons);
                    assert_eq!(slots[s], Some(b), "slot {s} held another buffer");
                    slots[s] = None;
                    m.cons = m.cons.wrapping_add(1);
                    m.free.push(b);
                }
            }
            Op::Hostile(v) => hostile(&mut ring, &mut m, &mut slots, v),
            Op::HostileNear(d) => {
                let v = (i64::from(m.cons) + d).rem_euclid(1 << 32) as u32;
                hostile(&mut ring, &mut m, &mut slots, v)
            }
            Op::BogusRecycle(b) => {
                if !m.posted.contains(&b) {
                    assert_eq!(ring.recycle(b), Err(NotPosted(b)));
                    assert_eq!(ring.publish(b), Err(NotPosted(b)));
                }
            }
        }
        check(&ring, &m);
    }
}

/// Any value: accepted only if it lies within what was published, else ignored.
fn hostile(ring: &mut Ring, m: &mut Model, slots: &mut [Option<BufId>; N], v: u32) {
    let advance = v.wrapping_sub(m.cons);
    let r = ring.observe_consumer(v);
    if advance == 0 {
        assert_eq!(r, ConsumerIndex::Unchanged);
    } else if advance as usize <= m.published.len() {
        assert_eq!(r, ConsumerIndex::Released(advance));
        for _ in 0..advance {
            let b = m.published.pop_front().unwrap();
            slots[ring.slot(m.cons)] = None;
            m.cons = m.cons.wrapping_add(1);
            m.free.push(b);
        }
    } else {
        assert_eq!(r, ConsumerIndex::Invalid);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ring_matches_the_model(
        start in any::<u32>(),
        geom in geometry(),
        ops in prop::collection::vec(op(), 0..400),
    ) {
        run(start, geom, ops);
    }

    #[test]
    fn ring_matches_the_model_across_u32_wrap(
        back in 0u32..(4 * N as u32),
        geom in geometry(),
        ops in prop::collection::vec(op(), 0..400),
    ) {
        run(u32::MAX - back, geom, ops);
    }
}

#[test]
fn a_full_ring_hands_out_no_buffer_and_overwrites_nothing() {
    let mut ring = ring(u32::MAX - 3, N, N);
    for _ in 0..N {
        let b = ring.get_buffer().unwrap();
        ring.publish(b).unwrap();
    }
    assert_eq!(ring.published(), N as u32);
    assert_eq!(ring.get_buffer(), None);
    // Releasing one slot frees exactly one buffer, the one published first.
    let first = ring.slot(ring.consumer());
    assert_eq!(
        ring.observe_consumer(ring.consumer().wrapping_add(1)),
        ConsumerIndex::Released(1)
    );
    assert_eq!(ring.get_buffer(), Some(0));
    assert_eq!(first, ring.slot(u32::MAX - 3));
}

#[test]
fn fewer_buffers_than_slots_fill_before_the_slots_do() {
    let mut ring = ring(7, 16, 5);
    for _ in 0..5 {
        let b = ring.get_buffer().unwrap();
        ring.publish(b).unwrap();
    }
    assert_eq!(ring.get_buffer(), None);
    assert_eq!(ring.published(), 5);
    // A consumer index past the five published slots (but within the sixteen) is hostile.
    assert_eq!(ring.observe_consumer(7 + 6), ConsumerIndex::Invalid);
    assert_eq!(ring.observe_consumer(7 + 5), ConsumerIndex::Released(5));
    assert_eq!(ring.free_buffers(), 5);
}

#[test]
fn bad_geometries_are_refused() {
    let mk = |ns, nb, len| RxRing::new(0, ns, nb, vec![0u16; len]).err();
    assert_eq!(mk(16, 16, 48), None);
    assert!(mk(12, 4, 20).is_some(), "slots not a power of two");
    assert!(mk(16, 17, 50).is_some(), "more buffers than slots");
    assert!(mk(16, 16, 47).is_some(), "storage too short");
    assert!(mk(16, 16, 49).is_some(), "storage too long");
    assert!(mk(1 << 17, 0, 1 << 17).is_some(), "too many slots");
}

#[test]
fn hostile_indexes_are_ignored() {
    let mut ring = ring(100, N, N);
    for _ in 0..3 {
        let b = ring.get_buffer().unwrap();
        ring.publish(b).unwrap();
    }
    for v in [99, 104, 100 + (1 << 31), 100 + N as u32, u32::MAX, 0] {
        assert_eq!(ring.observe_consumer(v), ConsumerIndex::Invalid, "{v}");
    }
    assert_eq!(ring.consumer(), 100);
    assert_eq!(ring.observe_consumer(103), ConsumerIndex::Released(3));
}
