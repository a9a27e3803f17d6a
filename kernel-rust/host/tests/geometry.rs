//! Tests of `geometry.rs`: every geometry it accepts is a sound layout (words on cache lines
//! of their own, descriptors and buffers inside the mapping and apart, every page used), the
//! defaults are the documented ones, and what it refuses is refused for the documented reason.

use proptest::prelude::*;
use vjchan_kernel_logic::geometry::*;

const PAGE_SIZES: [usize; 4] = [4096, 16384, 65536, 262144];

/// The checks that hold for every accepted geometry.
fn sound(page: usize, g: &Geometry) {
    let words = [PRODUCER_OFF, STATUS_OFF, g.consumer_off(), g.flags_off()];
    for (i, a) in words.iter().enumerate() {
        assert_eq!(a % CACHE_LINE, 0);
        for b in &words[i + 1..] {
            assert!(
                a / CACHE_LINE < b / CACHE_LINE,
                "words in order, lines of their own"
            );
        }
    }
    let desc_end = DESC_OFF + g.nr_slots() * DESC_SIZE;
    const { assert!(STATUS_OFF + CACHE_LINE <= DESC_OFF) };
    assert!(desc_end <= g.consumer_off());
    assert!(g.flags_off() + CACHE_LINE <= g.buffers_off());
    assert_eq!(g.buffers_off() % page, 0);
    assert_eq!(g.size() % page, 0);
    assert!(g.size() <= SIZE_MAX);
    assert!(g.nr_slots().is_power_of_two());
    assert!((SLOTS_MIN..=SLOTS_MAX).contains(&g.nr_slots()));
    assert!((SLOTS_MIN..=g.nr_slots()).contains(&g.nr_bufs()));
    assert!(g.buf_size().is_power_of_two() && g.buf_size() <= page);
    assert_eq!(g.frame_max(), g.buf_size() - HEADROOM);
    // The buffers, each within one page, end inside the mapping; the last page holds a buffer
    // (no page is charged for nothing).
    let end = g.buffers_off() + g.nr_bufs() * g.buf_size();
    assert!(end <= g.size());
    assert!(g.size() - end < page, "a page without a buffer");
    for b in [0, g.nr_bufs() - 1] {
        let f = g.frame_off(b).unwrap();
        let start = f - HEADROOM;
        assert_eq!(
            start / page,
            (start + g.buf_size() - 1) / page,
            "buffer spans pages"
        );
        assert!(f + g.frame_max() <= g.size());
    }
    assert_eq!(g.frame_off(g.nr_bufs()), None);
    assert_eq!(g.desc_off(g.nr_slots()), None);
    assert_eq!(g.desc_off(g.nr_slots() - 1), Some(desc_end - DESC_SIZE));
    assert_eq!(g.nr_pages() * page, g.size());
}

#[test]
fn the_default_is_256_pages_on_4k_and_uses_them_all() {
    let g = Geometry::new(4096, Request::default()).unwrap();
    sound(4096, &g);
    assert_eq!(g.nr_pages(), 256);
    assert_eq!(g.buf_size(), 2048);
    assert_eq!(g.nr_slots(), 512);
    // 5 pages of words and descriptors, 251 of buffers.
    assert_eq!(g.buffers_off(), 5 * 4096);
    assert_eq!(g.nr_bufs(), 502);
    assert_eq!(g.frame_max(), 1792);
    assert_eq!(Geometry::default_for(4096), g);
    for page in PAGE_SIZES {
        let g = Geometry::default_for(page);
        sound(page, &g);
        assert_eq!(
            g.size(),
            SIZE_DEFAULT.max(page),
            "1 MiB whatever the page size"
        );
        // Any buffer size with the default size: a bigger ring when 1 MiB holds fewer than
        // `SLOTS_MIN` buffers (big pages).
        let mut b = BUF_SIZE_MIN;
        while b <= page {
            let r = Request {
                buf_size: b as u32,
                ..Request::default()
            };
            let g = Geometry::new(page, r).unwrap_or_else(|e| panic!("page {page} buf {b}: {e:?}"));
            sound(page, &g);
            b *= 2;
        }
    }
}

#[test]
fn the_size_needed_for_slots_does_not_overflow() {
    // 32768 buffers of a 256 KiB page: 8 GiB, over the limit, refused without overflow.
    let r = Request {
        nr_slots: SLOTS_MAX as u32,
        buf_size: 262144,
        size: 0,
    };
    assert_eq!(Geometry::new(262144, r), Err(Invalid::Size));
}

