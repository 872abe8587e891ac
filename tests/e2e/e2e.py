"""Host side of the end-to-end tests: the VMMs that boot the guest image, one
bounded boot with its console streamed and timed, and the verdict.

A case (cases.py) describes a boot as a `Plan`: CPUs, memory, the test the
guest runs, devices, host actions and checks. A `Vmm` turns a plan into a
command line; `boot()` runs it with a time limit (the whole process group is
killed when it expires) and `verdict()` says what went wrong, if anything.
"""
import os
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import splitvmtest as svt  # noqa: E402

MARKER = "SPLITVM-INIT-REACHED"
BASE_APPEND = "console=ttyS0 reboot=k panic=-1 io_delay=none"
GUEST_LINE = re.compile(r"E2E-(OK|FAIL|INFO|READY|DONE) (\S+) ?(.*)$")
BOOT_TIMER = re.compile(r"boot-timer: 0x([0-9a-f]{2}) at (\d+) us")


class Unsupported(Exception):
    """The VMM cannot run this plan (yet): a SKIP, not a failure."""


# ---- what a plan may attach ------------------------------------------------

class Disk:
    """isolated: splitvm runs this disk in a process of its own (isolated=on)
    even when the plan does not isolate every device. proxy: options of its
    proxy when isolated, e.g. ["restart=on", "heartbeat=200"] (issue 7)."""

    def __init__(self, path, serial, readonly=False, bus="virtio", isolated=False, proxy=()):
        self.path, self.serial, self.readonly, self.bus = path, serial, readonly, bus
        self.isolated, self.proxy = isolated, list(proxy)


class Nic:
    """User-mode networking; hostfwd: [(host port, guest port)] on 127.0.0.1.
    With tap=NAME, that tap interface instead (which must exist)."""

    def __init__(self, hostfwd=(), tap=None):
        self.hostfwd, self.tap = list(hostfwd), tap


class Rng:
    pass


class Remote:
    """A device served by its own `splitvm remote --device SPEC` process."""

    def __init__(self, spec):
        self.spec = spec


class Console:
    """A second console port whose output goes to a file."""

    def __init__(self, path):
        self.path = path


class Plan:
    """One boot: what to run and what must come of it.

    expect: {check name: None (any value), a string (the exact value) or a
    function(value) -> reason or None}; every name needs an E2E-OK line.
    replies: [(regex, function(match) -> text)]: when a console line matches,
    the function's text and a newline go to the guest's console (once each).
    host_checks: [(name, function() -> reason or None)], run after the boot.
    shell: no splitvm.test= on the command line, so init starts a shell (the
    test name is still the one the E2E-DONE line must carry).
    kernel_args: more words for the command line, e.g. module options
    (init passes MODULE.PARAM=VALUE to insmod as modprobe would).
    netns: the name of a network namespace (ip netns) the VMM runs in.
    log_expect: [(name, regex)]: each must match a line of the VMM's stderr.
    own_processes: the plan acts on splitvm's device processes (isolated=on):
    other VMMs cannot run it.
    line_hooks: [function(text, proc)] called for every console line with
    the VMM's Popen (benchmarks sample the running VMM there).
    """

    def __init__(self, test, cpus=1, mem="256M", params=None, devices=(), expect=None,
                 replies=(), host_checks=(), modules=True, shell=False, kernel_args=(),
                 netns=None):
        self.test, self.cpus, self.mem, self.shell = test, cpus, mem, shell
        self.netns = netns
        self.kernel_args = list(kernel_args)
        self.params = dict(params or {})
        self.devices = list(devices)
        self.expect = dict(expect or {})
        self.replies = list(replies)
        self.host_checks = list(host_checks)
        self.modules = modules
        self.helpers = []  # processes a VMM starts beside it (DeviceProcess)
        self.isolated = False  # splitvm: every device in a process of its own
        self.log_expect = []
        self.own_processes = False
        self.line_hooks = []

    def append(self):
        words = [BASE_APPEND] + ([] if self.shell else [f"splitvm.test={self.test}"])
        if not self.modules:
            words.append("splitvm.modules=none")
        words += [f"splitvm.{k}={v}" for k, v in self.params.items()] + self.kernel_args
        return " ".join(words)


# ---- the VMMs ----------------------------------------------------------------

