#!/usr/bin/env python3
"""Tests of the splitvm command line: bad input, help, modules, the terminal.

usage: run.py --splitvm build/splitvm [--guests DIR] [--fixtures DIR]

Bad input must give status 2 and exactly one line on stderr, never a crash.
The last line counts the results: `cli: N passed, N failed, N skipped`.
"""
import argparse
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import splitvmtest as svt  # noqa: E402

TIMEOUT = 20


def elf64(paddr, filesz, memsz, machine=62, elf_class=2):
    """A minimal ELF64 executable with one PT_LOAD segment at paddr."""
    ehdr = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", elf_class, 1, 1, 0, 0,
                       2, machine, 1, paddr, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 7, 0x1000, paddr, paddr, filesz, memsz, 0x1000)
    body = ehdr + phdr
    return body + bytes(0x1000 - len(body)) + b"\xf4" * filesz


def bzimage_truncated():
    """The start of a 64-bit bzImage: a valid setup header, and nothing after."""
    img = bytearray(0x300)
    img[0x1f1] = 4                      # setup_sects
    img[0x1fe:0x200] = b"\x55\xaa"      # boot flag
    img[0x200:0x202] = b"\xeb\x6a"      # jump past the header (ends at 0x26c)
    img[0x202:0x206] = b"HdrS"          # header magic
    img[0x206:0x208] = struct.pack("<H", 0x20f)  # protocol 2.15
    img[0x211] = 0x01                   # loadflags: LOADED_HIGH
    img[0x236:0x238] = struct.pack("<H", 0x01)  # xloadflags: XLF_KERNEL_64
    return bytes(img)


class Ctx:
    def __init__(self, splitvm, guests, fixtures, tmp):
        self.splitvm, self.guests, self.fixtures, self.tmp = splitvm, guests, fixtures, tmp
        self.hello = os.path.join(guests, "hello.elf")
        self.hang = os.path.join(guests, "hang.elf")

    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run(self, args, env=None, stdin=None):
        e = dict(os.environ, **(env or {}))
        return svt.run([self.splitvm] + args, TIMEOUT, stdin, env=e)


def check_one_line(run, statuses=(2,), mention=None):
    """None if run ended with one of statuses and one stderr line naming mention."""
    crash = run.crash()
    if crash:
        return crash
    if run.timed_out or run.status not in statuses:
        return f"expected status {' or '.join(map(str, statuses))}, " + run.describe()
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    if len(lines) != 1:
        return f"expected one line on stderr, got {len(lines)}: {run.stderr!r}"
    if mention and mention not in lines[0]:
        return f"stderr does not name {mention!r}: {lines[0]!r}"
    return None


def one_line_outcome(run, statuses, mention):
    """FAIL with the reason, or PASS with the error line as detail."""
    why = check_one_line(run, statuses, mention)
    return ("FAIL", why) if why else ("PASS", run.stderr.strip())


