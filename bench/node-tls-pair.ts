// One half of a TLS relay pair written the plain Node way (tls + net + pipe, Node's default
// ciphers), the shape of the stunnel pair: the floor of any Node relay, for the throughput row.
//   node build/bench/node-tls-pair.mjs server LISTEN_PORT CAMERA_PORT CERT KEY
//   node build/bench/node-tls-pair.mjs client LISTEN_PORT SERVER_PORT CA
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";

const [role, listenPort, targetPort, file1, file2] = process.argv.slice(2);

function relay(a: net.Socket, b: net.Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.pipe(b);
  b.pipe(a);
  a.on("error", () => b.destroy());
  b.on("error", () => a.destroy());
  a.on("close", () => b.destroy());
  b.on("close", () => a.destroy());
}

const server = role === "server"
  ? tls.createServer({ cert: readFileSync(file1), key: readFileSync(file2) }, (s) => relay(s, net.connect(Number(targetPort), "127.0.0.1")))
  : role === "client"
    ? net.createServer((s) => relay(s, tls.connect({ port: Number(targetPort), host: "127.0.0.1", ca: readFileSync(file1), servername: "localhost" })))
    : null;
if (!server) {
  console.error("usage: node-tls-pair.mjs server LISTEN_PORT CAMERA_PORT CERT KEY | client LISTEN_PORT SERVER_PORT CA");
  process.exit(2);
}
server.listen(Number(listenPort), "127.0.0.1", () => console.log("READY"));
