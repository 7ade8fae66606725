// Bundles the TypeScript sources with esbuild.
//   agent-node.mjs      agent CLI on Node (host tests, development)
//   agent-quickjs.js    agent payload for the static QuickJS binary: ES2020, no Node imports;
//                       only the runtime's own modules ("qjs:os", "qjs:std", "flussonic:native") stay external
//   streamer.cjs        flussonic-streamer on Node (CommonJS: what Node's single-executable support runs),
//                       with the browser code (agent-src/web/: player with hls.js, console, css) embedded
//                       as strings through the virtual module "web-assets": no CDN, works offline
// Usage: node agent-src/build.mjs OUTDIR
import { build } from "esbuild";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "..", "build", "bundle");
const src = (p) => join(here, "src", p);
const version = JSON.parse((await import("node:fs")).readFileSync(join(here, "..", "package.json"), "utf8")).version;
const define = { __VERSION__: JSON.stringify(version) };

const jobs = [
  { entry: "cli/agent-node.ts", outfile: "agent-node.mjs", platform: "node", format: "esm", target: "node20" },
  { entry: "cli/streamer.ts", outfile: "streamer.cjs", platform: "node", format: "cjs", target: "node20" },
  {
    entry: "cli/agent-quickjs.ts", outfile: "agent-quickjs.js", platform: "neutral", format: "esm",
    target: "es2020", external: ["qjs:os", "qjs:std", "os", "std", "flussonic:native"],
  },
  // The same agent core with the QuickJS platform replaced by a host bridge: proves the payload is
  // QuickJS-clean inside quickjs-emscripten (agent-src/test/quickjs-emscripten.test.ts).
  { entry: "cli/agent-bridge.ts", outfile: "agent-bridge.js", platform: "neutral", format: "iife", target: "es2020" },
];

// The browser bundles first: ES2019 for the browsers hls.js supports, minified, in memory.
const web = (p) => join(here, "web", p);
const browserBundle = async (entry) => {
  const r = await build({
    entryPoints: [web(entry)], bundle: true, write: false, platform: "browser", format: "iife", target: "es2019",
    minify: true, legalComments: "none", logLevel: "warning",
  });
  return r.outputFiles[0].text;
};
const webAssets = {
  PLAYER_JS: await browserBundle("player.js"),
  CONSOLE_JS: await browserBundle("console.js"),
  APP_CSS: (await import("node:fs")).readFileSync(web("app.css"), "utf8"),
};
const webAssetsPlugin = {
  name: "web-assets",
  setup(b) {
    b.onResolve({ filter: /^web-assets$/ }, () => ({ path: "web-assets", namespace: "web-assets" }));
    b.onLoad({ filter: /.*/, namespace: "web-assets" }, () => ({
      contents: Object.entries(webAssets).map(([k, v]) => `export const ${k} = ${JSON.stringify(v)};`).join("\n"),
      loader: "js",
    }));
  },
};

for (const j of jobs) {
  if (!existsSync(src(j.entry))) continue; // an area not written yet
  await build({
    entryPoints: [src(j.entry)], outfile: join(out, j.outfile), bundle: true, platform: j.platform,
    format: j.format, target: j.target, external: j.external ?? [], define, minify: false,
    legalComments: "none", logLevel: "warning", plugins: j.platform === "node" ? [webAssetsPlugin] : [],
    // The neutral bundles must not silently pull in Node built-ins.
    ...(j.platform === "neutral" ? { mainFields: ["module", "main"], conditions: ["import"] } : {}),
  });
}
console.log(`bundles written to ${out}`);
