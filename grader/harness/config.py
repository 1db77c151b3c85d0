"""Where the kit is and which build of each lab is being graded.

The grade runner sets these through the environment, so pytest workers agree:
  KIT_VARIANT   starter | solution | submission   (default starter)
  KIT_BUILD     folder holding <lab>/<variant>/kernel.iso (default <kit>/build)
"""
import os
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
    return lab_dir(lab) / "kernel.iso"


def kernel_elf(lab):
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


def new_rng(tag=""):
    """A Random for values chosen per boot. KIT_SEED=n makes a run repeatable;
    the seed is part of the failure messages that print it."""
    import random
    seed = int(os.environ.get("KIT_SEED", 0)) or random.SystemRandom().getrandbits(32)
    r = random.Random(f"{seed}:{tag}")
    r.seed_value = seed
    return r
