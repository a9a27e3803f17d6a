#!/bin/sh
# Runs inside the guest: provokes a kernel WARN through LKDTM, to prove
# that the console check fails a run (ci/plant-oops.sh, VJCHAN_PLANT_WARN=1).
mount -t debugfs none /sys/kernel/debug 2>/dev/null
echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT
