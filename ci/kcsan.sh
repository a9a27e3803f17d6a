#!/usr/bin/env bash
# The KCSAN run (not part of ci/test-all.sh: a third kernel build): builds the
# kernel with the data race detector and runs the guest tests on it; any
# KCSAN report fails the console check like any other kernel report.
# Usage: ci/kcsan.sh   (after ci/toolchain.sh and ci/tree.sh)
. "$(dirname "$0")/lib.sh"
export VJCHAN_VARIANT=kcsan
"$CI_DIR/config.sh"
"$CI_DIR/build.sh"
"$CI_DIR/tests.sh"
