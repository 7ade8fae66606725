// A camera's HTTP service that answers whatever the test scripts: a tiny net.Server on 127.0.0.1
// for an agent's "http" target. Each request (once its head is in) goes to the current `answer`
// function, which writes raw bytes to the socket; requests and connections are counted.
//
//   const cam = await startHostileCamera();
//   cam.answer = (sock) => sock.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n");
//   startAgent({ ..., targets: { http: cam.addr } });
import * as net from "node:net";

export interface HostileCamera {
  addr: string;
  port: number;
  /** Called once per request head received; the default answers 404. */
  answer: (sock: net.Socket, head: string) => void;
  requests: number;
  stop(): Promise<void>;
}

export async function startHostileCamera(): Promise<HostileCamera> {
  const socks = new Set<net.Socket>();
  // Half-open allowed: a client that half-closes after its request still gets (or waits for) the answer.
  const srv = net.createServer({ allowHalfOpen: true }, (sock) => {
    socks.add(sock);
    sock.on("close", () => socks.delete(sock));
    sock.on("error", () => {});
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      sock.off("data", onData);
      cam.requests++;
      cam.answer(sock, head);
    };
    sock.on("data", onData);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  const cam: HostileCamera = {
    addr: `127.0.0.1:${port}`,
    port,
    answer: (sock) => sock.end("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    requests: 0,
    stop: () => {
      for (const s of socks) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
  return cam;
}

export interface RawResult {
  /** Everything the server sent before closing (or before the wait ended). */
  data: string;
  /** ms from connect to the server closing the connection; null if it was still open at the end. */
  closedAfterMs: number | null;
}

/**
 * Connects to 127.0.0.1:port, sends `parts` (a string, or strings sent `gapMs` apart), and collects
 * the answer until the server closes or `waitMs` passes (then the client closes).
 */
export function rawRequest(port: number, parts: string | string[], waitMs: number, gapMs = 0): Promise<RawResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let data = "";
    let timer: NodeJS.Timeout | null = null;
    const sock = net.connect(port, "127.0.0.1");
    const list = typeof parts === "string" ? [parts] : parts;
    const finish = (closed: boolean) => {
      clearTimeout(wait);
      if (timer) clearTimeout(timer);
      sock.destroy();
      resolve({ data, closedAfterMs: closed ? Date.now() - t0 : null });
    };
    const wait = setTimeout(() => finish(false), waitMs);
    sock.on("data", (d) => (data += d.toString("latin1")));
    sock.on("error", () => {});
    sock.on("close", () => finish(true));
    sock.on("connect", () => {
      let i = 0;
      const next = () => {
        if (i >= list.length || sock.destroyed) return;
        sock.write(list[i++]);
        timer = setTimeout(next, gapMs);
      };
      next();
    });
  });
}
