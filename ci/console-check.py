#!/usr/bin/env python3
"""Check a guest console log: fail on any oops, WARN, BUG, KASAN/UBSAN
report, Rust panic, lockdep splat, kmemleak report, taint, or a guest
command that failed or never finished.

    console-check.py LOG      exit 0 if clean, 1 with the findings printed
"""
import re
import sys

# Kernel messages that mean the run is not clean, whatever the tests said.
BAD = [
    (r"\bBUG:", "BUG"),
    (r"------------\[ cut here \]------------", "WARN/BUG (cut here)"),
    (r"\bWARNING: .* at ", "WARN"),
    (r"\bWARNING: CPU: \d+ PID: \d+", "WARN"),
    (r"\bOops\b|\boops:", "oops"),
    (r"general protection fault", "general protection fault"),
    (r"Kernel panic", "panic"),
    (r"\bKASAN\b", "KASAN report"),
    (r"\bUBSAN\b", "UBSAN report"),
    (r"\bKCSAN\b", "KCSAN report"),
    (r"rust_panic|panicked at ", "Rust panic"),
    (r"possible (recursive|circular) locking|inconsistent lock state|"
     r"lock held when returning|suspicious RCU usage|"
     r"INFO: lockdep is turned off|bad unlock balance", "lockdep"),
    (r"kmemleak: \d+ new suspected memory leaks|unreferenced object 0x",
     "kmemleak"),
    (r"\] RIP: |\] Call Trace:", "stack trace"),
    (r"ref_tracker: .*(leaked|already released)", "ref_tracker"),
    (r"soft lockup|hard LOCKUP|hung_task|blocked for more than", "lockup"),
]
BAD_RE = [(re.compile(p), what) for p, what in BAD]
# Taint bits that do not mean trouble: TAINT_TEST (18, KUnit ran).
TAINT_OK = 1 << 18


def check(text):
    findings = []
    for n, line in enumerate(text.splitlines(), 1):
        for rx, what in BAD_RE:
            if rx.search(line):
                findings.append("line %d: %s: %s" % (n, what, line.strip()[:200]))
                break
    exits = re.findall(r"^VJCHAN-GUEST-EXIT=(\d+)\s*$", text, re.M)
    taints = re.findall(r"^VJCHAN-GUEST-TAINT=(\d+)\s*$", text, re.M)
    if not exits:
        findings.append("the guest command did not finish (no exit status)")
    elif exits[-1] != "0":
        findings.append("the guest command failed with status %s" % exits[-1])
    if taints and int(taints[-1]) & ~TAINT_OK:
        findings.append("the guest kernel is tainted: %s" % taints[-1])
    return findings


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: console-check.py LOG")
    with open(sys.argv[1], errors="replace") as f:
        findings = check(f.read())
    if findings:
        print("console-check: %s is NOT clean:" % sys.argv[1])
        for f in findings[:50]:
            print("  " + f)
        sys.exit(1)
    print("console-check: console clean, guest command succeeded, kernel not tainted")


if __name__ == "__main__":
    main()
