# Benchmarks against peers: `make bench` prints the table of bench/README.md, ours and
# the peer's figure from the same run, and saves figures + raw numbers under bench/results/.
# `make test` runs every row once with tiny parameters (test-bench) so the scripts don't rot.

BENCH_BUILD := $(BUILD)/bench
BENCH_SRC := $(wildcard bench/*.ts bench/lib/*.ts bench/rows/*.ts) bench/build.mjs

.PHONY: bench bench-tools test-bench
bench-tools:
	@scripts/install-bench.sh

$(BENCH_BUILD)/.stamp: $(BENCH_SRC) $(wildcard testkit/*.ts) $(BUNDLE_DIR)/.stamp node_modules/.installed
	node bench/build.mjs $(BENCH_BUILD)
	@touch $@

# The armhf agent is needed by the size and qemu-user rows; the other arches only by size. The
# armel probe (the agent's TLS code, a test build) times handshakes in the armv5-handshake row.
BENCH_AGENTS := $(foreach a,$(NATIVE_ARCHES),$(BUILD)/agent/$(a)/flussonic-agent) $(BUILD)/native-test/armel/probe

# 10 000 agents need ~12 000 descriptors in the streamer: raise the soft limit to the hard one.
# guest-rss boots the QEMU area's armhf camera image: its parts are built by qemu.mk.
bench: bench-tools bundle $(BENCH_BUILD)/.stamp $(BENCH_AGENTS)
	@$(MAKE) --no-print-directory qemu-images br-images QEMU_ARCHES=armhf
	ulimit -n "$$(ulimit -Hn)"; node $(BENCH_BUILD)/run.mjs $(BENCH_ARGS)

TEST_SUITES += test-bench
test-bench: bench-tools bundle $(BENCH_BUILD)/.stamp $(BUILD)/agent/armhf/flussonic-agent $(BUILD)/native-test/armel/probe
	@$(MAKE) --no-print-directory qemu-images br-images QEMU_ARCHES=armhf
	npx tsc -p bench/tsconfig.json --noEmit
	ulimit -n "$$(ulimit -Hn)"; $(VITEST) --outputFile=$(BUILD)/test-results/bench.json bench/test
