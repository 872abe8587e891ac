#!/usr/bin/env python3
"""Boots the e2e guest image on QEMU 7.2 with TCG and checks every case.

usage: run_qemu.py [--case NAME]... [-k PATTERN] [--cpu MODEL] [--timeout S] [-v]

QEMU is the peer: passing here shows the image and the checks are right, and
the times it prints are what splitvm's boot is measured against. Each boot
has a time limit; the whole process group is killed when it expires. Without
qemu-system-x86_64 every case is a SKIP. The last line counts the results:
`e2e-qemu: N passed, N failed, N skipped`; the exit status is 1 if anything
failed. (--splitvm is accepted and ignored, so tests/run-checks can call it
like its other runners.)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402
import e2e  # noqa: E402
import suite  # noqa: E402


def main():
    ap = suite.options(__doc__.splitlines()[0], default_timeout=120)
    ap.add_argument("--qemu", default="qemu-system-x86_64", help="the QEMU binary")
    ap.add_argument("--cpu", default="max", help="QEMU's -cpu model (%(default)s)")
    ap.add_argument("--splitvm", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    names = suite.selected(opts, [n for n in cases.CASES
                                  if not n.startswith("boot-") and n not in cases.INTEROP_CASES
                                  and n not in cases.SPLITVM_ONLY_CASES])
    return suite.run_suite([e2e.Qemu(opts.qemu, opts.cpu)], names, opts, "e2e-qemu")


if __name__ == "__main__":
    suite.main_guard(main)
