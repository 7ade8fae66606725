/**
 * Test PKI for the emulated cameras, made once with openssl and cached in .cache/qemu-pki so the
 * images (which carry the CA) stay byte-identical across runs. The server certificate names
 * 10.0.2.100 (the host as the guest sees it through guestfwd) and 127.0.0.1.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./paths.js";

export interface QemuPki {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  caPem: string;
}

export function qemuPki(): QemuPki {
  const dir = join(REPO, ".cache/qemu-pki");
  if (!existsSync(join(dir, "server.pem"))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const o = (args: string[]) => execFileSync("openssl", args, { cwd: tmp, stdio: ["ignore", "ignore", "pipe"] });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    o(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=flussonic qemu test CA"]);
    o(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=streamer"]);
    writeFileSync(join(tmp, "ext.cnf"), "subjectAltName=IP:10.0.2.100,IP:127.0.0.1,DNS:localhost\n");
    o(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "3650", "-extfile", "ext.cnf"]);
    mkdirSync(join(REPO, ".cache"), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.key"),
    caPem: readFileSync(join(dir, "ca.pem"), "utf8"),
  };
}
