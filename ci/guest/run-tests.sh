#!/bin/sh
# Runs inside the guest (ci/tests.sh boots it): prints the kernel release,
# the KUnit results of the boot, runs the installed kselftests, and, on a
# kernel with kmemleak, scans for leaks (a report fails the run through the
# console check).
# $1: the kselftest install directory.
set -u
echo "VJCHAN-GUEST-UNAME=$(uname -r)"
echo "VJCHAN-GUEST-VERSION=$(cat /proc/version)"
echo "=== kunit (from the boot log) ==="
dmesg | sed -n 's/^\[[ 0-9.]*\] //p' | sed -n '/KTAP version/,$p' | grep -E '^ *(KTAP|#|ok|not ok|1\.\.)' | grep -v '^ *# .*[Ss]ubtest' || true
echo "=== kselftest ==="
cd "$1" || exit 1
./run_kselftest.sh 2>&1
rc=$?
mount -t debugfs none /sys/kernel/debug 2>/dev/null
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo "=== kmemleak ==="
	# Objects freed since the last scan need a second one to drop out.
	echo scan > /sys/kernel/debug/kmemleak
	sleep 1
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
	echo "kmemleak scan done"
fi
exit $rc
