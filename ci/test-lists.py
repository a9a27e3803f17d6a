#!/usr/bin/env python3
"""Which kselftests each guest runs.

The default kernel runs every kselftest of selftests/vjchan.  The debug
kernel (KASAN, lockdep, kmemleak, fault injection; very slow under TCG) runs
those named in ci/guest/debug.list; ci/guest/default-only.list names the
rest.  Every test is in exactly one of the two lists, in a group whose first
line gives the reason, so that a new test cannot silently skip the debug
kernel, nor be run there by accident.

    test-lists.py check [--boot-timeout S]
        host tier: every program of the Makefile and every case of its
        kselftest_harness.h source is in exactly one list, no entry names
        something that does not exist, and every program has its timeout in
        selftests/vjchan/settings, at most half the guest's boot timeout.
    test-lists.py plan VARIANT [--all]
        the guest's plan, one program a line: "PROGRAM TIMEOUT [ARGS...]",
        where ARGS select the cases (the harness's -r FIXTURE.TEST).  Every
        variant but debug, and debug with --all, runs everything.
    test-lists.py listing KSFT_DIR
        the built programs' own listings (-l) name the cases the sources do
        (catches what this script's reading of the sources would miss).

List format: '#' starts a comment; '== REASON' starts a group; an entry is
'PROGRAM' (every case of the program, those added later too) or
'PROGRAM FIXTURE.TEST' (one case of a kselftest_harness.h program).
"""
import argparse
import os
import re
import subprocess
import sys

CI = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(CI)
SELFTESTS = os.path.join(REPO, "selftests", "vjchan")
LISTS = {
    "debug": os.path.join(CI, "guest", "debug.list"),
    "default-only": os.path.join(CI, "guest", "default-only.list"),
}
# A guest should take at most this share of its boot timeout (ci/tests.sh
# warns above it); a program's timeout must fit in it too.  Then a guest
# within its margin still reports when any one program hangs: it is stopped
# at its timeout, a failure with its name, and the guest ends in time.
MARGIN = 0.5


class ListError(Exception):
    pass


def read(path):
    with open(path) as f:
        return f.read()


def makefile_programs(path=None):
    """The programs run_kselftest.sh runs: TEST_GEN_PROGS, then TEST_PROGS."""
    path = path or os.path.join(SELFTESTS, "Makefile")
    text = read(path).replace("\\\n", " ")
    progs = {"TEST_GEN_PROGS": [], "TEST_PROGS": []}
    for m in re.finditer(r"^(TEST_GEN_PROGS|TEST_PROGS)\s*(:=|\+=|=)(.*)$", text, re.M):
        var, op, val = m.groups()
        if op != "+=":
            progs[var] = []
        progs[var] += val.split()
    return progs["TEST_GEN_PROGS"] + progs["TEST_PROGS"]


def strip_c_comments(src):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", src, flags=re.S)


HARNESS_TEST = re.compile(
    r"^\s*(TEST_F|TEST_F_TIMEOUT|TEST_F_SIGNAL|TEST|TEST_SIGNAL)\s*\(\s*(\w+)\s*(?:,\s*(\w+))?",
    re.M)


def harness_cases(src):
    """(cases, has_variants) of a kselftest_harness.h source, or None if it
    is not one.  A case is 'FIXTURE.TEST' (TEST() belongs to 'global')."""
    src = strip_c_comments(src)
    if "TEST_HARNESS_MAIN" not in src:
        return None
    cases = []
    for m in HARNESS_TEST.finditer(src):
        kind, a, b = m.groups()
        if kind in ("TEST", "TEST_SIGNAL"):
            cases.append("global." + a)
        else:
            cases.append("%s.%s" % (a, b))
    has_variants = re.search(r"^\s*FIXTURE_VARIANT_ADD\s*\(", src, re.M) is not None
    return cases, has_variants


def suite(selftests=None):
    """{program: (cases or None, has_variants)} in run order; None: not a
    harness program (a script, or a program of one case)."""
    selftests = selftests or SELFTESTS
    out = {}
    for prog in makefile_programs(os.path.join(selftests, "Makefile")):
        src = os.path.join(selftests, prog + ".c")
        parsed = harness_cases(read(src)) if os.path.exists(src) else None
        out[prog] = parsed if parsed else (None, False)
    return out


