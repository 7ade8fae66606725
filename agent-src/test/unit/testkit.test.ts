// The test kit's own rules: only its vitest adapter imports vitest (bench scripts and `make demo` load
// the rest with plain Node), and cleanup() removes what tempDir() made and stops what startProc started.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../testkit/paths";
import { cleanup, startProc, tempDir } from "../../../testkit/procs";

describe("testkit", () => {
  it("imports vitest from testkit/vitest.ts only", () => {
    const dir = join(REPO_ROOT, "testkit");
    const importers = readdirSync(dir).filter((f) => /from "vitest(\/[a-z]+)?"/.test(readFileSync(join(dir, f), "utf8")));
    expect(importers).toEqual(["vitest.ts"]);
  });

  it("cleanup() stops the processes and removes the temporary folders it knows of", async () => {
    const dir = tempDir("fa-kit-test-");
    const p = await startProc("sleep", ["30"]);
    expect(existsSync(dir)).toBe(true);
    await cleanup();
    expect(existsSync(dir)).toBe(false);
    expect(p.exit()).not.toBeNull();
  });
});
