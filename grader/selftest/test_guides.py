"""The instructor guides' commands (issue 16): grader/examples_guides.py.

`make check` checks that every command block of handouts/instructor-guide.md
and handouts/releasing.md is either run by `make check-course` or marked as
not run with a reason, and that the guide's semester covers every stage;
`make check-course` (KIT_COURSE_SLOW=1) runs them all in a scratch copy."""
import os
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "grader"))

import examples_guides as eg  # noqa: E402

# what the semester must run, by the words of its commands (issue 16's must-show)
STAGES = {
    "course file": "make course-check",
    "release": "make dist UPTO=",
    "a student's clone": "git clone -q git@git.example.edu:os/labs.git",
    "Gradescope": "make gradescope",
    "grade a class with a roster": "make grade-class SUBMISSIONS=~/lab1 LAB=01 ROSTER=",
    "plagiarism export": "PLAGIARISM=1",
    "publish": "make publish LAB=01",
    "make update": "make update",
    "regrade": "STUDENT=alice",
}


def test_every_guide_block_is_run_by_check_course_or_marked_not_run():
    records = eg.plan(KIT)
    assert {r["handout"] for r in records} == set(eg.GUIDES)
    bad = [f"{r['handout']}:{r['line']}: {r['reason']}" for r in records
           if r["status"] not in ("covered", "not run") or r["status"] == "not run" and not r["reason"]]
    assert not bad, "\n".join(bad)


def test_semester_runs_every_stage():
    guide = (KIT / "handouts/instructor-guide.md").read_text()
    end = guide.index("\n## ", guide.index("## A semester, step by step"))
    run = [c for b in eg.blocks(KIT, "handouts/instructor-guide.md")
           if b.line < guide[:end].count("\n") + 1 and not b.not_run and not b.problem
           for c in b.commands()]
    missing = [stage for stage, words in STAGES.items() if not any(words in c for c in run)]
    assert not missing, f"the semester runs no command for: {', '.join(missing)}"


GUIDE = """# A guide

<!-- example: not run: needs a printer -->
```sh
lpr notes.txt
```

<!-- example: in ~/x; status: 0 2 -->
```sh
make a \\
  b
# a comment
make c
```

```
output, not a command
```

<!-- example: ont run: a typo -->
```sh
true
```

<!-- example: status: 0 -->
```sh
true
false
```
"""


def test_markers_are_read_and_a_wrong_one_is_failing(tmp_path):
    (tmp_path / "guide.md").write_text(GUIDE)
    bs = eg.blocks(tmp_path, "guide.md")
    assert [(b.line, b.kind) for b in bs] == [(4, "commands"), (9, "commands"), (21, "commands"), (26, "commands")]
    assert bs[0].not_run == "needs a printer"
    assert (bs[1].cwd, bs[1].status, bs[1].commands()) == ("~/x", [0, 2], ["make a    b", "make c"])
    assert "does not understand" in bs[2].problem
    assert "1 exit status(es) for 2 command(s)" in bs[3].problem


@pytest.mark.parametrize("text, status, verdict, reason", [
    ("true\nfalse\n", [], "failing", "`false` exited 1, not 0"),
    ("true\nfalse\n", [0, 1], "run", "2 command(s)"),
    ("false\ntrue\n", [0, 0], "failing", "`false` exited 1, not 0"),
    ("echo a > made.txt\ncd /\nexit 3\ntrue\n", [0, 0, 0, 0], "failing", "`exit 3` did not finish"),
])
def test_a_block_runs_each_command_against_its_expected_status(tmp_path, text, status, verdict, reason):
    b = eg.Block("guide.md", 1, "commands", text, status=status)
    logs = tmp_path / "logs"
    logs.mkdir()
    r = eg.run_block(b, tmp_path, tmp_path, dict(os.environ), logs)
    assert (r["status"], r["reason"].startswith(reason)) == (verdict, True), r


@pytest.mark.skipif(not os.environ.get("KIT_COURSE_SLOW"), reason="slow: make check-course runs it")
def test_guides_commands_hold_in_a_scratch_copy():
    records = eg.check(KIT)
    failing = [f"{r['handout']}:{r['line']}: {r['reason']}" for r in records if r["status"] == "failing"]
    assert not failing, "\n".join(failing)
    planned = [(r["handout"], r["line"], "run" if r["status"] == "covered" else r["status"])
               for r in eg.plan(KIT)]
    assert [(r["handout"], r["line"], r["status"]) for r in records] == planned


def test_shown_output_must_be_printed_in_order_numbers_aside(tmp_path):
    shown = eg.Block("guide.md", 1, "output", "dist: 109 files\ndist: repository /home/you/kit/build/x\n",
                     output=True)
    ran = f"note: something\ndist: 131 files\ndist: repository {tmp_path}/build/x\n"
    assert eg.output_block(shown, tmp_path, ran)["status"] == "run"
    for wrong in (ran.replace("files", "file(s)"), "\n".join(reversed(ran.splitlines())),
                  ran.replace(str(tmp_path), "/elsewhere")):
        assert eg.output_block(shown, tmp_path, wrong)["status"] == "failing", wrong
    assert eg.output_block(shown, tmp_path, None)["status"] == "failing"


def test_output_marker_only_above_a_plain_block(tmp_path):
    (tmp_path / "g.md").write_text("<!-- example: output -->\n```sh\ntrue\n```\n\n"
                                   "<!-- example: output -->\n```\nok\n```\n\n```\nnot checked\n```\n")
    bs = eg.blocks(tmp_path, "g.md")
    assert [(b.kind, bool(b.problem)) for b in bs] == [("commands", True), ("output", False)]
