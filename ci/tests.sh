#!/usr/bin/env bash
# Stage "tests": build the kselftests and in-guest programs against the
# series' exported uapi headers, boot the kernel, run them in the guest and
# report KTAP and a final 'N passed, N failed' line.  The KUnit suites of
# vjchan run during the guest's boot and are counted too.
. "$(dirname "$0")/lib.sh"
stage "tests($VARIANT)"

O=$BUILD_ROOT/$VARIANT
KSFT=$O/kselftest
[ -d "$O/usr-headers/include/linux" ] || die "no exported headers in $O: run ci/build.sh first"
rm -rf "$KSFT" "$O/kselftest-build"
make -s -C "$TREE/tools/testing/selftests" TARGETS="net/vjchan" \
	O="$O/kselftest-build" KHDR_INCLUDES="-isystem $O/usr-headers/include" \
	INSTALL_PATH="$KSFT" install >/dev/null
[ -x "$KSFT/net/vjchan/vjchan_socket_test" ] || die "kselftests did not build"

LOGF=$VJCHAN_CACHE/logs/tests-$VARIANT-$(date +%Y%m%d-%H%M%S).log
mkdir -p "$(dirname "$LOGF")"
rc=0
VJCHAN_LOG=$LOGF VJCHAN_APPEND="kunit.filter_glob=vjchan* ${VJCHAN_APPEND:-}" \
	"$CI_DIR/boot.sh" "sh $CI_DIR/guest/run-tests.sh $KSFT" >/dev/null || rc=$?
python3 "$CI_DIR/ktap-summary.py" "$LOGF" || rc=1
exit $rc
