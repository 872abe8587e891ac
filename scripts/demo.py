#!/usr/bin/env python3
"""`make demo`: boots Debian 12's own kernel to a busybox shell.

usage: demo.py [SPLITVM] [--cpus N] [--mem SIZE] [--timeout S] [--offline]

Builds (or reuses) the e2e guest image (tests/e2e/image.py: Debian's
linux-image-amd64 and busybox-static from apt-get, cached), then boots it
with `splitvm run --accel auto`:
- stdin and stdout on a terminal: an interactive busybox shell; Ctrl-A x or
  `reboot -f` ends it;
- otherwise a short scripted session typed into the console, then
  `reboot -f`.
Every run has a time limit after which splitvm's process group is killed.
If the image cannot be built (offline, no cached packages) or no accelerator
can boot Linux here, it boots splitvm's small test programs instead, says so,
and exits with status 1.
"""
import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import splitvmtest as svt  # noqa: E402
import e2e  # noqa: E402
import image as image_mod  # noqa: E402

SHELL_UP = b"splitvm-init: busybox shell"
# init's PS1 'splitvm:\w\$ ', maybe followed by ash's cursor query (ESC [6n)
PROMPT = re.compile(rb"splitvm:[^\r\n]*# (\x1b\[[0-9;]*[A-Za-z])*$")
SCRIPT = [   # each under 68 characters: the guest's tty is 80 columns wide
    "uname -a",
    "head -n 5 /proc/cpuinfo",
    "free -m",
    "lsmod | head -n 4",
    "awk 'BEGIN{for(;i<1e5;i++)s+=(i%2?-4:4)/(2*i+1);print \"pi\",s}'",
    "cut -d' ' -f1 /proc/uptime",
    "reboot -f",
]


def auto_accel(splitvm):
    """(the accelerator `--accel auto` picks, its description) or (None, None)."""
    out = subprocess.run([splitvm, "accels"], capture_output=True, text=True, timeout=30).stdout
    print(f"$ {os.path.relpath(splitvm)} accels\n{out.rstrip()}")
    m = re.search(r"^auto:\s*(\S+)", out, re.M)
    accel = svt.probe_accels(splitvm).get(m[1]) if m else None
    return (accel, accel.why) if accel and accel.usable else (None, None)


def interactive(argv, timeout):
    """splitvm owns the terminal (its own process group in the foreground)."""
    def foreground():
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(0, os.getpgrp())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)

    proc = subprocess.Popen(argv, preexec_fn=foreground)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)   # splitvm restores the terminal
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            svt.kill_group(proc)
        print(f"\nsplitvm demo: time limit ({timeout:.0f} s) reached, splitvm stopped")
        return "a time-out"
    finally:
        proc.wait()
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(0, os.getpgrp())
        signal.signal(signal.SIGTTOU, old)


def echo(out, data):
    """Writes data without ash's cursor queries (ESC [6n: not for our terminal);
    returns a tail that may be the start of one, held for the next chunk."""
    query = b"\x1b[6n"
    cut = data.rfind(b"\x1b")
    keep = cut >= 0 and len(data) - cut < len(query) and query.startswith(data[cut:])
    data, held = (data[:cut], data[cut:]) if keep else (data, b"")
    out.write(data.replace(query, b""))
    out.flush()
    return held


