// The agent's DATA write path on the static runtime (platform/quickjs.ts writeTwo → native
// tlsWriteTwo): header + payload gathered in C into TLS records. The server reads nothing until
// the writer has found its socket full, so the blocked path (rest copied in JS, retried with
// tlsWrite while mbedTLS holds the pending record) runs; every byte must arrive once, in order.
// armhf only: the code under test is the same C and JS on every CPU. Run by `make test-native`.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePki, type Pki } from "../../../testkit/system";
import { startProc, tempDir } from "../../../testkit/procs";

const ROOT = resolve(__dirname, "../../..");
const enabled = process.env.NATIVE_TESTS === "1" && (!process.env.NATIVE_ARCHES || process.env.NATIVE_ARCHES.split(",").includes("armhf"));
const COUNT = 600;

/** The bytes writetwo-probe.ts sends, in order. */
function expected(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < COUNT; i++) {
    const body = Buffer.alloc(((i * 7919) % 20000) + 1);
    for (let j = 0; j < body.length; j++) body[j] = (i + j) & 255;
    parts.push(Buffer.alloc(12, i & 255), body);
  }
  return Buffer.concat(parts);
}

describe.skipIf(!enabled)("native writeTwo over TLS (armhf)", () => {
  let dir: string;
  let bin: string;
  let pki: Pki;
  let server: Server;
  let got: Promise<Buffer>;

  beforeAll(() => {
    dir = tempDir("fa-writetwo-");
    execFileSync("node", ["agent-src/test/native/bundle.mjs", "agent-src/test/native/writetwo-probe.ts", join(dir, "probe.js")], { cwd: ROOT });
    bin = join(dir, "probe");
    execFileSync("make", ["--no-print-directory", "native-bin", "ARCH=armhf", `BUNDLE=${join(dir, "probe.js")}`, `OUT=${bin}`], { cwd: ROOT, stdio: "pipe" });
    pki = makePki();
  }, 120_000);

  afterAll(() => {
    server?.close();
  });

  it("every byte arrives once and in order while the socket keeps filling up", async () => {
    let conn: TLSSocket | undefined;
    const port = await new Promise<number>((ready) => {
      got = new Promise<Buffer>((done, fail) => {
        server = createServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) }, (s) => {
          const chunks: Buffer[] = [];
          conn = s;
          s.pause(); // not reading until the writer has blocked (below)
          s.on("data", (d: Buffer) => {
            chunks.push(d);
            // Stall again now and then so the writer may block more than once.
            if (chunks.length % 50 === 0) {
              s.pause();
              setTimeout(() => s.resume(), 100);
            }
          });
          s.on("end", () => {
            s.end();
            done(Buffer.concat(chunks));
          });
          s.on("error", fail);
        });
        server.listen(0, "127.0.0.1", () => ready((server.address() as { port: number }).port));
      });
    });
    const want = expected();
    const probe = await startProc("qemu-arm-static", [bin, String(port), pki.caFile, String(COUNT)]);
    await probe.waitForLine(/^WAITING \d+$/, { timeoutMs: 60_000 }); // kernel buffers full, JS queue used
    conn!.resume();
    await probe.waitForLine(new RegExp(`^SENT ${want.length}$`), { timeoutMs: 60_000 });
    const data = await got;
    expect(data.length).toBe(want.length);
    expect(createHash("sha256").update(data).digest("hex")).toBe(createHash("sha256").update(want).digest("hex"));
    await probe.stop();
  }, 90_000);
});
