#!/usr/bin/env python3
"""Boot-to-init benchmark: splitvm against QEMU TCG, side by side in one run.

usage: bench_boot.py [--splitvm build/splitvm] [--accel emu] [--repeat N] [--cpus 1,2]
                     [--no-vmm-figures]

Both boot the same bzImage, initrd, command line (splitvm.test=boot, no
modules) and memory; the time that counts is from starting the VMM to the
console line init prints first (SPLITVM-INIT-REACHED), as the host sees it.
Runs alternate between the VMMs to share the machine's noise; medians are
printed, and splitvm's ratio to QEMU (issue 4's goal: at most 0.8). splitvm's
own --boot-timer figure (init's port 0x80 write) is shown beside it. A VMM
that cannot run here is reported as skipped. Exit status 1 if a boot fails.

Then the VMM's own figures (separate runs, so the sampling does not disturb
the timed boots):
- start to kernel loaded: from starting splitvm to its log line saying the
  initrd is placed (the bzImage is unpacked by then; what is left before the
  kernel's first instruction is starting the vCPU threads), and the unpack
  time splitvm logs itself; beside it, start to the first instruction of a
  tiny ELF guest (tests/guests/boot-timer.elf, --boot-timer): the floor;
- on emu, the guest's speed during one boot: the instructions vCPU 0 ran
  and its MIPS, as the module logs them at exit (--log-level info);
- peak RSS without guest RAM, one boot per VMM: /proc/PID/smaps sampled
  every 20 ms, the sum of Rss minus the guest RAM mapping (splitvm: the
  memfd "splitvm-ram"; QEMU: the anonymous rw mapping exactly --mem big);
  also the median of the samples (splitvm's peak is its load: the bzImage
  unpack) and VmHWM (the kernel's peak RSS, guest RAM included).
"""
import argparse
import os
import re
import selectors
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import image as image_mod  # noqa: E402
import suite  # noqa: E402
from e2e import svt  # noqa: E402


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x):
    return "-" if x is None else f"{x:.2f}"


def bench(vmms, img, cpus, repeat, timeout):
    """{vmm name: {"init": [s], "end": [s], "timer": [s]}}; failures raise."""
    times = {v.name: {"init": [], "end": [], "timer": []} for v in vmms}
    for _ in range(repeat):
        for vmm in vmms:
            result, problems, _ = suite.run_case(vmm, img, f"boot-smp{cpus}", timeout)
            if problems:
                raise RuntimeError(f"{vmm.name} --cpus {cpus}: {'; '.join(problems)}\n"
                                   + result.tail(30))
            t = times[vmm.name]
            t["init"].append(result.marker_at)
            t["end"].append(result.seconds)
            timer = result.boot_timer(0xe2)
            if timer is not None:
                t["timer"].append(timer)
    return times


# ---- the VMM's own figures ----------------------------------------------------

MEM = "256M"   # what cases.boot_only uses (Plan's default)
UNPACK = re.compile(r"payload unpacked by the VMM: (\d+) bytes in ([\d.]+) ms")


def start_to_loaded(splitvm, accel, img, timeout=60):
    """(seconds to splitvm's 'initrd ... at' line, unpack ms it logged, bytes)."""
    argv = [splitvm, "run", "--accel", accel, "--log-level", "info",
            "--kernel", img["kernel"], "--initrd", img["initrd"], "--mem", MEM,
            "--append", e2e.BASE_APPEND + " splitvm.test=boot splitvm.modules=none"]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    text, unpack = b"", None
    try:
        while time.monotonic() < start + timeout:
            if not sel.select(1.0):
                continue
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break
            text += chunk
            m = UNPACK.search(text.decode("utf-8", "replace"))
            if m:
                unpack = (float(m[2]), int(m[1]))
            if re.search(rb"initrd .* bytes at 0x", text):
                return time.monotonic() - start, unpack
        raise RuntimeError("no initrd line from splitvm --log-level info:\n"
                           + text.decode("utf-8", "replace")[-2000:])
    finally:
        svt.kill_group(proc)
        proc.wait()
        proc.stderr.close()


