# flussonic-agent: one entry point for building, testing and demoing the whole product.
#
#   make demo    build the ARM agent, boot an emulated camera, play its video through the tunnel
#   make test    every test suite (what CI runs)
#   make bench   side-by-side figures against peers (bench/README.md)
#
# Each area keeps its rules in mk/<area>.mk and appends its suite to TEST_SUITES. A fragment
# may use the names set below, before the include, and its own; never another fragment's
# variables, so the fragments mean the same in any include order.

SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(CURDIR)
BUILD := $(ROOT)/build
VITEST := npx vitest run --reporter=default --reporter=json
# Test files at a time for the suites whose files mostly wait (real-time media, timeouts, agents
# under qemu-user): at least 2, where vitest's default (cores - 1) runs them one by one.
TEST_WORKERS := $(shell n=$$(nproc); echo $$(( n > 2 ? n - 1 : 2 )))

TEST_SUITES :=

# Outputs and sources more than one area depends on (in rule prerequisites, which make
# expands as it reads each fragment).
BUNDLE_DIR := $(BUILD)/bundle
NATIVE_ARCHES := armhf armel aarch64 mipsel
NATIVE_DIR := agent-src/native
NATIVE_SRC := $(wildcard $(NATIVE_DIR)/*.c $(NATIVE_DIR)/*.h) $(NATIVE_DIR)/Makefile
HOST_QJSC := $(BUILD)/host/qjsc

.PHONY: help deps build server test demo bench clean
help:
	@sed -n 's/^#   //p' Makefile

# Host packages (apt) and npm packages. Both steps are idempotent.
deps: node_modules/.installed
	@scripts/install-deps.sh
	@scripts/install-browser.sh

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

include mk/*.mk

test: deps
	@rm -rf $(BUILD)/test-results; mkdir -p $(BUILD)/test-results
	@start=$$(date +%s); status=0; \
	  for s in $(TEST_SUITES); do $(MAKE) --no-print-directory $$s || status=1; done; \
	  echo "make test: $$(( $$(date +%s) - start )) s"; \
	  node scripts/test-summary.mjs $(BUILD)/test-results || status=1; exit $$status

clean:
	rm -rf $(BUILD) out