def bad_input_cases(c):
    """(name, args, what the error line must mention) for status 2."""
    k = ["run", "--kernel", c.hello]
    disk = c.file("disk.img", bytes(4096))
    big_initrd = os.path.join(c.tmp, "big-initrd")
    with open(big_initrd, "wb") as f:
        f.truncate(200 << 20)           # sparse: costs no disk
    return [
        ("unknown-command", ["frobnicate"], "frobnicate"),
        ("missing-kernel-option", ["run"], "--kernel"),
        ("missing-kernel-file", ["run", "--kernel", c.tmp + "/no-such-kernel"], "no-such-kernel"),
        ("kernel-is-directory", ["run", "--kernel", c.tmp], c.tmp),
        ("kernel-empty", ["run", "--kernel", c.file("empty", b"")], "empty"),
        ("kernel-text", ["run", "--kernel", c.file("text", b"not a kernel\n" * 100)], "text"),
        ("kernel-elf32", ["run", "--kernel", c.file("elf32", elf64(0x200000, 16, 16, elf_class=1))],
         "elf32"),
        ("kernel-elf-arm64", ["run", "--kernel", c.file("elf-arm64", elf64(0x200000, 16, 16, 183))],
         "elf-arm64"),
        ("kernel-elf-truncated", ["run", "--kernel", c.file("elf-short", elf64(0x200000, 16, 16)[:40])],
         "elf-short"),
        ("kernel-bzimage-truncated", ["run", "--kernel", c.file("bz-short", bzimage_truncated())],
         "bz-short"),
        ("kernel-too-big", ["run", "--mem", "128M", "--kernel",
                            c.file("elf-big", elf64(0x200000, 16, 256 << 20))], "elf-big"),
        ("kernel-beyond-ram", ["run", "--mem", "128M", "--kernel",
                               c.file("elf-high", elf64(512 << 20, 16, 16))], "elf-high"),
        ("initrd-too-big", k + ["--mem", "128M", "--initrd", big_initrd], "big-initrd"),
        ("initrd-missing", k + ["--initrd", c.tmp + "/no-such-initrd"], "no-such-initrd"),
        ("mem-12Q", k + ["--mem", "12Q"], "12Q"),
        ("mem-0", k + ["--mem", "0"], "--mem"),
        ("mem-negative", k + ["--mem", "-1"], "-1"),
        ("mem-empty", k + ["--mem", ""], "--mem"),
        ("mem-no-value", k + ["--mem"], "--mem"),
        ("unknown-option", k + ["--frobnicate"], "--frobnicate"),
        ("unexpected-argument", k + ["extra"], "extra"),
        ("unknown-device", k + ["--device", "no-such-device"], "no-such-device"),
        ("disk-missing", k + ["--device", f"virtio-blk,file={c.tmp}/no-such-disk"],
         "no-such-disk"),
        ("disk-directory", k + ["--device", f"virtio-blk,file={c.tmp}"], c.tmp),
        ("disk-no-file", k + ["--device", "virtio-blk,readonly=on"], "file=PATH"),
        ("disk-queues", k + ["--device", f"virtio-blk,file={disk},num-queues=0"], "num-queues"),
        ("disk-serial", k + ["--device", f"virtio-blk,file={disk},serial={'x' * 21}"], "serial"),
        ("disk-option", k + ["--device", f"virtio-blk,file={disk},cache=none"], "cache"),
        ("remote-bad-fd", k + ["--device", "remote,fd=97"], "fd=97"),
        ("remote-fd-not-socket", k + ["--device", "remote,fd=0"], "not a UNIX stream socket"),
        ("remote-missing-socket", k + ["--device", f"remote,socket={c.tmp}/no-such.sock"],
         "no-such.sock"),
        ("remote-no-link", k + ["--device", "remote"], "fd=N or socket=PATH"),
        ("remote-isolated", k + ["--device", f"remote,socket={c.tmp}/x.sock,isolated=on"],
         "x.sock"),
        ("isolated-bad-value", k + ["--device", "virtio-rng,isolated=sometimes"], "sometimes"),
        ("isolated-bad-option", k + ["--device", "virtio-rng,isolated=on,speed=9"], "speed"),
        ("isolated-heartbeat-text", k + ["--device", "virtio-rng,isolated=on,heartbeat=soon"],
         "soon"),
        ("isolated-heartbeat-short", k + ["--device", "virtio-rng,isolated=on,heartbeat=5"],
         "heartbeat"),
        ("isolated-ext-bad", k + ["--device", "virtio-rng,isolated=on,ext=maybe"], "maybe"),
        ("heartbeat-in-process", k + ["--device", "virtio-rng,heartbeat=100"], "heartbeat"),
        ("remote-heartbeat-bad", k + ["--device", "remote,fd=97,heartbeat=-1"], "heartbeat"),
        ("restart-not-isolated", k + ["--device", "virtio-rng,restart=on"], "isolated=on"),
        ("restart-bad-value", k + ["--device", "virtio-rng,isolated=on,restart=maybe"], "maybe"),
        ("cpus-0", k + ["--cpus", "0"], "--cpus"),
        ("cpus-65", k + ["--cpus", "65"], "65"),
        ("cpus-text", k + ["--cpus", "two"], "two"),
        ("accel-unknown", k + ["--accel", "warp"], "warp"),
        ("log-level-unknown", k + ["--log-level", "loud"], "loud"),
        ("console-unknown", k + ["--console", "tty9"], "tty9"),
        ("remote-no-link", ["remote", "--device", "virtio-rng"], "--link"),
        ("remote-no-device", ["remote", "--link", "socket=" + c.tmp + "/never"], "--device"),
        ("remote-link-kind", ["remote", "--link", "tcp=1", "--device", "virtio-rng"], "tcp=1"),
        ("remote-link-fd-closed", ["remote", "--link", "fd=99", "--device", "virtio-rng"],
         "fd=99"),
        ("remote-link-fd-not-socket", ["remote", "--link", "fd=0", "--device", "virtio-rng"],
         "fd=0"),
        ("remote-unknown-device", ["remote", "--link", "socket=" + c.tmp + "/never",
                                   "--device", "no-such-device"], "no-such-device"),
        ("remote-two-devices", ["remote", "--link", "socket=" + c.tmp + "/never",
                                "--device", "virtio-rng", "--device", "virtio-rng"], "--device"),
        ("remote-unknown-option", ["remote", "--frobnicate"], "--frobnicate"),
        ("remote-sandbox-value", ["remote", "--link", "socket=" + c.tmp + "/never",
                                  "--device", "virtio-rng", "--sandbox", "maybe"], "maybe"),
    ]


