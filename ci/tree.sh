#!/usr/bin/env bash
# Stage "tree": the pinned base + `git am patches/*.patch`, one commit per
# patch, in $VJCHAN_CACHE/tree.  The series is applied in a scratch work
# tree first; the build tree is then moved to the result with a checkout,
# which rewrites only the files that differ, so an unchanged series
# rebuilds nothing.
. "$(dirname "$0")/lib.sh"
stage tree

[ -d "$BASE_GIT/.git" ] || die "no base in $BASE_GIT: run ci/toolchain.sh first"
mapfile -t series < <(find "$REPO/patches" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort)
[ ${#series[@]} -gt 0 ] || die "patches/ holds no patches"

for wt in "$AM_TREE" "$TREE"; do
	# (Re)create a work tree that is missing or belongs to an older base.
	if ! git -C "$wt" rev-parse --verify -q vjchan-base >/dev/null 2>&1 ||
	   [ "$(git -C "$wt" rev-parse --git-common-dir 2>/dev/null)" != "$BASE_GIT/.git" ]; then
		rm -rf "$wt"
		git -C "$BASE_GIT" worktree prune
		git -C "$BASE_GIT" worktree add -q --detach "$wt" vjchan-base
	fi
done

cd "$AM_TREE"
git am --abort >/dev/null 2>&1 || true
git checkout -q -f --detach vjchan-base
git clean -q -fdx
for p in "${series[@]}"; do
	if ! git -c user.name=vjchan -c user.email=vjchan@invalid am -q --keep-cr "$p" >/tmp/vjchan-am.$$ 2>&1; then
		cat /tmp/vjchan-am.$$ >&2
		git am --abort >/dev/null 2>&1 || true
		rm -f /tmp/vjchan-am.$$
		die "patch $(basename "$p") does not apply to $(git log -1 --format=%s vjchan-base)"
	fi
done
rm -f /tmp/vjchan-am.$$
head=$(git rev-parse HEAD)

cd "$TREE"
if [ "$(git rev-parse HEAD^{tree})" != "$(git rev-parse "$head^{tree}")" ] || [ -n "$(git status --porcelain)" ]; then
	git checkout -q -f --detach "$head"
	git clean -q -fdx
fi
log "tree $TREE: ${#series[@]} patches on $(git log -1 --format=%s vjchan-base)"
git log --oneline vjchan-base..HEAD >&2
