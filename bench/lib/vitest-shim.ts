// The test harness (agent-src/test/harness) registers cleanup with vitest's afterAll. Bench
// scripts run outside vitest, where importing "vitest" throws; bench/build.mjs aliases "vitest"
// to this file. Cleanup then comes from the harness's own process-exit handler.
export function afterAll(_fn: () => unknown): void {}
