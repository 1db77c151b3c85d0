"""An ARM Cortex-M machine for the kit's harness (Lab 06, the MPU).

ArmMachine is the harness's Machine with another QEMU under it:
qemu-system-arm -M mps2-an385 (a Cortex-M3 with an 8-region MPU) running the
lab's kernel.elf directly (-kernel), the UART on the pty, the HMP monitor on a
private unix socket, QEMU's exception record (-d int), and the per-boot
parameters on the semihosting command line instead of fw_cfg. Everything a
test uses on x86 works the same: wait_prompt, command(s), command_fatal,
hmp, tail, the verdicts (hang, flood, panic, stub, stopped, exited, reboot)
and close(), which ends QEMU's whole process group. Added here:

  read_words(addr, n)   words through QEMU's `xp` (physical, no MPU check: the
                        way to read the system control space, which pmemsave
                        does not reach)
  fault_regs()          CFSR, HFSR, MMFAR, BFAR, SHCSR as QEMU holds them
  mpu_regs()            TYPE, CTRL, RNR, RBAR, RASR (RBAR/RASR of region RNR)
  arm_exceptions()      QEMU's record of the exceptions taken (ArmExc)
  lockup()              QEMU gave up: a fault while the HardFault handler ran
and the verdict "lockup", the Cortex-M's triple fault: QEMU 7.2 aborts with
"qemu: fatal: Lockup: can't escalate ..." when a fault cannot be escalated.
"""
import os
import re
import resource
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache

import pexpect

from harness import MachinePool, config, symbols
from harness.machine import KernelError, Machine, private_tmp

QEMU_ARM = os.environ.get("KIT_QEMU_ARM", "qemu-system-arm")
BOARD = "mps2-an385"


def _timeout(arm_name, kit_name, default):
    """This board's bound: KIT_ARM_*, else the kit's KIT_* when shorter, else default."""
    if os.environ.get(arm_name):
        return float(os.environ[arm_name])
    return min(default, float(os.environ.get(kit_name, default)))


# The board boots to its prompt in ~70 ms and answers a command in ~1 ms: a kernel
# silent for this long hangs.
ARM_BOOT_TIMEOUT = _timeout("KIT_ARM_BOOT_TIMEOUT", "KIT_BOOT_TIMEOUT", 6)
ARM_COMMAND_TIMEOUT = _timeout("KIT_ARM_COMMAND_TIMEOUT", "KIT_COMMAND_TIMEOUT", 5)

# System control space addresses (ARMv7-M ARM B3.2, B3.5)
SHCSR, CFSR, HFSR, MMFAR, BFAR = 0xE000ED24, 0xE000ED28, 0xE000ED2C, 0xE000ED34, 0xE000ED38
MPU_TYPE, MPU_CTRL, MPU_RNR, MPU_RBAR, MPU_RASR = (0xE000ED90, 0xE000ED94, 0xE000ED98,
                                                   0xE000ED9C, 0xE000EDA0)

_LOCKUP = re.compile(r"qemu: fatal: Lockup[^\n]*")
_XP_LINE = re.compile(r"^[0-9a-f]+:((?:\s+0x[0-9a-f]+)+)\s*$", re.M)
_TAKING = re.compile(r"^Taking exception (\d+) \[([^\]]+)\]", re.M)


def elf(lab):
    """The kernel ELF of the variant being graded (QEMU boots it directly),
    once its build has ended (config.BuildError if it failed)."""
    return config.kernel_elf(lab)


def _semihosting_args(params):
    words = []
    for k, v in params.items():
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, int):
            v = hex(v)
        words.append(f"arg={k}={v}".replace(",", ",,"))
    return ",".join(["enable=on", "target=native"] + words)


