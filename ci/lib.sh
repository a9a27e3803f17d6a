# shellcheck shell=bash
# Common settings for the ci/ stages.  Sourced, never run.
set -euo pipefail

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$CI_DIR/.." && pwd)
# shellcheck source=ci/pin.env
. "$CI_DIR/pin.env"

# Everything downloaded or built lives here, outside the repository.
HOME=${HOME:-/root}
export HOME
VJCHAN_CACHE=${VJCHAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vjchan}
mkdir -p "$VJCHAN_CACHE"

APT_DIR=$VJCHAN_CACHE/apt
SRC_DIR=$VJCHAN_CACHE/src
BASE_GIT=$SRC_DIR/base            # git repository holding the pristine base
TREE=$VJCHAN_CACHE/tree           # base + series, the tree we build
AM_TREE=$VJCHAN_CACHE/am          # scratch work tree for git am
BUILD_ROOT=$VJCHAN_CACHE/build    # O= directories, one per variant
VENV=$VJCHAN_CACHE/venv
CARGO_ROOT=$VJCHAN_CACHE/cargo
RUST_SRC_ROOT=$VJCHAN_CACHE/rust-src
export CCACHE_DIR=${CCACHE_DIR:-$VJCHAN_CACHE/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
# ccache keys on file content; the tree path differs between clones.
export CCACHE_BASEDIR=$VJCHAN_CACHE
export CCACHE_NOHASHDIR=1

export PATH=$CARGO_ROOT/bin:$VENV/bin:$HOME/.cargo/bin:$PATH
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib

VARIANT=${VJCHAN_VARIANT:-default}
# How long a guest may run (ci/boot.sh); ci/tests.sh prints each guest's
# time against it and warns above half.
BOOT_TIMEOUT=${VJCHAN_BOOT_TIMEOUT:-900}

log() { printf '[vjchan %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[vjchan] error: %s\n' "$*" >&2; exit 1; }

# stage NAME: print the stage's wall time when the script exits.
stage() {
	STAGE_NAME=$1
	STAGE_T0=$(date +%s)
	log "stage $STAGE_NAME: start"
	trap 'rc=$?; log "stage $STAGE_NAME: $([ $rc -eq 0 ] && echo ok || echo FAILED rc=$rc) in $(( $(date +%s) - STAGE_T0 ))s"; exit $rc' EXIT
}

# The rust-src matching the host's rustc, as RUST_LIB_SRC.
rust_lib_src() {
	local v
	v=$(rustc --version | awk '{print $2}')
	echo "$RUST_SRC_ROOT/$v/usr/lib/rustlib/src/rust/library"
}

# make(1) in the tree, for one config variant, with one LLVM toolchain.
kmake() {
	local variant=$VARIANT
	make -C "$TREE" O="$BUILD_ROOT/$variant" ARCH=x86_64 LLVM="$LLVM_SUFFIX" \
		CC="ccache clang$LLVM_SUFFIX" \
		RUST_LIB_SRC="$(rust_lib_src)" "$@"
}
