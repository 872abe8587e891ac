#!/usr/bin/env python3
"""Boots each guest program under every accelerator and checks what it says.

usage: run.py --splitvm build/splitvm [--guests DIR] [--accel NAME]... [-k PATTERN]

Every run has a time limit; on expiry the run's whole process group is
killed. An accelerator that is not built or cannot run here gives SKIP lines
with the reason. The last line counts the results: `guests: N passed, N
failed, N skipped`; the exit status is 1 if anything failed.
"""
import argparse
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import splitvmtest as svt  # noqa: E402

MiB, GiB = 1 << 20, 1 << 30
LOW_RAM_END = 0x9fc00
HOLE_START = 3 * GiB
E820_LINE = re.compile(r"^e820: addr=0x([0-9a-f]+) size=0x([0-9a-f]+) type=(\d+)$", re.M)
ECHO_INPUT = b"hello, splitvm guest. this part is never read"
SIGTERM_GRACE = 5  # seconds the VMM has to stop after SIGTERM
INITRD = bytes((i * 131 + (i >> 8)) & 0xff for i in range(300001))


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


def expect_lines(*patterns):
    """A check: each regex must match some line of the guest's output."""
    def check(run):
        for p in patterns:
            if not re.search(p, run.stdout, re.M):
                return f"no output line matches {p!r}"
        return None
    return check


def ram_ranges(text):
    """The e820 RAM ranges the guest printed, adjacent ones merged."""
    ranges = []
    for addr, size, kind in E820_LINE.findall(text):
        start, end = int(addr, 16), int(addr, 16) + int(size, 16)
        if int(kind) != 1:
            continue
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges


def expected_ram(mem):
    """RAM below 640K minus the EBDA, from 1 MiB up, the rest above 4 GiB."""
    low = min(mem, HOLE_START)
    ranges = [(0, LOW_RAM_END), (MiB, low)]
    if mem > HOLE_START:
        ranges.append((4 * GiB, 4 * GiB + mem - HOLE_START))
    return ranges


def check_e820(mem):
    def check(run):
        if "e820: end" not in run.stdout:
            return "the guest did not finish printing the map"
        got, want = ram_ranges(run.stdout), expected_ram(mem)
        if got != want:
            fmt = lambda rs: " ".join(f"[{a:#x}-{b:#x})" for a, b in rs)  # noqa: E731
            return f"RAM is {fmt(got)}, expected {fmt(want)}"
        return None
    return check


def check_no_line(pattern):
    def check(run):
        return f"unexpected output {pattern!r}" if re.search(pattern, run.stdout, re.M) else None
    return check


def all_of(*checks):
    def check(run):
        for c in checks:
            why = c(run)
            if why:
                return why
        return None
    return check


def check_file(name, text):
    """A check: the file `name` in the run's scratch directory holds text."""
    def check(run):
        path = os.path.join(run.tmp, name)
        if not os.path.exists(path):
            return f"{path} was not written"
        with open(path, encoding="utf-8", errors="replace") as f:
            got = f.read()
        return None if text in got else f"{path} lacks {text!r}: {got!r}"
    return check


def check_initrd(mem):
    def check(run):
        m = re.search(r"^initrd: addr=0x([0-9a-f]+) size=(\d+) fnv1a=0x([0-9a-f]+)$",
                      run.stdout, re.M)
        if not m:
            return "the guest found no initrd"
        addr, size, digest = int(m[1], 16), int(m[2]), int(m[3], 16)
        if size != len(INITRD):
            return f"ramdisk_size is {size}, the file has {len(INITRD)} bytes"
        if digest != fnv1a(INITRD):
            return f"the initrd in guest RAM differs from the file (fnv1a {digest:#x})"
        if addr % 4096 or addr < MiB or addr + size > mem:
            return f"the initrd at {addr:#x} is not page-aligned inside RAM"
        return None
    return check


def check_boot_timer(run):
    if not re.search(r"^boot-timer: wrote 0x5a", run.stdout, re.M):
        return "the guest did not report its write"
    if not re.search(r"boot-timer.*0x5a\b.*\b\d+(\.\d+)?\s*(us|µs)", run.stderr, re.I):
        return "no --boot-timer line with 0x5a and microseconds on stderr"
    return None


class Case:
    """One guest run. expect: 'exit' (status 0), 'timeout' or 'sigterm'.
    files: {name: bytes} written to the run's scratch directory, @TMP@ in
    args."""

    def __init__(self, name, guest, args=(), check=None, stdin=None, expect="exit",
                 timeout=None, files=None):
        self.name, self.guest, self.args, self.check = name, guest, list(args), check
        self.stdin, self.expect, self.timeout = stdin, expect, timeout
        self.files = files or {}


