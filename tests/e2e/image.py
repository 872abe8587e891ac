#!/usr/bin/env python3
"""Builds the end-to-end guest image: Debian 12's kernel and a busybox initramfs.

usage: image.py [--cache DIR] [--offline] [--force]

Fetches the current `linux-image-amd64` (the versioned package it depends on)
and `busybox-static` with `apt-get download` into DIR/debs (default
.cache/e2e in the repository), then writes DIR/image/: the kernel as
`bzImage`, `initramfs.cpio.gz` and `image.json`, which describes both and the
values the guest's checks expect. Prints image.json's contents (with absolute
paths). The image is rebuilt only when the packages or the files it is made of
change. --offline does not ask apt: it uses the packages fetched before.
"""
import argparse
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GUEST = os.path.join(HERE, "guest")
DEFAULT_CACHE = os.path.join(ROOT, ".cache", "e2e")

# Modules the e2e tests need; their dependencies are added from each
# module's own `depends=` (what depmod writes to modules.dep; Debian's
# package does not ship modules.dep, its postinst runs depmod).
MODULES = [
    "virtio", "virtio_ring", "virtio_pci", "virtio_blk", "virtio_net", "virtio_rng",
    "virtio_console", "sym53c8xx", "sd_mod", "crc32c_generic", "ext4",
]
# The byte init writes to port 0x80 (the boot timer) when it starts.
INIT_PORT80 = 0xe2
DATA_SIZE = 1 << 20
SORT_LINES = 5000
AWK_TERMS = 100000
FORK_COUNT = 500


def log(msg):
    print(f"image: {msg}", file=sys.stderr, flush=True)


# ---- Debian packages ----------------------------------------------------

def apt_show(pkgs):
    """{package: fields of its candidate version} from one `apt-cache show`."""
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + pkgs,
                       capture_output=True, text=True, timeout=60)
    found = {}
    for stanza in r.stdout.split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
        if "Package" in fields:
            found.setdefault(fields["Package"], fields)
    return found


class Apt:
    """Resolves and downloads packages; runs `apt-get update` at most once."""

    def __init__(self):
        self.updated = False

    def show(self, *pkgs):
        """The candidate versions' fields of pkgs, in that order."""
        found = apt_show(list(pkgs))
        if len(found) < len(pkgs) and not self.updated:
            log(f"apt does not know {' '.join(p for p in pkgs if p not in found)}; "
                "running apt-get update")
            self.updated = True
            subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600,
                           stdout=subprocess.DEVNULL)
            found = apt_show(list(pkgs))
        for p in pkgs:
            if p not in found:
                raise RuntimeError(f"apt cannot find the package {p}")
        return [found[p] for p in pkgs]

    def resolve(self):
        """[(package, version)] of the kernel linux-image-amd64 stands for
        and of busybox-static."""
        meta, busybox = self.show("linux-image-amd64", "busybox-static")
        m = re.search(r"(linux-image-[\w.+-]+-amd64)(?: \(= ([^)]+)\))?",
                      meta.get("Depends", ""))
        if not m:
            raise RuntimeError(f"linux-image-amd64 depends on no kernel: {meta.get('Depends')}")
        kernel = (m[1], m[2] or self.show(m[1])[0]["Version"])
        return [kernel, ("busybox-static", busybox["Version"])]

    def download(self, pkg, version, debs):
        """The path of pkg=version's .deb in debs/, downloaded if missing."""
        name = f"{pkg}_{version.replace(':', '%3a')}_amd64.deb"
        path = os.path.join(debs, name)
        if os.path.exists(path):
            return path
        os.makedirs(debs, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=debs, prefix="get-")
        argv = ["apt-get", "download", "-q"]
        if os.geteuid() == 0:  # else apt warns that its _apt user cannot write here
            argv += ["-o", "APT::Sandbox::User=root"]
        try:
            log(f"downloading {pkg} {version}")
            subprocess.run(argv + [f"{pkg}={version}"], cwd=tmp, check=True, timeout=900,
                           stdout=subprocess.DEVNULL)
            (got,) = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            os.replace(os.path.join(tmp, got), path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in os.listdir(debs):  # keep one kernel and one busybox
            if old != name and deb_kind(old) == deb_kind(name):
                os.remove(os.path.join(debs, old))
        return path


def deb_kind(filename):
    """("kernel" or "busybox", package, version) of a .deb's file name, or None."""
    m = re.match(r"(linux-image-[\w.+-]+-amd64|busybox-static)_(.+)_amd64\.deb$", filename)
    if not m:
        return None
    return ("busybox" if m[1] == "busybox-static" else "kernel"), m[1], m[2].replace("%3a", ":")


def deb_members(deb):
    """Yields (tarinfo, tarfile) for the files of a .deb's data archive."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                yield member, tar
    finally:
        proc.stdout.close()
        proc.wait()


# ---- kernel modules ------------------------------------------------------

def decompress(name, data):
    """A module file's contents, uncompressed (Debian 12's are not compressed)."""
    if name.endswith(".ko"):
        return data
    if name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if name.endswith(".ko.zst"):
        return subprocess.run(["zstd", "-dc"], input=data, check=True,
                              capture_output=True).stdout
    raise ValueError(name)


def module_name(path):
    return re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(path)).replace("-", "_")


def modinfo(elf):
    """The key=value strings of an ELF64 module's .modinfo section."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)

    def section(i):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        if elf[stroff + name:elf.index(b"\0", stroff + name)] == b".modinfo":
            info = {}
            for item in elf[off:off + size].split(b"\0"):
                key, eq, value = item.decode("utf-8", "replace").partition("=")
                if eq:
                    info.setdefault(key, []).append(value)
            return info
    return {}


