#!/usr/bin/env python3
"""Runs a VMM whose devices live in `splitvm remote` processes.

usage: remote_pair.py --splitvm PATH [--device SPEC]... [--log-level L] -- VMM-ARGV...

Each --device gets a socketpair: `splitvm remote --link fd=M --device SPEC`
runs on one end, and {fd0}, {fd1}, ... in VMM-ARGV become the other ends
(e.g. QEMU's -device x-pci-proxy-dev,fd={fd0}). The VMM gets stdin and
stdout; every process's stderr is ours. When the VMM has exited, each
device process must exit 0 within 10 s (it is killed otherwise), as it
should once its link closes. Exit status: the VMM's, or 1 if a device
process failed. All of them stay in our process group, so whoever bounds
this run kills them all with it.
"""
import argparse
import os
import socket
import subprocess
import sys

REMOTE_EXIT_SECONDS = 10


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splitvm", required=True)
    ap.add_argument("--device", action="append", default=[])
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("vmm", nargs=argparse.REMAINDER)
    opts = ap.parse_args()
    vmm = opts.vmm[1:] if opts.vmm[:1] == ["--"] else opts.vmm
    if not vmm:
        ap.error("no VMM command after --")
    remotes, ends = [], {}
    for k, spec in enumerate(opts.device):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [opts.splitvm, "remote", "--link", f"fd={theirs.fileno()}", "--device", spec,
                "--log-level", opts.log_level]
        remotes.append((spec, subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                               pass_fds=[theirs.fileno()])))
        theirs.close()
        ends[f"fd{k}"] = ours
    argv = [a.format(**{k: s.fileno() for k, s in ends.items()}) if "{fd" in a else a
            for a in vmm]
    try:
        proc = subprocess.Popen(argv, pass_fds=[s.fileno() for s in ends.values()])
    finally:
        # the VMM holds the only other copy: its exit is the remotes' EOF
        for s in ends.values():
            s.close()
    status = proc.wait()
    for spec, p in remotes:
        try:
            rc = p.wait(REMOTE_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = "none (killed: it did not exit after the VMM)"
        if rc != 0:
            print(f"remote_pair: splitvm remote --device {spec}: exit status {rc}",
                  file=sys.stderr, flush=True)
            status = status or 1
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
