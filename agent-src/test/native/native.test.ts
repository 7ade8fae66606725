// The static QuickJS binaries on each camera CPU, under qemu-user: --version, TLS verification
// (CA, SPKI pins, names) against a Node TLS server on 127.0.0.1 with a CA made here, sockets,
// random bytes, atomic writes, and the old-kernel launcher (seccomp: ENOSYS for post-3.10 calls).
// Binaries come from `make test-native` (mk/native.mk).
import { execFileSync, spawn } from "node:child_process";
import { constants as cryptoConstants, createHash, createPublicKey, randomBytes } from "node:crypto";
import { closeSync, constants as fsConstants, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, connect as netConnect, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProc } from "../../../testkit/procs";

const ROOT = resolve(__dirname, "../../..");
const BUILD = join(ROOT, "build");
const LAUNCHER = join(BUILD, "host/old-kernel-launcher");
const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;

const ARCHES: Record<string, string[]> = {
  armhf: ["qemu-arm-static"],
  armel: ["qemu-arm-static", "-cpu", "arm926"],
  aarch64: ["qemu-aarch64-static"],
  mipsel: ["qemu-mipsel-static"],
};
// Run by `make test-native` (which builds the binaries first); skipped inside the generic
// `vitest run agent-src/test` of test-core, where the cross-built binaries may not exist.
const enabled = process.env.NATIVE_TESTS === "1";
const only = process.env.NATIVE_ARCHES?.split(",").filter(Boolean);
const arches = Object.keys(ARCHES).filter((a) => !only || only.includes(a));

// Guest system calls added after Linux 3.10 (any ABI), except those musl 1.2 tries first and falls
// back from on ENOSYS: the *_time64 family and statx (fstat on 32-bit CPUs). qemu forwards statx to
// the host's statx, so the launcher runs below do exercise that fallback.
const POST_3_10 = ("sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create kexec_file_load bpf " +
  "execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free " +
  "io_pgetevents rseq pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree " +
  "move_mount fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2 " +
  "process_madvise epoll_pwait2 mount_setattr landlock_create_ruleset futex_waitv memfd_secret").split(" ");

let dir: string;
const pem: Record<string, string> = {};
let ecPort = 0;
let rsaPort = 0;
let tcpPort = 0;
let silentPort = 0;
let futurePort = 0;
let rotatingPort = 0;
const servers: (TlsServer | NetServer)[] = [];

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A CA and a server certificate (127.0.0.1 / localhost) signed by it, made with the openssl CLI. */
function makePki(): void {
  const ext = join(dir, "san.ext");
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n");
  for (const ca of ["ca", "wrongca"]) {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "2", "-subj", `/CN=${ca} test`);
  }
  const leaf = (name: string, keyArgs: string[]) => {
    openssl("req", "-newkey", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=127.0.0.1");
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
      "-out", `${name}.pem`, "-days", "2", "-extfile", ext);
  };
  leaf("ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  leaf("rsa", ["rsa:2048"]);
  // Valid only from tomorrow: `openssl ca` is the CLI that can set notBefore.
  const ymd = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(join(dir, "ca.cnf"), "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n" +
    "certificate=ca.pem\nprivate_key=ca.key\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n");
  openssl("ca", "-batch", "-config", "ca.cnf", "-notext", "-in", "ec.csr", "-out", "future.pem", "-extfile", ext,
    "-startdate", ymd(new Date(Date.now() + 86_400_000)), "-enddate", ymd(new Date(Date.now() + 3 * 86_400_000)));
  writeFileSync(join(dir, "future.key"), readFileSync(join(dir, "ec.key")));
  for (const f of ["ca", "wrongca", "ec", "rsa", "future"]) pem[f] = readFileSync(join(dir, `${f}.pem`), "utf8");
}

