/**
 * Test probe for the static runtime: drives platform/quickjs.ts from the command line so the
 * tests can check TLS verification, sockets, random bytes and atomic writes on each CPU.
 * Prints one result line ("OK ..." / "ERR ...") and exits 0 / 1.
 *   probe tls HOST PORT CAFILE|- PIN|- [SERVERNAME|- [TIMEOUT_MS]]   TLS connect, send "ping\n", expect echo
 *   probe tls-again HOST PORT CAFILE|- PIN|- SERVERNAME|- N   N TLS echo connections one after the
 *                                                    other (resumption); prints each one's TLS info
 *   probe handshake-ms HOST PORT CAFILE N            N TLS connections one after the other, each
 *                                                    closed once up: "OK ms,ms,..." (TCP connect +
 *                                                    handshake + verification; " r" marks resumed)
 *   probe tcp HOST PORT                              plain TCP echo
 *   probe random N                                   N random bytes as hex
 *   probe write PATH TEXT                            writeFileAtomic then readFile
 *   probe echo-server                                (TEST_SERVER build) echo on 127.0.0.1:0, prints port
 *   probe hold-sockets HOST PORT N                   N TCP dials at once, all held open; prints how
 *                                                    many connected and the first error
 *   probe crash                                      a timer callback throws: must exit 1, logged
 *   probe log-flood N [syslog]                       logs N lines at once (to stderr or syslog),
 *                                                    prints "FLOODED", logs one more 2 s later
 */
import { createQuickJsPlatform, exitNow, listenTcpForTests, programArgs, writeStdoutLine } from "../../src/platform/quickjs";
import type { Socket } from "../../src/platform/platform";

const p = createQuickJsPlatform();
const args = programArgs();
const te = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const td = (b: Uint8Array) => String.fromCharCode(...b);
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

function done(ok: boolean, msg: string): void {
  writeStdoutLine(`${ok ? "OK" : "ERR"} ${msg}`);
  exitNow(ok ? 0 : 1);
}

function echoRoundTrip(sock: Socket, label: string): void {
  let got = "";
  sock.onData = (d) => {
    got += td(d);
    if (got.endsWith("\n")) {
      sock.end();
    }
  };
  sock.onEnd = () => {};
  const info = (sock as { info?: string }).info ?? "?";
  sock.onClose = (err) => (err ? done(false, err) : done(got === "ping\n", `${label} echo=${JSON.stringify(got)} ${info}`));
  sock.write(te("ping\n"));
}

function readText(path: string): string | undefined {
  const b = p.readFile(path);
  return b ? td(b) : undefined;
}

const [cmd, ...rest] = args;
const guard = p.setTimer(20000, () => done(false, "probe timed out"));
if (cmd === "tls") {
  const [host, port, ca, pin, name, timeout] = rest;
  p.connectTls(host, Number(port), {
    caPem: ca && ca !== "-" ? readText(ca) : undefined,
    spkiSha256: pin && pin !== "-" ? pin.split(",") : undefined,
    serverName: name && name !== "-" ? name : undefined,
  }, Number(timeout ?? 10000), (err, sock) => (err || !sock ? done(false, err ?? "no socket") : echoRoundTrip(sock, "tls")));
} else if (cmd === "tls-again") {
  const [host, port, ca, pin, name, count] = rest;
  const infos: string[] = [];
  const once = () => p.connectTls(host, Number(port), {
    caPem: ca !== "-" ? readText(ca) : undefined,
    spkiSha256: pin !== "-" ? pin.split(",") : undefined,
    serverName: name !== "-" ? name : undefined,
  }, 10000, (err, sock) => {
    if (err || !sock) return done(false, `connection ${infos.length + 1}: ${err}`);
    let got = "";
    sock.onData = (d) => {
      got += td(d);
      if (got.endsWith("\n")) sock.end();
    };
    sock.onEnd = () => {};
    sock.onClose = (e) => {
      if (e || got !== "ping\n") return done(false, `connection ${infos.length + 1}: ${e ?? got}`);
      infos.push((sock as { info?: string }).info ?? "?");
      if (infos.length < Number(count)) once();
      else done(true, infos.join(";"));
    };
    sock.write(te("ping\n"));
  });
  once();
} else if (cmd === "handshake-ms") {
  const [host, port, ca, count] = rest;
  const caPem = readText(ca);
  const times: string[] = [];
  const once = () => {
    const t0 = p.now();
    p.connectTls(host, Number(port), { caPem, serverName: "localhost" }, 10000, (err, sock) => {
      if (err || !sock) return done(false, `connection ${times.length + 1}: ${err}`);
      const ms = p.now() - t0;
      times.push(`${ms.toFixed(1)}${((sock as { info?: string }).info ?? "").endsWith(" resumed") ? " r" : ""}`);
      sock.onData = () => {};
      sock.onEnd = () => {};
      sock.onClose = () => (times.length < Number(count) ? once() : done(true, times.join(",")));
      sock.end();
    });
  };
  once();
} else if (cmd === "tcp") {
  p.connectTcp(rest[0], Number(rest[1]), 10000, (err, sock) =>
    err || !sock ? done(false, err ?? "no socket") : echoRoundTrip(sock, "tcp"));
} else if (cmd === "random") {
  const a = p.randomBytes(Number(rest[0]));
  done(true, hex(a));
} else if (cmd === "write") {
  p.writeFileAtomic(rest[0], te(rest[1]));
  done(readText(rest[0]) === rest[1], `wrote ${rest[0]}`);
} else if (cmd === "echo-server") {
  p.clearTimer(guard);
  const srv = listenTcpForTests(0, (s) => {
    s.onData = (d) => s.write(d);
    s.onEnd = () => s.end();
    s.onClose = () => {};
  });
  writeStdoutLine(`PORT ${srv.port}`);
} else if (cmd === "hold-sockets") {
  const n = Number(rest[2]);
  const held: Socket[] = [];
  let failed = 0;
  let firstError = "";
  for (let i = 0; i < n; i++) {
    p.connectTcp(rest[0], Number(rest[1]), 10000, (err, sock) => {
      if (err || !sock) {
        failed++;
        firstError ||= err ?? "no socket";
      } else {
        sock.onData = sock.onEnd = sock.onClose = () => {};
        held.push(sock);
      }
      if (held.length + failed === n) done(true, `connected=${held.length} failed=${failed} error=${firstError}`);
    });
  }
} else if (cmd === "crash") {
  p.setTimer(1, () => {
    throw new Error("boom in a timer");
  });
} else if (cmd === "log-flood") {
  const n = Number(rest[0]);
  if (rest[1] === "syslog") p.useSyslog();
  for (let i = 0; i < n; i++) p.log("info", `flood line ${i} ${"x".repeat(60)}`);
  writeStdoutLine("FLOODED");
  p.setTimer(2000, () => {
    p.log("warn", "after the drain");
    done(true, `logged ${n + 1} lines`);
  });
} else {
  done(false, `unknown command ${cmd}`);
}
