#!/usr/bin/env bash
# The demonstration: build the patched kernel, boot it, open a PF_VJCHAN
# socket in the guest and print the guest's kernel version and the result.
. "$(dirname "$0")/lib.sh"
t0=$(date +%s)
"$CI_DIR/toolchain.sh"
"$CI_DIR/tree.sh"
"$CI_DIR/config.sh"
"$CI_DIR/build.sh"
log "building the user-space tools"
cargo build -q --release --manifest-path "$REPO/Cargo.toml" -p vjchan-tools
"$CI_DIR/boot.sh" "$REPO/target/release/vjchan-hello" | grep -E "^(kernel:|socket|close)"
log "demo done in $(( $(date +%s) - t0 ))s"
