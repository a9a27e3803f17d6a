#!/usr/bin/env bash
# Every test: the host tier first, then the kernel build and the guest tier.
# Prints each stage's wall time and ends with 'N passed, N failed'.
. "$(dirname "$0")/lib.sh"
t0=$(date +%s)
timings=()
run() {
	local name=$1 s rc=0
	shift
	s=$(date +%s)
	"$@" || rc=$?
	timings+=("$(printf '%-22s %5ss %s' "$name" $(( $(date +%s) - s )) "$([ $rc -eq 0 ] && echo ok || echo FAILED)")")
	if [ $rc -ne 0 ]; then
		printf '%s\n' "${timings[@]}" >&2
		die "$name failed"
	fi
}
run toolchain "$CI_DIR/toolchain.sh"
run host-checks "$CI_DIR/host-checks.sh"
run tree "$CI_DIR/tree.sh"
run config "$CI_DIR/config.sh"
run build "$CI_DIR/build.sh"
run kernel-rust-checks "$CI_DIR/kernel-checks.sh"
run plant-oops "$CI_DIR/plant-oops.sh"
summary=$(mktemp)
rc=0
s=$(date +%s)
"$CI_DIR/tests.sh" | tee "$summary" || rc=$?
timings+=("$(printf '%-22s %5ss %s' guest-tests $(( $(date +%s) - s )) "$([ $rc -eq 0 ] && echo ok || echo FAILED)")")
echo "== stage timings =="
printf '%s\n' "${timings[@]}"
echo "total $(( $(date +%s) - t0 ))s"
# The guest's result line comes last.
grep -E '^[0-9]+ passed, [0-9]+ failed' "$summary" | tail -n1 || echo "0 passed, 1 failed"
rm -f "$summary"
exit $rc
