"""One QEMU machine running a lab kernel, driven like a student's terminal.

QEMU runs headless under TCG with the serial port on a pty (pexpect), the HMP
monitor on a unix socket in a private temporary folder, isa-debug-exit, and
QEMU's own exception log (-d int,cpu_reset), capped at qemulog.LIMIT bytes.
The guest's RAM is a memory file the grader holds too (GuestRam): reading
physical memory is a copy from the very bytes QEMU runs the guest on, not a
monitor round trip.
Every wait is bounded; whatever goes wrong becomes a KernelError a student can
read (kernel text in it stripped of control characters), and close() always
ends QEMU's whole process group.
"""
import mmap
import os
import re
import resource
import shutil
import signal
import socket
import tempfile
import time
import weakref
from pathlib import Path

import pexpect

from . import config, qemulog, regs as regs_mod
from .text import strip_control

PROMPT = "lab> "
KERNEL_VMA = 0xFFFFFFFF80000000  # labs/kernel/include/kit/boot.h
QBOOT = "/usr/share/qemu/qboot.rom"
# No SMM, and no 8254 PIT (with it goes the PC speaker's port 0x61): the kit's
# kernels never use it, and GRUB calibrates its TSC by polling port 0x61 for
# 55 ms of the PIT's time, every one of them a busy host CPU under TCG. Without
# the port GRUB takes its built-in rate at once: a GRUB boot ~50 ms shorter.
# The Makefile's QEMU_ARGS (make qemu, make qemu-gdb) uses the same machine.
MACHINE_OPTS = ",smm=off,pit=off"
RAM_BYTES = 128 << 20          # the guest's RAM (-m), all of it below 4 GiB
LEGACY_HOLE = (0xA0000, 0x100000)  # VGA memory and the BIOS ROMs: not RAM as the CPU sees it
STOPPED = "kit: stopped"
BOOT_TIMEOUT = float(os.environ.get("KIT_BOOT_TIMEOUT", 20))
COMMAND_TIMEOUT = float(os.environ.get("KIT_COMMAND_TIMEOUT", 10))
FLOOD_BYTES = 256 << 10        # more serial output than any lab prints in one boot
FLOOD_WAIT_BYTES = 8 << 10     # printing this much, and still printing at the deadline,
                               # while failing to reach what we wait for, is a flood
TAIL_LINES = 12
LOG_CHECK_EVERY = 0.05         # seconds between two looks at the exception log's size

_STUB = re.compile(r"PANIC at ([^\n]*?):\d+: (\S+): LAB (\d+) not implemented")
_PANIC = re.compile(r"PANIC at [^\n]*\n")
_REPORT = re.compile(r"EXCEPTION \d+ [^\n]*")
# The kernel's own diagnostics: lines the kit's files print with kdiag()
# (KDIAG_MARK, labs/kernel/include/kit/kit.h) and the core's panic lines.
DIAG = re.compile(r"^(?:kit! |PANIC at )[^\n]*", re.M)
DIAG_LINES = 4     # at most this many quoted in one failure message
_printing = weakref.WeakSet()  # machines that printed something (marks(), diagnostics())


def stub_verdict(text):
    """The stub verdict's first line for the first stub's panic in text, or None."""
    m = _STUB.search(text)
    return m and f"not implemented: {m.group(2)} (Lab {m.group(3)}) is still a stub; write it in {m.group(1)}."


def marks():
    """Where each machine's serial output stands now: give it to diagnostics()
    at the end of a test to get the diagnostic lines printed meanwhile."""
    return {m: len(m.raw) for m in list(_printing)}


