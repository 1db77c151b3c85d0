#!/usr/bin/python3
"""Student releases of the kit, and publishing a solution into one later.

    dist.py release [--upto LAB] [--publish LAB] [--out DIR] [--name NAME] [--force]
    dist.py publish --lab LAB --dist REPO [--upto LAB] [--out DIR]
    dist.py update --dist REPO [--upto LAB] [--out DIR]
    dist.py leaks DIR                 the leak check alone, on any release folder

release (`make dist UPTO=03 PUBLISH=01`) writes DIR/NAME/ (default
build/dist/labs-upto-03/), a git repository of one commit, and DIR/NAME.tar.gz
(the same files without .git). It holds: the core and build rules, labs/,
starter/ and handouts of the labs up to UPTO (empty: all), solutions/ of the
labs up to PUBLISH (empty: the released labs course.toml publishes), a
course.toml whose published list names exactly those solutions (the release's
build rules link what it names), the grader a student runs (grade.py, the
harness, the models and tests of those labs, the gdb commands), the TA guide,
the site builder, the Makefile and README. Instructor tools the Makefile calls
(make check, bench, grade-class, gradescope, dist, publish) are replaced by a
short script that says they are not part of a student release. Files come
from the kit's last commit (HEAD), never from uncommitted work.

publish (`make publish LAB=02 DIST=build/dist/labs-upto-03`) adds
solutions/LAB to an existing release and LAB to its course.toml, as one new
commit (students run `make update`), refreshes the kit's own files (labs/, grader/, handouts) from HEAD, and never
touches starter/ files that were already released (those belong to the
students now). --upto also releases further labs in the same commit. It also
writes DIR/NAME-publish-LAB.tar.gz with the files the commit adds or changes,
for students who started from the tarball. update does the same without a
solution: a fix to the grader or a lab's kit side, or (--upto) the next labs.

Both refuse (exit 1, nothing written or committed) when the leak check
(grader/course/leaks.py) finds code of a solution that is not published anywhere in
the release. Labs are named by number or folder: 3, 03, 03-cr3, cr3.
"""
import argparse
import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

GRADER = Path(__file__).resolve().parents[1]
KIT = GRADER.parent
sys.path.insert(0, str(GRADER))
from course import config, leaks  # noqa: E402

MANIFEST = ".release.json"
TOP_FILES = ("Makefile", "README.md", ".gitignore", ".editorconfig", ".clang-format")
INSTRUCTOR_HANDOUTS = ("instructor-guide.md", "releasing.md")
GRADER_ALWAYS = ("grader/grade.py", "grader/conftest.py")
STAFF = ("Course staff", "staff@course.invalid")
STUDENT_TOOLS = ("grader/course/update.py",    # make update in a release
                 "grader/course/classroom/summary.py",   # the workflow's score table
                 "grader/course/config.py")   # course.toml, read by make handouts (handouts/site/build.py)
# GitHub Classroom: the workflow that grades every push, at the place GitHub reads it
WORKFLOW = ("grader/course/classroom/grade.yml", ".github/workflows/grade.yml")
SELF_CHECK = "grader/course/selfcheck.py"      # shipped as grader/check.py (make check)


class DistError(Exception):
    pass


# ---- the kit's files -------------------------------------------------------------

def git(*args, cwd=KIT, check=True, env=None):
    r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise DistError(f"git {' '.join(args)} failed in {cwd}:\n{r.stderr.strip()}")
    return r.stdout


def snapshot(kit=KIT, rev="HEAD"):
    """{path: (mode, bytes)} of every file of the kit's commit `rev`."""
    data = subprocess.run(["git", "archive", "--format=tar", rev], cwd=kit,
                          capture_output=True)
    if data.returncode != 0:
        raise DistError(f"git archive {rev} failed in {kit}: {data.stderr.decode().strip()}")
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
        for m in tar:
            if m.isfile():
                files[m.name] = (0o755 if m.mode & 0o111 else 0o644, tar.extractfile(m).read())
    return files


def uncommitted(kit=KIT):
    """Files of the kit with changes that are not committed (a release leaves them out)."""
    out = git("status", "--porcelain", "--", "labs", "starter", "solutions", "grader", "handouts",
              *TOP_FILES, cwd=kit, check=False)
    return [line[3:] for line in out.splitlines() if line.strip()]


