#!/usr/bin/env bash
# Proves that the guest console check catches a kernel warning: boots the
# kernel, provokes a WARN through LKDTM, and succeeds only if ci/boot.sh
# fails and names the WARN.
. "$(dirname "$0")/lib.sh"
stage "plant-oops($VARIANT)"

out=$(mktemp)
trap 'rm -f "$out"' RETURN
cmd="sh $CI_DIR/guest/plant-warn.sh; true"
if VJCHAN_BOOT_TIMEOUT=${VJCHAN_BOOT_TIMEOUT:-600} "$CI_DIR/boot.sh" "$cmd" >/dev/null 2>"$out"; then
	cat "$out" >&2
	die "a planted WARN went unnoticed: the console check is broken"
fi
if ! grep -q 'WARN' "$out"; then
	cat "$out" >&2
	die "the planted run failed, but not because of the WARN"
fi
grep -m3 -E 'WARN|NOT clean' "$out" >&2 || true
log "planted WARN detected: the console check works"
