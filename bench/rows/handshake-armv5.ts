// How long the camera agent's first (full) TLS handshake takes on ARMv5: the armel probe (the
// agent's own platform/quickjs.ts + tls.c + mbedTLS build) under `qemu-arm -cpu arm926`, against a
// Node TLS 1.2 server on 127.0.0.1 without tickets, so every connection is a full handshake. Each
// figure is the median time from TCP connect to a verified session (probe handshake-ms).
// Variants, interleaved: the defaults (ECDSA P-256 certificate; the agent offers P-256 first), the
// server forcing X25519 (what mbedTLS's default group order negotiated before the agent set its
// own), an RSA-2048 certificate from an RSA CA, and a resumed session (tickets on).
// BENCH_ARMEL_PROBE_BEFORE=<probe binary of an older build> adds that binary's figure in the same run.
import { constants } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import * as tls from "node:tls";
import { tempDir } from "../../testkit/procs";
import { makePki } from "../../testkit/system";
import { REPO_ROOT, median } from "../lib/common";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

const QEMU = ["qemu-arm-static", "-cpu", "arm926"];
const PROBE = join(REPO_ROOT, "build/native-test/armel/probe");

/** An RSA-2048 CA and server certificate for 127.0.0.1/localhost. */
function rsaPki(): { caFile: string; keyFile: string; certFile: string } {
  const dir = tempDir("fa-rsa-pki-");
  const o = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const rsa = ["-newkey", "rsa:2048", "-nodes"];
  o(["req", "-x509", ...rsa, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench RSA CA"]);
  o(["req", ...rsa, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  o(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
  return { caFile: join(dir, "ca.pem"), keyFile: join(dir, "server.key"), certFile: join(dir, "server.pem") };
}

function server(keyFile: string, certFile: string, ecdhCurve: string, tickets: boolean): Promise<{ port: number; close: () => void }> {
  const srv = tls.createServer({
    key: readFileSync(keyFile), cert: readFileSync(certFile), ecdhCurve, maxVersion: "TLSv1.2",
    secureOptions: tickets ? 0 : constants.SSL_OP_NO_TICKET,
  }, (s) => {
    s.on("error", () => {});
    s.resume();
    s.on("end", () => s.end());
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () =>
    resolve({ port: (srv.address() as { port: number }).port, close: () => srv.close() })));
}

/** Handshake times (ms) of `n` connections by one probe process; resumed ones marked. Async: the
 * servers run in this process. */
async function probe(bin: string, port: number, caFile: string, n: number): Promise<{ ms: number; resumed: boolean }[]> {
  const out = (await promisify(execFile)(QEMU[0], [...QEMU.slice(1), bin, "handshake-ms", "127.0.0.1", String(port), caFile, String(n)],
    { encoding: "utf8", timeout: 60_000 })).stdout.trim();
  if (!out.startsWith("OK ")) throw new Error(`probe: ${out}`);
  return out.slice(3).split(",").map((x) => ({ ms: Number.parseFloat(x), resumed: x.endsWith(" r") }));
}

export async function armv5Handshake(o: BenchOptions): Promise<Row[]> {
  const ec = makePki();
  const rsa = rsaPki();
  const before = process.env.BENCH_ARMEL_PROBE_BEFORE;
  const srv = {
    defaults: await server(ec.keyFile, ec.certFile, "auto", false),
    x25519: await server(ec.keyFile, ec.certFile, "X25519", false),
    rsa: await server(rsa.keyFile, rsa.certFile, "auto", false),
    tickets: await server(ec.keyFile, ec.certFile, "auto", true),
  };
  const times: Record<string, number[]> = { defaults: [], x25519: [], rsa: [], resumed: [], before: [] };
  const rounds = o.tiny ? 1 : 5, per = o.tiny ? 2 : 4;
  try {
    for (let r = 0; r < rounds; r++) {
      // Every process's first connection also pays for loading the CA and warming up: dropped.
      times.defaults.push(...(await probe(PROBE, srv.defaults.port, ec.caFile, per + 1)).slice(1).map((x) => x.ms));
      times.x25519.push(...(await probe(PROBE, srv.x25519.port, ec.caFile, per + 1)).slice(1).map((x) => x.ms));
      times.rsa.push(...(await probe(PROBE, srv.rsa.port, rsa.caFile, per + 1)).slice(1).map((x) => x.ms));
      times.resumed.push(...(await probe(PROBE, srv.tickets.port, ec.caFile, per + 1)).filter((x) => x.resumed).map((x) => x.ms));
      if (before) times.before.push(...(await probe(before, srv.defaults.port, ec.caFile, per + 1)).slice(1).map((x) => x.ms));
    }
  } finally {
    for (const s of Object.values(srv)) s.close();
  }
  o.log(`armv5-handshake: ${JSON.stringify(times)}`);
  const fig = (xs: number[]) => ({ value: xs.length ? median(xs) : null, unit: "ms", text: xs.length ? undefined : "not measured" });
  const ours = fig(times.defaults);
  const notes = [
    `median of ${times.defaults.length} full handshakes each (TCP connect + TLS 1.2 + chain verification), under qemu-arm -cpu arm926 on the bench machine: only ratios carry over to a real ARM926`,
    `RSA-2048 certificate and CA: ${fig(times.rsa).value?.toFixed(1)} ms; resumed session (ticket): ${fig(times.resumed).value?.toFixed(1)} ms (${times.resumed.length} resumed)`,
  ];
  const rows: Row[] = [{
    id: "armv5-handshake", figure: "ARMv5 (ARM926 under qemu-arm) full TLS handshake, ECDSA P-256 certificate, key exchange the agent picks (P-256)",
    ours, peerName: "same binary, server forcing X25519 (mbedTLS's default order, before)", peer: fig(times.x25519),
    ratio: ratioOf(ours, fig(times.x25519)), goal: "report", met: null, notes, raw: times,
  }];
  if (before) {
    const b = fig(times.before);
    rows.push({
      id: "armv5-handshake-before", figure: "ARMv5 full TLS handshake, this build vs BENCH_ARMEL_PROBE_BEFORE (same server, defaults)",
      ours, peerName: `older build (${before})`, peer: b, ratio: ratioOf(ours, b), goal: "report", met: null, notes: [], raw: {},
    });
  }
  return rows;
}
