/**
 * Ad-hoc diagnosis: type Mirai's list at a hardened guest's serial console for several rounds;
 * when a login prompt is slow or missing, print what the control shell sees.
 *   npx vite-node qemu-tests/tools/console-soak.ts armel 4
 */
import { buildImage } from "../lib/image.js";
import { hardenedSpec } from "../lib/hardened.js";
import { CONSOLE_DIAG, consoleLogin, miraiCredentials } from "../lib/mirai.js";
import { bootGuest } from "../lib/qemu.js";
import type { Arch } from "../lib/boards.js";

const arch = (process.argv[2] ?? "armel") as Arch;
const rounds = Number(process.argv[3] ?? 2);
const g = await bootGuest({ image: await buildImage(hardenedSpec(arch)) });
const creds = miraiCredentials();
try {
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of creds.entries()) {
      const t = Date.now();
      const res = await consoleLogin(g.console, c, 15_000, 12_000);
      const ms = Date.now() - t;
      if (ms > 8000 || res === "no-prompt") {
        console.log(`round ${r} pair ${i}: ${res} after ${ms} ms`);
        const len = g.console.transcript.length;
        console.log("status", JSON.stringify(await g.qmp("query-status").catch((e) => String(e))));
        const sh = await g.sh(CONSOLE_DIAG, 15_000).catch((e) => ({ out: String(e), code: -1 }));
        console.log("control:", sh.out);
        await new Promise((r) => setTimeout(r, 5000));
        console.log(`console grew ${g.console.transcript.length - len} bytes in 5 s; tail ${JSON.stringify(g.console.transcript.slice(-300))}`);
      }
    }
    console.log(`round ${r} done`);
  }
} finally {
  await g.stop();
}
