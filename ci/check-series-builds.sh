#!/usr/bin/env bash
# Checks that every patch of the series builds on its own: applies the
# first 1, 2, ... N patches to the base in a scratch tree and builds each
# (incrementally, in one build directory, with the default config).
# Slow (a build per patch); not part of CI.
. "$(dirname "$0")/lib.sh"
stage check-series-builds

WT=$VJCHAN_CACHE/series-builds
mapfile -t series < <(find "$REPO/patches" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort)
if [ ! -e "$WT/.git" ]; then
	rm -rf "$WT"
	git -C "$BASE_GIT" worktree prune
	git -C "$BASE_GIT" worktree add -q --detach "$WT" vjchan-base
fi
cd "$WT"
git am --abort >/dev/null 2>&1 || true
git checkout -q -f --detach vjchan-base
git clean -q -fdx
O=$BUILD_ROOT/series-builds
mkdir -p "$O"
[ -f "$BUILD_ROOT/default/.config" ] || die "run ci/config.sh first"
for p in "${series[@]}"; do
	git -c user.name=vjchan -c user.email=vjchan@invalid am -q "$p" || die "$(basename "$p") does not apply"
	cp "$BUILD_ROOT/default/.config" "$O/.config"
	log "building with $(basename "$p")"
	if ! TREE=$WT VARIANT=series-builds kmake -s -j"$(nproc)" olddefconfig bzImage >"$O/build.log" 2>&1; then
		tail -n 40 "$O/build.log" >&2
		die "the tree does not build after $(basename "$p")"
	fi
	if grep -qE '(^|: )(warning|error)[:\[]' "$O/build.log"; then
		grep -E '(^|: )(warning|error)[:\[]' "$O/build.log" >&2
		die "warnings building after $(basename "$p")"
	fi
done
log "all ${#series[@]} patches build on their own"
