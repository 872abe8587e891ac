"""Helpers shared by the splitvm test runners and scripts/demo.py.

Running splitvm with a time limit (the whole process group is killed when it
runs out), reading `splitvm accels`, and counting PASS/FAIL/SKIP results.
"""
import os
import re
import signal
import subprocess
import time

# One line of `splitvm accels`: NAME PATH STATE[: reason]
ACCEL_LINE = re.compile(
    r"^(?P<name>[\w-]+)\s+(?P<path>\S+)\s+"
    r"(?P<state>runs here|limited here|cannot run here|unusable)(?::\s*(?P<why>.*))?$")
KNOWN_ACCELS = ("kvm", "emu")
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")


class Accel:
    """An accelerator as `splitvm accels` describes it."""

    def __init__(self, name, path=None, state="unusable", why="not listed"):
        self.name, self.path, self.state, self.why = name, path, state, why

    @property
    def usable(self):
        return self.state in ("runs here", "limited here")

    @property
    def limited(self):
        return self.state == "limited here"

    def skip_reason(self):
        """Why guests cannot run on it, for a SKIP line."""
        if self.state == "unusable" and self.why == "module not found":
            return f"accel-{self.name}.so not built"
        return f"{self.name}: {self.state}: {self.why}"


def probe_accels(splitvm, env=None):
    """Every known accelerator plus any other listed, by name."""
    out = subprocess.run([splitvm, "accels"], capture_output=True, text=True,
                         timeout=30, env=env).stdout
    accels = {name: Accel(name) for name in KNOWN_ACCELS}
    for line in out.splitlines():
        m = ACCEL_LINE.match(line.strip())
        if m:
            accels[m["name"]] = Accel(m["name"], m["path"], m["state"], m["why"] or "")
    return accels


def best_accel(accels):
    """The accelerator that runs guests best here, or None."""
    usable = [a for a in accels.values() if a.usable]
    usable.sort(key=lambda a: a.limited)
    return usable[0] if usable else None


class Run:
    """The outcome of one splitvm process."""

    def __init__(self, status, stdout, stderr, timed_out, seconds):
        self.status, self.stdout, self.stderr = status, stdout, stderr
        self.timed_out, self.seconds = timed_out, seconds

    def crash(self):
        """A reason if the VMM crashed or a sanitizer complained, else None."""
        if self.status is not None and self.status < 0 and not self.timed_out:
            return f"killed by signal {signal.Signals(-self.status).name}"
        m = SANITIZER_REPORT.search(self.stderr)
        if m:
            return f"sanitizer report: {m.group(0)}"
        return None

    def describe(self):
        what = "timed out" if self.timed_out else f"status {self.status}"
        return (f"{what} after {self.seconds:.1f}s\n"
                f"--- stdout\n{self.stdout.rstrip()}\n--- stderr\n{self.stderr.rstrip()}")


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(argv, timeout, stdin_data=None, env=None):
    """Runs argv in its own process group; kills the group after timeout s."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_data is not None
                            else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env)
    timed_out = False
    try:
        out, err = proc.communicate(stdin_data, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        out, err = proc.communicate()
    return Run(proc.returncode, clean(out), clean(err), timed_out,
               time.monotonic() - start)


def clean(data):
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


class Tally:
    """PASS/FAIL/SKIP lines and their count."""

    def __init__(self, verbose=False):
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        self.verbose = verbose

    def report(self, result, name, detail=""):
        self.counts[result] += 1
        line = f"{result} {name}"
        if detail and (result != "PASS" or self.verbose):
            first, _, rest = detail.partition("\n")
            line += f": {first}"
            if rest and result == "FAIL":
                line += "\n" + "\n".join("    " + l for l in rest.splitlines())
        print(line, flush=True)

    def summary(self, label):
        c = self.counts
        print(f"{label}: {c['PASS']} passed, {c['FAIL']} failed, {c['SKIP']} skipped",
              flush=True)
        return 1 if c["FAIL"] else 0
