#!/usr/bin/env python3
"""Interop with QEMU 7.2: QEMU (TCG) as the VMM, devices in `splitvm remote`.

usage: run_interop.py --splitvm build/splitvm [--case NAME]... [--timeout S] [-v]

Boots the e2e guest image on `qemu-system-x86_64 -M pc` whose guest RAM is a
memfd and whose devices are x-pci-proxy-dev instances, each served by a
`splitvm remote` process on a socketpair (remote_pair.py); the guest checks
the device from sysfs and through its BARs (cases.INTEROP_CASES). Without
QEMU or without the splitvm binary every case is a SKIP. Each boot has a
time limit; the whole process group (QEMU and the device processes) is
killed when it expires. The last line counts the results:
`e2e-interop: N passed, N failed, N skipped`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402
import e2e  # noqa: E402
import suite  # noqa: E402


def main():
    ap = suite.options(__doc__.splitlines()[0], default_timeout=120)
    ap.add_argument("--splitvm", required=True, help="the splitvm binary")
    ap.add_argument("--qemu", default="qemu-system-x86_64", help="the QEMU binary")
    opts = ap.parse_args()
    names = suite.selected(opts, cases.INTEROP_CASES)
    vmm = e2e.QemuRemote(os.path.abspath(opts.splitvm), opts.qemu)
    return suite.run_suite([vmm], names, opts, "e2e-interop")


if __name__ == "__main__":
    suite.main_guard(main)
