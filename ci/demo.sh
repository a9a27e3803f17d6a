#!/usr/bin/env bash
# The demonstration: build the patched kernel, boot it, and in the guest
# open a PF_VJCHAN socket, then receive frames sent over a veth pair through
# a channel ring with the documentation's example receiver.
. "$(dirname "$0")/lib.sh"
t0=$(date +%s)
"$CI_DIR/toolchain.sh"
"$CI_DIR/tree.sh"
"$CI_DIR/config.sh"
"$CI_DIR/build.sh"
log "building the user-space tools and the documentation's example receiver"
cargo build -q --release --manifest-path "$REPO/Cargo.toml" -p vjchan-tools
"$CI_DIR/kselftests.sh"
ksft=$BUILD_ROOT/$VARIANT/kselftest/net/vjchan
# In the guest: open a socket, then run the receiver of
# Documentation/networking/vjchan.rst against frames sent over a veth pair.
"$CI_DIR/boot.sh" "$REPO/target/release/vjchan-hello; $ksft/vjchan_example.sh" |
	grep -E "^(kernel:|socket|close|frame [0-3] |rx_|PASS|FAIL|SKIP)"
log "demo done in $(( $(date +%s) - t0 ))s"
