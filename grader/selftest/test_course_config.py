"""The course file (course.toml, grader/course/config.py): what it says, how it
is checked, and the late policy it sets."""
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(KIT / "grader"))

from course import config  # noqa: E402

LABS = ["01-segmentation", "02-page-fault", "03-cr3", "04-page-walk", "05-map-to", "06-mpu"]
UTC = timezone.utc

FULL = """
name = "Test course"
released = ["01", "02-page-fault", "cr3"]
published = ["01-segmentation"]
timezone = "+02:00"

[late]
grace_minutes = 10
penalty_per_day = 20
cap = 50
late_days = 1

[labs.01]
weight = 2
deadline = 2026-10-02T23:59:00
hidden = ["test_hidden_one"]

[labs.02-page-fault]
weight = 1.5
deadline = 2026-10-16T22:00:00Z

[labs.03-cr3]
deadline = 2026-10-30
"""


def test_the_kits_course_file_loads():
    course = config.load(KIT)
    assert course.name
    assert set(course.released_labs(config.kit_labs(KIT))) <= set(config.kit_labs(KIT))


def test_a_full_course_file():
    c = config.parse(FULL, LABS)
    assert c.released == ["01-segmentation", "02-page-fault", "03-cr3"]
    assert c.published == ["01-segmentation"]
    assert (c.late.grace_minutes, c.late.penalty_per_day, c.late.cap, c.late.late_days) == (10, 20, 50, 1)
    lab1 = c.lab("01-segmentation")
    assert lab1.weight == 2 and lab1.hidden == ["test_hidden_one"]
    # no offset: the course's timezone; an offset: kept; a date: the end of that day
    assert lab1.deadline == datetime(2026, 10, 2, 21, 59, tzinfo=UTC)
    assert c.lab("02-page-fault").deadline == datetime(2026, 10, 16, 22, 0, tzinfo=UTC)
    assert c.lab("03-cr3").deadline == datetime(2026, 10, 30, 21, 59, 59, tzinfo=UTC)
    assert c.lab("04-page-walk").weight == 1 and c.lab("04-page-walk").deadline is None
    assert c.released_labs(LABS) == c.released
    assert config.parse('name = "x"\n', LABS).released_labs(LABS) == LABS


@pytest.mark.parametrize("text, words", [
    ('released = ["07-nothing"]', "unknown released lab '07-nothing'"),
    ('published = ["99"]', "unknown published lab '99'"),
    ('[labs.08]\nweight = 1', "unknown lab in [labs] '08'"),
    ('[labs.01]\ndeadline = "next friday"', "deadline must be a TOML date or datetime"),
    ('[labs.01]\ndeadline = 5', "deadline must be a TOML date or datetime"),
    ('[labs.01]\nweight = "heavy"', "weight must be a number, not 'heavy'"),
    ('[labs.01]\nweight = true', "weight must be a number"),
    ('[labs.01]\nhidden = "test_x"', "hidden must be a list of test names"),
    ('[labs.01]\nwieght = 1', "unknown key(s) wieght"),
    ('[late]\npenalty_per_day = "ten"', "late.penalty_per_day must be a number"),
    ('[late]\ncap = 150', "late.cap must be between 0 and 100"),
    ('[late]\ngrace = 5', "[late] has unknown key(s) grace"),
    ('timezone = "CET"', "timezone must be an offset"),
    ('relased = []', "unknown key(s) relased"),
    ('published = [\n"01"]', "keep `published = [...]` on one line"),
    ('name = ', "not valid TOML"),
    ('source_url = "git.example.edu/kit/"', "source_url must be an http(s) URL ending in /"),
    ('source_url = "https://git.example.edu/kit/blob/main"', "source_url must be an http(s) URL ending in /"),
    ('source_url = 1', "source_url must be an http(s) URL"),
])
def test_mistakes_are_named(text, words):
    with pytest.raises(config.CourseError) as e:
        config.parse(text, LABS, "course.toml")
    assert words in str(e.value)
    assert str(e.value).startswith("course.toml")


def test_source_url_is_kept_for_the_site():
    """The site's source browser (course.toml's source_url): kept as given; absent, empty."""
    url = "https://git.example.edu/os/kit/blob/main/"
    assert config.parse(f'source_url = "{url}"\n', LABS).source_url == url
    assert config.parse('name = "x"\n', LABS).source_url == ""


def test_with_published_keeps_the_line_top_level():
    text = 'name = "x"\n\n[late]\ncap = 40\n'
    out = config.with_published(text, ["01-segmentation"])
    c = config.parse(out, LABS)
    assert c.published == ["01-segmentation"] and c.late.cap == 40
    again = config.with_published(out, ["01-segmentation", "02-page-fault"])
    assert config.parse(again, LABS).published == ["01-segmentation", "02-page-fault"]
    assert again.count("published") == 1


def test_the_build_rules_read_the_published_line():
    """labs/common.mk reads published with sed: the full course file above still gives it."""
    sed = subprocess.run(["sed", "-n", r's/^published *= *\[\([^]]*\)\].*/\1/p'], input=FULL,
                         capture_output=True, text=True, check=True).stdout
    assert sed.replace('"', "").replace(",", "").split() == ["01-segmentation"]


def test_days_late():
    d = datetime(2026, 10, 2, 12, 0, tzinfo=UTC)
    assert config.days_late(d, d) == 0
    assert config.days_late(d + timedelta(minutes=9), d, grace_minutes=10) == 0
    assert config.days_late(d + timedelta(minutes=11), d, grace_minutes=10) == 1
    assert config.days_late(d + timedelta(days=1, minutes=1), d) == 2
    assert config.days_late(d - timedelta(days=3), d) == 0
    assert config.days_late(None, d) == 0 and config.days_late(d, None) == 0


def test_late_policy_spends_late_days_first_then_penalises_to_the_cap():
    c = config.parse(FULL, LABS)
    d1, d2, d3 = (c.lab(l).deadline for l in ("01-segmentation", "02-page-fault", "03-cr3"))
    got = c.lateness({"03-cr3": d3 + timedelta(days=5),            # 5 days: 100% -> cap 50
                      "02-page-fault": d2 + timedelta(hours=30),    # 2 days: 40%
                      "01-segmentation": d1 + timedelta(hours=3)},  # 1 day: the late day
                     {"01-segmentation": 40, "02-page-fault": 50, "03-cr3": 30})
    assert got["01-segmentation"] == {"days_late": 1, "late_days_used": 1, "penalty": 0, "score": 40}
    assert got["02-page-fault"] == {"days_late": 2, "late_days_used": 0, "penalty": 40, "score": 30}
    assert got["03-cr3"] == {"days_late": 5, "late_days_used": 0, "penalty": 50, "score": 15}
    on_time = c.lateness({"01-segmentation": d1}, {"01-segmentation": 40})
    assert on_time["01-segmentation"]["penalty"] == 0 and on_time["01-segmentation"]["score"] == 40


def test_hidden_until_the_deadline():
    c = config.parse(FULL, LABS)
    dl = c.lab("01-segmentation").deadline
    assert c.hidden_now("01-segmentation", "test_hidden_one", dl - timedelta(seconds=1))
    assert c.hidden_now("01-segmentation", "grader/test_01.py::test_hidden_one", dl - timedelta(days=1))
    assert not c.hidden_now("01-segmentation", "test_hidden_one", dl)
    assert not c.hidden_now("01-segmentation", "test_other", dl - timedelta(days=1))


def test_course_check_command():
    r = subprocess.run(["/usr/bin/python3", str(KIT / "grader/course/config.py")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "late policy" in r.stdout
