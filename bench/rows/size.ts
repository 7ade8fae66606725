// Stripped static agent per CPU (bench/size.sh, owned by the native build) vs the peers' armhf
// binaries: dropbear dbclient built static from Debian's source with the same toolchain and flags
// (bench/dbclient-static.sh), and Debian's armhf ssh and dbclient (dynamic: shown alone and with
// the shared libraries they need besides libc).
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { helperPath, REPO_ROOT } from "../lib/common";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

const LIBC = /^(libc|libm|libresolv|libpthread|libdl|librt|ld-linux[^.]*)\.so/;

/** The binary plus every shared library it loads (recursively) except libc's own. */
function withLibs(root: string, bin: string): { bytes: number; libs: string[] } {
  const dirs = ["lib/arm-linux-gnueabihf", "usr/lib/arm-linux-gnueabihf"].map((d) => join(root, d));
  const seen = new Set<string>();
  let bytes = statSync(bin).size;
  const walk = (file: string) => {
    const out = execFileSync("readelf", ["-d", file], { encoding: "utf8" });
    for (const m of out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) {
      const lib = m[1];
      if (seen.has(lib) || LIBC.test(lib)) continue;
      seen.add(lib);
      const path = dirs.map((d) => join(d, lib)).find((p) => existsSync(p));
      if (!path) continue;
      bytes += statSync(path).size; // statSync follows the soname symlink
      walk(path);
    }
  };
  walk(bin);
  return { bytes, libs: [...seen] };
}

export async function sizes(o: BenchOptions): Promise<Row[]> {
  const out = execFileSync(join(REPO_ROOT, "bench/size.sh"), { encoding: "utf8" });
  const ours = new Map<string, number>();
  for (const l of out.split("\n")) {
    const m = /^(\S+)\s+(\d+)\s/.exec(l);
    if (m) ours.set(m[1], Number(m[2]));
  }
  o.log(`size.sh:\n${out.trim()}`);
  const root = helperPath("bench/armhf-peers.sh");
  // Building the static dbclient takes about a minute on 2 cores: the tiny run (make test) uses it
  // only when a full run has built it already, else Debian's dynamic armhf dbclient stands in.
  const built = join(REPO_ROOT, "build/bench/dbclient-armhf/dbclient");
  const dbStatic = o.tiny && !existsSync(built) ? null
    : helperPath("bench/dbclient-static.sh");
  const ssh = withLibs(root, join(root, "usr/bin/ssh"));
  const db = withLibs(root, join(root, "usr/bin/dbclient"));
  const peers = {
    dbclientStatic: dbStatic ? statSync(dbStatic).size : null,
    ssh: statSync(join(root, "usr/bin/ssh")).size, sshWithLibs: ssh.bytes, sshLibs: ssh.libs,
    dbclient: statSync(join(root, "usr/bin/dbclient")).size, dbclientWithLibs: db.bytes, dbclientLibs: db.libs,
  };
  const mb = (b: number | undefined, text?: string) => ({ value: b === undefined ? null : b / 1e6, unit: "MB", text: b === undefined ? "not built" : text });
  const rows: Row[] = [];
  const armhf = mb(ours.get("armhf"));
  const dbs = peers.dbclientStatic !== null ? mb(peers.dbclientStatic, "static musl -Os, no zlib") : mb(peers.dbclient, "Debian's, dynamic: static one not built in a tiny run");
  rows.push({
    id: "size-armhf", figure: "stripped static agent, armhf, with TLS", ours: armhf, peerName: "dropbear dbclient 2025.89, static armhf (built here)", peer: dbs,
    ratio: ratioOf(armhf, dbs), goal: "≤ 0.7 MB (must ≤ 1.0)", met: armhf.value !== null && armhf.value <= 0.7,
    notes: [`Debian armhf dbclient 2022.83: ${(peers.dbclient / 1e6).toFixed(3)} MB dynamic, ${(peers.dbclientWithLibs / 1e6).toFixed(2)} MB with ${peers.dbclientLibs.join(", ")}`],
    raw: { ours: Object.fromEntries(ours), peers, sizeSh: out },
  });
  const sshf = mb(peers.ssh, "dynamic");
  rows.push({
    id: "size-ssh", figure: "stripped static agent, armhf, with TLS", ours: armhf, peerName: "Debian armhf ssh (OpenSSH 9.2), binary only", peer: sshf,
    ratio: ratioOf(armhf, sshf), goal: "≤ 0.7 MB (must ≤ 1.0)", met: armhf.value !== null && armhf.value <= 0.7,
    notes: [`ssh with its non-libc shared libraries: ${(peers.sshWithLibs / 1e6).toFixed(2)} MB (${peers.sshLibs.length} libraries: ${peers.sshLibs.join(", ")})`],
    raw: {},
  });
  for (const a of ["armel", "aarch64", "mipsel"]) {
    rows.push({
      id: `size-${a}`, figure: `stripped static agent, ${a}, with TLS`, ours: mb(ours.get(a)), peerName: "—", peer: null, ratio: null,
      goal: "report (armhf goal ≤ 0.7 MB)", met: null, notes: [], raw: {},
    });
  }
  return rows;
}
