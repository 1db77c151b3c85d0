"""The plagiarism-check export: the student files the grader took, per lab,
one folder per student, and the lab's starter as the base files, laid out as
JPlag and MOSS's submission script expect (neither tool is shipped):

    OUT/plagiarism/<lab>/base/...          the starter (code every student was given)
    OUT/plagiarism/<lab>/<student>/...     that student's taken files of the lab

JPlag:  java -jar jplag.jar -l c -bc OUT/plagiarism/01-segmentation/base OUT/plagiarism/01-segmentation
        (JPlag takes every folder but the base as a submission)
MOSS:   cd OUT/plagiarism/01-segmentation && moss -l c -d -b base/*.c */*.c
        (-d: files grouped per student folder; -b: the base files' code is not matched)
"""
import shutil
from pathlib import Path

from course.gradebook import safe_name


def write_base(kit_root, labs, out):
    """OUT/plagiarism/<lab>/base: the kit's starter files of each lab."""
    for lab in labs:
        src = Path(kit_root) / "starter" / lab
        dest = Path(out) / lab / "base"
        shutil.rmtree(dest, ignore_errors=True)
        for f in sorted(src.rglob("*")):
            if f.is_file() and f.suffix in (".c", ".h", ".S"):
                (dest / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dest / f.relative_to(src))


def write_student(student, files, labs, out):
    """OUT/plagiarism/<lab>/<student>: the files taken (kit path -> bytes)."""
    name = safe_name(student)
    if name == "base":
        name = "base_"
    for path, data in files.items():
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "starter" or parts[1] not in labs:
            continue
        dest = Path(out) / parts[1] / name / "/".join(parts[2:])
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
