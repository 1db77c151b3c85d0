"""The harness's own tests run against the smoke kernel (labs/smoke)."""
import subprocess
import sys
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