function spkiPin(certPem: string): string {
  const der = createPublicKey(certPem).export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

/** TLS echo server: sends back what it receives, closes when the client ends. */
async function tlsEcho(name: string, rotateTickets = false): Promise<number> {
  // The RSA server also sends the CA certificate (a chain), the EC one only its leaf.
  const cert = name === "rsa" ? pem.rsa + pem.ca : pem[name];
  // The server prefers ChaCha20 only for clients that list it first (OpenSSL's PRIORITIZE_CHACHA, what
  // the streamer should set): the agent does, as camera CPUs lack AES instructions.
  const srv = createTlsServer({
    key: readFileSync(join(dir, `${name}.key`)), cert, honorCipherOrder: true,
    secureOptions: cryptoConstants.SSL_OP_PRIORITIZE_CHACHA,
  }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
    // A server that can never resume: every ticket it issued is void by the next connection.
    if (rotateTickets) srv.setTicketKeys(randomBytes(48));
  });
  srv.on("tlsClientError", () => {});
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return (srv.address() as { port: number }).port;
}

async function tcpEcho(): Promise<number> {
  const srv = createNetServer((s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return (srv.address() as { port: number }).port;
}

beforeAll(async () => {
  if (!enabled) return;
  dir = mkdtempSync(join(tmpdir(), "native-test-"));
  makePki();
  ecPort = await tlsEcho("ec");
  rsaPort = await tlsEcho("rsa");
  futurePort = await tlsEcho("future");
  rotatingPort = await tlsEcho("ec", true);
  tcpPort = await tcpEcho();
  // Accepts TCP and never says a word: a TLS handshake to it must end by the connect deadline.
  const silent = createNetServer((s) => s.on("error", () => {}));
  servers.push(silent);
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(() => {
  for (const s of servers) s.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// readFile's fstat failure path, on the host: agent-src/test/native/read-file-unit.c says why.
describe.skipIf(!enabled)("host unit: readFile", () => {
  it("a failed fstat is reported with its errno, never read as a size; the file is closed", async () => {
    const r = await execa(join(BUILD, "host/read-file-unit"), [], { reject: false, timeout: 30_000 });
    expect(String(r.stdout)).not.toMatch(/^not ok/m);
    expect(String(r.stdout)).toMatch(/^ok a failed fstat is reported with its errno/m);
    expect(r.exitCode).toBe(0);
  });
});

type Run = (bin: string, args: string[], opts?: { oldKernel?: boolean }) => Promise<{ code: number | undefined; out: string; err: string }>;

/** TLS verification and resumption of a probe (every camera CPU; the host build on mbedTLS 2.28). */
function tlsCases(run: Run, probe: string): void {
  const tls = (port: number, ca: string, pin: string, name?: string) =>
    run(probe, ["tls", "127.0.0.1", String(port), ca === "-" ? "-" : join(dir, `${ca}.pem`), pin, ...(name ? [name] : [])]);

  it("TLS: the pinned test CA is accepted (ECDSA and RSA server keys); ChaCha20 preferred", async () => {
    const ec = await tls(ecPort, "ca", "-");
    expect(ec.out).toMatch(/^OK tls echo="ping\\n"/);
    expect(ec.out).toContain("TLSv1.2 TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");
    expect(ec.code).toBe(0);
    const rsa = await tls(rsaPort, "ca", "-");
    expect(rsa.out).toMatch(/^OK tls/);
  });

  it("TLS: a reconnect resumes the session (ticket); where the ticket is void, a full verified handshake", async () => {
    const again = (port: number) => run(probe, ["tls-again", "127.0.0.1", String(port), join(dir, "ca.pem"), "-", "-", "3"]);
    const r = await again(ecPort);
    expect(r.code).toBe(0);
    const infos = r.out.replace(/^OK /, "").trim().split(";");
    expect(infos[0]).toContain("TLSv1.2");
    expect(infos[0]).not.toContain("resumed");
    expect(infos.slice(1).every((i) => i.endsWith(" resumed"))).toBe(true);
    const full = await again(rotatingPort);
    expect(full.code).toBe(0);
    expect(full.out).not.toContain("resumed");
  });

  it("TLS: a server from another CA is refused", async () => {
    const r = await tls(ecPort, "wrongca", "-");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ERR .*not trusted/);
  });

  it("TLS: a certificate not yet valid is refused while the clock is set (leniency only for an unset clock)", async () => {
    const r = await tls(futurePort, "ca", "-");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ERR .*not yet valid/);
  });

  it("TLS: a certificate for another name or address is refused", async () => {
    const r = await tls(ecPort, "ca", "-", "camera.example");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ERR .*name mismatch/);
    // An address is matched against the certificate's IP entries (mbedTLS 2.x only knows DNS names).
    const ip = await tls(ecPort, "ca", "-", "127.0.0.2");
    expect(ip.code).toBe(1);
    expect(ip.out).toMatch(/^ERR .*name mismatch/);
  });

  it("TLS: SPKI pins of the leaf or of a CA in the chain are accepted without a CA file", async () => {
    const leaf = await tls(ecPort, "-", spkiPin(pem.ec));
    expect(leaf.out).toMatch(/^OK tls/);
    // The RSA server sends leaf + CA: the pinned CA acts as trust anchor (pin list with a decoy).
    const ca = await tls(rsaPort, "-", `${spkiPin(pem.wrongca)},${spkiPin(pem.ca)}`);
    expect(ca.out).toMatch(/^OK tls/);
  });

  it("TLS: a wrong SPKI pin is refused, with or without a valid CA", async () => {
    const noCa = await tls(ecPort, "-", spkiPin(pem.wrongca));
    expect(noCa.out).toMatch(/^ERR .*SPKI/);
    const withCa = await tls(ecPort, "ca", spkiPin(pem.rsa));
    expect(withCa.out).toMatch(/^ERR .*SPKI/);
  });

  it("TLS: a server that never answers the handshake fails at the connect deadline", async () => {
    const t0 = Date.now();
    const r = await run(probe, ["tls", "127.0.0.1", String(silentPort), join(dir, "ca.pem"), "-", "-", "1500"]);
    expect(r.out).toMatch(/^ERR .*timed out after 1500 ms/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
}

describe.skipIf(!enabled).each(arches)("%s", (arch) => {
  const qemu = ARCHES[arch];
  const agent = join(BUILD, "agent", arch, "flussonic-agent");
  const probe = join(BUILD, "native-test", arch, "probe");

  async function run(bin: string, args: string[], opts: { oldKernel?: boolean } = {}) {
    const cmd = opts.oldKernel ? [LAUNCHER, ...qemu, bin, ...args] : [...qemu, bin, ...args];
    const r = await execa(cmd[0], cmd.slice(1), { reject: false, timeout: 30_000, cwd: dir });
    return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
  }
  const tls = (port: number, ca: string, pin: string, name?: string, o?: { oldKernel?: boolean }) =>
    run(probe, ["tls", "127.0.0.1", String(port), ca === "-" ? "-" : join(dir, `${ca}.pem`), pin, ...(name ? [name] : [])], o);

  it("--version names the agent, QuickJS, the TLS library and the target", async () => {
    const r = await run(agent, ["--version"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`flussonic-agent ${version}`);
    expect(r.out).toMatch(/QuickJS 2025-04-26/);
    expect(r.out).toMatch(/mbedTLS 3\.6\.6/);
    expect(r.out).toContain(`linux-${arch}`);
  });

  it("an invalid config: one line naming the field, exit 2; --syslog moves it off stderr", async () => {
    const cfg = join(dir, `bad-${arch}.json`);
    writeFileSync(cfg, JSON.stringify({ endpoints: ["no-port-here"], ca_file: join(dir, "ca.pem"),
      activation_token_file: "/nonexistent", state_file: join(dir, "s.json"), targets: { rtsp: "127.0.0.1:554" } }));
    const r = await run(agent, ["--config", cfg]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/endpoints/);
    const s = await run(agent, ["--syslog", "--config", cfg]);
    expect(s.code).toBe(2);
    expect(s.err).toBe("");
  });

  it("the agent binary has no listen capability (only TEST_SERVER builds do)", () => {
    expect(readFileSync(agent).includes("listenTcp")).toBe(false);
    expect(readFileSync(probe).includes("listenTcp")).toBe(true);
  });

  tlsCases(run, probe);

  it("plain TCP echo through the platform socket; a name goes through the resolver thread", async () => {
    const r = await run(probe, ["tcp", "127.0.0.1", String(tcpPort)]);
    expect(r.out).toMatch(/^OK tcp echo="ping\\n"/);
    const named = await run(probe, ["tcp", "localhost", String(tcpPort)]);
    expect(named.out).toMatch(/^OK tcp echo="ping\\n"/);
    const closed = createNetServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const refused = await run(probe, ["tcp", "127.0.0.1", String(closedPort)]);
    expect(refused.code).toBe(1);
    // qemu-mipsel hands SO_ERROR through untranslated (x86 errno 111 means nothing on MIPS), so the
    // text is only checked where the emulator keeps errno numbers.
    expect(refused.out).toMatch(arch === "mipsel" ? /^ERR connect to 127\.0\.0\.1:\d+: / : /^ERR connect to .*refused/);
  });

  it("no descriptor numbered 128 or above reaches the select() loop: dials past it fail with EMFILE, the process lives", async () => {
    // silentPort accepts and holds every connection; 200 dials at once would need ~400 descriptors.
    const r = await run(probe, ["hold-sockets", "127.0.0.1", String(silentPort), "200"]);
    const m = /^OK connected=(\d+) failed=(\d+) error=(.*)$/m.exec(r.out);
    expect(m, r.out + r.err).not.toBeNull();
    const [connected, failed] = [Number(m![1]), Number(m![2])];
    expect(connected + failed).toBe(200);
    expect(connected).toBeGreaterThan(32); // the stream cap fits well below the descriptor cap
    expect(connected).toBeLessThan(128);
    expect(m![3]).toMatch(/file descriptors|open files/i); // EMFILE (musl's text: "No file descriptors available")
  });

  it("TEST_SERVER build listens on 127.0.0.1 and echoes", async () => {
    const p = await startProc(qemu[0], [...qemu.slice(1), probe, "echo-server"], { ready: /PORT (\d+)/, timeoutMs: 15_000 });
    try {
      const port = Number(p.ready![1]);
      const got = await new Promise<string>((res, rej) => {
        const s = netConnect(port, "127.0.0.1", () => s.end("hello camera"));
        let buf = "";
        s.on("data", (d) => (buf += d));
        s.on("end", () => res(buf));
        s.on("error", rej);
        s.setTimeout(10_000, () => rej(new Error("timeout")));
      });
      expect(got).toBe("hello camera");
    } finally {
      await p.stop();
    }
  });

  it("an exception thrown in an event-loop callback is logged and exits 1 (for the supervisor)", async () => {
    const r = await run(probe, ["crash"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error uncaught exception: boom in a timer/);
  });

  it("a blocked stderr (a full pipe nobody reads) drops log lines, counted, instead of stopping the event loop", async () => {
    // On a camera stderr is often the serial console: XOFF or a wedged UART must not freeze the relay.
    const fifo = join(dir, `log-${arch}.fifo`);
    execFileSync("mkfifo", [fifo]);
    const rfd = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const wfd = openSync(fifo, fsConstants.O_WRONLY);
    const drain = () => {
      const b = Buffer.alloc(1 << 16);
      let text = "";
      for (let i = 0; i < 1000; i++) {
        let n = 0;
        try {
          n = readSync(rfd, b);
        } catch {
          break; // EAGAIN: drained
        }
        if (n <= 0) break;
        text += b.toString("latin1", 0, n);
      }
      return text;
    };
    const child = spawn(qemu[0], [...qemu.slice(1), probe, "log-flood", "5000"], { stdio: ["ignore", "pipe", wfd], cwd: dir });
    closeSync(wfd);
    const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      let out = "";
      let first = "";
      child.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("FLOODED") && !first) first = drain(); // the pipe was full: empty it now
      });
      const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
      const rest = drain();
      expect(out).toContain("FLOODED");
      expect(out).toContain("OK logged 5001 lines");
      expect(code).toBe(0);
      expect(first).toMatch(/^info flood line 0 x+\n/);
      expect(first.length).toBeLessThan(400_000); // not all 5000 lines got through a 64 KB pipe
      const m = /warn (\d+) log lines dropped \(log output blocked\)\n(?:[^\n]*\n)?warn after the drain\n$/.exec(rest);
      expect(m, JSON.stringify(rest.slice(-300))).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(0);
    } finally {
      clearTimeout(kill);
      closeSync(rfd);
    }
  }, 60_000);

  it("syslog: RFC 3164 lines to /dev/log; a syslogd that does not read costs dropped lines, counted, not a stopped event loop", async () => {
    // /dev/log is the receiver's socket, bound into a private mount namespace's /dev (root only).
    // The new /dev's mount point is made in the test's folder (cwd): it outlives the namespace.
    const sock = join(dir, `syslog-${arch}.sock`);
    const recv = spawn("perl", [join(__dirname, "syslog-receiver.pl"), sock], { stdio: ["ignore", "pipe", "inherit"] });
    const recvClosed = new Promise((r) => recv.on("close", r));
    let got = "";
    recv.stdout!.on("data", (d) => (got += d));
    const nsDev = 'set -e; mount --make-rprivate /; d=$(mktemp -d "$PWD/dev.XXXXXX"); mount -t tmpfs tmpfs "$d"; ' +
      'for n in null zero random urandom; do touch "$d/$n"; mount --bind "/dev/$n" "$d/$n"; done; ' +
      'touch "$d/log"; mount --bind "$0" "$d/log"; mount --rbind "$d" /dev; exec "$@"';
    const kill = setTimeout(() => recv.kill("SIGKILL"), 40_000);
    try {
      for (let i = 0; i < 100 && !got.includes("READY"); i++) await new Promise((r) => setTimeout(r, 50));
      const child = spawn("unshare", ["-m", "sh", "-c", nsDev, sock, ...qemu, probe, "log-flood", "3000", "syslog"], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
      const probeKill = setTimeout(() => child.kill("SIGKILL"), 30_000);
      let out = "";
      child.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("FLOODED")) recv.kill("SIGUSR1"); // start reading now
      });
      let err = "";
      child.stderr!.on("data", (d) => (err += d));
      const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
      clearTimeout(probeKill);
      await recvClosed;
      expect(err).toBe(""); // nothing on stderr: it all went to syslog
      expect(out).toContain("OK logged 3001 lines");
      expect(code).toBe(0);
      const lines = got.split("\n").filter((l) => l.startsWith("<"));
      // daemon.info = 3*8+6 = <30>; the ident is the agent's, with the pid.
      expect(lines[0]).toMatch(/^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d flussonic-agent\[\d+\]: flood line 0 x+$/);
      expect(lines.length).toBeLessThan(3001); // the queue was full: some were dropped
      expect(lines.at(-1)).toMatch(/^<28>.*flussonic-agent\[\d+\]: \d+ log lines dropped \(syslog blocked\); after the drain$/);
    } finally {
      clearTimeout(kill);
      recv.kill("SIGKILL");
    }
  }, 60_000);

  it("random bytes from /dev/urandom differ between runs", async () => {
    const a = await run(probe, ["random", "32"]);
    const b = await run(probe, ["random", "32"]);
    expect(a.out).toMatch(/^OK [0-9a-f]{64}$/);
    expect(b.out).toMatch(/^OK [0-9a-f]{64}$/);
    expect(a.out).not.toBe(b.out);
  });

  it("atomic write replaces the file, creates its directory, leaves no temporary behind", async () => {
    const sub = mkdtempSync(join(dir, `atomic-${arch}-`));
    const path = join(sub, "state.json");
    writeFileSync(path, "old");
    writeFileSync(join(sub, ".state.json.tmp"), "stale temp of a writer killed mid-write");
    const r = await run(probe, ["write", path, '{"token":"new"}']);
    expect(r.out).toMatch(/^OK wrote/);
    expect(readFileSync(path, "utf8")).toBe('{"token":"new"}');
    expect(readdirSync(sub)).toEqual(["state.json"]);
    const fresh = join(sub, "new", "deeper", "state.json");
    expect((await run(probe, ["write", fresh, "first boot"])).out).toMatch(/^OK wrote/);
    expect(readFileSync(fresh, "utf8")).toBe("first boot");
    expect(statSync(join(sub, "new")).mode & 0o777).toBe(0o700);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });

  describe("old kernel (seccomp: ENOSYS for syscalls after Linux 3.10)", () => {
    it("the filter bites: a direct getrandom(2) sees ENOSYS", async () => {
      const gr = join(BUILD, "native-test", arch, "getrandom-probe");
      expect((await run(gr, [])).out.trim()).toBe("getrandom: 8 bytes");
      const r = await run(gr, [], { oldKernel: true });
      expect(r.out.trim()).toBe("getrandom: ENOSYS");
    });

    it("guest view (qemu -strace): no system call newer than 3.10 without a fallback", async () => {
      // qemu emulates some guest calls without a host twin, so also look at what the binary asks for.
      const r = await execa(qemu[0], [...qemu.slice(1), "-strace", probe, "tls", "127.0.0.1", String(ecPort),
        join(dir, "ca.pem"), spkiPin(pem.ec)], { reject: false, timeout: 30_000, all: true });
      expect(String(r.stdout)).toMatch(/OK tls/);
      const names = new Set([...String(r.all).matchAll(/^\d+ ([a-z_0-9]+)\(/gm)].map((m) => m[1]));
      expect(names.size).toBeGreaterThan(5);
      const newer = [...names].filter((n) => POST_3_10.includes(n));
      expect(newer).toEqual([]);
    });

    it("the agent and TLS with pin + CA still work", async () => {
      const v = await run(agent, ["--version"], { oldKernel: true });
      expect(v.code).toBe(0);
      expect(v.out).toContain(`flussonic-agent ${version}`);
      const t = await tls(ecPort, "ca", spkiPin(pem.ec), undefined, { oldKernel: true });
      expect(t.out).toMatch(/^OK tls/);
      const rnd = await run(probe, ["random", "16"], { oldKernel: true });
      expect(rnd.out).toMatch(/^OK [0-9a-f]{32}$/);
    });
  });
});

// tls.c compiled against mbedTLS 2.28 (Debian 12's libmbedtls-dev, the major version OpenIPC firmware
// ships): the same probe built for this machine (mk/native.mk), the same TLS cases, run natively.
describe.skipIf(!enabled)("x86_64 probe on the system mbedTLS 2.28", () => {
  const probe = join(BUILD, "native-test", "x86_64-mbedtls2", "probe");
  const run: Run = async (bin, args) => {
    const r = await execa(bin, args, { reject: false, timeout: 30_000, cwd: dir });
    return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
  };

  it("is linked against mbedTLS 2.x", () => {
    expect(readFileSync(probe).includes("mbedTLS 2.28.")).toBe(true);
    expect(execFileSync("ldd", [probe], { encoding: "utf8" })).toMatch(/libmbedtls\.so/);
  });

  tlsCases(run, probe);
});
