// The system the HLS and browser tests run against: GStreamer camera → agent → TLS → streamer with
// three console accounts: `viewer` (admin, every device), `other` (only a device that is not ours)
// and tokens signed like `flussonic-streamer sign-url`.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { signViewerToken } from "../agent-src/src/server/keys";
import { startCamera, type Camera } from "./camera";
import { SECRET, VIEWER, cameraTargets, makePki, startAgent, startStreamer, type AgentProc, type Pki, type StreamerProc } from "./system";

export const OTHER = { name: "other", password: "other-pass-1234", devices: ["cam-not-yours"] };
export const ADMIN = { ...VIEWER, admin: true };

export interface HlsSystem {
  pki: Pki;
  cam: Camera;
  server: StreamerProc;
  agent: AgentProc;
  id: string;
  base: string;
  token(deviceId: string, ttlSec?: number): string;
  stop(): Promise<void>;
}

/** `extra`: more keys for the streamer section (e.g. an archive). */
export async function startHlsSystem(media: Record<string, unknown> = { close_after_ms: 2000 }, extra: Record<string, unknown> = {}): Promise<HlsSystem> {
  const pki = makePki();
  const cam = await startCamera();
  const server = await startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["tok-hls"],
    streamerSettings: { media, viewers: [ADMIN, OTHER], web_default_path: "/long", ...extra },
  });
  const agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-hls" });
  const id = agent.deviceId()!;
  return {
    pki, cam, server, agent, id,
    base: `http://127.0.0.1:${server.ports.http}`,
    token: (deviceId, ttlSec = 600) => signViewerToken(Buffer.from(SECRET + "\nviewer-token"), deviceId, Math.floor(Date.now() / 1000) + ttlSec),
    stop: async () => {
      await agent.stop();
      await server.stop();
      await cam.stop();
    },
  };
}

const exec = promisify(execFile);

/** Decoded frames' MD5s (ffmpeg framemd5 of the raw pictures, not of the packets: RTSP and fMP4 frame H.264 differently). */
export async function decodedMd5(url: string, frames: number, timeoutMs: number): Promise<string[]> {
  const { stdout } = await exec("ffmpeg", ["-hide_banner", "-loglevel", "error", ...(url.startsWith("rtsp") ? ["-rtsp_transport", "tcp"] : []), "-i", url, "-map", "0:v:0", "-frames:v", String(frames), "-f", "framemd5", "-"],
    { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(",").pop()!.trim());
}
