#!/usr/bin/env bash
# Checks that every patch of the series builds on its own: the tree after
# patch 1, 2, ... N (the commits ci/tree.sh made) is built with the default
# config (bzImage, -j, ccache), failing on any error or compiler warning.
# CONFIG_VJCHAN is defined by the patch that first uses it, so from then on
# the option is on and each patch's code is compiled.
#
# Affordable on the 2-core CI machine:
#  - ci/test-all.sh runs it with --if-changed after the default build: it
#    does nothing unless the series (or what a build depends on: the
#    config fragments, the pinned base, rustc, this script) changed since it
#    last passed.  The stamp of that last pass, a sha256, is kept in
#    $VJCHAN_CACHE/series-builds.stamp.
#  - each build is incremental, in a build directory of its own
#    ($BUILD_ROOT/series-builds) from the sources of the build tree, so that
#    ccache shares what the default build compiled and only what a patch
#    changes is compiled again; after the last patch the sources get back
#    their timestamps, so the default and debug builds do not rebuild.
#  - a patch that touches only Documentation/, tools/testing/ or
#    MAINTAINERS cannot change what the previous patch built: not built.
# Every other patch gets a full bzImage build: a partial target would miss
# link errors and uses in other subsystems of what a patch changes.
#
# VJCHAN_SERIES_BUILDS=1: build even when the stamp matches; =0: skip.
# VJCHAN_SERIES_BUILDS_DRY=1: print the stamp, the decision and what would be
# built (from patches/, no tree, no build, no stamp written).
. "$(dirname "$0")/lib.sh"

if_changed=0
case "${1:-}" in
--if-changed) if_changed=1 ;;
"") ;;
*) die "usage: check-series-builds.sh [--if-changed]" ;;
esac
dry=${VJCHAN_SERIES_BUILDS_DRY:-0}
STAMP=$VJCHAN_CACHE/series-builds.stamp

mapfile -t series < <(find "$REPO/patches" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort)
[ ${#series[@]} -gt 0 ] || die "patches/ holds no patches"

# What a pass vouches for: the patches (names and contents; not the cover
# letter), the default config's fragments, the pinned base and toolchain,
# the host's rustc (not pinned) and this script.
series_key() {
	{
		local f
		for f in "${series[@]}"; do
			printf '%s\n' "$(basename "$f")"
			cat "$f"
		done
		cat "$CI_DIR/config/base.config" "$CI_DIR/config/vjchan.config" "$CI_DIR/pin.env" "$0"
		rustc --version 2>/dev/null || echo "no rustc"
	} | sha256sum | cut -d' ' -f1
}

# Whether patch file $1 touches only files no kernel build reads.
nothing_to_build() {
	local path
	while read -r path; do
		case "$path" in
		Documentation/* | tools/testing/* | MAINTAINERS) ;;
		*) return 1 ;;
		esac
	done < <(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "$1")
	return 0
}

key=$(series_key)
if [ "${VJCHAN_SERIES_BUILDS:-}" = 0 ]; then
	echo "series builds: disabled (VJCHAN_SERIES_BUILDS=0), skipped"
	exit 0
fi
if [ $if_changed = 1 ] && [ "${VJCHAN_SERIES_BUILDS:-}" != 1 ] &&
	[ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$key" ]; then
	echo "series builds: unchanged since ${key:0:12} (passed $(date -u -r "$STAMP" '+%Y-%m-%d %H:%M UTC')), skipped"
	exit 0
fi
if [ "$dry" = 1 ]; then
	echo "series builds: would build ${#series[@]} patches (stamp $key)"
	for p in "${series[@]}"; do
		if nothing_to_build "$p"; then
			echo "skip $(basename "$p"): touches only Documentation/, tools/testing/, MAINTAINERS"
		else
			echo "build $(basename "$p")"
		fi
	done
	exit 0
fi

stage check-series-builds
"$CI_DIR/tree.sh"
[ -f "$BUILD_ROOT/default/.config" ] || "$CI_DIR/config.sh"
cd "$TREE"
head=$(git rev-parse HEAD)
mapfile -t commits < <(git rev-list --reverse vjchan-base..HEAD)
[ ${#commits[@]} -eq ${#series[@]} ] || die "the tree has ${#commits[@]} commits, patches/ ${#series[@]}"

# The timestamps of the files the series touches, put back once the tree is
# at HEAD again: their contents are then what they were, and the other build
# directories must not see them as changed.
times=$(mktemp)
git diff --name-only vjchan-base HEAD | while read -r f; do
	if [ -e "$f" ]; then
		printf '%s\t%s\n' "$(stat -c %y -- "$f")" "$f"
	fi
done >"$times"
restore() {
	git -C "$TREE" checkout -q -f --detach "$head"
	while IFS=$'\t' read -r t f; do
		touch -m -d "$t" -- "$TREE/$f"
	done <"$times"
	rm -f "$times"
}
trap 'rc=$?; restore; log "stage $STAGE_NAME: $([ $rc -eq 0 ] && echo ok || echo FAILED rc=$rc) in $(( $(date +%s) - STAGE_T0 ))s"; exit $rc' EXIT

VARIANT=series-builds
O=$BUILD_ROOT/$VARIANT
mkdir -p "$O"
built=0
for i in "${!commits[@]}"; do
	c=${commits[$i]}
	subject=$(git log -1 --format=%s "$c")
	if nothing_to_build "${series[$i]}"; then
		log "not building after '$subject': it touches only Documentation/, tools/testing/, MAINTAINERS"
		continue
	fi
	# A deadline (VJCHAN_SERIES_DEADLINE, seconds since the epoch; set by
	# test-all.sh to stay inside CI's limit): stop before a build that may
	# not end in time.  The first build takes longest (a build directory of
	# its own).  Exit 3: not verified, no stamp, so the next run tries again.
	if [ -n "${VJCHAN_SERIES_DEADLINE:-}" ]; then
		need=$([ $built -eq 0 ] && echo 1200 || echo 420)
		if [ $(($(date +%s) + need)) -gt "$VJCHAN_SERIES_DEADLINE" ]; then
			log "stopped before '$subject' ($built built): the time budget is spent; not verified, no stamp"
			exit 3
		fi
	fi
	git checkout -q -f --detach "$c"
	cp "$BUILD_ROOT/default/.config" "$O/.config"
	log "building after $((i + 1))/${#commits[@]}: $subject"
	t0=$(date +%s)
	if ! kmake -j"${VJCHAN_JOBS:-$(nproc)}" olddefconfig bzImage >"$O/build.log" 2>&1; then
		tail -n 40 "$O/build.log" >&2
		die "the tree does not build after '$subject'"
	fi
	if grep -E '(warning|error)(\[[^]]*\])?:' "$O/build.log" | grep -v '^scripts/' >&2; then
		die "warnings building after '$subject'"
	fi
	opt="without CONFIG_VJCHAN"
	! grep -q '^CONFIG_VJCHAN=y' "$O/.config" || opt="with CONFIG_VJCHAN=y"
	log "built after '$subject' in $(( $(date +%s) - t0 ))s, $opt"
	built=$((built + 1))
done
echo "$key" >"$STAMP"
log "all ${#commits[@]} patches build on their own ($built built); stamp ${key:0:12}"