def tiny_first_instruction(splitvm, accel):
    """Seconds from start to a tiny ELF guest's port 0x80 write, or None."""
    elf = os.path.join(os.path.dirname(splitvm), "tests", "guests", "boot-timer.elf")
    if not os.path.exists(elf):
        return None
    r = svt.run([splitvm, "run", "--accel", accel, "--boot-timer", "--log-level", "error",
                 "--kernel", elf], 30, stdin_data=b"")
    m = re.search(r"boot-timer: 0x5a at (\d+) us", r.stderr)
    return int(m[1]) / 1e6 if m else None


def own_rss_kb(pid, mem_bytes):
    """(Rss without the guest RAM mapping, VmHWM) in KiB, or None once gone."""
    own, ram = 0, False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                    fields = line.split()
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    name = fields[5] if len(fields) > 5 else ""
                    ram = ("memfd:splitvm-ram" in line
                           or (not name and fields[1].startswith("rw")
                               and hi - lo == mem_bytes))
                elif line.startswith("Rss:") and not ram:
                    own += int(line.split()[1])
        with open(f"/proc/{pid}/status") as f:
            hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read())[1])
    except (OSError, TypeError):
        return None
    return own, hwm


def peak_rss(vmm, img, timeout):
    """One boot of the benchmark case with its child sampled: (peak own, median
    own over the samples, VmHWM) in KiB."""
    mem_bytes = int(MEM[:-1]) << 20
    peak, owns = [0, 0], []

    def sample(pid):
        got = own_rss_kb(pid, mem_bytes)
        if got:
            peak[0], peak[1] = max(peak[0], got[0]), max(peak[1], got[1])
            owns.append(got[0])

    _, problems, _ = suite.run_case_sampled(vmm, img, "boot-smp1", timeout, sample)
    if problems:
        raise RuntimeError(f"{vmm.name}: {'; '.join(problems)}")
    return peak[0], median(owns) or 0, peak[1]


SPEED = re.compile(r"emu: vCPU 0: ([\d.]+) M instructions in ([\d.]+) s .*: (\d+) MIPS")


def boot_speed(splitvm, img, timeout=120):
    """One boot on emu to the end: (M instructions, seconds, MIPS) vCPU 0 logged."""
    argv = [splitvm, "run", "--accel", "emu", "--log-level", "info", "--console", "none",
            "--kernel", img["kernel"], "--initrd", img["initrd"], "--mem", MEM,
            "--append", e2e.BASE_APPEND + " splitvm.test=boot splitvm.modules=none"]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    m = SPEED.search(r.stderr)
    return (float(m[1]), float(m[2]), int(m[3])) if m else None


