#!/usr/bin/env bash
# Checks that every patch of the series builds on its own: checks out the
# tree after patch 1, 2, ... N (the commits ci/tree.sh made) and builds each
# with the default config, in a build directory of its own, failing on any
# error or compiler warning.  The tree is put back at the end.  Slow (a
# build per patch, the first one cold); not part of CI.
. "$(dirname "$0")/lib.sh"
stage check-series-builds

"$CI_DIR/tree.sh"
[ -f "$BUILD_ROOT/default/.config" ] || "$CI_DIR/config.sh"
cd "$TREE"
head=$(git rev-parse HEAD)
trap 'git -C "$TREE" checkout -q -f --detach "$head"; log "stage $STAGE_NAME: done in $(( $(date +%s) - STAGE_T0 ))s"' EXIT
mapfile -t commits < <(git rev-list --reverse vjchan-base..HEAD)
VARIANT=series-builds
O=$BUILD_ROOT/$VARIANT
mkdir -p "$O"
for c in "${commits[@]}"; do
	subject=$(git log -1 --format=%s "$c")
	git checkout -q -f --detach "$c"
	cp "$BUILD_ROOT/default/.config" "$O/.config"
	log "building after: $subject"
	if ! kmake -j"$(nproc)" olddefconfig bzImage >"$O/build.log" 2>&1; then
		tail -n 40 "$O/build.log" >&2
		die "the tree does not build after '$subject'"
	fi
	if grep -E '(warning|error)(\[[^]]*\])?:' "$O/build.log" | grep -v '^scripts/' >&2; then
		die "warnings building after '$subject'"
	fi
done
log "all ${#commits[@]} patches build on their own"
