// A TCP server on 127.0.0.1 whose every connection is handled by the test: the hostile camera of the
// server fuzz suite (an agent's rtsp/http target that answers with mutated replies). stop() destroys
// whatever connections are still open.
import * as net from "node:net";

export interface ScriptedServer {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  stop(): Promise<void>;
}

export async function startScriptedServer(onConn: (sock: net.Socket, index: number) => void): Promise<ScriptedServer> {
  const socks = new Set<net.Socket>();
  const s: ScriptedServer = { port: 0, accepted: 0, stop: async () => {} };
  const srv = net.createServer((sock) => {
    socks.add(sock);
    sock.on("error", () => {});
    sock.on("close", () => socks.delete(sock));
    onConn(sock, s.accepted++);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  s.port = (srv.address() as net.AddressInfo).port;
  s.stop = () => {
    socks.forEach((x) => x.destroy());
    return new Promise((r) => srv.close(() => r()));
  };
  return s;
}
