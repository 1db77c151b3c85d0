#!/usr/bin/python3
"""Run the release's GitHub Actions workflow here, step by step: a small local runner.

    actions.py [--upto LAB] [--publish LAB] [--workspace DIR] [--workflow FILE] [--keep DIR]

Without --workspace it makes a student release of the kit's last commit
(`make dist UPTO=..`), clones it as a student would, and runs the workflow
there (grader/course/classroom/grade.yml, which the release carries as
.github/workflows/grade.yml). Prints each step's verdict and time, then the
job summary; exits 0 when every step succeeded.

It understands exactly the YAML the kit's workflow is written in (see
parse()) and the keys and actions it uses (see validate()); anything else is
an error naming the line or the key, never a guess. A `run:` step runs as
GitHub runs it (`bash -e {0}`, or `bash --noprofile --norc -eo pipefail {0}`
with `shell: bash`) in the clone, with GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY
and GITHUB_OUTPUT (one file per step), GITHUB_ACTIONS=true and CI=true set;
a step after a failed one runs only with `if: always()`. A `uses:` step is
not run: actions/checkout is the clone itself, and for
actions/upload-artifact the runner checks that the path it names exists (a
folder: not empty), as `if-no-files-found: error` would.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRADER = HERE.parents[1]
KIT = GRADER.parent
WORKFLOW = HERE / "grade.yml"


class WorkflowError(Exception):
    """A construct of the workflow this runner does not understand."""


# ---- the YAML subset -----------------------------------------------------------------

KEY = re.compile(r"([A-Za-z0-9_.-]+):(?:\s+(.*))?$")
NOT_PLAIN = tuple("&*!{}>|%@`'\"[]#,?")


def strip_comment(text):
    """text without a trailing ` # comment` (a # inside quotes stays)."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text


class _Parser:
    """Block mappings and sequences by indentation (spaces), `key: value` with a
    plain, 'single' or "double" quoted scalar (no escapes), a flow list of plain
    scalars `[a, b]`, literal blocks `|` and `|-`, comments. Plain scalars that
    are integers become int, true/false bool; everything else is a string."""

    def __init__(self, text):
        self.lines = text.split("\n")
        self.i = 0

    def fail(self, idx, what):
        raise WorkflowError(f"line {idx + 1}: {what}: {self.lines[idx].strip()!r}")

    def peek(self):
        """(index, indent, text) of the next line with content, comments stripped."""
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            lead = raw[:len(raw) - len(raw.lstrip(" \t"))]
            if "\t" in lead:
                self.fail(self.i, "a tab in the indentation")
            text = strip_comment(raw.strip())
            if text:
                if text in ("---", "...") or text.startswith("%"):
                    self.fail(self.i, "a document marker or directive")
                return self.i, len(lead), text
            self.i += 1
        return None

    def document(self):
        first = self.peek()
        if first is None:
            raise WorkflowError("the workflow is empty")
        if first[1]:
            self.fail(first[0], "the first line is indented")
        node = self.node(0)
        rest = self.peek()
        if rest is not None:
            self.fail(rest[0], "not understood here (indentation?)")
        return node

    def node(self, indent):
        _, _, text = self.peek()
        return self.sequence(indent) if text == "-" or text.startswith("- ") else self.mapping(indent)

    def sequence(self, indent):
        items = []
        while (p := self.peek()) is not None and p[1] >= indent:
            idx, ind, text = p
            if ind > indent:
                self.fail(idx, "unexpected indentation")
            if not text.startswith("- "):
                if text == "-":
                    self.fail(idx, "an empty list item")
                break
            after = text[2:]
            column = ind + 2 + len(after) - len(after.lstrip(" "))
            after = after.strip()
            if KEY.match(after):
                # "- key: value": a mapping whose keys start at that column
                self.lines[idx] = " " * column + after
                items.append(self.mapping(column))
            else:
                self.i += 1
                items.append(self.scalar(after, idx))
        return items

    def mapping(self, indent):
        out = {}
        while (p := self.peek()) is not None and p[1] >= indent:
            idx, ind, text = p
            if ind > indent:
                self.fail(idx, "unexpected indentation")
            if text.startswith("- ") or text == "-":
                self.fail(idx, "a list item where a key was expected")
            m = KEY.match(text)
            if not m:
                self.fail(idx, "not a `key: value` line this runner understands")
            key, rest = m.group(1), (m.group(2) or "").strip()
            if key in out:
                self.fail(idx, f"the key {key!r} again")
            self.i += 1
            if rest in ("|", "|-"):
                out[key] = self.literal(indent, rest == "|")
            elif rest:
                out[key] = self.scalar(rest, idx)
            else:
                nxt = self.peek()
                if nxt is None or nxt[1] <= indent:
                    self.fail(idx, "a key without a value")
                out[key] = self.node(nxt[1])
        return out

    def literal(self, indent, keep_newline):
        start, body, block = self.i, [], None
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.strip():
                ind = len(raw) - len(raw.lstrip(" "))
                if ind <= indent:
                    break
                if "\t" in raw[:len(raw) - len(raw.lstrip(" \t"))]:
                    self.fail(self.i, "a tab in the indentation")
                block = ind if block is None else block
                if ind < block:
                    self.fail(self.i, "a line of a | block indented less than its first line")
                body.append(raw[block:])
            else:
                body.append("")
            self.i += 1
        if block is None:
            self.fail(start - 1, "an empty | block")
        text = "\n".join(body).rstrip("\n")
        self._no_expression(text, start - 1)
        return text + "\n" if keep_newline else text

    def scalar(self, text, idx):
        if text.startswith("'"):
            if len(text) < 2 or not text.endswith("'") or "'" in text[1:-1].replace("''", ""):
                self.fail(idx, "a 'quoted' value not closed on its line")
            value = text[1:-1].replace("''", "'")
        elif text.startswith('"'):
            if len(text) < 2 or not text.endswith('"') or '"' in text[1:-1] or "\\" in text:
                self.fail(idx, 'a "quoted" value with escapes or not closed on its line')
            value = text[1:-1]
        elif text.startswith("["):
            if not text.endswith("]"):
                self.fail(idx, "a [flow list] not closed on its line")
            parts = [p.strip() for p in text[1:-1].split(",")]
            if not all(parts) or any(p.startswith(NOT_PLAIN) or ": " in p or " " in p for p in parts):
                self.fail(idx, "a [flow list] of anything but plain words")
            return [self.scalar(p, idx) for p in parts]
        else:
            if text.startswith(NOT_PLAIN) or text.startswith("- ") or ": " in text or text.endswith(":"):
                self.fail(idx, "a value this runner does not understand")
            if text in ("null", "~", "Null", "NULL"):
                self.fail(idx, "a null value")
            if re.fullmatch(r"-?[0-9]+", text):
                return int(text)
            if text in ("true", "false"):
                return text == "true"
            if text.lower() in ("yes", "no", "on", "off", "true", "false") or \
                    re.fullmatch(r"[-+]?(\.[0-9]+|[0-9][0-9_.:eE+-]*)", text):
                self.fail(idx, "a value YAML may read as a boolean or number: quote it")
            value = text
        self._no_expression(value, idx)
        return value

    def _no_expression(self, text, idx):
        if "${{" in text:
            self.fail(idx, "an expression ${{ }} (this runner cannot evaluate it)")


def parse(text):
    """The workflow as dicts, lists and scalars; WorkflowError on what it does not understand."""
    return _Parser(text).document()


# ---- what the runner knows of a workflow ----------------------------------------------

TOP_KEYS = {"name", "on", "jobs"}
JOB_KEYS = {"runs-on", "timeout-minutes", "steps", "name", "env"}
STEP_KEYS = {"name", "uses", "run", "shell", "if", "with", "env", "working-directory"}
ACTIONS = {"actions/checkout": set(), "actions/upload-artifact": {"name", "path", "if-no-files-found",
                                                                   "retention-days"}}
SHELLS = {None: ["bash", "-e"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}


def _keys(what, d, allowed):
    if not isinstance(d, dict):
        raise WorkflowError(f"{what} is not a mapping")
    extra = sorted(set(d) - allowed)
    if extra:
        raise WorkflowError(f"{what}: key(s) this runner does not understand: {', '.join(extra)}")


def validate(wf):
    """The workflow's single job (name, job); WorkflowError on anything the runner cannot do."""
    _keys("the workflow", wf, TOP_KEYS)
    events = wf.get("on")
    if not events or not isinstance(events, (list, str)):
        raise WorkflowError("on: a list of events is expected")
    if "jobs" not in wf or len(wf["jobs"] or {}) != 1:
        raise WorkflowError("jobs: exactly one job is expected")
    (name, job), = wf["jobs"].items()
    _keys(f"job {name}", job, JOB_KEYS)
    if not str(job.get("runs-on", "")).startswith("ubuntu-"):
        raise WorkflowError(f"job {name}: runs-on must be an ubuntu-* runner (the packages are Debian's)")
    if not isinstance(job.get("steps"), list) or not job["steps"]:
        raise WorkflowError(f"job {name}: no steps")
    for n, step in enumerate(job["steps"], 1):
        what = f"step {n} ({step.get('name', '?') if isinstance(step, dict) else step})"
        _keys(what, step, STEP_KEYS)
        if ("run" in step) == ("uses" in step):
            raise WorkflowError(f"{what}: exactly one of run: and uses: is expected")
        if step.get("if", "always()") != "always()":
            raise WorkflowError(f"{what}: if: {step['if']} (only always() is understood)")
        for key in ("env", "with"):
            if key in step and not isinstance(step[key], dict):
                raise WorkflowError(f"{what}: {key}: a mapping is expected")
        if "uses" in step:
            action = step["uses"].split("@")[0]
            if action not in ACTIONS:
                raise WorkflowError(f"{what}: the action {step['uses']} is not one this runner knows")
            _keys(f"{what}: with", step.get("with", {}), ACTIONS[action])
            if {"shell", "working-directory"} & set(step):
                raise WorkflowError(f"{what}: shell/working-directory on a uses: step")
        else:
            if step.get("shell") not in SHELLS:
                raise WorkflowError(f"{what}: shell {step['shell']} (bash only)")
            if "with" in step:
                raise WorkflowError(f"{what}: with: on a run: step")
    return name, job


# ---- running it --------------------------------------------------------------------

@dataclass
class Step:
    name: str
    kind: str             # run | uses
    status: str           # success | failure | skipped | not run
    seconds: float = 0.0
    note: str = ""
    output: str = ""
    summary: str = ""
    outputs: dict = field(default_factory=dict)
    annotations: list = field(default_factory=list)   # (level, title, message)


def clean_env(extra):
    """A runner's environment: nothing from the make, pytest or grade run around us."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KIT_", "MAKE", "PYTEST_", "GITHUB_", "RUNNER_")) and k not in
           ("MFLAGS", "SOLUTION", "SUBMISSION", "LAB", "TEST", "V", "GRADESCOPE", "CI")}
    env.update(extra)
    return env


def annotations(output):
    found = []
    for m in re.finditer(r"(?m)^::(notice|warning|error)(?: ([^:]*))?::(.*)$", output):
        title = dict(re.findall(r"(\w+)=([^,]*)", m.group(2) or "")).get("title", "")
        found.append((m.group(1), title, m.group(3)))
    return found


def run_step(step, workspace, env, scratch, n, deadline):
    summary, outputs = scratch / f"summary-{n}", scratch / f"output-{n}"
    summary.write_text("")
    outputs.write_text("")
    script = scratch / f"step-{n}.sh"
    script.write_text(step["run"])
    env = dict(env, **{k: str(v) for k, v in step.get("env", {}).items()},
               GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(outputs))
    cwd = workspace / step.get("working-directory", ".")
    t = time.monotonic()
    proc = subprocess.Popen(SHELLS[step.get("shell")] + [str(script)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    try:
        out = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
        note = "" if proc.returncode == 0 else f"exit status {proc.returncode}"
    except subprocess.TimeoutExpired:
        out, note = "", "the job's timeout-minutes ran out"
    finally:   # nothing the step started outlives it (a runner ends the job's processes too)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if note.startswith("the job's"):
        out = proc.communicate()[0]
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    return Step(step.get("name", step["run"].splitlines()[0]), "run",
                "success" if proc.returncode == 0 and not note else "failure",
                time.monotonic() - t, note, out, summary.read_text(), values, annotations(out))


def use_step(step, workspace):
    action, name = step["uses"].split("@")[0], step.get("name", step["uses"])
    if action == "actions/checkout":
        return Step(name, "uses", "not run", note="the workspace is a fresh clone: the checkout")
    path = workspace / step["with"]["path"]
    found = path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*")))
    ok = found or step["with"].get("if-no-files-found", "warn") != "error"
    what = ", ".join(sorted(str(p.relative_to(workspace)) for p in path.rglob("*") if p.is_file())) \
        if path.is_dir() else step["with"]["path"]
    return Step(name, "uses", "not run" if ok else "failure",
                note=f"would upload {what}" if found else f"no file at {step['with']['path']}")


def run(workflow_text, workspace, extra_env=None):
    """Run the workflow's job in workspace (a clone). Returns (job succeeded, [Step], job summary)."""
    _, job = validate(parse(workflow_text))
    workspace = Path(workspace).resolve()
    scratch = Path(tempfile.mkdtemp(prefix="kit-actions-"))
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True,
                         text=True).stdout.strip()
    env = clean_env({"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
                     "GITHUB_SHA": sha, "GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "push",
                     "GITHUB_ENV": str(scratch / "env"), "GITHUB_PATH": str(scratch / "path"),
                     "RUNNER_TEMP": str(scratch), **{k: str(v) for k, v in job.get("env", {}).items()},
                     **(extra_env or {})})
    deadline = time.monotonic() + 60 * int(job.get("timeout-minutes", 360))
    steps, failed = [], False
    try:
        for n, step in enumerate(job["steps"], 1):
            if failed and step.get("if") != "always()":
                steps.append(Step(step.get("name", "?"), "run" if "run" in step else "uses", "skipped",
                                  note="an earlier step failed"))
                continue
            s = run_step(step, workspace, env, scratch, n, deadline) if "run" in step \
                else use_step(step, workspace)
            failed = failed or s.status == "failure"
            steps.append(s)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return not failed, steps, "".join(s.summary for s in steps)


def release_clone(dest, upto, publish):
    """make dist UPTO=.. PUBLISH=.. of the kit's last commit, cloned to dest/clone."""
    sys.path.insert(0, str(GRADER))
    from course import dist
    root, *_ = dist.release(KIT, upto, publish, dest / "dist")
    clone = dest / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    return clone


def print_run(ok, steps, summary, out=sys.stdout):
    for s in steps:
        print(f"  {s.name:<32} {s.kind:<5} {s.status:<8} {s.seconds:6.1f}s  {s.note}", file=out)
        for level, title, msg in s.annotations:
            print(f"      {level}: {title + ': ' if title else ''}{msg}", file=out)
        if s.status == "failure" and s.output:
            print("\n".join("      | " + l for l in s.output.splitlines()[-20:]), file=out)
    print(f"\njob summary:\n{summary or '(empty)'}", file=out)
    print(f"job: {'succeeded' if ok else 'FAILED'}", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workflow", default=str(WORKFLOW))
    ap.add_argument("--workspace", help="run in this clone (default: a fresh release's clone)")
    ap.add_argument("--upto", default="03", help="the release's last lab (default 03)")
    ap.add_argument("--publish", default="", help="the release's last published solution")
    ap.add_argument("--keep", help="make the release and its clone here (default: a temporary folder)")
    args = ap.parse_args()
    t = time.monotonic()
    dest = None
    try:
        text = Path(args.workflow).read_text()
        validate(parse(text))
        if args.workspace:
            workspace = Path(args.workspace)
        else:
            dest = Path(args.keep or tempfile.mkdtemp(prefix="kit-classroom-"))
            dest.mkdir(parents=True, exist_ok=True)
            workspace = release_clone(dest, args.upto, args.publish)
            print(f"actions: a release (UPTO={args.upto}) cloned in {workspace}")
        ok, steps, summary = run(text, workspace)
    except WorkflowError as e:
        sys.exit(f"actions: {args.workflow}: {e}")
    finally:
        if dest is not None and not args.keep:
            shutil.rmtree(dest, ignore_errors=True)
    print_run(ok, steps, summary)
    print(f"({time.monotonic() - t:.1f}s)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