def diagnostics(since, known=""):
    """The kernel's diagnostic lines (DIAG) that machines read after `since`
    (a marks() value; a machine it does not name counts from its boot), in
    order, each once, leaving out lines `known` (a message) quotes already:
    (the first DIAG_LINES of them, how many more there are)."""
    out = []
    for m in sorted(_printing, key=lambda m: m.started):
        text = strip_control(bytes(m.raw[since.get(m, 0):]).decode("utf-8", "replace"))
        for line in DIAG.findall(text.replace("\r", "")):
            line = line.strip()[:200]
            if line not in out and line not in known:
                out.append(line)
    return out[:DIAG_LINES], len(out[DIAG_LINES:])


def quote_diagnostics(text, since):
    """A failure message `text` with the diagnostic lines printed since `since`
    (a marks() value) that it does not quote yet, under "The kernel said:",
    placed before the serial tail a KernelError ends with."""
    said, more = diagnostics(since, known=text)
    if not said:
        return text
    quote = "The kernel said:\n" + "\n".join(f"  | {line}" for line in said) \
        + (f"\n  (and {more} more such line{'s' if more > 1 else ''})" if more else "")
    head, tail, rest = text.partition("\nLast serial lines:")
    return f"{head}\n{quote}{tail}{rest}"


class KernelError(AssertionError):
    """The kernel did not behave: `verdict` is one word, str() explains it
    (what the kernel printed is quoted without its control characters)."""

    def __init__(self, verdict, message, machine=None):
        self.verdict = verdict
        text = message
        if machine is not None:
            text += machine.tail()
        super().__init__(strip_control(text))


def _fw_cfg_string(params):
    words = []
    for k, v in params.items():
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, int):
            v = hex(v)
        words.append(f"{k}={v}")
    return " ".join(words).replace(",", ",,")


