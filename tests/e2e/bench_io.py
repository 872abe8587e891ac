#!/usr/bin/env python3
"""Disk throughput benchmark: splitvm's virtio-blk against QEMU TCG's, side
by side in one run.

usage: bench_io.py [--splitvm build/splitvm] [--accel emu] [--repeat N] [--mib N]
                   [--passes N] [--bs-kib N] [--aio auto,threads]

Each boot attaches a fresh raw image (serial "bench") to the same guest;
its test (guest/diskbench.sh) runs dd with O_DIRECT over the disk: a
sequential write of its --mib MiB from /dev/zero, then --passes sequential
reads of it.
A phase's time is the host's, from the guest's line announcing the phase to
the line reporting its end (busybox's dd prints no rate of its own). Both VMMs
keep the image in the host's page cache (QEMU's default cache=writeback;
splitvm's buffered I/O), and the guest's dd has none: the figure is the
virtio-blk path, not the host's disk. Runs alternate between the VMMs to
share the machine's noise; medians are printed, with splitvm's ratio to QEMU
(issue 5's goal: at least 1.0). --aio adds splitvm variants with another
block backend (threads: the fallback for hosts without io_uring). Under
each phase's rates: the VMM's busiest thread's CPU seconds over the phase
(schedstat; the vCPU's work in a CPU-bound phase, and with emu's halt
polling its short waits too), which the machine's other jobs move far less
than the wall time. Exit status 1 if a boot fails.
"""
import argparse
import os
import re
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_table  # noqa: E402
import e2e  # noqa: E402
import image as image_mod  # noqa: E402
import smaps  # noqa: E402
import suite  # noqa: E402
from e2e import svt  # noqa: E402

PHASES = ("write", "read")


class SplitvmAio(e2e.Splitvm):
    """splitvm with its disks on one block backend (aio=...)."""

    def __init__(self, binary, accel, aio):
        super().__init__(binary, accel)
        self.aio = aio
        if aio != "auto":
            self.name += f"-aio={aio}"

    def device(self, d):
        spec = super().device(d)
        return spec + (f",aio={self.aio}" if isinstance(d, e2e.Disk) else "")


def plan(work, mib, bs_kib, passes):
    path = os.path.join(work, "bench.img")
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    records = f"{mib * 1024 // bs_kib}+0 records out"
    return e2e.Plan("diskbench", params={"mib": mib, "bs_kib": bs_kib, "passes": passes},
                    devices=[e2e.Disk(path, "bench")],
                    expect={"write": records, "read": records})


def phase_times(result):
    """{phase: host seconds} from the console lines."""
    start, out = {}, {}
    for kind, name, value, t in result.guest_lines():
        if kind == "INFO" and name == "bench-start":
            start[value] = t
        elif kind == "OK" and name in PHASES and name in start:
            out[name] = t - start[name]
    return out


def thread_cpu(pid):
    """{tid: CPU ns} of a process's threads (schedstat: time on a CPU)."""
    out = {}
    for tid in smaps.tasks(pid):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


class PhaseCpu:
    """Line hook: the VMM's busiest thread's CPU seconds over each phase.
    With one vCPU and a CPU-bound phase that is the vCPU, and unlike the
    wall time it does not count the time the machine's other jobs take."""

    def __init__(self):
        self.start, self.seconds = {}, {}

    def __call__(self, text, proc):
        m = re.search(r"E2E-(INFO bench-start|OK) (\S+)", text)
        if not m or m.group(2) not in PHASES:
            return
        now = thread_cpu(proc.pid)
        if m.group(1) != "OK":
            self.start[m.group(2)] = now
            return
        before = self.start.get(m.group(2), {})
        deltas = [ns - before[tid] for tid, ns in now.items() if tid in before]
        if deltas:
            self.seconds[m.group(2)] = max(deltas) / 1e9


def one_boot(vmm, img, opts):
    """({phase: host seconds}, {phase: busiest thread's CPU seconds})."""
    cpu = PhaseCpu()
    with tempfile.TemporaryDirectory(prefix="splitvm-bench-io-") as work:
        p = plan(work, opts.mib, opts.bs_kib, opts.passes)
        p.line_hooks.append(cpu)
        result = e2e.boot(vmm.argv(img, p), p, opts.timeout)
        problems = e2e.verdict(result, p)
    if problems:
        raise RuntimeError(f"{vmm.name}: {'; '.join(problems)}\n" + result.tail(30))
    times = phase_times(result)
    if set(times) != set(PHASES):
        raise RuntimeError(f"{vmm.name}: no timing for {set(PHASES) - set(times)}")
    return times, cpu.seconds


