#!/usr/bin/env python3
"""Devices in their own processes (issue 6): access latency through the link
against QEMU 7.2's own pair, and virtio-blk throughput with isolated=on
against the in-process disk, each in one run.

usage: bench_remote.py --splitvm build/splitvm [--accel emu] [--repeat N]
                       [--only latency|disk] [--placements split,same,free]
                       [--cross] [--batches N] [--per N] [--mib N] [--passes N]
                       [--rounds N]

Latency: the guest, with no driver bound, runs /e2e/pcilat (guest/pcilat.c)
on a virtio-rng (1af4:1044 on both VMMs): config-space reads through ports
0xcf8/0xcfc (the index write stays in the VMM, the data read is what a proxy
forwards) and 32-bit reads of device_feature in the BAR that the virtio
common configuration capability names; batches of reads timed with the
guest's CLOCK_MONOTONIC (both VMMs run the guest's TSC at host time), the
clock's own cost subtracted. Every VMM is measured the same way, from its
guest:
- splitvm's proxy with `splitvm remote --device virtio-rng` against QEMU
  7.2's own pair (`-device x-pci-proxy-dev` in a TCG VMM, a `-machine
  x-remote` process serving `virtio-rng-pci`): issue 6's goal is at most
  0.5x. A round trip costs two process wakeups, so where the two processes
  run decides most of it: each pair runs in every --placement (taskset):
  split (VMM on one CPU, device process on another: cross-CPU wakeups),
  same (both on one CPU: context switches), free (no pinning; splitvm's
  pair is then the real `--device virtio-rng,isolated=on`; pinned, splitvm's
  device process is started here and attached with `remote,fd=N`, the same
  link code);
- both in-process (`--device virtio-rng`, `-device virtio-rng-pci`), on the
  VMM's CPU: the guest's and the VMM's own cost per access (emu and TCG
  differ a little), subtracted for a second ratio of the link's share;
- --cross: the mixed pairs (QEMU's proxy with `splitvm remote`, splitvm's
  proxy with QEMU's remote) tell the VMM side from the device side.
A boot's figure is the median over its batches; printed: the median over
the boots, with every boot's figure.

Disk: bench_io.py's workload (guest/diskbench.sh: O_DIRECT dd, host-timed)
on two disks of one splitvm guest, one in-process and one isolated=on,
taking turns phase by phase for --rounds rounds, so that each isolated
phase has an in-process partner run just before it under the same load;
the ratio is the median over those pairs (goal: at least 0.9x). Both disks
on MSI-X, the isolated one with the negotiated extensions (issue 7:
ioeventfd doorbells, MSI routes, posted writes); then the same pairs with
the isolated disk on plain mpqemu (ext=off) and the guest on INTx
(pci=nomsi), as issue 6 measured it.

Runs alternate between the variants to share the machine's noise. Exit
status 1 if a boot fails.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_io  # noqa: E402
import bench_table  # noqa: E402
import e2e  # noqa: E402
import image as image_mod  # noqa: E402
import suite  # noqa: E402
from e2e import svt  # noqa: E402

VENDOR, DEVICE = 0x1af4, 0x1044  # virtio-rng, virtio 1.x only
QEMU_RNG = ["-device", "virtio-rng-pci,id=rng0,disable-legacy=on"]


# ---- the VMMs and their device processes ----------------------------------------

def qemu_binary():
    return shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"


def qemu_rng(prefix):
    """QEMU's remote (`-machine x-remote`) serving virtio-rng-pci."""
    return e2e.RemoteQemu(qemu_binary(), QEMU_RNG, "rng0", prefix)


def splitvm_rng(binary):
    """`splitvm remote --device virtio-rng`, as isolated=on starts it."""
    def start(prefix):
        return e2e.DeviceProcess(lambda fd: [binary, "remote", "--link", f"fd={fd}", "--device",
                                             "virtio-rng", "--log-level", "warn"], prefix)
    return start


