/**
 * Host entry: the same camera code on Node's sockets, for validating it with real ffprobe/ffmpeg.
 *   node fake-camera-node.mjs --rtsp PORT --http PORT --clip FILE --jpeg FILE [--audio FILE] [--fps N]
 * Prints "fake-camera ready rtsp=<port> http=<port>" once listening (ports may be 0 = ephemeral).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, AddressInfo } from "node:net";
import { NodeSocket } from "../../../agent-src/src/platform/node.js";
import { FakeCamera } from "./camera.js";

const arg = (name: string, def?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  if (def === undefined) throw new Error(`--${name} required`);
  return def;
};

const t0 = performance.now();
const audioPath = arg("audio", "");
const cam = new FakeCamera(
  { clip: readFileSync(arg("clip")), jpeg: readFileSync(arg("jpeg")), fps: Number(arg("fps", "25")) },
  {
    setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
    clearTimer: (id) => clearTimeout(id as unknown as NodeJS.Timeout),
    now: () => performance.now() - t0,
    log: (m) => process.stderr.write(`fake-camera: ${m}\n`),
    saveAudio: audioPath ? (d) => writeFileSync(audioPath, d) : null,
  },
);
const listen = (port: number, serve: (s: NodeSocket) => void) =>
  new Promise<number>((resolve) => {
    const srv = createServer((c) => serve(new NodeSocket(c)));
    srv.listen(port, "127.0.0.1", () => resolve((srv.address() as AddressInfo).port));
  });
const rtsp = await listen(Number(arg("rtsp", "0")), (s) => cam.rtsp(s));
const http = await listen(Number(arg("http", "0")), (s) => cam.http(s));
console.log(`fake-camera ready rtsp=${rtsp} http=${http} frames=${cam.aus.length}`);
