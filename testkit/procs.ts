// Child processes for test files: everything child-procs.ts has, plus an afterAll hook in each test
// file that imports this module, so processes a failing test left running are stopped with its file
// (on top of the exit handler and --pdeathsig that child-procs.ts sets up).
import { afterAll } from "vitest";
import { stopAll } from "./child-procs";

export * from "./child-procs";

try {
  // Registered in the test file that imports this module (vitest evaluates it per file).
  afterAll(stopAll);
} catch {
  // Imported outside a vitest collection phase: the exit handler still applies.
}
