#!/usr/bin/env python3
"""`make demo`: boots guests on the best accelerator this host has.

Until the emu accelerator exists, the demo boots the small guest programs of
tests/guests (not Linux) and says so.
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pylib"))
import splitvmtest as svt  # noqa: E402


def main():
    splitvm = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/splitvm")
    guests = os.path.join(os.path.dirname(splitvm), "tests", "guests")
    accel = svt.best_accel(svt.probe_accels(splitvm))
    print(f"$ {splitvm} accels")
    subprocess.run([splitvm, "accels"])
    if not accel:
        print("\nsplitvm demo: no accelerator can run guests on this host, so nothing was booted.")
        return 1
    state = "limited on this host" if accel.limited else "runs here"
    print(f"\nsplitvm demo: booting the test guest programs on the {accel.name} accelerator "
          f"({state}).\nNo Linux guest yet: that demo comes with the emu accelerator.")
    status = 0
    for guest, args in (("hello", []), ("mptable", ["--cpus", "4"]),
                        ("boot-timer", ["--boot-timer"])):
        argv = [splitvm, "run", "--kernel", os.path.join(guests, guest + ".elf"),
                "--accel", accel.name, "--log-level", "error"] + args
        print("\n$ " + " ".join(os.path.relpath(a) if a.startswith("/") else a for a in argv),
              flush=True)
        try:
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=20).returncode
        except subprocess.TimeoutExpired:
            rc = "a time-out"
        print(f"(splitvm ended with {'status ' + str(rc) if isinstance(rc, int) else rc})")
        status = status or int(rc != 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
