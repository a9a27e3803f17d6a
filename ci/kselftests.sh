#!/usr/bin/env bash
# Builds and installs the vjchan kselftests of the tree against the built
# kernel's exported headers, into $BUILD_ROOT/$VARIANT/kselftest.
. "$(dirname "$0")/lib.sh"

O=$BUILD_ROOT/$VARIANT
KSFT=$O/kselftest
[ -d "$O/usr-headers/include/linux" ] || die "no exported headers in $O: run ci/build.sh first"
rm -rf "$KSFT" "$O/kselftest-build"
make -s -C "$TREE/tools/testing/selftests" TARGETS="net/vjchan" \
	O="$O/kselftest-build" KHDR_INCLUDES="-isystem $O/usr-headers/include" \
	INSTALL_PATH="$KSFT" install >/dev/null
[ -x "$KSFT/net/vjchan/vjchan_socket_test" ] || die "kselftests did not build"
