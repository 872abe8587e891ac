"""What run_qemu.py, run_splitvm.py and bench_boot.py share: options, the
guest image, running named cases on VMMs and reporting PASS/FAIL/SKIP."""
import argparse
import os
import shutil
import sys
import tempfile
import threading

import cases
import e2e
import image as image_mod
from e2e import svt

HERE = os.path.dirname(os.path.abspath(__file__))


class Context:
    def __init__(self, image, work):
        self.image, self.work, self.cleanup = image, work, []

    def close(self):
        for fn in reversed(self.cleanup):
            fn()


def options(description, default_timeout):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-k", dest="pattern", action="append",
                    help="only cases whose name contains this (repeatable)")
    ap.add_argument("--case", action="append", help="run this case (repeatable), "
                    f"from: {', '.join(cases.CASES)}")
    ap.add_argument("--timeout", type=float, default=default_timeout,
                    help="seconds per boot (%(default)s)")
    ap.add_argument("--cache", default=image_mod.DEFAULT_CACHE, help="image cache directory")
    ap.add_argument("--offline", action="store_true", help="no apt: the packages fetched before")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directories")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print timings and, on failure, more of the console")
    return ap


def selected(opts, default):
    names = opts.case or default
    for name in names:
        if name not in cases.CASES:
            raise SystemExit(f"unknown case {name}; known: {', '.join(cases.CASES)}")
    if opts.pattern:
        names = [n for n in names if any(p in n for p in opts.pattern)]
    return names


def get_image(opts, tally, label):
    """The image's description, or None after a FAIL line."""
    try:
        return image_mod.build(os.path.abspath(opts.cache), opts.offline)
    except Exception as e:  # noqa: BLE001 - any failure to build is one FAIL
        tally.report("FAIL", f"{label}/image", f"cannot build the guest image: {e}")
        return None


def run_case(vmm, img, name, timeout, keep=False):
    """(Boot or None, problems or None, skip reason or None)."""
    work = tempfile.mkdtemp(prefix=f"splitvm-e2e-{name}-")
    ctx = Context(img, work)
    try:
        try:
            plan = cases.CASES[name](ctx)
            argv = vmm.argv(img, plan)
        except e2e.Unsupported as u:
            return None, None, str(u)
        result = e2e.boot(argv, plan, timeout)
        return result, e2e.verdict(result, plan), None
    finally:
        ctx.close()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def run_case_sampled(vmm, img, name, timeout, sample, period=0.02):
    """run_case() while sample(pid) is called for each child process of ours
    every period seconds (memory benchmarks read its /proc files)."""
    me, done = os.getpid(), threading.Event()

    def loop():
        while not done.wait(period):
            try:
                with open(f"/proc/{me}/task/{me}/children") as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                continue
            for pid in pids:
                sample(pid)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        return run_case(vmm, img, name, timeout)
    finally:
        done.set()
        thread.join()


def run_suite(vmms, names, opts, label):
    """Runs every case on every VMM; prints the results and the summary line."""
    e2e.stop_on_signals()
    tally = svt.Tally(opts.verbose)
    runnable = [v for v in vmms if not v.unavailable()]
    for vmm in vmms:
        why = vmm.unavailable()
        if why:
            for name in names:
                tally.report("SKIP", f"{vmm.name}/{name}", why)
    img = get_image(opts, tally, label) if runnable and names else None
    for vmm in runnable if img else []:
        for name in names:
            result, problems, skip = run_case(vmm, img, name, opts.timeout, opts.keep)
            tag = f"{vmm.name}/{name}"
            if skip:
                tally.report("SKIP", tag, skip)
            elif problems:
                tally.report("FAIL", tag, "; ".join(problems) + "\n"
                             + result.tail(80 if opts.verbose else 30))
            else:
                tally.report("PASS", tag, e2e.figures(result))
    return tally.summary(label)


def main_guard(fn):
    try:
        sys.exit(fn())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
