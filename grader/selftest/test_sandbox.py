"""The build sandbox (labs/sandbox.sh, labs/sandbox-as) holds: each attack
on a build is one small compile through the script, as the build rules run
it, in both modes (under bubblewrap where this machine allows it, and
degraded: limits and textual checks only). A compile over a limit or
refused ends with a line naming the limit or the rule, leaves nothing
behind, and never shows what it was not allowed to read."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import config

SANDBOX = config.KIT / "labs" / "sandbox.sh"
AS = config.KIT / "labs" / "sandbox-as"
SECRET = "kit-secret-7d1f"  # the text of a file the build must not read
BWRAP = config.sandbox_mode()[0] == "bwrap"
MODES = [pytest.param("bwrap", marks=pytest.mark.skipif(not BWRAP, reason="no user namespaces here")),
         "none"]
CFLAGS = ["-std=gnu11", "-O1", "-g", "-ffreestanding", "-fno-pic", "-mcmodel=kernel", "-mno-red-zone",
          "-fno-asynchronous-unwind-tables"]


class Tree:
    """A staged source folder (src/), a file beside it that is not staged
    (secret/answer.h), and an output folder (out/)."""

    def __init__(self, root):
        self.root = root
        self.src, self.out, self.secret = root / "src", root / "out", root / "secret" / "answer.h"
        for d in (self.src, self.out, self.secret.parent):
            d.mkdir(parents=True)
        self.secret.write_text(f'const char answer[] = "{SECRET}";\n')

    def env(self, mode, **limits):
        env = dict(os.environ, KIT_SANDBOX=mode, KIT_SANDBOX_SRC=f"{config.KIT}/labs/kernel/include\n{self.src}")
        env.update({f"KIT_LIMIT_{k.upper()}": str(v) for k, v in limits.items()})
        return env

    def compile(self, mode, text, first=None, **limits):
        """Compile src/x.c holding text as the build rules do, after src/a.c
        holding `first` when given (a group of two files); (exit status, stderr)."""
        (self.src / "x.c").write_text(text)
        names = ["x"]
        if first is not None:
            (self.src / "a.c").write_text(first)
            names = ["a", "x"]
        cmd = ["/bin/sh", str(SANDBOX), "-o", str(self.out)]
        for n in names:
            cmd += ["-d", f"{n}.d", "-t", str(self.out / f"{n}.o")]
        cmd += ["compiler", "src", "--", "/bin/sh", str(config.KIT / "labs" / "sandbox-cc"), "@out/",
                *(str(self.src / f"{n}.c") for n in names), "--", "gcc", *CFLAGS,
                f"-B{config.KIT}/labs/sandbox-", f"-I{config.KIT}/labs/kernel/include", f"-I{self.src}"]
        r = subprocess.run(cmd, env=self.env(mode, **limits), capture_output=True, text=True, timeout=120)
        return r.returncode, r.stderr

    def left(self):
        """What the build left in the output folder."""
        return sorted(p.name for p in self.out.iterdir())


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


def refused(tree, rc, err, rule):
    """The compile failed with one kit line naming the rule, left nothing and quoted nothing secret."""
    assert rc != 0
    lines = [l for l in err.splitlines() if l.startswith("kit: ")]
    assert len(lines) == 1 and rule in lines[0] and lines[0].endswith(f"(building {tree.src}/x.c)"), err[-2000:]
    assert SECRET not in err
    assert tree.left() == []


@pytest.mark.parametrize("mode", MODES)
def test_a_clean_compile_moves_its_object_and_dependency_list_into_place(tree, mode):
    """A compile that reads only staged files succeeds; the dependency list make
    reads is written by the script (target: source headers), nothing else is left."""
    rc, err = tree.compile(mode, '#include <kit/types.h>\nint x = 1;\n')
    assert rc == 0, err
    assert tree.left() == ["x.d", "x.o"]
    dep = (tree.out / "x.d").read_text().splitlines()
    assert dep[0].startswith(f"{tree.out / 'x.o'}: {tree.src / 'x.c'} ")
    assert f"{config.KIT}/labs/kernel/include/kit/types.h:" in dep


@pytest.mark.parametrize("mode", MODES)
def test_a_group_is_built_whole_or_not_at_all(tree, mode):
    """Two files compiled by one sandboxed command: both objects and dependency
    lists when both compile; when the second is refused, nothing, and the
    message names the second."""
    rc, err = tree.compile(mode, "int x = 2;\n", first="int a = 1;\n")
    assert rc == 0, err
    assert tree.left() == ["a.d", "a.o", "x.d", "x.o"]
    assert (tree.out / "x.d").read_text().startswith(f"{tree.out / 'x.o'}: {tree.src / 'x.c'}")
    for f in tree.out.iterdir():
        f.unlink()
    rc, err = tree.compile(mode, f'#include "{tree.secret}"\n', first="int a = 1;\n")
    refused(tree, rc, err, "refused: #include of ")


@pytest.mark.parametrize("mode", MODES)
def test_dev_zero_stops_at_the_memory_limit(tree, mode):
    """#include "/dev/zero": the compiler grows until the address-space limit stops it."""
    t = time.monotonic()
    rc, err = tree.compile(mode, '#include "/dev/zero"\n', mem=256)
    assert rc != 0 and f"kit: build stopped: compiler memory limit (256 MiB) exceeded building {tree.src}/x.c" in err, err
    assert tree.left() == [] and time.monotonic() - t < 30