def bench(vmms, img, opts):
    """({vmm name: {phase: [seconds]}}, the same of CPU seconds); failures raise."""
    got = {v.name: {p: [] for p in PHASES} for v in vmms}
    cpu = {v.name: {p: [] for p in PHASES} for v in vmms}
    for _ in range(opts.repeat):
        for vmm in vmms:
            times, secs = one_boot(vmm, img, opts)
            for ph, t in times.items():
                got[vmm.name][ph].append(t)
                if ph in secs:
                    cpu[vmm.name][ph].append(secs[ph])
    return got, cpu


def rate(mib, seconds):
    return mib / seconds if seconds else float("inf")


def report(vmms, peer, got, cpu, opts):
    for ph in PHASES:
        mib = opts.mib * (opts.passes if ph == "read" else 1)
        rows = []
        for vmm in vmms:
            runs = got[vmm.name][ph]
            host = statistics.median(runs)
            rows.append((vmm, rate(mib, host),
                         f"({host:.2f} s; runs {' '.join(f'{t:.2f}' for t in runs)})"))
        bench_table.print_rates(rows, peer, 24, prefix=f"{ph:<5} ")
        report_cpu(vmms, peer, cpu, ph)


def report_cpu(vmms, peer, cpu, ph):
    """The busiest thread's CPU seconds per phase (the vCPU's work)."""
    if any(not cpu[v.name][ph] for v in vmms):
        return
    base = statistics.median(cpu[peer.name][ph])
    for vmm in vmms:
        runs = cpu[vmm.name][ph]
        line = (f"  {ph:<5} {vmm.name:<24} busiest thread {statistics.median(runs):.2f} CPU s "
                f"(runs {' '.join(f'{t:.2f}' for t in runs)})")
        if vmm is not peer:
            line += f"  {base / statistics.median(runs):.2f}x {peer.name}'s speed"
        print(line, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", help="the splitvm binary (omit: QEMU alone)")
    ap.add_argument("--accel", default="emu", help="splitvm's accelerator (%(default)s)")
    ap.add_argument("--aio", default="auto",
                    help="splitvm's block backends, comma-separated (%(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="boots per VMM (%(default)s)")
    ap.add_argument("--mib", type=int, default=256, help="the disk's size (%(default)s MiB)")
    # 16 passes: a read phase of ~2 s on both VMMs here (4 gave ~0.5 s,
    # shorter than the swings between boots)
    ap.add_argument("--passes", type=int, default=16,
                    help="reads of the whole disk (%(default)s)")
    ap.add_argument("--bs-kib", type=int, default=1024, help="dd block size (%(default)s)")
    ap.add_argument("--qemu-cpu", default="max", help="QEMU's -cpu model (%(default)s)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true")
    opts = ap.parse_args()
    e2e.stop_on_signals()

    peer = e2e.Qemu(cpu=opts.qemu_cpu)
    vmms, skipped = [peer], []
    if opts.splitvm:
        binary = os.path.abspath(opts.splitvm)
        accel = svt.probe_accels(binary).get(opts.accel) or svt.Accel(opts.accel)
        vmms += [SplitvmAio(binary, accel, a) for a in opts.aio.split(",")]
    for vmm in list(vmms):
        why = vmm.unavailable()
        if why:
            skipped.append((vmm.name, why))
            vmms.remove(vmm)
    if peer not in vmms:
        print(f"bench-io: skipped: {skipped[0][1]}")
        return 0
    img = image_mod.build(os.path.abspath(opts.cache), opts.offline)
    print(f"disk throughput: dd O_DIRECT in {opts.bs_kib} KiB blocks, write {opts.mib} MiB, "
          f"read it {opts.passes} times; median of {opts.repeat} boots per VMM (host-timed)")
    try:
        got, cpu = bench(vmms, img, opts)
    except RuntimeError as e:
        print(f"FAIL {e}")
        return 1
    report(vmms, peer, got, cpu, opts)
    bench_table.print_skipped(skipped, 24)
    return 0


if __name__ == "__main__":
    suite.main_guard(main)
