"""Where the kit is and which build of each lab is being graded.

The grade runner sets these through the environment, so pytest workers agree:
  KIT_VARIANT   starter | solution | submission   (default starter)
  KIT_BUILD     folder holding <lab>/<variant>/kernel.iso (default <kit>/build)
"""
import os
import threading
from pathlib import Path

KIT = Path(__file__).resolve().parents[2]
QEMU = os.environ.get("KIT_QEMU", "qemu-system-x86_64")


def variant():
    return os.environ.get("KIT_VARIANT", "starter")


def build_root():
    return Path(os.environ.get("KIT_BUILD", KIT / "build"))


def lab_dir(lab):
    return build_root() / lab / variant()


def kernel_iso(lab):
    """The lab's ISO, once its build has ended (BuildError if it failed)."""
    err = wait_build(lab)
    if err:
        raise BuildError(err)
    return lab_dir(lab) / "kernel.iso"


def kernel_elf(lab):
    """The lab's kernel ELF, once it is linked (BuildError if the build failed)."""
    err = wait_build(lab, "elf")
    if err:
        raise BuildError(err)
    return lab_dir(lab) / "kernel.elf"


def labs():
    """Every lab of the kit, in order: labs/NN-name folders."""
    return sorted(p.name for p in (KIT / "labs").glob("[0-9][0-9]-*") if p.is_dir())


def student_dir(lab):
    """The folder of the student files being graded for `lab` (for host-side tests)."""
    v = variant()
    if v == "solution":
        return KIT / "solutions" / lab
    if v.startswith("submission"):
        return Path(os.environ["KIT_SUBMISSION"]) / "starter" / lab
    return KIT / "starter" / lab


SEED_DIGITS = 6  # a seed drawn here: short enough to type back


class SeedError(ValueError):
    """KIT_SEED is not a positive whole number."""


def run_seed():
    """This run's one seed: KIT_SEED, or a number drawn now and put into the
    environment, so every lab, test and pytest worker of the run shares it
    and `KIT_SEED=<it> make grade ...` repeats the run (grade.py prints that
    line in each lab's header)."""
    text = os.environ.get("KIT_SEED", "").strip()
    if text:
        if not text.isdigit() or not int(text):
            raise SeedError(f"KIT_SEED={text!r}: a seed is a positive whole number, as a lab's header prints it")
        return int(text)
    import random
    seed = random.SystemRandom().randrange(10 ** (SEED_DIGITS - 1), 10 ** SEED_DIGITS)
    os.environ["KIT_SEED"] = str(seed)
    return seed


def new_rng(tag=""):
    """A Random for values chosen per boot, from the run's seed (run_seed())
    and `tag` (the lab, a part of it, a test): the same seed gives the same
    values, and two tags draw apart."""
    import random
    seed = run_seed()
    r = random.Random(f"{seed}:{tag}")
    r.seed_value = seed
    return r


# ---- builds still running in this process -------------------------------------
# grade.py starts `make` and runs pytest at once, so pytest's start-up and the
# test modules' imports overlap the compiler. A lab's build is then a Build here:
# a machine waits for the stage it boots from (the ELF for -kernel, the ISO for
# GRUB). Without an entry (pytest-xdist workers, --prebuilt, a plain pytest
# run) the build finished before pytest started and KIT_BUILD_FAILED says how.


class BuildError(AssertionError):
    """The lab did not compile or link: str() is what the student reads."""


class Build:
    def __init__(self):
        self.elf = threading.Event()   # set once kernel.elf is linked (or the build failed)
        self.done = threading.Event()  # set once the whole build has ended
        self.ok = None                 # True / False once done
        self.log = ""

    def linked(self):
        self.elf.set()

    def finished(self, ok, log):
        self.ok, self.log = ok, log  # before the events: a waiter they wake reads them
        self.elf.set()
        self.done.set()


_builds = {}


def track_build(lab):
    """The Build of `lab` in this process (made on first call)."""
    return _builds.setdefault(lab, Build())


def wait_build(lab, stage="done", timeout=600):
    """Wait until `lab`'s build reached `stage` ("elf" or "done"); return the
    build error a student should read, or None."""
    b = _builds.get(lab)
    if b is not None:
        getattr(b, stage).wait(timeout)
        if stage == "elf" and not b.done.is_set() and b.ok is not False:
            return None
        b.done.wait(timeout)
        return None if b.ok else build_error(lab, b.log)
    if lab in os.environ.get("KIT_BUILD_FAILED", "").split(","):
        log = Path(os.environ.get("KIT_BUILD_LOGS", "/nonexistent")) / f"{lab}.log"
        return build_error(lab, log.read_text(errors="replace") if log.exists() else "")
    return None


def build_done(lab):
    """Has `lab`'s build ended (or was it never tracked here)?"""
    b = _builds.get(lab)
    return b is None or b.done.is_set()


def build_error(lab, log):
    """What a student reads when `lab` did not build: first the line that names
    the limit the build went over or what the build sandbox refused
    (labs/sandbox.sh), then the end of the build's output."""
    for line in log.splitlines():
        if line.startswith(("kit: build stopped: ", "kit: refused: ")):
            return f"build error: lab {lab}: {line[5:]}\n{log[-3000:]}"
    return f"build error: lab {lab} does not compile or link.\n{log[-3000:]}"


def export_make_jobs():
    """KIT_JOBS, make's parallel jobs (labs/common.mk), for every make this
    process starts: counted here as nproc counts them (the CPUs it may run on),
    so no make starts nproc for it. A value already set is kept."""
    os.environ.setdefault("KIT_JOBS", str(len(os.sched_getaffinity(0))))


def sandbox_mode():
    """The build sandbox for this run's makes, from labs/sandbox.sh --probe
    (which honours KIT_SANDBOX=none): ("bwrap" or "none", the line saying
    the build is degraded, or ""). KIT_SANDBOX_NOTE carries the line from a
    process that probed already (the class grader)."""
    mode = os.environ.get("KIT_SANDBOX", "")
    if mode in ("bwrap", "none") and "KIT_SANDBOX_NOTE" in os.environ:
        return mode, os.environ["KIT_SANDBOX_NOTE"]
    import subprocess
    try:
        r = subprocess.run(["/bin/sh", str(KIT / "labs" / "sandbox.sh"), "--probe"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        mode, note = r.stdout.strip(), r.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        mode, note = "", f"build sandbox: degraded (the probe failed: {e}): limits and textual checks only"
    return (mode, note) if mode in ("bwrap", "none") else ("none", note)
