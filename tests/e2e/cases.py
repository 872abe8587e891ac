"""The end-to-end cases: each builds a Plan (e2e.py) for one boot of the
guest image, with whatever the host must prepare, answer or check.

A case is a function(ctx) -> Plan; CASES maps names to cases. ctx has
`image` (image.json's contents), `work` (a scratch directory of its own) and
`cleanup` (a list of functions run after the boot).
"""
import functools
import hashlib
import http.server
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.request

from e2e import Console, Disk, Nic, Plan, Remote, Rng, Unsupported

GUEST_HTTP_PORT = 8080


def basic(ctx, cpus):
    """Issue 4: the kernel, /proc/cpuinfo, awk, sha256sum, sort, fork/exec."""
    e = ctx.image["expect"]
    return Plan("basic", cpus=cpus, expect={
        "uname": ctx.image["kernel_version"],
        "modules": None,
        "cpuinfo": lambda v: None if v.startswith(f"cpus={cpus} ") else f"expected cpus={cpus}",
        "awk": e["awk"],
        "sha256": e["data_sha256"],
        "sort": f"{e['sort_sha256']} {e['sort_unique']}",
        "forkexec": e["fork_count"],
        "pipe": e["pipe_sum"],
    })


def boot_only(ctx, cpus):
    """The boot benchmark: init's marker, then the end; no modules."""
    return Plan("boot", cpus=cpus, modules=False)


def shell(ctx):
    """The interactive path (make demo): commands typed on the console.
    (E2E""-OK keeps the shell's echo of the command from matching.)"""
    commands = ('echo E2E""-OK shell $((6 * 7)) $(uname -r); '
                'echo E2E""-DONE shell; exit')
    return Plan("shell", shell=True, expect={"shell": f"42 {ctx.image['kernel_version']}"},
                replies=[(r"^splitvm-init: busybox shell", lambda m, r: commands)])


# ---- disks -----------------------------------------------------------------

def make_ext4(path, label, files, size="16M"):
    """An ext4 image holding files ({name: bytes}), built without root."""
    src = path + ".d"
    os.makedirs(src, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(src, name), "wb") as f:
            f.write(data)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", label, "-d", src, path, size],
                   check=True, capture_output=True, timeout=60)


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def debugfs_cat(image, name):
    r = subprocess.run(["debugfs", "-R", f"cat /{name}", image], capture_output=True,
                       timeout=60)
    return r.stdout.decode("utf-8", "replace")


def disk(ctx, bus="virtio"):
    """Issue 5: ext4 on a read-write and a read-only disk."""
    with open(os.path.join(ctx.image["dir"], ctx.image["data"]), "rb") as f:
        data = f.read()
    rw, ro = os.path.join(ctx.work, "rw.img"), os.path.join(ctx.work, "ro.img")
    make_ext4(rw, "e2e-rw", {"data.bin": data})
    make_ext4(ro, "e2e-ro", {"data.bin": data})
    ro_sha = file_sha256(ro)
    nonce = secrets.token_hex(8)
    written = f"written by the guest {nonce}"
    sha = ctx.image["expect"]["data_sha256"]

    def read_back():
        got = debugfs_cat(rw, "written.txt")
        return None if got == written + "\n" else f"written.txt holds {got!r}"

    def fsck():
        r = subprocess.run(["e2fsck", "-fn", rw], capture_output=True, text=True, timeout=60)
        if r.returncode:
            return f"e2fsck -fn: status {r.returncode}: {r.stdout[-300:]}"
        return None

    def ro_unchanged():
        return None if file_sha256(ro) == ro_sha else "the read-only image changed"

    expect = {"rw-read": sha, "rw-write": written, "rw-umount": None,
              "ro-flag": "1", "ro-write": "refused", "ro-read": sha}
    expect["serial" if bus == "virtio" else "scsi-disks"] = None
    return Plan("disk", params={"bus": bus, "nonce": nonce},
                devices=[Disk(rw, "e2e-rw", bus=bus), Disk(ro, "e2e-ro", readonly=True, bus=bus)],
                expect=expect,
                # the SCSI driver's 3 s bus settle delay is not needed here
                kernel_args=["sym53c8xx.settle=0"] if bus == "scsi" else [],
                host_checks=[("read-back", read_back), ("fsck", fsck),
                             ("ro-unchanged", ro_unchanged)])