def all_labs(files):
    """The lab folders of a snapshot, in order (labs/NN-name)."""
    return sorted({p.split("/")[1] for p in files
                   if re.match(r"labs/\d\d-[^/]+/", p)})


def resolve(spec, labs, what):
    """'3' | '03' | '03-cr3' | 'cr3' -> '03-cr3'."""
    spec = spec.strip()
    for lab in labs:
        if spec in (lab, lab[:2], lab[3:]) or (spec.isdigit() and int(spec) == int(lab[:2])):
            return lab
    raise DistError(f"{what}: no lab '{spec}' (labs: {' '.join(labs)})")


def labs_upto(labs, spec, what, empty_all):
    if not spec:
        return list(labs) if empty_all else []
    last = resolve(spec, labs, what)
    return labs[:labs.index(last) + 1]


# ---- what a release holds ------------------------------------------------------------

def grader_imports(files, roots):
    """The grader's Python files that roots import, transitively (grader/ is on sys.path)."""
    have = {p for p in files if p.startswith("grader/") and p.endswith(".py")}
    keep, todo = set(), [r for r in roots if r in files]
    while todo:
        path = todo.pop()
        if path in keep:
            continue
        keep.add(path)
        try:
            tree = ast.parse(files[path][1].decode())
        except SyntaxError:
            continue
        here = str(Path(path).parent)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = Path(here)
                    for _ in range(node.level - 1):
                        pkg = pkg.parent
                    prefix = str(pkg.relative_to("grader")).replace("/", ".")
                    base = ".".join(x for x in (prefix if prefix != "." else "", base) if x)
                names = [base] + [f"{base}.{a.name}" if base else a.name for a in node.names]
            for name in names:
                rel = name.replace(".", "/")
                for cand in (f"grader/{rel}.py", f"grader/{rel}/__init__.py"):
                    if cand in have:
                        todo.append(cand)
                pkg_dir = f"grader/{rel}/"
                if f"{pkg_dir}__init__.py" in have:   # a package ships whole
                    todo += [p for p in have if p.startswith(pkg_dir)]
    return keep


def makefile_scripts(files):
    """The grader/handouts scripts the Makefile runs: {path: target names}."""
    text = files["Makefile"][1].decode() if "Makefile" in files else ""
    scripts, target = {}, None
    for line in text.splitlines():
        m = re.match(r"^([\w.-]+(?:\s+[\w.-]+)*)\s*:(?!=)", line)
        if m:
            target = m.group(1).split()[0]
        elif line.startswith("\t") and target:
            for s in re.findall(r"\$\(KIT\)/((?:grader|handouts)/[\w/.-]+\.py)", line):
                scripts.setdefault(s, []).append(target)
    return scripts


def stub_script(path, targets):
    what = ", ".join(f"make {t}" for t in targets) or path
    return (f'#!/usr/bin/python3\n"""Left out of this student release: {path} is an instructor tool."""\n'
            f"import sys\n\nsys.exit(\"{what}: an instructor tool of the kit, not part of this "
            f"student release (it needs every lab's solution). Grade your work with `make grade`.\")\n"
            ).encode()


def plan(files, released, published):
    """{path: (mode, bytes)} of a release of the labs `released` with the solutions
    of `published`, from a kit snapshot `files`."""
    out = {}

    def take(p):
        out[p] = files[p]

    for p in files:
        parts = p.split("/")
        top = parts[0]
        if p in TOP_FILES:
            take(p)
        elif top == "labs":
            # the shared build rules (labs/*.mk), the core, the released labs
            if len(parts) == 2 or parts[1] == "kernel" or parts[1] in released:
                take(p)
        elif top == "starter" and parts[1] in released:
            take(p)
        elif top == "solutions" and parts[1] in published:
            take(p)
        elif top == "handouts":
            name = parts[1]
            if name == "site" or (name == "img" and len(parts) > 2 and parts[2][:2] in
                                  {l[:2] for l in released}):
                take(p)
            elif len(parts) == 2 and name.endswith(".md") and name not in INSTRUCTOR_HANDOUTS:
                if not re.match(r"\d\d-", name) or name[:-3] in released:
                    take(p)
        elif top == "grader" and len(parts) > 1 and parts[1] == "gdb":
            take(p)
    tests = [p for p in files if re.match(r"grader/test_\d\d_\w+\.py$", p)
             and any(p[12:14] == l[:2] for l in released)]
    for p in grader_imports(files, list(GRADER_ALWAYS) + tests):
        take(p)
    for p in STUDENT_TOOLS:
        if p in files:
            take(p)
    if WORKFLOW[0] in files:
        out[WORKFLOW[1]] = files[WORKFLOW[0]]
    if SELF_CHECK in files:   # make check in a release: the student's self-check
        out["grader/check.py"] = (0o755, files[SELF_CHECK][1])
    for script, targets in makefile_scripts(files).items():
        if script not in out and not script.startswith("grader/selftest/"):   # no self-test in a release
            out[script] = (0o755, stub_script(script, targets))
    out["README.md"] = (0o644, student_readme(out, released, published,
                                              course_of(files, all_labs(files))).encode())
    return out