def module_deps(info):
    """Hard dependencies, then `softdep pre:` names (which may be aliases)."""
    hard = [d.replace("-", "_") for v in info.get("depends", []) for d in v.split(",") if d]
    soft = []
    for v in info.get("softdep", []):
        m = re.search(r"pre:((?:\s+[\w-]+)+)", v)
        soft += m[1].split() if m else []
    return hard, [s.replace("-", "_") for s in soft]


def closure(wanted, deps, builtin):
    """The modules to load, each after its dependencies."""
    order, seen = [], set()

    def visit(name, soft=False):
        if name in seen or name in builtin:
            return
        if name not in deps:
            if soft:
                return  # an alias such as crc32c: provided by a module we list
            raise RuntimeError(f"module {name} is neither in the package nor built in")
        seen.add(name)
        hard, softs = deps[name]
        for d in hard:
            visit(d)
        for d in softs:
            visit(d, soft=True)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


# Modules kept on the first pass in case a module met later needs them
# (library code and the like: some 15 MB); a second pass fetches the rest.
SPARE = re.compile(r"kernel/(lib|crypto|block|net/core)/|kernel/drivers/(scsi|net)/[^/]+$")


def scan_kernel(deb, want):
    """One pass over the kernel package: the kernel, the built-in modules,
    every module's dependencies, and the contents of the modules in `want`
    (a set that grows by the dependencies of those found) and of SPARE ones."""
    kernel, builtin, deps, paths, keep = None, set(), {}, {}, {}
    for member, tar in deb_members(deb):
        path = member.name.lstrip("./")
        if not member.isfile():
            continue
        if path.startswith("boot/vmlinuz-"):
            kernel = (path[len("boot/vmlinuz-"):], tar.extractfile(member).read())
        elif path.endswith("/modules.builtin"):
            builtin = {module_name(l) for l in tar.extractfile(member).read().decode().split()}
        elif re.search(r"\.ko(\.\w+)?$", path):
            data = decompress(path, tar.extractfile(member).read())
            name = module_name(path)
            deps[name] = module_deps(modinfo(data))
            paths[name] = re.sub(r"^lib/modules/[^/]+/", "", re.sub(r"\.ko\.\w+$", ".ko", path))
            if name in want or SPARE.match(paths[name]):
                keep[name] = data
            if name in want:
                want.update(deps[name][0] + deps[name][1])
    return kernel, builtin, deps, paths, keep