def test_no_command(c):
    r = c.run([])
    if r.status != 2 or "usage:" not in r.stderr:
        return verdict("expected status 2 and the usage on stderr, " + r.describe())
    return verdict(None)


def test_unreadable_kernel(c):
    """A kernel the user may not read. Root reads anything, so as root the
    VMM runs as nobody through setpriv."""
    path = c.file("unreadable", open(c.hello, "rb").read())
    os.chmod(path, 0)
    argv = [c.splitvm, "run", "--kernel", path]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            return "SKIP", "running as root and setpriv is missing"
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] + argv
        os.chmod(c.tmp, 0o755)
        probe = svt.run(argv[:4] + [c.splitvm, "version"], TIMEOUT)
        if probe.status != 0:
            return "SKIP", "running as root and nobody cannot run splitvm here"
    return one_line_outcome(svt.run(argv, TIMEOUT), (2,), path)


def test_version(c):
    r = c.run(["version"])
    if r.status != 0 or not r.stdout.startswith("splitvm "):
        return verdict("expected 'splitvm VERSION', " + r.describe())
    return verdict(None)


def test_help(c, args, mention):
    r = c.run(args)
    if r.status != 0 or mention not in r.stdout:
        return verdict(f"expected status 0 and {mention!r} on stdout, " + r.describe())
    return verdict(None)


def test_accels(c):
    r = c.run(["accels"])
    kvm = os.path.join(os.path.dirname(c.splitvm), "accel-kvm.so")
    line = next((l for l in r.stdout.splitlines() if l.startswith("kvm ")), "")
    if r.status != 0 or kvm not in line:
        return verdict(f"expected a kvm line naming {kvm}, " + r.describe())
    if not any(s in line for s in ("runs here", "limited here", "cannot run here")):
        return verdict(f"the kvm line does not say whether it runs here: {line!r}")
    return verdict(None)


def test_module_dir_empty(c):
    empty = os.path.join(c.tmp, "no-modules")
    os.makedirs(empty, exist_ok=True)
    r = c.run(["run", "--kernel", c.hello, "--accel", "kvm"], {"SPLITVM_MODULE_DIR": empty})
    return one_line_outcome(r, (1, 2), os.path.join(empty, "accel-kvm.so"))


