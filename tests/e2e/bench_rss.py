#!/usr/bin/env python3
"""Resident memory of the VMM with one disk and one NIC in use, without guest RAM.

usage: bench_rss.py [--splitvm build/splitvm] [--accel emu] [--timeout S]

Boots the e2e case "rss" (a virtio-blk disk read end to end, DHCP through a
virtio-net NIC on user-mode networking, then a pause) on QEMU 7.2 TCG and on
splitvm, sampling /proc/PID/smaps every 20 ms. Per VMM it prints the steady
figure (the median of the samples taken in the second half of the run, after
the kernel load) and the peak, both without guest RAM (splitvm: the memfd
"splitvm-ram"; QEMU: the anonymous mapping exactly --mem big). For splitvm
the breakdown shows what is the emu accelerator's decoded-instruction cache
(the module's memfd "splitvm-emu-icache"; a hardware accelerator has
none) and what is shared-library text, against issue 5's
goal: at most 5 MiB for the VMM (Firecracker's published bound).
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

MEM_BYTES = 256 << 20
ICACHE = "/memfd:splitvm-emu-icache"


def smaps_kb(pid):
    """{"ram", "icache", "libs", "rest"} in KiB, or None once the process is gone."""
    out = dict.fromkeys(("ram", "icache", "libs", "rest"), 0)
    kind = "rest"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if "-" in fields[0] and line[0] in "0123456789abcdef":
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    name = " ".join(fields[5:])
                    if "memfd:splitvm-ram" in name or (
                            not name and fields[1].startswith("rw") and hi - lo == MEM_BYTES):
                        kind = "ram"
                    elif name.startswith(ICACHE):
                        kind = "icache"
                    elif ".so" in name:
                        kind = "libs"
                    else:
                        kind = "rest"
                elif fields[0] == "Rss:":
                    out[kind] += int(fields[1])
    except (OSError, ValueError, IndexError):
        return None
    return out


def sample_run(vmm, img, timeout):
    """Boots the case with the VMM's samples taken: [smaps_kb dicts] in time order."""
    samples = []

    def sample(pid):
        got = smaps_kb(pid)
        if got and got["ram"]:
            samples.append(got)

    _, problems, skip = suite.run_case_sampled(vmm, img, "rss", timeout, sample)
    if skip or problems:
        raise RuntimeError(f"{vmm.name}: {skip or '; '.join(problems)}")
    return samples


def own(s, without=()):
    return sum(v for k, v in s.items() if k != "ram" and k not in without)


def report(name, samples):
    late = samples[len(samples) // 2:]
    steady = {k: statistics.median(s[k] for s in late) for k in samples[0]}
    peak = max(own(s) for s in samples)
    line = (f"  {name:<14} steady {own(steady) / 1024:5.1f} MiB  peak {peak / 1024:5.1f} MiB"
            f"  ({len(samples)} samples)")
    if steady["icache"]:
        line += (f"\n  {'':<14} of the steady figure: emu decode cache "
                 f"{steady['icache'] / 1024:.1f} MiB; the VMM without it "
                 f"{own(steady, ('icache',)) / 1024:.1f} MiB (goal <= 5.0), of which "
                 f"shared-library pages {steady['libs'] / 1024:.1f} MiB")
    print(line, flush=True)
    return steady


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", help="the splitvm binary (omit: QEMU alone)")
    ap.add_argument("--accel", default="emu", help="splitvm's accelerator (%(default)s)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true")
    opts = ap.parse_args()
    e2e.stop_on_signals()
    vmms = [e2e.Qemu()]
    if opts.splitvm:
        binary = os.path.abspath(opts.splitvm)
        accel = svt.probe_accels(binary).get(opts.accel) or svt.Accel(opts.accel)
        vmms.append(e2e.Splitvm(binary, accel))
    img = image_mod.build(os.path.abspath(opts.cache), opts.offline)
    print("resident memory without guest RAM, one virtio disk and one NIC in use "
          "(--mem 256M, 1 CPU):")
    status = 0
    for vmm in vmms:
        why = vmm.unavailable()
        if why:
            print(f"  {vmm.name:<14} skipped: {why}")
            continue
        try:
            report(vmm.name, sample_run(vmm, img, opts.timeout))
        except RuntimeError as e:
            print(f"FAIL {e}")
            status = 1
    return status


if __name__ == "__main__":
    suite.main_guard(main)
