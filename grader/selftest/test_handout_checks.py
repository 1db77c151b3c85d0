"""Each lab handout's generated section "What the grader checks"
(handouts/site/checks.py) matches the lab's tests: names, points, docstrings."""
import shutil
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "handouts" / "site"))

import checks  # noqa: E402


def test_every_lab_handout_section_is_current():
    """Stale after a test's name, points or docstring changed: `make handouts-checks` rewrites it."""
    found = checks.handouts(KIT)
    labs = sorted(p.name for p in (KIT / "labs").glob("[0-9][0-9]-*") if p.is_dir())
    assert sorted(found) == labs, f"labs without a handout: {sorted(set(labs) - set(found))}"
    problems = [p for lab, md in found.items() if (p := checks.update(lab, md, write=False))]
    assert not problems, "\n".join(problems)


def test_every_test_has_a_docstring_and_points():
    """The section has something to say about each test."""
    bare = [f"{lab}: {c.name}" for lab in checks.handouts(KIT) for c in checks.lab_checks(lab)
            if not c.what or not c.points]
    assert not bare, "tests without a docstring or points: " + ", ".join(bare)


def test_a_stale_section_is_caught_and_rewritten(tmp_path):
    """A handout whose section lacks a test fails the check; the rewrite makes it current
    and leaves the text around it as it was."""
    kit = tmp_path / "kit"
    lab = "01-segmentation"
    for d in ("grader", "handouts", f"labs/{lab}"):
        (kit / d).mkdir(parents=True)
    for f in (KIT / "grader").glob(f"test_{lab[:2]}_*.py"):
        shutil.copy(f, kit / "grader")
    md = kit / "handouts" / f"{lab}.md"
    current = checks.section(lab, KIT)
    stale = "\n".join(l for l in current.splitlines() if "test_tss_stacks" not in l)
    md.write_text(f"# Lab\n\nbefore\n\n{stale}\n\nafter\n")
    assert "out of date" in checks.update(lab, md, write=False, kit=kit)
    assert checks.update(lab, md, write=True, kit=kit) == ""
    assert md.read_text() == f"# Lab\n\nbefore\n\n{current}\n\nafter\n"
    md.write_text("# Lab\n\nno markers\n")
    assert "0 sections" in checks.update(lab, md, write=True, kit=kit)
