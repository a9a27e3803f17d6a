#!/usr/bin/env bash
# Stage "config": tinyconfig + the fragments in ci/config/ + olddefconfig,
# then check that every requested option came out as asked.
# VJCHAN_VARIANT=default|debug|kcsan (adds ci/config/debug.config or
# ci/config/kcsan.config).
. "$(dirname "$0")/lib.sh"
stage "config($VARIANT)"

frags=("$CI_DIR/config/base.config" "$CI_DIR/config/vjchan.config")
case "$VARIANT" in
default) ;;
debug | kcsan) frags+=("$CI_DIR/config/$VARIANT.config") ;;
*) die "unknown variant $VARIANT" ;;
esac

O=$BUILD_ROOT/$VARIANT
mkdir -p "$O"
kmake -s tinyconfig >/dev/null
"$TREE/scripts/kconfig/merge_config.sh" -m -O "$O" "$O/.config" "${frags[@]}" >/dev/null
kmake -s olddefconfig >/dev/null

bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		want=$line ;;
	"# CONFIG_"*" is not set")
		want=$line ;;
	*) continue ;;
	esac
	sym=$(sed -E 's/^(# )?(CONFIG_[A-Za-z0-9_]+).*/\2/' <<<"$want")
	got=$(grep -E "^($sym=|# $sym is not set)" "$O/.config" || echo "# $sym is not set")
	if [ "$got" != "$want" ]; then
		log "config: asked for '$want', got '$got'"
		bad=1
	fi
done < <(cat "${frags[@]}")
[ $bad -eq 0 ] || die "the $VARIANT config does not have what the fragments ask for"
log "config $O/.config verified ($(grep -c '=y' "$O/.config") options =y)"
