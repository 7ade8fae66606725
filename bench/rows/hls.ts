// Watching in a browser: the live latency hls.js reports (`hls.latency`: seconds between the live
// edge it knows and the picture shown) with LL-HLS against plain HLS (the same player with
// ?ll=0: whole segments, no parts, no blocking reload), and the streamer's CPU per HLS viewer
// against per RTSP viewer of the same shared source, all in one run on loopback.
// Camera: the GStreamer fixture's 320x180 "long" clip through the Node agent.
import type { Browser } from "puppeteer-core";
import { signViewerToken } from "../../agent-src/src/server/keys";
import { haveChromium, launchChromium, watchPlayback } from "../../testkit/browser";
import { startCamera } from "../../testkit/camera";
import { startProc, type Proc } from "../../testkit/procs";
import { makePki, SECRET } from "../../testkit/system";
import { median, sleep, startBenchStreamer, threadCpuSeconds, type BenchStreamer } from "../lib/common";
import { startOurAgent } from "../lib/flows";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side callbacks see DOM objects */
declare const window: any;

const DEVICE = "hls-cam";

/** hls.js's latency, sampled once a second for `seconds` after playback settled. */
async function playerLatency(browser: Browser, url: string, seconds: number, tiny: boolean): Promise<{ samples: number[]; frames: number; dropped: number }> {
  const page = await browser.newPage();
  try {
    await page.goto(url, { waitUntil: "load" });
    // Let it settle first: hls.js seeks to its target latency during the first seconds.
    await watchPlayback(page, tiny ? { seconds: 1, frames: 10, timeoutMs: 45_000 } : { seconds: 3, frames: 50, timeoutMs: 45_000 });
    const samples: number[] = [];
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      const l = await page.evaluate(() => (window as any).__player.latency as number | null);
      if (typeof l === "number" && l > 0) samples.push(l);
    }
    const q = await page.$eval("#video", (v: any) => {
      const p = v.getVideoPlaybackQuality();
      return { frames: p.totalVideoFrames as number, dropped: p.droppedVideoFrames as number };
    });
    return { samples, ...q };
  } finally {
    await page.close();
  }
}

/**
 * An LL-HLS client's request pattern, without a browser: fetch the preload-hinted part (the
 * server holds it until it exists), then the playlist blocked on the next part, and again.
 */
function llHlsPuller(base: string, token: string, stop: () => boolean): Promise<number> {
  const q = `?token=${token}`;
  let bytes = 0;
  return (async () => {
    let text = await (await fetch(`${base}/index.m3u8${q}`)).text();
    for (let i = 0; !stop() && i < 100_000; i++) {
      const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s/.exec(text);
      if (!hint) break;
      const [msn, part] = [Number(hint[1]), Number(hint[2])];
      const r = await fetch(`${base}/part${msn}.${part}.m4s${q}`);
      bytes += (await r.arrayBuffer()).byteLength;
      text = await (await fetch(`${base}/index.m3u8${q}&_HLS_msn=${msn}&_HLS_part=${part}`)).text();
    }
    return bytes;
  })();
}

/** Streamer CPU seconds over the next `ms`. */
async function streamerCpu(st: BenchStreamer, ms: number): Promise<number> {
  const c0 = threadCpuSeconds(st.proc.pid);
  await sleep(ms);
  return threadCpuSeconds(st.proc.pid) - c0;
}

