"""The processes class grading starts, tracked so that none outlives its run.

Every process a grade run starts carries a tag in its environment
(KIT_BATCH_TAG=<batch>:<n>): QEMU leads a session of its own, so a process
group does not reach it, but the tag does (kill_tagged). The batch is a child
subreaper, so a process that loses its parent becomes its child, and
Procs.reap_orphans() ends it.
"""
import ctypes
import os
import resource
import signal
import subprocess
import threading
import time

# Environment a grade run must not inherit: make reads variables from it
# (SOLUTION=1 would grade the solution), and from MAKEFLAGS when run under make.
SCRUBBED_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "SOLUTION", "SUBMISSION",
                "SUBMISSIONS", "BUILD", "LAB", "TEST", "V", "OUT", "PYTHONPATH", "PYTHONHOME",
                "PYTHONSTARTUP", "CFLAGS", "LDFLAGS", "GRADESCOPE", "PUBLISHED")
KEPT_KIT_ENV = ("KIT_SEED", "KIT_QEMU", "KIT_BOOT_TIMEOUT", "KIT_COMMAND_TIMEOUT")
TAG_VAR = "KIT_BATCH_TAG"
PR_SET_CHILD_SUBREAPER = 36    # prctl(2): orphaned descendants become our children


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k not in SCRUBBED_ENV and (not k.startswith("KIT_") or k in KEPT_KIT_ENV)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def _proc_entries():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def pid_tag(pid):
    """The batch tag in a process's environment, or None."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return None
    needle = f"{TAG_VAR}=".encode()
    for var in env.split(b"\0"):
        if var.startswith(needle):
            return var[len(needle):].decode(errors="replace")
    return None


def tagged_pids(tag_prefix):
    """Processes whose environment carries a tag starting with tag_prefix (QEMU
    leads its own session, so a process group alone does not reach it)."""
    found = []
    for pid in _proc_entries():
        tag = pid_tag(pid)
        if tag is not None and (tag == tag_prefix or tag.startswith(tag_prefix + ":")):
            found.append(pid)
    return found


def child_pids(parent):
    out = []
    for pid in _proc_entries():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            out.append(pid)
    return out


def kill_tagged(tag_prefix):
    """SIGKILL every process carrying the tag until none is left; how many were killed."""
    killed = set()
    for _ in range(20):
        pids = [p for p in tagged_pids(tag_prefix) if p != os.getpid()]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    return len(killed)


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Procs:
    """Every process the batch starts. The batch is a child subreaper, so a
    process that loses its parent (a QEMU whose grade run was killed) becomes
    our child: reap_orphans() ends every child we did not start ourselves."""

    def __init__(self, subreaper=True):
        self.lock = threading.Lock()
        self.active = set()
        if subreaper:
            self._become_subreaper()

    @staticmethod
    def _become_subreaper():
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def start(self, cmd, memory=None, **kw):
        """Popen in a new session; memory: an address-space bound in bytes,
        set as soon as the process exists."""
        with self.lock:
            p = subprocess.Popen(cmd, start_new_session=True, **kw)
            self.active.add(p.pid)
        if memory:
            try:
                resource.prlimit(p.pid, resource.RLIMIT_AS, (memory, memory))
            except (ProcessLookupError, PermissionError, OSError):
                pass
        return p

    def finish(self, p):
        with self.lock:
            self.active.discard(p.pid)

    def run(self, cmd, env, timeout, capture=False, cwd=None, memory=None):
        """subprocess.run in a new session, killed as a group on timeout."""
        p = self.start(cmd, memory=memory, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p.pid)
            out, err = p.communicate()
            out, err = out or b"", (err or b"") + b"\n(timed out)"
            p.returncode = p.returncode or -9
        finally:
            self.finish(p)
        return subprocess.CompletedProcess(cmd, p.returncode, out, err)

    def kill_all(self):
        """SIGKILL the session of every process started here and still running."""
        with self.lock:
            for pid in self.active:
                kill_group(pid)

    def reap_orphans(self, running_tags=()):
        """Kill and reap our children that we did not start (orphans reparented
        to us), except those of a grade run still in progress."""
        with self.lock:
            for pid in child_pids(os.getpid()):
                if pid in self.active or pid_tag(pid) in running_tags:
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
