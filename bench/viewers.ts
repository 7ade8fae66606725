// RTSP viewers as a separate process (so they can run inside a network namespace and their CPU is
// not the measured process's): N sessions PLAYing one URL over TCP; counts interleaved bytes.
//   node build/bench/viewers.mjs '{"urls":["rtsp://…"],"n":4,"warmupMs":1000,"durationMs":10000}'   (n per URL)
// Prints "RESULT {bytes, seconds, sessions}" (bytes counted after the warm-up only), then exits.
// With "windows":K, "durationMs" is one window's length: after the warm-up and after each of the K
// windows it prints "TICK [bytes of each session so far]", so a row can measure its processes'
// CPU window by window against the bytes each session moved in the same window.
import { openRtspSession, type RtspSession } from "../testkit/rtsp-client";

const a = JSON.parse(process.argv[2]) as { urls: string[]; n: number; warmupMs: number; durationMs: number; windows?: number };
const windows = a.windows ?? 0;
const sessions: RtspSession[] = [];
const kill = setTimeout(() => {
  process.stdout.write("RESULT {\"error\":\"timeout\"}\n");
  process.exit(2);
}, a.warmupMs + a.durationMs * Math.max(1, windows) + 30_000);
try {
  // No PLAY Range: a restreamer in front of a file-backed bench camera would seek it for each
  // viewer (GStreamer's does); live cameras cannot seek, and a live join is what is measured.
  for (const url of a.urls) for (let i = 0; i < a.n; i++) sessions.push(await openRtspSession(url, { timeoutMs: 15_000, playRange: null }));
  await new Promise((r) => setTimeout(r, a.warmupMs));
  const total = () => sessions.reduce((s, x) => s + x.bytes(), 0);
  const b0 = total();
  const t0 = performance.now();
  process.stdout.write("MEASURING\n");
  const tick = () => process.stdout.write(`TICK ${JSON.stringify(sessions.map((s) => s.bytes()))}\n`);
  if (windows > 0) tick();
  for (let w = 0; w < Math.max(1, windows); w++) {
    await new Promise((r) => setTimeout(r, a.durationMs));
    if (windows > 0) tick();
  }
  const bytes = total() - b0;
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`RESULT ${JSON.stringify({ bytes, seconds, sessions: sessions.length, perSession: sessions.map((s) => s.bytes()) })}\n`);
} catch (e) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: (e as Error).message })}\n`);
}
for (const s of sessions) s.close();
clearTimeout(kill);
setTimeout(() => process.exit(0), 100);
