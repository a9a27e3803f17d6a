#!/usr/bin/env bash
# The fast host tier: cargo tests, formatting and lints, the ci/ scripts'
# own tests, the kselftest lists of the guests (every test in one of them),
# and the series checks (drift, rustfmt of the kernel Rust).
. "$(dirname "$0")/lib.sh"
stage host-checks

cd "$REPO"
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy -q --workspace --all-targets -- -D warnings
log "cargo test"
cargo test -q --workspace
log "ci script tests"
python3 -m unittest discover -s "$CI_DIR/tests" -q
for f in "$CI_DIR"/*.sh "$CI_DIR"/guest/*.sh "$REPO/.ci/run"; do
	bash -n "$f"
done
log "which guest runs which kselftest (ci/guest/*.list)"
python3 "$CI_DIR/test-lists.py" check --boot-timeout "$BOOT_TIMEOUT"
log "kernel Rust formatting (the tree's .rustfmt.toml)"
mapfile -t krs < <(find "$REPO/kernel-rust" -name '*.rs' -not -path '*/host/*' | sort)
rustfmt --check --edition 2021 --config-path "$BASE_GIT/.rustfmt.toml" "${krs[@]}"
log "series drift"
python3 "$CI_DIR/series.py" check