export async function hlsBrowser(o: BenchOptions): Promise<Row[]> {
  if (!haveChromium()) throw new Error("no /usr/bin/chromium (scripts/install-browser.sh)");
  const watchS = o.tiny ? 2 : 20;
  const viewers = o.tiny ? 2 : 10;
  const cpuMs = o.tiny ? 3000 : 15_000;
  const settleMs = o.tiny ? 1000 : 2000;
  const cam = await startCamera();
  const pki = makePki();
  const st = await startBenchStreamer({ pki });
  const agent = await startOurAgent(pki, st, DEVICE, cam.rtspPort);
  const token = signViewerToken(Buffer.from(SECRET + "\nviewer-token"), DEVICE, Math.floor(Date.now() / 1000) + 3600);
  const base = `http://127.0.0.1:${st.ports.http}/${DEVICE}/long`;
  const browser = await launchChromium();
  const procs: Proc[] = [];
  let stopped = false;
  const pullers: Promise<number>[] = [];
  try {
    const ll = await playerLatency(browser, `${base}/?token=${token}`, watchS, o.tiny);
    const plain = await playerLatency(browser, `${base}/?token=${token}&ll=0`, watchS, o.tiny);
    await browser.close();
    o.log(`hls latency LL ${JSON.stringify(ll)}; plain ${JSON.stringify(plain)}`);

    // CPU: one puller keeps the muxer running; then N more HLS pullers; then N RTSP viewers instead.
    pullers.push(llHlsPuller(base, token, () => stopped));
    await sleep(settleMs);
    const idle = await streamerCpu(st, cpuMs);
    let hlsStop = false;
    const hlsPullers = Array.from({ length: viewers }, () => llHlsPuller(base, token, () => stopped || hlsStop));
    await sleep(settleMs);
    const withHls = await streamerCpu(st, cpuMs);
    hlsStop = true;
    const hlsBytes = (await Promise.all(hlsPullers)).reduce((a, b) => a + b, 0);
    for (let i = 0; i < viewers; i++) {
      procs.push(await startProc("ffmpeg", ["-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", `rtsp://127.0.0.1:${st.ports.rtsp}/${DEVICE}/long?token=${token}`, "-c", "copy", "-f", "null", "-"], { name: `rtsp viewer ${i}` }));
    }
    await sleep(settleMs);
    const withRtsp = await streamerCpu(st, cpuMs);
    const pct = (cpuS: number) => (100 * cpuS) / (cpuMs / 1000);
    const perHls = (pct(withHls) - pct(idle)) / viewers, perRtsp = (pct(withRtsp) - pct(idle)) / viewers;
    const raw = { ll, plain, cpu: { idlePct: pct(idle), withHlsPct: pct(withHls), withRtspPct: pct(withRtsp), viewers, windowMs: cpuMs, hlsBytes } };
    o.log(`hls cpu ${JSON.stringify(raw.cpu)}`);

    const llMed = ll.samples.length ? median(ll.samples) : null, plainMed = plain.samples.length ? median(plain.samples) : null;
    const lat = { value: llMed, unit: "s", text: llMed === null ? "no samples" : `n ${ll.samples.length}` };
    const latPeer = { value: plainMed, unit: "s", text: plainMed === null ? "no samples" : `n ${plain.samples.length}` };
    const cpuOurs = { value: perHls, unit: "% of a core" }, cpuPeer = { value: perRtsp, unit: "% of a core" };
    return [
      {
        id: "hls-latency", figure: "live latency in Chromium as hls.js reports it (`hls.latency`, median), 320x180 camera on loopback",
        ours: lat, peerName: "the same player in plain HLS (`?ll=0`)", peer: latPeer, ratio: ratioOf(lat, latPeer),
        goal: "LL-HLS ≤ 2 s", met: llMed === null ? false : llMed <= 2,
        notes: [`frames decoded LL ${ll.frames} (dropped ${ll.dropped}), plain ${plain.frames} (dropped ${plain.dropped})`], raw,
      },
      {
        id: "hls-cpu", figure: `streamer CPU per HLS viewer (LL-HLS client pattern, ${viewers} viewers of one source)`,
        ours: cpuOurs, peerName: "per RTSP viewer (ffmpeg, TCP) of the same source", peer: cpuPeer, ratio: ratioOf(cpuOurs, cpuPeer),
        goal: "report", met: null, notes: [`muxer alone ${pct(idle).toFixed(2)} %`], raw: {},
      },
    ];
  } finally {
    stopped = true;
    await browser.close().catch(() => {});
    await Promise.allSettled(pullers);
    await Promise.all(procs.map((p) => p.stop()));
    await agent.stop();
    await st.proc.stop();
    await cam.stop();
  }
}
