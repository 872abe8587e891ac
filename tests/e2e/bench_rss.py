#!/usr/bin/env python3
"""Resident memory without guest RAM: the VMM with one disk and one NIC in
use, then each kind of device process.

usage: bench_rss.py [--splitvm build/splitvm] [--accel emu] [--timeout S]
                    [--part all|vmm|devices] [--repeat N]

VMM: boots the e2e case "rss" (a virtio-blk disk read end to end, DHCP
through a virtio-net NIC on user-mode networking, then a pause) on QEMU 7.2
TCG and on splitvm, sampling /proc/PID/smaps every 20 ms. Per VMM it prints
the steady figure (the median of the samples taken in the second half of the
run, after the kernel load) and the peak, both without guest RAM (splitvm:
the memfd "splitvm-ram"; QEMU: the anonymous mapping exactly --mem big). For
splitvm the breakdown shows what is the emu accelerator's code caches (the
module's memfds "splitvm-emu-icache", decoded records, and "splitvm-emu-jit",
translations; a hardware accelerator has none) and what is shared-library text, against issue 5's goal: at most 5 MiB
for the VMM (Firecracker's published bound).

Device processes (splitvm only): boots the e2e cases disk-isolated,
rng-isolated, net-isolated (user-mode networking) and net-tap-isolated
(skipped where no network namespace can be made), every device in its own
`splitvm remote`, the guest using it; every `splitvm remote` below the VMM
is sampled the same way. Per kind: the steady RSS, PSS and private memory
without guest RAM, and of the RSS what is shared-library pages, the splitvm
binary's own pages and the rest (heap, stacks, anonymous), against issue 7's
goal: at most 2 MiB resident. With --repeat N every VMM and every case
boots N times: the median of the runs' steady figures and their range.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_table  # noqa: E402
import e2e  # noqa: E402
import image as image_mod  # noqa: E402
import smaps  # noqa: E402
import suite  # noqa: E402
from e2e import svt  # noqa: E402

MEM_BYTES = 256 << 20
# (case, what its device processes are); net-tap-isolated needs ip netns.
DEVICE_CASES = [("disk-isolated", "virtio-blk"), ("rng-isolated", "virtio-rng"),
                ("net-isolated", "virtio-net,user"), ("net-tap-isolated", "virtio-net,tap")]
DEVICE_GOAL_MIB = 2.0


def mib(kib):
    return kib / 1024


# ---- the VMM -------------------------------------------------------------------

def sample_vmm(vmm, img, timeout):
    """Boots the rss case with the VMM's samples taken: [smaps.read()] in time order."""
    samples = []

    def sample(pid):
        got = smaps.read(pid, MEM_BYTES)
        if got and got["ram"]["rss"]:
            samples.append(got)

    _, problems, skip = suite.run_case_sampled(vmm, img, "rss", timeout, sample)
    if skip or problems:
        raise RuntimeError(f"{vmm.name}: {skip or '; '.join(problems)}")
    return samples


