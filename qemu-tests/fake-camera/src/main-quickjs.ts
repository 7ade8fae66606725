/**
 * Guest entry: the fake camera on the static QuickJS runtime (built with TEST_SERVER=1), bound to
 * 127.0.0.1 only — the camera's services are reachable by the agent, never from the network.
 *   fake-camera [--rtsp 554] [--http 80] [--dir /usr/share/fake-camera] [--fps 25]
 */
import { createQuickJsPlatform, listenTcpForTests, programArgs } from "../../../agent-src/src/platform/quickjs.js";
import { FakeCamera } from "./camera.js";

const args = programArgs();
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const p = createQuickJsPlatform();
const dir = arg("dir", "/usr/share/fake-camera");
const clip = p.readFile(`${dir}/clip.h264`);
const jpeg = p.readFile(`${dir}/image.jpg`);
if (!clip || !jpeg) throw new Error(`fake-camera: media missing in ${dir}`);
const audioPath = arg("audio", "/tmp/fake-camera-audio.bin");
const cam = new FakeCamera(
  { clip, jpeg, fps: Number(arg("fps", "25")) },
  {
    setTimer: (ms, fn) => p.setTimer(ms, fn),
    clearTimer: (id) => p.clearTimer(id),
    now: () => p.now(),
    log: (m) => p.log("warn", `fake-camera: ${m}`),
    saveAudio: (d) => p.writeFileAtomic(audioPath, d),
  },
);
const rtsp = listenTcpForTests(Number(arg("rtsp", "554")), (s) => cam.rtsp(s));
const http = listenTcpForTests(Number(arg("http", "80")), (s) => cam.http(s));
p.log("info", `fake-camera ready rtsp=${rtsp.port} http=${http.port} frames=${cam.aus.length}`);
