#!/usr/bin/env python3
"""virtio-blk IOPS with the disk in its own process against in-process.

usage: bench_isolated.py --splitvm build/splitvm [--accel emu] [--repeat N]
                         [--mib N] [--passes N] [--plain]

The guest (guest/diskbench.sh) writes a raw disk of --mib MiB with dd in
4 KiB O_DIRECT blocks, then reads it --passes times: one request in flight
at a time, so each is a doorbell, the device's work and an interrupt. A
phase's time is the host's, from the guest's line announcing it to the line
ending it; IOPS are requests over that time. Variants: the disk in-process,
isolated=on (negotiated extensions: ioeventfd doorbells, MSI-X routes,
posted writes), and with --plain isolated=on,ext=off (plain mpqemu, as with
QEMU's proxy: doorbells as BAR writes, INTx, so the guest gets pci=nomsi).
Boots alternate between the variants; medians are printed with the ratio
to in-process (issue 7's goal: isolated within 10%). Exit status 1 if a
boot fails.
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_io  # noqa: E402
import e2e  # noqa: E402
import image as image_mod  # noqa: E402
import suite  # noqa: E402
from e2e import svt  # noqa: E402

BS_KIB = 4


class Variant(e2e.Splitvm):
    """splitvm with its disk in-process, isolated, or isolated on plain mpqemu."""

    def __init__(self, binary, accel, isolated, plain=False):
        super().__init__(binary, accel)
        self.isolated, self.plain = isolated, plain
        self.name = ("isolated=on,ext=off" if plain else "isolated=on") if isolated \
            else "in-process"

    def argv(self, image, plan):
        plan.isolated = self.isolated
        if self.plain and "pci=nomsi" not in plan.kernel_args:
            plan.kernel_args.append("pci=nomsi")  # no MSI over plain mpqemu
        return super().argv(image, plan)

    def isolate(self, spec, isolated, d=None):
        spec = super().isolate(spec, isolated, d)
        return spec + ",ext=off" if self.plain and isolated else spec


def one_boot(vmm, img, opts):
    with tempfile.TemporaryDirectory(prefix="splitvm-bench-iso-") as work:
        p = bench_io.plan(work, opts.mib, BS_KIB, opts.passes)
        result = e2e.boot(vmm.argv(img, p), p, opts.timeout)
        problems = e2e.verdict(result, p)
    if problems:
        raise RuntimeError(f"{vmm.name}: {'; '.join(problems)}\n" + result.tail(30))
    times = bench_io.phase_times(result)
    if set(times) != set(bench_io.PHASES):
        raise RuntimeError(f"{vmm.name}: no timing for {set(bench_io.PHASES) - set(times)}")
    return times


def report(vmms, got, opts):
    requests = {"write": opts.mib * 1024 // BS_KIB,
                "read": opts.mib * 1024 // BS_KIB * opts.passes}
    for ph in bench_io.PHASES:
        base = base_runs = None
        for vmm in vmms:
            runs = [requests[ph] / t for t in got[vmm.name][ph]]
            iops = statistics.median(runs)
            line = (f"  {ph:<5} {vmm.name:<20} {iops:8.0f} IOPS "
                    f"(runs {' '.join(f'{r:.0f}' for r in runs)})")
            if base is None:
                base, base_runs = iops, runs
            else:
                line += f"  ratio {iops / base:.2f}x in-process (goal >= 0.90)"
                line += pair_ratios(runs, base_runs)
            print(line, flush=True)


def pair_ratios(runs, base_runs):
    """Each boot against the in-process boot just before it: the machine's
    drift between rounds cancels out."""
    pairs = [r / b for r, b in zip(runs, base_runs)]
    if len(pairs) < 2:
        return ""
    return (f"; per round {statistics.median(pairs):.2f}x "
            f"[{min(pairs):.2f}-{max(pairs):.2f}]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", required=True, help="the splitvm binary")
    ap.add_argument("--accel", default="emu", help="splitvm's accelerator (%(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="boots per variant (%(default)s)")
    ap.add_argument("--mib", type=int, default=16, help="the disk's size (%(default)s MiB)")
    ap.add_argument("--passes", type=int, default=2, help="reads of the disk (%(default)s)")
    ap.add_argument("--plain", action="store_true", help="also isolated=on,ext=off")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true")
    opts = ap.parse_args()
    e2e.stop_on_signals()

    binary = os.path.abspath(opts.splitvm)
    accel = svt.probe_accels(binary).get(opts.accel) or svt.Accel(opts.accel)
    vmms = [Variant(binary, accel, False), Variant(binary, accel, True)]
    if opts.plain:
        vmms.append(Variant(binary, accel, True, plain=True))
    why = vmms[0].unavailable()
    if why:
        print(f"bench-isolated: skipped: {why}")
        return 0
    img = image_mod.build(os.path.abspath(opts.cache), opts.offline)
    print(f"virtio-blk IOPS: dd O_DIRECT in {BS_KIB} KiB blocks, write {opts.mib} MiB, "
          f"read it {opts.passes} times; median of {opts.repeat} boots per variant, "
          f"{opts.accel} (host-timed)")
    got = {v.name: {p: [] for p in bench_io.PHASES} for v in vmms}
    try:
        for _ in range(opts.repeat):
            for vmm in vmms:
                for ph, t in one_boot(vmm, img, opts).items():
                    got[vmm.name][ph].append(t)
    except RuntimeError as e:
        print(f"FAIL {e}")
        return 1
    report(vmms, got, opts)
    return 0


if __name__ == "__main__":
    suite.main_guard(main)
