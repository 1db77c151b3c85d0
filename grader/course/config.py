"""The course file (course.toml at the kit's root), read and checked.

Only what the kit uses today: the course name and the published solutions.
Every course tool reads it through load(), so "published" means one thing in
the build rules, releases, the Gradescope zip and class grading.
"""
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
FILE = "course.toml"


class CourseError(Exception):
    """The course file is wrong: str() says where and how."""


@dataclass
class Course:
    name: str = "course"
    published: list = field(default_factory=list)   # lab folder names, in lab order


def kit_labs(root=KIT):
    return sorted(p.name for p in (Path(root) / "labs").glob("[0-9][0-9]-*") if p.is_dir())


def resolve_lab(name, labs, what="lab"):
    """A lab folder name from a number or a name: 3, 03, 03-cr3, cr3."""
    name = str(name).strip()
    if name in labs:
        return name
    hits = [l for l in labs if l[:2] == name.zfill(2) or l[3:] == name] if name else []
    if len(hits) != 1:
        raise CourseError(f"unknown {what} '{name}' (labs: {' '.join(labs)})")
    return hits[0]


def load(root=KIT):
    """The Course of the kit at root (defaults when it has no course file)."""
    path = Path(root) / FILE
    if not path.is_file():
        return Course()
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CourseError(f"{path}: not valid TOML: {e}") from None
    labs = kit_labs(root)
    course = Course(name=str(data.get("name", "course")))
    pub = data.get("published", [])
    if not isinstance(pub, list) or not all(isinstance(p, str) for p in pub):
        raise CourseError(f"{path}: published must be a list of lab names, like [\"01-segmentation\"]")
    if pub and not re.search(r"(?m)^published\s*=\s*\[[^\]\n]*\]", text):
        raise CourseError(f"{path}: keep `published = [...]` on one line (the build rules read it)")
    course.published = sorted({resolve_lab(p, labs, "published lab") for p in pub})
    return course


def published_text(labs):
    """The published line of a course file for these labs."""
    return "published = [" + ", ".join(f'"{l}"' for l in labs) + "]"
