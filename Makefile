# A thin wrapper over meson and ninja; see README.md.
#   make        install missing Debian packages, build build/splitvm and its modules
#   make check  build with -Werror and run every test tier (plus an ASan+UBSan build)
#   make demo   boot a guest on the best accelerator this host has
#   make bench  build, then run the benchmarks (software CPU: MIPS, slowdown vs native)
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

# The interpreter benchmark: guest MIPS and the slowdown against native.
bench: all
	@$(BUILD)/tests/cpu/cpu-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