def vmm_figures(vmms, peer, img, opts):
    splitvm = next((v for v in vmms if v is not peer), None)
    if splitvm:
        runs = [start_to_loaded(splitvm.binary, opts.accel, img) for _ in range(opts.repeat)]
        loaded = median([t for t, _ in runs])
        unpack = [u for _, u in runs if u]
        line = (f"  splitvm start -> kernel loaded (initrd placed), median of {opts.repeat}: "
                f"{loaded * 1e3:.0f} ms")
        if unpack:
            line += (f", of which the VMM's bzImage unpack {median([u[0] for u in unpack]):.0f}"
                     f" ms ({unpack[0][1] / 2**20:.1f} MiB vmlinux)")
        tiny = [t for t in (tiny_first_instruction(splitvm.binary, opts.accel)
                            for _ in range(opts.repeat)) if t is not None]
        if tiny:
            line += (f"\n  splitvm start -> first instruction of a tiny ELF guest: "
                     f"{median(tiny) * 1e3:.1f} ms")
        if opts.accel == "emu":
            got = boot_speed(splitvm.binary, img)
            if got:
                line += (f"\n  splitvm-emu guest speed, one boot to the end: {got[0]:.0f} M "
                         f"instructions on vCPU 0 in {got[1]:.2f} s: {got[2]} MIPS")
        print(line, flush=True)
    print(f"  peak RSS without guest RAM (--mem {MEM}, 1 CPU, one boot each, "
          f"smaps sampled every 20 ms):", flush=True)
    own = {}
    for vmm in vmms:
        own[vmm.name], typical, hwm = peak_rss(vmm, img, opts.timeout)
        line = (f"    {vmm.name:<14} {own[vmm.name] / 1024:6.1f} MiB   (median of the samples "
                f"{typical / 1024:.1f} MiB; VmHWM with guest RAM {hwm / 1024:.1f} MiB)")
        if vmm is not peer and own.get(peer.name):
            line += f"  ratio {own[vmm.name] / own[peer.name]:.2f}x {peer.name}"
        print(line, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", help="the splitvm binary (omit: QEMU alone)")
    ap.add_argument("--accel", default="emu", help="splitvm's accelerator (%(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="boots per VMM (%(default)s)")
    ap.add_argument("--cpus", default="1,2", help="CPU counts (%(default)s)")
    ap.add_argument("--qemu-cpu", default="max", help="QEMU's -cpu model (%(default)s)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true")
    ap.add_argument("--no-vmm-figures", action="store_true",
                    help="only the boot times (no start-to-load time, no RSS)")
    opts = ap.parse_args()
    e2e.stop_on_signals()

    peer = e2e.Qemu(cpu=opts.qemu_cpu)
    vmms, skipped = [], []
    for vmm in [peer] + ([e2e.Splitvm(os.path.abspath(opts.splitvm),
                                      svt.probe_accels(os.path.abspath(opts.splitvm))
                                      .get(opts.accel) or svt.Accel(opts.accel))]
                         if opts.splitvm else []):
        why = vmm.unavailable()
        (skipped.append((vmm.name, why)) if why else vmms.append(vmm))
    if peer not in vmms:
        print(f"bench-boot: skipped: {skipped[0][1]}")
        return 0
    img = image_mod.build(os.path.abspath(opts.cache), opts.offline)
    s = img["sizes"]
    print(f"image: {img['kernel_version']}: bzImage {s['bzImage'] / 2**20:.1f} MiB, "
          f"initramfs {s['initramfs'] / 2**20:.1f} MiB (busybox {s['busybox'] / 2**20:.1f} "
          f"MiB, {len(img['modules'])} modules {s['modules'] / 2**20:.1f} MiB uncompressed)")
    print(f"boot to init, median of {opts.repeat} (seconds; end = the VMM exited after "
          f"reboot -f)")
    status = 0
    for cpus in [int(c) for c in opts.cpus.split(",")]:
        try:
            times = bench(vmms, img, cpus, opts.repeat, opts.timeout)
        except RuntimeError as e:
            print(f"FAIL {e}")
            status = 1
            continue
        base = median(times[peer.name]["init"])
        for vmm in vmms:
            t = times[vmm.name]
            line = (f"  cpus={cpus} {vmm.name:<14} init {fmt(median(t['init']))}  "
                    f"end {fmt(median(t['end']))}")
            if t["timer"]:
                line += f"  boot-timer {fmt(median(t['timer']))}"
            if vmm is not peer:
                line += f"  ratio {median(t['init']) / base:.2f}x {peer.name} (goal <= 0.80)"
            print(line, flush=True)
        for name, why in skipped:
            print(f"  cpus={cpus} {name:<14} skipped: {why}")
    if not opts.no_vmm_figures:
        print("the VMM's own figures")
        try:
            vmm_figures(vmms, peer, img, opts)
        except RuntimeError as e:
            print(f"FAIL {e}")
            status = 1
    return status


if __name__ == "__main__":
    suite.main_guard(main)
