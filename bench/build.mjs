// Bundles the bench scripts (TypeScript, reusing the test harness) into build/bench/*.mjs so
// they run with plain `node`, outside vitest. Usage: node bench/build.mjs [OUTDIR]
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "..", "build", "bench");
const entries = ["run.ts", "swarm.ts", "flood-camera.ts", "viewers.ts"];
for (const e of entries) {
  await build({
    entryPoints: [join(here, e)], outfile: join(out, e.replace(/\.ts$/, ".mjs")), bundle: true,
    platform: "node", format: "esm", target: "node20", logLevel: "warning",
    alias: { vitest: join(here, "lib", "vitest-shim.ts") },
    // The harness locates the repo from import.meta.url; keep it pointing at the sources' layout.
    define: { __VERSION__: '"bench"', "import.meta.url": "__benchUrl" },
    banner: { js: `import { pathToFileURL as __p2u } from "node:url"; const __benchUrl = __p2u(${JSON.stringify(join(here, "..", "agent-src", "test", "harness", "x.ts"))}).href;` },
  });
}
console.log(`bench scripts written to ${out}`);