def test_module_bad_abi(c):
    d = os.path.join(c.fixtures, "badabi")
    if not os.path.exists(os.path.join(d, "accel-kvm.so")):
        return "FAIL", f"fixture {d}/accel-kvm.so not built"
    r = c.run(["run", "--kernel", c.hello, "--accel", "kvm"], {"SPLITVM_MODULE_DIR": d})
    if "999" not in r.stderr:
        return "FAIL", f"the error does not give the module's ABI version 999: {r.stderr!r}"
    return one_line_outcome(r, (1, 2), os.path.join(d, "accel-kvm.so"))


def test_emu_jit_switch(c):
    """SPLITVM_EMU_JIT: off runs the guest on records only; a bad value is
    refused before the guest starts, naming the variable."""
    k = ["run", "--accel", "emu", "--kernel", c.hello]
    r = c.run(k, {"SPLITVM_EMU_JIT": "off"})
    if r.status != 0 or "Hello from a splitvm guest!" not in r.stdout:
        return verdict("SPLITVM_EMU_JIT=off: expected the guest's hello, " + r.describe())
    r = c.run(k, {"SPLITVM_EMU_JIT": "sometimes"})
    crash = r.crash()
    if crash:
        return verdict(crash)
    if r.status != 1 or "SPLITVM_EMU_JIT=sometimes" not in r.stderr or "Hello" in r.stdout:
        return verdict("SPLITVM_EMU_JIT=sometimes: expected status 1 naming it, no guest, "
                       + r.describe())
    return verdict(None)