class SplitvmProxy(e2e.Splitvm):
    """splitvm; with `remote`, its virtio-rng is `--device remote,fd=N` on a
    device process remote(prefix) starts."""

    def __init__(self, binary, accel, remote=None):
        super().__init__(binary, accel)
        self.remote, self.prefix = remote, []

    def device_process(self, d, plan):
        if not (self.remote and isinstance(d, e2e.Rng)):
            return super().device_process(d, plan)
        helper = self.remote(self.prefix)
        plan.helpers.append(helper)
        return f"remote,fd={helper.fd}"


class QemuProxy(e2e.Qemu):
    """QEMU 7.2 (TCG); with `remote`, its virtio-rng is `-device
    x-pci-proxy-dev,fd=N` on a device process remote(prefix) starts, and its
    RAM a memfd (the proxy shares no other)."""

    def __init__(self, remote=None):
        super().__init__()
        self.remote, self.prefix, self.plan = remote, [], None

    def machine(self, plan):
        if not self.remote:
            return super().machine(plan)
        return ["-object", f"memory-backend-memfd,id=ram,size={plan.mem}",
                "-M", "pc,memory-backend=ram"]

    def argv(self, image, plan):
        self.plan = plan
        return super().argv(image, plan)

    def device(self, i, d):
        if not (self.remote and isinstance(d, e2e.Rng)):
            return super().device(i, d)
        helper = self.remote(self.prefix)
        self.plan.helpers.append(helper)
        return ["-device", f"x-pci-proxy-dev,id=proxy{i},fd={helper.fd}"]


class Variant:
    """A VMM and how it runs: devices isolated, kernel arguments, and the
    CPUs (taskset) of the VMM and of its device processes (None: any)."""

    def __init__(self, name, vmm, isolated=False, kernel_args=(), cpus=(None, None),
                 role=None):
        self.name, self.vmm, self.role = name, vmm, role
        self.isolated, self.kernel_args = isolated, list(kernel_args)
        self.cpus = cpus

    def unavailable(self):
        why = self.vmm.unavailable()
        if not why and getattr(self.vmm, "remote", None) and not shutil.which(qemu_binary()):
            why = "qemu-system-x86_64 not installed"
        return why

    def argv(self, image, plan):
        plan.isolated = self.isolated
        plan.kernel_args += self.kernel_args
        vmm_cpu, dev_cpu = self.cpus
        self.vmm.prefix = ["taskset", "-c", str(dev_cpu)] if dev_cpu is not None else []
        argv = self.vmm.argv(image, plan)
        return (["taskset", "-c", str(vmm_cpu)] if vmm_cpu is not None else []) + argv


def one_boot(variant, img, make_plan, timeout):
    """(Boot, plan) of one boot that did all its plan asked; raises otherwise."""
    with tempfile.TemporaryDirectory(prefix="splitvm-bench-remote-") as work:
        plan = make_plan(work)
        try:
            argv = variant.argv(img, plan)
        except e2e.Unsupported as u:
            raise RuntimeError(f"{variant.name}: {u}") from u
        result = e2e.boot(argv, plan, timeout)
        problems = e2e.verdict(result, plan)
    if problems:
        raise RuntimeError(f"{variant.name}: {'; '.join(problems)}\n" + result.tail(30))
    return result, plan


def alternate(variants, repeat, measure):
    """{variant name: [measure(variant)...]}, the variants taking turns."""
    got = {v.name: [] for v in variants}
    for _ in range(repeat):
        for v in variants:
            got[v.name].append(measure(v))
    return got


# ---- latency -------------------------------------------------------------------

LAT = ("cfg", "bar")


def lat_fields(value):
    """{median, min, p90, reads, bad, value} of a pcilat line's value."""
    f = value.split()
    if len(f) != 6:
        raise ValueError(value)
    keys = ("median", "min", "p90", "reads", "bad")
    return dict(zip(keys, (int(x) for x in f[:5])), value=int(f[5], 16))


