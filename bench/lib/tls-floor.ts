// The floor under any Node streamer's reconnect cost: a TLS server that does nothing but the
// handshake (then closes), same certificate and TLS version as the streamer, its process CPU per
// connection over `n` sequential connections, full handshakes vs resumed ones. The streamer's own
// figures can be no better than this ratio: whatever Node spends on a TLS connection besides the
// key exchange and the certificate (socket, TLSSocket, streams, kernel TCP) is paid either way.
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { startProc } from "../../testkit/procs";
import type { Pki } from "../../testkit/system";
import { cpuSeconds } from "./common";

const SERVER = `
const tls = require("node:tls"), fs = require("node:fs");
const [key, cert] = process.argv.slice(1);
const srv = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert), minVersion: "TLSv1.2" },
  (s) => { s.on("error", () => {}); s.end(); });
srv.listen(0, "127.0.0.1", () => console.log("PORT " + srv.address().port));
`;

export interface FloorResult { fullMsPerConn: number; resumedMsPerConn: number; resumed: number; n: number }

export async function tlsFloor(pki: Pki, n: number, maxVersion: "TLSv1.2" | "TLSv1.3"): Promise<FloorResult> {
  const srv = await startProc(process.execPath, ["-e", SERVER, pki.keyFile, pki.certFile], { ready: /^PORT (\d+)/, name: "tls-floor" });
  const port = Number(srv.ready![1]);
  const ctx = tls.createSecureContext({ ca: readFileSync(pki.caFile), minVersion: "TLSv1.2", maxVersion });
  let session: Buffer | undefined;
  let reused = 0;
  const once = (resume: boolean) => new Promise<void>((done) => {
    const s = tls.connect({ host: "127.0.0.1", port, secureContext: ctx, servername: "localhost", session: resume ? session : undefined });
    s.on("session", (x: Buffer) => (session = x));
    s.on("secureConnect", () => void (s.isSessionReused() && reused++));
    s.on("data", () => {});
    s.on("error", () => done());
    s.on("close", () => done());
  });
  const run = async (resume: boolean) => {
    for (let i = 0; i < 20; i++) await once(resume); // warm-up, and a session to resume
    reused = 0;
    const c0 = cpuSeconds(srv.pid);
    for (let i = 0; i < n; i++) await once(resume);
    return ((cpuSeconds(srv.pid) - c0) * 1000) / n;
  };
  try {
    const fullMsPerConn = await run(false);
    const resumedMsPerConn = await run(true);
    return { fullMsPerConn, resumedMsPerConn, resumed: reused, n };
  } finally {
    await srv.stop();
  }
}
