#!/usr/bin/env bash
# Stage "tests": build the kselftests and in-guest programs against the
# series' exported uapi headers, boot the kernel, run them in the guest and
# report KTAP and a final 'N passed, N failed' line.  The KUnit suites of
# vjchan run during the guest's boot and are counted too.
. "$(dirname "$0")/lib.sh"
stage "tests($VARIANT)"

O=$BUILD_ROOT/$VARIANT
KSFT=$O/kselftest
"$CI_DIR/kselftests.sh"

LOGF=$VJCHAN_CACHE/logs/tests-$VARIANT-$(date +%Y%m%d-%H%M%S).log
mkdir -p "$(dirname "$LOGF")"
guest="sh $CI_DIR/guest/run-tests.sh $KSFT"
# VJCHAN_PLANT_WARN=1 provokes a kernel WARN after the tests (through
# LKDTM): the run must then fail although every test passed.
if [ "${VJCHAN_PLANT_WARN:-0}" = 1 ]; then
	log "planting a WARN after the tests (VJCHAN_PLANT_WARN=1)"
	guest="$guest; rc=\$?; sh $CI_DIR/guest/plant-warn.sh; (exit \$rc)"
fi
rc=0
VJCHAN_LOG=$LOGF VJCHAN_APPEND="kunit.filter_glob=vjchan* ${VJCHAN_APPEND:-}" \
	"$CI_DIR/boot.sh" "$guest" >/dev/null || rc=$?
extra=()
[ $rc -eq 0 ] || extra=(--console-failed)
python3 "$CI_DIR/ktap-summary.py" "${extra[@]}" "$LOGF" || rc=1
exit $rc
