# Emulated cameras: QEMU images, Mirai/security tests, end-to-end, demo.
#   make test-qemu              every QEMU suite (QEMU_ARCHES=armhf,aarch64 limits the guest CPUs)
#   make demo                   boot the armhf hardened camera and watch it through the streamer
# Images are built by qemu-tests/lib/image.ts (Debian-assembled) and lib/buildroot.ts (armhf, by
# Buildroot: mk/image.mk), cached by content hash in build/qemu-images.

QEMU_ARCHES ?= armhf,aarch64,mipsel,armel
qemu_comma := ,
QEMU_ARCH_LIST := $(subst $(qemu_comma), ,$(QEMU_ARCHES))
# The tools bundle the test kit (testkit/, vitest-free) they share with the integration tests.
QEMU_TEST_SRC := $(shell find qemu-tests -name "*.ts") $(wildcard testkit/*.ts)
FAKE_CAMERA_DIR := $(BUILD)/fake-camera
FAKE_CAMERA_SRC := $(wildcard qemu-tests/fake-camera/src/*.ts) qemu-tests/fake-camera/build.mjs \
	agent-src/src/platform/quickjs.ts agent-src/src/platform/platform.ts

.PHONY: qemu-deps guest-debs fake-camera qemu-images test-qemu demo
qemu-deps:
	@scripts/install-qemu.sh

guest-debs: qemu-deps
	@scripts/fetch-guest-debs.sh $(QEMU_ARCH_LIST)

# Fake camera: media + bundles (ffmpeg, esbuild), then one static binary per guest CPU on the
# agent's own runtime (built with the test-only listen capability).
$(FAKE_CAMERA_DIR)/fake-camera.js: $(FAKE_CAMERA_SRC) node_modules/.installed
	node qemu-tests/fake-camera/build.mjs $(FAKE_CAMERA_DIR)
$(FAKE_CAMERA_DIR)/%/fake-camera: $(FAKE_CAMERA_DIR)/fake-camera.js $(NATIVE_SRC) | $(HOST_QJSC)
	$(MAKE) --no-print-directory native-bin ARCH=$* BUNDLE=$< OUT=$@ TEST_SERVER=1
fake-camera: $(foreach a,$(QEMU_ARCH_LIST),$(FAKE_CAMERA_DIR)/$(a)/fake-camera)

# Everything the hardened images are made of (the images themselves are built by the tests).
qemu-images: guest-debs fake-camera bundle $(foreach a,$(QEMU_ARCH_LIST),$(BUILD)/agent/$(a)/flussonic-agent)

TEST_SUITES += test-qemu
# Test files run one at a time (--no-file-parallelism): every guest is a CPU-bound QEMU on a
# 2-core machine; inside a file, guests boot one after another and are always stopped (the
# hardened cameras stay up for their console sweeps, which run at once: mostly login delays).
# The armhf image is also built with the next Buildroot LTS (2026.02.3) when ../shared has it: a
# second cold Buildroot build (~6.5 min). BUILDROOT_NEXT=0 leaves it out (docs/buildroot.md).
BUILDROOT_NEXT ?= 1
test-qemu: qemu-images br-images node_modules/.installed
	npx tsc -p qemu-tests/tsconfig.json
	QEMU_ARCHES=$(QEMU_ARCHES) BUILDROOT_NEXT=$(BUILDROOT_NEXT) $(VITEST) --outputFile=$(BUILD)/test-results/qemu.json --no-file-parallelism qemu-tests

# The demo runs the same library code as the tests, bundled by esbuild (no test runner needed).
$(BUILD)/qemu-tests/demo.mjs: $(QEMU_TEST_SRC) node_modules/.installed
	npx esbuild qemu-tests/tools/demo.ts --bundle --platform=node --format=esm --packages=external \
		--log-level=warning --outfile=$@
demo: deps
	@$(MAKE) --no-print-directory qemu-images br-images QEMU_ARCHES=$(or $(DEMO_ARCH),armhf)
	@$(MAKE) --no-print-directory $(BUILD)/qemu-tests/demo.mjs
	node $(BUILD)/qemu-tests/demo.mjs

.PHONY: qemu-bench-memory
# Agent VmHWM inside the guest while relaying ~4 Mbit/s (goal <= 2 MB, docs/native.md).
qemu-bench-memory: $(BUILD)/qemu-tests/bench-memory.mjs
	@$(MAKE) --no-print-directory qemu-images br-images QEMU_ARCHES=$(or $(QEMU_BENCH_ARCH),armhf)
	node $<
$(BUILD)/qemu-tests/bench-memory.mjs: $(QEMU_TEST_SRC) node_modules/.installed
	npx esbuild qemu-tests/tools/bench-memory.ts --bundle --platform=node --format=esm --packages=external \
		--log-level=warning --outfile=$@