# ---- network ---------------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def http_server(directory, cleanup):
    """An HTTP server on 127.0.0.1 serving directory; returns its port."""
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cleanup.append(server.shutdown)
    return server.server_address[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, tries=10):
    """The body at url; retries while the forwarded port is not up yet
    (at most about a minute, while the guest waits for the answer)."""
    for i in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except OSError:
            if i == tries - 1:
                raise
            time.sleep(0.5)
    return b""


def net(ctx):
    """Issue 5: DHCP, guest-to-host HTTP, host-to-guest through hostfwd."""
    port = http_server(ctx.image["dir"], ctx.cleanup)
    host_port = free_port()

    def hostfwd(match, result):
        try:
            body = fetch(f"http://127.0.0.1:{host_port}/index.html")
        except OSError as e:
            result.host_results["hostfwd"] = f"fetching through the forwarded port: {e}"
            return "failed"
        ok = b"served by the guest" in body
        result.host_results["hostfwd"] = None if ok else f"unexpected page {body[:80]!r}"
        return "fetched" if ok else "failed"

    return Plan("net", params={"http_port": port},
                devices=[Nic(hostfwd=[(host_port, GUEST_HTTP_PORT)])],
                expect={"dhcp": None, "wget": ctx.image["expect"]["data_sha256"],
                        "hostfwd": "fetched"},
                replies=[(r"E2E-READY hostfwd", hostfwd)])


TAP_HOST_IP = "10.11.0.1"


