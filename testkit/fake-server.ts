// A server that speaks our protocol but is scripted by the test: hostile streamers, MOVE loops,
// replay attempts. Built from the real Session so the framing is right and only behaviour differs.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { authMessage, decodeControl, type ErrorMsg, type Hello } from "../agent-src/src/protocol/control";
import { FrameType } from "../agent-src/src/protocol/frame";
import { DEFAULT_SESSION_OPTIONS, Session } from "../agent-src/src/protocol/session";
import { NodeSocket, nodeClock } from "../agent-src/src/platform/node";
import type { Pki } from "./system";

export interface FakeServer {
  port: number;
  addr: string;
  /** TLS connections accepted so far. */
  links: number;
  /** ERROR frames the agent sent us ("code: message"), in order. */
  errorsFromAgent: string[];
  stop(): Promise<void>;
}

/** One agent connection to a fake server: its session, its raw socket (pause() = stop reading) and HELLO. */
export interface FakeLink {
  session: Session;
  raw: tls.TLSSocket;
  hello: Hello | null;
}

/** What the fake does at each step of the handshake; any AUTH is accepted. */
export interface FakeScript {
  /** The role CHALLENGE claims (default "streamer"). */
  role?: "endpoint" | "streamer";
  /** Answer HELLO yourself instead of with CHALLENGE (e.g. RETRY_AFTER). */
  onHello?(link: FakeLink): void;
  onAuth?(link: FakeLink): void;
  onActivate?(link: FakeLink): void;
}

/** A hostile peer queues whatever it likes: our own write-buffer bound must not cut its floods short. */
const HOSTILE_SESSION_OPTIONS = { ...DEFAULT_SESSION_OPTIONS, maxWriteBuffer: Infinity };

export async function startFakeServer(pki: Pki, script: FakeScript): Promise<FakeServer> {
  const open = new Set<tls.TLSSocket>();
  const srv = tls.createServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) }, (sock) => {
    sock.on("error", () => {});
    fake.links++;
    open.add(sock);
    sock.on("close", () => open.delete(sock));
    const s: Session = new Session(new NodeSocket(sock), nodeClock, HOSTILE_SESSION_OPTIONS, {
      onControl: (type, payload) => {
        if (type === FrameType.HELLO) {
          link.hello = decodeControl<Hello>(type, payload);
          if (script.onHello) script.onHello(link);
          else s.sendControl(FrameType.CHALLENGE, { nonce: "11".repeat(32), role: script.role ?? "streamer" });
        } else if (type === FrameType.AUTH && link.hello) script.onAuth?.(link);
        else if (type === FrameType.ACTIVATE && link.hello) script.onActivate?.(link);
        else if (type === FrameType.ERROR) {
          const e = decodeControl<ErrorMsg>(type, payload);
          fake.errorsFromAgent.push(`${e.code}: ${e.message}`);
        }
      },
      onClose: () => {},
    });
    const link: FakeLink = { session: s, raw: sock, hello: null };
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  const fake: FakeServer = {
    port, addr: `127.0.0.1:${port}`, links: 0, errorsFromAgent: [],
    stop: () => {
      open.forEach((c) => c.destroy());
      return new Promise((r) => srv.close(() => r()));
    },
  };
  return fake;
}

/** Accepts any AUTH; then hands the live session to the test. */
export function startFakeStreamer(pki: Pki, onLive: (s: Session, hello: Hello) => void): Promise<FakeServer> {
  return startFakeServer(pki, { onAuth: (l) => onLive(l.session, l.hello!) });
}

/** A raw client of our protocol, for attacking the real server (replays, key misuse, garbage). */
export class RawAgent {
  private frames: { type: number; payload: unknown }[] = [];
  private waiters: (() => void)[] = [];
  session!: Session;
  /** The TLS socket under the session: for raw bytes (fuzzing) and for not reading (backpressure). */
  socket!: tls.TLSSocket;
  closedReason: string | null = null;

  static async connect(port: number, caPem: string): Promise<RawAgent> {
    const a = new RawAgent();
    const sock = await new Promise<tls.TLSSocket>((res, rej) => {
      const s = tls.connect({ host: "127.0.0.1", port, ca: caPem }, () => res(s));
      s.once("error", rej);
    });
    a.socket = sock;
    a.session = new Session(new NodeSocket(sock), nodeClock, HOSTILE_SESSION_OPTIONS, {
      onControl: (type, payload) => {
        a.frames.push({ type, payload: JSON.parse(Buffer.from(payload).toString()) });
        a.waiters.splice(0).forEach((w) => w());
      },
      onClose: (r) => {
        a.closedReason = r.text;
        a.waiters.splice(0).forEach((w) => w());
      },
    });
    return a;
  }

  send(type: FrameType, msg: object): void {
    this.session.sendControl(type, msg);
  }

  /** Next control frame of the given type (or null if the link closed first). */
  async next<T>(type: FrameType, timeoutMs = 5000): Promise<T | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0].payload as T;
      if (this.closedReason !== null) return null;
      if (Date.now() > end) throw new Error(`no frame 0x${type.toString(16)} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  got(type: FrameType): unknown[] {
    return this.frames.filter((f) => f.type === type).map((f) => f.payload);
  }

  close(): void {
    this.session.close("test done");
  }
}

export function deviceKeyFor(secret: string, deviceId: string): Buffer {
  return createHmac("sha256", Buffer.from(secret)).update(`device-key\n${deviceId}`).digest();
}

export function authFor(key: Buffer, deviceId: string, nonce: string, role = "streamer") {
  const cnonce = "22".repeat(32);
  const mac = createHmac("sha256", key).update(authMessage(nonce, cnonce, deviceId, role)).digest("hex");
  return { device_id: deviceId, cnonce, mac };
}