class Qemu:
    """QEMU 7.2 with TCG: the peer that shows the image and checks are right."""

    def __init__(self, binary="qemu-system-x86_64", cpu="max"):
        self.binary, self.cpu = binary, cpu
        self.name = "qemu-tcg" if cpu == "max" else f"qemu-tcg-{cpu}"

    def unavailable(self):
        if not shutil.which(self.binary):
            return f"{self.binary} not installed (scripts/install-deps.sh installs it)"
        return None

    def machine(self, plan):
        return ["-M", "pc"]

    def argv(self, image, plan):
        if plan.own_processes:
            raise Unsupported("the case acts on splitvm's device processes")
        argv = [self.binary, "-accel", "tcg"] + self.machine(plan) + [
                "-cpu", self.cpu, "-m", plan.mem, "-smp", str(plan.cpus),
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                "-no-reboot", "-kernel", image["kernel"], "-initrd", image["initrd"],
                "-append", plan.append()]
        for i, d in enumerate(plan.devices):
            argv += self.device(i, d)
        return argv

    @staticmethod
    def device(i, d):
        modern = "disable-legacy=on"  # virtio 1.x only, as splitvm offers
        if isinstance(d, Disk):
            drive = f"file={d.path},if=none,id=disk{i},format=raw"
            drive += ",readonly=on" if d.readonly else ""
            if d.bus == "scsi":
                return ["-drive", drive, "-device", f"lsi53c895a,id=scsi{i}",
                        "-device", f"scsi-hd,drive=disk{i},bus=scsi{i}.0,serial={d.serial}"]
            return ["-drive", drive,
                    "-device", f"virtio-blk-pci,drive=disk{i},serial={d.serial},{modern}"]
        if isinstance(d, Nic) and d.tap:
            return ["-netdev", f"tap,id=net{i},ifname={d.tap},script=no,downscript=no,"
                    "vnet_hdr=on", "-device", f"virtio-net-pci,netdev=net{i},{modern}"]
        if isinstance(d, Nic):
            fwd = "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in d.hostfwd)
            return ["-netdev", f"user,id=net{i}{fwd}",
                    "-device", f"virtio-net-pci,netdev=net{i},{modern}"]
        if isinstance(d, Rng):
            return ["-device", f"virtio-rng-pci,{modern}"]
        if isinstance(d, Console):
            return ["-device", f"virtio-serial-pci,id=vser{i},{modern}",
                    "-chardev", f"file,id=con{i},path={d.path}",
                    "-device", f"virtconsole,chardev=con{i},bus=vser{i}.0"]
        raise Unsupported(f"no QEMU option for {type(d).__name__}")


class DeviceProcess:
    """A device process on a socketpair whose other end the VMM takes
    (splitvm: `--device remote,fd=N`; QEMU: `-device x-pci-proxy-dev,fd=N`).
    argv: function(its fd) -> its command line; prefix: words before it
    (e.g. taskset). It ends when the VMM closes the link; finish() waits for
    that, then kills it."""

    what = "device process"

    def __init__(self, argv, prefix=()):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.argv = list(prefix) + argv(theirs.fileno())
        self.err = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.argv, pass_fds=[theirs.fileno()],
                                         stdin=subprocess.DEVNULL, stdout=self.err,
                                         stderr=self.err, start_new_session=True)
        finally:
            theirs.close()
        self.sock = ours
        self.fd = ours.fileno()

    def handed_over(self):
        """The VMM has its copy: ours would keep the link open after it ends."""
        if self.sock:
            self.sock.close()
            self.sock = None

    def finish(self, timeout=10):
        """Its stderr (and how it ended, if not by itself with status 0)."""
        self.handed_over()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            svt.kill_group(self.proc)
            self.proc.wait()
        self.err.seek(0)
        text = svt.clean(self.err.read())
        self.err.close()
        if self.proc.returncode:
            text += f"\n({self.what}: status {self.proc.returncode})"
        return text.strip()


class RemoteQemu(DeviceProcess):
    """QEMU 7.2 as a device process (`-machine x-remote`) serving the device
    `devid` its `devices` arguments create."""

    what = "QEMU device process"

    def __init__(self, binary, devices, devid, prefix=()):
        super().__init__(lambda fd: [
            binary, "-machine", "x-remote", "-nodefaults", "-no-user-config", "-display",
            "none"] + devices + [
            "-object", f"x-remote-object,id=robj0,devid={devid},fd={fd}"], prefix)

    @classmethod
    def scsi_disk(cls, binary, d):
        """One disk on an LSI53C895A SCSI controller."""
        drive = f"file={d.path},if=none,id=d0,format=raw" + (",readonly=on" if d.readonly else "")
        return cls(binary, ["-device", "lsi53c895a,id=lsi0", "-drive", drive,
                            "-device", f"scsi-hd,drive=d0,bus=lsi0.0,serial={d.serial}"], "lsi0")


HERE = os.path.dirname(os.path.abspath(__file__))