def netns_with_tap(ctx, tap):
    """A network namespace of our own holding tap (host side TAP_HOST_IP);
    Unsupported where this process may not make one (not root, no ip, no
    /dev/net/tun). Removed with everything in it after the boot."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        raise Unsupported("a tap needs root and /dev/net/tun (in a network namespace)")
    ns = f"splitvm-e2e-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        raise Unsupported(f"cannot make a network namespace: {e}") from e
    ctx.cleanup.append(lambda: subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                                              timeout=10))
    for cmd in (["tuntap", "add", "mode", "tap", "name", tap],
                ["addr", "add", f"{TAP_HOST_IP}/24", "dev", tap],
                ["link", "set", tap, "up"], ["link", "set", "lo", "up"]):
        r = subprocess.run(["ip", "-n", ns] + cmd, capture_output=True, text=True, timeout=10)
        if r.returncode:
            raise Unsupported(f"ip {' '.join(cmd)}: {r.stderr.strip()}")
    return ns


def in_netns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


def net_tap(ctx):
    """Issue 5: a tap in a network namespace; large frames both ways."""
    ns = netns_with_tap(ctx, "svtap0")
    port = 8000  # the namespace is ours alone
    server = subprocess.Popen(in_netns(ns, ["python3", "-m", "http.server", "--bind",
                                            TAP_HOST_IP, str(port),
                                            "--directory", ctx.image["dir"]]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx.cleanup += [server.wait, server.kill]  # run last first: kill, wait, remove the namespace
    want = ctx.image["expect"]["data_sha256"]

    def host_fetch(match, result):
        fetch = ("import hashlib, urllib.request; print(hashlib.sha256(urllib.request.urlopen("
                 "'http://10.11.0.2:8080/data.bin', timeout=20).read()).hexdigest())")
        r = subprocess.run(in_netns(ns, ["python3", "-c", fetch]), capture_output=True,
                           text=True, timeout=60)
        ok = r.returncode == 0 and r.stdout.strip() == want
        result.host_results["host-fetch"] = None if ok else \
            f"fetching data.bin from the guest: {r.stdout.strip()} {r.stderr[-200:]}"
        return "fetched" if ok else "failed"

    return Plan("nettap", params={"http_port": port}, netns=ns,
                devices=[Nic(tap="svtap0")],
                expect={"link": "52:54:00:12:34:56", "wget": want, "host-fetch": "fetched"},
                replies=[(r"E2E-READY host-fetch", host_fetch)])


# ---- rng, console -----------------------------------------------------------

def rng(ctx):
    """Issue 5: virtio-rng behind /dev/hwrng."""
    return Plan("rng", devices=[Rng()],
                expect={"rng-current": "virtio_rng", "rng-bytes": "64", "rng-differ": None})


def console(ctx):
    """Issue 5: a line written to the second console port reaches its file."""
    path = os.path.join(ctx.work, "console2.txt")
    nonce = secrets.token_hex(8)

    def arrived():
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as e:
            return str(e)
        return None if re.search(f"^second console {nonce}\r?$", text, re.M) else \
            f"the file holds {text[-200:]!r}"

    return Plan("console", params={"nonce": nonce}, devices=[Console(path)],
                expect={"console-write": None}, host_checks=[("console-file", arrived)])


# ---- devices in their own process ---------------------------------------------

def remote(ctx):
    """Issue 6: QEMU 7.2 as the VMM, virtio-rng in `splitvm remote` behind its
    x-pci-proxy-dev (VMM QemuRemote). The values are splitvm's virtio-rng:
    modern device ID 0x1040 + 4, unassigned class, MSI-X table in a 4 KiB
    BAR 1, the virtio structures in a 16 KiB BAR 4 (64-bit), one queue,
    VIRTIO_F_VERSION_1 in the second feature word."""
    return Plan("remote", modules=False, devices=[Remote("virtio-rng")],
                params={"vendor": "0x1af4", "device": "0x1044", "bar": 4, "msix_bar": 1},
                expect={"remote-found": None,
                        "remote-ids": "0x1af4 0x1044 0x1af4 0x1100",
                        "remote-class": "0xff0000",
                        "remote-bars": "1:0x1000 4:0x4000",
                        "remote-read": "0x0001",
                        "remote-write": "0x00000001 0x00000001",
                        "remote-msix": "0x12345678"})


# Cases whose plan needs a device process: run by run_interop.py only.
INTEROP_CASES = ["remote"]

def rss(ctx):
    """The memory benchmark (bench_rss.py): a disk read and DHCP, then a pause."""
    path = os.path.join(ctx.work, "rss.img")
    make_ext4(path, "e2e-rss", {"data.bin": b"x" * 4096})
    return Plan("rss", devices=[Disk(path, "e2e-rss"), Nic()],
                expect={"disk": None, "dhcp": None})


def isolated(case):
    """The same case with every splitvm device in its own `splitvm remote`
    process (isolated=on, issue 6). The proxy owns the MSI-X tables (issue
    7): the guest's virtio drivers use MSI-X, and the script checks at its
    end that virtio MSI-X interrupts arrived (lib.sh, splitvm.msix=1)."""
    def build(ctx):
        plan = case(ctx)
        plan.isolated = True
        plan.params["msix"] = 1
        plan.expect["msix"] = None
        return plan
    return build


def device_process(path):
    """The pid of the `splitvm remote` serving the disk image at path, or None."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"remote" in argv[1:2] and any(f"file={path},".encode() in a for a in argv):
            return int(d)
    return None


