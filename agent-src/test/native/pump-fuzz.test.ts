// Bounded fuzz of the relay pump's input on an x86-64 AddressSanitizer build of the same C
// (bench/pump-fuzz.sh builds it and runs this file; skipped unless PUMP_FUZZ=1). Each case runs
// the pump probe between a camera and a "streamer" that misbehave in seeded random ways:
//   camera: random amounts in random chunks and pauses, then EOF, RST (reset mid-write), or silence;
//   streamer: initial credit 0, 1, random or 2^32-1; WINDOW frames of 0, 1, random or 2^32-1
//   (saturating); DATA for streams the probe does not have; reading stalled; the link reset or
//   ended mid-transfer; EOF racing a zero window.
// Every case: the probe exits by itself (0 or 1, never a signal) within its bound, stderr has no
// AddressSanitizer/LeakSanitizer report, no DATA past the credit granted, and what arrived is a
// prefix of what the camera sent (all of it when the camera ended cleanly and nothing was cut).
// Replay one case: PUMP_FUZZ_SEED=<seed> PUMP_FUZZ_CASES=1.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server as TcpServer, type Socket as TcpSocket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FrameType } from "../../src/protocol/frame";
import { makePki, type Pki } from "../../../testkit/system";
import { startProc } from "../../../testkit/procs";

const enabled = process.env.PUMP_FUZZ === "1" && !!process.env.PUMP_FUZZ_BIN;
const CASES = Number(process.env.PUMP_FUZZ_CASES ?? 300);
const SEED = Number(process.env.PUMP_FUZZ_SEED ?? 1);
const STREAM = 7;
const MAX_U32 = 0xffffffff;

/** mulberry32: small, seedable, good enough to pick behaviours. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function windowFrame(stream: number, n: number): Uint8Array {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(n >>> 0);
  return encodeFrame(FrameType.WINDOW, stream, p);
}

describe.skipIf(!enabled)("relay pump fuzz (x86-64 ASan)", () => {
  let pki: Pki;
  let server: Server;
  let camera: TcpServer;
  let onLink: (s: TLSSocket) => void = () => {};
  let onCamera: (s: TcpSocket) => void = () => {};

  beforeAll(async () => {
    pki = makePki();
    server = createServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) }, (s) => onLink(s));
    server.on("tlsClientError", () => {});
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    camera = createTcpServer({ allowHalfOpen: true }, (s) => onCamera(s));
    await new Promise<void>((r) => camera.listen(0, "127.0.0.1", r));
  });

  afterAll(() => {
    server?.close();
    camera?.close();
  });

  it(`${CASES} seeded cases from seed ${SEED}: no crash, no sanitizer report, flow control and order kept`, async () => {
    const port = (x: Server | TcpServer) => (x.address() as { port: number }).port;
    const outcomes = new Map<string, number>();
    for (let c = 0; c < CASES; c++) {
      const seed = SEED + c;
      const r = rng(seed);
      const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
      const initial = pick([0, 1, Math.floor(r() * 300_000), MAX_U32]);
      const camEnd = pick(["eof", "eof", "reset", "silent"] as const);
      const linkEnd = pick(["none", "none", "reset", "end"] as const);
      const total = Math.floor(r() * pick([10, 70_000, 600_000, 3_000_000]));
      const stallLink = r() < 0.4;
      const sent = randomBytes(total);
      let cut = false;

      onCamera = (s) => {
        s.on("error", () => {});
        void (async () => {
          let off = 0;
          while (off < total && !s.destroyed) {
            const n = Math.min(total - off, 1 + Math.floor(r() * pick([100, 20_000, 200_000])));
            const ok = s.write(sent.subarray(off, off + n));
            off += n;
            if (!ok) await new Promise((d) => s.once("drain", d));
            if (r() < 0.2) await sleep(Math.floor(r() * 20));
          }
          if (camEnd === "eof") s.end();
          else if (camEnd === "reset") {
            cut = true;
            s.resetAndDestroy();
          }
        })();
      };

      const link = new Promise<{ data: Buffer; overCredit: number }>((done) => {
        onLink = (s) => {
          const dec = new FrameDecoder();
          const chunks: Buffer[] = [];
          let credit = initial;
          let overCredit = 0;
          let finished = false;
          const finish = () => {
            if (finished) return;
            finished = true;
            done({ data: Buffer.concat(chunks), overCredit });
          };
          s.on("error", () => {});
          s.on("close", finish);
          s.on("end", () => s.end());
          const grant = () => {
            if (s.destroyed) return;
            const n = pick([0, 1, Math.floor(r() * 200_000), MAX_U32]);
            credit = Math.min(credit + n, MAX_U32); // the pump saturates at 2^32-1
            s.write(windowFrame(STREAM, n));
            if (r() < 0.3) s.write(encodeFrame(FrameType.DATA, 1 + Math.floor(r() * 1000), randomBytes(Math.floor(r() * 100))));
          };
          const ticker = setInterval(() => {
            if (s.destroyed) return clearInterval(ticker);
            if (r() < 0.5) grant();
            if (stallLink && r() < 0.2) {
              s.pause();
              setTimeout(() => s.resume(), Math.floor(r() * 100));
            }
          }, 10);
          s.on("close", () => clearInterval(ticker));
          if (linkEnd !== "none") {
            setTimeout(() => {
              cut = true;
              if (linkEnd === "reset") s.destroy();
              else s.end();
            }, Math.floor(r() * 400));
          }
          s.on("data", (d: Buffer) => {
            try {
              for (const f of dec.push(new Uint8Array(d))) {
                if (f.type !== FrameType.DATA) continue;
                if (f.payload.length > credit) overCredit++;
                credit -= f.payload.length;
                chunks.push(Buffer.from(f.payload));
              }
            } catch {
              overCredit++; // a malformed frame from the probe counts as a failure too
            }
          });
          // Bound: a case never takes more than 3 s (a silent camera, credit never granted).
          setTimeout(() => {
            cut = true;
            s.destroy();
          }, 3000).unref();
        };
      });

      const probe = await startProc(process.env.PUMP_FUZZ_BIN!, [String(port(server)), pki.caFile, String(port(camera)), String(STREAM), String(initial)], {
        env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0:exitcode=86" },
      });
      const exit = await Promise.race([probe.exited, sleep(20_000).then(() => null)]);
      const text = probe.output();
      const label = `case seed=${seed} initial=${initial} camera=${camEnd} link=${linkEnd} bytes=${total} stall=${stallLink}`;
      expect(exit, `${label}: probe did not exit`).not.toBeNull();
      expect(text, label).not.toMatch(/AddressSanitizer|LeakSanitizer|runtime error|uncaught exception/);
      expect(exit!.signal, label).toBeNull();
      expect([0, 1], `${label}: exit ${exit!.code}\n${text}`).toContain(exit!.code);
      const got = await link;
      expect(got.overCredit, label).toBe(0);
      expect(got.data.equals(sent.subarray(0, got.data.length)), `${label}: not a prefix`).toBe(true);
      if (camEnd === "eof" && !cut && /^END /m.test(text)) expect(got.data.length, label).toBe(total);
      const kind = (text.match(/^(END|ERROR [a-z ]+)/m)?.[0] ?? `exit ${exit!.code}`).slice(0, 24);
      outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
      await probe.stop();
    }
    console.log(`pump fuzz outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  }, 3_600_000);
});