class QemuRemote(Qemu):
    """QEMU 7.2 (TCG) as the VMM, its `Remote` devices behind x-pci-proxy-dev,
    each served by a `splitvm remote` process on a socketpair (issue 6).
    remote_pair.py starts them, runs QEMU, and fails if one of them fails."""

    def __init__(self, splitvm, binary="qemu-system-x86_64"):
        super().__init__(binary)
        self.splitvm = splitvm
        self.name = "qemu-tcg+splitvm-remote"

    def unavailable(self):
        if not os.access(self.splitvm, os.X_OK):
            return f"{self.splitvm} is not built"
        return super().unavailable()

    def machine(self, plan):
        # the proxy shares guest RAM only if it lives in a memfd
        return ["-object", f"memory-backend-memfd,id=ram,size={plan.mem}",
                "-M", "pc,memory-backend=ram"]

    def argv(self, image, plan):
        self.remotes = [d for d in plan.devices if isinstance(d, Remote)]
        pair = [sys.executable, os.path.join(HERE, "remote_pair.py"), "--splitvm", self.splitvm]
        for d in self.remotes:
            pair += ["--device", d.spec]
        return pair + ["--"] + super().argv(image, plan)

    def device(self, i, d):
        if isinstance(d, Remote):
            # {fdK}: remote_pair.py's socket end for the K-th --device
            k = next(k for k, r in enumerate(self.remotes) if r is d)
            return ["-device", f"x-pci-proxy-dev,id=proxy{k},fd={{fd{k}}}"]
        return super().device(i, d)


class Splitvm:
    """`splitvm run` on one accelerator."""

    def __init__(self, binary, accel):
        self.binary, self.accel = binary, accel
        self.name = f"splitvm-{accel.name}"
        self.has_remote = None

    def unavailable(self):
        return None if self.accel.usable else self.accel.skip_reason()

    def argv(self, image, plan):
        argv = [self.binary, "run", "--accel", self.accel.name, "--boot-timer",
                "--kernel", image["kernel"], "--initrd", image["initrd"],
                "--append", plan.append(), "--mem", plan.mem, "--cpus", str(plan.cpus)]
        try:
            for d in plan.devices:
                spec = self.device_process(d, plan) or self.isolate(
                    self.device(d), plan.isolated or getattr(d, "isolated", False), d)
                argv += ["--device", spec]
        except BaseException:
            for h in plan.helpers:
                h.finish(0)
            raise
        return argv

    def isolate(self, spec, isolated, d=None):
        """spec with isolated=on if the plan or the device says so (issue 6),
        and the device's proxy options (issue 7)."""
        if not isolated or spec.startswith("remote,"):
            return spec
        if self.has_remote is None:
            r = svt.run([self.binary, "remote", "--help"], 20)
            self.has_remote = r.status == 0
        if not self.has_remote:
            raise Unsupported("this splitvm has no `splitvm remote` for isolated=on")
        return ",".join([spec, "isolated=on"] + list(getattr(d, "proxy", ())))

    @staticmethod
    def device_process(d, plan):
        """remote,fd=N for a device only another process has, or None.
        No SCSI controller of our own: QEMU's, in its own process (issue 6)."""
        if not (isinstance(d, Disk) and d.bus == "scsi"):
            return None
        qemu = shutil.which("qemu-system-x86_64")
        if not qemu:
            raise Unsupported("qemu-system-x86_64 (the SCSI device process) not installed")
        helper = RemoteQemu.scsi_disk(qemu, d)
        plan.helpers.append(helper)
        return f"remote,fd={helper.fd}"

    @staticmethod
    def device(d):
        # the syntax of issue 5
        if isinstance(d, Disk):
            if d.bus != "virtio":
                raise Unsupported(f"splitvm has no {d.bus} disk controller yet")
            return (f"virtio-blk,file={d.path},serial={d.serial}"
                    + (",readonly=on" if d.readonly else ""))
        if isinstance(d, Nic) and d.tap:
            return f"virtio-net,tap={d.tap}"
        if isinstance(d, Nic):
            return "virtio-net,user" + "".join(
                f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in d.hostfwd)
        if isinstance(d, Rng):
            return "virtio-rng"
        if isinstance(d, Console):
            return f"virtio-console,file={d.path}"
        raise Unsupported(f"no splitvm option for {type(d).__name__}")


# ---- one boot ----------------------------------------------------------------

class Boot:
    """What came of one boot: console lines with the time each arrived."""

    def __init__(self, argv):
        self.argv = argv
        self.lines = []            # (seconds since start, text)
        self.stderr = ""
        self.status = None
        self.timed_out = False
        self.seconds = 0.0
        self.marker_at = None      # console time of MARKER
        self.host_results = {}     # name -> reason or None, from replies

    def guest_lines(self):
        """(kind, name, value, seconds) of every E2E-* line."""
        for t, text in self.lines:
            m = GUEST_LINE.search(text)
            if m:
                yield m[1], m[2], m[3].strip(), t

    def boot_timer(self, value):
        """The VMM's own time in seconds of init's port 0x80 write, if shown."""
        for byte, us in BOOT_TIMER.findall(self.stderr):
            if int(byte, 16) == value:
                return int(us) / 1e6
        return None

    def tail(self, n=40):
        out = "\n".join(text for _, text in self.lines[-n:])
        err = "\n".join(self.stderr.rstrip().splitlines()[-10:])
        what = "timed out" if self.timed_out else f"status {self.status}"
        return (f"{what} after {self.seconds:.1f}s\n$ {shlex.join(self.argv)}\n"
                f"--- console (last {n} lines)\n{out}\n--- stderr\n{err}")


