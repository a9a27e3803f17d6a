#!/usr/bin/env bash
# Stage "build": incremental, ccache'd build of the tree, plus the uapi
# headers that the in-guest programs compile against.
. "$(dirname "$0")/lib.sh"
stage "build($VARIANT)"

O=$BUILD_ROOT/$VARIANT
[ -f "$O/.config" ] || die "no config in $O: run ci/config.sh first"
jobs=${VJCHAN_JOBS:-$(nproc)}
kmake -j"$jobs" -s bzImage
kmake -s headers_install INSTALL_HDR_PATH="$O/usr-headers" >/dev/null
log "kernel $(cat "$O/include/config/kernel.release") built in $O; $(ccache -s 2>/dev/null | grep -iE '^ *hits|cache hit' | head -n1 | tr -s ' ')"
