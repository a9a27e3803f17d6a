//! Tests of the uapi form of filters (`struct vj_filter`, 48 bytes): `Filter::decode` accepts
//! exactly the canonical encodings of filters, never panics, and gives back what `encode` made.

use proptest::prelude::*;
use vjchan_kernel_logic::filter::*;

fn l4() -> impl Strategy<Value = L4> {
    prop_oneof![Just(L4::Udp), Just(L4::Tcp)]
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (1u16..).prop_map(Filter::EtherType),
        (
            prop::option::of(any::<[u8; 4]>()),
            l4(),
            prop::option::of(any::<u16>())
        )
            .prop_map(|(dst, l4, dport)| Filter::Ipv4 { dst, l4, dport }),
        (
            prop::option::of(any::<[u8; 16]>()),
            l4(),
            prop::option::of(any::<u16>())
        )
            .prop_map(|(dst, l4, dport)| Filter::Ipv6 { dst, l4, dport }),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(f in filter()) {
        prop_assert_eq!(Filter::decode(&f.encode()), Some(f));
    }

    #[test]
    fn decode_accepts_only_canonical_bytes(raw in any::<[u8; UAPI_FILTER_SIZE]>()) {
        if let Some(f) = Filter::decode(&raw) {
            prop_assert_eq!(f.encode(), raw);
        }
    }

    #[test]
    fn any_single_byte_change_of_a_valid_filter_is_refused_or_another_filter(
        f in filter(), at in 0..UAPI_FILTER_SIZE, x in 1u8..,
    ) {
        let mut raw = f.encode();
        raw[at] ^= x;
        match Filter::decode(&raw) {
            None => {}
            Some(g) => {
                prop_assert_ne!(g, f);
                prop_assert_eq!(g.encode(), raw);
            }
        }
    }
}

#[test]
fn documented_refusals() {
    let v4 = Filter::Ipv4 {
        dst: None,
        l4: L4::Udp,
        dport: Some(9),
    }
    .encode();
    // Unknown type.
    let mut r = v4;
    r[0..2].copy_from_slice(&7u16.to_ne_bytes());
    assert_eq!(Filter::decode(&r), None);
    // Unknown flag.
    let mut r = v4;
    r[2..4].copy_from_slice(&(1u16 << 5 | VJ_FILTER_F_DST_PORT).to_ne_bytes());
    assert_eq!(Filter::decode(&r), None);
    // A transport other than UDP/TCP.
    let mut r = v4;
    r[6] = 1;
    assert_eq!(Filter::decode(&r), None);
    // A reserved byte.
    for at in [7, 10, 11, 12, 15, 32, 47] {
        let mut r = v4;
        r[at] = 1;
        assert_eq!(Filter::decode(&r), None, "reserved byte {at}");
    }
    // An address without its flag, an IPv4 address beyond 4 bytes.
    let mut r = v4;
    r[16] = 10;
    assert_eq!(Filter::decode(&r), None);
    let mut r = Filter::Ipv4 {
        dst: Some([10, 0, 0, 1]),
        l4: L4::Udp,
        dport: None,
    }
    .encode();
    r[20] = 1;
    assert_eq!(Filter::decode(&r), None);
    // EtherType 0, and an EtherType filter with a port.
    assert_eq!(Filter::decode(&Filter::EtherType(0).encode()), None);
    let mut r = Filter::EtherType(0x88b5).encode();
    r[9] = 1;
    assert_eq!(Filter::decode(&r), None);
    // The all-zero filter.
    assert_eq!(Filter::decode(&[0; UAPI_FILTER_SIZE]), None);
}
