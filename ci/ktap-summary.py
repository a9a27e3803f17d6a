#!/usr/bin/env python3
"""Summarise the results of a guest test run from its console log.

Prints the guest kernel release, the KTAP of the KUnit suites (from the
boot) and of the kselftests, and a last line 'N passed, N failed, N skipped'.
Exit status 1 if anything failed, or if nothing ran.  --console-failed
(given by ci/tests.sh when ci/boot.sh failed) counts one more failure.
--guest-time NAME:SECONDS:TIMEOUT prints, above the last line, how much of
its timeout the guest used, with a warning above half (the margin CI keeps
for a suite that grows); it fails nothing by itself.
"""
import re
import sys

RESULT = re.compile(r"^(?P<ind>\s*)(?P<not>not )?ok (?P<n>\d+) (?P<name>[^#]*?)\s*(#\s*(?P<dir>\S+)(?P<rest>.*))?$")


def summarise(text):
    lines = text.splitlines()
    uname = next((l.split("=", 1)[1] for l in lines if l.startswith("VJCHAN-GUEST-UNAME=")), None)
    section, kunit, kself = None, [], []
    for l in lines:
        l = l.rstrip("\r")
        if l.startswith("=== kunit"):
            section = kunit
            continue
        if l.startswith("=== kselftest"):
            section = kself
            continue
        if l.startswith("VJCHAN-GUEST-"):
            section = None
        if section is not None:
            section.append(l)
    passed = failed = skipped = 0
    report = []

    def count(ok, directive, name):
        nonlocal passed, failed, skipped
        if directive and directive.upper() == "SKIP":
            skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
            report.append("FAILED: " + name)

    # KUnit: indented results are test cases, unindented ones suites.
    for l in kunit:
        m = RESULT.match(l)
        if m and m.group("ind"):
            count(not m.group("not"), m.group("dir"), "kunit " + m.group("name"))
    # kselftest: '# ok N test' lines are test cases of the program whose
    # 'ok N selftests: ...' line follows; a program that failed without a
    # failing case (crash, timeout) counts as one failure.
    cases_failed = 0
    for l in kself:
        if l.startswith("# "):
            m = RESULT.match(l[2:])
            if m and not m.group("ind"):
                count(not m.group("not"), m.group("dir"), m.group("name"))
                cases_failed += bool(m.group("not"))
            continue
        m = RESULT.match(l)
        if m and not m.group("ind"):
            if m.group("not") and cases_failed == 0:
                count(False, None, m.group("name") + " (the program failed)")
            cases_failed = 0
    return uname, kunit, kself, passed, failed, skipped, report


# A guest should stay within this share of its timeout.
MARGIN = 0.5


def guest_time(spec):
    """Lines for --guest-time NAME:SECONDS:TIMEOUT."""
    name, secs, timeout = spec.rsplit(":", 2)
    secs, timeout = int(secs), int(timeout)
    share = secs / timeout if timeout > 0 else 1.0
    lines = ["guest(%s): %d s of %d s timeout (%d%%)" % (name, secs, timeout, round(100 * share))]
    if share > MARGIN:
        lines.append("warning: guest(%s) used more than %d%% of its timeout: the margin is "
                     "going (trim ci/guest/debug.list, the budgets in ci/tests.sh, or the "
                     "suite)" % (name, round(100 * MARGIN)))
    return lines


def main():
    args = sys.argv[1:]
    console_failed = "--console-failed" in args
    args = [a for a in args if a != "--console-failed"]
    times = []
    while "--guest-time" in args:
        i = args.index("--guest-time")
        times += guest_time(args[i + 1])
        del args[i:i + 2]
    with open(args[0], errors="replace") as f:
        uname, kunit, kself, passed, failed, skipped, report = summarise(f.read())
    if console_failed:
        # The guest console showed a kernel report, a taint, or the guest
        # command failed: that fails the run whatever the test cases said.
        failed += 1
        report.append("FAILED: guest console check (kernel report, taint or guest exit status)")
    print("guest kernel: %s" % (uname or "UNKNOWN (the guest did not report)"))
    print("KTAP version 1")
    for l in kunit + kself:
        print(l)
    for r in report:
        print(r)
    for t in times:
        print(t)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed or not passed or not uname:
        sys.exit(1)


if __name__ == "__main__":
    main()