def read_kernel(deb):
    """(kernel version, bzImage bytes, {module: (relpath, bytes, deps)}, load order)
    from the package itself."""
    kernel, builtin, deps, paths, keep = scan_kernel(deb, set(MODULES))
    if kernel is None:
        raise RuntimeError(f"{deb} holds no boot/vmlinuz-*")
    order = closure(MODULES, deps, builtin)
    missing = set(order) - set(keep)
    if missing:  # met before the module that needs them: a second pass
        keep.update(scan_kernel(deb, missing)[4])
    modules = {name: (paths[name], keep[name], [d for d in deps[name][0] if d in paths])
               for name in order}
    return kernel[0], kernel[1], modules, order


def kernel_parts(deb, cache):
    """read_kernel(deb), through a cache of the parts the image uses (in
    cache/kernel), so that rebuilding the initramfs need not read the package."""
    d = os.path.join(cache, "kernel")
    try:
        with open(os.path.join(d, "kernel.json")) as f:
            meta = json.load(f)
        if meta["deb"] == os.path.basename(deb) and meta["wanted"] == MODULES:
            with open(os.path.join(d, "bzImage"), "rb") as f:
                bzimage = f.read()
            modules = {}
            for name in meta["order"]:
                rel, deps = meta["modules"][name]
                with open(os.path.join(d, "modules", rel), "rb") as f:
                    modules[name] = (rel, f.read(), deps)
            return meta["kver"], bzimage, modules, meta["order"]
    except (OSError, ValueError, KeyError):
        pass
    kver, bzimage, modules, order = read_kernel(deb)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(d, "bzImage"), "wb") as f:
        f.write(bzimage)
    for rel, content, _ in modules.values():
        os.makedirs(os.path.dirname(os.path.join(d, "modules", rel)), exist_ok=True)
        with open(os.path.join(d, "modules", rel), "wb") as f:
            f.write(content)
    meta = {"deb": os.path.basename(deb), "wanted": MODULES, "kver": kver, "order": order,
            "modules": {n: (m[0], m[2]) for n, m in modules.items()}}
    with open(os.path.join(d, "kernel.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return kver, bzimage, modules, order


def read_busybox(deb):
    busybox = None
    for member, tar in deb_members(deb):  # to the end, so that dpkg-deb ends well
        if member.name.lstrip("./") == "bin/busybox":
            busybox = tar.extractfile(member).read()
    if busybox is None:
        raise RuntimeError(f"{deb} holds no bin/busybox")
    return busybox


# ---- the initramfs -------------------------------------------------------

class Cpio:
    """A cpio archive in the "newc" format, built in memory: no root needed
    for device nodes or root-owned files."""

    def __init__(self):
        self.out = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(name_b), 0)
        self.ino += 1
        self.out.write(b"070701" + b"".join(b"%08x" % f for f in fields) + name_b)
        self._pad()
        self.out.write(data)
        self._pad()

    def _pad(self):
        self.out.write(b"\0" * (-self.out.tell() % 4))

    def dir(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm)

    def file(self, name, data, perm=0o644):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0)
        return self.out.getvalue()


def awk_values(n):
    """What the awk program of guest/basic.sh computes, operation by operation."""
    def atn(x):
        s, p, sg = 0.0, x, 1.0
        for k in range(1, 60, 2):
            s += sg * p / k
            p *= x * x
            sg = -sg
        return s

    z = 0.0
    for i in range(1, n + 1):
        z += 1 / float(i * i)
    e = t = 1.0
    for k in range(1, 21):
        t /= k
        e += t
    r = 1.0
    for _ in range(8):
        r = (r + 2 / r) / 2
    return z, e, 16 * atn(1 / 5) - 4 * atn(1 / 239), r, 1 / 3, -1e10 / 7


def test_data():
    """Files the guest checks and what the host expects of them."""
    data = hashlib.shake_256(b"splitvm e2e data").digest(DATA_SIZE)
    rnd = random.Random(20240501)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:"
    lines = []
    for _ in range(SORT_LINES):
        if lines and rnd.random() < 0.05:
            lines.append(rnd.choice(lines))  # some duplicates
        else:
            lines.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))))
    sort_in = "".join(l + "\n" for l in lines).encode()
    sort_out = b"".join(l + b"\n" for l in sorted(sort_in.splitlines()))
    awk = " ".join(f"{v:.6f}" for v in awk_values(AWK_TERMS))
    expect = {
        "data_sha256": hashlib.sha256(data).hexdigest(),
        "sort_sha256": hashlib.sha256(sort_out).hexdigest(),
        "sort_unique": len(set(lines)),
        "awk": awk,
        "awk_terms": AWK_TERMS,
        "fork_count": FORK_COUNT,
        "pipe_sum": 2000 * 2001 // 2,
        "port80": f"0x{INIT_PORT80:02x}",
    }
    return data, sort_in, expect


