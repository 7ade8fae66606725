# The emulated camera built by Buildroot from our external tree and defconfig.
#   make image ARCH=armhf [VARIANT=hardened|stock] [BUILDROOT_VERSION=2026.02.3]
#       rootfs.cpio in build/qemu-images/<arch>-br<version>-<variant>-<hash>/ (cached by content
#       hash: an unchanged rerun takes seconds). Buildroot comes from ../shared/buildroot/ or
#       BUILDROOT_DIR; the build is offline (scripts/buildroot-image.sh, docs/buildroot.md).
# test-qemu boots these for armhf when Buildroot is there; without it, the Debian-assembled images.

.PHONY: image br-images
IMAGE_TOOL_SRC := $(shell find qemu-tests/lib qemu-tests/tools -name "*.ts") $(wildcard testkit/*.ts)
$(BUILD)/qemu-tests/image.mjs: $(IMAGE_TOOL_SRC) node_modules/.installed
	npx esbuild qemu-tests/tools/image.ts --bundle --platform=node --format=esm --packages=external \
		--log-level=warning --outfile=$@

image: $(BUILD)/qemu-tests/image.mjs $(BUILD)/fake-camera/$(or $(ARCH),armhf)/fake-camera bundle
	@scripts/install-buildroot-deps.sh --check $(or $(ARCH),armhf)
	ARCH=$(or $(ARCH),armhf) VARIANT=$(VARIANT) BUILDROOT_VERSION=$(BUILDROOT_VERSION) node $<

# Before the QEMU suites: both armhf Buildroot images (a cold build takes minutes, longer than a
# test's setup may). Exit 3 = no Buildroot in this checkout: the suites use the Debian images.
# BUILDROOT_ARCHES=armhf,aarch64 also builds the (opt-in) aarch64 hardened image.
BUILDROOT_ARCHES ?= armhf
export BUILDROOT_ARCHES
br-images: $(BUILD)/qemu-tests/image.mjs $(BUILD)/fake-camera/armhf/fake-camera bundle
	@if echo ",$(QEMU_ARCHES)," | grep -q ',armhf,'; then \
		scripts/install-buildroot-deps.sh --check >/dev/null && \
		{ ARCH=armhf VARIANT=hardened,stock node $< || [ $$? = 3 ]; }; fi
	@if echo ",$(QEMU_ARCHES)," | grep -q ',aarch64,' && echo ",$(BUILDROOT_ARCHES)," | grep -q ',aarch64,'; then \
		$(MAKE) --no-print-directory $(BUILD)/fake-camera/aarch64/fake-camera && \
		scripts/install-buildroot-deps.sh --check aarch64 >/dev/null && \
		{ ARCH=aarch64 VARIANT=hardened node $< || [ $$? = 3 ]; }; fi
