// The relay pump in C (native-pump.c via platform/quickjs.ts): camera bytes go to the link as
// DATA records without passing through JS. A Node TLS server plays the streamer: it grants credit
// with WINDOW frames, stalls reading now and then (so the pump finds the link full and mbedTLS
// holds its record), and checks every frame: DATA only within the credit granted, the camera's
// bytes once and in order, the probe's own PING frames intact between the pump's records and each
// exactly where JS wrote it (after the bytes the pump had sent then: no pump record overtakes a
// frame JS queued on the link).
// armhf only: the code under test is the same C and JS on every CPU. Run by `make test-native`.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server as TcpServer, type Socket as TcpSocket } from "node:net";
import { join, resolve } from "node:path";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FrameType } from "../../src/protocol/frame";
import { makePki, type Pki } from "../../../testkit/system";
import { startProc, tempDir } from "../../../testkit/procs";

const ROOT = resolve(__dirname, "../../..");
const enabled = process.env.NATIVE_TESTS === "1" && (!process.env.NATIVE_ARCHES || process.env.NATIVE_ARCHES.split(",").includes("armhf"));
const STREAM = 0xfffffffe; // a stream id above 2^31: all 32 bits reach the header
const WINDOW = 256 * 1024;

function windowFrame(n: number): Uint8Array {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(n);
  return encodeFrame(FrameType.WINDOW, STREAM, p);
}

interface LinkResult { data: Buffer; frames: number; pings: number; overCredit: number; maxFrame: number; misordered: number }

/** The streamer's side of the link: grants credit as DATA is consumed, like protocol/stream.ts. */
function serveLink(server: Server, initialCredit: number, stall: boolean): Promise<LinkResult> {
  return new Promise((done, fail) => {
    server.once("secureConnection", (s: TLSSocket) => {
      const dec = new FrameDecoder();
      const chunks: Buffer[] = [];
      let credit = initialCredit;
      let unacked = 0;
      let frames = 0;
      let pings = 0;
      let overCredit = 0;
      let maxFrame = 0;
      let misordered = 0;
      let received = 0;
      let reads = 0;
      // Zero credit: the first WINDOW comes a little later; DATA before it would count as over.
      if (initialCredit === 0) {
        setTimeout(() => {
          credit += WINDOW;
          s.write(windowFrame(WINDOW));
        }, 300).unref();
      }
      if (stall) { // not reading at first: with this much credit the kernel's buffers fill up
        s.pause();
        setTimeout(() => s.resume(), 1500);
      }
      s.on("data", (d: Buffer) => {
        try {
          for (const f of dec.push(new Uint8Array(d))) {
            if (f.type === FrameType.PING) {
              pings++;
              // JS wrote it when the pump had sent this many bytes: it must come right after them.
              if (new DataView(f.payload.buffer, f.payload.byteOffset, 8).getFloat64(0) !== received) misordered++;
            }
            if (f.type !== FrameType.DATA) continue;
            if (f.stream !== STREAM) throw new Error(`DATA for stream ${f.stream}`);
            frames++;
            maxFrame = Math.max(maxFrame, f.payload.length);
            if (f.payload.length > credit) overCredit++;
            credit -= f.payload.length;
            unacked += f.payload.length;
            chunks.push(Buffer.from(f.payload));
            received += f.payload.length;
            if (unacked >= WINDOW / 2) {
              credit += unacked;
              s.write(windowFrame(unacked));
              unacked = 0;
            }
          }
        } catch (e) {
          fail(e);
        }
        // Stop reading now and then: the pump meets a full link, mbedTLS holds its record.
        if (stall && ++reads % 200 === 0) {
          s.pause();
          setTimeout(() => s.resume(), 150);
        }
      });
      s.on("end", () => {
        s.end();
        done({ data: Buffer.concat(chunks), frames, pings, overCredit, maxFrame, misordered });
      });
      s.on("error", fail);
    });
  });
}

describe.skipIf(!enabled)("native relay pump (armhf)", () => {
  let dir: string;
  let bin: string;
  let pki: Pki;
  let server: Server;
  let camera: TcpServer;
  let onCamera: (s: TcpSocket) => void = () => {};

  beforeAll(async () => {
    dir = tempDir("fa-pump-");
    execFileSync("node", ["agent-src/test/native/bundle.mjs", "agent-src/test/native/pump-probe.ts", join(dir, "probe.js")], { cwd: ROOT });
    bin = join(dir, "probe");
    execFileSync("make", ["--no-print-directory", "native-bin", "ARCH=armhf", `BUNDLE=${join(dir, "probe.js")}`, `OUT=${bin}`], { cwd: ROOT, stdio: "pipe" });
    pki = makePki();
    server = createServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    camera = createTcpServer({ allowHalfOpen: true }, (s) => onCamera(s));
    await new Promise<void>((r) => camera.listen(0, "127.0.0.1", r));
  }, 120_000);

  afterAll(() => {
    server?.close();
    camera?.close();
  });

  const port = (s: Server | TcpServer) => (s.address() as { port: number }).port;

  async function run(credit: number, stall: boolean) {
    const link = serveLink(server, credit, stall);
    const probe = await startProc("qemu-arm-static", [bin, String(port(server)), pki.caFile, String(port(camera)), String(STREAM), String(credit)]);
    return { link, probe };
  }

  it("a camera faster than the link: every byte once, in order, never past the credit; JS frames stay intact", async () => {
    const sent = randomBytes(12 * 1024 * 1024);
    onCamera = (s) => s.end(sent); // as fast as the kernel takes it, then EOF
    // The largest credit there is (a window of 2^32-1; each WINDOW on top saturates it): only the
    // link holds the camera back.
    const { link, probe } = await run(0xffffffff, true);
    await probe.waitForLine(/^PUMP NativePump$/, { timeoutMs: 20_000 });
    const end = await probe.waitForLine(/^(END|ERROR) .*/, { timeoutMs: 60_000 });
    expect(end[0]).toMatch(/^END /);
    const r = await link;
    expect(r.overCredit).toBe(0);
    expect(r.maxFrame).toBeLessThanOrEqual(8192 - 12); // one DATA frame = one TLS record
    expect(r.data.length).toBe(sent.length);
    expect(createHash("sha256").update(r.data).digest("hex")).toBe(createHash("sha256").update(sent).digest("hex"));
    const [, bytes, frames, linkFull] = end[0].split(" ").map(Number);
    expect([bytes, frames]).toEqual([sent.length, r.frames]);
    expect(linkFull).toBeGreaterThan(0); // the stalls did make the pump wait for the link
    expect(r.pings).toBeGreaterThan(10); // one per WINDOW, between the pump's records
    expect(r.misordered).toBe(0); // each exactly where JS wrote it: no pump record overtook one
    await probe.stop();
  }, 90_000);

  it("starting at zero credit, nothing moves until the first WINDOW; a camera reset mid-stream is an error, not a hang", async () => {
    const sent = randomBytes(1024 * 1024);
    onCamera = (s) => {
      s.write(sent, () => setTimeout(() => s.resetAndDestroy(), 200));
    };
    const { link, probe } = await run(0, false);
    const end = await probe.waitForLine(/^(END|ERROR) .*/, { timeoutMs: 60_000 });
    expect(end[0]).toMatch(/^ERROR read: Connection reset by peer$/);
    const r = await link;
    expect(r.overCredit).toBe(0);
    expect(r.data.equals(sent.subarray(0, r.data.length))).toBe(true);
    await probe.stop();
  }, 90_000);
});
