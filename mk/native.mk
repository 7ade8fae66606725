# Native: the static QuickJS agent binary for camera CPUs (docs/native.md).
#
#   make agent ARCH=armhf|armel|aarch64|mipsel   -> build/agent/<arch>/flussonic-agent
#   make agents                                  -> all four
#   make native-bin ARCH=.. BUNDLE=x.js OUT=y [TEST_SERVER=1]   any bundle -> static binary
#   make test-native                             per-arch tests under qemu-user
# The build itself is agent-src/native/Makefile (shared with the Buildroot package); this
# fragment only supplies Debian's cross toolchains, the pinned sources and the host qjsc.

# NATIVE_ARCHES, NATIVE_DIR, NATIVE_SRC and HOST_QJSC are set in the top Makefile.
ARCH ?= armhf
QUICKJS_SRC := $(ROOT)/.cache/src/quickjs
MBEDTLS_SRC := $(ROOT)/.cache/src/mbedtls
AGENT_VERSION := $(shell node -p 'require("./package.json").version' 2>/dev/null || echo 0.0.0)

# Debian cross gcc wrapped with musl-gcc.specs (musl-dev:<arch>); binutils from the gnu triplet.
# -fno-pie/-no-pie: Debian's gcc defaults to PIE, which only costs size in a static binary.
native_cc_armhf := arm-linux-musleabihf-gcc
native_cross_armhf := arm-linux-gnueabihf-
native_cflags_armhf := -mthumb
native_cc_armel := arm-linux-musleabi-gcc
native_cross_armel := arm-linux-gnueabi-
# Thumb-1 for size, but mbedTLS in ARM mode: its bignum assembly and ciphers are the hot path.
native_cflags_armel := -march=armv5te -mthumb -mthumb-interwork
native_tlsflags_armel := -marm
native_libs_armel := -latomic
native_cc_aarch64 := aarch64-linux-musl-gcc
native_cross_aarch64 := aarch64-linux-gnu-
native_cc_mipsel := mipsel-linux-musl-gcc
native_cross_mipsel := mipsel-linux-gnu-
# Not -mno-abicalls/-fno-pic (3.5 % smaller): musl's libc.a is abicalls code that derives $gp from
# $t9, which non-abicalls callers do not set -> the agent crashed in libc under qemu-mipsel.
native_cflags_mipsel := -march=mips32r2
native_libs_mipsel := -latomic

# $(call native_make,ARCH) -> make invocation of agent-src/native/Makefile for that target.
native_make = $(MAKE) --no-print-directory -C $(NATIVE_DIR) \
	CC=$(native_cc_$(1)) AR=$(native_cross_$(1))ar STRIP=$(native_cross_$(1))strip \
	CFLAGS="-Os -fno-pie $(native_cflags_$(1))" LDFLAGS=-no-pie EXTRA_LIBS="$(native_libs_$(1))" TLS_CFLAGS="$(native_tlsflags_$(1))" \
	QJSC=$(HOST_QJSC) QUICKJS_SRC=$(QUICKJS_SRC) MBEDTLS_SRC=$(MBEDTLS_SRC) \
	LIB_OBJDIR=$(BUILD)/native/$(1)/lib ARCH_NAME=$(1) VERSION=$(AGENT_VERSION)

.PHONY: native-tools agent agents native-bin test-native native-size
# Cross toolchains + musl (apt), pinned QuickJS/mbedTLS sources (Debian source packages), host qjsc.
native-tools: $(HOST_QJSC)
$(BUILD)/.native-deps: scripts/install-cross.sh scripts/fetch-quickjs.sh scripts/fetch-mbedtls.sh scripts/debian-source.sh
	scripts/install-cross.sh
	scripts/fetch-quickjs.sh $(QUICKJS_SRC)
	scripts/fetch-mbedtls.sh $(MBEDTLS_SRC)
	@mkdir -p $(dir $@); touch $@
$(HOST_QJSC): $(BUILD)/.native-deps
	$(MAKE) --no-print-directory -C $(NATIVE_DIR) host-qjsc QUICKJS_SRC=$(QUICKJS_SRC) HOST_QJSC=$(HOST_QJSC)

agent: $(BUILD)/agent/$(ARCH)/flussonic-agent
agents: $(foreach a,$(NATIVE_ARCHES),$(BUILD)/agent/$(a)/flussonic-agent)