def _title(text, fallback):
    m = re.search(r"(?m)^# (.+)$", text)
    return m.group(1).strip() if m else fallback


def student_readme(content, released, published, course):
    """The release's README.md: the labs it holds, its two commands, how to
    submit and take a published solution; links only to files it ships."""
    rows = []
    for lab in released:
        handout = f"handouts/{lab}.md"
        title = _title(content[handout][1].decode(errors="replace"), lab) if handout in content else lab
        link = f"[{title}]({handout})" if handout in content else title
        due = course.lab(lab).deadline
        rows.append(f"| `{lab}` | {link} | {due.isoformat(sep=' ', timespec='minutes') if due else '-'} "
                    f"| {'yes' if lab in published else 'not yet'} |")
    first = released[0][:2]
    late = course.late
    policy = []
    if late.penalty_per_day or late.late_days:
        policy = ["", f"Late work: {late.grace_minutes:g} minutes of grace, then whole days late "
                  f"(a started day counts). You have {late.late_days} late day(s) for the whole course, "
                  f"spent on your earliest late labs; each further day costs {late.penalty_per_day:g}% "
                  f"of that lab's score, at most {late.cap:g}%."]
    lines = [
        f"# {course.name}: the labs", "",
        "Each lab is a small x86-64 kernel (Lab 6: a Cortex-M one) that you complete in "
        "`starter/<lab>/`; the grader boots it in QEMU and checks what it does.", "",
        "| lab | handout | deadline | solution published |", "| --- | --- | --- | --- |", *rows, *policy, "",
        "## The two commands", "",
        "```sh",
        f"{'make grade LAB=' + first:<20}# build lab {first} from your starter/ files and grade it "
        "(a score per test)",
        f"{'make check':<20}# is this copy ready? tools present, every lab builds, the tests run",
        "```", "",
        "`make grade` without LAB grades every lab. On Debian or Ubuntu, `make setup` installs the "
        "packages the labs need (as root; else it prints the apt-get line). "
        f"`make qemu LAB={first}` runs a lab's kernel on your terminal and `make gdb LAB={first}` "
        "debugs it (after `make qemu-gdb`).", "",
        "## Submitting", "",
        "You write only the `.c`, `.h` and `.S` files under `starter/<lab>/`; the grader takes those and "
        "nothing else. Hand in what your course asks for: the files of `starter/<lab>/` (or a zip of "
        "this repository) to the lab's Gradescope assignment, or a `git push` when your course grades "
        "your repository. The grade you see from `make grade` is the one the course's grader computes "
        "on the same files.", "",
        *classroom_section(content),
        "## Taking a published solution: `make update`", "",
        "When the course staff publish a lab's solution (or release the next lab), commit your work and run:",
        "", "```sh", "git add -A starter && git commit -m 'my work'", "make update", "```", "",
        "`make update` fetches the course repository and merges it into yours (`git fetch`, then "
        "`git merge`; your `pull.rebase` setting does not matter). It never replaces your "
        "`starter/` files: later labs then build on the published solution where the course "
        "publishes one, else on your own earlier work. If git cannot merge a file you changed, "
        "`make update` names it and says how to finish or abandon the merge.",
        "`make grade LAB=<lab> SOLUTION=1` grades a published solution; before it is published it "
        "says so.",
    ]
    return "\n".join(lines) + "\n"


