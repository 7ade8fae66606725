// Proves the camera fixtures and helpers on their own, before any test trusts them to judge our code:
// the third-party RTSP server is deterministic per client, the HTTP camera is byte-exact, and the
// helpers (framemd5 comparison, slow reader, process cleanup) do what they claim.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCamera, type Camera } from "../../testkit/camera";
import { comparePackets, ffprobe, framemd5, openRtspSession, parseFramemd5, slowReader, startPull } from "../../testkit/ffmpeg";
import { freePort, startProc } from "../../testkit/procs";

let cam: Camera;
beforeAll(async () => {
  cam = await startCamera();
}, 120_000); // first run generates the media (~5 s) and GStreamer may scan its plugin registry
afterAll(async () => {
  await cam?.stop();
});

describe("RTSP camera (GStreamer RTSP server)", () => {
  it("serves constrained-baseline H.264 over RTSP/TCP", async () => {
    const streams = await ffprobe(cam.rtspUrl("stream1"), { timeoutMs: 15_000 });
    expect(streams).toHaveLength(1);
    expect(streams[0]).toMatchObject({ codec_type: "video", codec_name: "h264", width: 640, height: 360 });
    expect(streams[0].profile).toMatch(/Baseline/);
  });

  it("gives two simultaneous clients identical packets from the first frame, while a third client stalls", async () => {
    // The stalled client shows the server is per-client: its stall must not hold back the others.
    const slow = await slowReader(cam.rtspUrl("stream1"), { timeoutMs: 10_000 });
    const [a, b] = await Promise.all([
      framemd5(cam.rtspUrl("stream1"), { frames: 110, timeoutMs: 20_000 }),
      framemd5(cam.rtspUrl("stream1"), { frames: 110, timeoutMs: 20_000 }),
    ]);
    expect(a).toHaveLength(110);
    const r = comparePackets(a, b, { minPackets: 100, sameLength: true });
    expect(r.ok, r.message).toBe(true);
    // Both start at the clip's first frame: the packets are the file's own (keyframes may differ by
    // one byte, the start code of the in-band SPS the RTP payloader repeats).
    const file = parseFramemd5(await fileFramemd5());
    a.forEach((p, i) => {
      expect(Math.abs(p.size - file[i].size), `packet #${i} size`).toBeLessThanOrEqual(1);
      if (p.size === file[i].size) expect(p.hash, `packet #${i}`).toBe(file[i].hash);
    });
    expect(a.filter((p, i) => p.hash === file[i].hash).length).toBeGreaterThan(100);

    expect(slow.isPaused()).toBe(true);
    const seen = slow.bytes();
    expect(seen).toBeLessThan(200_000); // it really stopped reading; the clip is ~800 KB
    slow.resume();
    await slow.waitForBytes(seen + 10_000, 10_000);
    slow.close();
  }, 40_000);

  it("serves a long clip for tests that need the stream to keep flowing", async () => {
    const streams = await ffprobe(cam.rtspUrl("/long"), { timeoutMs: 15_000 });
    expect(streams[0]).toMatchObject({ codec_name: "h264", width: 320, height: 180 });
  });

  it("answers an unknown path with an error that framemd5 reports", async () => {
    await expect(framemd5(cam.rtspUrl("nope"), { frames: 1, timeoutMs: 10_000 })).rejects.toThrow(/404|Not Found/i);
  });
});

describe("RTSP camera with Digest auth (GStreamer's implementation checks our raw client)", () => {
  let authCam: Camera;
  beforeAll(async () => {
    authCam = await startCamera({ auth: { user: "viewer", password: "s3cret" } });
  }, 60_000);
  afterAll(async () => {
    await authCam?.stop();
  });

  it("refuses a client without credentials or with a wrong password", async () => {
    await expect(openRtspSession(authCam.rtspUrl("long", false), { timeoutMs: 5000 })).rejects.toThrow(/401/);
    const wrong = authCam.rtspUrl("long", false).replace("rtsp://", "rtsp://viewer:nope@");
    await expect(openRtspSession(wrong, { timeoutMs: 5000 })).rejects.toThrow(/401/);
    await expect(framemd5(authCam.rtspUrl("long", false), { frames: 1, timeoutMs: 10_000 })).rejects.toThrow(/401/);
  });

  it("lets the raw client and a background ffmpeg pull in with credentials", async () => {
    const slow = await slowReader(authCam.rtspUrl("long"), { timeoutMs: 5000, readBytes: 1000 });
    const pull = await startPull(authCam.rtspUrl("long"));
    const first = await pull.waitForPackets(25, 10_000);
    expect(first[0].size).toBeGreaterThan(1000); // the IDR that opens the clip
    const all = await pull.stop();
    expect(all.length).toBeGreaterThanOrEqual(25);
    expect(slow.bytes()).toBeGreaterThanOrEqual(1000);
    slow.resume();
    await slow.waitForBytes(slow.bytes() + 10_000, 10_000);
    slow.close();
  }, 30_000);
});