def parse_list(path):
    """[(reason, program, case or None, line number)]."""
    entries, reason = [], None
    for n, line in enumerate(read(path).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("=="):
            reason = line[2:].strip()
            if not reason:
                raise ListError("%s:%d: a group needs its reason after '=='" % (path, n))
            continue
        if reason is None:
            raise ListError("%s:%d: an entry before the first '== REASON' line" % (path, n))
        words = line.split()
        if len(words) > 2:
            raise ListError("%s:%d: 'PROGRAM' or 'PROGRAM FIXTURE.TEST' expected" % (path, n))
        entries.append((reason, words[0], words[1] if len(words) == 2 else None, n))
    return entries


def check_lists(st, lists):
    """Errors (strings) of the lists {name: entries} against the suite st."""
    errors = []
    where = {}  # (program, case or None) -> [list name:line]
    for name, entries in lists.items():
        for _, prog, case, n in entries:
            at = "%s:%d" % (os.path.basename(LISTS.get(name, name)), n)
            if prog not in st:
                errors.append("%s: %s is not a program of selftests/vjchan/Makefile" % (at, prog))
                continue
            cases, variants = st[prog]
            if case is not None:
                if cases is None:
                    errors.append("%s: %s is not a kselftest_harness.h program: list it whole"
                                  % (at, prog))
                    continue
                if variants:
                    errors.append("%s: %s has fixture variants: list it whole (or teach "
                                  "ci/test-lists.py to select variants)" % (at, prog))
                    continue
                if case not in cases:
                    errors.append("%s: %s has no case %s" % (at, prog, case))
                    continue
            where.setdefault((prog, case), []).append(at)
    for key, ats in where.items():
        if len(ats) > 1:
            errors.append("%s%s is listed more than once: %s"
                          % (key[0], " " + key[1] if key[1] else "", ", ".join(ats)))
    for prog, (cases, _) in st.items():
        whole = where.get((prog, None), [])
        if whole:
            some = [c for c in (cases or []) if (prog, c) in where]
            if some:
                errors.append("%s is listed whole (%s) and by case too (%s)"
                              % (prog, whole[0], ", ".join(where[(prog, c)][0] for c in some)))
            continue
        if cases is None:
            errors.append("%s is in neither ci/guest/debug.list nor ci/guest/default-only.list"
                          % prog)
            continue
        for c in cases:
            if (prog, c) not in where:
                errors.append("%s %s is in neither ci/guest/debug.list nor "
                              "ci/guest/default-only.list" % (prog, c))
    return errors


def read_settings(path=None):
    path = path or os.path.join(SELFTESTS, "settings")
    out = {}
    for line in read(path).splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def settings_key(prog):
    """The settings field of a program's timeout: kselftest's runner eval()s
    every field as a shell variable, so only [a-z0-9_] in it."""
    return "timeout_" + re.sub(r"[^a-z0-9_]", "_", prog.lower())


def timeouts(st, settings):
    """{program: its timeout}, and errors."""
    errors, out = [], {}
    try:
        default = int(settings["timeout"])
    except (KeyError, ValueError):
        return {}, ["selftests/vjchan/settings: no 'timeout=' (kselftest's own)"]
    for prog in st:
        key = settings_key(prog)
        try:
            out[prog] = int(settings[key])
        except KeyError:
            errors.append("selftests/vjchan/settings: no %s= for %s" % (key, prog))
            continue
        except ValueError:
            errors.append("selftests/vjchan/settings: %s is not a number of seconds" % key)
            continue
        if not 0 < out[prog] <= default:
            errors.append("selftests/vjchan/settings: %s=%d is not within 1..timeout=%d "
                          "(kselftest's own runner would stop it earlier)"
                          % (key, out[prog], default))
    return out, errors


def plan(st, lists, variant, tmo, run_all=False):
    """[(program, timeout, [args])] that the guest of @variant runs."""
    out = []
    debug = {}
    for _, prog, case, _ in lists["debug"]:
        debug.setdefault(prog, []).append(case)
    for prog, (cases, _) in st.items():
        if variant != "debug" or run_all:
            out.append((prog, tmo[prog], []))
            continue
        sel = debug.get(prog)
        if not sel:
            continue
        if None in sel:
            out.append((prog, tmo[prog], []))
            continue
        # In source order; -r FIXTURE.TEST runs exactly that case.
        args = []
        for c in cases:
            if c in sel:
                args += ["-r", c]
        out.append((prog, tmo[prog], args))
    return out


def budget_errors(tmo, boot_timeout):
    limit = int(boot_timeout * MARGIN)
    return ["selftests/vjchan/settings: %s=%d is more than %d s, half the guest's %d s boot "
            "timeout: a guest within its margin would time out as a whole if it hung"
            % (settings_key(prog), t, limit, boot_timeout)
            for prog, t in tmo.items() if t > limit]


def load_all():
    st = suite()
    lists = {name: parse_list(path) for name, path in LISTS.items()}
    return st, lists


def parse_listing(text):
    """Cases ('FIXTURE.TEST') of a kselftest_harness.h program's -l output.
    Variants are left out: -l prints them beside the tests, not with each."""
    cases, fixture = [], None
    for line in text.splitlines():
        if not line.strip() or line.startswith("# FIXTURE") or line.startswith("---"):
            continue
        # printf("%-20s %-25s %s\n", fixture, variant, test), the fixture
        # on its first line only.
        fw = 20
        if line[0] != " ":
            fixture = line.split()[0]
            fw = max(20, len(fixture))
        rest = line[fw + 1:]
        variant = rest[:25].strip()
        test = rest[max(25, len(variant)) + 1:].strip()
        if test:
            cases.append("%s.%s" % (fixture, test))
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--boot-timeout", type=int, default=int(os.environ.get("VJCHAN_BOOT_TIMEOUT", 900)))
    p = sub.add_parser("plan")
    p.add_argument("variant")
    p.add_argument("--all", action="store_true", help="run everything, on debug too")
    lst = sub.add_parser("listing")
    lst.add_argument("ksft_dir")
    a = ap.parse_args()
    try:
        st, lists = load_all()
    except (ListError, OSError) as e:
        sys.exit("test-lists: %s" % e)
    tmo, errors = timeouts(st, read_settings())
    errors = check_lists(st, lists) + errors
    if a.cmd == "check":
        errors += budget_errors(tmo, a.boot_timeout)
        if errors:
            print("test-lists: %d problem(s):" % len(errors))
            for e in errors:
                print("  " + e)
            sys.exit(1)
        for variant in ("default", "debug"):
            pl = plan(st, lists, variant, tmo)
            ncase = sum(len(st[prog][0] or [None]) if not args else len(args) // 2
                        for prog, _, args in pl)
            print("test-lists: the %s kernel runs %d programs, %d cases (timeouts %s s; "
                  "each at most half of the %d s boot timeout)"
                  % (variant, len(pl), ncase, "+".join(str(t) for _, t, _ in pl),
                     a.boot_timeout))
    elif a.cmd == "plan":
        if errors:
            sys.exit("test-lists: the lists are broken (run ci/test-lists.py check):\n  "
                     + "\n  ".join(errors))
        for prog, t, args in plan(st, lists, a.variant, tmo, a.all):
            print(" ".join([prog, str(t)] + args))
    elif a.cmd == "listing":
        bad = []
        for prog, (cases, _) in st.items():
            if cases is None:
                continue
            exe = os.path.join(a.ksft_dir, "net", "vjchan", prog)
            r = subprocess.run([exe, "-l"], capture_output=True, text=True)
            got = parse_listing(r.stderr + r.stdout)
            if sorted(got) != sorted(cases):
                bad.append("%s -l lists %s; its source: %s" % (
                    prog, sorted(set(got) - set(cases)) or "nothing more",
                    sorted(set(cases) - set(got)) or "nothing more"))
        if bad:
            sys.exit("test-lists: the built programs do not list what their sources say:\n  "
                     + "\n  ".join(bad))
        print("test-lists: the built programs list the cases their sources name")


if __name__ == "__main__":
    main()
