// Drives QjsSocket.writeTwo (the agent's DATA path) over TLS into a server that does not read at
// first, so the socket fills and the blocked path (copy of the rest, retry through tlsWrite) runs.
//   writetwo-probe PORT CA_PEM_FILE COUNT
// Sends COUNT (header, body) pairs from pattern(): header 12 bytes of i & 255, body of i*7919 % 20000
// + 1 bytes of (i + j) & 255, with a plain write() every 5th pair. Prints "WAITING <bytes>" when a
// write returns false (socket full, 64 KB queued) and "SENT <bytes>" at the end.
import * as native from "flussonic:native";
import { createQuickJsPlatform, programArgs, exitNow } from "../../src/platform/quickjs";
import { utf8Decode } from "../../src/protocol/bytes";

const [port, caFile, count] = programArgs();
const ca = native.readFile(caFile);
if (!ca) throw new Error(`cannot read ${caFile}`);
const p = createQuickJsPlatform();
const n = Number(count);

function pair(i: number): [Uint8Array, Uint8Array] {
  const body = new Uint8Array(((i * 7919) % 20000) + 1);
  for (let j = 0; j < body.length; j++) body[j] = (i + j) & 255;
  return [new Uint8Array(12).fill(i & 255), body];
}

p.connectTls("127.0.0.1", Number(port), { caPem: utf8Decode(new Uint8Array(ca)), serverName: "localhost" }, 10_000, (err, sock) => {
  if (err || !sock || !sock.writeTwo) {
    native.writeErr(`connect: ${err ?? "no writeTwo"}\n`);
    exitNow(1);
    return;
  }
  let i = 0;
  let sent = 0;
  const pump = () => {
    while (i < n) {
      const [h, b] = pair(i);
      // The header buffer is reused by the caller after the call (as Session does): scribble on it.
      const ok = i % 5 === 4 ? sock.write(concat(h, b)) : sock.writeTwo!(h, b);
      h.fill(0xee);
      sent += 12 + b.length;
      i++;
      if (!ok) {
        native.writeOut(`WAITING ${sent}\n`); // the socket was full: wait for onDrain
        return;
      }
    }
    native.writeOut(`SENT ${sent}\n`);
    sock.end();
  };
  sock.onDrain = pump;
  sock.onClose = (e) => exitNow(e ? 1 : 0);
  pump();
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