def _no_core_dumps():
    """In QEMU's child: a lockup aborts QEMU; leave no core file behind."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@dataclass
class ArmExc:
    """One exception QEMU took, with the details it logged ("...with CFSR.X")."""
    number: int                      # QEMU's internal exception kind (EXCP_*), as logged
    kind: str                        # "Data Abort", "Prefetch Abort", "SVC", ...
    lines: list = field(default_factory=list)

    @property
    def cfsr_flags(self):
        """The CFSR flags QEMU says it set, e.g. {"DACCVIOL"}."""
        return set(re.findall(r"CFSR\.(\w+)", "\n".join(self.lines)))

    @property
    def mmfar(self):
        m = re.search(r"MMFAR (0x[0-9a-f]+)", "\n".join(self.lines))
        return int(m.group(1), 16) if m else None

    @property
    def fault_address(self):
        m = re.search(r"at fault address (0x[0-9a-f]+)", "\n".join(self.lines))
        return int(m.group(1), 16) if m else None

    @property
    def vector(self):
        """The vector QEMU entered for it (4 = MemManage, 3 = HardFault), or None."""
        m = re.search(r"taking pending (?:non)?secure exception (\d+)", "\n".join(self.lines))
        return int(m.group(1)) if m else None

    def __str__(self):
        return f"{self.kind}: " + "; ".join(l.lstrip(".") for l in self.lines)


def arm_exceptions(log):
    """Faults and calls from QEMU's -d int record, oldest first; external
    interrupts and exception returns are left out."""
    out = []
    matches = list(_TAKING.finditer(log))
    for i, m in enumerate(matches):
        kind = m.group(2)
        if kind in ("IRQ", "QEMU v7M exception exit", "Semihosting call"):
            continue
        end = matches[i + 1].start() if i + 1 < len(matches) else len(log)
        body = [l.strip() for l in log[m.end():end].splitlines()[1:] if l.startswith("...")]
        out.append(ArmExc(int(m.group(1)), kind, body))
    return out


class ArmMachine(Machine):
    """QEMU mps2-an385 running a lab's kernel.elf; see the module's docstring."""

    def __init__(self, lab, params=None, kernel=None, extra_args=(), timeout=ARM_BOOT_TIMEOUT):
        # The attributes Machine.__init__ sets, then an ARM QEMU instead of q35.
        self.lab = lab
        self.params = dict(params or {})
        self.via = "kernel"
        self.elf = self.iso = str(kernel or elf(lab))  # elf() waits for the lab's build
        if not os.path.exists(self.elf):
            raise KernelError("build", f"no kernel image {self.elf}: the lab did not build")
        self.tmp = private_tmp("kit-qemu-arm-")
        self.monitor_path = os.path.join(self.tmp, "monitor.sock")
        self.log_path = os.path.join(self.tmp, "qemu.log")
        self.boot_timeout = timeout
        self.raw = bytearray()
        self.pos = 0
        self.exit_status = None
        self.last_data = 0.0
        self._mon = None
        self.started = time.monotonic()
        self.log_checked = self.started  # Machine._check_log's clock
        args = [
            "-M", BOARD, "-display", "none", "-no-reboot", "-serial", "stdio",
            "-monitor", f"unix:{self.monitor_path},server=on,wait=off",
            "-semihosting-config", _semihosting_args(self.params),
            "-d", "int", "-D", self.log_path,
            "-kernel", self.elf,
        ] + list(extra_args)
        self.child = pexpect.spawn(QEMU_ARM, args, echo=False, timeout=None,
                                   preexec_fn=_no_core_dumps)
        self.child.delaybeforesend = None  # pexpect's default 50 ms per send adds up
        # close() kills QEMU's process group and waits for it: ptyprocess's own 0.1 s
        # pause after closing the pty would only add up over a pool of machines
        for obj in (self.child, getattr(self.child, "ptyproc", None)):
            if obj is not None:
                obj.delayafterclose = 0.0
                obj.delayafterterminate = 0.01

    # ---- the prompt, with this board's timeouts ----------------------------------
    def command(self, line, timeout=ARM_COMMAND_TIMEOUT):
        return super().command(line, timeout)

    def commands(self, lines, timeout=ARM_COMMAND_TIMEOUT):
        return super().commands(lines, timeout)

    def command_fatal(self, line, timeout=ARM_COMMAND_TIMEOUT):
        return super().command_fatal(line, timeout)

    # ---- verdicts ---------------------------------------------------------------
    def lockup(self):
        """QEMU's lockup message (a fault it could not escalate), or None."""
        m = _LOCKUP.search(self.log()) or _LOCKUP.search(self.text)
        return m.group(0) if m else None

    def _exited_error(self):
        lock = self.lockup()
        excs = arm_exceptions(self.log())
        chain = "".join(f"\n    {e}" for e in excs[-4:])
        if lock:
            return KernelError("lockup", "lockup: a fault happened while the HardFault handler "
                               "(or another fault at its priority) ran, so the CPU could not "
                               f"escalate it and stopped (QEMU: \"{lock[len('qemu: fatal: '):]}\")."
                               f"\n  QEMU's record of the last exceptions:{chain or ' (none)'}", self)
        status = self.exit_status
        if status is not None and status > 0 and status & 1:
            return KernelError("exited", f"the kernel left QEMU itself (semihosting exit, code "
                               f"{status >> 1}); a kernel never decides its own grade.", self)
        if status == 0:
            return KernelError("reboot", "the machine reset itself (SYSRESETREQ) or QEMU shut "
                               "down." + (f"\n  Exceptions before it:{chain}" if chain else ""), self)
        return KernelError("crashed", f"QEMU ended unexpectedly (status {status}).", self)

    # ---- QEMU's view ------------------------------------------------------------
    def read_words(self, addr, count=1):
        """count 32-bit words at addr, read by QEMU (`xp`: no MPU check)."""
        out = self.hmp(f"xp /{count}wx 0x{addr:x}")
        words = [int(w, 16) for m in _XP_LINE.finditer(out) for w in m.group(1).split()]
        if len(words) != count:
            raise KernelError("crashed", f"QEMU could not read 0x{addr:x}: {out.strip()[:200]}", self)
        return words

    def read_word(self, addr):
        return self.read_words(addr)[0]

    def fault_regs(self):
        shcsr, cfsr, hfsr, _dfsr, mmfar, bfar = self.read_words(SHCSR, 6)
        return {"SHCSR": shcsr, "CFSR": cfsr, "HFSR": hfsr, "MMFAR": mmfar, "BFAR": bfar}

    def mpu_regs(self):
        t, ctrl, rnr, rbar, rasr = self.read_words(MPU_TYPE, 5)
        return {"TYPE": t, "CTRL": ctrl, "RNR": rnr, "RBAR": rbar, "RASR": rasr}

    def arm_exceptions(self):
        return arm_exceptions(self.log())

    def exceptions(self):
        return self.arm_exceptions()

    def triple_faulted(self):
        return self.lockup() is not None


class ArmSymbols(symbols.Symbols):
    """The kernel ELF's symbols with the Thumb bit cleared (a Thumb function at
    its real address, as arm-none-eabi-nm prints it)."""

    def __init__(self, path):
        super().__init__(path, thumb=True)


@lru_cache(maxsize=None)
def load_symbols(path):
    return ArmSymbols(str(path))


class ArmPool(MachinePool):
    """The module-scoped pool of an ARM lab's tests: ArmMachines."""

    machine = ArmMachine
    canary_min = 0  # ARM machines always start at once

    def close(self, threads=()):
        """End every machine. `threads` that may still drive some of them (the
        fatal scenarios a TEST= selection never waited for) finish first: each
        QEMU is killed, so every wait of theirs ends at once (EOF, the verdict
        "crashed") and the thread reaps its own machine; then this thread closes
        them all, with no other thread left to race its waitpid()."""
        for m in self.machines.values():
            m.kill()
        for t in threads:
            t.join(timeout=ARM_BOOT_TIMEOUT + ARM_COMMAND_TIMEOUT)
        super().close()