def classroom_section(content):
    """The README's lines on the GitHub Actions workflow, when the release ships it."""
    if WORKFLOW[1] not in content:
        return []
    return [
        "## Grading on GitHub (GitHub Classroom)", "",
        f"Every push of this repository to GitHub runs `{WORKFLOW[1]}`: it installs the packages, "
        "grades every lab as `make grade` does, and shows the score table on the run's page "
        "(the Actions tab, the run, its Summary), with the results as the run's `grade` artifact "
        "(`grade.json`, `summary.md`). A green run means grading ran, whatever the score: read the "
        "score in the summary. A red run means the grader could not finish (its log says why), "
        "not that your score is low.", ""]


def course_file(files, published, released=None):
    """The release's course.toml: the kit's (from the snapshot), publishing
    exactly the solutions the release holds and naming the labs it releases."""
    text = files[config.FILE][1].decode() if config.FILE in files else None
    text = config.with_published(text, published)
    if released is not None:
        text = config.with_list(text, "released", released)
    return (0o644, text.encode())


def course_of(files, labs):
    """The snapshot's course file, read (defaults when it has none)."""
    if config.FILE not in files:
        return config.Course()
    try:
        return config.parse(files[config.FILE][1].decode(), labs, config.FILE)
    except config.CourseError as e:
        raise DistError(str(e)) from None


def course_published(files, labs):
    """The solutions the snapshot's course.toml publishes."""
    return course_of(files, labs).published


def manifest(released, published, commit, history):
    return (json.dumps({
        "note": "A student release of the kit, made by grader/course/dist.py. The instructor adds "
                "solutions with `make publish LAB=.. DIST=<this repository>`.",
        "labs": released, "published": published, "kit_commit": commit,
        "history": history}, indent=1) + "\n").encode()


# ---- the leak check ---------------------------------------------------------------

def check_leaks(release, files, published):
    """Every place the release holds code of a solution it does not publish."""
    units = [u for lab in sorted({p.split("/")[1] for p in files if p.startswith("solutions/")})
             if lab not in published for u in leaks.solution_units(_texts(files), lab)]
    return leaks.find_leaks(_texts(release), units)


def _texts(files):
    out = {}
    for p, (_, data) in files.items():
        if b"\0" in data[:4096]:
            continue
        out[p] = data.decode("utf-8", errors="replace")
    return out


def leak_report(found):
    lines = {}
    for leak in found:
        key = (leak.path, leak.unit.source)
        lines.setdefault(key, []).append(leak)
    out = []
    for (path, source), group in sorted(lines.items()):
        names = ", ".join(sorted({l.unit.name for l in group}))
        first = max(group, key=lambda l: len(l.matched))
        out.append(f"  {path}: code of unpublished {source} ({names}); "
                   f"lines {', '.join(map(str, first.matched[:10]))}")
    return "\n".join(out)


# ---- writing a release ------------------------------------------------------------

def write_tree(root, files):
    for p, (mode, data) in files.items():
        dest = root / p
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.chmod(mode)


def git_env():
    """Commit as the instructor when git knows them, else as 'Course staff'."""
    env = dict(os.environ)
    if not git("config", "user.name", check=False).strip():
        env.setdefault("GIT_AUTHOR_NAME", STAFF[0])
        env.setdefault("GIT_COMMITTER_NAME", STAFF[0])
    if not git("config", "user.email", check=False).strip():
        env.setdefault("GIT_AUTHOR_EMAIL", STAFF[1])
        env.setdefault("GIT_COMMITTER_EMAIL", STAFF[1])
    return env


