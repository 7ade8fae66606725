// A legitimate viewer that keeps playing while a test attacks the server: a real ffmpeg pull,
// restarted when the clip ends, with the figures "did it keep playing" needs: packets received in a
// window and the longest time without a new packet.
//
//   const v = await watchViewer(server.rtspUrl(id, "long"));
//   const m = v.mark(); …attack… const w = v.since(m);  // { packets, ms, maxGapMs, restarts }
//   await v.stop();
import { startPull, type LivePull } from "./ffmpeg";

export interface ViewerWindow {
  packets: number;
  ms: number;
  /** Longest stretch without a new packet within the window. */
  maxGapMs: number;
  /** ffmpeg pulls started in the window (a pull that ends early is restarted). */
  restarts: number;
  /** Last lines of ffmpeg's output when a pull ended early. */
  errors: string[];
}

export interface WatchedViewer {
  mark(): number;
  since(mark: number): ViewerWindow;
  /** Total packets so far. */
  packets(): number;
  stop(): Promise<void>;
}

interface Sample {
  t: number;
  total: number;
  restarts: number;
  errors: number;
}

/** Starts ffmpeg on the URL and waits for its first packets (so the stream is known to work). */
export async function watchViewer(url: string, opts: { firstPacketsMs?: number } = {}): Promise<WatchedViewer> {
  const first = await startPull(url);
  await first.waitForPackets(5, opts.firstPacketsMs ?? 20_000);
  let pull: LivePull | null = first;
  let done = 0; // packets of pulls that ended
  let restarts = 0;
  let stopped = false;
  const errors: string[] = [];
  const samples: Sample[] = [];
  const total = () => done + (pull?.packets().length ?? 0);
  const sample = () => samples.push({ t: Date.now(), total: total(), restarts, errors: errors.length });
  const poll = setInterval(() => {
    sample();
    if (samples.length > 200_000) samples.splice(0, 100_000); // marks older than ~3 h are not used
    const e = pull?.proc.exit();
    if (pull && e) {
      // The clip ended or the pull failed: either way a real viewer would reconnect.
      if (e.code !== 0) errors.push(pull.proc.output().slice(-500));
      done += pull.packets().length;
      pull = null;
      restarts++;
      startPull(url).then((p) => (stopped ? void p.stop() : (pull = p)), (err) => errors.push(String(err)));
    }
  }, 100);
  return {
    mark: () => (sample(), samples.length - 1),
    since: (m) => {
      sample();
      const from = samples[m];
      let maxGap = 0;
      let changeAt = from.t;
      for (let i = m + 1; i < samples.length; i++) {
        if (samples[i].total !== samples[i - 1].total) changeAt = samples[i].t;
        maxGap = Math.max(maxGap, samples[i].t - changeAt);
      }
      const last = samples[samples.length - 1];
      return { packets: last.total - from.total, ms: last.t - from.t, maxGapMs: maxGap, restarts: last.restarts - from.restarts, errors: errors.slice(from.errors) };
    },
    packets: total,
    stop: async () => {
      stopped = true;
      clearInterval(poll);
      await pull?.stop();
    },
  };
}
