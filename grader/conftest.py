"""pytest glue for the kit's grader.

Fixtures:
  boot            factory: boot(LAB, **params) starts a Machine now; torn down after the test.
                  Machines boot through QEMU's -kernel (PVH, ~0.1 s) unless via="grub":
                  let each lab's shared boot go through GRUB, as students run it.
  machine_pool    module-scoped: start several machines at once (they boot in parallel),
                  fetch each by name in the tests that need it; all torn down after the module
  rng             a random.Random of this test, drawn from the run's seed (config.run_seed())
Every test's result records the run's seed (user property "seed"): `KIT_SEED=<seed>`
repeats the values a lab's tests chose.
Markers:
  points(n)       what the test is worth in `make grade`
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Machine, MachinePool, config, machine  # noqa: E402
from harness.text import strip_introspection  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): points this test is worth in make grade")


def pytest_collection_modifyitems(items):
    for item in items:
        m = item.get_closest_marker("points")
        item.user_properties.append(("points", m.args[0] if m else 0))
        lab = getattr(item.module, "LAB", None)
        item.user_properties.append(("lab", lab))
        item.user_properties.append(("seed", config.run_seed()))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.kit_marks = machine.marks()  # where the kernels' output stood when the test began


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep the exception's own message with the report: the grade table shows
    it instead of a traceback (so grade.py has pytest render only the
    exception's line, --tb=line: a full traceback cost ~1 ms a failed test).
    The kernel's own diagnostic lines printed during the test (machine.DIAG)
    that the message does not quote yet are added to it."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and not report.passed:
        e = call.excinfo.value
        text = str(e).strip() or type(e).__name__
        if type(e).__name__ not in ("AssertionError", "KernelError", "BuildError", "Failed"):
            text = f"{type(e).__name__}: {text}"
        text = machine.quote_diagnostics(strip_introspection(text), getattr(item, "kit_marks", {}))
        report.user_properties.append(("message", text))


@pytest.fixture(autouse=True)
def _lab_built(request):
    """A lab that failed to build scores zero on every test, with the compiler's output."""
    lab = getattr(request.module, "LAB", None)
    err = lab and config.wait_build(lab)
    if err:
        pytest.fail(err, pytrace=False)


@pytest.fixture
def boot():
    machines = []

    def start(lab, via="pvh", **params):
        m = Machine(lab, params=params, via=via)
        machines.append(m)
        return m

    yield start
    for m in machines:
        m.close()


@pytest.fixture(scope="module")
def machine_pool():
    pool = MachinePool()
    yield pool
    pool.close()


@pytest.fixture
def rng(request):
    return config.new_rng(f"{request.node.module.__name__}::{request.node.name}")

