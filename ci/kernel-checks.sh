#!/usr/bin/env bash
# Kernel-side checks of the series: checkpatch.pl --strict on every patch,
# rustfmtcheck, and a CLIPPY=1 build of the Rust code (the kernel crate
# with the abstractions, and net/vjchan) in its own build directory so the
# main build is not disturbed.
. "$(dirname "$0")/lib.sh"
stage kernel-checks

cd "$TREE"
bad=0
for p in "$REPO"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	case $(basename "$p") in 0000-*) continue ;; esac
	# FILE_PATH_CHANGES asks whether MAINTAINERS needs updating for new
	# files: they are covered (rust/kernel/net/{socket,device}.rs and the
	# generic helpers by NETWORKING [GENERAL], shared.rs by MEMORY MANAGEMENT
	# - RUST, the rest by the VJCHAN entry that patch 4 starts).
	out=$(perl scripts/checkpatch.pl --strict --quiet --show-types \
		--ignore FILE_PATH_CHANGES "$p" 2>&1) || true
	if [ -n "$out" ]; then
		echo "checkpatch: $(basename "$p"):" >&2
		echo "$out" >&2
		bad=1
	fi
done
[ $bad -eq 0 ] || die "checkpatch --strict is not clean"
log "checkpatch --strict: clean"

kmake -s rustfmtcheck
log "rustfmtcheck: clean"

VARIANT=clippy
C=$BUILD_ROOT/clippy
mkdir -p "$C"
cp "$BUILD_ROOT/default/.config" "$C/.config.new"
cmp -s "$C/.config.new" "$C/.config" 2>/dev/null || mv "$C/.config.new" "$C/.config"
rm -f "$C/.config.new"
kmake -s olddefconfig
{
	kmake -s -j"${VJCHAN_JOBS:-$(nproc)}" CLIPPY=1 prepare
	kmake -s -j"${VJCHAN_JOBS:-$(nproc)}" CLIPPY=1 rust/ net/vjchan/
} 2>&1 | tee "$C/clippy.log"
if grep -qE '^(warning|error)' "$C/clippy.log"; then
	die "clippy is not clean"
fi
log "CLIPPY=1: clean"
