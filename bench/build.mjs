// Bundles the bench scripts (TypeScript, reusing the test kit, testkit/) into build/bench/*.mjs so
// they run with plain `node`, outside vitest. Usage: node bench/build.mjs [OUTDIR]
import { build } from "esbuild";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// The test kit and the qemu-tests helpers find the repo from import.meta.url: give each bundled
// source file its own original URL, so those relative paths keep working from build/bench/.
const sourceUrls = {
  name: "source-urls",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => ({
      contents: (await readFile(args.path, "utf8")).replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
      loader: "ts",
    }));
  },
};

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "..", "build", "bench");
const entries = ["run.ts", "swarm.ts", "flood-camera.ts", "viewers.ts", "ab-throughput.ts", "ab-delay.ts", "node-tls-pair.ts"];
for (const e of entries) {
  await build({
    entryPoints: [join(here, e)], outfile: join(out, e.replace(/\.ts$/, ".mjs")), bundle: true,
    platform: "node", format: "esm", target: "node20", logLevel: "warning",
    // execa (used by the qemu-tests helpers) is CommonJS inside, and puppeteer-core (the HLS row) loads
    // optional modules at run time: both from node_modules.
    external: ["execa", "puppeteer-core"],
    // The test kit locates the repo from import.meta.url; keep it pointing at the sources' layout.
    define: { __VERSION__: '"bench"' },
    plugins: [sourceUrls],
  });
}
console.log(`bench scripts written to ${out}`);