def tarball(path, root, files, prefix):
    # gzip's own default level: tarfile's (9) took twice the CPU for 1% less
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        for p in sorted(files):
            info = tar.gettarinfo(str(root / p), arcname=f"{prefix}/{p}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(root / p, "rb") as f:
                tar.addfile(info, f)


def describe(released, published):
    span = f"{released[0][:2]}-{released[-1][:2]}" if len(released) > 1 else released[0][:2]
    pub = ", ".join(l[:2] for l in published) or "none"
    return f"labs {span}, solutions {pub}"


def release(kit, upto, publish, out, name=None, force=False):
    files = snapshot(kit)
    labs = all_labs(files)
    if not labs:
        raise DistError("no labs in the kit's last commit")
    if upto:
        released = labs_upto(labs, upto, "UPTO", empty_all=True)
    else:   # the course file's released labs (all when it names none)
        released = course_of(files, labs).released_labs(labs)
    if publish:
        published = labs_upto(labs, publish, "PUBLISH", empty_all=False)
        if not set(published) <= set(released):
            raise DistError(f"PUBLISH={publish} is past UPTO={upto}: publish only released labs")
    else:
        published = [l for l in course_published(files, labs) if l in released]
    name = name or f"labs-upto-{released[-1][:2]}"
    root, tgz = Path(out) / name, Path(out) / f"{name}.tar.gz"
    if root.exists() and not force:
        raise DistError(f"{root} exists: it may be the repository students cloned. To add a "
                        f"solution use `make publish LAB=.. DIST={root}`; to start over remove it "
                        f"(or pass --force)")
    commit = git("rev-parse", "HEAD", cwd=kit).strip()
    content = plan(files, released, published)
    content[config.FILE] = course_file(files, published, released)
    found = check_leaks(content, files, published)
    if found:
        raise DistError("unpublished solution code in the release, nothing written:\n"
                        + leak_report(found))
    content[MANIFEST] = (0o644, manifest(released, published, commit,
                                         [{"release": describe(released, published), "kit_commit": commit}]))
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    write_tree(root, content)
    env = git_env()
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", f"Student release: {describe(released, published)}\n\n"
        f"Made from the kit's commit {commit} by grader/course/dist.py.", cwd=root, env=env)
    tarball(tgz, root, content, name)
    return root, tgz, released, published, len(content)


def publish(kit, lab_spec, dist, upto=None, out=None):
    """Add solutions/<lab> (lab_spec None: nothing, an update of the kit's files only)
    and the labs up to `upto` to the release repository dist, as one commit."""
    dist = Path(dist).resolve()
    if not (dist / MANIFEST).exists() or not (dist / ".git").exists():
        raise DistError(f"{dist} is not a release repository (no {MANIFEST} or .git): "
                        f"make one with `make dist`")
    if git("status", "--porcelain", cwd=dist).strip():
        raise DistError(f"{dist} has uncommitted changes: commit or remove them first")
    man = json.loads((dist / MANIFEST).read_text())
    files = snapshot(kit)
    labs = all_labs(files)
    released = list(man["labs"])
    if upto:
        released = sorted(set(released) | set(labs_upto(labs, upto, "--upto", empty_all=True)))
    added = [l for l in released if l not in man["labs"]]
    published = sorted(man["published"])
    lab = resolve(lab_spec, labs, "LAB") if lab_spec else None
    if lab:
        if lab not in released:
            raise DistError(f"lab {lab} is not in this release (labs {', '.join(released)}): "
                            f"add --upto {lab[:2]} to release it too")
        if lab in published and not added:
            raise DistError(f"solutions/{lab} is already published in {dist}")
        published = sorted(set(published) | {lab})
    content, kept = keep_students_files(plan(files, released, published), dist, man["labs"])
    content[config.FILE] = course_file(files, published, released)
    found = check_leaks(content, files, published)
    if found:
        raise DistError("unpublished solution code in the update, nothing committed:\n"
                        + leak_report(found))
    commit = git("rev-parse", "HEAD", cwd=kit).strip()
    what = " and ".join(x for x in (f"solutions/{lab}" if lab else "",
                                    f"labs {', '.join(l[:2] for l in added)}" if added else "")
                        if x) or "the kit's files as of its last commit"
    history = man.get("history", []) + [{"publish" if lab else "update": what, "kit_commit": commit}]
    content[MANIFEST] = (0o644, manifest(released, published, commit, history))
    old = tracked(dist)
    changed = [p for p, (_, data) in content.items()
               if p not in old or (dist / p).read_bytes() != data]
    removed = sorted(old - set(content))
    if changed == [MANIFEST] and not removed:
        raise DistError(f"nothing to update: {dist} already holds the kit's last commit")
    for p in removed:
        (dist / p).unlink()
    write_tree(dist, {p: content[p] for p in changed})
    git("add", "-A", cwd=dist)
    git("commit", "-q", "-m", f"{'Publish' if lab else 'Update'} {what}\n\n"
        f"From the kit's commit {commit} by grader/course/dist.py.", cwd=dist, env=git_env())
    out = Path(out) if out else dist.parent
    tgz = out / f"{dist.name}-{'publish-' + lab[:2] if lab else 'update-' + commit[:7]}.tar.gz"
    out.mkdir(parents=True, exist_ok=True)
    tarball(tgz, dist, changed, dist.name)
    return what, sorted(changed), removed, kept, tgz


