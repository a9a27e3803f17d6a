//! Compiles `uapi/vjchan.h` with the C compiler and checks the Rust mirror against it: every
//! constant's value, every struct's size and alignment, every field's offset and size.
//!
//! Coverage does not rest on the tables below alone: the header's text is parsed for its
//! `#define`s, its structs and their fields, and those lists must equal the Rust tables; the
//! fields of each struct must also tile it exactly (from offset 0 to its size, no gap, no
//! overlap), on the C side and on the Rust side.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use vjchan_uapi as uapi;
use zerocopy::FromZeros;

/// One constant of the Rust mirror: its C name and its value.
type Const = (&'static str, i128);

fn value<T: TryInto<i128>>(v: T) -> i128
where
    T::Error: Debug,
{
    v.try_into().unwrap()
}

macro_rules! consts {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), value(uapi::$name))),*]
    };
}

/// Every constant of the Rust mirror.
fn rust_consts() -> Vec<Const> {
    consts![
        AF_VJCHAN,
        PF_VJCHAN,
        SOL_VJCHAN,
        VJ_PROTO_DEFAULT,
        VJ_RING_OFFSETS,
        VJ_STATISTICS,
        VJ_FEATURES,
        VJ_ADD_FILTER,
        VJ_DEL_FILTER,
        VJ_RING_SETUP,
        VJ_FEATURE_RX_RING,
        VJ_FEATURE_NEED_WAKEUP,
        VJ_FEATURE_FILTER_ETHERTYPE,
        VJ_FEATURE_FILTER_IP,
        VJ_FEATURE_NF_INGRESS,
        VJ_FEATURE_MEMLOCK,
        VJ_FEATURE_STATUS,
        VJ_FEATURE_RING_SETUP,
        VJ_FEATURE_DESC_FLAGS,
        VJ_RING_SETUP_F_TSTAMP,
        VJ_RING_SIZE_DEFAULT,
        VJ_RING_SIZE_MAX,
        VJ_RING_SLOTS_MIN,
        VJ_RING_SLOTS_MAX,
        VJ_RING_BUF_SIZE_MIN,
        VJ_RING_OFFSETS_SIZE_VER0,
        VJ_DESC_F_CSUM_OK,
        VJ_DESC_F_RXHASH,
        VJ_DESC_F_TSTAMP,
        VJ_MMAP_OFFSET_RX_RING,
        VJ_RING_NEED_WAKEUP,
        VJ_RING_STATUS_DEV_GONE,
        VJ_RING_STATUS_NEED_KICK,
        VJ_STATISTICS_SIZE_VER0,
        VJ_STATISTICS_SIZE_VER1,
        VJ_FILTER_ETHERTYPE,
        VJ_FILTER_IPV4,
        VJ_FILTER_IPV6,
        VJ_FILTER_F_DST_ADDR,
        VJ_FILTER_F_DST_PORT,
        VJ_MAX_FILTERS,
    ]
}

/// Layout of one struct, as Rust or C sees it.
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    size: usize,
    align: usize,
    /// (field, offset, size), in declaration order.
    fields: Vec<(String, usize, usize)>,
}

/// `r#type` is the Rust spelling of the C field `type`.
fn c_field_name(rust: &str) -> String {
    rust.strip_prefix("r#").unwrap_or(rust).to_string()
}

macro_rules! layouts {
    ($($ty:ty => $c:literal { $($f:ident),* $(,)? })*) => {
        vec![$((
            $c,
            Layout {
                size: size_of::<$ty>(),
                align: align_of::<$ty>(),
                fields: vec![$((
                    c_field_name(stringify!($f)),
                    core::mem::offset_of!($ty, $f),
                    size_of_val(&<$ty as FromZeros>::new_zeroed().$f),
                )),*],
            },
        )),*]
    };
}

/// Every struct of the Rust mirror, by C name, with every field by C name.
fn rust_layouts() -> Vec<(&'static str, Layout)> {
    layouts! {
        uapi::SockaddrVj => "sockaddr_vj" {
            svj_family, svj_flags, svj_ifindex, svj_queue_id, svj_reserved,
        }
        uapi::RingSetup => "vj_ring_setup" {
            size, nr_slots, buf_size, flags, reserved0, reserved,
        }
        uapi::RingOffsets => "vj_ring_offsets" {
            mmap_size, producer, consumer, flags, desc, buffers,
            nr_slots, desc_size, buf_size, headroom, status, nr_bufs, frame_max,
            reserved,
        }
        uapi::Desc => "vj_desc" {
            addr, len, flags, rxhash, reserved, tstamp,
        }
        uapi::Statistics => "vj_statistics" {
            rx_packets, rx_bytes, rx_stack, rx_copies,
            rx_ring_full, rx_invalid_consumer, rx_bad_length, rx_wakeups,
            rx_nf_dropped, rx_nomem,
        }
        uapi::Filter => "vj_filter" {
            r#type, flags, ethertype, l4_proto, reserved0, dst_port,
            reserved1, reserved2, dst_addr, reserved,
        }
    }
}

