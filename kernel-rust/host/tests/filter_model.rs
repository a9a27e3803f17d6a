//! Tests of `filter.rs`: frames built from random header fields parse back to those fields,
//! arbitrary bytes never upset the parser, and matching agrees with a reference written
//! directly from the fields.

use proptest::prelude::*;
use vjchan_kernel_logic::filter::*;

/// The fields a test frame is built from.
#[derive(Clone, Debug)]
struct Spec {
    vlan: bool,
    kind: Kind,
    /// Truncate the frame to this many bytes (if shorter than the frame).
    cut: usize,
}

#[derive(Clone, Debug)]
enum Kind {
    Other(u16),
    V4 {
        ihl: u8,
        frag: u16,
        proto: u8,
        dst: [u8; 4],
        dport: u16,
    },
    V6 {
        next: u8,
        dst: [u8; 16],
        dport: u16,
    },
}

fn build(s: &Spec) -> Vec<u8> {
    let mut f = vec![0xaa; 12]; // MAC addresses
    if s.vlan {
        f.extend_from_slice(&ETH_P_8021Q.to_be_bytes());
        f.extend_from_slice(&[0x00, 0x05]);
    }
    match &s.kind {
        Kind::Other(t) => {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0x55; 46]);
        }
        Kind::V4 {
            ihl,
            frag,
            proto,
            dst,
            dport,
        } => {
            f.extend_from_slice(&ETH_P_IP.to_be_bytes());
            let mut ip = vec![0u8; usize::from(*ihl) * 4];
            ip[0] = 0x40 | ihl;
            ip[6..8].copy_from_slice(&frag.to_be_bytes());
            ip[9] = *proto;
            ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
            ip[16..20].copy_from_slice(dst);
            f.extend_from_slice(&ip);
            f.extend_from_slice(&1234u16.to_be_bytes());
            f.extend_from_slice(&dport.to_be_bytes());
            f.extend_from_slice(&[0x77; 16]);
        }
        Kind::V6 { next, dst, dport } => {
            f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
            let mut ip = vec![0u8; 40];
            ip[0] = 0x60;
            ip[6] = *next;
            ip[24..40].copy_from_slice(dst);
            f.extend_from_slice(&ip);
            f.extend_from_slice(&1234u16.to_be_bytes());
            f.extend_from_slice(&dport.to_be_bytes());
            f.extend_from_slice(&[0x77; 16]);
        }
    }
    f.truncate(s.cut.min(HEADER_COPY));
    f
}

/// Where the bytes a field needs end, relative to the frame start; the field is known
/// only if the frame was cut at or after that.
fn need(s: &Spec, end_in_l3: usize) -> usize {
    14 + if s.vlan { 4 } else { 0 } + end_in_l3
}

/// The reference: what a filter should say about the frame `s` describes.
fn reference(filter: &Filter, s: &Spec) -> bool {
    let et_known = s.cut >= need(s, 0);
    let ethertype = match s.kind {
        Kind::Other(t) => t,
        Kind::V4 { .. } => ETH_P_IP,
        Kind::V6 { .. } => ETH_P_IPV6,
    };
    let port =
        |want: Option<u16>, have: u16, end: usize| want.is_none_or(|p| p == have && s.cut >= end);
    match (*filter, &s.kind) {
        (Filter::EtherType(t), _) => et_known && t == ethertype,
        (
            Filter::Ipv4 { dst, l4, dport },
            Kind::V4 {
                ihl,
                frag,
                proto,
                dst: d,
                dport: p,
            },
        ) => {
            let ihl = usize::from(*ihl) * 4;
            s.cut >= need(s, 20)
                && *proto == l4.proto()
                && dst.is_none_or(|a| a == *d)
                && match dport {
                    None => true,
                    Some(_) => frag & 0x1fff == 0 && port(dport, *p, need(s, ihl + 4)),
                }
        }
        (
            Filter::Ipv6 { dst, l4, dport },
            Kind::V6 {
                next,
                dst: d,
                dport: p,
            },
        ) => {
            s.cut >= need(s, 40)
                && *next == l4.proto()
                && dst.is_none_or(|a| a == *d)
                && port(dport, *p, need(s, 44))
        }
        _ => false,
    }
}

fn l4() -> impl Strategy<Value = L4> {
    prop_oneof![Just(L4::Udp), Just(L4::Tcp)]
}

