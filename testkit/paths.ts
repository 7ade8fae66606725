// Where the repository and its build are, for the test kit and whatever bundles it (bench scripts,
// `make demo`): found by walking up from this module's URL to the folder with agent-src/ and
// package.json, so a bundle at another depth (build/qemu-tests/demo.mjs) finds the same root.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRepo(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, "agent-src")) && existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) throw new Error(`no repository above ${from}`);
  }
}

export const REPO_ROOT = findRepo(dirname(fileURLToPath(import.meta.url)));
/** Output of `make bundle`: streamer.cjs, agent-node.mjs. */
export const BUNDLE = join(REPO_ROOT, "build/bundle");
