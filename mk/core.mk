# Core: protocol, agent core, streamer gateway (TypeScript on Node). See issue "first vertical slice".

BUNDLE_DIR := $(BUILD)/bundle
CORE_SRC := $(shell find agent-src/src -name '*.ts') agent-src/build.mjs

.PHONY: bundle test-core
# esbuild bundles: agent for Node, agent for QuickJS (no Node imports), streamer for Node.
bundle: $(BUNDLE_DIR)/.stamp
$(BUNDLE_DIR)/.stamp: $(CORE_SRC) node_modules/.installed
	node agent-src/build.mjs $(BUNDLE_DIR)
	@touch $@

build: bundle

TEST_SUITES += test-core
test-core: bundle
	npx tsc -p agent-src/tsconfig.json --noEmit
	$(VITEST) --outputFile=$(BUILD)/test-results/core.json agent-src/test
