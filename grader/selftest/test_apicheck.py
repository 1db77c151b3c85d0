"""A lab is earned by its own code: labs/apicheck.sh refuses, before the link,
a student object that calls outside its lab's allowlist (labs/<lab>/api.txt).

Each grader/abuse/kit-internal-*.patch is a cheat written against the
starters; its first line says what it tries and the build verdict it must
get. Applied to a copy of starter/ and built as a submission, it must stop
the build with that message, before a kernel is linked."""
import re
import shutil
import subprocess

import pytest

from harness import config

ABUSE = config.KIT / "grader" / "abuse"
CHEATS = sorted(ABUSE.glob("kit-internal-*.patch"))
VERDICT = re.compile(r'verdict: build, "([^"]+)"')
APICHECK = config.KIT / "labs" / "apicheck.sh"


def lab_of(patch):
    """The lab a cheat is graded in: kit-internal-04-via-03 -> 04-page-walk."""
    number = patch.stem.split("-")[2]
    return next(lab for lab in config.labs() if lab.startswith(number + "-"))


def build_submission(tmp_path, patch=None, target=()):
    """make the lab of `patch` (or Lab 02) from a copy of starter/ with the
    patch applied, every earlier lab from that copy too (PUBLISHED empty)."""
    sub = tmp_path / "submission"
    shutil.copytree(config.KIT / "starter", sub / "starter")
    if patch:
        subprocess.run(["patch", "-s", "-p1", "-d", str(sub), "-i", str(patch)], check=True)
    lab = lab_of(patch) if patch else "02-page-fault"
    build = tmp_path / "build"
    r = subprocess.run(["make", "-s", "-C", str(config.KIT / "labs" / lab), f"SUBMISSION={sub}",
                        f"BUILD={build}", "PUBLISHED=", *target],
                       capture_output=True, text=True, timeout=120)
    return r, build


def test_every_known_hole_has_a_cheat():
    """The three holes of issue 15 (Lab 02's gate writer, Lab 04's chain walk,
    Lab 05's usable frames) each have a case, and every case names its verdict."""
    names = {p.stem for p in CHEATS}
    assert {"kit-internal-02", "kit-internal-04", "kit-internal-05"} <= names, names
    for p in CHEATS:
        assert VERDICT.search(p.read_text().splitlines()[0]), f"{p.name}: no verdict line"


@pytest.mark.parametrize("patch", CHEATS, ids=lambda p: p.stem)
def test_cheat_calling_a_kit_internal_gets_a_build_verdict(tmp_path, patch):
    """The cheat's build fails with the message its header names, and no kernel is linked."""
    want = VERDICT.search(patch.read_text().splitlines()[0]).group(1)
    r, build = build_submission(tmp_path, patch)
    assert r.returncode != 0, f"{patch.name} built:\n{r.stdout}{r.stderr}"
    assert want in r.stderr, f"{patch.name}: no {want!r} in the build's output:\n{r.stderr[-2000:]}"
    assert not (build / "kernel.elf").exists(), f"{patch.name}: a kernel was linked"


def test_unpatched_copy_builds(tmp_path):
    """The same copy without a cheat builds (the failures above are the cheats')."""
    r, build = build_submission(tmp_path, target=["elf"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert (build / "kernel.elf").exists()


def run_apicheck(tmp_path, allowlist, source):
    """Compile `source` to an object and check it as the only file of lab 99-test."""
    labs = tmp_path / "labs"
    (labs / "99-test").mkdir(parents=True)
    (labs / "99-test" / "api.txt").write_text(allowlist)
    (labs / "common.txt").write_text("# shared\nshared_fn\n")
    (tmp_path / "t.c").write_text(source)
    obj = tmp_path / "t.o"
    subprocess.run(["gcc", "-c", "-O1", "-fno-builtin", "-fno-pic", "-o", str(obj), str(tmp_path / "t.c")],
                   check=True)
    stamp = tmp_path / "api.ok"
    r = subprocess.run(["sh", str(APICHECK), str(labs), str(stamp), "lab:99-test:starter/99-test",
                        str(obj), "t.c"], capture_output=True, text=True, timeout=30)
    return r, stamp


SOURCE = """
void shared_fn(void); void mine(void); void helper_one(void);
extern int weak_thing __attribute__((weak));
void entry(void) { shared_fn(); mine(); helper_one(); if (&weak_thing) shared_fn(); }
void mine(void) {}
"""


def test_apicheck_allows_listed_included_prefixed_and_own(tmp_path):
    """Names from the list, an included list, a prefix* entry, and the file's own
    definitions pass; =own names defined here pass; the stamp is written."""
    r, stamp = run_apicheck(tmp_path, "include common.txt\nhelper_*\nweak_thing\n=entry\n=mine\n",
                            SOURCE)
    assert r.returncode == 0, r.stderr
    assert stamp.exists()


def test_apicheck_names_file_symbol_and_hint(tmp_path):
    """A name outside the list fails with the file and the name, a !name its hint,
    a weak reference counts, a missing =own name is reported; no stamp."""
    r, stamp = run_apicheck(tmp_path, "include common.txt\n!helper_one  use your own helper\n"
                            "=entry\n=absent_fn\n", SOURCE)
    assert r.returncode == 1
    assert "kit: starter/99-test/t.c uses helper_one, use your own helper" in r.stderr
    assert "kit: starter/99-test/t.c uses weak_thing, which is not in Lab 99's API" in r.stderr
    assert "kit: absent_fn is Lab 99's to write" in r.stderr
    assert "shared_fn" not in r.stderr and "mine" not in r.stderr
    assert not stamp.exists()


def test_apicheck_later_line_wins(tmp_path):
    """A lab's own !name overrides the same name allowed by an included list."""
    r, _ = run_apicheck(tmp_path, "include common.txt\n!shared_fn  not in this lab\n"
                        "helper_one\nweak_thing\n", SOURCE)
    assert r.returncode == 1
    assert "uses shared_fn, not in this lab" in r.stderr


def test_apicheck_refuses_a_name_that_could_fake_a_definition(tmp_path):
    """A symbol named "x kit_fn" (spaces are legal in ELF names) neither defines
    kit_fn nor hides a reference to it: the check fails closed."""
    r, stamp = run_apicheck(tmp_path, "=entry\n",
                            '__asm__(".globl \\"x kit_fn\\"\\n\\"x kit_fn\\": ret\\n");\n'
                            'void entry(void) { __asm__ volatile("call kit_fn"); }\n')
    assert r.returncode == 1
    assert "has a symbol this check cannot read" in r.stderr
    assert "uses kit_fn, which is not in Lab 99's API" in r.stderr
    assert not stamp.exists()