def _limit_files():
    """In QEMU's child: no file it writes (the exception log above all) grows
    past qemulog.LIMIT; the write that would is its end (SIGXFSZ, which
    Python ignores and a child would inherit ignored), with no core file."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (qemulog.LIMIT, qemulog.LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXFSZ would dump core
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


UNIX_PATH_MAX = 107  # a unix socket's path: sun_path holds 108 bytes with the NUL


class GuestRam:
    """The guest's RAM as a memory file (memfd) that QEMU runs the guest on
    (-object memory-backend-file on the file QEMU inherits) and the grader maps
    read-only: read(pa, n) is QEMU's own memory, at once, where pmemsave took
    a monitor round trip and a file of 1-3 ms. Only RAM the CPU sees as RAM is
    read this way (below RAM_BYTES, outside LEGACY_HOLE); None where it would
    not work (no memfd, no /proc): the machine then runs as before."""

    def __init__(self):
        self.fd = os.memfd_create("kit-ram")  # close-on-exec: only the QEMU it is given gets it
        try:
            os.ftruncate(self.fd, RAM_BYTES)  # here, not in QEMU, whose files are capped (_limit_files)
            self.map = mmap.mmap(self.fd, RAM_BYTES, mmap.MAP_SHARED, mmap.PROT_READ)
        except OSError:
            os.close(self.fd)
            raise

    @classmethod
    def make(cls):
        if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
            return None
        try:
            return cls()
        except OSError:
            return None

    def qemu_args(self):
        return ["-object", f"memory-backend-file,id=kit-ram,size={RAM_BYTES},share=on,"
                f"mem-path=/proc/self/fd/{self.fd}", "-machine", "memory-backend=kit-ram"]

    def covers(self, pa, size):
        return 0 <= pa and pa + size <= RAM_BYTES and \
            (pa + size <= LEGACY_HOLE[0] or pa >= LEGACY_HOLE[1])

    def read(self, pa, size):
        return self.map[pa:pa + size]

    def close(self):
        self.map.close()
        os.close(self.fd)


class _Spawn(pexpect.spawn):
    """pexpect.spawn that leaves the child the file descriptors in pass_fds
    (ptyprocess closes every other one)."""

    def __init__(self, *args, pass_fds=(), **kwargs):
        self.pass_fds = tuple(pass_fds)
        super().__init__(*args, **kwargs)

    def _spawnpty(self, args, **kwargs):
        return super()._spawnpty(args, pass_fds=self.pass_fds, **kwargs)


def private_tmp(prefix):
    """A private (0700) temporary folder for one QEMU's monitor socket and log.
    Under $TMPDIR when the socket path fits a unix socket's 107 bytes, else
    under /tmp: a long TMPDIR (a deep CI workspace, a batch's private folder)
    must not make every test fail with a monitor that cannot be reached."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    if len(os.path.join(tmp, "monitor.sock").encode()) <= UNIX_PATH_MAX:
        return tmp
    os.rmdir(tmp)
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


class Machine:
    log_checked = 0.0  # when the exception log's size was last looked at (_check_log)
    ram = None         # GuestRam, or None: physical memory through the monitor

    def __init__(self, lab, params=None, iso=None, extra_args=(), timeout=BOOT_TIMEOUT, via="pvh"):
        """Start QEMU now (no waiting). via="grub" boots the lab's ISO through GRUB
        (multiboot2) and SeaBIOS on q35, as students run it (~0.25 s); via="pvh"
        loads the same kernel ELF with QEMU's -kernel (PVH entry) under the qboot
        firmware on pc (~0.05 s), for scenario boots."""
        self.lab = lab
        self.params = dict(params or {})
        self.via = via
        if iso is None:  # the lab's own build: it may still be running (grade.py)
            err = config.wait_build(lab, "done" if via == "grub" else "elf")
            if err:
                raise KernelError("build", err)
        self.iso = str(iso or config.lab_dir(lab) / "kernel.iso")
        self.elf = str(Path(self.iso).with_name("kernel.elf"))
        image = self.iso if via == "grub" else self.elf
        if not os.path.exists(image):
            raise KernelError("build", f"no kernel image {image}: the lab did not build")
        self.tmp = private_tmp("kit-qemu-")
        self.monitor_path = os.path.join(self.tmp, "monitor.sock")
        self.log_path = os.path.join(self.tmp, "qemu.log")
        self.boot_timeout = timeout
        self.raw = bytearray()
        self.pos = 0  # how far expect() has consumed self.text
        self.exit_status = None
        self.last_data = 0.0
        self._mon = None
        self.started = time.monotonic()
        self.log_checked = self.started
        self.ram = GuestRam.make()
        args = [
            # GRUB boots on q35 (SeaBIOS boots a CD faster there); PVH boots on pc,
            # which QEMU starts ~10 ms faster (Labs 1 and 2 boot 12 a grading). Both
            # have the PIC, the i8042 reset line, fw_cfg and the same memory map.
            "-M", ("q35" if via == "grub" else "pc") + MACHINE_OPTS,
            "-cpu", "qemu64,+pdpe1gb", "-m", f"{RAM_BYTES >> 20}M",
            "-display", "none", "-nic", "none", "-no-reboot", "-serial", "stdio",
            "-monitor", f"unix:{self.monitor_path.replace(',', ',,')},server=on,wait=off",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-d", "int,cpu_reset", "-D", self.log_path,
        ]
        if via == "grub":
            args += ["-cdrom", self.iso]
        else:
            args += ["-kernel", self.elf, "-append", f"lab={lab}"]
            if os.path.exists(QBOOT):  # a minimal firmware: 0.08 s a boot against SeaBIOS's 0.19 s
                args += ["-bios", QBOOT]
        if self.params:
            args += ["-fw_cfg", f"name=opt/kit/params,string={_fw_cfg_string(self.params)}"]
        if self.ram:
            args += self.ram.qemu_args()
        args += list(extra_args)
        ram_fd = self.ram.fd if self.ram else None

        def child_setup():
            _limit_files()
            if ram_fd is not None:
                os.set_inheritable(ram_fd, True)  # QEMU opens it as /proc/self/fd/N

        try:
            self.child = _Spawn(config.QEMU, args, echo=False, timeout=None, preexec_fn=child_setup,
                                pass_fds=[ram_fd] if self.ram else [])
        except Exception:  # no QEMU started: nothing else will free the RAM file
            if self.ram:
                self.ram.close()
                self.ram = None
            raise
        self.child.delaybeforesend = None  # pexpect's default 50 ms per send adds up
        self.child.delayafterclose = self.child.delayafterterminate = 0
        self.child.ptyproc.delayafterclose = self.child.ptyproc.delayafterterminate = 0

    # ---- serial ---------------------------------------------------------------
    @property
    def text(self):
        return self.raw.decode("utf-8", "replace").replace("\r", "")

    def tail(self, n=TAIL_LINES):
        lines = strip_control(self.text).rstrip("\n").splitlines()[-n:]
        if not lines:
            return "\nThe kernel printed nothing on the serial port."
        return "\nLast serial lines:\n" + "\n".join("  | " + l[:200] for l in lines)

    def _read(self, wait):
        """Read what the kernel printed within `wait` seconds; False once QEMU is gone."""
        if self.exit_status is not None:
            return False
        try:
            data = self.child.read_nonblocking(65536, timeout=wait)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            self._reap()
            return False
        self.raw += data
        self.last_data = time.monotonic()
        _printing.add(self)
        if len(self.raw) > FLOOD_BYTES:
            self.close()
            raise KernelError("flood", f"serial flood: the kernel printed more than "
                              f"{FLOOD_BYTES >> 10} KiB, far more than this lab ever prints; stopped it.", self)
        return True

    def _gone(self, what):
        """The error for a machine whose pty or monitor broke: once QEMU has
        ended (give it a second), why it ended; else `what`."""
        deadline = time.monotonic() + 1.0
        while self.exit_status is None and time.monotonic() < deadline:
            self._read(0.05)
            self._reap_if_dead()
        if self.exit_status is not None:
            return self._exited_error()
        return KernelError("crashed", f"{what} QEMU is not responding.", self)

    def _reap_if_dead(self):
        if self.exit_status is None and not self.child.isalive():
            self._reap()

    def _reap(self):
        if self.exit_status is None:
            self.child.close(force=True)
            self.exit_status = self.child.exitstatus if self.child.exitstatus is not None \
                else -(self.child.signalstatus or 0)

    def log_flood(self):
        """The flood verdict when QEMU's exception log reached its cap, else None."""
        try:
            size = os.path.getsize(self.log_path)
        except OSError:
            return None
        gone = self.exit_status == -signal.SIGXFSZ
        if size < qemulog.LIMIT and not gone:
            return None
        with open(self.log_path, "rb") as f:
            records = qemulog.count(f.read())
        last = qemulog.exceptions(self.log(64 << 10))[-4:]
        return KernelError("flood", qemulog.flood_message(records, time.monotonic() - self.started)
                           + "".join(f"\n    {e}" for e in last), self)

    def _check_log(self):
        """Stop the machine once its exception log reached the cap (checked at
        most every LOG_CHECK_EVERY seconds)."""
        now = time.monotonic()
        if now - self.log_checked < LOG_CHECK_EVERY:
            return
        self.log_checked = now
        err = self.log_flood()
        if err is not None:
            self.close()
            raise err

    def log(self, limit=None):
        """QEMU's exception log as text (only its last `limit` bytes if given)."""
        try:
            with open(self.log_path, "rb") as f:
                if limit is not None:
                    f.seek(0, os.SEEK_END)
                    f.seek(max(0, f.tell() - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _exited_error(self):
        flood = self.log_flood()
        if flood is not None:
            return flood
        log = self.log()
        excs = qemulog.exceptions(log)
        chain = "".join(f"\n    {e}" for e in excs[-4:])
        if qemulog.triple_fault(log):
            return KernelError("triple-fault", "triple fault: an exception occurred while the CPU "
                               "could not deliver a double fault, so it reset.\n  QEMU's record of "
                               f"the last exceptions:{chain or ' (none)'}", self)
        status = self.exit_status
        if status is not None and status > 0 and status & 1:
            return KernelError("exited", f"the kernel left QEMU itself (isa-debug-exit code "
                               f"{status >> 1}); a kernel never decides its own grade.", self)
        if status == 0:
            return KernelError("reboot", "the machine reset itself (a reboot request, not a "
                               "triple fault)." + (f"\n  Exceptions before it:{chain}" if chain else ""), self)
        return KernelError("crashed", f"QEMU ended unexpectedly (status {status}).", self)

    def _check_text(self, new, allow_stop):
        stub = stub_verdict(new)
        if stub:
            raise KernelError("stub", stub, self)
        m = _PANIC.search(new)
        if m and not allow_stop:
            raise KernelError("panic", f"kernel panic: {m.group(0).strip()}", self)
        if STOPPED in new and not allow_stop:
            rep = _REPORT.search(new)
            raise KernelError("stopped", "the kernel stopped unexpectedly"
                              + (f" after an exception: {rep.group(0)}" if rep else "") + ".", self)

    def expect(self, pattern, timeout=COMMAND_TIMEOUT, allow_stop=False, what=None, since=None):
        """Wait for regex `pattern` in output not yet consumed; return the match.
        The timeout counts from `since` (a time.monotonic() value) or from now."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = (since or time.monotonic()) + timeout
        size_at_start = len(self.raw)
        drained = False
        while True:
            text = self.text
            m = regex.search(text, self.pos)
            self._check_text(text[self.pos:m.start() if m else len(text)], allow_stop)
            if m:
                self.pos = m.end()
                return m
            if self.exit_status is not None:
                raise self._exited_error()
            self._check_log()
            left = deadline - time.monotonic()
            if left <= 0 and not drained:  # read what is already waiting before judging
                drained = True
                self._read(0)
                continue
            still_printing = time.monotonic() - self.last_data < 0.5
            if left <= 0 and still_printing and len(self.raw) - size_at_start > FLOOD_WAIT_BYTES:
                raise KernelError("flood", f"serial flood: the kernel kept printing "
                                  f"({(len(self.raw) - size_at_start) >> 10} KiB in {timeout:.0f} s) "
                                  f"and never reached {what or repr(regex.pattern)}.", self)
            if left <= 0:
                raise KernelError("hang", f"timeout: waited {timeout:.0f} s for "
                                  f"{what or repr(regex.pattern)}; the kernel hangs or is stuck.", self)
            if not self._read(min(left, 0.1)):
                continue

    def wait_prompt(self, timeout=None):
        """Wait for the first `lab> ` prompt; return what the kernel printed before it.
        The boot timeout counts from QEMU's start, so machines started together
        that all hang are all judged within one timeout."""
        start = self.pos
        m = self.expect(re.escape(PROMPT), timeout or self.boot_timeout, what="the `lab> ` prompt",
                        since=self.started)
        return self.text[start:m.start()]

    def _type(self, data):
        """Send bytes to the serial port; a machine that is gone gets its verdict."""
        if self.exit_status is not None:
            raise self._exited_error()
        try:
            self.child.send(data)
        except OSError:
            raise self._gone("QEMU stopped taking serial input.")

    def send(self, line):
        self._type(line.encode() + b"\r")

    def command(self, line, timeout=COMMAND_TIMEOUT):
        """Run a monitor command; return what it printed (without the echo)."""
        start = self.pos
        self.send(line)
        m = self.expect(re.escape(PROMPT), timeout, what=f"the prompt after `{line}`")
        out = self.text[start:m.start()]
        first, _, rest = out.partition("\n")
        return rest if first.strip() == line.strip() else out

    def commands(self, lines, timeout=COMMAND_TIMEOUT):
        """Type several commands at once (one serial burst, not one round trip
        each); return the list of their outputs."""
        self._type("".join(l + "\r" for l in lines).encode())
        outs = []
        for line in lines:
            start = self.pos
            m = self.expect(re.escape(PROMPT), timeout, what=f"the prompt after `{line}`")
            out = self.text[start:m.start()]
            first, _, rest = out.partition("\n")
            outs.append(rest if first.strip() == line.strip() else out)
        return outs

    def command_fatal(self, line, timeout=COMMAND_TIMEOUT):
        """Run a command that must end with the kernel stopping (`kit: stopped`)."""
        start = self.pos
        self.send(line)
        m = self.expect(re.escape(STOPPED), timeout, allow_stop=True,
                        what=f"`{STOPPED}` after `{line}`")
        out = self.text[start:m.start()]
        first, _, rest = out.partition("\n")
        return rest if first.strip() == line.strip() else out

    def wait_stop(self, timeout=None):
        """Wait until the kernel stops on its own (a fatal event during boot)."""
        start = self.pos
        m = self.expect(re.escape(STOPPED), timeout or self.boot_timeout, allow_stop=True,
                        what=f"`{STOPPED}`", since=self.started)
        return self.text[start:m.start()]

    def wait_exit(self, timeout=None):
        """Wait for QEMU to end; returns the KernelError that explains why."""
        deadline = time.monotonic() + (timeout or self.boot_timeout)
        while self.exit_status is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.exit_status is None:
            raise KernelError("hang", "timeout: QEMU did not end.", self)
        return self._exited_error()

    # ---- QEMU's view ----------------------------------------------------------
    def hmp(self, cmd, timeout=5.0):
        """Run an HMP monitor command; return its output."""
        if self.exit_status is not None:
            raise self._exited_error()
        try:
            if self._mon is None:
                self._mon_connect(timeout)
            self._mon.sendall(cmd.encode() + b"\n")
            out = self._mon_read()
        except OSError:  # QEMU ended under us: say why, as a serial read would
            raise self._gone(f"QEMU's monitor stopped answering `{cmd}`.")
        out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out).replace("\r", "")
        lines = out.split("\n")
        if lines and cmd in lines[0]:
            lines = lines[1:]
        return "\n".join(lines)

    def _mon_connect(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.monitor_path)
                break
            except OSError:
                s.close()
                self._reap_if_dead()
                if self.exit_status is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        s.settimeout(timeout)
        self._mon = s
        self._mon_read()

    def _mon_read(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = self._mon.recv(65536)
            if not chunk:
                raise ConnectionResetError("QEMU's monitor closed")
            buf += chunk
        return buf[:-len(b"(qemu) ")].decode(errors="replace")

    def regs(self):
        return regs_mod.parse(self.hmp("info registers"))

    def read_phys(self, pa, size):
        if self.ram and self.ram.covers(pa, size):
            self._reap_if_dead()  # as the monitor would: no reading a machine that ended
            if self.exit_status is not None:
                raise self._exited_error()
            return self.ram.read(pa, size)
        path = os.path.join(self.tmp, "mem.bin")
        out = self.hmp(f'pmemsave 0x{pa:x} {size} "{path}"')
        if out.strip():
            raise KernelError("crashed", f"QEMU could not read physical memory: {out.strip()}")
        with open(path, "rb") as f:
            return f.read()

    def read_virt(self, va, size):
        path = os.path.join(self.tmp, "vmem.bin")
        out = self.hmp(f'memsave 0x{va:x} {size} "{path}"')
        if out.strip():
            raise ValueError(f"QEMU could not read virtual memory at 0x{va:x}: {out.strip()}")
        with open(path, "rb") as f:
            return f.read()

    def phys_reader(self, prefetch=None):
        """A read_u64(pa) over a page cache: for walking page tables.
        prefetch=(pa, size) reads that range in one go first (say, the kernel
        image, where the core's and a lab's static tables live)."""
        pages = {}
        if prefetch:
            start, size = prefetch
            start, end = start & ~0xFFF, (start + size + 0xFFF) & ~0xFFF
            data = self.read_phys(start, end - start)
            for off in range(0, end - start, 4096):
                pages[start + off] = data[off:off + 4096]

        def read_u64(pa):
            page = pa & ~0xFFF
            if page not in pages:
                pages[page] = self.read_phys(page, 4096)
            off = pa & 0xFFF
            return int.from_bytes(pages[page][off:off + 8], "little")
        return read_u64

    def image_reader(self):
        """phys_reader() with the loaded kernel image prefetched (from the ELF)."""
        from . import symbols
        syms = symbols.load(self.elf)
        start = syms.addr("__kernel_start") - KERNEL_VMA
        return self.phys_reader((start, syms.addr("__kernel_end") - KERNEL_VMA - start))

    def backtrace(self, max_frames=32):
        """The functions on the stopped CPU's stack, innermost first, from QEMU's
        RIP and RBP and the frame-pointer chain in memory (the kit builds with
        frame pointers), named from the kernel ELF. The kernel's word is not
        involved: a kernel that only prints a panic has no panic on its stack."""
        from . import symbols
        syms = symbols.load(self.elf)
        r = self.regs()
        names = [syms.function_at(r.rip)]
        rbp = r.rbp
        for _ in range(max_frames):
            try:
                frame = self.read_virt(rbp, 16)
            except (ValueError, KernelError):
                break
            next_rbp = int.from_bytes(frame[:8], "little")
            ret = int.from_bytes(frame[8:], "little")
            if not ret:
                break
            names.append(syms.function_at(ret - 1))
            if next_rbp <= rbp:
                break
            rbp = next_rbp
        return names

    def assert_panicked_in(self, function, context=""):
        """Fail unless the stopped CPU's stack (backtrace()) holds panic_at called
        from `function`: a kernel that only prints "PANIC" does not pass."""
        stack = self.backtrace()
        assert "panic_at" in stack and function in stack, (
            f"{context + ': ' if context else ''}the stopped CPU's stack "
            f"({' <- '.join(map(str, stack))}) shows no panic called from {function}")

    def gva2gpa(self, va):
        out = self.hmp(f"gva2gpa 0x{va:x}")
        m = re.search(r"gpa: (?:0x)?([0-9a-f]+)", out)  # QEMU prints physical 0 as "gpa: 0"
        return int(m.group(1), 16) if m else None

    def exceptions(self):
        return qemulog.exceptions(self.log())

    def triple_faulted(self):
        return qemulog.triple_fault(self.log())

    # ---- teardown ---------------------------------------------------------------
    def kill(self):
        """End QEMU's process group now, without waiting for it: a thread still
        driving this machine reads EOF and reaps QEMU itself. Only one thread
        may wait for a process: a second waitpid() fails ("no child process")."""
        if self.exit_status is None:
            try:
                os.killpg(self.child.pid, signal.SIGKILL)  # QEMU leads its own session
            except ProcessLookupError:
                pass

    def close(self):
        record = os.environ.get("KIT_TRANSCRIPTS")
        if record and self.raw:  # the cheat corpus replays what solutions printed
            os.makedirs(record, exist_ok=True)
            name = f"{self.lab}-{os.getpid()}-{id(self):x}-{time.monotonic_ns()}.txt"
            with open(os.path.join(record, name), "w") as f:
                f.write(self.text)
        if self._mon is not None:
            self._mon.close()
            self._mon = None
        pid = self.child.pid
        if self.child.isalive():
            try:
                os.killpg(pid, signal.SIGKILL)  # QEMU leads its own session (pty fork)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while self.child.isalive() and time.monotonic() < deadline:
                time.sleep(0.002)  # isalive() reaps it once the kill lands
        self._reap()
        if self.ram:
            self.ram.close()
            self.ram = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
