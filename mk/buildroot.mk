# Buildroot external tree: buildroot-external/, package/, configs/, board/, docs/buildroot.md.
#
#   make test-buildroot        tree conventions, init scripts and hardening under real BusyBox (chroot)
#   make buildroot-check BUILDROOT_DIR=/path/to/buildroot
#                              check-package + `make flussonic-agent` against a real Buildroot checkout
#   make buildroot-release     release tarball for upstream use + package/flussonic-agent/flussonic-agent.hash

.PHONY: test-buildroot buildroot-deps buildroot-check buildroot-release
buildroot-deps:
	@scripts/install-buildroot-deps.sh

TEST_SUITES += test-buildroot
# The Buildroot check needs a Buildroot tree, which CI has no network to fetch: it runs only when
# BUILDROOT_DIR points at one (its own result is its exit status, like any suite's).
# Two files at a time ($(TEST_WORKERS)): harden.test.ts hashes passwords on one core while the
# others mostly wait on BusyBox services and respawn timers in chroots (2 cores: 41 s wall for
# 67 s of files, 29 s of CPU).
test-buildroot: buildroot-deps node_modules/.installed
	$(VITEST) --outputFile=$(BUILD)/test-results/buildroot.json --maxWorkers=$(TEST_WORKERS) buildroot-external/test
	@if [ -n "$(BUILDROOT_DIR)" ]; then \
		scripts/install-buildroot-deps.sh --check && $(MAKE) --no-print-directory native-tools && \
		scripts/buildroot-check.sh "$(BUILDROOT_DIR)"; \
	else \
		node scripts/test-summary.mjs --skip $(BUILD)/test-results buildroot-check \
			"scripts/buildroot-check.sh runs with BUILDROOT_DIR=/path/to/buildroot only (test-qemu builds the whole image)"; \
	fi

buildroot-check:
	@test -n "$(BUILDROOT_DIR)" || { echo "usage: make buildroot-check BUILDROOT_DIR=/path/to/buildroot" >&2; exit 2; }
	scripts/install-buildroot-deps.sh --check
	$(MAKE) --no-print-directory native-tools
	scripts/buildroot-check.sh "$(BUILDROOT_DIR)"

buildroot-release:
	scripts/buildroot-release.sh
