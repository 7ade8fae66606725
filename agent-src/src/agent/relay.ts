/**
 * Joins a tunnel stream to one of the agent's named local targets (the camera's RTSP/HTTP).
 * The allowlist check lives here and nowhere else: a target name the config does not define is
 * refused, so the server can never make the agent connect anywhere on the camera's LAN.
 */

import type { Platform, Socket } from "../platform/platform";
import { jsPump } from "../platform/js-pump";
import type { Stream } from "../protocol/stream";
import type { AgentConfig } from "./config";
import { formatHostPort } from "../common/config-fields";

/**
 * Camera connections the agent holds or is still dialling, across all links. A RESET frees the
 * stream at once but not its socket (a dial carries on until it completes), so the stream cap
 * alone would let OPEN+RESET pile up connections and descriptors; this count ends only when the
 * socket is closed.
 */
export class CameraSockets {
  private held = 0;

  constructor(readonly max: number) {}

  /** A slot for one more camera socket, or false when all are taken. */
  take(): boolean {
    if (this.held >= this.max) return false;
    this.held++;
    return true;
  }

  give(): void {
    this.held--;
  }

  get count(): number {
    return this.held;
  }
}

export function relayStream(p: Platform, cfg: AgentConfig, stream: Stream, target: string, sockets: CameraSockets): void {
  const addr = cfg.targets.get(target);
  if (!addr) {
    p.log("warn", `refused OPEN of stream ${stream.id}: target "${target.slice(0, 64)}" is not in this agent's config`);
    stream.reset("forbidden", "target not allowed");
    return;
  }
  if (!sockets.take()) {
    p.log("debug", `stream ${stream.id}: all ${sockets.max} camera connections in use or still closing`);
    stream.reset("busy", "too many camera connections");
    return;
  }
  let slotHeld = true;
  const release = () => {
    if (slotHeld) sockets.give();
    slotHeld = false;
  };
  // Bytes the server pipelines before the camera socket is up wait here; no credit is granted
  // meanwhile, so this holds at most one window.
  const early: Uint8Array[] = [];
  let earlyEnd = false;
  stream.pause();
  stream.onData = (d) => early.push(d);
  stream.onEnd = () => (earlyEnd = true);
  let cam: Socket | null = null;
  stream.onClose = () => cam?.destroy();

  p.connectTcp(addr.host, addr.port, cfg.connectTimeoutMs, (err, sock) => {
    if (err || !sock) {
      release();
      p.log("warn", `stream ${stream.id}: cannot reach target ${target} (${formatHostPort(addr)}): ${err}`);
      stream.reset("connect_failed", `target ${target} unreachable`);
      return;
    }
    if (stream.isClosed) {
      sock.onClose = release;
      sock.destroy();
      return;
    }
    cam = sock;
    p.log("debug", `stream ${stream.id}: connected to ${target}`);
    stream.accept();

    // camera → tunnel: the platform's pump moves the bytes (in C on the camera), within the
    // stream's credit; a camera faster than the link is read no faster than the link drains.
    const later = (fn: () => void) => void p.setTimer(0, fn);
    stream.sendFrom(
      (link, id, credit, ev) => p.pump ? p.pump(sock, link, id, credit, ev) : jsPump(sock, link, id, credit, ev, later),
      {
        onEnd: () => stream.end(),
        onError: (e) => {
          stream.reset("target_error", e);
          sock.destroy();
        },
      },
    );
    // A clean close comes after the pump's onEnd, which ends the stream once all was sent.
    sock.onClose = (e) => {
      release();
      cam = null;
      if (e) stream.reset("target_error", e);
    };

    // tunnel → camera: a camera slow to read stops our credit, so the server stops sending.
    let camBlocked = false;
    stream.onData = (d) => {
      if (!sock.write(d)) {
        camBlocked = true;
        stream.pause();
      }
    };
    sock.onDrain = () => {
      camBlocked = false;
      stream.resume();
    };
    stream.onEnd = () => sock.end();

    for (const d of early) stream.onData(d);
    early.length = 0;
    if (earlyEnd) sock.end();
    if (!camBlocked) stream.resume();
  });
}
