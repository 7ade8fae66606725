// A real third-party camera on 127.0.0.1 for tests: GStreamer's RTSP server (fixtures/rtsp-camera.py)
// plus a Majestic-shaped HTTP service (fixtures/http-camera.py), both on OS-chosen ports.
//
//   const cam = await startCamera();
//   cam.rtspUrl("stream1")  // rtsp://127.0.0.1:PORT/stream1, 8 s clip, 200 packets, fresh per client
//   cam.rtspUrl("long")     // 120 s clip for tests that need the stream to keep flowing
//   cam.jpeg                // the exact bytes GET /image.jpg returns
//   cam.audioReceived()     // what POST /play_audio has received so far
//   await cam.stop();
import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./paths";
import { type Proc, startProc, tempDir } from "./procs";

export const FIXTURES_DIR = join(REPO_ROOT, "agent-src/test/fixtures");
/** Where make-media.sh caches the generated media. */
const MEDIA_DIR = join(REPO_ROOT, "build/fixtures");
/** Debian's interpreter: python3-gi is installed for it, not for a pyenv/venv python on PATH. */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

export interface Camera {
  rtspPort: number;
  httpPort: number;
  /** rtsp://[user:password@]127.0.0.1:PORT/<path>; path "stream1" (default) or "long" ("/" optional).
   *  Credentials are included when the camera has `auth` unless withCredentials is false. */
  rtspUrl(path?: string, withCredentials?: boolean): string;
  /** http://127.0.0.1:PORT<path>; default "/image.jpg". */
  httpUrl(path?: string): string;
  /** The JPEG GET /image.jpg serves, byte for byte. */
  jpeg: Buffer;
  jpegPath: string;
  /** File that POST /play_audio bodies are appended to (created on first POST). */
  audioFile: string;
  audioReceived(): Promise<Buffer>;
  mediaDir: string;
  rtsp: Proc;
  http: Proc;
  stop(): Promise<void>;
}

export interface CameraOptions {
  /** Fixed ports (default 0: the OS picks, reported back in the ready line). */
  rtspPort?: number;
  httpPort?: number;
  /** Require RTSP Digest auth (GStreamer's own implementation) on every mount. */
  auth?: { user: string; password: string };
  /** Echo the camera's output to stderr (debugging). */
  echo?: boolean;
}

let mediaReady: Promise<string> | null = null;

/** Generates the clips and the JPEG once (make-media.sh caches them and locks against parallel runs). */
export function ensureMedia(): Promise<string> {
  if (!mediaReady) {
    mediaReady = promisify(execFile)(join(FIXTURES_DIR, "make-media.sh"), [MEDIA_DIR], { timeout: 120_000 }).then(
      () => MEDIA_DIR,
      (e) => {
        mediaReady = null;
        throw new Error(`make-media.sh failed: ${e.message}\n${e.stderr ?? ""}`);
      },
    );
  }
  return mediaReady;
}

export async function startCamera(opts: CameraOptions = {}): Promise<Camera> {
  const mediaDir = await ensureMedia();
  const jpegPath = join(mediaDir, "snapshot.jpg");
  const tmp = tempDir("fa-camera-");
  const audioFile = join(tmp, "play_audio.bin");
  const env = { ...process.env, GST_DEBUG: process.env.GST_DEBUG ?? "0", PYTHONUNBUFFERED: "1" };

  const [rtsp, http] = await Promise.all([
    // First GStreamer start on a fresh machine scans its plugin registry: allow it time.
    startProc(PYTHON, [join(FIXTURES_DIR, "rtsp-camera.py"), String(opts.rtspPort ?? 0), mediaDir, ...(opts.auth ? [`${opts.auth.user}:${opts.auth.password}`] : [])], {
      name: "rtsp-camera",
      ready: /^READY rtsp port=(\d+)/,
      timeoutMs: 30_000,
      env,
      echo: opts.echo,
    }),
    startProc(PYTHON, [join(FIXTURES_DIR, "http-camera.py"), String(opts.httpPort ?? 0), jpegPath, audioFile], {
      name: "http-camera",
      ready: /^READY http port=(\d+)/,
      timeoutMs: 10_000,
      env,
      echo: opts.echo,
    }),
  ]).catch(async (e) => {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  });

  const rtspPort = Number(rtsp.ready[1]);
  const httpPort = Number(http.ready[1]);
  return {
    rtspPort,
    httpPort,
    rtspUrl: (path = "stream1", withCredentials = true) => {
      const a = opts.auth && withCredentials ? `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.password)}@` : "";
      return `rtsp://${a}127.0.0.1:${rtspPort}/${path.replace(/^\//, "")}`;
    },
    httpUrl: (path = "/image.jpg") => `http://127.0.0.1:${httpPort}${path.startsWith("/") ? path : "/" + path}`,
    jpeg: readFileSync(jpegPath),
    jpegPath,
    audioFile,
    audioReceived: () => readFile(audioFile).catch(() => Buffer.alloc(0)),
    mediaDir,
    rtsp,
    http,
    stop: async () => {
      await Promise.all([rtsp.stop(), http.stop()]);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}
