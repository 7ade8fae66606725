// A recording TCP proxy on 127.0.0.1: put it between a real client and a real server to capture what
// they really say (ffmpeg's RTSP requests, a camera's answers), as material for mutation.
//
//   const tap = await startTap(cam.rtspPort);
//   await framemd5(`rtsp://127.0.0.1:${tap.port}/stream1`, { frames: 5, timeoutMs: 20_000 });
//   tap.conns[0].fromClient  // the bytes ffmpeg sent, in order
import * as net from "node:net";

export interface TapConn {
  fromClient: Buffer[];
  fromServer: Buffer[];
}

export interface Tap {
  port: number;
  conns: TapConn[];
  stop(): Promise<void>;
}

export async function startTap(targetPort: number): Promise<Tap> {
  const conns: TapConn[] = [];
  const socks = new Set<net.Socket>();
  const srv = net.createServer((client) => {
    const c: TapConn = { fromClient: [], fromServer: [] };
    conns.push(c);
    const server = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, server]) {
      socks.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        socks.delete(s);
        client.destroy();
        server.destroy();
      });
    }
    client.on("data", (d) => (c.fromClient.push(d), server.write(d)));
    server.on("data", (d) => (c.fromServer.push(d), client.write(d)));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    conns,
    stop: () => {
      socks.forEach((s) => s.destroy());
      return new Promise((r) => srv.close(() => r()));
    },
  };
}