class RemoteRun:
    """`splitvm remote --link socket=PATH` with a VMM stand-in connected."""

    def __init__(self, c, name, stale=False, level="info"):
        self.path = os.path.join(c.tmp, name)
        if stale:  # a socket file left by an earlier run, nobody listening
            s = socket.socket(socket.AF_UNIX)
            s.bind(self.path)
            s.close()
        self.proc = subprocess.Popen([c.splitvm, "remote", "--link", "socket=" + self.path,
                                      "--device", "virtio-rng", "--log-level", level],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.sock = socket.socket(socket.AF_UNIX)
        end = time.monotonic() + TIMEOUT
        while True:
            try:
                self.sock.connect(self.path)
                break
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise
                time.sleep(0.05)

    def finish(self):
        """The run's outcome once the process ended (killed after TIMEOUT)."""
        timed_out = False
        try:
            out, err = self.proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
            svt.kill_group(self.proc)
            out, err = self.proc.communicate()
        self.sock.close()
        return svt.Run(self.proc.returncode, svt.clean(out), svt.clean(err), timed_out, 0)


def test_remote_eof(c):
    """The VMM reads the IDs and leaves: status 0; the socket file is gone."""
    try:
        r = RemoteRun(c, "remote-eof.sock", stale=True)
    except OSError as e:
        return verdict(f"cannot connect: {e}")
    # PCI_CFGREAD of the vendor ID: header {3, 12}, then {addr 0, val 0, len 2}
    r.sock.sendall(struct.pack("<IIQIIi", 3, 0, 12, 0, 0, 2))
    reply = r.sock.recv(24)
    gone = not os.path.exists(r.path)
    r.sock.shutdown(socket.SHUT_RDWR)
    run = r.finish()
    if run.crash() or run.status != 0:
        return verdict(run.crash() or "expected status 0, " + run.describe())
    if reply != struct.pack("<IIQQ", 1, 0, 8, 0x1af4):
        return verdict(f"unexpected reply {reply.hex()}")
    return verdict(None if gone else "the socket file is still there once connected")


def test_remote_garbage(c):
    """A command no VMM sends: status 1 and one error line, no crash."""
    try:
        r = RemoteRun(c, "remote-garbage.sock", level="warn")
    except OSError as e:
        return verdict(f"cannot connect: {e}")
    r.sock.sendall(struct.pack("<IIQ", 99, 0, 0))
    run = r.finish()
    return one_line_outcome(run, (1,), "unknown command")


def test_remote_sigterm(c):
    """SIGTERM while serving: the device is destroyed, status 0."""
    try:
        r = RemoteRun(c, "remote-term.sock")
    except OSError as e:
        return verdict(f"cannot connect: {e}")
    time.sleep(0.2)
    r.proc.send_signal(signal.SIGTERM)
    run = r.finish()
    if run.crash() or run.status != 0 or "signal 15" not in run.stderr:
        return verdict(run.crash() or "expected status 0 and a line on the signal, "
                       + run.describe())
    return verdict(None)


def proc_fields(pid, names):
    """{name: value} of /proc/PID/status lines."""
    with open(f"/proc/{pid}/status") as f:
        rows = (line.split(":", 1) for line in f)
        return {k: v.strip() for k, v in rows if k in names}


def test_remote_sandbox(c, on):
    """`splitvm remote --link fd=N` serving over a socketpair, as a VMM starts
    it: sandboxed by default (seccomp filter, no_new_privs, no capabilities,
    at most one line on what could not be applied), or not with --sandbox off.
    Status 0 once the VMM closes the link."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    argv = [c.splitvm, "remote", "--link", f"fd={theirs.fileno()}", "--device", "virtio-rng",
            "--log-level", "info"] + ([] if on else ["--sandbox", "off"])
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, pass_fds=[theirs.fileno()],
                            start_new_session=True)
    theirs.close()
    ours.settimeout(TIMEOUT)
    why = None
    try:
        ours.sendall(struct.pack("<IIQIIi", 3, 0, 12, 0, 0, 2))  # PCI_CFGREAD vendor ID
        if ours.recv(24) != struct.pack("<IIQQ", 1, 0, 8, 0x1af4):
            why = "no vendor ID from the device"
        got = proc_fields(proc.pid, ("Seccomp", "NoNewPrivs", "CapEff"))
        want = ({"Seccomp": "2", "NoNewPrivs": "1", "CapEff": "0000000000000000"} if on
                else {"Seccomp": "0"})
        if any(got.get(k) != v for k, v in want.items()):
            why = why or f"/proc/{proc.pid}/status says {got}, expected {want}"
    except OSError as e:
        why = f"the device process does not answer: {e}"
    ours.close()
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        svt.kill_group(proc)
        out, err = proc.communicate()
    run = svt.Run(proc.returncode, svt.clean(out), svt.clean(err), False, 0)
    lines = [l for l in run.stderr.splitlines() if "sandbox" in l]
    if not why and (run.crash() or run.status != 0):
        why = run.crash() or "expected status 0, " + run.describe()
    if not why and len(lines) > (1 if on else 0):
        why = f"expected at most one line on the sandbox: {lines}"
    return verdict(why)


def verdict(why):
    return ("FAIL", why) if why else ("PASS", "")


class PtyRun:
    """splitvm on a pseudo-terminal: stdin, stdout and stderr."""

    def __init__(self, argv):
        self.master, self.slave = pty.openpty()
        attrs = termios.tcgetattr(self.slave)
        attrs[3] |= termios.ECHO | termios.ICANON | termios.ISIG
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        self.before = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(argv, stdin=self.slave, stdout=self.slave,
                                     stderr=self.slave, start_new_session=True)
        self.output = b""

    def read_until(self, text, seconds):
        """Reads the terminal until text shows, the process ends or time runs out."""
        end = time.monotonic() + seconds
        while text.encode() not in self.output and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:
                    break
            elif self.proc.poll() is not None:
                break
        return text.encode() in self.output

    def wait(self, seconds):
        """The exit status, or None after killing the group on a time-out."""
        end = time.monotonic() + seconds
        while self.proc.poll() is None and time.monotonic() < end:
            self.read_until("\0never\0", 0.2)
        if self.proc.poll() is None:
            svt.kill_group(self.proc)
            self.proc.wait()
            return None
        return self.proc.returncode

    def check(self, status, clean=lambda s: s == 0):
        """None if the run ended, clean(status) holds and the terminal is as
        it was before; else why not."""
        after = termios.tcgetattr(self.slave)
        text = self.output.decode("utf-8", "replace")
        os.close(self.master)
        os.close(self.slave)
        if status is None:
            return f"still running after the time limit; terminal output: {text!r}"
        if not clean(status):
            return f"status {status}; terminal output: {text!r}"
        if after != self.before:
            return "the terminal settings differ after the run (raw mode left on?)"
        return None


    def is_raw(self):
        lflag = termios.tcgetattr(self.slave)[3]
        return not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)


def test_pty_reset(c, accel):
    t = PtyRun([c.splitvm, "run", "--kernel", c.hello, "--accel", accel.name])
    why = t.check(t.wait(TIMEOUT))
    if not why and b"hello: Hello from a splitvm guest!" not in t.output:
        why = f"the guest's line did not reach the terminal: {t.output!r}"
    return verdict(why)


def test_pty_ctrl_a_x(c, accel):
    t = PtyRun([c.splitvm, "run", "--kernel", c.hang, "--accel", accel.name])
    if not t.read_until("hang: halting forever", TIMEOUT):
        return verdict(t.check(t.wait(0)) or "the guest never printed its line")
    if not t.is_raw():
        t.proc.send_signal(signal.SIGTERM)
        t.check(t.wait(5))
        return verdict("splitvm did not put the terminal in raw mode")
    os.write(t.master, b"\x01x")
    return verdict(t.check(t.wait(5)))


def test_pty_sigterm(c, accel):
    t = PtyRun([c.splitvm, "run", "--kernel", c.hang, "--accel", accel.name])
    if not t.read_until("hang: halting forever", TIMEOUT):
        return verdict(t.check(t.wait(0)) or "the guest never printed its line")
    t.proc.send_signal(signal.SIGTERM)
    return verdict(t.check(t.wait(5), clean=lambda s: s >= 0))


def children_of(pid):
    """{pid: command line} of the processes whose parent is pid."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        # the field after the parenthesised name: state, then the parent's pid
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out[int(d)] = cmd
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class VmmRun:
    """splitvm run with its console and log on pipes, read as they come."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.out, self.err = b"", b""

    def wait_for(self, what, seconds, where="err"):
        """Reads both pipes until `what` shows on one of them (where) or time is up."""
        end = time.monotonic() + seconds
        while what.encode() not in getattr(self, where) and time.monotonic() < end:
            ready, _, _ = select.select([self.proc.stdout, self.proc.stderr], [], [], 0.1)
            for f in ready:
                data = os.read(f.fileno(), 65536)
                if f is self.proc.stdout:
                    self.out += data
                else:
                    self.err += data
            if not ready and self.proc.poll() is not None:
                break
        return what.encode() in getattr(self, where)

    def text(self):
        return svt.clean(self.err)

    def kill(self):
        if self.proc.poll() is None:
            svt.kill_group(self.proc)
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def device_pids(vmm, kind):
    return [p for p, cmd in children_of(vmm.proc.pid).items() if f"--device {kind}" in cmd]


def test_supervision(c, accel):
    """Device processes killed under a running VM (issue 7): one log line
    each, the VM runs on; restart=on starts another; none outlives a VMM
    killed with SIGKILL, not even a stopped one (PR_SET_PDEATHSIG, through
    the sandbox's namespaces)."""
    rng, con = "virtio-rng,isolated=on,restart=on", "virtio-console,file=/dev/null,isolated=on"
    vmm = VmmRun([c.splitvm, "run", "--kernel", c.hang, "--accel", accel.name,
                  "--device", rng, "--device", con])
    try:
        return verdict(supervise_steps(vmm, rng, con))
    finally:
        vmm.kill()


def supervise_steps(vmm, rng, con):
    if not vmm.wait_for("hang: halting forever", TIMEOUT, "out"):
        return "the guest never printed its line: " + vmm.text()
    first, consoles = device_pids(vmm, "virtio-rng"), device_pids(vmm, "virtio-console")
    if len(first) != 1 or len(consoles) != 1:
        return f"expected one device process of each kind, found {children_of(vmm.proc.pid)}"
    os.kill(first[0], signal.SIGKILL)
    line = f"{rng}: device failed: device process {first[0]} killed by signal 9 (SIGKILL)"
    if not vmm.wait_for(line, 10) or not vmm.wait_for("restarted", 10):
        return f"no line {line!r} and restart: {vmm.text()!r}"
    os.kill(consoles[0], signal.SIGKILL)
    line = f"{con}: device failed: device process {consoles[0]} killed by signal 9 (SIGKILL)"
    if not vmm.wait_for(line, 10):
        return f"no line {line!r}: {vmm.text()!r}"
    time.sleep(0.3)
    if vmm.proc.poll() is not None:
        return f"the VMM ended (status {vmm.proc.returncode}): {vmm.text()!r}"
    second = device_pids(vmm, "virtio-rng")
    if len(second) != 1 or second == first or device_pids(vmm, "virtio-console"):
        return f"expected one new rng process and no console one: {children_of(vmm.proc.pid)}"
    # Stopped, it cannot see its link close: only the death signal ends it.
    os.kill(second[0], signal.SIGSTOP)
    vmm.proc.kill()  # SIGKILL to the VMM alone, not its group
    vmm.proc.wait()
    end = time.monotonic() + 5
    while alive(second[0]) and time.monotonic() < end:
        time.sleep(0.05)
    return f"device process {second[0]} outlived its VMM" if alive(second[0]) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", required=True)
    ap.add_argument("--guests", help="default: tests/guests beside the binary")
    ap.add_argument("--fixtures", help="default: tests/cli beside the binary")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()
    splitvm = os.path.abspath(opts.splitvm)
    build = os.path.dirname(splitvm)
    guests = opts.guests or os.path.join(build, "tests", "guests")
    fixtures = opts.fixtures or os.path.join(build, "tests", "cli")
    tally = svt.Tally(opts.verbose)

    with tempfile.TemporaryDirectory(prefix="splitvm-cli-") as tmp:
        c = Ctx(splitvm, guests, fixtures, tmp)
        def record(name, outcome):
            tally.report(outcome[0], name, outcome[1])

        for name, args, mention in bad_input_cases(c):
            record(name, one_line_outcome(c.run(args), (2,), mention))
        record("kernel-unreadable", test_unreadable_kernel(c))
        record("no-command", test_no_command(c))
        record("version", test_version(c))
        record("help", test_help(c, ["help"], "run"))
        record("run-help", test_help(c, ["run", "--help"], "--kernel"))
        record("remote-help", test_help(c, ["remote", "--help"], "--link"))
        record("remote-eof", test_remote_eof(c))
        record("remote-garbage", test_remote_garbage(c))
        record("remote-sigterm", test_remote_sigterm(c))
        record("remote-help-sandbox", test_help(c, ["remote", "--help"], "--sandbox"))
        record("remote-sandbox", test_remote_sandbox(c, True))
        record("remote-sandbox-off", test_remote_sandbox(c, False))
        record("accels", test_accels(c))
        record("module-dir-empty", test_module_dir_empty(c))
        record("module-bad-abi", test_module_bad_abi(c))
        record("emu-jit-switch", test_emu_jit_switch(c))
        accel = svt.best_accel(svt.probe_accels(splitvm))
        for name, test in (("pty-reset", test_pty_reset), ("pty-ctrl-a-x", test_pty_ctrl_a_x),
                           ("pty-sigterm", test_pty_sigterm),
                           ("supervision", test_supervision)):
            if accel:
                record(f"{accel.name}/{name}", test(c, accel))
            else:
                tally.report("SKIP", name, "no accelerator runs guests here")
    return tally.summary("cli")


if __name__ == "__main__":
    sys.exit(main())
