#!/bin/sh
# Runs inside the guest (ci/tests.sh boots it): prints the kernel release,
# the KUnit results of the boot, and runs the installed kselftests.
# $1: the kselftest install directory.
set -u
echo "VJCHAN-GUEST-UNAME=$(uname -r)"
echo "VJCHAN-GUEST-VERSION=$(cat /proc/version)"
echo "=== kunit (from the boot log) ==="
dmesg | sed -n 's/^\[[ 0-9.]*\] //p' | sed -n '/KTAP version/,$p' | grep -E '^ *(KTAP|#|ok|not ok|1\.\.)' | grep -v '^ *# .*[Ss]ubtest' || true
echo "=== kselftest ==="
cd "$1" || exit 1
./run_kselftest.sh 2>&1
