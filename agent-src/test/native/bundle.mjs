// Bundles a test program for the static QuickJS runtime exactly like build.mjs bundles the agent
// (ES2020 ESM, neutral platform, runtime modules external).
// Usage: node agent-src/test/native/bundle.mjs ENTRY.ts OUT.js
import { build } from "esbuild";

const [entry, outfile] = process.argv.slice(2);
await build({
  entryPoints: [entry], outfile, bundle: true, platform: "neutral", format: "esm", target: "es2020",
  external: ["qjs:os", "qjs:std", "os", "std", "flussonic:native"], mainFields: ["module", "main"],
  conditions: ["import"], legalComments: "none", logLevel: "warning", define: { __VERSION__: '"test"' },
});
