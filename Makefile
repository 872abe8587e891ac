# A thin wrapper over meson and ninja; see README.md.
#   make        install missing Debian packages, build build/splitvm and its modules
#   make check  build with -Werror and run every test tier (plus an ASan+UBSan build)
#   make demo   build, fetch the Debian guest image, boot it to a busybox shell
#               (--accel auto; a scripted session when stdin is not a terminal)
#   make bench  build, then run the benchmarks: software CPU (MIPS, slowdown vs
#               native), boot to init against QEMU TCG (plus load time, RSS),
#               virtio-blk throughput (O_DIRECT dd) and guest-to-host TCP
#               throughput against QEMU TCG, devices in their own processes
#               (link latency against QEMU's proxy+remote, isolated disk,
#               doorbell latency and virtio-blk IOPS against in-process)
#   make clean  remove the build directories

BUILD := build
ASAN_BUILD := build-asan

.PHONY: all deps check demo bench clean

all: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD)
	ninja -C $(BUILD)

deps:
	@sh scripts/install-deps.sh

check: deps
	@BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) python3 tests/run-checks

demo: all
	@python3 scripts/demo.py $(BUILD)/splitvm

# The interpreter benchmark (guest MIPS, slowdown against native), then boot
# to init of Debian's kernel, the guest's disk throughput and guest-to-host
# TCP throughput through user-mode networking, and resident memory with one
# disk and one NIC: splitvm on emu against QEMU TCG, alternating runs (then
# the resident memory of each kind of device process). Last,
# devices in their own processes: a config and a BAR read's round trip
# through splitvm's proxy and `splitvm remote` against QEMU's x-pci-proxy-dev
# and x-remote, the isolated virtio-blk against the in-process one, and
# doorbell latency and IOPS of a device in its own process against in-process.
BENCH_CPUS := 1
bench: all
	@$(BUILD)/tests/cpu/cpu-bench
	@python3 tests/e2e/bench_boot.py --splitvm $(BUILD)/splitvm --accel emu \
		--cpus $(BENCH_CPUS) --repeat 5 --timeout 120
	@python3 tests/e2e/bench_io.py --splitvm $(BUILD)/splitvm --accel emu \
		--repeat 5 --timeout 180
	@python3 tests/e2e/bench_net.py --splitvm $(BUILD)/splitvm --accel emu \
		--repeat 3 --mib 16 --timeout 300
	@python3 tests/e2e/bench_rss.py --splitvm $(BUILD)/splitvm --accel emu --timeout 180
	@python3 tests/e2e/bench_remote.py --splitvm $(BUILD)/splitvm --accel emu \
		--repeat 3 --timeout 180
	@$(BUILD)/tests/bench/bench-doorbell 9 2000
	@python3 tests/e2e/bench_isolated.py --splitvm $(BUILD)/splitvm --accel emu \
		--repeat 5 --plain --timeout 180

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