# One rule per arch; the library objects of an arch are shared, so builds of one arch run in order.
define native_agent_rule
$(BUILD)/agent/$(1)/flussonic-agent: $(NATIVE_SRC) $(BUNDLE_DIR)/.stamp | $(HOST_QJSC)
	$$(call native_make,$(1)) -j2 BUNDLE=$(BUNDLE_DIR)/agent-quickjs.js OUT=$$@ \
		OBJDIR=$(BUILD)/native/$(1)/agent
endef
$(foreach a,$(NATIVE_ARCHES),$(eval $(call native_agent_rule,$(a))))

# Any bundle into a binary of the same runtime, e.g. the QEMU fake camera (TEST_SERVER=1).
native-bin: | $(HOST_QJSC)
	@test -n "$(BUNDLE)" -a -n "$(OUT)" || { echo "usage: make native-bin ARCH=.. BUNDLE=x.js OUT=path [TEST_SERVER=1]" >&2; exit 2; }
	$(call native_make,$(ARCH)) -j2 BUNDLE=$(abspath $(BUNDLE)) OUT=$(abspath $(OUT)) \
		OBJDIR=$(abspath $(OUT)).obj TEST_SERVER=$(TEST_SERVER)

# Test tools: the probe (platform/quickjs.ts exercised from the command line, TEST_SERVER build)
# and a getrandom(2) probe that shows the old-kernel launcher's filter really bites.
NATIVE_TEST_DIR := $(BUILD)/native-test
$(NATIVE_TEST_DIR)/probe.js: agent-src/test/native/probe.ts agent-src/src/platform/quickjs.ts agent-src/test/native/bundle.mjs node_modules/.installed
	node agent-src/test/native/bundle.mjs agent-src/test/native/probe.ts $@

define native_probe_rule
$(NATIVE_TEST_DIR)/$(1)/probe: $(NATIVE_SRC) $(NATIVE_TEST_DIR)/probe.js | $(HOST_QJSC)
	$$(call native_make,$(1)) -j2 BUNDLE=$(NATIVE_TEST_DIR)/probe.js OUT=$$@ OBJDIR=$$@.obj TEST_SERVER=1
$(NATIVE_TEST_DIR)/$(1)/getrandom-probe: agent-src/test/native/getrandom-probe.c | $(HOST_QJSC)
	@mkdir -p $$(dir $$@)
	$(native_cc_$(1)) -static -Os -o $$@ $$<
endef
$(foreach a,$(NATIVE_ARCHES),$(eval $(call native_probe_rule,$(a))))

$(BUILD)/host/old-kernel-launcher: agent-src/test/native/old-kernel-launcher.c
	@mkdir -p $(dir $@)
	cc -O2 -Wall -o $@ $<

# Host unit test of readFile when fstat fails (the test file says why not under qemu): our
# native-fs.c and native-util.c on the build machine's QuickJS, with fstat wrapped.
HOST_QJS_OBJS := $(patsubst %,$(BUILD)/host/qjs/%.o,quickjs libregexp libunicode cutils dtoa)
HOST_QJS_LIBC_OBJ := $(BUILD)/host/qjs/quickjs-libc.o
$(HOST_QJS_OBJS) $(HOST_QJS_LIBC_OBJ): $(BUILD)/host/qjs/%.o: $(BUILD)/.native-deps
	@mkdir -p $(dir $@)
	cc -O1 -D_GNU_SOURCE -DCONFIG_VERSION=\"host\" -fwrapv -w -c -o $@ $(QUICKJS_SRC)/$*.c
$(BUILD)/host/read-file-unit: agent-src/test/native/read-file-unit.c $(NATIVE_DIR)/native-fs.c \
		$(NATIVE_DIR)/native-util.c $(NATIVE_DIR)/native.h $(HOST_QJS_OBJS)
	cc -O1 -g -Wall -I$(NATIVE_DIR) -I$(QUICKJS_SRC) -Wl,--wrap=fstat -o $@ $(filter %.c %.o,$^) -lm -lpthread

