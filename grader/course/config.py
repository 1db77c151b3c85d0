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
    return parse(path.read_text(), kit_labs(root), path)


def parse(text, labs, where=FILE):
    """The Course a course file's text describes, for a kit with these labs
    (a release reads the course file of the commit it is made from)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CourseError(f"{where}: not valid TOML: {e}") from None
    course = Course(name=str(data.get("name", "course")))
    pub = data.get("published", [])
    if not isinstance(pub, list) or not all(isinstance(p, str) for p in pub):
        raise CourseError(f"{where}: published must be a list of lab names, like [\"01-segmentation\"]")
    if pub and not _PUBLISHED_LINE.search(text):
        raise CourseError(f"{where}: keep `published = [...]` on one line (the build rules read it)")
    course.published = sorted({resolve_lab(p, labs, "published lab") for p in pub})
    return course


_PUBLISHED_LINE = re.compile(r"(?m)^published\s*=\s*\[[^\]\n]*\].*$")


def published_text(labs):
    """The published line of a course file for these labs."""
    return "published = [" + ", ".join(f'"{l}"' for l in labs) + "]"


def with_published(text, labs):
    """A course file's text with its published list replaced by labs (for the
    course file a release or an autograder zip ships: it publishes exactly what
    that release holds). text None: a course file of that line alone."""
    line = published_text(labs)
    if text is None:
        return line + "\n"
    if _PUBLISHED_LINE.search(text):
        return _PUBLISHED_LINE.sub(lambda _: line, text, count=1)
    if re.search(r"(?m)^published\s*=", text):
        raise CourseError(f"{FILE}: keep `published = [...]` on one line (the build rules read it)")
    return text.rstrip("\n") + "\n" + line + "\n"
