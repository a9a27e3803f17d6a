#!/bin/sh
# Runs inside the guest (ci/tests.sh boots it): prints the kernel release,
# the KUnit results of the boot, runs the kselftests of the plan, and, on a
# kernel with kmemleak, scans for leaks (a report fails the run through the
# console check).
# $1: the kselftest install directory; $2: the variant; $3: the plan, from
# ci/test-lists.py: "PROGRAM TIMEOUT [ARGS...]" a line, ARGS for the
# program (the cases of a kselftest_harness.h program: -r FIXTURE.TEST).
# Each program runs as kselftest's runner (kselftest/runner.sh) runs it,
# with the same KTAP, but with the timeout of the plan: the runner would
# read the settings file again for each program, which costs 25 s a
# program on the debug kernel under TCG (a dozen processes a line).  The
# time each program took is printed after it.  VJCHAN_FUZZ_SECONDS and
# VJCHAN_FAULT_SWEEP_SECONDS, the budgets of the fuzzer and of each
# fail-nth sweep, reach the programs through the environment.
set -u
ksft=$1 variant=$2 plan=$3
echo "VJCHAN-GUEST-UNAME=$(uname -r)"
echo "VJCHAN-GUEST-VERSION=$(cat /proc/version)"
echo "=== kunit (from the boot log) ==="
dmesg | sed -n 's/^\[[ 0-9.]*\] //p' | sed -n '/KTAP version/,$p' | grep -E '^ *(KTAP|#|ok|not ok|1\.\.)' | grep -v '^ *# .*[Ss]ubtest' || true
echo "=== kselftest ==="
cd "$ksft/net/vjchan" || exit 1
. ../../kselftest/ktap_helpers.sh
export VJCHAN_FUZZ_SECONDS="${VJCHAN_FUZZ_SECONDS:-}"
export VJCHAN_FAULT_SWEEP_SECONDS="${VJCHAN_FAULT_SWEEP_SECONDS:-}"
stdbuf=
[ ! -x /usr/bin/stdbuf ] || stdbuf="/usr/bin/stdbuf --output=L"
nprog=$(grep -c . "$plan")
ktap_print_header
ktap_set_plan "$nprog"
ktap_print_msg "$variant kernel: $nprog of $(grep -c . ../../kselftest-list.txt) programs" \
	"(ci/guest/*.list); budgets (s): fuzzer ${VJCHAN_FUZZ_SECONDS:-30}," \
	"each fail-nth sweep ${VJCHAN_FAULT_SWEEP_SECONDS:-none}"
[ -w /dev/kmsg ] && echo "kselftest: Running tests in net/vjchan" >>/dev/kmsg
t_all=$(date +%s)
exec 4>&1
while read -r prog tmo args <&9; do
	hdr="selftests: net/vjchan: $prog"
	ktap_print_msg "timeout set to $tmo"
	echo "# $hdr"
	t0=$(date +%s)
	# As runner.sh's run_one: the program's output prefixed with '# ',
	# its exit status through fd 3.  $args: words, unquoted on purpose.
	# shellcheck disable=SC2086
	rc=$( { { /usr/bin/timeout --foreground "$tmo" /usr/bin/timeout "$tmo" \
		$stdbuf "./$prog" $args 2>&1 </dev/null 9<&-; echo $? >&3; } |
		sed -u 's/^/# /' >&4; } 3>&1 )
	case $rc in
	"$KSFT_PASS") ktap_test_pass "$hdr" ;;
	"$KSFT_SKIP") ktap_test_skip "$hdr" ;;
	"$KSFT_XFAIL") ktap_test_xfail "$hdr" ;;
	124) ktap_test_fail "$hdr # TIMEOUT $tmo seconds" ;;
	*) ktap_test_fail "$hdr # exit=$rc" ;;
	esac
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
