"""Tests of ci/console-check.py and ci/ktap-summary.py on planted logs."""
import importlib.util
import os
import unittest

CI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), os.path.join(CI, name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cc = load("console-check.py")
ks = load("ktap-summary.py")

CLEAN = """[    0.000000] Linux version 7.3.4 (root@host) #1 SMP
[    1.000000] vjchan: PF_VJCHAN (family 46) registered
hello from the guest
VJCHAN-GUEST-TAINT=262144
VJCHAN-GUEST-EXIT=0
"""

PLANTED = {
    "WARN": "[    2.1] ------------[ cut here ]------------\n[    2.1] WARNING: CPU: 0 PID: 1 at drivers/misc/lkdtm/bugs.c:111 lkdtm_WARNING+0x1/0x2\n",
    "BUG": "[    2.1] BUG: kernel NULL pointer dereference, address: 0000000000000000\n",
    "KASAN": "[    2.1] BUG: KASAN: slab-use-after-free in vjchan_release+0x1/0x2\n",
    "UBSAN": "[    2.1] UBSAN: array-index-out-of-bounds in net/vjchan/x.c:1:2\n",
    "Rust panic": "[    2.1] rust_kernel: panicked at net/vjchan/vjchan.rs:10:5:\n",
    "lockdep": "[    2.1] WARNING: possible circular locking dependency detected\n",
    "kmemleak": "[    2.1] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n",
    "oops": "[    2.1] Oops: general protection fault, probably for non-canonical address\n",
    "panic": "[    2.1] Kernel panic - not syncing: Fatal exception\n",
}


class ConsoleCheck(unittest.TestCase):
    def test_clean_log_passes(self):
        self.assertEqual(cc.check(CLEAN), [])

    def test_each_planted_report_fails(self):
        for what, text in PLANTED.items():
            with self.subTest(what=what):
                log = CLEAN.replace("hello from the guest\n", text)
                self.assertNotEqual(cc.check(log), [], what)

    def test_failed_guest_command_fails(self):
        self.assertNotEqual(cc.check(CLEAN.replace("EXIT=0", "EXIT=1")), [])

    def test_unfinished_guest_command_fails(self):
        self.assertNotEqual(cc.check(CLEAN.replace("VJCHAN-GUEST-EXIT=0\n", "")), [])

    def test_taint_fails_but_kunit_taint_does_not(self):
        self.assertEqual(cc.check(CLEAN), [])
        self.assertNotEqual(cc.check(CLEAN.replace("TAINT=262144", "TAINT=512")), [])


RUN = """VJCHAN-GUEST-UNAME=7.3.4
=== kunit (from the boot log) ===
KTAP version 1
1..1
    KTAP version 1
    # Subtest: vjchan
    1..3
    ok 1 create_accepts_raw_protocol_zero
    ok 2 create_refuses_other_types
    ok 3 skipped_one # SKIP not here
# vjchan: pass:2 fail:0 skip:1 total:3
ok 1 vjchan
=== kselftest ===
TAP version 13
1..1
# selftests: net/vjchan: vjchan_socket_test
# TAP version 13
# 1..2
# ok 1 global.create_and_close
# not ok 2 global.bad_type_refused
# # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0
not ok 1 selftests: net/vjchan: vjchan_socket_test # exit=1
VJCHAN-GUEST-TAINT=0
VJCHAN-GUEST-EXIT=1
"""


class KtapSummary(unittest.TestCase):
    def test_counts_cases_of_kunit_and_kselftest(self):
        uname, _, _, passed, failed, skipped, report = ks.summarise(RUN)
        self.assertEqual(uname, "7.3.4")
        self.assertEqual((passed, failed, skipped), (3, 1, 1))
        self.assertEqual(report, ["FAILED: global.bad_type_refused"])

    def test_crashed_program_counts_as_a_failure(self):
        run = RUN.replace("# not ok 2 global.bad_type_refused\n", "")
        _, _, _, passed, failed, _, report = ks.summarise(run)
        self.assertEqual((passed, failed), (3, 1))
        self.assertIn("the program failed", report[0])

    def test_console_failure_fails_the_summary(self):
        import subprocess
        import tempfile
        clean = RUN.replace("# not ok 2 global.bad_type_refused\n", "# ok 2 global.bad_type_refused\n")
        clean = clean.replace("not ok 1 selftests", "ok 1 selftests")
        with tempfile.NamedTemporaryFile("w", suffix=".log") as f:
            f.write(clean)
            f.flush()
            script = os.path.join(CI, "ktap-summary.py")
            ok = subprocess.run(["python3", script, f.name], capture_output=True, text=True)
            self.assertEqual(ok.returncode, 0, ok.stdout)
            self.assertTrue(ok.stdout.rstrip().endswith("4 passed, 0 failed, 1 skipped"))
            bad = subprocess.run(["python3", script, "--console-failed", f.name],
                                 capture_output=True, text=True)
            self.assertEqual(bad.returncode, 1)
            self.assertTrue(bad.stdout.rstrip().endswith("4 passed, 1 failed, 1 skipped"))

    def test_guest_time_against_its_timeout(self):
        self.assertEqual(ks.guest_time("debug:412:900"),
                         ["guest(debug): 412 s of 900 s timeout (46%)"])
        over = ks.guest_time("debug:600:900")
        self.assertEqual(over[0], "guest(debug): 600 s of 900 s timeout (67%)")
        self.assertTrue(over[1].startswith("warning: guest(debug) used more than 50%"))

    def test_guest_time_is_printed_above_the_last_line(self):
        import subprocess
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".log") as f:
            f.write(RUN)
            f.flush()
            script = os.path.join(CI, "ktap-summary.py")
            out = subprocess.run(["python3", script, "--guest-time", "default:100:900", f.name],
                                 capture_output=True, text=True).stdout.splitlines()
            self.assertEqual(out[-2], "guest(default): 100 s of 900 s timeout (11%)")
            self.assertEqual(out[-1], "3 passed, 1 failed, 1 skipped")


if __name__ == "__main__":
    unittest.main()
