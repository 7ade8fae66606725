// Scripts for a hostile fake server (fake-server.ts), shared by the hostile-server suite and the
// bench's attack rows. Bounded in count and time. No vitest import: bench rows use it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FrameType } from "../agent-src/src/protocol/frame";
import type { FakeScript } from "./fake-server";
import { tempDir } from "./procs";

export const HOSTILE_DEVICE = "cam-hostile";
export const HOSTILE_KEY = "00".repeat(32);

/** An agent directory already activated as HOSTILE_DEVICE, its cached streamer `streamer`. */
export function activatedAgentDir(streamer: string, endpoints = [streamer]): string {
  const dir = tempDir("fa-hostile-");
  mkdirSync(join(dir, "state"));
  writeFileSync(join(dir, "state", "state.json"), JSON.stringify({ device_id: HOSTILE_DEVICE, key: HOSTILE_KEY, endpoints, streamer }));
  return dir;
}

/**
 * After WELCOME: n OPENs of `target`, each RESET at once; then one OPEN that stays, retried while
 * the agent answers busy. `opened` turns true when the agent accepted it: it has worked through
 * the flood and its camera slots are free again.
 */
export function openResetFlood(n: number, target = "rtsp"): { script: FakeScript; opened: () => boolean } {
  let opened = false;
  const script: FakeScript = {
    onAuth: (l) => {
      l.session.sendControl(FrameType.WELCOME, { device_id: HOSTILE_DEVICE });
      for (let i = 0; i < n; i++) l.session.openStream(target).reset("cancel");
      const tryOpen = () => {
        if (l.session.isClosed) return;
        const st = l.session.openStream(target);
        st.onOpen = () => (opened = true);
        st.onClose = () => !opened && setTimeout(tryOpen, 250);
      };
      tryOpen();
    },
  };
  return { script, opened: () => opened };
}

export interface PingFloodOptions {
  /** Keep reading what the agent sends (its PONGs)? false: pause the socket, like a server that stopped reading. */
  readAgent: boolean;
  /** PINGs per second (sent in bursts every 10 ms). */
  perSecond: number;
  /** Stop after this many bytes or this long, whichever first. */
  maxBytes: number;
  durationMs: number;
  /** Wait this long after WELCOME before flooding (lets the caller sample the idle agent). */
  startAfterMs: number;
}

const PING_FRAME_BYTES = 12 + 8;

/** After WELCOME: PINGs at a steady rate; sent() counts the bytes, done() says the flood is over. */
export function pingFlood(o: PingFloodOptions): { script: FakeScript; sent: () => number; done: () => boolean } {
  let sent = 0;
  let done = false;
  const ping = new Uint8Array(8);
  const perBurst = Math.max(1, Math.round(o.perSecond / 100));
  const script: FakeScript = {
    onAuth: (l) => {
      l.session.sendControl(FrameType.WELCOME, { device_id: HOSTILE_DEVICE });
      setTimeout(() => {
        if (!o.readAgent) l.raw.pause();
        const end = Date.now() + o.durationMs;
        const burst = () => {
          if (l.session.isClosed || l.raw.destroyed || Date.now() > end || sent >= o.maxBytes) {
            done = true;
            return;
          }
          for (let i = 0; i < perBurst; i++) l.session.sendFrame(FrameType.PING, 0, ping);
          sent += perBurst * PING_FRAME_BYTES;
          setTimeout(burst, 10);
        };
        burst();
      }, o.startAfterMs);
    },
  };
  return { script, sent: () => sent, done: () => done };
}
