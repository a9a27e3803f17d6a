#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs vjchan_example, the minimal receiver of
# Documentation/networking/vjchan.rst, in a network namespace of its own:
# frames of EtherType 0x88b5 sent over a veth pair must reach it through the
# channel ring, and the channel must count them as published, none copied.

ksft_skip=4
COUNT=20
dir=$(cd "$(dirname "$0")" && pwd)

if [ "$1" != inner ]; then
	for tool in ip unshare; do
		if ! command -v $tool >/dev/null; then
			echo "SKIP: $tool not found"
			exit $ksft_skip
		fi
	done
	exec unshare -n "$0" inner
fi

set -u
out=$(mktemp)
trap 'rm -f "$out"; kill %1 2>/dev/null' EXIT

# No IPv6 autoconfiguration traffic: only our frames cross the pair.
for f in /proc/sys/net/ipv6/conf/{all,default}/disable_ipv6; do
	[ -w "$f" ] && echo 1 >"$f"
done
ip link add vja numtxqueues 1 numrxqueues 1 type veth \
	peer name vjb numtxqueues 1 numrxqueues 1 || exit $ksft_skip
ip link set vja up && ip link set vjb up || exit 1
mac=$(ip -o link show dev vjb | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p')
[ -n "$mac" ] || { echo "FAIL: no MAC address for vjb"; exit 1; }

"$dir/vjchan_example" vjb 0 88b5 $COUNT >"$out" 2>&1 &
pid=$!
# The receiver binds asynchronously: send batches until it has COUNT frames.
for _ in $(seq 50); do
	kill -0 $pid 2>/dev/null || break
	"$dir/vjchan_send" vja "$mac" 88b5 $COUNT || exit 1
	sleep 0.2
done
wait $pid
rc=$?
cat "$out"
if grep -q "Address family not supported" "$out"; then
	echo "SKIP: no PF_VJCHAN"
	exit $ksft_skip
fi
[ $rc -eq 0 ] || { echo "FAIL: vjchan_example exited $rc"; exit 1; }
frames=$(grep -c '^frame ' "$out")
[ "$frames" -eq $COUNT ] || { echo "FAIL: $frames frames, want $COUNT"; exit 1; }
# The first frame is one of ours (its EtherType).
if ! grep -Eq '^frame 0 len [0-9]+( [0-9a-f]{2}){12} 88 b5' "$out"; then
	echo "FAIL: unexpected first frame"
	exit 1
fi
if ! grep -Eq '^ *rx_packets +([2-9][0-9]|[1-9][0-9]{2,})$' "$out"; then
	echo "FAIL: rx_packets"
	exit 1
fi
grep -Eq '^ *rx_copies +0$' "$out" || { echo "FAIL: frames were copied"; exit 1; }
echo "PASS: $COUNT frames received through the ring, none copied"