def lat_check(kind):
    ids = DEVICE << 16 | VENDOR

    def check(value):
        try:
            f = lat_fields(value)
        except ValueError:
            return f"not 'median min p90 reads bad value': {value!r}"
        if f["bad"] * 100 > f["reads"]:
            return f"{f['bad']} of {f['reads']} reads gave another value"
        if kind == "cfg" and f["value"] != ids:
            return f"read {f['value']:#x}, not the IDs {ids:#x}"
        if kind == "bar" and f["value"] == 0xffffffff:
            return "the BAR reads all ones: nothing answers there"
        return None
    return check


def lat_plan(opts):
    return lambda work: e2e.Plan(
        "pcilat", modules=False, devices=[e2e.Rng()],
        params={"vendor": f"{VENDOR:#06x}", "device": f"{DEVICE:#06x}",
                "batches": opts.batches, "per": opts.per},
        expect={"lat-found": None, "lat-clock": None,
                "lat-cfg": lat_check("cfg"), "lat-bar": lat_check("bar")})


def lat_measure(img, opts):
    def measure(variant):
        result, _ = one_boot(variant, img, lat_plan(opts), opts.timeout)
        seen = {name: value for kind, name, value, _ in result.guest_lines() if kind == "OK"}
        return {k: lat_fields(seen[f"lat-{k}"])["median"] for k in LAT}
    return measure


PLACEMENTS = {
    "split": "VMM on one CPU, device process on another",
    "same": "VMM and device process on one CPU",
    "free": "no pinning",
}


def placement_cpus(placement):
    """(VMM CPU, device process CPU) for a placement; None: not pinned.
    Raises RuntimeError when the machine has too few CPUs for it."""
    cpus = sorted(os.sched_getaffinity(0))
    if placement == "free":
        return None, None
    if placement == "same":
        return cpus[0], cpus[0]
    if len(cpus) < 2:
        raise RuntimeError("placement split needs 2 CPUs")
    return cpus[0], cpus[1]


def lat_variants(binary, accel, placements, cross):
    """In-process splitvm and QEMU (pinned to the VMM's CPU of the first
    placement), then for each placement splitvm's pair and QEMU's pair, and
    with `cross` the mixed pairs. Each variant's role says what it is:
    "sv", "qemu" (in-process), ("sv", placement), ("qemu", placement)."""
    sv = f"splitvm-{accel.name}"
    first = placement_cpus(placements[0])
    out = [Variant(f"{sv} in-process", SplitvmProxy(binary, accel), cpus=(first[0], None),
                   role="sv"),
           Variant("qemu-tcg in-process", QemuProxy(), cpus=(first[0], None), role="qemu")]
    for pl in placements:
        cpus = placement_cpus(pl)
        if pl == "free":  # the real isolated=on: splitvm starts the device process
            out.append(Variant(f"{sv} isolated=on [{pl}]", SplitvmProxy(binary, accel),
                               isolated=True, role=("sv", pl)))
        else:  # the same `splitvm remote`, started here so that it can be pinned
            out.append(Variant(f"{sv} proxy + splitvm remote [{pl}]",
                               SplitvmProxy(binary, accel, splitvm_rng(binary)), cpus=cpus,
                               role=("sv", pl)))
        out.append(Variant(f"qemu-tcg proxy + qemu remote [{pl}]", QemuProxy(qemu_rng),
                           cpus=cpus, role=("qemu", pl)))
    for pl in placements if cross else []:
        cpus = placement_cpus(pl)
        out += [Variant(f"qemu-tcg proxy + splitvm remote [{pl}]",
                        QemuProxy(splitvm_rng(binary)), cpus=cpus),
                Variant(f"{sv} proxy + qemu remote [{pl}]",
                        SplitvmProxy(binary, accel, qemu_rng), cpus=cpus)]
    return out


def us(ns):
    return f"{ns / 1000:7.2f} us"