fn header_text() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vjchan.h")).unwrap()
}

/// The header without its comments.
fn strip_comments(mut s: &str) -> String {
    let mut out = String::new();
    while let Some(i) = s.find("/*") {
        out.push_str(&s[..i]);
        let j = s[i..].find("*/").expect("unterminated comment") + i + 2;
        out.push(' ');
        s = &s[j..];
    }
    out.push_str(s);
    out
}

/// What the header's text declares: the names of its `#define`s (but its include guard), and
/// its structs with their fields' names, in declaration order.
fn header_decls() -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let text = strip_comments(&header_text());
    let mut defines = Vec::new();
    let mut structs: Vec<(String, Vec<String>)> = Vec::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#define") {
            let name = rest.split_whitespace().next().unwrap();
            if name != "_UAPI_LINUX_VJCHAN_H" {
                defines.push(name.to_string());
            }
        } else if let Some(rest) = line.strip_prefix("struct ").filter(|l| l.ends_with('{')) {
            let name = rest.trim_end_matches('{').trim();
            structs.push((name.to_string(), Vec::new()));
            inside = true;
        } else if inside && line.starts_with('}') {
            inside = false;
        } else if inside && !line.is_empty() {
            for decl in line.split(';').map(str::trim).filter(|d| !d.is_empty()) {
                let name = decl.split_whitespace().last().unwrap();
                let name = name.split('[').next().unwrap();
                structs.last_mut().unwrap().1.push(name.to_string());
            }
        }
    }
    assert!(!inside, "unterminated struct in the header");
    (defines, structs)
}

/// What the C compiler says.
struct CView {
    consts: BTreeMap<String, i128>,
    layouts: BTreeMap<String, Layout>,
}

/// Builds and runs a C program that prints, for the names the Rust tables list, every
/// constant's value, every struct's size and alignment and every field's offset and size.
/// A name the header lacks makes it fail to compile.
fn c_view() -> &'static CView {
    static VIEW: OnceLock<CView> = OnceLock::new();
    VIEW.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        // The header includes <linux/types.h>; give it the uapi layout it has in the kernel.
        let inc = out.join("include");
        std::fs::create_dir_all(inc.join("linux")).unwrap();
        std::fs::copy(root.join("vjchan.h"), inc.join("linux/vjchan.h")).unwrap();

        let mut body = String::new();
        for (name, _) in rust_consts() {
            body.push_str(&format!("    K({name});\n"));
        }
        for (s, layout) in rust_layouts() {
            body.push_str(&format!("    S({s});\n"));
            for (f, _, _) in &layout.fields {
                body.push_str(&format!("    F({s}, {f});\n"));
            }
        }
        let prog = out.join("values.c");
        std::fs::write(
            &prog,
            format!(
                r#"#include <stddef.h>
#include <stdio.h>
#include <linux/vjchan.h>
#define K(x) do {{ \
        if ((x) < 1 && (x) != 0) \
            printf("K %s %lld\n", #x, (long long)(x)); \
        else \
            printf("K %s %llu\n", #x, (unsigned long long)(x)); \
    }} while (0)
#define S(s) printf("S %s %zu %zu\n", #s, sizeof(struct s), _Alignof(struct s))
#define F(s, f) printf("F %s %s %zu %zu\n", #s, #f, offsetof(struct s, f), \
                       sizeof(((struct s *)0)->f))
int main(void) {{
{body}    return 0;
}}
"#
            ),
        )
        .unwrap();
        let exe = out.join("values");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let st = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Werror", "-I"])
            .arg(&inc)
            .arg(&prog)
            .arg("-o")
            .arg(&exe)
            .status()
            .expect("run the C compiler");
        assert!(
            st.success(),
            "{} does not compile: the header lacks a name the Rust mirror has",
            prog.display()
        );
        let run = Command::new(&exe).output().unwrap();
        assert!(run.status.success());

        let mut view = CView {
            consts: BTreeMap::new(),
            layouts: BTreeMap::new(),
        };
        for line in String::from_utf8(run.stdout).unwrap().lines() {
            let w: Vec<&str> = line.split(' ').collect();
            let n = |i: usize| -> usize { w[i].parse().unwrap() };
            match w[0] {
                "K" => {
                    let old = view.consts.insert(w[1].into(), w[2].parse().unwrap());
                    assert!(old.is_none(), "{} listed twice", w[1]);
                }
                "S" => {
                    let old = view.layouts.insert(
                        w[1].into(),
                        Layout {
                            size: n(2),
                            align: n(3),
                            fields: Vec::new(),
                        },
                    );
                    assert!(old.is_none(), "struct {} listed twice", w[1]);
                }
                "F" => view
                    .layouts
                    .get_mut(w[1])
                    .unwrap()
                    .fields
                    .push((w[2].into(), n(3), n(4))),
                _ => panic!("bad line {line:?}"),
            }
        }
        view
    })
}

