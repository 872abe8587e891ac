#!/usr/bin/env python3
"""Guest-to-host TCP throughput: splitvm against QEMU TCG, side by side in one run.

usage: bench_net.py [--splitvm build/splitvm] [--accel emu] [--repeat N] [--mib N]

Both boot the same guest with one virtio-net NIC on user-mode networking
(splitvm: libslirp; QEMU: -netdev user, also libslirp). The guest gets an
address by DHCP, then busybox nc sends --mib MiB of zeros (dd bs=64k) to a
sink on the host's loopback, reached through the gateway address 10.0.2.2.
The sink times the transfer from its first byte to the end of the stream.
Runs alternate between the VMMs to share the machine's noise; medians are
printed, and splitvm's ratio to QEMU (issue 5's goal: at least 1.0). A VMM
that cannot run here is reported as skipped. Exit status 1 if a run fails.
"""
import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_table  # noqa: E402
import e2e  # noqa: E402
import image as image_mod  # noqa: E402
import suite  # noqa: E402
from e2e import Nic, Plan, svt  # noqa: E402


class Sink:
    """Accepts one TCP connection on 127.0.0.1 and reads it to the end."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(1.0)
        self.port = self.sock.getsockname()[1]
        self.bytes, self.first, self.last = 0, None, None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                break
            except socket.timeout:
                continue
        else:
            return
        conn.settimeout(1.0)
        with conn:
            while not self.stop.is_set():
                try:
                    data = conn.recv(1 << 20)
                except socket.timeout:
                    continue
                now = time.monotonic()
                if not data:
                    break
                if self.first is None:
                    self.first = now
                self.bytes += len(data)
                self.last = now

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()

    def mib_per_s(self):
        if self.first is None or self.last is None or self.last <= self.first:
            return None
        return self.bytes / (self.last - self.first) / 2**20


def one_run(vmm, img, mib, timeout):
    """MiB/s of one boot; raises RuntimeError when the run fails."""
    sink = Sink()
    work = tempfile.mkdtemp(prefix="splitvm-bench-net-")
    try:
        plan = Plan("netbench", params={"sink_port": sink.port, "mib": mib},
                    devices=[Nic()], expect={"dhcp": None, "send": str(mib)})
        result = e2e.boot(vmm.argv(img, plan), plan, timeout)
        problems = e2e.verdict(result, plan)
    finally:
        sink.close()
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        raise RuntimeError(f"{vmm.name}: {'; '.join(problems)}\n" + result.tail(30))
    if sink.bytes != mib << 20:
        raise RuntimeError(f"{vmm.name}: the sink got {sink.bytes} bytes, not {mib << 20}")
    return sink.mib_per_s()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", help="the splitvm binary (omit: QEMU alone)")
    ap.add_argument("--accel", default="emu", help="splitvm's accelerator (%(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per VMM (%(default)s)")
    ap.add_argument("--mib", type=int, default=64, help="MiB sent per run (%(default)s)")
    ap.add_argument("--qemu-cpu", default="max", help="QEMU's -cpu model (%(default)s)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per boot")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true")
    opts = ap.parse_args()
    e2e.stop_on_signals()

    peer = e2e.Qemu(cpu=opts.qemu_cpu)
    vmms, skipped = [], []
    candidates = [peer]
    if opts.splitvm:
        binary = os.path.abspath(opts.splitvm)
        accel = svt.probe_accels(binary).get(opts.accel) or svt.Accel(opts.accel)
        candidates.append(e2e.Splitvm(binary, accel))
    for vmm in candidates:
        why = vmm.unavailable()
        (skipped.append((vmm.name, why)) if why else vmms.append(vmm))
    if peer not in vmms:
        print(f"bench-net: skipped: {skipped[0][1]}")
        return 0
    img = image_mod.build(os.path.abspath(opts.cache), opts.offline)
    print(f"guest-to-host TCP through user-mode networking: {opts.mib} MiB per run, "
          f"MiB/s, median of {opts.repeat}")
    rates = {v.name: [] for v in vmms}
    try:
        for _ in range(opts.repeat):
            for vmm in vmms:
                rates[vmm.name].append(one_run(vmm, img, opts.mib, opts.timeout))
    except RuntimeError as e:
        print(f"FAIL {e}")
        return 1
    rows = [(v, statistics.median(rates[v.name]),
             f" (runs: {' '.join(f'{r:.2f}' for r in rates[v.name])})") for v in vmms]
    bench_table.print_rates(rows, peer, 14, digits=2)
    bench_table.print_skipped(skipped, 14)
    return 0


if __name__ == "__main__":
    suite.main_guard(main)
