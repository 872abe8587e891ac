"""Resident memory of a process from /proc/PID/smaps, by kind of mapping.

Each mapping's Rss, Pss and private pages (Private_Clean + Private_Dirty)
are added to the kind its name gives it: "ram" (guest RAM: the memfd
splitvm-ram, or an anonymous read-write mapping of exactly ram_bytes, as
QEMU's), "icache" (emu's code caches: decoded records and translations),
"libs" (shared libraries), "binary"
(the executable's own file) or "rest" (heap, stacks, anonymous memory).
"""
import os
import statistics

KINDS = ("ram", "icache", "libs", "binary", "rest")
FIELDS = ("rss", "pss", "private")
ICACHE = ("/memfd:splitvm-emu-icache", "/memfd:splitvm-emu-jit")
_FIELD = {"Rss:": "rss", "Pss:": "pss", "Private_Clean:": "private",
          "Private_Dirty:": "private"}


def kind_of(name, perms, size, ram_bytes, exe):
    if "memfd:splitvm-ram" in name or (not name and perms.startswith("rw")
                                        and size == ram_bytes):
        return "ram"
    if name.startswith(ICACHE):
        return "icache"
    if ".so" in name:
        return "libs"
    if exe and name == exe:
        return "binary"
    return "rest"


def read(pid, ram_bytes=0):
    """{kind: {"rss", "pss", "private"}} in KiB, or None once the process is gone."""
    out = {k: dict.fromkeys(FIELDS, 0) for k in KINDS}
    cur = out["rest"]
    try:
        exe = _exe(pid)
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if "-" in fields[0] and line[0] in "0123456789abcdef":
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    name = " ".join(fields[5:])
                    cur = out[kind_of(name, fields[1], hi - lo, ram_bytes, exe)]
                elif fields[0] in _FIELD:
                    cur[_FIELD[fields[0]]] += int(fields[1])
    except (OSError, ValueError, IndexError):
        return None
    return out


def _exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def total(s, field="rss", without=("ram",)):
    """The sum of one field over the kinds not left out (guest RAM by default)."""
    return sum(v[field] for k, v in s.items() if k not in without)


def median_of(samples):
    """The per-kind, per-field median of a list of read() results."""
    return {k: {f: statistics.median(s[k][f] for s in samples) for f in FIELDS}
            for k in KINDS}


def tasks(pid):
    """The thread ids of a process ([] once it is gone)."""
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def descendants(pid):
    """Every process below pid (children of each of its threads), recursively."""
    out = []
    for t in tasks(pid):
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                kids = [int(c) for c in f.read().split()]
        except OSError:
            continue
        for c in kids:
            out += [c] + descendants(c)
    return out
