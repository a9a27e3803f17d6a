#!/bin/sh
# Runs inside the guest (ci/tests.sh boots it): prints the kernel release,
# the KUnit results of the boot, runs the kselftests of the plan, and, on a
# kernel with kmemleak, scans for leaks (a report fails the run through the
# console check).
# $1: the kselftest install directory; $2: the variant; $3: the plan, from
# ci/test-lists.py: "PROGRAM TIMEOUT [ARGS...]" a line, ARGS for the
# program (the cases of a kselftest_harness.h program: -r FIXTURE.TEST).
# The programs run through kselftest's own runner (kselftest/runner.sh, as
# run_kselftest.sh does), one KTAP stream, each with its own timeout; the
# time each took is printed after it.  VJCHAN_FUZZ_SECONDS and
# VJCHAN_FAULT_SWEEP_SECONDS, the budgets of the fuzzer and of each fail-nth
# sweep, reach the programs through the environment.
set -u
ksft=$1 variant=$2 plan=$3
echo "VJCHAN-GUEST-UNAME=$(uname -r)"
echo "VJCHAN-GUEST-VERSION=$(cat /proc/version)"
echo "=== kunit (from the boot log) ==="
dmesg | sed -n 's/^\[[ 0-9.]*\] //p' | sed -n '/KTAP version/,$p' | grep -E '^ *(KTAP|#|ok|not ok|1\.\.)' | grep -v '^ *# .*[Ss]ubtest' || true
echo "=== kselftest ==="
BASE_DIR=$(cd "$ksft" && pwd -P) || exit 1
cd "$BASE_DIR" || exit 1
# kselftest's scripts are not written for set -u.
set +u
. ./kselftest/runner.sh
export VJCHAN_FUZZ_SECONDS="${VJCHAN_FUZZ_SECONDS:-}"
export VJCHAN_FAULT_SWEEP_SECONDS="${VJCHAN_FAULT_SWEEP_SECONDS:-}"
ktap_print_header
ktap_set_plan "$(grep -c . "$plan")"
ktap_print_msg "$variant kernel: $(grep -c . "$plan") of $(grep -c . kselftest-list.txt)" \
	"programs (ci/guest/*.list); budgets: fuzzer ${VJCHAN_FUZZ_SECONDS:-default}" \
	"s, each fail-nth sweep ${VJCHAN_FAULT_SWEEP_SECONDS:-unbounded} s"
[ -w /dev/kmsg ] && echo "kselftest: Running tests in net/vjchan" >>/dev/kmsg
cd net/vjchan || exit 1
t_all=$(date +%s)
while read -r prog tmo args <&9; do
	# The runner passes KSELFTEST_<PROGRAM>_ARGS to the program.
	var=KSELFTEST_$(printf %s "$prog" | tr -c '[:alnum:]_' _ | tr '[:lower:]' '[:upper:]')_ARGS
	export "$var=$args"
	kselftest_override_timeout=$tmo
	t0=$(date +%s)
	run_many "$prog" </dev/null
	ktap_print_msg "time: $prog $(($(date +%s) - t0)) s of its $tmo s timeout"
done 9<"$plan"
ktap_print_msg "time: all programs $(($(date +%s) - t_all)) s"
ktap_print_totals
rc=0
[ "$KTAP_CNT_FAIL" -eq 0 ] || rc=1
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