def vmm_figures(samples):
    """The steady figures of one boot (the later half of its samples) and its peak."""
    steady = smaps.median_of(samples[len(samples) // 2:])
    return {"steady": smaps.total(steady), "peak": max(smaps.total(s) for s in samples),
            "icache": steady["icache"]["rss"],
            "without": smaps.total(steady, without=("ram", "icache")),
            "libs": steady["libs"]["rss"], "samples": len(samples)}


def spread(runs, key, unit=1024, digits=1):
    """"median" or "median [min-max]" of one figure over the runs, in MiB."""
    vals = [r[key] / unit for r in runs]
    text = f"{statistics.median(vals):.{digits}f}"
    if len(vals) > 1:
        text += f" [{min(vals):.{digits}f}-{max(vals):.{digits}f}]"
    return text


def report_vmm(name, runs):
    line = (f"  {name:<14} steady {spread(runs, 'steady')} MiB  peak {spread(runs, 'peak')} MiB"
            f"  ({sum(r['samples'] for r in runs)} samples, {len(runs)} boot(s))")
    if any(r["icache"] for r in runs):
        line += (f"\n  {'':<14} of the steady figure: emu code caches "
                 f"(records, translations) {spread(runs, 'icache')} MiB; the VMM without them "
                 f"{spread(runs, 'without')} MiB (goal <= 5.0), of which shared-library "
                 f"pages {spread(runs, 'libs')} MiB")
    print(line, flush=True)


def bench_vmms(vmms, img, opts):
    print(f"resident memory without guest RAM, one virtio disk and one NIC in use "
          f"(--mem 256M, 1 CPU; {opts.repeat} boot(s) per VMM, alternating: "
          f"median [range]):")
    status = 0
    runs = {v.name: [] for v in vmms}
    usable = bench_table.available(vmms, 14)
    try:
        for _ in range(opts.repeat):
            for vmm in usable:
                runs[vmm.name].append(vmm_figures(sample_vmm(vmm, img, opts.timeout)))
    except RuntimeError as e:
        print(f"FAIL {e}")
        status = 1
    for vmm in usable:
        if runs[vmm.name]:
            report_vmm(vmm.name, runs[vmm.name])
    return status


# ---- device processes ------------------------------------------------------------

def device_kind(pid):
    """"virtio-net,user" for a `splitvm remote --device virtio-net,user,...`, or None."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    if argv[1:2] != ["remote"] or "--device" not in argv[:-1]:
        return None
    words = argv[argv.index("--device") + 1].split(",")
    if words[0] == "virtio-net" and len(words) > 1:
        return ",".join(words[:2]).split("=")[0]
    return words[0]


def sample_devices(vmm, img, case, timeout):
    """Boots case; {pid: (kind, [smaps.read()])} for every device process."""
    got = {}

    def sample(vmm_pid):
        for pid in smaps.descendants(vmm_pid):
            kind = got[pid][0] if pid in got else device_kind(pid)
            s = smaps.read(pid) if kind else None
            if s:
                got.setdefault(pid, (kind, []))[1].append(s)

    result, problems, skip = suite.run_case_sampled(vmm, img, case, timeout, sample, 0.05)
    if skip:
        return None, skip
    if problems:
        raise RuntimeError(f"{case}: {'; '.join(problems)}")
    return got, None


def steady_by_kind(got):
    """{kind: [steady smaps of each of its processes]} (the later half of each)."""
    out = {}
    for kind, samples in got.values():
        if len(samples) >= 4:
            out.setdefault(kind, []).append(smaps.median_of(samples[len(samples) // 2:]))
    return out


def figures(s):
    return {"rss": smaps.total(s), "pss": smaps.total(s, "pss"),
            "private": smaps.total(s, "private"), "libs": s["libs"]["rss"],
            "binary": s["binary"]["rss"], "rest": s["rest"]["rss"]}


def report_device(kind, runs):
    """runs: [figures()] of every process of the kind in every boot."""
    def fmt(key):
        return spread(runs, key, digits=2)

    rss = statistics.median(r["rss"] for r in runs)
    print(f"  {kind:<16} RSS {fmt('rss')} MiB (goal <= {DEVICE_GOAL_MIB:.1f}: "
          f"{'met' if mib(rss) <= DEVICE_GOAL_MIB else 'not met'})  PSS {fmt('pss')}  "
          f"private {fmt('private')}\n  {'':<16} of the RSS: shared libraries "
          f"{fmt('libs')}, the splitvm binary {fmt('binary')}, heap/stacks/anonymous "
          f"{fmt('rest')}  ({len(runs)} processes)", flush=True)


def bench_devices(vmm, img, opts):
    print(f"device processes (splitvm remote), resident memory without guest RAM, "
          f"steady, the guest using the device; {vmm.name}, {opts.repeat} boot(s) per "
          f"case: median [range] in MiB:")
    status = 0
    for case, label in DEVICE_CASES:
        runs = {}
        try:
            for _ in range(opts.repeat):
                got, skip = sample_devices(vmm, img, case, opts.timeout)
                if skip:
                    print(f"  {label:<16} skipped: {skip}")
                    break
                for kind, steadies in steady_by_kind(got).items():
                    runs.setdefault(kind, []).extend(figures(s) for s in steadies)
        except RuntimeError as e:
            print(f"FAIL {e}")
            status = 1
        for kind, figs in sorted(runs.items()):
            report_device(kind, figs)
    return status


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", help="the splitvm binary (omit: QEMU alone)")
    ap.add_argument("--accel", default="emu", help="splitvm's accelerator (%(default)s)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot")
    ap.add_argument("--part", choices=("all", "vmm", "devices"), default="all",
                    help="what to measure (%(default)s)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="boots per VMM and per device case (%(default)s)")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true")
    opts = ap.parse_args()
    e2e.stop_on_signals()
    splitvm = None
    if opts.splitvm:
        binary = os.path.abspath(opts.splitvm)
        accel = svt.probe_accels(binary).get(opts.accel) or svt.Accel(opts.accel)
        splitvm = e2e.Splitvm(binary, accel)
    img = image_mod.build(os.path.abspath(opts.cache), opts.offline)
    status = 0
    if opts.part in ("all", "vmm"):
        status |= bench_vmms([e2e.Qemu()] + ([splitvm] if splitvm else []), img, opts)
    if opts.part in ("all", "devices") and splitvm:
        why = splitvm.unavailable()
        if why:
            print(f"device processes: skipped: {why}")
        else:
            status |= bench_devices(splitvm, img, opts)
    return status


if __name__ == "__main__":
    suite.main_guard(main)