# The probe once more for this machine, linked against the system's mbedTLS 2.28 (Debian 12's
# libmbedtls-dev; OpenIPC firmware ships 2.28 too): the only build that compiles tls.c's 2.x
# branches, and its TLS tests run natively. QuickJS objects are the host ones above.
MBEDTLS2_PROBE := $(NATIVE_TEST_DIR)/x86_64-mbedtls2/probe
$(MBEDTLS2_PROBE): $(NATIVE_SRC) $(NATIVE_TEST_DIR)/probe.js $(HOST_QJS_OBJS) $(HOST_QJS_LIBC_OBJ) | $(HOST_QJSC)
	$(MAKE) --no-print-directory -C $(NATIVE_DIR) -j2 CC=cc AR=ar STRIP=strip CFLAGS=-O1 STATIC=0 WARNFLAGS=-Werror \
		QJSC=$(HOST_QJSC) QUICKJS_CFLAGS=-I$(QUICKJS_SRC) QUICKJS_LIBS="$(HOST_QJS_OBJS) $(HOST_QJS_LIBC_OBJ)" \
		QUICKJS_VERSION=$$(cat $(QUICKJS_SRC)/VERSION) MBEDTLS_CFLAGS= MBEDTLS_LIBS="-lmbedtls -lmbedx509 -lmbedcrypto" \
		ARCH_NAME=x86_64 VERSION=$(AGENT_VERSION) BUNDLE=$(NATIVE_TEST_DIR)/probe.js OUT=$@ OBJDIR=$@.obj TEST_SERVER=1

NATIVE_TEST_BINS := $(foreach a,$(NATIVE_ARCHES),$(BUILD)/agent/$(a)/flussonic-agent \
	$(NATIVE_TEST_DIR)/$(a)/probe $(NATIVE_TEST_DIR)/$(a)/getrandom-probe) $(BUILD)/host/old-kernel-launcher \
	$(BUILD)/host/read-file-unit $(MBEDTLS2_PROBE)

# The core's integration files again, with the native binary as the agent (FLUSSONIC_AGENT_CMD).
# On every CPU the files that test the agent itself (relay, faults, security, hostile server, state
# file), about 2 min each. With the armhf agent also the files where the agent relays a camera that
# misbehaves or goes away (hostile HTTP camera answers, upload bodies, camera restart, agent killed).
# The rest is not rerun: the agent relays bytes and never parses RTSP/HTTP, so the RTSP/HLS gateways,
# restreaming to many viewers (restream, rtsp-hostile, hls) test the streamer with an agent that
# relays one stream, as relay.test.ts does; link-limits and tokens-race start no agent at all.
native_qemu_armhf := "qemu-arm-static"
native_qemu_armel := "qemu-arm-static","-cpu","arm926"
native_qemu_aarch64 := "qemu-aarch64-static"
native_qemu_mipsel := "qemu-mipsel-static"
native_integration_agent := $(addprefix agent-src/test/integration/,relay.test.ts faults.test.ts security.test.ts \
	hostile-server.test.ts state-kill.test.ts)
native_integration_armhf := $(native_integration_agent) $(addprefix agent-src/test/integration/,http-hostile.test.ts \
	snapshot-talker.test.ts restream-faults.test.ts)
# CPUs whose native agent reruns the integration suite (trim to save CI time).
NATIVE_INTEGRATION_ARCHES ?= $(NATIVE_ARCHES)
# The reruns take two files at a time ($(TEST_WORKERS)): with the agent under qemu-user they still
# mostly wait (aarch64's five files: 65 s wall for 26 s of CPU on 2 cores, 127 s one by one).

TEST_SUITES += test-native
test-native: $(NATIVE_TEST_BINS) $(BUNDLE_DIR)/.stamp
	@status=0; \
	NATIVE_TESTS=1 $(VITEST) --outputFile=$(BUILD)/test-results/native.json agent-src/test/native || status=1; \
	for a in $(NATIVE_INTEGRATION_ARCHES); do \
	  case $$a in armhf) q='$(native_qemu_armhf)';; armel) q='$(native_qemu_armel)';; \
	    aarch64) q='$(native_qemu_aarch64)';; mipsel) q='$(native_qemu_mipsel)';; esac; \
	  echo "== integration suite with the native $$a agent"; \
	  FLUSSONIC_AGENT_CMD="[$$q,\"build/agent/$$a/flussonic-agent\"]" \
	    $(VITEST) --outputFile=$(BUILD)/test-results/native-integration-$$a.json --maxWorkers=$(TEST_WORKERS) \
	      $$([ $$a = armhf ] && echo $(native_integration_armhf) || echo $(native_integration_agent)) || status=1; \
	done; \
	echo "== relay and faults with the native armel (ARM926) agent on a simulated Linux 3.10 kernel"; \
	FLUSSONIC_AGENT_CMD='["$(BUILD)/host/old-kernel-launcher",$(native_qemu_armel),"build/agent/armel/flussonic-agent"]' \
	  $(VITEST) --outputFile=$(BUILD)/test-results/native-integration-oldkernel-armel.json --maxWorkers=$(TEST_WORKERS) \
	  agent-src/test/integration/relay.test.ts agent-src/test/integration/faults.test.ts || status=1; \
	exit $$status

native-size: agents
	bench/size.sh
