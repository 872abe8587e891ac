"""The result lines of the throughput benchmarks (bench_io.py, bench_net.py):
one line per VMM with its median rate and runs, and its ratio to the peer
measured in the same run (higher is better: the goal is at least 1.0)."""


def print_rates(rows, peer, width, prefix="", digits=1):
    """rows: [(vmm, MiB/s, detail)] holding the peer's row; one line each."""
    base = next(rate for vmm, rate, _ in rows if vmm is peer)
    for vmm, rate, detail in rows:
        line = f"  {prefix}{vmm.name:<{width}} {rate:7.{digits}f} MiB/s {detail}"
        if vmm is not peer:
            line += f"  ratio {rate / base:.2f}x {peer.name} (goal >= 1.00)"
        print(line, flush=True)


def print_skipped(skipped, width):
    """skipped: [(VMM name, why)], after the table."""
    for name, why in skipped:
        print(f"  {name:<{width}} skipped: {why}")


def available(vmms, width):
    """The VMMs (or variants) that can run here; a line for each that cannot."""
    ok = []
    for vmm in vmms:
        why = vmm.unavailable()
        if why:
            print(f"  {vmm.name:<{width}} skipped: {why}")
        else:
            ok.append(vmm)
    return ok
