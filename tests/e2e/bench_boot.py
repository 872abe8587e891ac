#!/usr/bin/env python3
"""Boot-to-init benchmark: splitvm against QEMU TCG, side by side in one run.

usage: bench_boot.py [--splitvm build/splitvm] [--accel emu] [--repeat N] [--cpus 1,2]

Both boot the same bzImage, initrd, command line (splitvm.test=boot, no
modules) and memory; the time that counts is from starting the VMM to the
console line init prints first (SPLITVM-INIT-REACHED), as the host sees it.
Runs alternate between the VMMs to share the machine's noise; medians are
printed, and splitvm's ratio to QEMU (issue 4's goal: at most 0.8). splitvm's
own --boot-timer figure (init's port 0x80 write) is shown beside it. A VMM
that cannot run here is reported as skipped. Exit status 1 if a boot fails.
"""
import argparse
import os
import statistics
import sys

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
                line += f"  ratio {median(t['init']) / base:.2f}x {peer.name}"
            print(line, flush=True)
        for name, why in skipped:
            print(f"  cpus={cpus} {name:<14} skipped: {why}")
    return status


if __name__ == "__main__":
    suite.main_guard(main)