def supervise(ctx):
    """Issue 7: device processes that die or hang under a running guest
    (guest/supervise.sh). Four disks in processes of their own: "kill" is
    killed (SIGKILL) while the guest reads it; "hang" is stopped (SIGSTOP)
    and found out by the per-request timeout (timeout=2000); "beat" is stopped and
    found out by its heartbeat (every 200 ms, answered within 1 s) before
    the guest touches it; "back" (restart=on) is killed while idle and
    restarted, and the guest rebinds its driver and reads its file again.
    The VM runs on and ends with status 0."""
    with open(os.path.join(ctx.image["dir"], ctx.image["data"]), "rb") as f:
        data = f.read()
    names = ("kill", "hang", "beat", "back")
    paths = {n: os.path.join(ctx.work, f"{n}.img") for n in names}
    for n in names[:-1]:
        with open(paths[n], "wb") as f:
            f.truncate(16 << 20)
    make_ext4(paths["back"], "e2e-back", {"data.bin": data})
    pids = {}

    def signal_disk(name, sig, answer, wait=0.0):
        def action(match, result):
            pids[name] = device_process(paths[name])
            if not pids[name]:
                result.host_results[name] = "no device process serves the disk"
                return "none"
            os.kill(pids[name], sig)
            time.sleep(wait)
            return answer
        return action

    def kill_back(match, result):
        if signal_disk("back", signal.SIGKILL, "killed")(match, result) != "killed":
            return "none"
        end = time.monotonic() + 20
        while time.monotonic() < end:
            pid = device_process(paths["back"])
            if pid and pid != pids.get("back"):
                return "restarted"
            time.sleep(0.1)
        result.host_results["back"] = "no new device process within 20 s"
        return "none"

    def kill_io(value):
        # Linux 6.1's virtio-blk has no request timeout: the read the dead
        # process took never completes (docs/proxy.md)
        ok = value == "pending" or value.startswith("error")
        return None if ok else f"the reads went on: {value!r}"

    def line(name, what):
        opts = {"hang": ",timeout=2000", "beat": ",heartbeat=200,timeout=1000",
                "back": ",restart=on"}.get(name, "")
        return (name, re.escape(f"file={paths[name]},serial={name},isolated=on{opts}: ") + what)

    sha = ctx.image["expect"]["data_sha256"]
    expect = {"back-read": sha, "kill-host": "killed", "kill-io": kill_io,
              "stop-host": "stopped", "beat-host": "stopped", "back-host": "restarted",
              "back-vendor": "1af4", "back-reread": sha}
    for n in names[:-1]:
        expect.update({f"{n}-vendor": "ffff", f"{n}-needs-reset": "64"})
    plan = Plan("supervise",
                devices=[Disk(paths["kill"], "kill"),
                         Disk(paths["hang"], "hang", proxy=["timeout=2000"]),
                         Disk(paths["beat"], "beat", proxy=["heartbeat=200", "timeout=1000"]),
                         Disk(paths["back"], "back", proxy=["restart=on"])],
                expect=expect,
                replies=[(r"E2E-READY kill$", signal_disk("kill", signal.SIGKILL, "killed")),
                         (r"E2E-READY stop$", signal_disk("hang", signal.SIGSTOP, "stopped")),
                         # 2 s: the heartbeat's 1.2 s and room; the guest waits
                         (r"E2E-READY stop-beat$",
                          signal_disk("beat", signal.SIGSTOP, "stopped", 2.0)),
                         (r"E2E-READY kill-back$", kill_back)])
    plan.isolated = plan.own_processes = True
    plan.log_expect = [
        line("kill", r"device failed: device process \d+ killed by signal 9 \(SIGKILL\)"),
        line("hang", r"device failed: no reply to \w+ within 2000 ms"),
        line("beat", r"device failed: no reply to EXT_HEARTBEAT within 1000 ms"),
        line("back", r"device failed: device process \d+ killed by signal 9"),
        ("restart", line("back", r"device process \d+ restarted")[1]),
    ]
    return plan


# Cases that act on splitvm's own device processes: not for run_qemu.py.
SPLITVM_ONLY_CASES = ["supervise"]

CASES = {
    "basic-smp1": lambda ctx: basic(ctx, 1),
    "basic-smp2": lambda ctx: basic(ctx, 2),
    "basic-smp4": lambda ctx: basic(ctx, 4),
    "shell": shell,
    "disk": disk,
    "disk-scsi": lambda ctx: disk(ctx, "scsi"),
    "net": net,
    "net-tap": net_tap,
    "rng": rng,
    "console": console,
    "remote": remote,
    "rss": rss,
    "disk-isolated": isolated(disk),
    "net-isolated": isolated(net),
    "net-tap-isolated": isolated(net_tap),
    "rng-isolated": isolated(rng),
    "console-isolated": isolated(console),
    "supervise": supervise,
    "boot-smp1": lambda ctx: boot_only(ctx, 1),
    "boot-smp2": lambda ctx: boot_only(ctx, 2),
}