@pytest.mark.parametrize("mode", MODES)
def test_a_huge_initialised_array_stops_at_the_file_size_limit(tree, mode):
    """A 1 GiB initialised array: the object is stopped at the file-size limit and removed."""
    rc, err = tree.compile(mode, "char big[1u << 30] = {1};\n", fsize=8)
    assert rc != 0 and "kit: build stopped: compiler file-size limit (8 MiB) exceeded" in err, err
    assert tree.left() == []


@pytest.mark.parametrize("mode", MODES)
def test_a_self_including_header_stops_at_the_output_limit(tree, mode):
    """A header that includes itself twice floods errors: the first KIT_LIMIT_OUTPUT KiB are shown."""
    (tree.src / "again.h").write_text('#include "again.h"\n#include "again.h"\n')
    rc, err = tree.compile(mode, '#include "again.h"\n', output=16)
    assert rc != 0 and "kit: build stopped: compiler output limit (16 KiB) exceeded" in err, err[-500:]
    assert len(err) < 17 * 1024
    assert tree.left() == []


def test_a_slow_compile_stops_at_the_cpu_limit(tree):
    """A file that takes the compiler seconds of CPU is stopped at the CPU-time
    limit (in one mode: the limit is the same in both, and costs a second)."""
    mode = "bwrap" if BWRAP else "none"
    text = "\n".join(f"int f{i}(int x) {{ int y = x * {i}; for (int j = 0; j < x; j++) y += j ^ {i}; return y; }}"
                     for i in range(30000))
    rc, err = tree.compile(mode, text, cpu=1)
    assert rc != 0 and "kit: build stopped: compiler CPU-time limit (1 s) exceeded" in err, err[-500:]
    assert tree.left() == []


@pytest.mark.parametrize("mode", MODES)
def test_a_compile_that_waits_forever_stops_at_the_wall_time_limit(tree, mode):
    """#include of a FIFO nobody writes: the compile is ended at the wall-time limit, nothing left running."""
    os.mkfifo(tree.src / "pipe.h")
    t = time.monotonic()
    rc, err = tree.compile(mode, '#include "pipe.h"\n', wall=0.5)
    assert rc != 0 and "kit: build stopped: compiler wall-time limit (0.5 s) exceeded" in err, err
    assert time.monotonic() - t < 10
    assert not [p for p in os.listdir("/proc") if p.isdigit() and str(tree.src) in cmdline(p)]


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["absolute", "relative", "link", "angle"])
def test_an_include_from_outside_the_staged_sources_is_refused(tree, mode, how):
    """A header that is not staged, named by its absolute path, by ../, through a
    link in the staged folder or through a system include folder, is refused, unread."""
    include = {"absolute": f'"{tree.secret}"', "relative": '"../secret/answer.h"', "link": '"answer.h"',
               "angle": f"<../../../../../../../../..{tree.secret}>"}[how]
    if how == "link":
        os.symlink(tree.secret, tree.src / "answer.h")
    rc, err = tree.compile(mode, f"#include {include}\nint y = sizeof answer;\n")
    refused(tree, rc, err, "refused: #include of ")
    assert "outside the files this build may read" in err


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("asm", [
    '".section .rodata\\n.incb" "in \\"{secret}\\"\\n.previous"',
    '"\\t.INCLUDE \\"{secret}\\""',
    '".macro kit_embed d f\\n.\\\\d \\"\\\\f\\"\\n.endm\\nkit_embed incbin {secret}"',
    '".macro kit_embed a b\\n\\\\a\\\\b \\"{secret}\\"\\n.endm\\nkit_embed .inc,bin"',
    '".altmacro\\n.macro kit_embed d\\n.&d \\"{secret}\\"\\n.endm\\nkit_embed incbin"',
], ids=["split-string", "include-upper", "dot-argument", "argument-at-start", "altmacro"])
def test_assembler_directives_that_read_files_are_refused(tree, mode, asm):
    """.incbin/.include, however the C source spells them, and directive names a
    macro builds are refused before the assembler runs."""
    rc, err = tree.compile(mode, f"__asm__({asm.format(secret=tree.secret)});\n")
    refused(tree, rc, err, "refused: ")
    assert "assembler directive" in err


