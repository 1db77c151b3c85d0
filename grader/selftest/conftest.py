"""The harness's own tests run against the smoke kernel (labs/smoke)."""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

GRADER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(GRADER))

from harness import config  # noqa: E402

SMOKE_ISO = config.KIT / "build" / "smoke" / "starter" / "kernel.iso"


@pytest.fixture(scope="session")
def smoke_iso():
    subprocess.run(["make", "-s", "-C", str(config.KIT / "labs" / "smoke")], check=True)
    return SMOKE_ISO


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A short temporary root, /tmp/kst-XXXXXXXX, for the tests' tmp_path: a grade
    run under a test's TMPDIR puts QEMU's monitor socket there, and a socket path
    has at most 107 bytes, which pytest's /tmp/pytest-of-USER/pytest-N/popen-gwN/...
    leaves too little of (make check runs the self-tests in two xdist workers).
    Removed when the run passed; kept for a look when it failed."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = config.kit_basetemp = tempfile.mkdtemp(prefix="kst-")


def pytest_sessionfinish(session, exitstatus):
    made = getattr(session.config, "kit_basetemp", None)
    if made and exitstatus == 0:
        shutil.rmtree(made, ignore_errors=True)


# The slowest files first (seconds alone, measured 2026-12-04): make check runs
# the self-tests in two xdist workers that take one file at a time, so a long
# file started last would run alone at the end while the other worker idles.
SLOW_FIRST = ["test_batch.py", "test_dist.py", "test_output.py", "test_sandbox.py", "test_harness.py",
              "test_gdb.py", "test_classroom.py", "test_site.py", "test_make.py", "test_mutants.py",
              "test_apicheck.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: a file's order kept