def shell_vars(expect):
    return "".join(f"E2E_{k.upper()}='{v}'\n" for k, v in sorted(expect.items()))


# Guest programs in C (guest/NAME.c becomes /e2e/NAME): freestanding, no
# libc, so they stay a few KiB (a static glibc would add ~300 KB per boot).
GUEST_CC = ["gcc", "-static", "-nostdlib", "-ffreestanding", "-fno-stack-protector",
            "-fno-pie", "-no-pie", "-fno-asynchronous-unwind-tables", "-O2", "-s",
            "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=none"]


def compile_guest(src):
    """The static binary of a guest program's source."""
    with tempfile.TemporaryDirectory(prefix="e2e-cc-") as tmp:
        out = os.path.join(tmp, "a.out")
        r = subprocess.run(GUEST_CC + ["-o", out, src], capture_output=True, text=True,
                           timeout=120)
        if r.returncode:
            raise RuntimeError(f"compiling {src}: {r.stderr.strip()[-1000:]}")
        with open(out, "rb") as f:
            return f.read()


def guest_files():
    """{path in the initramfs: (bytes, perm)} from tests/e2e/guest/."""
    files = {}
    for name in sorted(os.listdir(GUEST)):
        if name.startswith("."):
            continue
        if name.endswith(".c"):
            files[f"e2e/{name[:-2]}"] = (compile_guest(os.path.join(GUEST, name)), 0o755)
            continue
        with open(os.path.join(GUEST, name), "rb") as f:
            data = f.read()
        dest = "init" if name == "init" else f"e2e/{name}"
        files[dest] = (data, 0o755 if data.startswith(b"#!") else 0o644)
    return files


def applets(busybox):
    """Applet paths (bin/sh, usr/bin/awk, ...) of this busybox binary."""
    with tempfile.TemporaryDirectory(prefix="e2e-busybox-") as tmp:
        path = os.path.join(tmp, "busybox")
        with open(path, "wb") as f:
            f.write(busybox)
        os.chmod(path, 0o755)
        out = subprocess.run([path, "--list-full"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    return [a for a in out.split() if a != "bin/busybox"]


def initramfs(kver, busybox, modules, order, expect, data, sort_in):
    c = Cpio()
    dirs = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run",
            "mnt", "root", "etc", "etc/e2e", "e2e", "e2e/www", "lib", "lib/modules"]
    mod_root = f"lib/modules/{kver}"
    for rel, _, _ in modules.values():
        d = os.path.dirname(f"{mod_root}/{rel}")
        while d not in dirs and d != "lib/modules":
            dirs.append(d)
            d = os.path.dirname(d)
    for d in sorted(set(dirs), key=lambda p: (p.count("/"), p)):
        c.dir(d, 0o1777 if d == "tmp" else 0o755)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/port", 1, 4)
    c.chardev("dev/null", 1, 3, 0o666)
    c.file("bin/busybox", busybox, 0o755)
    for a in applets(busybox):
        c.symlink(a, "/bin/busybox")
    for dest, (content, perm) in guest_files().items():
        c.file(dest, content, perm)
    c.file("e2e/expect.sh", shell_vars(dict(expect, kver=kver)).encode())
    c.file("e2e/data.bin", data)
    c.file("e2e/sort.in", sort_in)
    c.file("e2e/www/index.html", b"splitvm e2e: served by the guest\n")
    c.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    c.file("etc/group", b"root:x:0:\n")
    dep_lines = []
    for name in order:
        rel, content, deps = modules[name]
        c.file(f"{mod_root}/{rel}", content)
        dep_lines.append(f"{rel}:" + "".join(" " + modules[d][0] for d in deps) + "\n")
    # for busybox modprobe in the demo shell; init loads etc/e2e/modules itself
    c.file(f"{mod_root}/modules.dep", "".join(dep_lines).encode())
    c.file("etc/e2e/modules", "".join(modules[n][0] + "\n" for n in order).encode())
    return gzip.compress(c.close(), compresslevel=6, mtime=0)


# ---- the build -----------------------------------------------------------

def inputs_key(debs):
    h = hashlib.sha256()
    for path in [os.path.abspath(__file__)] + sorted(
            os.path.join(GUEST, n) for n in os.listdir(GUEST) if not n.startswith(".")):
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + b"\0" + f.read())
    for deb in debs:
        h.update(os.path.basename(deb).encode() + b"\0")
    return h.hexdigest()[:16]


