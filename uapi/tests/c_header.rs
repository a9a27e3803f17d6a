//! Compiles `uapi/vjchan.h` with the C compiler and checks that every value the Rust mirror
//! defines is the one the header defines.

use std::path::PathBuf;
use std::process::Command;

fn c_values() -> Vec<(String, i64)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    // The header includes <linux/types.h>; give it the uapi layout it has in the kernel.
    let inc = out.join("include");
    std::fs::create_dir_all(inc.join("linux")).unwrap();
    std::fs::copy(root.join("vjchan.h"), inc.join("linux/vjchan.h")).unwrap();
    let prog = out.join("values.c");
    std::fs::write(
        &prog,
        r#"#include <stdio.h>
#include <linux/vjchan.h>
#define P(x) printf("%s %lld\n", #x, (long long)(x))
int main(void) {
    P(AF_VJCHAN); P(PF_VJCHAN); P(SOL_VJCHAN); P(VJCHAN_PROTO_DEFAULT);
    return 0;
}
"#,
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
    assert!(st.success(), "the C header does not compile");
    let out = Command::new(&exe).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn constants_match_the_c_header() {
    let vals = c_values();
    let rust: &[(&str, i64)] = &[
        ("AF_VJCHAN", vjchan_uapi::AF_VJCHAN.into()),
        ("PF_VJCHAN", vjchan_uapi::PF_VJCHAN.into()),
        ("SOL_VJCHAN", vjchan_uapi::SOL_VJCHAN.into()),
        (
            "VJCHAN_PROTO_DEFAULT",
            vjchan_uapi::VJCHAN_PROTO_DEFAULT.into(),
        ),
    ];
    assert_eq!(vals.len(), rust.len());
    for (name, v) in rust {
        let c = vals.iter().find(|(k, _)| k == name).expect(name).1;
        assert_eq!(c, *v, "{name}: C says {c}, Rust says {v}");
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
    assert_eq!(find("AF_VJCHAN"), vjchan_uapi::AF_VJCHAN.into());
    assert_eq!(find("SOL_VJCHAN"), i64::from(vjchan_uapi::SOL_VJCHAN));
}
