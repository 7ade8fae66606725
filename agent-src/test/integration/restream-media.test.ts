// What a shared source carries besides plain H.264: audio tracks (AAC, G.711) pass through byte for
// byte, and a camera that comes back with another resolution (new SPS) leaves its viewers with a
// clean picture. Real processes on 127.0.0.1: GStreamer camera ← agent ← TLS → streamer ← ffmpeg.
import { mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureMedia, FIXTURES_DIR } from "../../../testkit/camera";
import { ffprobe, framemd5, type Packet } from "../../../testkit/ffmpeg";
import { startProc, tempDir, type Proc } from "../../../testkit/procs";
import { makePki, startAgent, startStreamer, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";

const PYTHON = "/usr/bin/python3";
let pki: Pki, cam: Proc, camPort: number, server: StreamerProc, agent: AgentProc, id: string, media: string;

/** A media folder for rtsp-camera.py whose /long is `long` (the other mounts: the usual files). */
function mediaFolder(long: string): string {
  const dir = tempDir("fa-restream-media-");
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(media)) if (f !== "long.mp4" && !f.startsWith(".")) symlinkSync(join(media, f), join(dir, f));
  symlinkSync(join(media, long), join(dir, "long.mp4"));
  return dir;
}

async function startCam(dir: string, port = 0): Promise<Proc> {
  return startProc(PYTHON, [join(FIXTURES_DIR, "rtsp-camera.py"), String(port), dir], {
    name: "rtsp-camera", ready: /^READY rtsp port=(\d+)/, timeoutMs: 30_000, env: { ...process.env, GST_DEBUG: "0" },
  });
}

beforeAll(async () => {
  media = await ensureMedia();
  pki = makePki();
  cam = await startCam(mediaFolder("long.mp4"));
  camPort = Number(cam.ready[1]);
  server = await startStreamer({ roles: ["endpoint", "streamer"], pki, tokens: ["tok-media"], streamerSettings: { media: { close_after_ms: 1000, source_timeout_ms: 8000 } } });
  agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: { rtsp: `127.0.0.1:${camPort}` }, token: "tok-media" });
  id = agent.deviceId()!;
}, 90_000);
afterAll(async () => {
  await agent?.stop();
  await server?.stop();
  await cam?.stop();
});

/** The viewer's packets are the direct pull's from some packet on, in order, none missing or changed. */
function contiguous(direct: Packet[], viewer: Packet[]): string | null {
  if (viewer.length < 20) return `viewer got only ${viewer.length} packets`;
  const start = direct.findIndex((p) => p.hash === viewer[0].hash);
  if (start < 0) return `viewer's first packet ${viewer[0].hash} is not in the direct pull`;
  const n = Math.min(viewer.length, direct.length - start);
  if (n < 20) return `only ${n} packets overlap`;
  for (let i = 0; i < n; i++) if (direct[start + i].hash !== viewer[i].hash) return `packet #${i} (direct #${start + i}) differs`;
  return null;
}

describe("audio tracks", () => {
  for (const [mount, codec] of [["aac", "aac"], ["pcmu", "pcm_mulaw"]] as const) {
    it(`${codec}: the audio packets through the shared source equal the camera's (framemd5), next to the video`, async () => {
      const direct = framemd5(`rtsp://127.0.0.1:${camPort}/${mount}`, { map: "0:a:0", frames: 200, timeoutMs: 40_000 });
      const [viaAudio, viaVideo] = await Promise.all([
        framemd5(server.rtspUrl(id, mount), { map: "0:a:0", frames: 100, timeoutMs: 40_000 }),
        framemd5(server.rtspUrl(id, mount), { frames: 50, timeoutMs: 40_000 }),
      ]);
      const streams = await ffprobe(server.rtspUrl(id, mount), { timeoutMs: 20_000 });
      expect(streams.map((s) => s.codec_name).sort()).toEqual([codec, "h264"].sort());
      expect(contiguous(await direct, viaAudio)).toBeNull();
      expect(viaVideo.length).toBe(50);
    }, 60_000);
  }
});

describe("the camera changes its stream", () => {
  it("restarted with another resolution (new SPS): the viewer goes on at the new size with no decoding errors; new viewers get the new SDP", async () => {
    // Decode (not copy), so broken or mixed-up parameter sets would show as decoder errors.
    const viewer = await startProc("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "info", "-rtsp_transport", "tcp", "-i", server.rtspUrl(id, "long"),
      "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"], { name: "ffmpeg-decode" });
    const frames = (size: string) => viewer.lines().filter((l) => l.includes("Parsed_showinfo") && l.includes(` s:${size} `)).length;
    const until = async (what: string, ok: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end || viewer.exit()) throw new Error(`${what}; viewer:\n${viewer.output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await until("no 320x180 frames", () => frames("320x180") >= 25, 30_000);
      const before = (await ffprobe(server.rtspUrl(id, "long"), { timeoutMs: 20_000 })).find((s) => s.codec_type === "video");
      expect(before?.width).toBe(320);
      await cam.stop();
      cam = await startCam(mediaFolder("clip.mp4"), camPort); // 640x360 on the same port
      await until("no 640x360 frames after the camera came back", () => frames("640x360") >= 50, 30_000);
      expect(viewer.exit()).toBeNull(); // kept playing across the change
      await server.proc.waitForLine(/camera session back after \d+ ms/, { timeoutMs: 1000 });
      const after = (await ffprobe(server.rtspUrl(id, "long"), { timeoutMs: 20_000 })).find((s) => s.codec_type === "video");
      expect(after?.width).toBe(640);
      expect(after?.height).toBe(360);
    } finally {
      await viewer.stop();
    }
    // ffmpeg's H.264 decoder names what it could not decode: mid-GOP starts, missing references, bad SPS/PPS.
    const errors = viewer.lines().filter((l) => /\[h264 @|error|concealing|non-existing|no frame|Invalid/i.test(l) && !l.includes("Parsed_showinfo"));
    expect(errors, errors.join("\n")).toEqual([]);
    console.log(`new SPS: ${frames("320x180")} frames at 320x180, then ${frames("640x360")} at 640x360, no decoder errors`);
  }, 90_000);
});
