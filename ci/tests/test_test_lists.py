"""Tests of ci/test-lists.py: which guest runs which kselftest."""
import importlib.util
import os
import tempfile
import unittest

CI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), os.path.join(CI, name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tl = load("test-lists.py")

SRC = """
#include "../../kselftest_harness.h"
FIXTURE(ring) { int fd; };
/* TEST_F(ring, in_a_comment) */
TEST_F(ring, first) { }
TEST_F_TIMEOUT(ring, second, 60) { }
TEST(plain) { }
TEST_HARNESS_MAIN
"""

# A suite: one harness program, one plain program, one script.
SUITE = {
    "prog_test": (["ring.first", "ring.second", "global.plain"], False),
    "prog_fuzz": (None, False),
    "prog.sh": (None, False),
}


def entries(text):
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as f:
        f.write(text)
    try:
        return tl.parse_list(f.name)
    finally:
        os.unlink(f.name)


DEBUG = "== reason one\nprog_test ring.first\nprog_fuzz  # trailing comment\n"
ONLY = "== reason two\nprog_test ring.second\nprog_test global.plain\nprog.sh\n"


class Lists(unittest.TestCase):
    def lists(self, debug=DEBUG, only=ONLY):
        return {"debug": entries(debug), "default-only": entries(only)}

    def test_sources_are_read(self):
        cases, variants = tl.harness_cases(SRC)
        self.assertEqual(cases, ["ring.first", "ring.second", "global.plain"])
        self.assertFalse(variants)
        self.assertIsNone(tl.harness_cases("int main(void) { return 0; }"))

    def test_complete_lists_pass(self):
        self.assertEqual(tl.check_lists(SUITE, self.lists()), [])

    def test_the_repository_lists_pass(self):
        st, lists = tl.load_all()
        self.assertEqual(tl.check_lists(st, lists), [])
        tmo, errors = tl.timeouts(st, tl.read_settings())
        self.assertEqual(errors, [])
        self.assertEqual(tl.budget_errors(tmo, 900), [])

    def test_a_test_in_neither_list_fails(self):
        errors = tl.check_lists(SUITE, self.lists(only=ONLY.replace("prog_test ring.second\n", "")))
        self.assertEqual(len(errors), 1)
        self.assertIn("ring.second is in neither", errors[0])
        errors = tl.check_lists(SUITE, self.lists(only=ONLY.replace("prog.sh\n", "")))
        self.assertIn("prog.sh is in neither", errors[0])

    def test_a_new_program_fails_until_listed(self):
        suite = dict(SUITE, prog_new=(["x.y"], False))
        self.assertIn("prog_new x.y is in neither", tl.check_lists(suite, self.lists())[0])

    def test_a_whole_program_covers_its_new_cases(self):
        suite = dict(SUITE, prog_test=(SUITE["prog_test"][0] + ["ring.third"], False))
        debug = "== r\nprog_test\nprog_fuzz\n"
        self.assertEqual(tl.check_lists(suite, self.lists(debug=debug, only="== r\nprog.sh\n")), [])

    def test_a_test_in_both_lists_fails(self):
        errors = tl.check_lists(SUITE, self.lists(debug=DEBUG + "prog_test ring.second\n"))
        self.assertTrue(any("more than once" in e for e in errors), errors)

    def test_whole_and_by_case_fails(self):
        errors = tl.check_lists(SUITE, self.lists(debug=DEBUG + "prog_test\n"))
        self.assertTrue(any("whole" in e and "by case" in e for e in errors), errors)

    def test_stale_entries_fail(self):
        for extra, what in (("gone_test\n", "not a program"),
                            ("prog_test ring.gone\n", "no case ring.gone"),
                            ("prog_fuzz x.y\n", "list it whole")):
            with self.subTest(extra=extra):
                errors = tl.check_lists(SUITE, self.lists(debug=DEBUG + extra))
                self.assertTrue(any(what in e for e in errors), errors)

    def test_variants_must_be_listed_whole(self):
        suite = dict(SUITE, prog_test=(SUITE["prog_test"][0], True))
        errors = tl.check_lists(suite, self.lists())
        self.assertTrue(any("variants" in e for e in errors), errors)

    def test_a_group_needs_a_reason(self):
        with self.assertRaises(tl.ListError):
            entries("prog_test\n")
        with self.assertRaises(tl.ListError):
            entries("==\nprog_test\n")

    def test_plans(self):
        tmo = {"prog_test": 100, "prog_fuzz": 60, "prog.sh": 30}
        lists = self.lists()
        self.assertEqual(tl.plan(SUITE, lists, "debug", tmo),
                         [("prog_test", 100, ["-r", "ring.first"]), ("prog_fuzz", 60, [])])
        full = [("prog_test", 100, []), ("prog_fuzz", 60, []), ("prog.sh", 30, [])]
        self.assertEqual(tl.plan(SUITE, lists, "default", tmo), full)
        self.assertEqual(tl.plan(SUITE, lists, "debug", tmo, run_all=True), full)

    def test_timeouts_must_fit_half_the_guest(self):
        tmo = {"prog_test": 451, "prog_fuzz": 450, "prog.sh": 30}
        errors = tl.budget_errors(tmo, 900)
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("timeout_prog_test=451", errors[0])
        self.assertEqual(tl.budget_errors(tmo, 902), [])

    def test_settings(self):
        settings = {"timeout": "300", "timeout_prog_test": "100", "timeout_prog_fuzz": "400"}
        tmo, errors = tl.timeouts(SUITE, settings)
        self.assertEqual(tmo, {"prog_test": 100, "prog_fuzz": 400})
        self.assertTrue(any("timeout_prog_sh" in e for e in errors), errors)
        self.assertTrue(any("timeout_prog_fuzz=400" in e for e in errors), errors)

    def test_listing(self):
        rows = [("global", "", ""), ("ring", "", "first"), ("", "", "second"),
                ("a_fixture_name_longer_than_20", "v1", "t1"), ("", "", "t2")]
        text = "%-20s %-25s %s\n" % ("# FIXTURE", "VARIANT", "TEST")
        for i, row in enumerate(rows):
            if i and row[0]:
                text += "-" * 80 + "\n"
            text += "%-20s %-25s %s\n" % row
        self.assertEqual(tl.parse_listing(text),
                         ["ring.first", "ring.second",
                          "a_fixture_name_longer_than_20.t1", "a_fixture_name_longer_than_20.t2"])


if __name__ == "__main__":
    unittest.main()