CASES = [
    Case("hello", "hello", check=expect_lines(r"^hello: Hello from a splitvm guest!$")),
    Case("console-none", "hello", ["--console", "none"],
         check=check_no_line(r"hello:")),
    Case("console-file", "hello", ["--console", "file=@TMP@/console.txt"],
         check=all_of(check_no_line(r"hello:"), check_file("console.txt",
                      "hello: Hello from a splitvm guest!"))),
    Case("cmdline", "cmdline", ["--append", "console=ttyS0 splitvm.test=\"a b\" quiet"],
         check=expect_lines(re.escape('cmdline: [console=ttyS0 splitvm.test="a b" quiet]'))),
    Case("cmdline-empty", "cmdline", check=expect_lines(r"^cmdline: \[\]$")),
    Case("e820-128M", "e820", ["--mem", "128M"], check=check_e820(128 * MiB)),
    Case("e820-4G", "e820", ["--mem", "4G"], check=check_e820(4 * GiB)),
    Case("initrd", "initrd", ["--mem", "128M", "--initrd", "@TMP@/initrd.img"],
         files={"initrd.img": INITRD}, check=check_initrd(128 * MiB)),
    Case("initrd-none", "initrd", check=expect_lines(r"^initrd: none$")),
    Case("echo", "echo", stdin=ECHO_INPUT,
         check=expect_lines(r"^echo: ready$", r"^HELLO, SPLITVM GUEST\.$", r"^echo: done$")),
    Case("boot-timer", "boot-timer", ["--boot-timer"], check=check_boot_timer),
    Case("triple-fault", "triple-fault",
         check=all_of(expect_lines(r"^triple-fault: loading an empty IDT$"),
                      check_no_line(r"still running"))),
    Case("pci", "pci", check=expect_lines(
        r"^pci: 00:00\.0 id=0x[0-9a-f]{8} vendor=0x(?!ffff)[0-9a-f]{4} "
        r"device=0x[0-9a-f]{4} class=0x0600[0-9a-f]{2}$",
        r"^pci: 00:1f\.0 id=0xffffffff$")),
    Case("mptable-1cpu", "mptable", ["--cpus", "1"],
         check=expect_lines(r"^mptable: ok cpus=1 ioapics=1 ")),
    Case("mptable-4cpus", "mptable", ["--cpus", "4"],
         check=expect_lines(r"^mptable: ok cpus=4 ioapics=1 ")),
    Case("hang-time-limit", "hang", expect="timeout", timeout=2,
         check=expect_lines(r"^hang: halting forever$")),
    Case("hang-sigterm", "hang", expect="sigterm",
         check=expect_lines(r"^hang: halting forever$")),
]


def run_sigterm(argv, timeout, stop_timeout):
    """Starts argv, waits for the guest's first line, sends SIGTERM and gives
    the VMM stop_timeout seconds to stop."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    first = b""
    while b"\n" not in first and time.monotonic() - start < timeout:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            first += chunk
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=stop_timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        svt.kill_group(proc)
        out, err = proc.communicate()
    return svt.Run(proc.returncode, svt.clean(first + out), svt.clean(err), timed_out,
                   time.monotonic() - start)


def verdict(case, run, tmp):
    """None if the run is right, else why not."""
    crash = run.crash()
    if crash:
        return crash
    if case.expect == "timeout":
        if not run.timed_out:
            return f"expected the time limit to end the run, got {run.describe()}"
    elif case.expect == "sigterm":
        if run.timed_out:
            return f"still running {SIGTERM_GRACE}s after SIGTERM"
    elif run.timed_out or run.status != 0:
        return "expected status 0, " + run.describe()
    run.tmp = tmp
    why = case.check(run) if case.check else None
    return f"{why}; {run.describe()}" if why else None


def run_case(splitvm, guests, accel, case, default_timeout, tmp):
    kernel = os.path.join(guests, case.guest + ".elf")
    args = [a.replace("@TMP@", tmp) for a in case.args]
    argv = [splitvm, "run", "--kernel", kernel, "--accel", accel.name] + args
    timeout = case.timeout or default_timeout
    for name, data in case.files.items():
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    if case.expect == "sigterm":
        run = run_sigterm(argv, timeout, SIGTERM_GRACE)
    else:
        run = svt.run(argv, timeout, case.stdin)
    return verdict(case, run, tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", required=True, help="the splitvm binary")
    ap.add_argument("--guests", help="directory of the guest .elf files "
                    "(default: tests/guests beside the binary)")
    ap.add_argument("--accel", action="append", help="only these accelerators")
    ap.add_argument("-k", dest="pattern", help="only cases whose name contains this")
    ap.add_argument("--timeout", type=int, default=20, help="seconds per run")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()

    splitvm = os.path.abspath(opts.splitvm)
    guests = opts.guests or os.path.join(os.path.dirname(splitvm), "tests", "guests")
    tally = svt.Tally(opts.verbose)
    accels = svt.probe_accels(splitvm)
    names = opts.accel or list(accels)
    for name in names:
        accel = accels.get(name) or svt.Accel(name)
        for case in CASES:
            if opts.pattern and opts.pattern not in case.name:
                continue
            label = f"{name}/{case.name}"
            if not accel.usable:
                tally.report("SKIP", label, accel.skip_reason())
                continue
            if not os.path.exists(os.path.join(guests, case.guest + ".elf")):
                tally.report("FAIL", label, f"{case.guest}.elf not built in {guests}")
                continue
            with tempfile.TemporaryDirectory(prefix="splitvm-guest-") as tmp:
                why = run_case(splitvm, guests, accel, case, opts.timeout, tmp)
            tally.report("FAIL" if why else "PASS", label, why or "")
    return tally.summary("guests")


if __name__ == "__main__":
    sys.exit(main())