def describe(out, meta):
    """image.json's contents with absolute paths."""
    return dict(meta, kernel=os.path.join(out, meta["kernel"]),
                initrd=os.path.join(out, meta["initrd"]), dir=out)


def load(out):
    try:
        with open(os.path.join(out, "image.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if all(os.path.exists(os.path.join(out, meta[k])) for k in ("kernel", "initrd")):
        return meta
    return None


def cached_debs(debs):
    """[(package, version, path)] of the kernel and busybox .debs in debs/."""
    found = {}
    for name in sorted(os.listdir(debs)) if os.path.isdir(debs) else []:
        kind = deb_kind(name)
        if kind:
            found[kind[0]] = (kind[1], kind[2], os.path.join(debs, name))
    return [found[k] for k in ("kernel", "busybox") if k in found]


def fetch(debs, offline):
    """[(package, version, .deb path)] of the current kernel and busybox;
    without apt (offline, or apt failing) the ones fetched before."""
    try:
        if offline:
            raise RuntimeError("offline")
        apt = Apt()
        return [(p, v, apt.download(p, v, debs)) for p, v in apt.resolve()]
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        cached = cached_debs(debs)
        if len(cached) < 2:
            raise RuntimeError(f"{e}, and no packages fetched before in {debs}") from e
        if not offline:
            log(f"{e}; using the packages fetched before")
        return cached


def build(cache=DEFAULT_CACHE, offline=False, force=False):
    """Makes sure the image is up to date; returns its description. Runners
    started side by side wait for each other here."""
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return build_locked(cache, offline, force)


def build_locked(cache, offline, force):
    out = os.path.join(cache, "image")
    old = load(out)
    (kpkg, kversion, kdeb), (bpkg, bversion, bdeb) = fetch(os.path.join(cache, "debs"), offline)
    key = inputs_key([kdeb, bdeb])
    if old and old.get("key") == key and not force:
        return describe(out, old)

    log(f"building the image from {os.path.basename(kdeb)} and {os.path.basename(bdeb)}")
    kver, bzimage, modules, order = kernel_parts(kdeb, cache)
    busybox = read_busybox(bdeb)
    data, sort_in, expect = test_data()
    initrd = initramfs(kver, busybox, modules, order, expect, data, sort_in)
    os.makedirs(out, exist_ok=True)
    meta = {
        "key": key, "kernel": "bzImage", "initrd": "initramfs.cpio.gz",
        "kernel_version": kver,
        "packages": {kpkg: kversion, bpkg: bversion},
        "modules": order,
        "sizes": {"bzImage": len(bzimage), "initramfs": len(initrd),
                  "busybox": len(busybox),
                  "modules": sum(len(m[1]) for m in modules.values())},
        "expect": dict(expect, kver=kver),
        "data": "data.bin",
        "init_marker": "SPLITVM-INIT-REACHED",
    }
    for name, content in (("bzImage", bzimage), ("initramfs.cpio.gz", initrd),
                          ("data.bin", data)):
        with open(os.path.join(out, name + ".tmp"), "wb") as f:
            f.write(content)
        os.replace(os.path.join(out, name + ".tmp"), os.path.join(out, name))
    with open(os.path.join(out, "image.json.tmp"), "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(os.path.join(out, "image.json.tmp"), os.path.join(out, "image.json"))
    return describe(out, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="cache directory (%(default)s)")
    ap.add_argument("--offline", action="store_true",
                    help="use the packages fetched before, no apt")
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    opts = ap.parse_args()
    try:
        meta = build(os.path.abspath(opts.cache), opts.offline, opts.force)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        log(f"error: {e}")
        return 1
    json.dump(meta, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
