#!/usr/bin/env bash
# Stage "compiled-away": the drivers that fill channels (veth, virtio_net)
# build warning-free (W=1) in a kernel without CONFIG_VJCHAN (and without
# Rust), and nothing of the channel interface is left in their objects.
. "$(dirname "$0")/lib.sh"
stage compiled-away

VARIANT=novj
O=$BUILD_ROOT/$VARIANT
mkdir -p "$O"
kmake -s tinyconfig
"$TREE/scripts/config" --file "$O/.config" -e 64BIT -e NET -e INET -e NETDEVICES \
	-e NET_CORE -e VETH -e PCI -e VIRTIO_MENU -e VIRTIO -e VIRTIO_PCI -e VIRTIO_NET \
	-d RUST -d VJCHAN
kmake -s olddefconfig
for opt in VETH VIRTIO_NET; do
	grep -q "^CONFIG_$opt=y" "$O/.config" || die "CONFIG_$opt is not set in $O/.config"
done
! grep -q '^CONFIG_VJCHAN=y' "$O/.config" || die "CONFIG_VJCHAN is set in $O/.config"
kmake -s -j"${VJCHAN_JOBS:-$(nproc)}" prepare
objs=(drivers/net/veth.o drivers/net/virtio_net.o)
out=$(kmake -j"${VJCHAN_JOBS:-$(nproc)}" W=1 "${objs[@]}" 2>&1)
if grep -qE 'warning:|error:' <<<"$out"; then
	echo "$out" >&2
	die "the drivers do not build cleanly without CONFIG_VJCHAN"
fi
for o in "${objs[@]}"; do
	if nm "$O/$o" | grep -qi 'vj_'; then
		nm "$O/$o" | grep -i 'vj_' >&2
		die "$o keeps channel symbols without CONFIG_VJCHAN"
	fi
done
log "veth and virtio_net build without CONFIG_VJCHAN, nothing of it left"
