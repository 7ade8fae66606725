# Core: protocol, agent core, streamer gateway (TypeScript on Node), and the esbuild bundles
# of them ($(BUNDLE_DIR)) that the native agent, the streamer executable and the tests run.

CORE_SRC := $(shell find agent-src/src -name '*.ts') $(wildcard agent-src/web/*) agent-src/build.mjs

.PHONY: bundle test-core
# esbuild bundles: agent for Node, agent for QuickJS (no Node imports), streamer for Node.
bundle: $(BUNDLE_DIR)/.stamp
$(BUNDLE_DIR)/.stamp: $(CORE_SRC) node_modules/.installed
	node agent-src/build.mjs $(BUNDLE_DIR)
	@touch $@

build: bundle

TEST_SUITES += test-core test-hostile
# scripts/check-make-order.sh: the mk/*.mk fragments mean the same in any include order.
# Files in parallel; the hostile ones run after, on their own (test-hostile). Two files at a time
# even on 2 cores, where vitest's default (cores - 1) runs them one by one: the integration files
# wait on real-time media and timeouts (the whole suite used ~0.3 of a core on average), so the
# second file fills idle time (2-core machine: ~200 s instead of ~380 s).
test-core: bundle server
	scripts/check-make-order.sh
	npx tsc -p agent-src/tsconfig.json --noEmit
	ulimit -n "$$(ulimit -Hn)"; $(VITEST) --outputFile=$(BUILD)/test-results/core.json --maxWorkers=$(TEST_WORKERS) \
		--exclude "agent-src/test/native/**" --exclude "agent-src/test/hostile/**" agent-src/test

# The soak and the server fuzz suite (test/hostile) load the machine on purpose and assert on time
# (frames kept, closes within timeouts, admin answers): one file at a time, in a vitest run of
# their own, so their figures never depend on which of test-core's files run beside them.
# The soak holds 2,000 connections per listener, in its flood processes and in the streamer:
# raise the soft file limit to the hard one, as the bench does.
.PHONY: test-hostile
test-hostile: bundle server
	ulimit -n "$$(ulimit -Hn)"; $(VITEST) --outputFile=$(BUILD)/test-results/hostile.json --no-file-parallelism agent-src/test/hostile

# flussonic-streamer as one executable: Node's single-executable-application support + postject
# (docs/server.md says why not `pkg`). The blob is the CommonJS bundle.
.PHONY: server
server: $(BUILD)/flussonic-streamer
$(BUILD)/flussonic-streamer: $(BUNDLE_DIR)/.stamp
	@mkdir -p $(BUILD)/sea
	printf '{"main":"%s","output":"%s","disableExperimentalSEAWarning":true}\n' \
	  $(BUNDLE_DIR)/streamer.cjs $(BUILD)/sea/streamer.blob > $(BUILD)/sea/sea-config.json
	node --experimental-sea-config $(BUILD)/sea/sea-config.json
	cp "$$(command -v node)" $@.tmp
	npx --no-install postject $@.tmp NODE_SEA_BLOB $(BUILD)/sea/streamer.blob \
	  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
	mv $@.tmp $@