def boot(argv, plan, timeout):
    """Runs argv with the console on stdio for at most `timeout` seconds."""
    if plan.netns:
        argv = ["ip", "netns", "exec", plan.netns] + list(argv)
    result = Boot(argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True,
                                pass_fds=[h.fd for h in plan.helpers])
    finally:
        for h in plan.helpers:
            h.handed_over()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    partial, err = b"", []
    replies = list(plan.replies)
    try:
        while sel.get_map():
            left = start + timeout - time.monotonic()
            if left <= 0:
                result.timed_out = True
                break
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                elif key.data == "err":
                    err.append(chunk)
                else:
                    partial = take_lines(result, partial + chunk, start, replies, proc,
                                         plan.line_hooks)
        if not result.timed_out:
            try:
                proc.wait(max(0.1, start + timeout - time.monotonic()))
            except subprocess.TimeoutExpired:
                result.timed_out = True
    finally:
        if result.timed_out or proc.poll() is None:
            svt.kill_group(proc)
        proc.wait()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        helper_err = [h.finish() for h in plan.helpers]
    if partial:
        result.lines.append((time.monotonic() - start, svt.clean(partial)))
    result.seconds = time.monotonic() - start
    result.status = proc.returncode
    result.stderr = svt.clean(b"".join(err))
    result.stderr += "".join(f"\n{t}" for t in helper_err if t)
    return result


def take_lines(result, data, start, replies, proc, hooks=()):
    """Records the complete lines in data, answers them; returns the rest."""
    *lines, rest = data.split(b"\n")
    for raw in lines:
        t = time.monotonic() - start
        text = svt.clean(raw).rstrip("\r")
        result.lines.append((t, text))
        for hook in hooks:
            hook(text, proc)
        if result.marker_at is None and MARKER in text:
            result.marker_at = t
        for i, (pattern, action) in enumerate(replies):
            m = re.search(pattern, text)
            if m:
                del replies[i]
                answer(proc, action(m, result))
                break
    return rest


def answer(proc, text):
    try:
        proc.stdin.write(text.encode() + b"\n")
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass


# ---- the verdict --------------------------------------------------------------

def verdict(result, plan):
    """None if the boot did all the plan asked, else the reasons."""
    problems = []
    crash = svt.Run(result.status, "", result.stderr, result.timed_out,
                    result.seconds).crash()
    if crash:
        problems.append(crash)
    elif result.timed_out:
        problems.append("timed out")
    elif result.status != 0:
        problems.append(f"exit status {result.status}")
    if result.marker_at is None:
        problems.append(f"no {MARKER} line")
    seen, done = {}, False
    for kind, name, value, _ in result.guest_lines():
        if kind == "FAIL":
            problems.append(f"guest: {name} {value}")
        elif kind == "OK":
            seen.setdefault(name, value)
        elif kind == "DONE" and name == plan.test:
            done = True
    missing = [name for name in plan.expect if name not in seen]
    if missing and result.marker_at is not None:
        problems.append(f"guest: no result for {', '.join(missing)}")
    for name, want in plan.expect.items():
        if name not in seen:
            continue
        why = want(seen[name]) if callable(want) else (
            None if want is None or seen[name] == str(want)
            else f"host expected {want!r}, the guest said {seen[name]!r}")
        if why:
            problems.append(f"{name}: {why}")
    if not done and result.marker_at is not None:
        problems.append(f"the test script {plan.test} did not finish")
    for name, why in result.host_results.items():
        if why:
            problems.append(f"host: {name}: {why}")
    for name, pattern in plan.log_expect:
        if not re.search(pattern, result.stderr, re.M):
            problems.append(f"VMM log: no {name} line (/{pattern}/)")
    if not result.timed_out:
        for name, check in plan.host_checks:
            why = check()
            if why:
                problems.append(f"host: {name}: {why}")
    return problems or None


def figures(result):
    """The times worth printing: to init's marker and to the end."""
    text = f"init {result.marker_at:.2f}s" if result.marker_at is not None else "no init"
    bt = result.boot_timer(0xe2)
    if bt is not None:
        text += f" (boot-timer {bt:.2f}s)"
    return text + f", end {result.seconds:.2f}s"


def stop_on_signals():
    """SIGTERM ends the runner like Ctrl-C, so the finally clauses kill guests."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
