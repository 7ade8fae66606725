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

# The camera's agent (QuickJS + mbedTLS + the C relay pump) built for this x86-64 machine, -O2,
# dynamic: the throughput row measures it beside the Node agent (the same C the cameras run).
BENCH_NATIVE_AGENT := $(BUILD)/host/x86_64/flussonic-agent
$(BENCH_NATIVE_AGENT): $(NATIVE_SRC) $(BUNDLE_DIR)/.stamp | $(HOST_QJSC)
	$(MAKE) --no-print-directory -C $(NATIVE_DIR) -j2 CC=cc AR=ar STRIP=strip CFLAGS=-O2 STATIC=0 \
		QJSC=$(HOST_QJSC) QUICKJS_SRC=$(QUICKJS_SRC) MBEDTLS_SRC=$(MBEDTLS_SRC) ARCH_NAME=x86_64 \
		LIB_OBJDIR=$(BUILD)/host/x86_64/lib OBJDIR=$(BUILD)/host/x86_64/agent \
		BUNDLE=$(BUNDLE_DIR)/agent-quickjs.js OUT=$@

# 10 000 agents need ~12 000 descriptors in the streamer: raise the soft limit to the hard one.
# guest-rss boots the QEMU area's armhf camera image: its parts are built by qemu.mk.
bench: bench-tools bundle $(BENCH_BUILD)/.stamp $(BENCH_AGENTS) $(BENCH_NATIVE_AGENT)
	@$(MAKE) --no-print-directory qemu-images br-images QEMU_ARCHES=armhf
	ulimit -n "$$(ulimit -Hn)"; node $(BENCH_BUILD)/run.mjs $(BENCH_ARGS)

TEST_SUITES += test-bench
test-bench: bench-tools bundle $(BENCH_BUILD)/.stamp $(BUILD)/agent/armhf/flussonic-agent $(BUILD)/native-test/armel/probe
	@$(MAKE) --no-print-directory qemu-images br-images QEMU_ARCHES=armhf
	npx tsc -p bench/tsconfig.json --noEmit
	ulimit -n "$$(ulimit -Hn)"; $(VITEST) --outputFile=$(BUILD)/test-results/bench.json bench/test