def lat_report(variants, got, placements):
    med = {v.role or v.name: {k: statistics.median(r[k] for r in got[v.name]) for k in LAT}
           for v in variants}
    for v in variants:
        m = med[v.role or v.name]
        runs = " / ".join(" ".join(f"{r[k] / 1000:.1f}" for r in got[v.name]) for k in LAT)
        print(f"  {v.name:<46} config {us(m['cfg'])}   BAR {us(m['bar'])}"
              f"   (runs, us: {runs})", flush=True)
    for pl in placements:
        ours, peer = med.get(("sv", pl)), med.get(("qemu", pl))
        if not ours or not peer:
            continue
        for k, what in (("cfg", "config read"), ("bar", "BAR read")):
            line = (f"  [{pl}] {what:<11} splitvm pair / QEMU pair: {ours[k] / peer[k]:.2f}x "
                    "(goal <= 0.50)")
            if "sv" in med and "qemu" in med:
                link_sv, link_q = ours[k] - med["sv"][k], peer[k] - med["qemu"][k]
                line += (f"; less the in-process cost: {link_sv / 1000:.2f} against "
                         f"{link_q / 1000:.2f} us, {link_sv / link_q:.2f}x")
            print(line, flush=True)


def latency(binary, accel, img, opts):
    placements = opts.placements.split(",")
    for pl in placements:
        if pl not in PLACEMENTS:
            raise RuntimeError(f"unknown placement {pl}: one of {', '.join(PLACEMENTS)}")
    print(f"PCI access latency from the guest: virtio-rng {VENDOR:04x}:{DEVICE:04x}, no driver; "
          f"pcilat: {opts.batches} batches of {opts.per} reads, median ns per read; median of "
          f"{opts.repeat} boots per variant; "
          + "; ".join(f"[{pl}] {PLACEMENTS[pl]}" for pl in placements))
    variants = bench_table.available(lat_variants(binary, accel, placements, opts.cross), 46)
    got = alternate(variants, opts.repeat, lat_measure(img, opts))
    lat_report(variants, got, placements)


# ---- disk throughput -----------------------------------------------------------------

DISKS = ("inproc", "isolated")  # the paired boot's disks, by serial


def phase_runs(result):
    """{phase: [host seconds, one per round]} from the console lines."""
    start, out = {}, {}
    for kind, name, value, t in result.guest_lines():
        if kind == "INFO" and name == "bench-start":
            start[value] = t
        elif kind == "OK" and name in start:
            out.setdefault(name, []).append(t - start.pop(name))
    return out


class PlainSplitvm(e2e.Splitvm):
    """isolated=on devices on plain mpqemu (ext=off), as behind QEMU's proxy."""

    def isolate(self, spec, isolated, d=None):
        spec = super().isolate(spec, isolated, d)
        return spec + ",ext=off" if isolated else spec


def disk_plans(opts):
    """The paired plan as a function of a scratch directory."""
    records = f"{opts.mib * 1024 // opts.bs_kib}+0 records out"
    params = {"mib": opts.mib, "bs_kib": opts.bs_kib, "passes": opts.passes,
              "rounds": opts.rounds}

    def image(work, name):
        path = os.path.join(work, f"{name}.img")
        with open(path, "wb") as f:
            f.truncate(opts.mib << 20)
        return path

    def paired(work):
        return e2e.Plan("diskbench", params=dict(params, serials=",".join(DISKS)),
                        devices=[e2e.Disk(image(work, d), d, isolated=d == "isolated")
                                 for d in DISKS],
                        expect={f"{ph}-{d}": records for d in DISKS for ph in bench_io.PHASES})
    return paired


def disk_measure(img, opts):
    """measure(variant) -> {phase: [seconds]}: PHASE-inproc and PHASE-isolated."""
    paired = disk_plans(opts)

    def measure(variant):
        want = [f"{ph}-{d}" for d in DISKS for ph in bench_io.PHASES]
        result, _ = one_boot(variant, img, paired, opts.timeout)
        runs = phase_runs(result)
        short = [ph for ph in want if len(runs.get(ph, [])) != opts.rounds]
        if short:
            raise RuntimeError(f"{variant.name}: not {opts.rounds} timings of {short}")
        return runs
    return measure