describe("HTTP camera (Majestic-shaped)", () => {
  it("GET /image.jpg returns the JPEG byte for byte", async () => {
    const res = await fetch(cam.httpUrl("/image.jpg"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(readFileSync(cam.jpegPath))).toBe(true);
    expect(body.equals(cam.jpeg)).toBe(true);
    expect(body.subarray(0, 2).toString("hex")).toBe("ffd8"); // JPEG SOI
  });

  it("POST /play_audio appends fixed-length and chunked bodies to the audio file", async () => {
    const one = randomBytes(3000);
    const two = randomBytes(5000);
    const r1 = await fetch(cam.httpUrl("/play_audio"), { method: "POST", body: one });
    expect(r1.status).toBe(200);
    // A stream body makes fetch send Transfer-Encoding: chunked, as a relaying gateway may.
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(two.subarray(0, 1234));
        c.enqueue(two.subarray(1234));
        c.close();
      },
    });
    const r2 = await fetch(cam.httpUrl("/play_audio"), { method: "POST", body: chunked, duplex: "half" } as RequestInit);
    expect(r2.status).toBe(200);
    expect((await cam.audioReceived()).equals(Buffer.concat([one, two]))).toBe(true);
    await cam.http.waitForLine(/^REQ POST \/play_audio bytes=5000$/, { timeoutMs: 2000 });
  });

  it("answers 404 elsewhere", async () => {
    expect((await fetch(cam.httpUrl("/etc/passwd"))).status).toBe(404);
  });
});

/** framemd5 of the clip read straight from disk (Annex B, like the RTP depayloader's output). */
async function fileFramemd5(): Promise<string> {
  const { stdout } = await promisify(execFile)("ffmpeg", ["-v", "error", "-i", `${cam.mediaDir}/clip.h264`, "-c", "copy", "-f", "framemd5", "-"]);
  return stdout;
}

/** Running and not a zombie (an orphan may wait a while for PID 1 to reap it). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("helpers", () => {
  const pkt = (i: number, hash: string, extra = "") =>
    `0, ${i * 3600}, ${i * 3600}, 3600, 100, ${hash}${extra}`;
  const h = (n: number) => n.toString(16).padStart(32, "0");

  it("parseFramemd5 ignores headers and side data", () => {
    const text = ["#tb 0: 1/90000", pkt(0, h(1)), pkt(1, h(2), ", S=1, 16, " + h(9))].join("\n");
    expect(parseFramemd5(text)).toEqual([
      { stream: 0, dts: 0, pts: 0, duration: 3600, size: 100, hash: h(1) },
      { stream: 0, dts: 3600, pts: 3600, duration: 3600, size: 100, hash: h(2) },
    ]);
  });

  it("comparePackets tolerates a constant offset and one tick, and names the first mismatch", () => {
    const a = parseFramemd5([0, 1, 2, 3].map((i) => pkt(i, h(i))).join("\n"));
    const shifted = a.map((p, i) => ({ ...p, dts: p.dts + 5000 + (i === 2 ? 1 : 0), pts: p.pts + 5000 }));
    expect(comparePackets(a, shifted).ok).toBe(true);

    const late = a.map((p, i) => ({ ...p, dts: p.dts + (i === 2 ? 2 : 0) }));
    expect(comparePackets(a, late).message).toMatch(/packet #2 differs in dts/);

    const corrupt = a.map((p, i) => (i === 3 ? { ...p, hash: h(99) } : p));
    const r = comparePackets(a, corrupt);
    expect(r).toMatchObject({ ok: false, compared: 3 });
    expect(r.message).toMatch(/packet #3 differs in payload/);

    expect(comparePackets(a, a.slice(0, 2), { minPackets: 3 }).ok).toBe(false);
    expect(comparePackets(a, a.slice(0, 2), { sameLength: true }).ok).toBe(false);
  });

  it("startProc waits for the ready line and stop() also kills grandchildren", async () => {
    const p = await startProc("sh", ["-c", 'sleep 60 & echo "child=$!"; echo READY; wait'], { ready: /^READY$/, timeoutMs: 5000 });
    const grandchild = Number((await p.waitForLine(/^child=(\d+)/, { timeoutMs: 1000 }))[1]);
    expect(alive(grandchild)).toBe(true);
    await p.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(grandchild)).toBe(false);
  });

  it("startProc rejects with the output when the ready line never comes", async () => {
    await expect(startProc("sh", ["-c", "echo booting; sleep 60"], { ready: /READY/, timeoutMs: 300 })).rejects.toThrow(
      /within 300 ms[\s\S]*booting/,
    );
    await expect(startProc("sh", ["-c", "echo oops; exit 3"], { ready: /READY/, timeoutMs: 5000 })).rejects.toThrow(
      /exited \(code 3\)[\s\S]*oops/,
    );
  });

  it("freePort returns a bindable 127.0.0.1 port", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1023);
  });
});