@pytest.mark.parametrize("text", [
    '.string "done.\\n"\n.ascii "a\\\\b"\n',           # a string with ".\" in it
    ".macro load reg\n.globl user_load_\\reg\nuser_load_\\reg:\n mov %eax, %\\reg\n.endm\n",
    ".byte '\"\n",                                  # a character constant holding a quote
])
def test_the_assembler_check_passes_the_kits_own_assembly(tmp_path, text):
    """Strings, character constants and macros that substitute operands and labels pass."""
    src = tmp_path / "ok.s"
    src.write_text(text)
    r = subprocess.run([str(AS), "--64", "-o", str(tmp_path / "ok.o"), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not BWRAP, reason="no user namespaces here")
def test_the_sandbox_sees_only_the_staged_sources_and_its_output_folder(tree):
    """Under bubblewrap a command sees no grader, no other process, no network, and
    writes only its private output folder."""
    probe = (f'test ! -e {config.KIT}/grader && test ! -e {tree.secret} && test -r {tree.src} && '
             f'test ! -e /proc/1 && ! touch {tree.src}/w 2>/dev/null && ! cat /sys/class/net/*/address 2>/dev/null '
             f'&& touch @out/made && echo sandboxed')
    r = subprocess.run(["/bin/sh", str(SANDBOX), "-o", str(tree.out), "iso", "probe", "--", "/bin/sh", "-c", probe],
                       env=tree.env("bwrap"), capture_output=True, text=True)
    assert r.returncode == 0 and "sandboxed" in r.stderr, r.stderr
    assert tree.left() == ["made"]


def test_probe_says_once_why_the_build_is_degraded():
    """Without bubblewrap (or with KIT_SANDBOX=none) the probe says "none" and one line why."""
    for env in ({"PATH": "/nonexistent"}, {"KIT_SANDBOX": "none"}):
        r = subprocess.run(["/bin/sh", str(SANDBOX), "--probe"], env=dict(os.environ, **env),
                           capture_output=True, text=True)
        assert r.stdout == "none\n"
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("build sandbox: degraded (")
        assert r.stderr.endswith("): limits and textual checks only\n")


@pytest.mark.skipif(not BWRAP, reason="no user namespaces here")
def test_a_machine_without_user_namespaces_is_degraded_not_broken(tmp_path):
    """Where namespaces cannot be made (here: inside a sandbox that forbids more),
    the probe says why, and a compile still runs, under the limits."""
    inside = ["bwrap", "--unshare-user", "--disable-userns", "--dev-bind", "/", "/"]
    r = subprocess.run(inside + ["/bin/sh", str(SANDBOX), "--probe"], capture_output=True, text=True)
    assert r.stdout == "none\n" and "build sandbox: degraded (no user namespaces: " in r.stderr, r.stderr
    tree = Tree(tmp_path)
    (tree.src / "x.c").write_text('#include "/dev/zero"\n')
    r = subprocess.run(inside + ["/bin/sh", str(SANDBOX), "-o", str(tree.out), "compiler", "src", "--",
                                 "/bin/sh", str(config.KIT / "labs" / "sandbox-cc"), "@out/", str(tree.src / "x.c"),
                                 "--", "gcc"],
                       env=tree.env("none", mem=256), capture_output=True, text=True)
    assert r.returncode != 0 and "compiler memory limit (256 MiB) exceeded" in r.stderr, r.stderr


def test_make_says_once_that_the_build_is_degraded():
    """A lab's make run without the sandbox says so, once, on stderr; not when
    grade.py said it already (KIT_SANDBOX_NOTE)."""
    make = ["make", "-s", "--no-print-directory", "-C", str(config.KIT / "labs" / "01-segmentation"),
            "print-KIT_SANDBOX"]
    for env, said in (({"KIT_SANDBOX": "off"}, 1), ({"KIT_SANDBOX": "none", "KIT_SANDBOX_NOTE": "said"}, 0)):
        r = subprocess.run(make, env=dict(os.environ, **env), capture_output=True, text=True)
        assert r.stdout == "none\n"
        assert r.stderr.count("build sandbox: degraded") == said, r.stderr


def test_grade_bounds_make_output_and_time():
    """grade.py keeps a bounded part of make's output and ends a build past its deadline."""
    sys.path.insert(0, str(config.KIT / "grader"))
    import grade
    rc, out = grade.run_make(["sh", "-c", "head -c 20000000 /dev/zero | tr '\\0' x; echo; echo end"],
                             time.monotonic() + 60)
    assert rc == 0 and len(out) < grade.BUILD_OUTPUT + 200 and out.rstrip().endswith("end")
    t = time.monotonic()
    rc, out = grade.run_make(["sh", "-c", "sleep 60"], time.monotonic() + 0.3)
    assert rc != 0 and "kit: build stopped: the whole build took more than" in out
    assert time.monotonic() - t < 10


def test_build_error_names_the_limit_first():
    """The build verdict a student reads names the limit or the refusal before the log."""
    log = "x.c:1: warning: w\nkit: build stopped: compiler memory limit (1 GiB) exceeded building x.c\nmake: Error 1\n"
    msg = config.build_error("01-segmentation", log)
    assert msg.splitlines()[0] == ("build error: lab 01-segmentation: build stopped: compiler memory limit "
                                   "(1 GiB) exceeded building x.c")
    assert config.build_error("01-segmentation", "x.c:1: error: e\n").startswith(
        "build error: lab 01-segmentation does not compile or link.")
