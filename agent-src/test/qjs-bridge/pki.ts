// A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI at test time
// (P-256: fast to generate, and what the camera's TLS library handles cheaply).
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

export interface TestPki {
  caFile: string;
  certFile: string;
  keyFile: string;
  caPem: string;
}

const run = promisify(execFile);
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export async function makePki(dir: string): Promise<TestPki> {
  const f = (name: string) => join(dir, name);
  const openssl = (args: string[]) => run("openssl", args, { timeout: 15_000 });
  await openssl(["req", "-x509", ...EC, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=qjs-bridge test CA"]);
  await openssl(["req", ...EC, "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=localhost"]);
  writeFileSync(f("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  await openssl([
    "x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
    "-out", f("server.pem"), "-days", "2", "-extfile", f("server.ext"),
  ]);
  return { caFile: f("ca.pem"), certFile: f("server.pem"), keyFile: f("server.key"), caPem: readFileSync(f("ca.pem"), "utf8") };
}