def merged(boots, phase):
    return [t for b in boots for t in b[phase]]


def disk_report(got, variants, opts):
    for ph in bench_io.PHASES:
        mib = opts.mib * (opts.passes if ph == "read" else 1)
        rows = []
        for v in variants:
            boots = got[v.name]
            local, iso = merged(boots, f"{ph}-inproc"), merged(boots, f"{ph}-isolated")
            ratio = statistics.median(a / b for a, b in zip(local, iso))
            rows += [(f"in-process{v.role}", local, ""),
                     (f"isolated=on{v.role}", iso,
                      f"  ratio {ratio:.2f}x in-process (median of the {len(iso)} pairs; "
                      "goal >= 0.90)")]
        for what, runs, extra in rows:
            t = statistics.median(runs)
            print(f"  {ph:<5} {what:<30} {bench_io.rate(mib, t):7.1f} MiB/s ({t:.2f} s; "
                  f"runs {' '.join(f'{x:.2f}' for x in runs)}){extra}", flush=True)


def disk(binary, accel, img, opts):
    print(f"virtio-blk throughput: dd O_DIRECT in {opts.bs_kib} KiB blocks, write {opts.mib} "
          f"MiB, read it {opts.passes} times, {opts.rounds} rounds per boot, {opts.repeat} "
          "boots, host-timed. An in-process and an isolated=on disk in the same guest "
          "take turns phase by phase: on MSI-X with the extensions, then with the "
          "isolated one on plain mpqemu (ext=off) and both on INTx (pci=nomsi)")
    # role: what the report's rows add to their names
    variants = bench_table.available([
        Variant(f"splitvm-{accel.name} in-process + isolated=on disks",
                e2e.Splitvm(binary, accel), role=""),
        Variant(f"splitvm-{accel.name} in-process + isolated=on,ext=off disks, pci=nomsi",
                PlainSplitvm(binary, accel), kernel_args=["pci=nomsi"], role=", ext=off, INTx")],
        46)
    got = alternate(variants, opts.repeat, disk_measure(img, opts))
    disk_report(got, variants, opts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", required=True, help="the splitvm binary")
    ap.add_argument("--accel", default="emu", help="splitvm's accelerator (%(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="boots per variant (%(default)s)")
    ap.add_argument("--only", choices=("latency", "disk"), help="one of the two benchmarks")
    ap.add_argument("--batches", type=int, default=101,
                    help="pcilat's batches per boot (%(default)s)")
    ap.add_argument("--per", type=int, default=64, help="reads per batch (%(default)s)")
    ap.add_argument("--placements", default="split,same",
                    help="where the VMM and its device process run, comma-separated: "
                    f"{', '.join(f'{k} ({v})' for k, v in PLACEMENTS.items())}; "
                    "(%(default)s)")
    ap.add_argument("--cross", action="store_true",
                    help="also QEMU's proxy with splitvm remote and splitvm's with QEMU's remote")
    ap.add_argument("--mib", type=int, default=256, help="each disk's size (%(default)s MiB)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="each disk's write and read phases per boot (%(default)s)")
    ap.add_argument("--passes", type=int, default=4,
                    help="reads of the whole disk (%(default)s)")
    ap.add_argument("--bs-kib", type=int, default=1024, help="dd block size (%(default)s)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per boot")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true")
    opts = ap.parse_args()
    e2e.stop_on_signals()

    binary = os.path.abspath(opts.splitvm)
    accel = svt.probe_accels(binary).get(opts.accel) or svt.Accel(opts.accel)
    if not accel.usable:
        print(f"bench-remote: skipped: {accel.skip_reason()}")
        return 0
    img = image_mod.build(os.path.abspath(opts.cache), opts.offline)
    try:
        if opts.only in (None, "latency"):
            latency(binary, accel, img, opts)
        if opts.only in (None, "disk"):
            disk(binary, accel, img, opts)
    except RuntimeError as e:
        print(f"FAIL {e}")
        return 1
    return 0


if __name__ == "__main__":
    suite.main_guard(main)
