# Emulated cameras (issue "Emulated cameras"): QEMU images, Mirai/security tests, end-to-end, demo.
#   QEMU_ARCHES=armhf,aarch64  limits the guest arches tested (default: all four)

QEMU_TEST_SRC := $(shell find qemu-tests -name '*.ts' -not -path '*/node_modules/*')

.PHONY: qemu-deps guest-debs test-qemu demo
qemu-deps:
	@scripts/install-qemu.sh

guest-debs: qemu-deps
	@scripts/fetch-guest-debs.sh armhf aarch64 mipsel armel

TEST_SUITES += test-qemu
# Test files run one at a time (--no-file-parallelism): every guest is a CPU-bound QEMU on a
# 2-core machine; inside a file, guests boot one after another and are always stopped.
test-qemu: qemu-deps guest-debs node_modules/.installed
	$(VITEST) --outputFile=$(BUILD)/test-results/qemu.json --no-file-parallelism qemu-tests
