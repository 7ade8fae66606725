/**
 * The fake camera's protocol code, validated on the host with real clients: ffprobe/ffmpeg over
 * RTSP (TCP interleaved, FU-A), curl-like HTTP for the snapshot and audio upload.
 */
import { execa, ResultPromise } from "execa";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessUnits, packetizeNal, splitAnnexB, FU_A } from "./src/h264.js";
import { buildFakeCamera, CLIP, clipMd5s, FAKE_CAMERA_DIR, ffprobeJson, frameMd5s, JPEG } from "../lib/media.js";

describe("H.264 packetization (RFC 6184)", () => {
  it("fragments a large NAL into FU-A packets that reassemble exactly", () => {
    const nal = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff);
    nal[0] = 0x65; // IDR slice, NRI 3
    const parts = packetizeNal(nal, 1400);
    expect(parts.length).toBe(4);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(1400);
      expect(p[0]).toBe(0x60 | FU_A);
      expect(p[1] & 0x1f).toBe(5);
    }
    expect(parts.map((p) => p[1] & 0xc0)).toEqual([0x80, 0, 0, 0x40]);
    const re = [nal[0], ...parts.flatMap((p) => [...p.subarray(2)])];
    expect(Uint8Array.from(re)).toEqual(nal);
  });
  it("keeps a small NAL as a single-NAL packet", () => {
    const nal = Uint8Array.from([0x41, 1, 2, 3]);
    expect(packetizeNal(nal, 1400)).toEqual([nal]);
  });
});

describe("fake camera on Node, checked with ffmpeg", () => {
  let cam: ResultPromise | undefined;
  let rtsp = 0;
  let http = 0;
  const audioDir = mkdtempSync(join(tmpdir(), "fakecam-"));
  const audio = join(audioDir, "audio.bin");

  beforeAll(async () => {
    await buildFakeCamera();
    cam = execa("node", [join(FAKE_CAMERA_DIR, "fake-camera-node.mjs"), "--clip", CLIP, "--jpeg", JPEG, "--audio", audio], { reject: false });
    const line = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("fake camera did not start")), 10_000);
      cam!.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) {
          clearTimeout(t);
          resolve(d.toString());
        }
      });
    });
    rtsp = Number(/rtsp=(\d+)/.exec(line)![1]);
    http = Number(/http=(\d+)/.exec(line)![1]);
  }, 150_000);
  afterAll(async () => {
    cam?.kill("SIGKILL");
    await cam; // exited, so nothing writes into audioDir any more
    rmSync(audioDir, { recursive: true, force: true });
  });

  it("the clip cuts into 125 access units with in-band SPS/PPS", () => {
    const aus = accessUnits(splitAnnexB(readFileSync(CLIP)));
    expect(aus.length).toBe(125);
    expect(aus.filter((au) => au.some((n) => (n[0] & 0x1f) === 7)).length).toBe(5); // one per GOP
  });

  it("ffprobe sees one H.264 320x240 stream over RTSP/TCP", async () => {
    const j = await ffprobeJson(`rtsp://127.0.0.1:${rtsp}/live`, ["-rtsp_transport", "tcp"]);
    expect(j.streams).toHaveLength(1);
    expect(j.streams[0]).toMatchObject({ codec_name: "h264", width: 320, height: 240 });
  }, 40_000);

  it("ffmpeg decodes 150 frames (across the loop) identical to the clip", async () => {
    const got = await frameMd5s(`rtsp://127.0.0.1:${rtsp}/live`, 150, ["-rtsp_transport", "tcp"]);
    expect(got.length).toBe(150);
    expect(got).toEqual(await clipMd5s(150));
  }, 60_000);

  it("refuses RTP over UDP (the camera streams only inside its TCP connection)", async () => {
    const r = await execa("ffprobe", ["-v", "error", "-rtsp_transport", "udp", `rtsp://127.0.0.1:${rtsp}/live`], { reject: false, timeout: 20_000 });
    expect(r.exitCode).not.toBe(0);
  }, 30_000);

  it("serves the snapshot byte for byte", async () => {
    const res = await fetch(`http://127.0.0.1:${http}/image.jpg`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(readFileSync(JPEG));
  });

  it("accepts audio via POST /play_audio, with a length or chunked", async () => {
    const body = new Uint8Array(20000).map((_, i) => (i * 13) & 0xff);
    const a = await fetch(`http://127.0.0.1:${http}/play_audio`, { method: "POST", body });
    expect(await a.json()).toEqual({ ok: true, bytes: 20000 });
    expect(new Uint8Array(readFileSync(audio))).toEqual(body);
    const stream = new ReadableStream({ start(c) { c.enqueue(body.subarray(0, 7000)); c.enqueue(body.subarray(7000)); c.close(); } });
    const b = await fetch(`http://127.0.0.1:${http}/play_audio`, { method: "POST", body: stream, duplex: "half" } as RequestInit);
    expect(await b.json()).toEqual({ ok: true, bytes: 20000 });
  });

  it("answers 404 elsewhere", async () => {
    expect((await fetch(`http://127.0.0.1:${http}/cgi-bin/admin`)).status).toBe(404);
  });
});
