// Codec/session fuzzer: random and mutated frames thrown at a Session from both sides (agent-like:
// peer may open streams; server-like: it may not). Deterministic for a seed. Used by
// fuzz.test.ts (fixed seed, 100k frames in CI) and bench/fuzz.sh (many more); frameSource() also
// by the server fuzz suite.
import type { Socket } from "../../src/platform/platform";
import { decodeControl } from "../../src/protocol/control";
import { utf8Encode } from "../../src/protocol/bytes";
import { FrameType, HEADER_SIZE, MAX_PAYLOAD, encodeFrame } from "../../src/protocol/frame";
import type { Clock } from "../../src/platform/platform";
import { DEFAULT_SESSION_OPTIONS, Session } from "../../src/protocol/session";
import { rng } from "./memsock";

class SinkSocket implements Socket {
  onData: ((d: Uint8Array) => void) | null = null;
  onEnd: (() => void) | null = null;
  onDrain: (() => void) | null = null;
  onClose: ((err: string | null) => void) | null = null;
  written = 0;
  write(d: Uint8Array): boolean {
    this.written += d.length;
    return this.written % 7 !== 0; // sometimes "full", to exercise the blocked-link paths
  }
  end(): void {}
  destroy(): void {}
  pause(): void {}
  resume(): void {}
}

const ROUND_OVER = "fuzz round over";
const clock: Clock = { setTimer: () => 0, clearTimer: () => {}, now: () => 0 };

const TYPES = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19];
const SAMPLES: Record<number, object> = {
  0x03: { target: "rtsp" }, 0x06: { code: "x", message: "y" },
  0x10: { proto: 1, agent: "1", targets: { rtsp: "127.0.0.1:554" } },
  0x11: { nonce: "ab".repeat(32), role: "streamer" },
  0x12: { device_id: "cam-1", cnonce: "cd".repeat(32), mac: "ef".repeat(32) },
  0x13: { token: "t" }, 0x14: { device_id: "d", key: "00".repeat(32), endpoints: ["a:1"], streamer: "b:2" },
  0x15: { device_id: "d" }, 0x16: { streamer: "h:1" }, 0x17: { streamer: "h:2" }, 0x18: { ms: 10 },
  0x19: { code: "c", message: "m" },
};

export interface FuzzResult {
  frames: number;
  sessions: number;
  closedByPeerError: number;
  maxPending: number;
  maxStreams: number;
  maxBuffered: number;
}

/**
 * Random and mutated frames, deterministic for the random source: valid-looking control frames of
 * every type, DATA/WINDOW with random streams, then byte flips, header damage, truncation or noise.
 * Also feeds the server fuzz suite (test/hostile), which sends these to a real streamer.
 */
export function frameSource(r: () => number): () => Uint8Array {
  const int = (n: number) => Math.floor(r() * n);
  return (): Uint8Array => {
    const type = r() < 0.97 ? TYPES[int(TYPES.length)] : int(256);
    const streamType = type >= 0x01 && type <= 0x06;
    const stream = streamType ? 1 + int(8) : (r() < 0.02 ? 1 : 0);
    let payload: Uint8Array;
    if (type === 0x01) payload = new Uint8Array(int(r() < 0.1 ? MAX_PAYLOAD : 2000));
    else if (type === 0x02) payload = Uint8Array.from([int(256), int(256), int(256), int(256)]);
    else if (type === 0x07 || type === 0x08) payload = new Uint8Array(8);
    else if (SAMPLES[type] && r() < 0.8) payload = utf8Encode(JSON.stringify(SAMPLES[type]));
    else payload = Uint8Array.from({ length: int(64) }, () => int(256));
    let f: Uint8Array;
    try {
      f = encodeFrame(type as FrameType, stream, payload);
      if (!(type in SAMPLES) && !streamType && type !== 7 && type !== 8) f[1] = type;
    } catch {
      f = new Uint8Array(HEADER_SIZE);
    }
    // Mutations: flip bytes (header or payload), truncate, or pure noise.
    const m = r();
    if (m < 0.05) for (let i = 0, n = 1 + int(4); i < n; i++) f[int(f.length)] ^= 1 << int(8);
    else if (m < 0.07) f[int(Math.min(12, f.length))] = int(256);
    else if (m < 0.09) f = f.subarray(0, int(f.length));
    else if (m < 0.1) f = Uint8Array.from({ length: int(100) }, () => int(256));
    return f;
  };
}

export function fuzz(seed: number, totalFrames: number): FuzzResult {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const res: FuzzResult = { frames: 0, sessions: 0, closedByPeerError: 0, maxPending: 0, maxStreams: 0, maxBuffered: 0 };

  const frame = frameSource(r);

  while (res.frames < totalFrames) {
    res.sessions++;
    const sock = new SinkSocket();
    let closed = false;
    const agentLike = r() < 0.5;
    const s: Session = new Session(sock, clock, { ...DEFAULT_SESSION_OPTIONS, peerMayOpen: agentLike }, {
      onControl: (type, payload) => {
        decodeControl(type, payload); // the same validation both real roles run first
      },
      onOpen: (st) => {
        st.accept();
        st.onData = (d) => st.write(d); // echo: exercises the send side and its queue
      },
      onClose: (reason) => {
        closed = true;
        if (reason.text !== ROUND_OVER) res.closedByPeerError++;
      },
    });
    for (let n = 1 + int(300); n > 0 && !closed; n--) {
      const f = frame();
      res.frames++;
      // Deliver in random splits, the way TCP does.
      for (let off = 0; off < f.length; ) {
        const len = 1 + int(f.length - off);
        sock.onData!(f.subarray(off, off + len)); // must never throw: this is the connection boundary
        off += len;
        if (closed) break;
      }
      if (!closed) {
        res.maxPending = Math.max(res.maxPending, (s as unknown as { decoder: { pending: number } }).decoder.pending);
        res.maxStreams = Math.max(res.maxStreams, s.streams.size);
        for (const st of s.streams.values()) res.maxBuffered = Math.max(res.maxBuffered, st.bufferedOut);
        if (r() < 0.3) sock.onDrain!();
      }
    }
    s.close(ROUND_OVER);
  }
  return res;
}