#[test]
fn slots_alone_size_the_ring() {
    let g = Geometry::new(
        4096,
        Request {
            nr_slots: 16,
            buf_size: 1024,
            size: 0,
        },
    )
    .unwrap();
    sound(4096, &g);
    assert_eq!((g.nr_slots(), g.nr_bufs(), g.nr_pages()), (16, 16, 5));
    let g = Geometry::new(
        4096,
        Request {
            nr_slots: 32768,
            buf_size: 4096,
            size: 0,
        },
    )
    .unwrap();
    sound(4096, &g);
    assert_eq!(g.nr_bufs(), 32768);
}

#[test]
fn refusals() {
    let r = |size, nr_slots, buf_size| {
        Geometry::new(
            4096,
            Request {
                size,
                nr_slots,
                buf_size,
            },
        )
    };
    assert_eq!(r(0, 0, 512), Err(Invalid::BufSize));
    assert_eq!(r(0, 0, 3000), Err(Invalid::BufSize));
    assert_eq!(
        r(0, 0, 8192),
        Err(Invalid::BufSize),
        "a buffer would span pages"
    );
    assert_eq!(r(0, 24, 0), Err(Invalid::Slots));
    assert_eq!(r(0, 8, 0), Err(Invalid::Slots));
    assert_eq!(r(0, 65536, 0), Err(Invalid::Slots));
    assert_eq!(r(4097, 0, 0), Err(Invalid::Size));
    assert_eq!(r((SIZE_MAX + 4096) as u64, 0, 0), Err(Invalid::Size));
    assert_eq!(r(!4095, 0, 0), Err(Invalid::Size));
    assert_eq!(r(4096, 0, 0), Err(Invalid::Buffers), "no room for buffers");
    assert_eq!(r(8 * 4096, 0, 4096), Err(Invalid::Buffers), "7 buffers");
    // 1 MiB of 2 KiB buffers with 16 slots: 500 pages' worth would never be used.
    assert_eq!(r(1 << 20, 16, 0), Err(Invalid::Buffers));
    assert_eq!(
        r(SIZE_MAX as u64, 0, 1024),
        Err(Invalid::Buffers),
        "over 32768 buffers"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Any request at all: refused, or a sound geometry that honours what was asked.
    #[test]
    fn any_request_is_refused_or_sound(
        page in prop::sample::select(PAGE_SIZES.to_vec()),
        size in prop_oneof![Just(0u64), (0u64..=4096).prop_map(|p| p * 4096), any::<u64>()],
        nr_slots in prop_oneof![Just(0u32), (0u32..17).prop_map(|k| 1 << k), any::<u32>()],
        buf_size in prop_oneof![Just(0u32), (9u32..19).prop_map(|k| 1 << k), any::<u32>()],
    ) {
        if let Ok(g) = Geometry::new(page, Request { size, nr_slots, buf_size }) {
            sound(page, &g);
            if size != 0 {
                prop_assert_eq!(g.size() as u64, size);
            }
            if nr_slots != 0 {
                prop_assert_eq!(g.nr_slots(), nr_slots as usize);
            }
            if buf_size != 0 {
                prop_assert_eq!(g.buf_size(), buf_size as usize);
            }
            if nr_slots == 0 && g.nr_slots() > SLOTS_MIN {
                // The fewest slots that describe every buffer that fits: with half as many,
                // more buffers would fit than slots describe them.
                let half = Request {
                    size: g.size() as u64,
                    nr_slots: (g.nr_slots() / 2) as u32,
                    buf_size: g.buf_size() as u32,
                };
                prop_assert_eq!(Geometry::new(page, half), Err(Invalid::Buffers));
            }
        }
    }
}

#[test]
fn derived_slots_are_the_fewest_even_when_a_power_of_two_wastes_some() {
    // Sizes where half the slots would leave more buffers than slots, though the derived ring
    // has fewer than half as many buffers as slots (found by the proptest above).
    for size in [540672u64, 4268032] {
        let g = Geometry::new(
            4096,
            Request {
                size,
                ..Request::default()
            },
        )
        .unwrap();
        sound(4096, &g);
        let half = Request {
            size,
            nr_slots: (g.nr_slots() / 2) as u32,
            buf_size: 0,
        };
        assert_eq!(
            Geometry::new(4096, half),
            Err(Invalid::Buffers),
            "size {size}"
        );
    }
}