def tracked(repo):
    return {p for p in git("ls-files", "-z", cwd=repo).split("\0") if p}


def keep_students_files(content, dist, released_before):
    """Starter files of labs already released belong to the students now: take the
    release's own copies (a changed starter would make their merge conflict).
    Returns (content, the starter files the kit changed since)."""
    old, kept = tracked(dist), []
    for p in list(content):
        if p.startswith("starter/") and p.split("/")[1] in released_before and p in old:
            data = (dist / p).read_bytes()
            if data != content[p][1]:
                kept.append(p)
            content[p] = (content[p][0], data)
    for p in old:
        if p.startswith("starter/") and p.split("/")[1] in released_before and p not in content:
            content[p] = (0o644, (dist / p).read_bytes())
    return content, sorted(kept)


# ---- command line ------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("release", help="build a student release (make dist)")
    r.add_argument("--upto", default="", help="last lab released (empty: all)")
    r.add_argument("--publish", default="", help="last lab whose solution ships (empty: none)")
    r.add_argument("--out", default=str(KIT / "build" / "dist"))
    r.add_argument("--name")
    r.add_argument("--force", action="store_true", help="replace an existing release folder")
    p = sub.add_parser("publish", help="publish one more solution into a release (make publish)")
    p.add_argument("--lab", required=True)
    p.add_argument("--dist", required=True, help="the release repository")
    p.add_argument("--upto", help="also release the labs up to this one")
    p.add_argument("--out", help="where the update tarball goes (default: beside the repository)")
    u = sub.add_parser("update", help="bring a release's kit files (labs, grader, handouts) up to "
                       "the kit's last commit, publishing nothing")
    u.add_argument("--dist", required=True, help="the release repository")
    u.add_argument("--upto", help="also release the labs up to this one")
    u.add_argument("--out", help="where the update tarball goes (default: beside the repository)")
    k = sub.add_parser("leaks", help="run the leak check on a release folder")
    k.add_argument("dir")
    args = ap.parse_args()
    if args.cmd in ("release", "publish", "update"):
        left = uncommitted()
        if left:
            print(f"dist: note: {len(left)} uncommitted change(s) in the kit are not in this "
                  f"release (it is built from the last commit): {' '.join(left[:6])}"
                  f"{' ...' if len(left) > 6 else ''}", file=sys.stderr)
    try:
        if args.cmd == "release":
            root, tgz, released, published, n = release(KIT, args.upto, args.publish, args.out,
                                                         args.name, args.force)
            print(f"dist: {describe(released, published)}: {n} files, no unpublished solution inside")
            print(f"dist: repository {root}  (students clone it)")
            print(f"dist: tarball    {tgz}")
        elif args.cmd in ("publish", "update"):
            if not args.dist:
                raise DistError("say which release: DIST=<release repository>")
            lab = args.lab if args.cmd == "publish" else None
            what, changed, removed, kept, tgz = publish(KIT, lab, args.dist, args.upto, args.out)
            print(f"dist: {'published' if lab else 'updated'} {what} in {args.dist}: {len(changed)} "
                  f"file(s) added or changed, {len(removed)} removed, one commit")
            print(f"dist: push it (git -C {args.dist} push); students then run `make update`")
            for p in kept:
                print(f"dist: note: {p} differs in the kit, but students own it: left as released")
            if lab:
                name = config.resolve_lab(lab, config.kit_labs(KIT))
                if name not in config.load(KIT).published:
                    print(f"dist: note: the kit's {config.FILE} does not publish {name} yet: add it "
                          f"there too, so `make grade-class` and `make gradescope` link it as the "
                          f"release does")
            print(f"dist: the same files as a tarball: {tgz}")
        else:
            root = Path(args.dir)
            man = json.loads((root / MANIFEST).read_text()) if (root / MANIFEST).exists() else {}
            rel = {str(f.relative_to(root)): (0o644, f.read_bytes()) for f in root.rglob("*")
                   if f.is_file() and not {".git", "build"} & set(f.relative_to(root).parts)}
            found = check_leaks(rel, snapshot(KIT), man.get("published", []))
            print(leak_report(found) if found else f"dist: no unpublished solution in {root}")
            sys.exit(1 if found else 0)
    except DistError as e:
        sys.exit(f"dist: {e}")


if __name__ == "__main__":
    main()
