"""Tests of ci/check-series-builds.sh's stamp: when CI builds the series
patch by patch, and what it builds (its dry run: nothing is built)."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

CI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = """diff --git a/net/socket.c b/net/socket.c
--- a/net/socket.c
+++ b/net/socket.c
@@ -1 +1 @@
-a
+b
diff --git a/MAINTAINERS b/MAINTAINERS
"""
DOCS = """diff --git a/Documentation/networking/x.rst b/Documentation/networking/x.rst
diff --git a/tools/testing/selftests/net/x/Makefile b/tools/testing/selftests/net/x/Makefile
diff --git a/MAINTAINERS b/MAINTAINERS
"""
OBJTOOL = "diff --git a/tools/objtool/check.c b/tools/objtool/check.c\n"


class Stamp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        ci = os.path.join(self.tmp, "ci")
        os.makedirs(os.path.join(ci, "config"))
        for f in ("check-series-builds.sh", "lib.sh", "pin.env"):
            shutil.copy(os.path.join(CI, f), ci)
        for f in ("base.config", "vjchan.config"):
            shutil.copy(os.path.join(CI, "config", f), os.path.join(ci, "config"))
        self.patches = os.path.join(self.tmp, "patches")
        os.makedirs(self.patches)
        self.write("0000-cover-letter.patch", "cover\n")
        self.write("0001-net-code.patch", CODE)
        self.write("0002-docs.patch", DOCS)
        self.write("0003-objtool.patch", OBJTOOL)
        self.cache = os.path.join(self.tmp, "cache")
        self.stamp = os.path.join(self.cache, "series-builds.stamp")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, name, text):
        with open(os.path.join(self.patches, name), "w") as f:
            f.write(text)

    def run_dry(self, *args, **env):
        e = dict(os.environ, VJCHAN_CACHE=self.cache, VJCHAN_SERIES_BUILDS_DRY="1")
        e.pop("VJCHAN_SERIES_BUILDS", None)
        e.update(env)
        r = subprocess.run(["bash", os.path.join(self.tmp, "ci", "check-series-builds.sh"), *args],
                           env=e, capture_output=True, text=True)
        self.assertEqual(0, r.returncode, r.stderr)
        return r.stdout

    def key(self, out):
        m = re.search(r"would build \d+ patches \(stamp ([0-9a-f]{64})\)", out)
        self.assertIsNotNone(m, out)
        return m.group(1)

    def passed(self):
        """What a passing run leaves: the stamp of the series it built."""
        key = self.key(self.run_dry("--if-changed"))
        os.makedirs(self.cache, exist_ok=True)
        with open(self.stamp, "w") as f:
            f.write(key + "\n")
        return key

    def assert_skipped(self, out):
        self.assertRegex(out, r"^series builds: unchanged since [0-9a-f]{12} \(passed .*\), skipped$")

    def test_no_stamp_builds_code_patches_only(self):
        out = self.run_dry("--if-changed")
        self.assertIn("would build 3 patches", out)
        self.assertIn("build 0001-net-code.patch", out)
        self.assertIn("skip 0002-docs.patch", out)
        # tools/ is not all tests: objtool is part of the kernel build.
        self.assertIn("build 0003-objtool.patch", out)
        self.assertNotIn("0000-cover", out)

    def test_unchanged_series_is_skipped(self):
        key = self.passed()
        out = self.run_dry("--if-changed")
        self.assert_skipped(out)
        self.assertIn(key[:12], out)

    def test_cover_letter_does_not_count(self):
        self.passed()
        self.write("0000-cover-letter.patch", "another cover\n")
        self.assert_skipped(self.run_dry("--if-changed"))

    def test_changed_patch_builds_again(self):
        key = self.passed()
        self.write("0002-docs.patch", DOCS + "diff --git a/net/x.c b/net/x.c\n")
        out = self.run_dry("--if-changed")
        self.assertNotEqual(key, self.key(out))
        self.assertIn("build 0002-docs.patch", out)

    def test_added_or_renamed_patch_builds_again(self):
        key = self.passed()
        os.rename(os.path.join(self.patches, "0003-objtool.patch"),
                  os.path.join(self.patches, "0003-objtool-renamed.patch"))
        self.assertNotEqual(key, self.key(self.run_dry("--if-changed")))
        self.write("0004-more.patch", CODE)
        self.assertIn("would build 4 patches", self.run_dry("--if-changed"))

    def test_config_change_builds_again(self):
        key = self.passed()
        with open(os.path.join(self.tmp, "ci", "config", "vjchan.config"), "a") as f:
            f.write("CONFIG_SOMETHING=y\n")
        self.assertNotEqual(key, self.key(self.run_dry("--if-changed")))

    def test_forced_and_disabled(self):
        self.passed()
        self.key(self.run_dry("--if-changed", VJCHAN_SERIES_BUILDS="1"))
        # Run by hand (no --if-changed), it builds whatever the stamp says.
        self.key(self.run_dry())
        for args in ((), ("--if-changed",)):
            out = self.run_dry(*args, VJCHAN_SERIES_BUILDS="0")
            self.assertEqual("series builds: disabled (VJCHAN_SERIES_BUILDS=0), skipped\n", out)

    def test_test_all_runs_it_after_the_default_build(self):
        with open(os.path.join(CI, "test-all.sh")) as f:
            text = f.read()
        build = text.index('run build "$CI_DIR/build.sh"')
        series = text.index('"$CI_DIR/check-series-builds.sh" --if-changed')
        self.assertLess(build, series)


if __name__ == "__main__":
    unittest.main()
