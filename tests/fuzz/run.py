#!/usr/bin/env python3
"""Runs every libFuzzer target for a bounded time, from a seed corpus.

usage: run.py --build build-fuzz [--seconds N]

Seeds are built here (well-formed inputs each target's comment describes),
then each target runs for --seconds on a copy of them. A crash, a sanitizer
report or a timeout fails the target and leaves the reproducer in the
corpus's directory. The last line counts the results:
`fuzz: N passed, N failed, N skipped`.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT = 1, 2, 4


def virtq_image(size, chains, indirect_at=None):
    """Guest RAM for fuzz-virtq: descriptor table at 0, avail and used after
    it, buffers from 0x4000; chains is a list of [(len, writable)]."""
    ram = bytearray(0x8000)
    avail = 16 * size
    buf = 0x4000
    desc = 0
    heads = []
    for chain in chains:
        heads.append(desc)
        for i, (length, writable) in enumerate(chain):
            flags = (VRING_DESC_F_WRITE if writable else 0) | \
                (VRING_DESC_F_NEXT if i + 1 < len(chain) else 0)
            struct.pack_into("<QIHH", ram, 16 * desc, buf, length, flags, desc + 1)
            buf += length
            desc += 1
    if indirect_at is not None:
        # One more head: an indirect table of two descriptors at 0x6000.
        struct.pack_into("<QIHH", ram, 0x6000, 0x7000, 64, VRING_DESC_F_NEXT, 1)
        struct.pack_into("<QIHH", ram, 0x6010, 0x7100, 64, VRING_DESC_F_WRITE, 0)
        struct.pack_into("<QIHH", ram, 16 * desc, 0x6000, 32, VRING_DESC_F_INDIRECT, 0)
        heads.append(desc)
    struct.pack_into("<HH", ram, avail, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", ram, avail + 4 + 2 * i, h)
    return ram


def virtq_seeds():
    size_code = {8: 2, 16: 3}
    yield bytes([size_code[8], 3]) + virtq_image(8, [[(16, False), (16, True)]])
    yield bytes([size_code[16], 3]) + virtq_image(
        16, [[(4, False), (8, True)], [(32, False)], [(1, True), (2, True)]], indirect_at=True)
    yield bytes([size_code[8], 0]) + virtq_image(8, [[(64, False), (64, True)]])


def net_image(tx_chains, rx_bufs):
    """Guest RAM for fuzz-virtio-net: the transmit queue's rings at 0/0x80/0x100,
    the receive queue's at 0x200/0x280/0x300 (both of size 8), transmitted
    bytes from 0x1000, receive buffers from 0x10000 (past the image, still
    RAM); tx_chains: [[bytes of each segment]], rx_bufs: [len]."""
    ram = bytearray(0x2000)
    where = {False: 0x1000, True: 0x10000}

    def queue(base, chains):
        desc, heads = 0, []
        for chain in chains:
            heads.append(desc)
            for i, (data, writable) in enumerate(chain):
                flags = (VRING_DESC_F_WRITE if writable else 0) | \
                    (VRING_DESC_F_NEXT if i + 1 < len(chain) else 0)
                buf = where[writable]
                struct.pack_into("<QIHH", ram, base + 16 * desc, buf, len(data), flags, desc + 1)
                if not writable:
                    ram[buf:buf + len(data)] = data
                where[writable] = buf + ((len(data) + 15) & ~15)
                desc += 1
        struct.pack_into("<HH", ram, base + 0x80, 0, len(heads))
        for i, h in enumerate(heads):
            struct.pack_into("<H", ram, base + 0x84 + 2 * i, h)

    queue(0, [[(seg, False) for seg in chain] for chain in tx_chains])
    queue(0x200, [[(bytes(n), True)] for n in rx_bufs])
    return ram


def net_seeds():
    arp = bytes.fromhex("ffffffffffff525400123456080600010800060400015254001234560a00020f"
                        "0000000000000a000202") + bytes(18)
    plain = bytes(12)
    # NEEDS_CSUM over a small IPv4/TCP frame (csum_start 34, offset 16)
    ip_tcp = bytes.fromhex("5255 0a00 0202 5254 0012 3456 0800 4500 0028 0000 4000 4006 0000"
                           "0a00 020f 0a00 0202 9c40 0050 0000 0001 0000 0000 5010 ffff 0000"
                           "0000".replace(" ", ""))
    csum = struct.pack("<BBHHHH", 1, 0, 0, 0, 34, 16) + bytes(2)
    tso = struct.pack("<BBHHHH", 1, 1, 54, 1460, 34, 16) + bytes(2)
    for mode in (0, 1, 4, 5, 6, 7):
        yield bytes([mode]) + net_image([[plain + arp], [csum, ip_tcp], [tso + ip_tcp]],
                                        [1526, 1526, 64, 65562])


def link_msg(cmd, payload=b""):
    """One mpqemu message: {int cmd; 4 bytes padding; size_t size} + payload."""
    return struct.pack("<iIQ", cmd, 0, len(payload)) + payload


def link_seeds():
    """fuzz-link: 4 setup bytes (role and options, fd count, chunk size,
    chunk with the fds), then a stream of messages."""
    cfg = lambda cmd, addr, val, n: link_msg(cmd, struct.pack("<IIi", addr, val, n))
    bar = lambda cmd, addr, val, n, mem: link_msg(cmd, struct.pack("<QQIB3x", addr, val, n, mem))
    sysmem = bytearray(192)
    struct.pack_into("<QQ", sysmem, 0, 0, 0x100000)
    struct.pack_into("<QQ", sysmem, 64, 0xa0000, 0x7f00000)
    struct.pack_into("<qq", sysmem, 128, 0, 0x100000)
    yield bytes([0, 2, 255, 0]) + link_msg(0, bytes(sysmem)) + cfg(3, 0, 0, 2) + \
        cfg(2, 4, 0x107, 2) + bar(4, 0xfebf1010, 0x1122334455667788, 4, 1) + \
        bar(5, 0xc004, 0, 2, 0) + link_msg(7)
    yield bytes([0, 2, 7, 0]) + link_msg(6) + cfg(3, 0xfff, 0, 1)
    yield bytes([1, 0, 16, 0]) + link_msg(1, struct.pack("<Q", 0x8086)) + link_msg(1)
    yield bytes([6, 1, 255, 1]) + cfg(3, 0, 0, 4) + link_msg(0x1000, b"\1\2\3\4") + \
        link_msg(0, bytes(sysmem))
    # Issue 7's table: to a device process EXT_HELLO, a heartbeat, a posted
    # write, MSI-X fds; to a proxy a doorbell with its fd, then a RET.
    yield bytes([10, 2, 255, 4]) + link_msg(0x1000, struct.pack("<IIQ", 1, 100, 15)) + \
        link_msg(0x1001, struct.pack("<Q", 1)) + bar(0x1002, 0xfe003000, 0, 2, 1) + \
        link_msg(0x1003, struct.pack("<II", 0, 2))
    yield bytes([11, 1, 255, 0]) + link_msg(0x1004, struct.pack("<IBBBBQQ", 3, 4, 2, 0, 0,
                                                                 0x3000, 0)) + \
        link_msg(0x1005, struct.pack("<IBBBBQQ", 3, 0, 0, 0, 0, 0, 0)) + \
        link_msg(1, struct.pack("<Q", 0))


def blk_image(size, requests):
    """Guest RAM for fuzz-blk: the rings as virtq_image's, buffers from
    0x4000; requests is a list of chains [(bytes or length, writable)]."""
    ram = bytearray(0x8000)
    avail = 16 * size
    buf, desc, heads = 0x4000, 0, []
    for chain in requests:
        heads.append(desc)
        for i, (content, writable) in enumerate(chain):
            length = content if isinstance(content, int) else len(content)
            if not isinstance(content, int):
                ram[buf:buf + length] = content
            flags = (VRING_DESC_F_WRITE if writable else 0) | \
                (VRING_DESC_F_NEXT if i + 1 < len(chain) else 0)
            struct.pack_into("<QIHH", ram, 16 * desc, buf, length, flags, desc + 1)
            buf += (length + 15) & ~15
            desc += 1
    struct.pack_into("<HH", ram, avail, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", ram, avail + 4 + 2 * i, h)
    return ram


def blk_seeds():
    """virtio-blk requests: header (type, ioprio, sector), data, status."""
    hdr = lambda t, sector: struct.pack("<IIQ", t, 0, sector)
    dwz = lambda sector, n, flags: struct.pack("<QII", sector, n, flags)
    IN, OUT, FLUSH, GET_ID, DISCARD, WZ = 0, 1, 4, 8, 11, 13
    yield bytes([3, 3]) + blk_image(16, [
        [(hdr(IN, 0), False), (1024, True), (1, True)],
        [(hdr(OUT, 8), False), (b"\xab" * 512, False), (1, True)],
        [(hdr(FLUSH, 0), False), (1, True)],
        [(hdr(GET_ID, 0), False), (20, True), (1, True)]])
    yield bytes([2, 1]) + blk_image(8, [
        [(hdr(DISCARD, 0), False), (dwz(16, 8, 0), False), (1, True)],
        [(hdr(WZ, 0), False), (dwz(32, 4, 1), False), (1, True)],
        [(hdr(IN, 255), False), (512, True), (1, True)]])
    yield bytes([3, 0]) + blk_image(16, [
        [(hdr(OUT, 0) + b"\x5a" * 512, False), (1, True)],
        [(hdr(IN, 1), False), (513, True)]])


def remote_seeds():
    """fuzz-remote: a device byte, then records (op byte and operands) that
    set up RAM, program the BARs and bring a virtqueue up, as a VMM and its
    guest driver would; virtio-rng, -console and -net in turn."""
    cfgw = lambda addr, val, lensel: struct.pack("<BHIB", 1, addr, val, lensel)
    barw = lambda off, val, size: struct.pack("<BBHBQ", 3, 2, off, {1: 0, 2: 1, 4: 2, 8: 3}[size], val)
    barr = lambda off, size: struct.pack("<BBHB", 2, 2, off, {1: 0, 2: 1, 4: 2, 8: 3}[size])
    ram = lambda off, data: struct.pack("<BHB", 0xf, off, len(data)) + data
    sysmem = bytes([4, 2, 0, 1, 0, 1, 15, 1])  # [0, 64K) at 0, [64K, 1M) at 64K
    desc = struct.pack("<QIHH", 0x4000, 64, 2, 0)  # one writable buffer
    avail = struct.pack("<HHH", 0, 1, 0)
    setup = (sysmem + bytes([5]) + cfgw(0x20, 0xfe000000, 2) + cfgw(0x24, 0, 2)
             + cfgw(0x04, 6, 1) + barw(0x14, 3, 1) + barw(0x08, 1, 4) + barw(0x0c, 1, 4)
             + barw(0x14, 11, 1) + barw(0x16, 0, 2) + barw(0x18, 8, 2)
             + barw(0x20, 0x1000, 4) + barw(0x28, 0x1800, 4) + barw(0x30, 0x2000, 4)
             + barw(0x1c, 1, 2) + ram(0x1000, desc) + ram(0x1800, avail)
             + barw(0x14, 15, 1) + barw(0x3000, 0, 2) + barr(0x1000, 1))
    for kind in range(3):
        yield bytes([kind]) + setup + bytes([6]) + struct.pack("<BHB", 0, 0, 2)
    yield bytes([0]) + sysmem + bytes([7, 4]) + b"\xff\xff\xff\xff"
    # Issue 7: the probe, EXT_HELLO with every feature, MSI-X vectors, then the
    # same set-up with posted writes, a heartbeat, MSI-X on.
    ext = lambda sub, payload=b"": bytes([0x17, sub]) + payload
    posted = lambda off, val, size: ext(3, struct.pack("<HBBQ", off, {1: 0, 2: 1, 4: 2, 8: 3}[size], 2, val))
    negotiate = ext(0) + ext(1, struct.pack("<BH", 0xf, 100)) + ext(4, bytes([0, 1]))
    for kind in range(3):
        yield (bytes([kind]) + sysmem + bytes([5]) + negotiate + cfgw(0x20, 0xfe000000, 2)
               + cfgw(0x24, 0, 2) + cfgw(0x04, 6, 1) + cfgw(0x42, 0x8000, 1)
               + posted(0x14, 3, 1) + posted(0x08, 1, 4) + posted(0x0c, 1, 4)
               + posted(0x14, 11, 1) + posted(0x1a, 0, 2) + posted(0x20, 0x1000, 4)
               + posted(0x28, 0x1800, 4) + posted(0x30, 0x2000, 4) + posted(0x1c, 1, 2)
               + ram(0x1000, desc) + ram(0x1800, avail) + posted(0x14, 15, 1)
               + ext(2, struct.pack("<Q", 7)) + barw(0x3000, 0, 2) + barr(0x1000, 1))
    # The fast channel: a sealed page, then config and BAR requests through it
    # (32 bytes each: cmd, pad, then PciConfDataMsg or BarAccessMsg).
    chcfg = lambda cmd, addr, val, ln: ext(6, struct.pack("<IIIIi12x", cmd, 0, addr, val, ln))
    chbar = lambda cmd, off, val, size: ext(6, struct.pack("<IIQQIB3x", cmd, 0, 0xfe000000 + off,
                                                           val, size, 1))
    for kind in range(3):
        yield (bytes([kind]) + sysmem + bytes([5]) + ext(0)
               + ext(1, struct.pack("<BH", 0x1f, 0)) + ext(5, b"\x01")
               + chcfg(2, 0x20, 0xfe000000, 4) + chcfg(2, 0x04, 6, 2) + chcfg(3, 0, 0, 4)
               + chbar(0x1002, 0x14, 3, 1) + chbar(4, 0x08, 1, 4) + chbar(5, 0x14, 0, 1)
               + chbar(5, 0x1000, 0, 1) + chbar(4, 0x3000, 0, 2))


def small_seeds():
    """fuzz-virtio-small: byte 0 = queue size code 2 (8) | device/queue << 3."""
    yield bytes([2 | 0 << 3, 3]) + virtq_image(8, [[(64, True)], [(16, True), (16, True)]])
    yield bytes([2 | 1 << 3, 3]) + virtq_image(8, [[(64, True)]])
    yield bytes([2 | 2 << 3, 3]) + virtq_image(8, [[(32, False)], [(8, False), (8, False)]],
                                                indirect_at=True)


def inflight_seeds():
    """fuzz-inflight: queue 0's journal record (size 8, rings as virtq_image
    lays them, the used ring at 0x200), its taken bits, queue 1's record
    (disabled), then guest RAM."""
    features = 1 << 32 | 1 << 28 | 1 << 29  # VERSION_1, INDIRECT_DESC, EVENT_IDX

    def record(next_avail, completing=0):
        return struct.pack("<QQQQHHHHQQQ", 0, 16 * 8, 0x200, features, 8, 0, next_avail, 1,
                           completing, 0, 0)
    chains = [[(16, False), (16, True)], [(16, False), (512, True), (1, True)]]
    ram = virtq_image(8, chains)
    taken_head0 = struct.pack("<Q", 1) + bytes(56)
    yield record(1) + taken_head0 + bytes(64) + ram
    yield record(0) + bytes(64) + bytes(64) + ram
    yield record(1, 1 << 63) + taken_head0 + bytes(64) + ram
    # the used ring on the available one: each answer moves the available index
    overlap = struct.pack("<QQQQHHHHQQQ", 0, 16 * 8, 16 * 8, features, 8, 0, 0, 1, 0, 0, 0)
    yield overlap + bytes(64) + bytes(64) + ram


SEEDS = {"fuzz-virtio-small": small_seeds, "fuzz-virtq": virtq_seeds, "fuzz-link": link_seeds, "fuzz-virtio-net": net_seeds,
         "fuzz-remote": remote_seeds, "fuzz-blk": blk_seeds, "fuzz-inflight": inflight_seeds}


def run_target(path, seeds, seconds, workdir):
    corpus = os.path.join(workdir, os.path.basename(path))
    os.makedirs(corpus, exist_ok=True)
    for i, seed in enumerate(seeds()):
        with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
            f.write(seed)
    argv = [path, f"-max_total_time={seconds}", "-max_len=40000", "-timeout=10",
            "-print_final_stats=1", f"-artifact_prefix={corpus}/", corpus]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                           timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return False, "did not stop in time"
    tail = "\n".join(p.stderr.splitlines()[-12:])
    return p.returncode == 0, tail


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--seconds", type=int, default=20)
    opts = ap.parse_args()
    passed = failed = skipped = 0
    work = tempfile.mkdtemp(prefix="splitvm-fuzz-")
    for name, seeds in SEEDS.items():
        path = os.path.join(opts.build, "tests", "fuzz", name)
        if not os.access(path, os.X_OK):
            print(f"SKIP {name}: not built")
            skipped += 1
            continue
        ok, tail = run_target(path, seeds, opts.seconds, work)
        print(f"{'PASS' if ok else 'FAIL'} {name} ({opts.seconds} s)")
        if not ok:
            print(tail)
            print(f"  reproducers: {work}/{name}/")
        passed += ok
        failed += not ok
    print(f"fuzz: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
