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
block backend (threads: the fallback for hosts without io_uring). Exit
status 1 if a boot fails.
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_table  # noqa: E402
import e2e  # noqa: E402
import image as image_mod  # noqa: E402
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


def one_boot(vmm, img, opts):
    with tempfile.TemporaryDirectory(prefix="splitvm-bench-io-") as work:
        p = plan(work, opts.mib, opts.bs_kib, opts.passes)
        result = e2e.boot(vmm.argv(img, p), p, opts.timeout)
        problems = e2e.verdict(result, p)
    if problems:
        raise RuntimeError(f"{vmm.name}: {'; '.join(problems)}\n" + result.tail(30))
    times = phase_times(result)
    if set(times) != set(PHASES):
        raise RuntimeError(f"{vmm.name}: no timing for {set(PHASES) - set(times)}")
    return times


def bench(vmms, img, opts):
    """{vmm name: {phase: [seconds]}}; failures raise."""
    got = {v.name: {p: [] for p in PHASES} for v in vmms}
    for _ in range(opts.repeat):
        for vmm in vmms:
            for ph, t in one_boot(vmm, img, opts).items():
                got[vmm.name][ph].append(t)
    return got


def rate(mib, seconds):
    return mib / seconds if seconds else float("inf")


def report(vmms, peer, got, opts):
    for ph in PHASES:
        mib = opts.mib * (opts.passes if ph == "read" else 1)
        rows = []
        for vmm in vmms:
            runs = got[vmm.name][ph]
            host = statistics.median(runs)
            rows.append((vmm, rate(mib, host),
                         f"({host:.2f} s; runs {' '.join(f'{t:.2f}' for t in runs)})"))
        bench_table.print_rates(rows, peer, 24, prefix=f"{ph:<5} ")


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
        got = bench(vmms, img, opts)
    except RuntimeError as e:
        print(f"FAIL {e}")
        return 1
    report(vmms, peer, got, opts)
    bench_table.print_skipped(skipped, 24)
    return 0


if __name__ == "__main__":
    suite.main_guard(main)
