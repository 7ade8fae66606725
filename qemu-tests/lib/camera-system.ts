/**
 * One emulated camera wired to real servers on the host: flussonic-streamer as an endpoint-only
 * process and a streamer-only process (so each can be killed on its own), the hardened guest
 * reaching them only through guestfwd 10.0.2.100:443 / :7444, viewers on 127.0.0.1.
 */
import { execa } from "execa";
import { serverPorts, startStreamer, VIEWER, type StreamerProc } from "../../testkit/streamer.js";
import type { Arch } from "./boards.js";
import { GUEST_ENDPOINT_PORT, GUEST_STREAMER_PORT, hardenedSpec, TEST_TOKEN } from "./hardened.js";
import { buildImage, Image, ImageFile } from "./image.js";
import { buildrootImage, useBuildroot } from "./buildroot.js";
import { qemuPki } from "./pki.js";
import { bootGuest, BootOptions, Guest, HOST_FROM_GUEST } from "./qemu.js";

export interface CameraSystem {
  guest: Guest;
  image: Image;
  endpoint: StreamerProc;
  streamer: StreamerProc;
  deviceId: string;
  /** ms from QEMU start until the device was live at the streamer. */
  liveMs: number;
  rtspUrl(path?: string): string;
  /** http://127.0.0.1:PORT of the streamer's viewer HTTP (console, player, HLS). */
  httpBase: string;
  snapshot(): Promise<Buffer>;
  /** POST audio to the camera through the streamer's backchannel; returns the HTTP status. */
  playAudio(body: Uint8Array): Promise<number>;
  restartStreamer(): Promise<void>;
  waitLive(timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}


const KEEPALIVE = { ping_interval_ms: 2000, idle_timeout_ms: 6000 };
/** What both servers share: quiet logs, and time to start beside a busy QEMU. */
const QEMU_SERVER = { logLevel: "info", readyTimeoutMs: 20_000 } as const;

/**
 * Wait until the fake camera listens on 127.0.0.1:554 in the guest (it parses its clip in
 * interpreted JS at start, seconds under emulation; the agent may be online before that).
 */
export async function waitCameraServices(guest: Guest, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < timeoutMs && i < 1000; i++) {
    if ((await guest.sh("grep -c ' 0100007F:022A .* 0A ' /proc/net/tcp", 10_000)).out.trim() !== "0") return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`fake camera not listening on 127.0.0.1:554 within ${timeoutMs} ms`);
}

/** The hardened camera for an arch: Buildroot-built where possible (lib/buildroot.ts), else Debian-assembled. */
export async function hardenedImage(arch: Arch, extraFiles: ImageFile[] = []): Promise<Image> {
  if (useBuildroot(arch)) return buildrootImage({ arch, variant: "hardened", files: extraFiles });
  const spec = hardenedSpec(arch);
  spec.files = [...(spec.files ?? []), ...extraFiles];
  return buildImage(spec);
}

export async function startCameraSystem(arch: Arch, opts: { allowReboot?: boolean; flash?: boolean; extraFiles?: ImageFile[]; clock?: BootOptions["clock"]; streamerLimits?: Record<string, number> } = {}): Promise<CameraSystem> {
  const pki = qemuPki();
  const streamerPorts = await serverPorts();
  let streamer = await startStreamer({ ...QEMU_SERVER, roles: ["streamer"], pki, ports: streamerPorts, keepalive: KEEPALIVE, limits: opts.streamerLimits, name: `streamer-${arch}` });
  const endpoint = await startStreamer({
    ...QEMU_SERVER, roles: ["endpoint"], pki, ports: await serverPorts(), tokens: [TEST_TOKEN], keepalive: KEEPALIVE, name: `endpoint-${arch}`,
    // The guest reaches the streamer through guestfwd, so that is the address the endpoint hands out.
    streamers: [`${HOST_FROM_GUEST}:${GUEST_STREAMER_PORT}`],
  });
  let guest: Guest | undefined;
  const sys: Partial<CameraSystem> = {};
  try {
    const image = await hardenedImage(arch, opts.extraFiles);
    guest = await bootGuest({
      image,
      allowReboot: opts.allowReboot,
      flash: opts.flash,
      clock: opts.clock,
      guestfwd: [
        { guest: GUEST_ENDPOINT_PORT, host: endpoint.ports.endpoint },
        { guest: GUEST_STREAMER_PORT, host: streamerPorts.streamer },
      ],
    });
    const t0 = Date.now() - guest.bootMs;
    Object.assign(sys, { guest, image, endpoint });
    sys.streamer = streamer;
    const waitLive = async (timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; Date.now() < deadline && i < 10000; i++) {
        const live = (await sys.streamer!.devices(3000).catch(() => [])).find((d) => d.state === "online");
        if (live) return live.id;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`${arch}: no device live at the streamer within ${timeoutMs} ms\n--- console ---\n${guest!.consoleLog().slice(-3000)}\n--- endpoint ---\n${endpoint.proc.output().slice(-2000)}\n--- streamer ---\n${sys.streamer!.proc.output().slice(-2000)}`);
    };
    sys.waitLive = waitLive;
    sys.deviceId = await waitLive(90_000);
    sys.liveMs = Date.now() - t0;
    await waitCameraServices(guest);
    sys.rtspUrl = (path = "stream1") =>
      `rtsp://${VIEWER.name}:${VIEWER.password}@127.0.0.1:${streamerPorts.rtsp}/${sys.deviceId}/${path}`;
    sys.httpBase = `http://127.0.0.1:${streamerPorts.http}`;
    sys.snapshot = async () => {
      const res = await fetch(`http://127.0.0.1:${streamerPorts.http}/${sys.deviceId}/snapshot.jpg`, {
        headers: { authorization: "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64") },
        signal: AbortSignal.timeout(20_000),
      });
      if (res.status !== 200) throw new Error(`snapshot: HTTP ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    };
    sys.playAudio = async (body) => {
      const res = await fetch(`http://127.0.0.1:${streamerPorts.http}/${sys.deviceId}/audio`, {
        method: "POST",
        body: Buffer.from(body),
        headers: { authorization: "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64") },
        signal: AbortSignal.timeout(20_000),
      });
      await res.arrayBuffer();
      return res.status;
    };
    sys.restartStreamer = async () => {
      sys.streamer!.kill("SIGKILL");
      await sys.streamer!.proc.exited;
      streamer = await startStreamer({ ...sys.streamer!.opts, dir: sys.streamer!.dir });
      sys.streamer = streamer;
    };
    sys.stop = async () => {
      await guest?.stop();
      await sys.streamer?.stop().catch(() => {});
      await endpoint.stop().catch(() => {});
    };
    return sys as CameraSystem;
  } catch (e) {
    await guest?.stop();
    await streamer.stop().catch(() => {});
    await endpoint.stop().catch(() => {});
    throw e;
  }
}

/** Run ffprobe -show_format summary lines for the demo and reports. */
export async function probeSummary(file: string): Promise<string> {
  const r = await execa("ffprobe", ["-v", "error", "-show_entries", "format=duration,size:stream=codec_name,width,height,nb_read_frames", "-count_frames", "-of", "default=nw=1", file], { reject: false, timeout: 60_000 });
  return r.stdout;
}