def scripted(argv, timeout):
    """Types SCRIPT into the console, one command per prompt; echoes the console."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen, held, todo, shell_at = b"", b"", list(SCRIPT), None
    out = sys.stdout.buffer
    try:
        while True:
            left = start + timeout - time.monotonic()
            if left <= 0:
                print(f"\nsplitvm demo: time limit ({timeout:.0f} s) reached, splitvm killed")
                return "a time-out"
            if not sel.select(min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                out.write(held)
                break
            held = echo(out, held + chunk)
            seen += chunk
            if shell_at is None and SHELL_UP in seen:
                shell_at = time.monotonic() - start
            if shell_at is not None and todo and PROMPT.search(seen):
                seen = b""
                try:
                    proc.stdin.write(todo.pop(0).encode() + b"\n")
                    proc.stdin.flush()
                except OSError:
                    break
            seen = seen[-256:]
        rc = proc.wait(max(1.0, start + timeout - time.monotonic()))
        shell = f"shell after {shell_at:.1f} s, " if shell_at is not None else ""
        print(f"\nsplitvm demo: {shell}ended after {time.monotonic() - start:.1f} s")
        return rc
    except subprocess.TimeoutExpired:
        return "a time-out"
    finally:
        svt.kill_group(proc)
        proc.wait()


def boot_linux(splitvm, accel, why, img, opts):
    packages = ", ".join(f"{p} {v}" for p, v in img["packages"].items())
    argv = [splitvm, "run", "--accel", "auto", "--log-level", "warn",
            "--kernel", img["kernel"], "--initrd", img["initrd"],
            "--mem", opts.mem, "--cpus", str(opts.cpus), "--append", e2e.BASE_APPEND]
    print(f"\nsplitvm demo: Debian 12's kernel {img['kernel_version']} with a busybox "
          f"initramfs ({packages}),\n{opts.cpus} CPU(s), {opts.mem}, on the {accel.name} "
          f"accelerator (--accel auto: {why}).")
    print("$ " + " ".join(os.path.relpath(a) if a.startswith("/") else
                          (repr(a) if " " in a else a) for a in argv))
    if sys.stdin.isatty() and sys.stdout.isatty():
        print("An interactive busybox shell follows once Linux has booted (a few seconds to "
              "a minute).\nTo leave: type `reboot -f` in the guest, or press Ctrl-A then x.\n",
              flush=True)
        return interactive(argv, opts.timeout or 4 * 3600)
    print("stdin is not a terminal: a scripted session is typed into the console, "
          f"time limit {opts.timeout or 300:.0f} s.\n", flush=True)
    return scripted(argv, opts.timeout or 300)


def test_programs(splitvm):
    """The fallback: splitvm's small freestanding guests (not Linux)."""
    guests = os.path.join(os.path.dirname(splitvm), "tests", "guests")
    accel = svt.best_accel(svt.probe_accels(splitvm))
    if not accel:
        print("\nsplitvm demo: no accelerator can run guests on this host, so nothing was booted.")
        return 1
    state = "limited on this host" if accel.limited else "runs here"
    print(f"\nsplitvm demo: instead, booting splitvm's small test programs (not Linux) on "
          f"the {accel.name} accelerator ({state}).")
    status = 0
    for guest, args in (("hello", []), ("mptable", ["--cpus", "4"]),
                        ("boot-timer", ["--boot-timer"])):
        argv = [splitvm, "run", "--kernel", os.path.join(guests, guest + ".elf"),
                "--accel", accel.name, "--log-level", "error"] + args
        print("\n$ " + " ".join(os.path.relpath(a) if a.startswith("/") else a for a in argv),
              flush=True)
        r = svt.run(argv, 20, stdin_data=b"")
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        print(f"(splitvm ended with {'a time-out' if r.timed_out else f'status {r.status}'})")
        status = status or int(r.timed_out or r.status != 0)
    return status


def fallback(splitvm):
    """Status 1 either way: Linux was not booted."""
    test_programs(splitvm)
    print("\nsplitvm demo: Linux was not booted (see above).")
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("splitvm", nargs="?", default="build/splitvm")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--timeout", type=float, default=0,
                    help="seconds (default: 300 scripted, 4 h interactive)")
    ap.add_argument("--offline", action="store_true", help="no apt: the packages fetched before")
    opts = ap.parse_args()
    splitvm = os.path.abspath(opts.splitvm)

    accel, why = auto_accel(splitvm)
    if not accel:
        print("\nsplitvm demo: --accel auto finds no accelerator that runs here.")
        return fallback(splitvm)
    if accel.limited:
        print(f"\nsplitvm demo: --accel auto picks {accel.name}, limited here: {why}")
        return fallback(splitvm)
    print("\nsplitvm demo: fetching and building the guest image (tests/e2e/image.py, cached)",
          flush=True)
    try:
        img = image_mod.build(image_mod.DEFAULT_CACHE, opts.offline)
    except Exception as e:  # noqa: BLE001 - any failure: the fallback demo
        print(f"splitvm demo: cannot build the guest image: {e}")
        return fallback(splitvm)
    rc = boot_linux(splitvm, accel, why, img, opts)
    print(f"(splitvm ended with {'status ' + str(rc) if isinstance(rc, int) else rc})")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
