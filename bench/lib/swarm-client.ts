// Runs bench/swarm.ts children and follows their STAT lines.
import { join } from "node:path";
import { startProc, type Proc } from "../../testkit/procs";
import { BENCH_BUILD, sleep } from "./common";

export interface SwarmStat {
  t: number;
  live: number;
  attempts: number;
  /** Links whose TLS session was resumed (only with `resume`). */
  resumed?: number;
  retryAfters: number;
  connectFailures: number;
  peakPerSec: number;
  bySecond: Record<string, number>;
}

export interface Swarm {
  procs: Proc[];
  /** Sum over children of their latest STAT. */
  stat(): { live: number; attempts: number; resumed: number; retryAfters: number; connectFailures: number };
  /** Attempts per wall-clock second summed over children (children start within ms of each other). */
  bySecond(): Map<number, number>;
  waitLive(n: number, timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface SwarmSpec {
  n: number;
  children: number;
  prefix: string;
  streamer: string;
  endpoint: string;
  caFile: string;
  reconnect: { base_ms: number; cap_ms: number; stable_ms?: number };
  rampMs: number;
  maxMs: number;
  /** Offer each agent's last TLS session on reconnect (ticket resumption). */
  resume?: boolean;
  /** Highest TLS version the swarm offers (default TLS 1.3, Node's); the camera agent's is 1.2. */
  tlsMaxVersion?: "TLSv1.2" | "TLSv1.3";
  /** The agents' camera (host:port of its RTSP server); default none (idle agents). */
  rtsp?: string;
}

function last(p: Proc): SwarmStat | null {
  const lines = p.lines();
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].startsWith("STAT ")) return JSON.parse(lines[i].slice(5));
  return null;
}

export async function startSwarm(s: SwarmSpec): Promise<Swarm> {
  const procs: Proc[] = [];
  const per = Math.ceil(s.n / s.children);
  for (let c = 0; c < s.children; c++) {
    const n = Math.min(per, s.n - c * per);
    if (n <= 0) break;
    const args = { ...s, n, prefix: `${s.prefix}${c}` };
    procs.push(await startProc(process.execPath, ["--max-old-space-size=4096", join(BENCH_BUILD, "swarm.mjs"), JSON.stringify(args)], {
      name: `swarm${c}`, ready: /^STAT /, timeoutMs: 10_000,
    }));
  }
  const stat = () => {
    const st = procs.map(last);
    return {
      live: st.reduce((a, x) => a + (x?.live ?? 0), 0),
      attempts: st.reduce((a, x) => a + (x?.attempts ?? 0), 0),
      resumed: st.reduce((a, x) => a + (x?.resumed ?? 0), 0),
      retryAfters: st.reduce((a, x) => a + (x?.retryAfters ?? 0), 0),
      connectFailures: st.reduce((a, x) => a + (x?.connectFailures ?? 0), 0),
    };
  };
  return {
    procs,
    stat,
    bySecond: () => {
      const m = new Map<number, number>();
      for (const p of procs) for (const [k, v] of Object.entries(last(p)?.bySecond ?? {})) m.set(Number(k), (m.get(Number(k)) ?? 0) + v);
      return m;
    },
    waitLive: async (n, timeoutMs) => {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if (stat().live >= n) return true;
        await sleep(100);
      }
      return stat().live >= n;
    },
    stop: async () => {
      await Promise.all(procs.map((p) => p.stop(5000)));
    },
  };
}