fn small_addr4() -> impl Strategy<Value = [u8; 4]> {
    // Few distinct values, so that filters and frames often agree.
    (0u8..3).prop_map(|x| [10, 0, 0, x])
}

fn small_addr6() -> impl Strategy<Value = [u8; 16]> {
    (0u8..3).prop_map(|x| {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = x;
        a
    })
}

fn small_port() -> impl Strategy<Value = u16> {
    prop_oneof![Just(53u16), Just(4789), Just(9000)]
}

fn proto() -> impl Strategy<Value = u8> {
    prop_oneof![Just(IPPROTO_UDP), Just(IPPROTO_TCP), Just(1u8), any::<u8>()]
}

fn spec() -> impl Strategy<Value = Spec> {
    let kind = prop_oneof![
        prop_oneof![
            Just(ETH_P_IP),
            Just(ETH_P_IPV6),
            Just(0x88b5u16),
            any::<u16>()
        ]
        .prop_map(Kind::Other),
        (
            5u8..=15,
            prop_oneof![Just(0u16), Just(0x2000), Just(0x0001), any::<u16>()],
            proto(),
            small_addr4(),
            small_port()
        )
            .prop_map(|(ihl, frag, proto, dst, dport)| Kind::V4 {
                ihl,
                frag,
                proto,
                dst,
                dport
            }),
        (proto(), small_addr6(), small_port()).prop_map(|(next, dst, dport)| Kind::V6 {
            next,
            dst,
            dport
        }),
    ];
    (
        any::<bool>(),
        kind,
        prop_oneof![3 => Just(usize::MAX), 1 => 0usize..140],
    )
        .prop_map(|(vlan, kind, cut)| Spec { vlan, kind, cut })
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        prop_oneof![Just(ETH_P_IP), Just(ETH_P_IPV6), Just(0x88b5u16)].prop_map(Filter::EtherType),
        (
            proptest::option::of(small_addr4()),
            l4(),
            proptest::option::of(small_port())
        )
            .prop_map(|(dst, l4, dport)| Filter::Ipv4 { dst, l4, dport }),
        (
            proptest::option::of(small_addr6()),
            l4(),
            proptest::option::of(small_port())
        )
            .prop_map(|(dst, l4, dport)| Filter::Ipv6 { dst, l4, dport }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn matching_agrees_with_the_reference(s in spec(), fs in prop::collection::vec(filter(), 1..4)) {
        let frame = build(&s);
        let h = Headers::parse(&frame);
        for f in &fs {
            prop_assert_eq!(f.matches(&h), reference(f, &s), "filter {:?} frame {:?} parsed {:?}", f, s, h);
        }
        prop_assert_eq!(classify(&fs, &h), fs.iter().any(|f| reference(f, &s)));
    }

    #[test]
    fn arbitrary_bytes_parse_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..HEADER_COPY)) {
        let h = Headers::parse(&bytes);
        // An EtherType is known exactly when the bytes reach it.
        if bytes.len() >= 14 {
            prop_assert!(h.ethertype.is_some());
        }
        if bytes.len() < 14 {
            prop_assert_eq!(h.ethertype, None);
        }
    }
}

#[test]
fn no_filters_match_nothing() {
    let h = Headers::parse(&[0u8; 64]);
    assert!(!classify(&[], &h));
}

#[test]
fn udp_to_a_port() {
    let s = Spec {
        vlan: false,
        kind: Kind::V4 {
            ihl: 5,
            frag: 0x4000,
            proto: IPPROTO_UDP,
            dst: [10, 0, 0, 2],
            dport: 9000,
        },
        cut: usize::MAX,
    };
    let h = Headers::parse(&build(&s));
    assert_eq!(
        h.l3,
        L3::Ipv4 {
            dst: [10, 0, 0, 2],
            proto: IPPROTO_UDP,
            dport: Some(9000)
        }
    );
    let f = Filter::Ipv4 {
        dst: Some([10, 0, 0, 2]),
        l4: L4::Udp,
        dport: Some(9000),
    };
    assert!(f.matches(&h));
    let g = Filter::Ipv4 {
        dst: Some([10, 0, 0, 2]),
        l4: L4::Tcp,
        dport: Some(9000),
    };
    assert!(!g.matches(&h));
}
