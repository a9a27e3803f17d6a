#!/usr/bin/env bash
# Stage "tests": build the kselftests and in-guest programs against the
# series' exported uapi headers, boot the kernel, run them in the guest and
# report KTAP and a final 'N passed, N failed' line.  The KUnit suites of
# vjchan run during the guest's boot and are counted too.
#
# The default kernel runs every kselftest; the debug kernel those of
# ci/guest/debug.list (ci/test-lists.py; VJCHAN_DEBUG_ALL=1: every one).
# The fuzzer and each fail-nth sweep run within a time budget:
# VJCHAN_FUZZ_SECONDS and VJCHAN_FAULT_SWEEP_SECONDS, defaults below.  The
# guest's wall time is printed against its timeout (VJCHAN_BOOT_TIMEOUT),
# with a warning above half of it.
. "$(dirname "$0")/lib.sh"
stage "tests($VARIANT)"

O=$BUILD_ROOT/$VARIANT
KSFT=$O/kselftest
"$CI_DIR/kselftests.sh"
# What this guest runs: the built programs must list the cases their
# sources name (what ci/test-lists.py reads), then the plan.
python3 "$CI_DIR/test-lists.py" listing "$KSFT" >&2
plan_args=("$VARIANT")
[ "${VJCHAN_DEBUG_ALL:-0}" != 1 ] || plan_args+=(--all)
python3 "$CI_DIR/test-lists.py" plan "${plan_args[@]}" >"$KSFT/vjchan-plan"
log "the $VARIANT kernel runs: $(awk '{ printf "%s%s", sep, $1; sep = ", " }' "$KSFT/vjchan-plan")"
fuzz_s=${VJCHAN_FUZZ_SECONDS:-30}
sweep_s=${VJCHAN_FAULT_SWEEP_SECONDS:-30}
log "budgets: fuzzer ${fuzz_s} s, each fail-nth sweep ${sweep_s} s"

LOGF=$VJCHAN_CACHE/logs/tests-$VARIANT-$(date +%Y%m%d-%H%M%S).log
mkdir -p "$(dirname "$LOGF")"
guest="VJCHAN_FUZZ_SECONDS=$fuzz_s VJCHAN_FAULT_SWEEP_SECONDS=$sweep_s"
guest="$guest sh $CI_DIR/guest/run-tests.sh $KSFT $VARIANT $KSFT/vjchan-plan"
# VJCHAN_PLANT_WARN=1 provokes a kernel WARN after the tests (through
# LKDTM): the run must then fail although every test passed.
if [ "${VJCHAN_PLANT_WARN:-0}" = 1 ]; then
	log "planting a WARN after the tests (VJCHAN_PLANT_WARN=1)"
	guest="$guest; rc=\$?; sh $CI_DIR/guest/plant-warn.sh; (exit \$rc)"
fi
# A second virtio-net NIC whose QEMU backend is a UDP socket on the host's
# loopback; vjchan-inject, on the host, sends it the frames the in-guest
# virtio tests ask for (selftests/vjchan/vjchan_virtio_test.c).
cargo build -q --release --manifest-path "$REPO/Cargo.toml" -p vjchan-tools
p1=$(( 20000 + RANDOM % 20000 ))
p2=$(( p1 + 1 ))
"$REPO/target/release/vjchan-inject" --listen "127.0.0.1:$p2" --peer "127.0.0.1:$p1" \
	--timeout 3000 >"$LOGF.inject" 2>&1 &
inject_pid=$!
qemu_nic="-netdev dgram,id=vjnet,local.type=inet,local.host=127.0.0.1,local.port=$p1"
qemu_nic="$qemu_nic,remote.type=inet,remote.host=127.0.0.1,remote.port=$p2"
qemu_nic="$qemu_nic -device virtio-net-pci,netdev=vjnet,mac=52:54:00:76:6a:01"
# A third NIC, multi-queue (two queue pairs), whose QEMU backend is a tap
# device of this host, up, without IPv6; ci/mq-peer.py answers the guest's
# requests on it (selftests/vjchan/vjchan_lifetime_test.c, fixture
# vnet_mq).  No tap here (no /dev/net/tun, not root): no NIC, and those
# tests skip.
mq_tap=vjmq$$
mq_pid=
if ip tuntap add dev "$mq_tap" mode tap multi_queue 2>/dev/null; then
	echo 1 >"/proc/sys/net/ipv6/conf/$mq_tap/disable_ipv6" 2>/dev/null || true
	ip link set dev "$mq_tap" up
	python3 "$CI_DIR/mq-peer.py" --tap "$mq_tap" --timeout 3000 >"$LOGF.mq" 2>&1 &
	mq_pid=$!
	qemu_nic="$qemu_nic -netdev tap,id=vjmq,ifname=$mq_tap,script=no,downscript=no,queues=2,vhost=off"
	qemu_nic="$qemu_nic -device virtio-net-pci,netdev=vjmq,mq=on,vectors=6,mac=52:54:00:76:6a:02"
else
	log "no multi-queue NIC: cannot make a tap device here (its tests skip)"
fi
rc=0
t_guest=$(date +%s)
VJCHAN_LOG=$LOGF VJCHAN_APPEND="kunit.filter_glob=vjchan* ${VJCHAN_APPEND:-}" \
	VJCHAN_QEMU_OPTS="$qemu_nic" "$CI_DIR/boot.sh" "$guest" >/dev/null || rc=$?
t_guest=$(( $(date +%s) - t_guest ))
kill "$inject_pid" 2>/dev/null || true
wait "$inject_pid" 2>/dev/null || true
log "host injector: $(tail -n 1 "$LOGF.inject" 2>/dev/null)"
if [ -n "$mq_pid" ]; then
	kill "$mq_pid" 2>/dev/null || true
	wait "$mq_pid" 2>/dev/null || true
	log "multi-queue peer: $(tail -n 1 "$LOGF.mq" 2>/dev/null)"
	ip link del dev "$mq_tap" 2>/dev/null || true
fi
extra=(--guest-time "$VARIANT:$t_guest:$BOOT_TIMEOUT")
[ $rc -eq 0 ] || extra+=(--console-failed)
python3 "$CI_DIR/ktap-summary.py" "${extra[@]}" "$LOGF" || rc=1
exit $rc