/// Fields must cover the struct exactly: sorted by offset, each starts where the one before
/// ends, the first at 0, the last ending at the struct's size.  A field left out of a table
/// (or present on one side only) leaves a gap.
fn assert_tiles(side: &str, s: &str, l: &Layout) {
    let mut fields = l.fields.clone();
    fields.sort_by_key(|&(_, off, _)| off);
    let mut end = 0;
    for (f, off, size) in &fields {
        assert_eq!(
            *off, end,
            "{side}: struct {s}: field {f} at {off}, but the fields before it end at {end} \
             (a field is missing or overlaps, or there is padding)"
        );
        end = off + size;
    }
    assert_eq!(
        end, l.size,
        "{side}: struct {s}: the fields end at {end}, the struct at {}",
        l.size
    );
}

#[test]
fn every_header_define_is_mirrored() {
    let (mut defines, _) = header_decls();
    defines.sort();
    defines.dedup(); // PF_VJCHAN etc. are each defined once, under #ifndef
    let mut rust: Vec<String> = rust_consts().iter().map(|(n, _)| n.to_string()).collect();
    rust.sort();
    assert_eq!(
        defines, rust,
        "the header's #defines (left) and the Rust constants (right) differ"
    );
}

#[test]
fn constants_match_the_c_header() {
    let c = &c_view().consts;
    let rust = rust_consts();
    assert_eq!(c.len(), rust.len());
    for (name, v) in rust {
        let cv = c[name];
        assert_eq!(cv, v, "{name}: C says {cv}, Rust says {v}");
    }
}

#[test]
fn every_header_struct_and_field_is_mirrored() {
    let (_, header) = header_decls();
    let rust: Vec<(String, Vec<String>)> = rust_layouts()
        .into_iter()
        .map(|(s, l)| (s.to_string(), l.fields.into_iter().map(|f| f.0).collect()))
        .collect();
    assert_eq!(
        header, rust,
        "the header's structs and fields (left) and the Rust tables (right) differ"
    );
}

#[test]
fn struct_layouts_match_the_c_header() {
    let c = &c_view().layouts;
    let rust = rust_layouts();
    assert_eq!(c.len(), rust.len());
    for (s, r) in &rust {
        let cl = &c[*s];
        assert_tiles("C", s, cl);
        assert_tiles("Rust", s, r);
        assert_eq!(cl.size, r.size, "sizeof(struct {s})");
        assert_eq!(cl.align, r.align, "_Alignof(struct {s})");
        assert_eq!(cl.fields.len(), r.fields.len(), "struct {s}: field count");
        for ((f, coff, csize), (_, roff, rsize)) in cl.fields.iter().zip(&r.fields) {
            assert_eq!(
                coff, roff,
                "offsetof(struct {s}, {f}): C {coff}, Rust {roff}"
            );
            assert_eq!(csize, rsize, "sizeof {s}.{f}: C {csize}, Rust {rsize}");
        }
    }
}

#[test]
fn family_numbers_match_the_kernel_socket_h() {
    // include/linux/socket.h, as changed by the first patch of the series.
    let patch = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../kernel-rust/edits/0001-net-add-AF_VJCHAN-address-family.diff"),
    )
    .unwrap();
    let find = |name: &str| -> i64 {
        patch
            .lines()
            .filter_map(|l| l.strip_prefix("+#define "))
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                (it.next()? == name).then(|| it.next()?.parse().ok())?
            })
            .next()
            .unwrap_or_else(|| panic!("{name} not in the AF_VJCHAN patch"))
    };
    assert_eq!(find("AF_VJCHAN"), uapi::AF_VJCHAN.into());
    assert_eq!(find("SOL_VJCHAN"), i64::from(uapi::SOL_VJCHAN));
}
