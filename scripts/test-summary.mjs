// Adds up the vitest JSON reports of every suite `make test` ran and prints the closing line
// CI reads: "N passed, N failed, N skipped". Exits non-zero if a suite failed or none ran.
// A skipped test (vitest's pending/todo) counts as skipped, and so does a whole suite a make
// target skipped (no Buildroot, say): it records itself with
//   node scripts/test-summary.mjs --skip DIR NAME "reason"
// which writes DIR/NAME.json as a report of one skipped test, with the reason shown here.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

if (process.argv[2] === "--skip") {
  const [, , , dir, name, reason] = process.argv;
  const report = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 1, numTodoTests: 0, skipReason: reason ?? "" };
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(report) + "\n");
  console.log(`${name}: SKIPPED: ${reason}`);
  process.exit(0);
}

const dir = process.argv[2];
let passed = 0, failed = 0, skipped = 0;
for (const f of readdirSync(dir).filter((n) => n.endsWith(".json"))) {
  const r = JSON.parse(readFileSync(join(dir, f), "utf8"));
  const s = r.numPendingTests + (r.numTodoTests ?? 0);
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += s;
  const why = r.skipReason ? ` (${r.skipReason})` : "";
  console.log(`suite ${f.replace(/\.json$/, "")}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${s} skipped${why}`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
