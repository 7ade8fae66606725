// What the recording tests share: a camera, an agent and a streamer that records (startSystem),
// the archive's URLs and timeline, and ffmpeg's view of what was recorded (framemd5 rows).
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect } from "vitest";
import { signViewerToken } from "../../src/server/keys";
import { startCamera, type Camera } from "../../../testkit/camera";
import { SECRET, cameraTargets, makePki, startAgent, startStreamer, type AgentProc, type StreamerProc } from "../../../testkit/system";
import { tempDir } from "../../../testkit/procs";

export const exec = promisify(execFile);
export const token = (id: string) => signViewerToken(Buffer.from(SECRET + "\nviewer-token"), id, Math.floor(Date.now() / 1000) + 600);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Sys {
  pki: ReturnType<typeof makePki>;
  cam: Camera;
  server: StreamerProc;
  agent: AgentProc;
  id: string;
  archiveDir: string;
}

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
});

export async function startSystem(archive: Record<string, unknown>, wrap?: (dir: string) => string[], media?: Record<string, unknown>): Promise<Sys> {
  const pki = makePki();
  const cam = await startCamera();
  stops.push(() => cam.stop());
  const archiveDir = tempDir("fa-archive-");
  const server = await startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["tok-rec"], logLevel: "info",
    streamerSettings: { archive: { dir: archiveDir, ...archive }, ...(media ? { media } : {}) },
    wrap: wrap?.(archiveDir),
  });
  const sys: Sys = { pki, cam, server, agent: null!, id: "", archiveDir };
  stops.push(() => sys.server.stop());
  sys.agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-rec" });
  stops.push(() => sys.agent.stop());
  sys.id = sys.agent.deviceId()!;
  return sys;
}

export const url = (s: Sys, rest: string) => `http://127.0.0.1:${s.server.ports.http}/${s.id}/archive/${rest}${rest.includes("?") ? "&" : "?"}token=${token(s.id)}`;

export async function timeline(s: Sys): Promise<{ ranges: { from: number; to: number }[]; state: string; segments: number }> {
  const r = await fetch(url(s, "timeline.json"));
  expect(r.status).toBe(200);
  return (await r.json()) as never;
}

export async function waitRecorded(s: Sys, pred: (t: Awaited<ReturnType<typeof timeline>>) => boolean, timeoutMs: number): Promise<Awaited<ReturnType<typeof timeline>>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const t = await timeline(s);
    if (pred(t)) return t;
    if (Date.now() > until) throw new Error(`timeline never matched: ${JSON.stringify(t)}`);
    await sleep(500);
  }
}

/** framemd5 rows of the decoded video: [pts, duration, md5], times in seconds. */
export async function frames(input: string, extra: string[] = []): Promise<[number, number, string][]> {
  const { stdout } = await exec("ffmpeg", ["-hide_banner", "-loglevel", "error", ...extra, "-i", input, "-map", "0:v:0", "-f", "framemd5", "-"],
    { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  const tb = /^#tb 0: (\d+)\/(\d+)/m.exec(stdout);
  const unit = tb ? Number(tb[1]) / Number(tb[2]) : 1;
  return stdout.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
    const c = l.split(",").map((x) => x.trim());
    return [Number(c[2]) * unit, Number(c[3]) * unit, c[5]];
  });
}

export async function decodeErrors(file: string): Promise<string> {
  const r = await exec("ffmpeg", ["-hide_banner", "-v", "error", "-i", file, "-map", "0:v:0", "-f", "null", "-"], { timeout: 30_000 }).catch((e) => e);
  return String(r.stderr ?? "") + (r.code ? ` exit ${r.code}` : "");
}

export function segmentFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => /^\d{4}-/.test(d)).flatMap((d) => readdirSync(join(dir, d)).map((f) => join(dir, d, f))).sort();
}


/** GET …/archive/<from>/<dur>/archive.mp4 into a temporary file; its path. */
export async function exportRange(s: Sys, from: number, dur: number, name = "export.mp4"): Promise<string> {
  const res = await fetch(url(s, `${from}/${dur}/archive.mp4`));
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("video/mp4");
  const out = join(tempDir("fa-export-"), name);
  const { writeFile } = await import("node:fs/promises");
  await writeFile(out, Buffer.from(await res.arrayBuffer()));
  return out;
}
